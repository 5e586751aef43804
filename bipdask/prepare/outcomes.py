"""Weekly outcome flags and the per-job-centre sufficient statistics of HIR Table 6.

HIR quantitative report (Metrica 2019), eq. (2) and Table 6: the share of resource-course
person-weeks (*ressourceforløbs-uger*) in a company internship (*virksomhedspraktik*) or with
ordinary paid hours (*ordinære løntimer*), participating job centres (D=1) against all others
(D=0), the year before (E=0) against the intervention period or its last three months (E=1).
Method: ``docs/methods.md#hir-table-6--share-in-internship-or-ordinary-hours``.

Table 7's share block (*nytilkendte ressourceforløb*) is the same share over the weeks of courses
newly granted in each period, from the course start to the period end
(:func:`new_course_share_cell_sums`; the new-course rule of :func:`bipdask.prepare.spells.first_lab_spells`).

Everything here is a pure function over one job centre's weeks; the reduce over job centres
is :func:`bipdask.analyses.hir.shares.share_did_table`.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from bipdask.data.weeks import as_datetime64
from bipdask.errors import InputError, Problem
from bipdask.prepare.spells import in_new_course, with_course_status
from bipdask.spec import EvaluationSpec, Period

SHARE_OUTCOME = "in_internship_or_hours"
RESOURCE_COURSE = "resource_course"
CELL_COLUMNS = ("jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes")
NEW_COURSE_WINDOWS = ("before", "intervention")  # Table 7: whole periods only (E=0, E=1)


def in_internship_or_hours(lab_type: pd.Series, ordinary_hours: pd.Series) -> pd.Series:
    """The Table 6 outcome per person-week: company internship that week, or ordinary hours > 0.

    Parameters
    ----------
    lab_type : the LAB intervention of the week (``weeks.lab_type``).
    ordinary_hours : paid ordinary hours that week (``weeks.ordinary_hours``, hours/week);
        missing hours count as none.
    """
    hours = pd.to_numeric(ordinary_hours, errors="coerce").fillna(0.0)
    return (_equals(lab_type, "company_internship") | (hours > 0)).astype(bool)


def _equals(values: pd.Series, value: str) -> pd.Series:
    """``values == value`` with missing values False; an object column is compared by numpy
    (pandas first scans it for missing values, which costs as much again)."""
    if values.dtype == object:
        try:
            return pd.Series(values.to_numpy() == value, index=values.index, dtype=bool)
        except TypeError:  # an element whose == is not a bool (pd.NA): pandas' own comparison
            pass
    return (values == value).fillna(False)


def _monday(week) -> pd.Series:
    return as_datetime64(week).dt.normalize()


def _midnights(week) -> np.ndarray:
    """Each week's date at midnight as ``datetime64[ns]`` (NaT kept): :func:`_monday` as an array.
    Naive datetime64 input is floored by numpy (no pandas cast, ~20× faster on a job centre)."""
    if isinstance(week, (pd.Series, pd.Index, np.ndarray)) and week.dtype.kind == "M":
        return np.asarray(week).astype("datetime64[D]").astype("datetime64[ns]")
    return _monday(week).to_numpy("datetime64[ns]")


def in_resource_course(week: pd.Series, dream_code: pd.Series, dream_codes: pd.DataFrame) -> np.ndarray:
    """Whether each person-week is a resource-course week (*i ressourceforløb*).

    A week counts when its DREAM code has a version in the versioned code list
    (``dream_codes``) with status ``resource_course`` in force on the week's Monday:
    ``valid_from <= week <= valid_to`` (a null ``valid_to`` is open-ended). Weeks without a
    benefit code (null) are not resource-course weeks.

    The rule is decided once per distinct (code, week) pair and spread back to the rows: a job
    centre has ~10⁵ rows but ~10³ pairs.
    """
    week = _midnights(week)
    code = pd.Series(dream_code).reset_index(drop=True)
    out = np.zeros(len(week), dtype=bool)
    versions = dream_codes.loc[dream_codes["status"] == RESOURCE_COURSE,
                               ["dream_code", "valid_from", "valid_to"]]
    if versions.empty or len(week) == 0:
        return out
    has = code.notna().to_numpy(bool)
    code_idx, codes = pd.factorize(code[has].astype("int64").to_numpy())
    day = week[has]
    day_idx, days = pd.factorize(day.view(np.int64))
    days = days.view("datetime64[ns]")
    v_code = versions["dream_code"].astype("int64").to_numpy()
    v_from = pd.to_datetime(versions["valid_from"]).to_numpy("datetime64[ns]")
    v_to = pd.to_datetime(versions["valid_to"]).to_numpy("datetime64[ns]")
    grid = np.zeros((len(codes), len(days)), dtype=bool)  # distinct code x distinct week
    position = {int(c): i for i, c in enumerate(codes)}
    for c, lo, hi in zip(v_code, v_from, v_to):
        i = position.get(int(c))
        if i is not None:  # NaT never compares true, as in a merge on the rows
            grid[i] |= (lo <= days) & (np.isnat(hi) | (days <= hi))
    out[has] = grid[code_idx, day_idx]
    return out


def in_period(week: pd.Series, period: Period) -> np.ndarray:
    """Whether each week (its Monday) lies in the closed period [start, end]."""
    monday = _midnights(week)
    start, end = (pd.Timestamp(d).to_datetime64().astype("datetime64[ns]") for d in (period.start, period.end))
    return (monday >= start) & (monday <= end)


def comparison_windows(spec: EvaluationSpec) -> dict[str, Period]:
    """The periods Table 6 compares: before (E=0), intervention and its last months (E=1)."""
    return {
        "before": spec.before,
        "intervention": spec.intervention,
        last_months_label(spec): spec.last_months_period,
    }


def last_months_label(spec: EvaluationSpec) -> str:
    return f"last_{spec.last_months}_months"


def treated_jobcentre_ids(jobcentres: pd.DataFrame, names: Iterable[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Job centre ids of the spec's treated names (D=1); the second element (names not found)
    is always empty, since an unresolved name stops the run.

    Every treated name must resolve to exactly one job centre: names are compared after Unicode
    normalisation (NFC, so "æ" typed as "a" + combining ring matches), case folding and collapsed
    whitespace (``"Vallensbæk-Ishøj"`` names one job centre that serves two municipalities). A
    name that matches no job centre, or two different ones, raises :class:`InputError` (exit 2)
    naming the name and the closest names in the delivery: a treated centre that silently became
    a comparison centre would publish a wrong DiD with exit 0.
    """
    wanted = {_norm(n): n for n in names}
    table = jobcentres[["jobcentre_id", "name"]].dropna().drop_duplicates()
    keys = table["name"].map(_norm)
    by_name = {k: sorted({int(i) for i in table.loc[keys == k, "jobcentre_id"]}) for k in wanted}
    problems = []
    for key, name in sorted(wanted.items(), key=lambda kv: kv[1]):
        found = by_name[key]
        if len(found) == 1:
            continue
        if not found:
            close = difflib.get_close_matches(key, sorted(set(keys)), n=3, cutoff=0.5)
            shown = sorted({table["name"][keys == c].iloc[0] for c in close})
            hint = f"closest in the delivery: {', '.join(shown)}" if shown else "no similar name in the delivery"
            problems.append(Problem("jobcentres", "name", f"treated job centre {name!r} not found", 0, hint))
        else:
            problems.append(Problem("jobcentres", "name", f"treated job centre {name!r} matches {len(found)} job "
                                    "centres", len(found), "job centre ids " + ", ".join(map(str, found))))
    if problems:
        raise InputError(problems)
    return tuple(sorted({i for ids in by_name.values() for i in ids})), ()


