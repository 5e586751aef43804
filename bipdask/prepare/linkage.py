"""Caseload linkage (HIR quantitative report, "Boks 1" and "Medierende faktorer").

Links every person-week in a resource course to the coordinating caseworker assigned that week
and to that caseworker's full-time-equivalent caseload ("caseload omregnet til fuld tid"), the
input of the mediator models of Tables 9–10 (``docs/methods.md#hir-boks-1--caseload-linkage``).

Weeks are ISO weeks identified by their Monday. Internally a week is an integer *week ordinal*
(:func:`week_ordinal`: weeks since the Monday 1970-01-05), so interval arithmetic and joins are
integer operations. A week belongs to a period when its Monday lies inside the period
(:class:`bipdask.spec.Period`); the HIR intervention period 2018-03-01 – 2019-03-31 thus has the
report's 56 weeks (Monday 2018-03-05 to Monday 2019-03-25).

Partitioning: every function is pure over one job centre's frames and can be mapped on Dask per
job centre, *provided all of a person's assignments and weeks are in the same partition* (Boks 1's
rules 1 and 3 compare a person's assignments with each other). Caseload rows are joined by
``(caseworker_id, week)`` only, so a caseworker's caseload rows must be in the partition of the
people assigned to them (caseworkers belong to one job centre in the HIR data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from bipdask.data.contract import FTE_HOURS_PER_WEEK
from bipdask.data.weeks import (
    _dates_ns,
    ordinal_monday,
    period_week_bounds,
    week_ordinal,
)
from bipdask.errors import InputError, Problem

LINK_STATUSES = ("linked", "trimmed", "no_caseworker", "no_caseload_record")

__all__ = [
    "LINK_STATUSES",
    "LinkageReport",
    "add_caseload_change",
    "assignment_weeks",
    "caseload_baseline",
    "caseload_fte",
    "check_match_rate",
    "combine_linkage_reports",
    "link_caseload",
    "linkage_report",
    "ordinal_monday",
    "period_week_bounds",
    "week_ordinal",
]


# --------------------------------------------------------------------------- weeks as integers










def _duplicate_problem(table: str, column: str, n: int) -> InputError:
    return InputError([Problem(table, column, "duplicate key rows", n)])


# --------------------------------------------------------------------------- FTE caseload


def caseload_fte(caseload: pd.DataFrame, *, fte_hours: float = FTE_HOURS_PER_WEEK) -> pd.DataFrame:
    """Full-time-equivalent caseload of each caseworker and week.

    ``caseload_fte = n_cases × fte_hours / weekly_hours`` ("antal sager*37/ugentligt timetal",
    HIR quantitative report, section "Evaluering": 15 cases in 18.5 hours is a caseload of 30). Weeks with
    ``weekly_hours`` ≤ 0 or missing have no defined FTE caseload (NaN).

    Parameters
    ----------
    caseload : DataFrame
        The contract's ``caseload`` table (caseworker_id, jobcentre_id, week, n_cases,
        weekly_hours). ``week`` may be any day of the week; it is normalised to its Monday.
    fte_hours : float
        Hours of a full-time week (37).

    Returns
    -------
    DataFrame
        caseworker_id (int64), jobcentre_id, week (Monday, datetime64[ns]), caseload_fte (float64,
        cases per full-time caseworker), sorted by caseworker_id and week.
    """
    hours = pd.to_numeric(caseload["weekly_hours"], errors="coerce").to_numpy(np.float64)
    cases = pd.to_numeric(caseload["n_cases"], errors="coerce").to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        fte = np.where(hours > 0, cases * fte_hours / np.where(hours > 0, hours, 1.0), np.nan)
    out = pd.DataFrame(
        {
            "caseworker_id": caseload["caseworker_id"].to_numpy(np.int64),
            "jobcentre_id": caseload["jobcentre_id"].to_numpy(),
            "week": ordinal_monday(week_ordinal(caseload["week"])) if len(caseload) else
            np.array([], dtype="datetime64[ns]"),
            "caseload_fte": fte,
        }
    )
    return out.sort_values(["caseworker_id", "week"], kind="mergesort").reset_index(drop=True)


def _trim_mask(fte: np.ndarray, trim: tuple[float, float]) -> np.ndarray:
    """True where the FTE caseload is usable: inside [low, high], both ends kept."""
    low, high = trim
    with np.errstate(invalid="ignore"):
        return (fte >= low) & (fte <= high)


# --------------------------------------------------------------------------- Boks 1 rules


def assignment_weeks(
    assignments: pd.DataFrame,
    *,
    period_start: dt.date | str,
    period_end: dt.date | str,
) -> pd.DataFrame:
    """The coordinating caseworker of each person-week, by the four rules of Boks 1.

    Each assignment (person → caseworker, start_date, optional end_date) becomes an interval of
    week ordinals; a week is "covered" by an assignment when its Monday-week lies in it.

    1. *No end date* ("ingen slutdato"): the assignment ends the week before the person's next
       assignment starts (the next row in start-date order, ties broken by caseworker_id); with
       no next assignment it runs to the last week of the period (1a, 1b).
    2. *Mid-week change*: an assignment covers the week containing its start date, and where two
       assignments cover a week the later-starting one wins, so a new caseworker counts from the
       week of the change. End dates are inclusive of their week.
    3. *Nested* (B starts strictly after A and B's recorded end date is strictly before A's):
       A covers its weeks up to the week before B's start, B covers its start week to the week
       *before* its end week ("til (ugen før) slutdato 2"), and A covers B's end week onwards to
       its own end (3a–c). Implemented as: a nested assignment loses its end week; precedence
       (below) gives the weeks B covers to B and the rest back to A.
    4. *Other partial overlaps*: the later-starting assignment wins.

    Precedence, week by week: among the assignments covering a week, the one with the latest
    start date wins; ties on start date go to the larger caseworker_id (then the later end), so
    the result never depends on row order. Three-way and deeper overlaps follow from the same
    two steps: every assignment nested inside any other loses its end week (rule 3), then each
    week goes to the covering assignment of highest precedence (rule 4). For A ⊃ B ⊃ C this
    gives A, B, C, B (from C's end week), A (from B's end week) — rule 3 applied recursively.

    Open-ended assignments are never "nested": their end is imputed by rule 1 (an open-ended
    assignment ends before any later-starting one begins). Rows with a missing start date, or
    whose end precedes their start, cover no week (the validator quarantines them); they still
    count as a "next assignment" for rule 1.

    Parameters
    ----------
    assignments : DataFrame
        The contract's ``assignments`` table (person_id, caseworker_id, start_date, end_date).
    period_start, period_end : date
        The period (HIR: the intervention period); weeks whose Monday lies inside it are returned.

    Returns
    -------
    DataFrame
        person_id (int64), week (Monday, datetime64[ns]), caseworker_id (int64): at most one row
        per person-week, sorted by person_id and week; person-weeks with no caseworker are absent.
    """
    p0, p1 = period_week_bounds(period_start, period_end)
    empty = pd.DataFrame(
        {
            "person_id": np.array([], np.int64),
            "week": np.array([], "datetime64[ns]"),
            "caseworker_id": np.array([], np.int64),
        }
    )
    if assignments is None or len(assignments) == 0 or p1 < p0:
        return empty
    a = assignments[["person_id", "caseworker_id", "start_date", "end_date"]]
    a = a[a["start_date"].notna()]
    if len(a) == 0:
        return empty
    pid = a["person_id"].to_numpy(np.int64)
    cw = a["caseworker_id"].to_numpy(np.int64)
    s_ns = _dates_ns(a["start_date"])
    is_open = a["end_date"].isna().to_numpy()
    e_ns = np.where(is_open, np.iinfo(np.int64).max, _dates_ns(a["end_date"]))

    # Total order on row values: person, start, caseworker, end (open last). Rank = precedence.
    order = np.lexsort((e_ns, cw, s_ns, pid))
    pid, cw, s_ns, e_ns, is_open = pid[order], cw[order], s_ns[order], e_ns[order], is_open[order]
    n = len(pid)
    sw = week_ordinal(s_ns.view("datetime64[ns]"))
    ew = np.empty(n, np.int64)
    ew[~is_open] = week_ordinal(e_ns[~is_open].view("datetime64[ns]"))

    # Rule 1: open end → week before the next assignment's start, else the period's last week.
    has_next = np.zeros(n, bool)
    has_next[:-1] = pid[1:] == pid[:-1]
    next_sw = np.empty(n, np.int64)
    next_sw[:-1] = sw[1:]
    ew[is_open] = np.where(has_next[is_open], next_sw[is_open] - 1, p1)

    # Rule 3: an assignment nested inside another (recorded dates, strict) loses its end week.
    ew -= _nested_mask(pid, s_ns, e_ns, is_open)

    lo = np.maximum(sw, p0)
    hi = np.minimum(ew, p1)
    length = np.clip(hi - lo + 1, 0, None)
    total = int(length.sum())
    if total == 0:
        return empty
    src = np.repeat(np.arange(n), length)
    offset = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
    week = lo[src] + offset
    # Rule 4 / rule 2: within a person-week the highest rank (latest start, larger id) wins.
    keep_order = np.lexsort((-src, week, pid[src]))
    src, week = src[keep_order], week[keep_order]
    p = pid[src]
    first = np.ones(total, bool)
    first[1:] = (p[1:] != p[:-1]) | (week[1:] != week[:-1])
    return pd.DataFrame(
        {"person_id": p[first], "week": ordinal_monday(week[first]), "caseworker_id": cw[src[first]]}
    )


def _nested_mask(pid: np.ndarray, s_ns: np.ndarray, e_ns: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    """1 where an assignment with a recorded end lies strictly inside another one (rule 3)."""
    closed = np.flatnonzero(~is_open)
    out = np.zeros(len(pid), np.int64)
    if len(closed) < 2:
        return out
    c = pd.DataFrame({"pid": pid[closed], "s": s_ns[closed], "e": e_ns[closed], "i": closed})
    pairs = c.merge(c, on="pid", suffixes=("_in", "_out"))
    inner = pairs.loc[(pairs["s_out"] < pairs["s_in"]) & (pairs["e_out"] > pairs["e_in"]), "i_in"]
    out[inner.unique()] = 1
    return out


# --------------------------------------------------------------------------- person-week linkage


def link_caseload(
    weeks: pd.DataFrame,
    assignments: pd.DataFrame | None,
    caseload: pd.DataFrame | None,
    *,
    period_start: dt.date | str,
    period_end: dt.date | str,
    trim: tuple[float, float] = (13.0, 50.0),
    fte_hours: float = FTE_HOURS_PER_WEEK,
) -> pd.DataFrame:
    """Link each person-week to its caseworker and that caseworker's FTE caseload (Boks 1).

    The caller passes only the weeks that count (HIR: resource-course weeks); every one of them
    whose Monday lies in the period appears exactly once in the result. The caseworker comes from
    :func:`assignment_weeks`, the caseload from :func:`caseload_fte` joined on (caseworker_id,
    week). FTE caseloads below ``trim[0]`` or above ``trim[1]`` (13 and 50: the 1st and 99th
    percentiles, "trimmer caseload data med 1 procent i hver ende") are set to missing; both
    bounds are kept. Where no caseworker, no usable caseload record (none, or weekly_hours 0) or
    a trimmed caseload: ``caseload = 0`` and ``casemiss = 1`` ("casemiss=1 if caseload==0").

    Parameters
    ----------
    weeks : DataFrame
        person_id, week, jobcentre_id (other columns are ignored).
    assignments, caseload : DataFrame or None
        The contract tables; ``None`` or empty (comparison job centres) leaves every week unlinked.
    period_start, period_end : date
        The period linked (HIR: the intervention period).
    trim : (float, float)
        Inclusive bounds of a usable FTE caseload.
    fte_hours : float
        Hours of a full-time week.

    Returns
    -------
    DataFrame
        person_id, week (Monday, datetime64[ns]), jobcentre_id, caseworker_id (Int64, <NA> when
        none), caseload (float64 cases per FTE; 0 where unusable), casemiss (int8),
        link_status (one of :data:`LINK_STATUSES`), sorted by person_id and week.

    Raises
    ------
    InputError
        Duplicate (person_id, week) rows in ``weeks`` or (caseworker_id, week) rows in ``caseload``.
    """
    p0, p1 = period_week_bounds(period_start, period_end)
    wk = week_ordinal(weeks["week"]) if len(weeks) else np.array([], np.int64)
    inside = (wk >= p0) & (wk <= p1)
    base = pd.DataFrame(
        {
            "person_id": weeks["person_id"].to_numpy(np.int64)[inside],
            "wk": wk[inside],
            "jobcentre_id": weeks["jobcentre_id"].to_numpy()[inside],
        }
    )
    n_dup = int(base.duplicated(["person_id", "wk"]).sum())
    if n_dup:
        raise _duplicate_problem("weeks", "person_id, week", n_dup)
    base = base.sort_values(["person_id", "wk"], kind="mergesort").reset_index(drop=True)

    if assignments is not None and len(assignments):
        persons = np.unique(base["person_id"].to_numpy())
        own = assignments[assignments["person_id"].isin(persons)]
        aw = assignment_weeks(own, period_start=period_start, period_end=period_end)
    else:
        aw = assignment_weeks(None, period_start=period_start, period_end=period_end)
    aw = pd.DataFrame(
        {"person_id": aw["person_id"].to_numpy(), "wk": week_ordinal(aw["week"]) if len(aw) else
         np.array([], np.int64), "caseworker_id": pd.array(aw["caseworker_id"].to_numpy(np.int64), dtype="Int64")}
    )
    merged = base.merge(aw, on=["person_id", "wk"], how="left", validate="one_to_one")

    if caseload is not None and len(caseload):
        fte = caseload_fte(caseload, fte_hours=fte_hours)
        fte = pd.DataFrame(
            {"caseworker_id": fte["caseworker_id"].to_numpy(), "wk": week_ordinal(fte["week"]),
             "caseload_fte": fte["caseload_fte"].to_numpy()}
        )
        n_dup = int(fte.duplicated(["caseworker_id", "wk"]).sum())
        if n_dup:
            raise _duplicate_problem("caseload", "caseworker_id, week", n_dup)
        has_cw = merged["caseworker_id"].notna().to_numpy()
        found = np.full(len(merged), np.nan)
        if has_cw.any():
            sub = pd.DataFrame({"caseworker_id": merged["caseworker_id"].to_numpy(np.int64, na_value=0)[has_cw],
                                "wk": merged["wk"].to_numpy()[has_cw]})
            found[has_cw] = sub.merge(fte, on=["caseworker_id", "wk"], how="left")["caseload_fte"].to_numpy()
    else:
        found = np.full(len(merged), np.nan)

    has_cw = merged["caseworker_id"].notna().to_numpy()
    has_fte = ~np.isnan(found)
    usable = has_fte & _trim_mask(found, trim)
    status = np.where(
        ~has_cw, "no_caseworker", np.where(~has_fte, "no_caseload_record", np.where(usable, "linked", "trimmed"))
    )
    return pd.DataFrame(
        {
            "person_id": merged["person_id"].to_numpy(np.int64),
            "week": ordinal_monday(merged["wk"].to_numpy()),
            "jobcentre_id": merged["jobcentre_id"].to_numpy(),
            "caseworker_id": pd.array(merged["caseworker_id"], dtype="Int64"),
            "caseload": np.where(usable, found, 0.0),
            "casemiss": (~usable).astype(np.int8),
            "link_status": status.astype(object),
        }
    )


# --------------------------------------------------------------------------- baseline and change


def caseload_baseline(
    fte: pd.DataFrame,
    *,
    baseline_start: dt.date | str,
    baseline_end: dt.date | str,
    trim: tuple[float, float] = (13.0, 50.0),
) -> pd.DataFrame:
    """Each caseworker's mean FTE caseload over the baseline window (HIR: January–February 2018).

    The report's second mediator is "ændringen i sagsbehandlerens gennemsnitlige caseload fra
    januar-februar 2018 til en given uge" (Table 9, right column). Weeks whose Monday lies in the
    window count; trimmed (outside ``trim``) and undefined FTE weeks are left out of the mean.

    Parameters
    ----------
    fte : DataFrame
        Output of :func:`caseload_fte`.
    baseline_start, baseline_end : date
        The baseline window (spec ``periods.caseload_baseline``).
    trim : (float, float)
        Inclusive bounds of a usable FTE caseload, as in :func:`link_caseload`.

    Returns
    -------
    DataFrame
        caseworker_id (int64), caseload_baseline (float64), baseline_weeks (int64: weeks averaged);
        caseworkers without a usable baseline week are absent.
    """
    b0, b1 = period_week_bounds(baseline_start, baseline_end)
    if len(fte) == 0:
        return pd.DataFrame({"caseworker_id": np.array([], np.int64), "caseload_baseline": np.array([], float),
                             "baseline_weeks": np.array([], np.int64)})
    wk = week_ordinal(fte["week"])
    value = fte["caseload_fte"].to_numpy(np.float64)
    keep = (wk >= b0) & (wk <= b1) & _trim_mask(value, trim)
    sub = pd.DataFrame({"caseworker_id": fte["caseworker_id"].to_numpy(np.int64)[keep], "v": value[keep]})
    g = sub.groupby("caseworker_id", sort=True)["v"]
    out = pd.DataFrame({"caseload_baseline": g.mean(), "baseline_weeks": g.size().astype(np.int64)})
    return out.reset_index()


def add_caseload_change(linked: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Add ``caseload_change`` = the week's caseload − the caseworker's baseline caseload.

    Missing values follow the report's casemiss convention: where the change is undefined — the
    week is not linked (``casemiss == 1``) or its caseworker has no usable baseline week —
    ``caseload_change = 0`` and the new indicator ``change_miss = 1``; otherwise
    ``change_miss = 0``. ``change_miss ≥ casemiss`` always. The mediator models (Tables 9–10)
    enter ``caseload_change`` together with ``change_miss``.

    Parameters
    ----------
    linked : DataFrame
        Output of :func:`link_caseload`.
    baseline : DataFrame
        Output of :func:`caseload_baseline`.

    Returns
    -------
    DataFrame
        ``linked`` (same rows, same order) with caseload_change (float64), change_miss (int8).
    """
    cw = linked["caseworker_id"]
    lookup = pd.Series(baseline["caseload_baseline"].to_numpy(np.float64),
                       index=baseline["caseworker_id"].to_numpy(np.int64))
    base = np.full(len(linked), np.nan)
    has = cw.notna().to_numpy()
    if has.any():
        base[has] = lookup.reindex(cw[has].to_numpy(np.int64)).to_numpy()
    ok = (linked["casemiss"].to_numpy() == 0) & ~np.isnan(base)
    out = linked.copy()
    out["caseload_change"] = np.where(ok, linked["caseload"].to_numpy(np.float64) - np.where(ok, base, 0.0), 0.0)
    out["change_miss"] = (~ok).astype(np.int8)
    return out


