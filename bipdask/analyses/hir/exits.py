"""HIR Table 8: exits from the resource course (*afgang fra ressourceforløb*), HIR quantitative report.

**The table's quantity** (its level columns, "procent"; e.g. 10.0 → 12.8 % to disability
pension): the share of persons in a resource course during a period whose course ended in that
period to destination d (:func:`persons_exits`, :func:`table8_persons`). Per destination the
person-period LPM Y = η + μD + θE + φ·DE is saturated, so φ is the DiD of the four groups'
shares (a difference of fractions; shown in percentage points), and the group shares are its
cell means. Estimands ``<destination>:persons_did``, ``<destination>:persons_participating`` and
``<destination>:persons_others``.

**Secondary: the weekly rate.** The weekly transition LPM of eq. (3), Y_τ = ϑ_τ + κD + ξE + βDE + ε, one per destination
(ordinary employment, flex job, ledighedsydelse, disability pension): Y_τ = 1 when the person's
next week is in that destination, on every resource-course week of both periods in all job
centres (:func:`bipdask.prepare.spells.course_exits`); ϑ_τ, the week within the period, is
absorbed. β is the effect on the weekly exit probability (a difference of fractions). Beside
it, the weekly exit share of each D×E cell, with analytic clustered SEs.

**Map → reduce.** A run never gathers the person-weeks: each job centre writes the sufficient
statistics of :mod:`bipdask.prepare.exit_cells` — per (cluster, τ, D, E) cell the weeks and exits
(``course_exit_cells``) and per person, period and job centre the exit flags
(``course_exit_persons``) — and :func:`table8_from_cells` fits eq. (3) on the cells with the
weeks as frequency weights (:func:`table8_weekly`; exactly the person-week fit) and the persons'
LPMs on :func:`persons_exits_from_rows`. :func:`table8` and :func:`table8_exits` take person-weeks
in memory and go rows → cells → the same functions. Method:
``docs/methods.md#hir-table-8--exits-from-the-resource-course``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import Estimate, HazardEstimates
from bipdask.analyses.hir.linear_table import (
    LinearTable,
    ModelFit,
    _linear_estimates,
    _model_fit,
    _returned,
    estimate_row,
)
from bipdask.errors import InputError, Problem, require_columns
from bipdask.estimators.lpm import CONS, LinearResult, lpm
from bipdask.estimators.lpm.model import with_pairs_replicates
from bipdask.estimators.lpm.replicates import SharedReplicates
from bipdask.inference.config import Inference
from bipdask.prepare.exit_cells import CELL_KEYS, exit_cells, exit_persons
from bipdask.prepare.spells import EXIT_DESTINATIONS


def table8(course_exits: pd.DataFrame, *, inference: Inference, period: str = "intervention",
           first_weeks: Mapping[int, int] | None = None) -> HazardEstimates:
    """HIR Table 8 from person-weeks in memory (a notebook's entry point): rows → cells → :func:`table8_from_cells`.

    ``course_exits`` are :func:`bipdask.prepare.spells.course_exits` rows of both periods (any
    number of job centres); rows whose next week is not in the panel (``next_observed == 0`` or
    destination ``"unobserved"``) are dropped and counted. ``first_weeks`` (E → week ordinal of
    τ = 0, :func:`bipdask.prepare.exit_cells.period_first_weeks`) defaults to each period's first
    observed week in the rows. The run's reduce calls :func:`table8_from_cells` on the cells the
    map side wrote, so both go through the same functions.
    """
    cells = exit_cells(course_exits, cluster=inference.cluster, first_weeks=first_weeks)
    return table8_from_cells(cells, exit_persons(course_exits), inference=inference, period=period)


def table8_from_cells(cells: pd.DataFrame, person_rows: pd.DataFrame, *, inference: Inference,
                      period: str = "intervention") -> HazardEstimates:
    """HIR Table 8 from the gathered ``course_exit_cells`` and ``course_exit_persons``, with replicates.

    The weekly rows are :func:`table8_weekly` on the cells, the persons' rows :func:`table8_persons`
    on :func:`persons_exits` of the person rows. The replicates are those of the DiD β and φ per
    destination (``"<destination>|all|<period>"``, ``"<destination>:persons_did|all|<period>"``);
    the shares have analytic SEs. Notes: ``rows`` (course weeks in the periods),
    ``rows_next_week_unobserved`` (of them, those whose next week the panel does not show: dropped),
    ``person_periods``.
    """
    require_columns(cells, ["n_weeks", "n_unobserved"], "course_exit_cells")
    n_obs, n_unobs = int(cells["n_weeks"].sum()), int(cells["n_unobserved"].sum())
    notes: dict = {"rows": n_obs + n_unobs, "rows_next_week_unobserved": n_unobs}
    tab = table8_weekly(cells, person_rows, inference=inference, period=period, return_fits=True)
    persons = persons_exits_from_rows(person_rows)
    notes["person_periods"] = len(persons)
    by_person = table8_persons(persons, inference=inference, period=period, return_fits=True)
    both = LinearTable(tab.rows + by_person.rows, tab.fits + by_person.fits)
    return _linear_estimates("hir_table8", both, notes=notes)


PERSONS_DID, PERSONS_PARTICIPATING, PERSONS_OTHERS = ":persons_did", ":persons_participating", ":persons_others"


def persons_exits(person_weeks: pd.DataFrame, destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """One row per person and period (E): did the person's course end in the period to each destination?

    ``person_weeks`` are the course weeks of :func:`bipdask.prepare.spells.course_exits` (rows whose
    next week the panel does not show are dropped here). A person counts in a period when they
    have a course week in it; ``exit_<d>`` = 1 when any of their course weeks in the period is
    followed by destination d — a course ending in the period's last week counts, as its next
    week (after the period) shows where it went. D and ``jobcentre_id`` are those of the person's
    first course week in the period (a person moving between job centres counts once).
    :func:`persons_exits_from_rows` of :func:`bipdask.prepare.exit_cells.exit_persons`.

    Returns person_id, E, D, jobcentre_id, one int8 ``exit_<d>`` per destination and DE, sorted
    by person and period.
    """
    return persons_exits_from_rows(exit_persons(person_weeks, destinations), destinations)


def persons_exits_from_rows(person_rows: pd.DataFrame, destinations: Sequence[str] = EXIT_DESTINATIONS
                            ) -> pd.DataFrame:
    """Merge the per-(person, period, job centre) rows of :func:`bipdask.prepare.exit_cells.exit_persons`
    (gathered from every job centre) into one row per person and period, as :func:`persons_exits`
    describes: D and job centre of the row with the earliest ``first_week`` (ties: the lower job
    centre id), the maximum of each ``exit_<d>``. Independent of the rows' order.
    """
    flags = [f"exit_{d}" for d in destinations]
    require_columns(person_rows, ["person_id", "E", "jobcentre_id", "D", "first_week", *flags], "course_exit_persons")
    f = person_rows.sort_values(["person_id", "E", "first_week", "jobcentre_id"], kind="mergesort")
    g = f.groupby(["person_id", "E"], sort=True)
    first = g[["D", "jobcentre_id"]].first()
    out = first.join(g[flags].max().astype(np.int8)).reset_index()
    out["D"], out["E"] = out["D"].astype(np.int8), out["E"].astype(np.int8)
    return out.assign(DE=(out["D"] * out["E"]).astype(np.int8))


def table8_persons(
    persons: pd.DataFrame,
    *,
    destinations: Sequence[str] = EXIT_DESTINATIONS,
    inference: Inference,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 8 as the report states it: the share of persons exiting to each destination.

    Per destination d, on the person-periods of :func:`persons_exits`: the DiD φ of the saturated
    LPM ``exit_d = η + μD + θE + φ·DE`` (estimand ``"<d>:persons_did"``, period ``period``) with the
    spec's inference — the cluster bootstrap or, with job-centre clusters, the wild cluster
    bootstrap (HIR assigned the cap to job centres) — and each D×E group's share
    (``"<d>:persons_participating"`` / ``"<d>:persons_others"``, periods ``"before"`` / ``period``)
    with analytic clustered SEs. Shares are fractions of the persons in a course in the period.
    """
    cluster, alpha = inference.cluster, inference.alpha
    require_columns(persons, [cluster, "person_id", "D", "E", *(f"exit_{d}" for d in destinations)], "persons")
    frame = persons.assign(D=persons["D"].astype(np.int8), E=persons["E"].astype(np.int8))
    frame = frame.assign(DE=(frame["D"] * frame["E"]).astype(np.int8))
    if frame.groupby(["D", "E"]).ngroups < 4:
        raise InputError([Problem("person_weeks", "D, E", "a D×E group has no persons in a course", len(frame))])
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    n_all = int(frame["person_id"].nunique())
    dids = _did_fits(inference, [lambda kw, y=f"exit_{d}": lpm(frame, y=y, covariates=["D", "E", "DE"],
                                                                 cluster=cluster, **kw) for d in destinations])
    for d, fit in zip(destinations, dids):
        y = f"exit_{d}"
        rows.append(estimate_row(fit, "DE", analysis=TABLE8, estimand=f"{d}{PERSONS_DID}", period=period,
                                 alpha=alpha, n_persons=n_all))
        fits.append(_model_fit(fit, "DE", rows[-1]))
        for d_val, suffix in ((1, PERSONS_PARTICIPATING), (0, PERSONS_OTHERS)):
            for e_val, per in ((0, "before"), (1, period)):
                sub = frame[(frame["D"] == d_val) & (frame["E"] == e_val)]
                m = lpm(sub, y=y, covariates=[], cluster=cluster)
                rows.append(estimate_row(m, CONS, analysis=TABLE8, estimand=f"{d}{suffix}", period=per, alpha=alpha,
                                         n_persons=int(sub["person_id"].nunique())))
    return _returned(rows, fits, return_fits)


TABLE8 = "hir_table8"


def table8_exits(
    person_weeks: pd.DataFrame,
    *,
    destinations: Sequence[str] = EXIT_DESTINATIONS,
    inference: Inference,
    period: str = "intervention",
    return_fits: bool = False,
    first_weeks: Mapping[int, int] | None = None,
) -> list[Estimate] | LinearTable:
    """HIR Table 8's weekly rows from person-weeks in memory: :func:`table8_weekly` on their cells.

    ``person_weeks``: :func:`bipdask.prepare.spells.course_exits` rows of both periods (person_id,
    jobcentre_id, week, D, E, ``exit_<d>``; rows whose next week is not in the panel are dropped);
    ``first_weeks`` as in :func:`table8`.
    """
    cells = exit_cells(person_weeks, cluster=inference.cluster, first_weeks=first_weeks, destinations=destinations)
    return table8_weekly(cells, exit_persons(person_weeks, destinations), destinations=destinations,
                         inference=inference, period=period, return_fits=return_fits)


def cells_for_fit(cells: pd.DataFrame, cluster: str, destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """The gathered cells summed per (cluster, τ, D, E) — the reduce is a sum, so the result does not
    depend on how the rows were partitioned or ordered — without cells that have no observed week,
    with DE and each destination's weekly exit share ``rate_<d>`` = exit_<d> / n_weeks."""
    flags = [f"exit_{d}" for d in destinations]
    if cluster not in cells.columns:
        raise InputError([Problem("course_exit_cells", cluster, "cells are built per cluster of the spec's "
                                  "cluster level; these have another (recompute the model inputs)", len(cells))])
    require_columns(cells, [*CELL_KEYS, "n_weeks", *flags], "course_exit_cells")
    keys = [cluster, *CELL_KEYS]
    f = cells[[*keys, "n_weeks", *flags]]
    f = f.astype({c: np.int64 for c in ("n_weeks", *flags)}).groupby(keys, sort=True).sum().reset_index()
    f = f.loc[f["n_weeks"].to_numpy() > 0].reset_index(drop=True)
    n = f["n_weeks"].to_numpy(np.float64)
    d, e = f["D"].to_numpy(np.int8), f["E"].to_numpy(np.int8)
    out = pd.DataFrame({cluster: f[cluster].to_numpy(), "tau": f["tau"].to_numpy(np.int64), "D": d, "E": e,
                        "DE": (d * e).astype(np.int8), "n_weeks": n})
    for d_name, flag in zip(destinations, flags):
        out[f"rate_{d_name}"] = f[flag].to_numpy(np.float64) / n
    return out


def table8_weekly(
    cells: pd.DataFrame,
    person_rows: pd.DataFrame,
    *,
    destinations: Sequence[str] = EXIT_DESTINATIONS,
    inference: Inference,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 8: per destination the DiD β of eq. (3) and the weekly exit shares behind it, from cells.

    Parameters
    ----------
    cells : :func:`bipdask.prepare.exit_cells.exit_cells` of every job centre, built with the
        spec's cluster (``inference.cluster``): per (cluster, τ, D, E) the observed course weeks
        ``n_weeks`` and the weeks followed by each destination ``exit_<d>``.
    person_rows : :func:`bipdask.prepare.exit_cells.exit_persons` of every job centre (the persons
        behind each row, for disclosure control).

    Eq. (3), Y_τ = ϑ_τ + κD + ξE + βDE + ε, is fitted by :func:`bipdask.estimators.lpm.lpm` on the
    cells' weekly exit shares with ``n_weeks`` as frequency weights, τ absorbed, clustered by
    ``inference.cluster``: every regressor is constant within a cell and cells lie within
    clusters, so the coefficients, the per-cluster scores — CR1 SEs with N = Σ n_weeks, the pairs
    and the wild cluster bootstrap — are those of the person-week rows (``docs/methods.md``,
    HIR Table 8). ``n_obs`` is the person-weeks (Σ n_weeks), as on the rows.

    Returns
    -------
    Rows with analysis ``"hir_table8"``: estimand = destination, period ``period``: β (a
    difference of weekly exit probabilities); estimand ``"<destination>:mean_participating"`` /
    ``"<destination>:mean_others"`` with period ``"before"``/``period``: the weekly exit share of
    the D×E group (analytic clustered SEs). The report's level columns (e.g. 10.0 → 12.8
    percent to disability pension) read as shares of persons over a period, not weekly rates.
    With ``return_fits=True``: a :class:`LinearTable` whose ``fits`` are the four eq. (3) models
    (term ``"DE"``).
    """
    cluster, alpha = inference.cluster, inference.alpha
    frame = cells_for_fit(cells, cluster, destinations)
    if frame.groupby(["D", "E"]).ngroups < 4:
        raise InputError([Problem("person_weeks", "D, E", "a D×E group has no person-weeks",
                                  int(frame["n_weeks"].sum()))])
    require_columns(person_rows, ["person_id", "D", "E"], "course_exit_persons")
    # with person clusters the fit's clusters are the persons; otherwise count them for disclosure
    persons = None
    if cluster != "person_id":
        persons = person_rows[["person_id", "D", "E"]].drop_duplicates()
    n_all = None if persons is None else int(persons["person_id"].nunique())
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    dids = _did_fits(inference, [lambda kw, y=f"rate_{d}": lpm(frame, y=y, covariates=["D", "E", "DE"],
                                                                 fixed_effects="tau", cluster=cluster,
                                                                 weights="n_weeks", **kw) for d in destinations])
    for d, fit in zip(destinations, dids):
        y = f"rate_{d}"
        rows.append(estimate_row(fit, "DE", analysis=TABLE8, estimand=d, period=period, alpha=alpha,
                                 n_persons=n_all, n_obs=_weeks(fit)))
        fits.append(_model_fit(fit, "DE", rows[-1]))
        for d_val, label in ((1, "mean_participating"), (0, "mean_others")):
            for e_val, per in ((0, "before"), (1, period)):
                sub = frame[(frame["D"] == d_val) & (frame["E"] == e_val)]
                m = lpm(sub, y=y, covariates=[], cluster=cluster, weights="n_weeks")
                n_p = None if persons is None else int(
                    ((persons["D"] == d_val) & (persons["E"] == e_val)).sum())
                rows.append(estimate_row(m, CONS, analysis=TABLE8, estimand=f"{d}:{label}", period=per, alpha=alpha,
                                         n_persons=n_p, n_obs=_weeks(m)))
    return _returned(rows, fits, return_fits)


def _did_fits(inference: Inference, fits: Sequence[Callable[[dict], LinearResult]]) -> list[LinearResult]:
    """The DiD fits of one Table 8 block (one per destination: the same rows, clusters and
    design, another outcome), each called with its estimator keywords; with the pairs bootstrap
    their replicates come from one draw of each block of person weights
    (:class:`~bipdask.estimators.lpm.replicates.SharedReplicates`: the replicates of separate
    fits bit for bit, the weights drawn once instead of once per destination). Each fit's rows
    are let go once its per-cluster sums are formed."""
    if inference.method != "pairs" or not inference.bootstrap:
        return [fit(inference.estimator_kwargs()) for fit in fits]
    shared = SharedReplicates(inference.replicates, inference.seed, inference.scheme, inference.replicate_window)
    point = []
    for fit in fits:
        result = fit({"keep_pairs_state": True})
        shared.add(result.pairs_state)
        point.append((replace(result, _state=None, pairs_state=None), result.pairs_state.absorption))
        del result
    return [with_pairs_replicates(fit, reps, absorption, inference.scheme, inference.seed)
            for (fit, absorption), reps in zip(point, shared.replicates())]


def _weeks(fit) -> int:
    """The person-weeks behind a fit on cells: its frequency weights' sum (whole numbers)."""
    return round(fit.sum_weights)
