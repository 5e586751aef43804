"""Spells and weekly outcomes of the HIR analyses (HIR quantitative report, Tables 4, 7, 8, 9–10).

From the weekly person panel this module builds

- :func:`gap_spells` — the gaps between LAB interventions, the durations of eq. (1) / Table 4;
- :func:`first_lab_spells` — time from a newly granted course to its first LAB (Table 7);
- :func:`in_new_course` — which weeks belong to a course newly granted in the period, from its
  start to the period end (Table 7's share block; the same new-course rule as
  :func:`first_lab_spells`, :func:`_new_course_rows`);
- :func:`course_exits` — weekly exit flags from the course, the outcomes of eq. (3) (Table 8);
- :func:`time_varying_rows` — gap spells split into person-weeks with that week's caseload, the
  counting-process input of the Cox mediator models (Tables 9–10).

Which weeks count. Only resource-course weeks count ("Vi betragter i evalueringen kun de uger,
hvor borgeren har en ressourceforløbskode"). The spell functions read a boolean ``in_course``
column; if it is absent they derive it from a ``status`` column (``status == "resource_course"``);
:func:`with_course_status` adds both from the versioned DREAM code list. A week that is missing
from the panel or not a course week interrupts a spell (the course ended).

Weeks are ISO weeks by their Monday; a week is inside a period when its Monday is
(:func:`bipdask.data.weeks.period_week_bounds`). A LAB week is one with ``lab_type`` other than
``"none"`` (a missing lab_type counts as ``"none"``); a *LAB spell* is a run of consecutive
course weeks that are LAB weeks.

Partitioning: pure functions over one job centre's frames, mapped on Dask per job centre; all of
a person's weeks must be in one partition (spells run across a person's consecutive weeks).
The panel must reach back before the period: one week for :func:`gap_spells` (to see the LAB
spell that ended just before the period) and ``lookback_weeks`` for :func:`first_lab_spells`.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import numpy as np
import pandas as pd

from bipdask.data.weeks import ordinal_monday, period_week_bounds, week_ordinal
from bipdask.errors import InputError, Problem

EXIT_DESTINATIONS = ("ordinary_employment", "flex_job", "ledighedsydelse", "disability_pension")

__all__ = [
    "EXIT_DESTINATIONS",
    "course_exits",
    "first_lab_spells",
    "gap_spells",
    "in_new_course",
    "time_varying_rows",
    "with_course_status",
]


# --------------------------------------------------------------------------- course status


def with_course_status(weeks: pd.DataFrame, dream_codes: pd.DataFrame) -> pd.DataFrame:
    """Add ``status`` (the DREAM status of the week's code) and ``in_course`` to ``weeks``.

    The status of a code in a week comes from the version of ``dream_codes`` valid that week
    (``valid_from ≤ Monday ≤ valid_to``, open ``valid_to`` = still valid; where versions
    overlap the latest ``valid_from`` wins). No code (no benefit) gives status ``None``; a code
    without a valid version gives ``"other"``. ``in_course = status == "resource_course"``.

    Returns
    -------
    DataFrame
        A copy of ``weeks`` with status (object) and in_course (bool).
    """
    out = weeks.copy()
    code = out["dream_code"]
    has = code.notna().to_numpy()
    status = np.full(len(out), None, dtype=object)
    in_course = np.zeros(len(out), dtype=bool)
    if has.any():
        pair, pairs = _distinct_pairs(code[has].to_numpy(np.int64), week_ordinal(out["week"].to_numpy()[has]))
        dc = dream_codes
        versions = pd.DataFrame(
            {
                "dream_code": dc["dream_code"].to_numpy(np.int64),
                "lo": week_ordinal(dc["valid_from"]) if len(dc) else np.array([], np.int64),
                "hi_raw": dc["valid_to"].to_numpy(),
                "valid_from": pd.to_datetime(dc["valid_from"]).to_numpy("datetime64[ns]"),
                "status": dc["status"].to_numpy(object),
            }
        )
        # A version valid from a mid-week date covers the weeks whose Monday is on or after it.
        vf = pd.to_datetime(dc["valid_from"])
        versions["lo"] = versions["lo"] + (vf.dt.weekday.to_numpy() != 0)
        vt = pd.to_datetime(dc["valid_to"])
        hi = np.full(len(dc), np.iinfo(np.int64).max)
        if vt.notna().any():
            hi[vt.notna().to_numpy()] = week_ordinal(vt[vt.notna()])
        versions["hi"] = hi
        m = pairs.merge(versions, on="dream_code", how="inner")
        m = m[(m["wk"] >= m["lo"]) & (m["wk"] <= m["hi"])]
        m = m.sort_values(["dream_code", "wk", "valid_from"], ascending=[True, True, False], kind="mergesort")
        m = m.drop_duplicates(["dream_code", "wk"])
        found = pairs.merge(m[["dream_code", "wk", "status"]], on=["dream_code", "wk"], how="left")["status"]
        pair_status = found.fillna("other").to_numpy(object)
        status[has] = pair_status[pair]
        in_course[has] = (pair_status == "resource_course")[pair]
    out["status"] = status
    out["in_course"] = in_course
    return out


def _distinct_pairs(code: np.ndarray, wk: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """The distinct (dream_code, wk) pairs of the rows (first-seen order) and each row's pair: the
    status is decided once per pair (a job centre has ~10⁵ rows, ~10³ pairs)."""
    ci, codes = pd.factorize(code)
    wi, wks = pd.factorize(wk)
    width = max(len(wks), 1)
    pair, keys = pd.factorize(ci.astype(np.int64) * width + wi)
    return pair, pd.DataFrame({"dream_code": np.asarray(codes, np.int64)[keys // width],
                               "wk": np.asarray(wks, np.int64)[keys % width]})


def _lab_flags(lab_type: pd.Series) -> np.ndarray:
    """LAB weeks: ``lab_type`` present and not ``"none"``, decided once per distinct value."""
    codes, uniques = pd.factorize(lab_type)
    return np.append(np.asarray([u != "none" for u in uniques], bool), False)[codes]


def _person_week_order(pid: np.ndarray, wk: np.ndarray) -> np.ndarray | None:
    """The stable sort of rows by person and week (as pandas' mergesort), or ``None`` when the rows
    are already in that order (staged weeks are; the sort is then skipped)."""
    if len(pid) < 2 or bool(np.all((pid[1:] > pid[:-1]) | ((pid[1:] == pid[:-1]) & (wk[1:] >= wk[:-1])))):
        return None
    return np.lexsort((wk, pid))


def _in_course(weeks: pd.DataFrame) -> np.ndarray:
    if "in_course" in weeks.columns:
        return weeks["in_course"].to_numpy(dtype=bool, na_value=False)
    if "status" in weeks.columns:
        return (weeks["status"] == "resource_course").to_numpy(bool)
    raise InputError([Problem("weeks", "in_course", "column missing (pass in_course or status; "
                              "see bipdask.prepare.spells.with_course_status)", len(weeks))])


def _course_panel(weeks: pd.DataFrame, last: int) -> pd.DataFrame:
    """Course weeks up to week ordinal ``last``, sorted by person and week, with run markers
    (``follows``) and each row's position in ``weeks`` (``row``)."""
    keep = _in_course(weeks)
    wk = week_ordinal(weeks["week"]) if len(weeks) else np.array([], np.int64)
    lab = _lab_flags(weeks["lab_type"])
    keep &= wk <= last
    pid, w = weeks["person_id"].to_numpy(np.int64)[keep], wk[keep]
    order = _person_week_order(pid, w)
    rows = np.flatnonzero(keep)  # position in ``weeks``
    if order is not None:
        rows, pid, w = rows[order], pid[order], w[order]
    c = pd.DataFrame({"person_id": pid, "wk": w, "jobcentre_id": weeks["jobcentre_id"].to_numpy()[rows],
                      "lab": lab[rows], "row": rows})
    n_dup = int(((pid[1:] == pid[:-1]) & (w[1:] == w[:-1])).sum())
    if n_dup:
        raise InputError([Problem("weeks", "person_id, week", "duplicate key rows", n_dup)])
    follows = np.zeros(len(c), bool)  # this row is the week right after the previous row's week
    follows[1:] = (pid[1:] == pid[:-1]) & (w[1:] == w[:-1] + 1)
    c["follows"] = follows
    return c


def _treated(jobcentre_id: np.ndarray, treated: Iterable[int]) -> np.ndarray:
    return np.isin(jobcentre_id, np.asarray(list(treated))).astype(np.int8)


def _spell_frame(c: pd.DataFrame, first: np.ndarray, last: np.ndarray, origin_wk: np.ndarray,
                 event: np.ndarray, duration: np.ndarray, p1: int, treated, E: int) -> pd.DataFrame:
    jc = c["jobcentre_id"].to_numpy()[first]
    reason = np.where(event, "lab", np.where(c["wk"].to_numpy()[last] == p1, "period_end", "course_end"))
    return pd.DataFrame(
        {
            "person_id": c["person_id"].to_numpy()[first],
            "jobcentre_id": jc,
            "start_week": ordinal_monday(origin_wk),
            "duration": duration.astype(np.int64),
            "event": event.astype(np.int8),
            "end_reason": reason.astype(object),
            "D": _treated(jc, treated),
            "E": np.full(len(first), E, np.int8),
        }
    )


# --------------------------------------------------------------------------- gap spells (Table 4)


def gap_spells(
    weeks: pd.DataFrame,
    *,
    period_start: dt.date | str,
    period_end: dt.date | str,
    treated_jobcentre_ids: Iterable[int],
    E: int,
) -> pd.DataFrame:
    """Every gap between two LAB spells begun in the period: the durations of eq. (1), Table 4.

    A gap begins in the first course week without a LAB that follows a LAB spell (the LAB week
    right before it is a course week too) and lasts while consecutive course weeks have no LAB.
    ``duration`` is the number of gap weeks: the gap starts at the beginning of its first week and
    a new LAB starts at the beginning of week ``start_week + duration``, so ``duration`` is the
    elapsed time t of eq. (1), ``h(t|D,E) = α(t)·exp(λD + γE + δDE)``, "t uger efter det netop
    afsluttede" (≥ 1 by construction).

    ``event = 1`` when the week after the last gap week is a LAB course week inside the period.
    ``event = 0`` (right-censored, "højrecensurering") when the gap is still open in the period's
    last week (``end_reason = "period_end"``; duration counts the gap weeks up to that week) or
    when the course ends or is interrupted by a missing or non-course week
    (``end_reason = "course_end"``). Gaps whose first week lies before the period are excluded;
    so are stretches without LAB that do not follow a LAB spell (e.g. a course's first weeks).

    Parameters
    ----------
    weeks : DataFrame
        person_id, week, jobcentre_id, lab_type and in_course (or status); the panel must include
        the week before the period so that a gap starting in the period's first week is seen.
    period_start, period_end : date
        The period (HIR: before period, E = 0; intervention period, E = 1).
    treated_jobcentre_ids : iterable of int
        Participating job centres (D = 1).
    E : int
        1 for the intervention period, 0 for the year before.

    Returns
    -------
    DataFrame
        One row per gap: person_id, jobcentre_id (of the gap's first week), start_week (Monday),
        duration (int64 weeks), event (int8), end_reason ("lab"/"period_end"/"course_end"),
        D (int8), E (int8); sorted by person_id and start_week.
    """
    p0, p1 = period_week_bounds(period_start, period_end)
    c = _course_panel(weeks, p1)
    lab, follows = c["lab"].to_numpy(), c["follows"].to_numpy()
    n = len(c)
    prev_lab = np.zeros(n, bool)
    prev_lab[1:] = lab[:-1]
    gap = ~lab
    run_start = gap & ~(follows & ~prev_lab)  # a no-LAB run starts where the row before is not part of it
    starts = np.flatnonzero(run_start)
    # Last row of each run: the run continues while the next row follows on and has no LAB.
    cont = np.zeros(n, bool)
    cont[:-1] = follows[1:] & gap[1:]
    ends_at = np.flatnonzero(gap & ~cont)
    # starts and ends_at are matched one-to-one in order (runs are disjoint and sorted).
    after_lab = follows[starts] & prev_lab[starts]
    wk = c["wk"].to_numpy()
    inside = (wk[starts] >= p0) & (wk[starts] <= p1)
    sel = after_lab & inside
    first, last = starts[sel], ends_at[sel]
    nxt = np.minimum(last + 1, max(n - 1, 0))
    event = (last + 1 < n) & follows[nxt] if n else np.zeros(0, bool)
    duration = wk[last] - wk[first] + 1
    return _spell_frame(c, first, last, wk[first], event, duration, p1, treated_jobcentre_ids, E)


# --------------------------------------------------------------------------- first LAB (Table 7)


def _new_course_rows(pid: np.ndarray, wk: np.ndarray, p0: int, p1: int, lookback_weeks: int) -> np.ndarray:
    """The rule of a newly granted course (*nytilkendt ressourceforløb*, Table 7), shared by
    :func:`first_lab_spells` and :func:`in_new_course` so both halves of Table 7 describe the
    same courses.

    ``pid``/``wk`` are the course weeks of :func:`_course_panel` (sorted by person and week
    ordinal). A row starts a new course when its week lies in [p0, p1] and the person has no
    earlier course week in the panel, or none in the ``lookback_weeks`` weeks before it.
    """
    n = len(pid)
    new_person = np.ones(n, bool)
    new_person[1:] = pid[1:] != pid[:-1]
    since_prev = np.full(n, np.iinfo(np.int64).max)
    since_prev[1:] = wk[1:] - wk[:-1]
    return (new_person | (since_prev > lookback_weeks)) & (wk >= p0) & (wk <= p1)


def first_lab_spells(
    weeks: pd.DataFrame,
    *,
    period_start: dt.date | str,
    period_end: dt.date | str,
    treated_jobcentre_ids: Iterable[int],
    E: int,
    lookback_weeks: int = 52,
    panel_start: dt.date | str | None = None,
) -> pd.DataFrame:
    """Time from a newly granted course to its first LAB, for courses granted in the period (Table 7).

    A course is *newly granted* ("nytilkendt ressourceforløb") in week w when w is a course week
    inside the period and the person has no course week in the ``lookback_weeks`` weeks before w
    (the panel must reach that far back, else courses running at the period start look new).
    The spell runs over the consecutive course weeks from w. ``duration`` is the number of course
    weeks without a LAB before the first LAB week — the same elapsed-time convention as
    :func:`gap_spells` — so a course whose first week is already a LAB week has ``duration = 0``
    and ``event = 1`` (Stata's ``stset`` drops such zero-length spells from a Weibull fit; the
    caller decides). Censoring as in :func:`gap_spells`: at the period end or at the end or
    interruption of the course.

    Parameters
    ----------
    weeks : DataFrame
        person_id, week, jobcentre_id, lab_type and in_course (or status).
    period_start, period_end, treated_jobcentre_ids, E
        As in :func:`gap_spells`.
    lookback_weeks : int
        Weeks without a course week that make a course week the start of a new course (52).
    panel_start : date, optional
        First week the panel observes (default: the earliest week in ``weeks``). A new course
        whose lookback window reaches before it has ``lookback_complete = False``: an earlier
        course week might be unobserved.

    Returns
    -------
    DataFrame
        One row per new course: person_id, jobcentre_id, start_week (first course week),
        duration, event, end_reason, D, E (as :func:`gap_spells`), lookback_complete (bool).
    """
    p0, p1 = period_week_bounds(period_start, period_end)
    c = _course_panel(weeks, p1)
    pid, wk, lab, follows = (c[k].to_numpy() for k in ("person_id", "wk", "lab", "follows"))
    n = len(c)
    granted = _new_course_rows(pid, wk, p0, p1, lookback_weeks)
    run_id = np.cumsum(~follows) - 1  # runs of consecutive course weeks
    n_runs = int(run_id[-1]) + 1 if n else 0
    run_last = np.flatnonzero(np.append(~follows[1:], True)) if n else np.zeros(0, np.int64)
    first_lab = np.full(n_runs, n, np.int64)
    lab_rows = np.flatnonzero(lab)
    np.minimum.at(first_lab, run_id[lab_rows], lab_rows)
    first = np.flatnonzero(granted)
    r = run_id[first]
    event = first_lab[r] < n
    last = np.where(event, first_lab[r], run_last[r])
    duration = np.where(event, wk[last] - wk[first], wk[last] - wk[first] + 1)
    out = _spell_frame(c, first, last, wk[first], event, duration, p1, treated_jobcentre_ids, E)
    if panel_start is not None:
        observed_from = int(week_ordinal(np.asarray([pd.Timestamp(panel_start).to_datetime64()]))[0])
    else:
        observed_from = int(week_ordinal(weeks["week"]).min()) if len(weeks) else 0
    out["lookback_complete"] = wk[first] - lookback_weeks >= observed_from
    return out


def in_new_course(
    weeks: pd.DataFrame,
    *,
    period_start: dt.date | str,
    period_end: dt.date | str,
    lookback_weeks: int = 52,
) -> np.ndarray:
    """Whether each row of ``weeks`` is a week of a course newly granted in the period (Table 7).

    The weeks behind Table 7's share block ("andelen i virksomhedsrettet indsats eller med
    ordinære timer beregnes som i afsnittet ovenfor", HIR quantitative report): a person's course weeks from the
    first week of their first course granted in the period (the rule of :func:`first_lab_spells`,
    :func:`_new_course_rows`) up to the period end. A course interrupted by fewer than
    ``lookback_weeks`` weeks is, by that rule, the same course, so its later weeks count too (as
    in Table 6, which counts every course week); a week that is not a course week never counts.
    Persons whose course began before the period contribute nothing. Courses whose lookback
    window reaches before the panel's first week are kept, as :func:`bipdask.analyses.hir.durations.table7`
    keeps them.

    Parameters
    ----------
    weeks : DataFrame
        person_id, week, jobcentre_id, lab_type and in_course (or status); the panel must reach
        ``lookback_weeks`` back before the period (else courses running at its start look new).
    period_start, period_end : date
        The period (before: E = 0; intervention: E = 1).
    lookback_weeks : int
        As in :func:`first_lab_spells` (52).

    Returns
    -------
    ndarray of bool, aligned with the rows of ``weeks`` (whatever their order).
    """
    p0, p1 = period_week_bounds(period_start, period_end)
    c = _course_panel(weeks, p1)
    pid, wk = c["person_id"].to_numpy(), c["wk"].to_numpy()
    granted = _new_course_rows(pid, wk, p0, p1, lookback_weeks)
    person = np.cumsum(np.r_[True, pid[1:] != pid[:-1]]) - 1 if len(c) else np.zeros(0, np.int64)
    start = np.full(int(person[-1]) + 1 if len(c) else 0, np.iinfo(np.int64).max)
    np.minimum.at(start, person[granted], wk[granted])
    out = np.zeros(len(weeks), bool)
    out[c["row"].to_numpy()[wk >= start[person]]] = True
    return out


# --------------------------------------------------------------------------- exits (Table 8)


def course_exits(
    weeks: pd.DataFrame,
    dream_codes: pd.DataFrame | None = None,
    *,
    period_start: dt.date | str,
    period_end: dt.date | str,
    treated_jobcentre_ids: Iterable[int],
    E: int,
) -> pd.DataFrame:
    """Weekly exit flags from the course: the outcomes Y_τ of the transition LPM eq. (3), Table 8.

    One row per course week τ inside the period. The destination is read from the week after
    (τ + 1, which may lie after the period end): still a course week → ``"none"``; otherwise its
    DREAM status flex_job, ledighedsydelse or disability_pension; no benefit code and
    ``employed`` → ``"ordinary_employment"`` ("ordinær beskæftigelse": employed without a
    benefit); any other status → ``"other"``; no panel row for τ + 1 → ``"unobserved"`` (the
    flags are 0; drop those rows if the panel is known to end there).

    Parameters
    ----------
    weeks : DataFrame
        person_id, week, jobcentre_id, dream_code, employed and status/in_course — or, when
        ``status`` is absent, ``dream_codes`` to derive it (:func:`with_course_status`).
    dream_codes : DataFrame, optional
        The versioned code list.

    Returns
    -------
    DataFrame
        person_id, jobcentre_id, week, D, E, destination, exit_any and one int8 flag per
        destination: exit_ordinary_employment, exit_flex_job, exit_ledighedsydelse,
        exit_disability_pension.
    """
    if "status" not in weeks.columns:
        if dream_codes is None:
            raise InputError([Problem("weeks", "status", "column missing and no dream_codes given", len(weeks))])
        weeks = with_course_status(weeks, dream_codes)
    p0, p1 = period_week_bounds(period_start, period_end)
    wk = week_ordinal(weeks["week"]) if len(weeks) else np.array([], np.int64)
    pid, w = weeks["person_id"].to_numpy(np.int64), wk
    order = _person_week_order(pid, w)
    if order is None:
        order = slice(None)
    pid, w = pid[order], w[order]
    in_course = _in_course(weeks)[order]
    status = weeks["status"].to_numpy(object)[order]
    no_code = weeks["dream_code"].isna().to_numpy(bool)[order]
    employed = weeks["employed"].fillna(False).to_numpy(bool)[order]
    n = len(pid)
    n_dup = int(((pid[1:] == pid[:-1]) & (w[1:] == w[:-1])).sum())
    if n_dup:
        raise InputError([Problem("weeks", "person_id, week", "duplicate key rows", n_dup)])
    has_next = np.zeros(n, bool)
    has_next[:-1] = (pid[1:] == pid[:-1]) & (w[1:] == w[:-1] + 1)
    nxt = np.minimum(np.arange(n) + 1, max(n - 1, 0))
    rows = in_course & (w >= p0) & (w <= p1)
    # the destination of each kept row as an index into _DESTINATION_LABELS (the first condition
    # that holds, as np.select), decided on the next week's status once per distinct status
    status_codes, statuses = pd.factorize(status[nxt][rows])
    by_status = np.append(np.asarray([_STATUS_DESTINATION.get(s, _OTHER) if isinstance(s, str) else _OTHER
                                      for s in statuses], np.int64), _OTHER)[status_codes]
    nx = nxt[rows]
    code = np.where(~has_next[rows], _UNOBSERVED, np.where(in_course[nx], _NONE, by_status))
    code = np.where((code == _OTHER) & no_code[nx] & employed[nx], _ORDINARY, code)
    dest = _DESTINATION_LABELS[code]
    jc = weeks["jobcentre_id"].to_numpy()[order][rows]
    out = pd.DataFrame(
        {
            "person_id": pid[rows],
            "jobcentre_id": jc,
            "week": ordinal_monday(w[rows]),
            "D": _treated(jc, treated_jobcentre_ids),
            "E": np.full(int(rows.sum()), E, np.int8),
            "destination": dest,
            "exit_any": (code != _NONE) & (code != _UNOBSERVED),
        }
    )
    out["exit_any"] = out["exit_any"].astype(np.int8)
    for d in EXIT_DESTINATIONS:
        out[f"exit_{d}"] = (code == _DESTINATION_CODE[d]).astype(np.int8)
    return out


# course_exits' destinations as codes: np.select's choices in its order, then the default
_DESTINATIONS = ("unobserved", "none", "flex_job", "ledighedsydelse", "disability_pension", "ordinary_employment",
                 "other")
_DESTINATION_LABELS = np.array(_DESTINATIONS, dtype=object)
_DESTINATION_CODE = {d: i for i, d in enumerate(_DESTINATIONS)}
_UNOBSERVED, _NONE, _ORDINARY, _OTHER = (_DESTINATION_CODE[d] for d in ("unobserved", "none", "ordinary_employment",
                                                                         "other"))
_STATUS_DESTINATION = {s: _DESTINATION_CODE[s] for s in ("flex_job", "ledighedsydelse", "disability_pension")}


# --------------------------------------------------------------------------- Cox input (Tables 9–10)


def time_varying_rows(gaps: pd.DataFrame, linked: pd.DataFrame) -> pd.DataFrame:
    """Split gap spells into person-weeks at risk with that week's caseload (Tables 9–10).

    Row k of a spell (k = 0 … duration − 1) is gap week ``start_week + k`` with ``start = k``,
    ``stop = k + 1`` (weeks since the gap began) and the caseload of that week from
    :func:`bipdask.prepare.linkage.link_caseload` (+ :func:`bipdask.prepare.linkage.add_caseload_change`).
    ``event = 1`` only in the last row of a spell that ended in a new LAB, so the rows of a spell
    sum to its duration and carry its one event: the counting-process (start, stop] layout of a
    Cox model with time-varying covariates. Weeks without a row in ``linked`` get caseload 0,
    casemiss 1, caseload_change 0, change_miss 1.

    Parameters
    ----------
    gaps : DataFrame
        Output of :func:`gap_spells`.
    linked : DataFrame
        Output of :func:`bipdask.prepare.linkage.link_caseload`, optionally with caseload_change and
        change_miss from :func:`bipdask.prepare.linkage.add_caseload_change`.

    Returns
    -------
    DataFrame
        person_id, jobcentre_id, spell_start, week, start, stop, event, caseload, casemiss,
        caseload_change, change_miss, D, E.
    """
    g0 = week_ordinal(gaps["start_week"]) if len(gaps) else np.array([], np.int64)
    dur = gaps["duration"].to_numpy(np.int64)
    total = int(dur.sum())
    src = np.repeat(np.arange(len(gaps)), dur)
    k = np.arange(total) - np.repeat(np.cumsum(dur) - dur, dur)
    is_last = k == dur[src] - 1
    rows = pd.DataFrame(
        {
            "person_id": gaps["person_id"].to_numpy(np.int64)[src],
            "jobcentre_id": gaps["jobcentre_id"].to_numpy()[src],
            "spell_start": gaps["start_week"].to_numpy("datetime64[ns]")[src],
            "wk": g0[src] + k,
            "start": k.astype(np.int64),
            "stop": (k + 1).astype(np.int64),
            "event": (is_last & (gaps["event"].to_numpy()[src] == 1)).astype(np.int8),
        }
    )
    cols = ["caseload", "casemiss"] + [c for c in ("caseload_change", "change_miss") if c in linked.columns]
    lk = linked[["person_id", *cols]].copy()
    lk["wk"] = week_ordinal(linked["week"]) if len(linked) else np.array([], np.int64)
    m = rows.merge(lk, on=["person_id", "wk"], how="left", validate="many_to_one")
    found = m["casemiss"].notna().to_numpy()
    out = m.drop(columns="wk")
    out.insert(3, "week", ordinal_monday(m["wk"].to_numpy()))
    out["caseload"] = np.where(found, m["caseload"].to_numpy(np.float64, na_value=0.0), 0.0)
    out["casemiss"] = np.where(found, m["casemiss"].to_numpy(np.float64, na_value=1.0), 1).astype(np.int8)
    change = m["caseload_change"].to_numpy(np.float64, na_value=0.0) if "caseload_change" in m else np.zeros(len(m))
    miss = m["change_miss"].to_numpy(np.float64, na_value=1.0) if "change_miss" in m else np.ones(len(m))
    out["caseload_change"] = np.where(found, change, 0.0)
    out["change_miss"] = np.where(found, miss, 1).astype(np.int8)
    out["D"] = gaps["D"].to_numpy()[src].astype(np.int8)
    out["E"] = gaps["E"].to_numpy()[src].astype(np.int8)
    return out