# --------------------------------------------------------------------------- match-rate report


_COUNT_COLUMNS = ("person_weeks", "linked", "trimmed", "no_caseworker", "no_caseload_record")


@dataclass(frozen=True)
class LinkageReport:
    """How many person-weeks were linked (Boks 1: 187,840 person-weeks, 182,395 matched = 97%).

    ``matched`` = linked + trimmed: person-weeks matched to a caseworker's caseload record, the
    report's count (made before trimming). ``match_rate = matched / person_weeks``;
    ``usable_rate = linked / person_weeks`` is the share entering the mediators with casemiss 0.
    ``by_jobcentre`` and ``by_week`` hold the same counts per job centre and per week (tidy).
    """

    person_weeks: int
    linked: int
    trimmed: int
    no_caseworker: int
    no_caseload_record: int
    by_jobcentre: pd.DataFrame = field(compare=False, repr=False)
    by_week: pd.DataFrame = field(compare=False, repr=False)

    @property
    def unlinked(self) -> int:
        return self.no_caseworker + self.no_caseload_record

    @property
    def matched(self) -> int:
        return self.linked + self.trimmed

    @property
    def match_rate(self) -> float:
        return self.matched / self.person_weeks if self.person_weeks else float("nan")

    @property
    def usable_rate(self) -> float:
        return self.linked / self.person_weeks if self.person_weeks else float("nan")

    def describe(self) -> str:
        return (
            f"linkage: {self.matched} of {self.person_weeks} person-weeks matched a caseworker's caseload "
            f"({self.match_rate:.1%}); {self.trimmed} trimmed, {self.no_caseworker} without a caseworker, "
            f"{self.no_caseload_record} without a caseload record"
        )