def _norm(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", str(name)).split()).casefold()


def share_cell_sums(
    weeks: pd.DataFrame,
    dream_codes: pd.DataFrame,
    treated_ids: Iterable[int],
    windows: Mapping[str, Period],
) -> pd.DataFrame:
    """Per job centre × person × period: resource-course weeks and weeks with the outcome.

    The sufficient statistics of eq. (2): for each (jobcentre_id, person_id, period) the
    number of resource-course person-weeks ``n_weeks`` and how many of them had a company
    internship or ordinary hours ``n_yes``; ``d`` = 1 for a participating job centre. A week
    belongs to every window containing its Monday (the intervention period and its last
    months overlap). The frame is tiny next to the weeks (persons × windows).

    Parameters
    ----------
    weeks : person-weeks with the contract columns person_id, week, jobcentre_id, dream_code,
        lab_type, ordinary_hours (one job centre or several).
    dream_codes : the versioned DREAM code list.
    treated_ids : participating job centre ids (D=1).
    windows : period label → period, e.g. :func:`comparison_windows`.
    """
    rc = in_resource_course(weeks["week"], weeks["dream_code"], dream_codes)
    weeks_monday = weeks["week"].reset_index(drop=True)
    return _cell_sums(weeks, treated_ids, {label: rc & in_period(weeks_monday, period)
                                           for label, period in windows.items()})


def new_course_share_cell_sums(
    weeks: pd.DataFrame,
    treated_ids: Iterable[int],
    windows: Mapping[str, Period],
    *,
    dream_codes: pd.DataFrame | None = None,
    lookback_weeks: int = 52,
) -> pd.DataFrame:
    """Table 7's share block: :func:`share_cell_sums` over the weeks of newly granted courses.

    HIR quantitative report, "Effekt på nytilkendte ressourceforløb": for persons granted a resource course in
    the period, the share of their course weeks in a company internship or with ordinary hours,
    "beregnes som i afsnittet ovenfor" (Table 6, eq. 2). For each window (label → period; Table
    7 uses the whole before period, E=0, and the whole intervention period, E=1:
    :data:`NEW_COURSE_WINDOWS`) a week counts when it is a course week of a course begun in that
    window, from the course's first week to the window's end
    (:func:`bipdask.prepare.spells.in_new_course`, the new-course rule of
    :func:`bipdask.prepare.spells.first_lab_spells`, so both halves of Table 7 describe the same
    persons). Course weeks follow :func:`bipdask.prepare.spells.with_course_status`.

    Parameters
    ----------
    weeks : person-weeks: person_id, week, jobcentre_id, lab_type, ordinary_hours and in_course
        (or status; or dream_code with ``dream_codes`` to derive them). The panel must reach
        ``lookback_weeks`` back before the earliest window.
    treated_ids : participating job centre ids (D=1).
    windows : period label → period, e.g. ``{"before": spec.before, "intervention": spec.intervention}``.
    dream_codes : the versioned DREAM code list, needed only when ``weeks`` has neither
        in_course nor status.
    lookback_weeks : weeks without a course week that make a course week a new course (52).

    Returns
    -------
    DataFrame with :data:`CELL_COLUMNS` (n_weeks, n_yes in person-weeks), one row per job centre
    × person × window with a new course, the input of :func:`bipdask.analyses.hir.shares.share_did_table` and
    :func:`bipdask.analyses.hir.shares.share_did_replicates` unchanged.
    """
    if "in_course" not in weeks.columns and "status" not in weeks.columns:
        if dream_codes is None:
            raise InputError([Problem("weeks", "in_course", "column missing and no dream_codes given", len(weeks))])
        weeks = with_course_status(weeks, dream_codes)
    return _cell_sums(weeks, treated_ids, {
        label: in_new_course(weeks, period_start=period.start, period_end=period.end, lookback_weeks=lookback_weeks)
        for label, period in windows.items()})


def _cell_sums(weeks: pd.DataFrame, treated_ids: Iterable[int], keeps: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Per job centre × person × window label: weeks kept (``keeps[label]``, aligned with the
    rows of ``weeks``) and how many of them had the Table 6 outcome."""
    jc = weeks["jobcentre_id"].to_numpy().astype("int32")
    yes = in_internship_or_hours(weeks["lab_type"], weeks["ordinary_hours"]).to_numpy().astype("int64")
    treated = np.isin(jc, np.asarray(list(treated_ids), dtype="int64")).astype("int8")
    cells = person_period_sums(jc, weeks["person_id"].to_numpy().astype("int64"), treated, keeps,
                               {"n_weeks": np.ones(len(yes), np.int64), "n_yes": yes})
    return empty_cell_sums() if cells is None else _typed(cells)


def person_period_sums(jobcentre_id: np.ndarray, person_id: np.ndarray, d: np.ndarray, keeps: Mapping[str, np.ndarray],
                       values: Mapping[str, np.ndarray]) -> pd.DataFrame | None:
    """Sums of ``values`` per (jobcentre_id, person_id, period, d) over the rows each window label
    keeps (``keeps[label]``, a row may be in several), sorted by those keys as pandas'
    ``groupby(sort=True)`` sorts them (labels as strings); ``None`` when no window keeps a row.
    One lexsort and ``np.add.reduceat`` instead of a groupby over the concatenated windows."""
    labels = [label for label, keep in keeps.items() if keep.any()]
    if not labels:
        return None
    names = sorted(labels)
    rows = [np.flatnonzero(keeps[label]) for label in names]  # in label order
    idx = np.concatenate(rows)
    period = np.concatenate([np.full(len(r), j, np.int64) for j, r in enumerate(rows)])
    keys = [jobcentre_id[idx], person_id[idx], period, d[idx]]
    if (keys[0] == keys[0][0]).all() and (keys[3] == keys[3][0]).all():
        # one job centre (and so one d): a stable sort by person keeps the windows in label order, the
        # lexsort's order; on persons already sorted within each window it merges a few runs
        order = np.argsort(keys[1], kind="stable")
    else:
        order = np.lexsort(keys[::-1])
    keys = [k[order] for k in keys]
    change = np.zeros(len(order), bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    sums = np.add.reduceat(np.column_stack([v[idx][order] for v in values.values()]), starts, axis=0)
    return pd.DataFrame({"jobcentre_id": keys[0][starts], "person_id": keys[1][starts],
                         "period": np.asarray(names, dtype=object)[keys[2][starts]], "d": keys[3][starts],
                         **{c: sums[:, j] for j, c in enumerate(values)}})


def empty_cell_sums() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in CELL_COLUMNS}))


def _typed(cells: pd.DataFrame) -> pd.DataFrame:
    return cells.astype({"jobcentre_id": "int32", "person_id": "int64", "period": "string",
                         "d": "int8", "n_weeks": "int64", "n_yes": "int64"})[list(CELL_COLUMNS)]
