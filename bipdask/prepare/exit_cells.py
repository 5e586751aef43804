"""HIR Table 8's sufficient statistics from a job centre's course weeks: exit cells and person-period exits.

Table 8 (*afgang fra ressourceforløb*, HIR quantitative report) fits, per destination d, the
weekly transition LPM of eq. (3), Y_τ = ϑ_τ + κD + ξE + βDE + ε with the week within the period
τ absorbed, clustered by the spec's cluster (job centre or person), and the share of persons
whose course ended in the period to d. Every regressor (τ, D, E) is constant within a
(cluster, τ, D, E) cell, so the per-cell row count and outcome sums are sufficient for the fit:
weighted least squares on the cell means with the row counts as frequency weights gives the
same coefficients, the same per-cluster scores (hence CR1 SEs and the wild and pairs cluster
bootstraps) and the same absorbed τ means as the person-weeks (``docs/methods.md``, section
HIR Table 8). The map side of a run (per job centre) therefore writes

- :func:`exit_cells` — one row per (cluster, τ, D, E): ``n_weeks`` course weeks whose next week
  the panel shows, ``n_unobserved`` those whose next week it does not show (the panel ends
  there; dropped from the fits, counted for the notes) and ``exit_<d>`` the weeks followed by
  destination d. With job-centre clusters a job centre is ~110 rows; with person clusters the
  cells are the person-weeks themselves (a person has one row per τ);
- :func:`exit_persons` — one row per (person, period E, job centre) with the person's first
  course week there and whether any course week there was followed by each destination; the
  reduce (:func:`bipdask.analyses.hir.exits.persons_exits`) merges a person's job centres.

τ counts weeks since the period's first week (:func:`period_first_weeks`, from the spec's
periods), which a job centre knows without seeing the others. Pure functions over frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bipdask.data.weeks import period_week_bounds, week_ordinal
from bipdask.errors import InputError, Problem, require_columns
from bipdask.prepare.spells import EXIT_DESTINATIONS

EXIT_FLAGS = tuple(f"exit_{d}" for d in EXIT_DESTINATIONS)
CELL_KEYS = ("tau", "D", "E")
CELL_COUNTS = ("n_weeks", "n_unobserved", *EXIT_FLAGS)
PERSON_COLUMNS = ("person_id", "E", "jobcentre_id", "D", "first_week", *EXIT_FLAGS)
CLUSTERS = ("jobcentre_id", "person_id")

__all__ = ["CELL_COUNTS", "CELL_KEYS", "CLUSTERS", "EXIT_FLAGS", "PERSON_COLUMNS", "combine_exit_cells",
           "empty_exit_cells",
           "empty_exit_persons", "exit_cells", "exit_persons", "observed", "period_first_weeks"]


def period_first_weeks(before: tuple[dt.date, dt.date], intervention: tuple[dt.date, dt.date]) -> dict[int, int]:
    """E → the week ordinal of the period's first week (the first Monday in the period), τ = 0."""
    return {0: period_week_bounds(*before)[0], 1: period_week_bounds(*intervention)[0]}


def observed(course_exits: pd.DataFrame) -> np.ndarray:
    """Rows whose next week the panel shows: ``next_observed == 1``, or ``destination`` other than
    ``"unobserved"``; every row when the frame has neither column."""
    if "next_observed" in course_exits.columns:
        return course_exits["next_observed"].to_numpy() == 1
    if "destination" in course_exits.columns:
        return (course_exits["destination"] != "unobserved").to_numpy(bool)
    return np.ones(len(course_exits), bool)


def _first_weeks_in_data(wk: np.ndarray, e: np.ndarray, keep: np.ndarray) -> dict[int, int]:
    return {int(v): int(wk[keep & (e == v)].min()) for v in np.unique(e[keep])}