def _count_frame(linked: pd.DataFrame, by: str) -> pd.DataFrame:
    status = pd.Categorical(linked["link_status"], categories=list(LINK_STATUSES))
    key = linked[by]
    if (status.codes >= 0).all() and key.notna().all():
        # the crosstab below in one np.unique and a bincount (pd.crosstab: ~25 ms a call)
        values, row = np.unique(key.to_numpy(), return_inverse=True)
        n = len(LINK_STATUSES)
        counts = np.bincount(row * n + status.codes, minlength=len(values) * n).reshape(len(values), n)
        frame = pd.DataFrame({by: pd.Index(values, dtype=key.dtype), "person_weeks": counts.sum(axis=1),
                              **{c: counts[:, j] for j, c in enumerate(LINK_STATUSES)}})
        return _with_rates(frame.astype({c: np.int64 for c in _COUNT_COLUMNS}))
    counts = pd.crosstab(linked[by], status, dropna=False).reindex(columns=list(LINK_STATUSES), fill_value=0)
    counts.columns = list(LINK_STATUSES)
    counts.insert(0, "person_weeks", counts.sum(axis=1))
    return _with_rates(counts.astype(np.int64).rename_axis(by).reset_index())


def _with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    pw = frame["person_weeks"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["match_rate"] = (frame["linked"] + frame["trimmed"]).to_numpy(np.float64) / pw
    return frame


def linkage_report(linked: pd.DataFrame) -> LinkageReport:
    """Count linked, trimmed and unlinked person-weeks overall, per job centre and per week.

    Parameters
    ----------
    linked : DataFrame
        Output of :func:`link_caseload`.
    """
    status = linked["link_status"].to_numpy()
    counts = {s: int((status == s).sum()) for s in LINK_STATUSES}
    if len(linked):
        by_jc, by_week = _count_frame(linked, "jobcentre_id"), _count_frame(linked, "week")
    else:
        cols = {c: np.array([], np.int64) for c in _COUNT_COLUMNS}
        by_jc = _with_rates(pd.DataFrame({"jobcentre_id": np.array([], np.int32), **cols}))
        by_week = _with_rates(pd.DataFrame({"week": np.array([], "datetime64[ns]"), **cols}))
    return LinkageReport(person_weeks=len(linked), by_jobcentre=by_jc, by_week=by_week, **counts)


def combine_linkage_reports(reports: Iterable[LinkageReport]) -> LinkageReport:
    """Sum per-job-centre reports into one (the reduce step after mapping over job centres)."""
    reports = list(reports)
    totals = {c: sum(getattr(r, c) for r in reports) for c in _COUNT_COLUMNS}

    def _stack(attr: str, key: str) -> pd.DataFrame:
        frames = [getattr(r, attr) for r in reports if len(getattr(r, attr))]
        if not frames:
            return getattr(reports[0], attr).copy() if reports else pd.DataFrame()
        summed = pd.concat(frames).groupby(key, sort=True)[list(_COUNT_COLUMNS)].sum().reset_index()
        return _with_rates(summed)

    return LinkageReport(by_jobcentre=_stack("by_jobcentre", "jobcentre_id"), by_week=_stack("by_week", "week"),
                         **totals)


def check_match_rate(report: LinkageReport, floor: float = 0.90,
                     quarantined: Mapping[str, Mapping[str, int]] | None = None) -> None:
    """Stop the run when too few person-weeks matched a caseworker's caseload record.

    The message names the cause: how many unmatched person-weeks have no caseworker (no
    assignment covers the week) and how many have no caseload record for their caseworker's
    week, the job centre with most of them, and, from the validation's ``quarantined``
    (table → reason → rows), assignments or caseload rows the validator set aside (an end date of
    9999-12-31 quarantines the assignment, and its person's weeks then have no caseworker).

    Raises
    ------
    InputError
        ``linkage: match rate 84.1% below the floor of 90% (N rows): …`` — counts only, no ids.
    """
    if report.person_weeks == 0:
        raise InputError([Problem("linkage", "", "no person-weeks to link in the period", 0)])
    if report.match_rate < floor:
        rule = f"match rate {report.match_rate:.1%} below the floor of {floor * 100:g}%"
        parts = [f"{report.matched} of {report.person_weeks} person-weeks matched a caseworker's caseload record",
                 f"{report.no_caseworker} have no caseworker (no assignment covers the week)",
                 f"{report.no_caseload_record} no caseload record for their caseworker's week"]
        jc = report.by_jobcentre
        if len(jc) and report.unlinked:
            unlinked = jc["no_caseworker"] + jc["no_caseload_record"]
            worst = jc.loc[unlinked.idxmax()]
            parts.append(f"job centre {int(worst['jobcentre_id'])} holds {int(unlinked.max())} of the "
                         f"{report.unlinked} unmatched")
        for table in ("assignments", "caseload"):
            reasons = (quarantined or {}).get(table) or {}
            if n := sum(reasons.values()):
                top = max(reasons.items(), key=lambda kv: (kv[1], kv[0]))[0]
                parts.append(f"{table}: {n} rows quarantined by validation, most often {top}")
        raise InputError([Problem("linkage", "", rule, report.person_weeks, "; ".join(parts))])