def exit_cells(course_exits: pd.DataFrame, *, cluster: str = "jobcentre_id",
               first_weeks: Mapping[int, int] | None = None,
               destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """Per (cluster, τ, D, E) cell: the course weeks and their exits, the sufficient statistics of eq. (3).

    Parameters
    ----------
    course_exits : rows of :func:`bipdask.prepare.spells.course_exits` (or the compact model-input
        form with ``next_observed``): ``cluster``, week, D, E and one 0/1 ``exit_<d>`` per
        destination.
    cluster : the spec's cluster column, ``"jobcentre_id"`` or ``"person_id"``; cells never span
        two clusters, so the per-cluster sums of the fit are those of the rows.
    first_weeks : E → week ordinal of τ = 0 (:func:`period_first_weeks`). ``None``: the first
        observed week of each E in ``course_exits`` (equal when each period's first week has a
        course week whose next week is observed; a job centre alone cannot know that).

    Returns
    -------
    DataFrame: ``cluster``, tau (int16), D, E (int8), n_weeks, n_unobserved and ``exit_<d>``
    (int32), sorted by the keys. Cells with only unobserved rows have ``n_weeks = 0``.
    """
    if cluster not in CLUSTERS:
        raise ValueError(f"exit_cells: cluster must be one of {CLUSTERS}, not {cluster!r}")
    flags = [f"exit_{d}" for d in destinations]
    require_columns(course_exits, [cluster, "week", "D", "E", *flags], "course_exits")
    if not len(course_exits):
        return empty_exit_cells(cluster, destinations)
    keep = observed(course_exits)
    wk = week_ordinal(course_exits["week"].to_numpy("datetime64[ns]"))
    e = course_exits["E"].to_numpy(np.int64)
    first = _first_weeks_in_data(wk, e, keep) if first_weeks is None else first_weeks
    missing = sorted(set(np.unique(e).tolist()) - set(first))
    if missing:
        raise InputError([Problem("course_exits", "E", f"no first week known for period(s) {missing}",
                                  int(np.isin(e, missing).sum()))])
    tau = wk - pd.Series(e).map({int(v): int(w) for v, w in first.items()}).to_numpy(np.int64)
    if (tau < 0).any():
        raise InputError([Problem("course_exits", "week", "course week before its period's first week",
                                  int((tau < 0).sum()))])
    k = keep.astype(np.int64)
    counts = np.column_stack([k, 1 - k, *(course_exits[f].to_numpy(np.int64) * k for f in flags)])
    keys, sums = _sum_by_keys([course_exits[cluster].to_numpy(np.int64), tau, course_exits["D"].to_numpy(np.int64), e],
                              counts, np.add)
    out = pd.DataFrame({cluster: keys[0], "tau": keys[1], "D": keys[2], "E": keys[3],
                        **{c: sums[:, j] for j, c in enumerate(("n_weeks", "n_unobserved", *flags))}})
    return _typed_cells(out, cluster, flags)


def _sum_by_keys(keys: Sequence[np.ndarray], values: np.ndarray, ufunc: np.ufunc
                 ) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct key tuples (sorted, first key first) and ``ufunc.reduceat`` of ``values``'s
    rows within each: a groupby-sum/max in one sort (pandas' groupby costs ~50 ms a call here)."""
    order = np.lexsort(keys[::-1])
    ks = [k[order] for k in keys]
    change = np.zeros(len(order), bool)
    change[:1] = True
    for k in ks:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    return [k[starts] for k in ks], ufunc.reduceat(values[order], starts, axis=0)


def _typed_cells(out: pd.DataFrame, cluster: str, flags: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({
        cluster: out[cluster].to_numpy(np.int32 if cluster == "jobcentre_id" else np.int64),
        "tau": out["tau"].to_numpy(np.int16),
        "D": out["D"].to_numpy(np.int8),
        "E": out["E"].to_numpy(np.int8),
        **{c: out[c].to_numpy(np.int32) for c in ("n_weeks", "n_unobserved", *flags)},
    })


def combine_exit_cells(parts: Sequence[pd.DataFrame], cluster: str = "jobcentre_id",
                       destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """Several units' :func:`exit_cells` as one frame of the same form: the counts of equal
    (``cluster``, τ, D, E) cells summed (integers: any grouping of the units gives the same frame,
    which the fit reads as it reads the units' cells stacked), sorted by the keys."""
    flags = [f"exit_{d}" for d in destinations]
    frames = [f for f in parts if len(f)]
    if not frames:
        return empty_exit_cells(cluster, destinations)
    keys, counts = [cluster, *CELL_KEYS], ["n_weeks", "n_unobserved", *flags]
    for f in frames:
        require_columns(f, [*keys, *counts], "course_exit_cells")
    both = pd.concat([f[[*keys, *counts]] for f in frames], ignore_index=True)
    ks, sums = _sum_by_keys([both[k].to_numpy(np.int64) for k in keys], both[counts].to_numpy(np.int64), np.add)
    return _typed_cells(pd.DataFrame({**dict(zip(keys, ks)), **{c: sums[:, j] for j, c in enumerate(counts)}}),
                        cluster, flags)


def empty_exit_cells(cluster: str = "jobcentre_id", destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """The typed empty :func:`exit_cells` frame."""
    flags = [f"exit_{d}" for d in destinations]
    return _typed_cells(pd.DataFrame({c: [] for c in (cluster, *CELL_KEYS, "n_weeks", "n_unobserved", *flags)}),
                        cluster, flags)


def exit_persons(course_exits: pd.DataFrame, destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """Per (person, period E, job centre): first course week, D and whether the course ended to each destination.

    Only rows whose next week the panel shows (:func:`observed`) count, as in the fits. A person
    counts in a period when they have such a course week in it; ``exit_<d>`` = 1 when any of them
    is followed by destination d. A person with course weeks in two job centres has two rows;
    :func:`bipdask.analyses.hir.exits.persons_exits` keeps the D and job centre of the earlier
    ``first_week`` and the maximum flags.

    Returns :data:`PERSON_COLUMNS` (flags int8), sorted by person, E and job centre.
    """
    flags = [f"exit_{d}" for d in destinations]
    require_columns(course_exits, ["person_id", "week", "D", "E", "jobcentre_id", *flags], "course_exits")
    keep = observed(course_exits)
    if not keep.any():
        return empty_exit_persons(destinations)

    def col(c: str) -> np.ndarray:
        return course_exits[c].to_numpy(np.int64)[keep]

    # D is the job centre's (constant within a key); the first week is the minimum
    week = course_exits["week"].to_numpy("datetime64[ns]").astype(np.int64)[keep]
    values = np.column_stack([-week, *(col(c) for c in (*flags, "D"))])
    keys, top = _sum_by_keys([col("person_id"), col("E"), col("jobcentre_id")], values, np.maximum)
    out = pd.DataFrame({"person_id": keys[0], "E": keys[1], "jobcentre_id": keys[2], "D": top[:, -1],
                        "first_week": (-top[:, 0]).astype("datetime64[ns]"),
                        **{c: top[:, j + 1] for j, c in enumerate(flags)}})
    return _typed_persons(out, flags)


def _typed_persons(out: pd.DataFrame, flags: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": out["person_id"].to_numpy(np.int64),
        "E": out["E"].to_numpy(np.int8),
        "jobcentre_id": out["jobcentre_id"].to_numpy(np.int32),
        "D": out["D"].to_numpy(np.int8),
        "first_week": out["first_week"].to_numpy("datetime64[ns]"),
        **{c: out[c].to_numpy(np.int8) for c in flags},
    })


def empty_exit_persons(destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """The typed empty :func:`exit_persons` frame."""
    flags = [f"exit_{d}" for d in destinations]
    return _typed_persons(pd.DataFrame({c: [] for c in ("person_id", "E", "jobcentre_id", "D", "first_week", *flags)}),
                          flags)
