"""Disclosure control for published results: no cell rests on fewer than N persons.

The rules in brief: ``docs/methods.md#disclosure-control``.

Every number a report, a CLI line or an exported table shows goes through
:func:`protect_estimates` (tidy estimates) or :func:`protect_curve` (Figures 1–2) first:

1. **Primary suppression.** A cell whose person count is below ``min_persons`` (the spec's
   ``disclosure_min_persons``, 5 by default and never below that floor, which a spec cannot
   lower (``docs/spec.md#the-disclosure-floor``) — Danmarks Statistik's rule for register
   microdata, *diskretionering*) has its values and counts set to missing and is flagged
   ``suppressed = "primary"``. The person count of a cell is ``min(n_persons, n_obs)``: rows
   whose ``n_persons`` counts the whole sample (BIP quartiles, activity combinations) still
   rest on at most ``n_obs`` responses; an activity combination's share rests on
   ``share × n_obs`` responses.
2. **Secondary (complementary) suppression**, to a fixpoint, over the relations that hold
   between the cells of one run (:func:`relations`):

   - *derived*: a DiD / difference / ratio is a function of its input cells (HIR eq. 1–3 D×E
     cells, Table 3 pre/post, BIP counterfactual). If any input is suppressed the derived cell
     is suppressed too (else the input is solved back from it); if the derived cell is
     suppressed while all inputs are published, its smallest input is suppressed.
   - *additive*: per-job-centre cells add up to the "all participating job centres" cell
     (person-weeks and outcome sums of the Table 6 means, spell counts of Tables 4/7, the
     persons, background means and LAB shares of Tables 1, 2, 5, the first-stage caseload, whose
     all-centres value is the mean of the centres'), the LAB types' shares to 1, BIP
     quartile outcome rates to the overall rate, activity-combination shares to 1. While the
     suppressed parts of such a group number fewer than two or rest together on fewer than N
     persons, the smallest published part is suppressed as well — so subtracting the
     published parts from the total reveals only an aggregate of at least N persons. When no
     part is left to suppress, the total is.

   Flags ``"secondary"``. Counts (``n_persons``, ``n_obs``) of suppressed cells are masked
   too: a count below N is itself a small cell.
3. **Order statistics** (:func:`safe_order_statistics`): minimum, maximum and median are
   reported as the mean of the N most extreme / central values, never one person's value.
4. **Across monthly runs** (``protect_estimates(..., previous=...)``). The rule: no suppressed
   cell may be recovered from totals, from other tables of the run, or from the previous
   month's run. The attacker holds both releases and may assume
   that a cell whose counts did not change did not change at all. Each cell is compared with the
   same cell (same analysis, estimand, job centre, period) of the previous run's *release* — its
   true counts and the flags its report published (:func:`compare_releases`):

   - *new* (not in the previous release) or *changed by at least N persons*: no constraint;
     the difference of two releases then describes at least N persons.
   - *changed by fewer than N persons* (``0 ≤ |Δ persons| < N`` while ``n_persons`` or
     ``n_obs`` differ; persons as in step 1): suppressed, flag ``"previous"``. Published in
     both runs, ``(y_now − y_before) / (n_obs_now − n_obs_before)`` would be the mean of the few
     persons (or weeks) that entered or left the cell; and a cell suppressed before that
     re-appeared almost unchanged would approximately reveal last month's suppressed value.
   - *unchanged counts, suppressed before*: stays suppressed (``"previous"``). Publishing it
     now would publish last month's suppressed value and solve last month's totals. This keeps
     the suppression pattern stable from month to month.
   - *unchanged counts, published before*: its value is known to the attacker. It may be
     published again (nothing new), and it can never be a complementary cell: while step 2
     runs, such a cell counts as published even when it is suppressed now, so every relation
     must have its unknowns (0 or ≥ 2, aggregating ≥ N persons) among cells the previous
     release did not show.

   - *the month-over-month difference of a relation*: subtracting last month's equation of a
     total (or DiD) from this month's cancels the unchanged cells; if exactly one unknown is
     left — a changed cell hidden then or now — a changed or new published cell of the relation
     is suppressed (:func:`_settle_across`), e.g. a job centre whose small cell grew past N
     while its complements stayed unchanged would otherwise reveal last month's small cell.

   Step 2 runs to a fixpoint over both views — the run alone (every suppressed cell unknown) and
   the two runs together (previously published, unchanged cells known) — then over the
   differences of the relations, until nothing changes. The result is protected within the run
   (:func:`assert_protected`, idempotent without ``previous``) and against differencing with
   the previous release (tests/test_disclosure.py attacks both releases with exact linear
   algebra). Limits: the rule sees counts only, so a correction that leaves both ``n_persons``
   and ``n_obs`` unchanged (one outcome recoded) goes undetected; protection is against exact
   recovery, not against narrowed bounds; and each release is protected against the one before
   it, not against older ones.

All functions are pure (frames in, frames out); nothing here reads or writes storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bipdask.analyses.hir.descriptives import (
    BACKGROUND_ANALYSIS,
    LAB_MIX_ANALYSIS,
    PERSONS_ANALYSIS,
)
from bipdask.analyses.hir.first_stage import FIRST_STAGE_ANALYSIS
from bipdask.analyses.hir.shares import (
    SHARE_ANALYSIS,  # the analysis name Table 6 rows carry
)
from bipdask.spec import DISCLOSURE_FLOOR

__all__ = [
    "DEFAULT_MIN_PERSONS",
    "PREVIOUS",
    "PRIMARY",
    "SECONDARY",
    "SUPPRESSED",
    "Relation",
    "assert_protected",
    "cell_persons",
    "cell_key",
    "compare_releases",
    "protect_curve",
    "protect_estimates",
    "relations",
    "safe_order_statistics",
]

DEFAULT_MIN_PERSONS = DISCLOSURE_FLOOR  # the spec's default N is the floor a spec cannot go below
SUPPRESSED = "suppressed"
PRIMARY = "primary"
SECONDARY = "secondary"
PREVIOUS = "previous"  # suppressed because of the previous run's release (step 4)
# replicate_failure_share too: a small cell's resamples draw it empty about e^−n of the time,
# so its failure share would tell how many persons a suppressed cell has
VALUE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value", "replicate_failure_share")
COUNT_COLUMNS = ("n_persons", "n_obs")
ALL = -1  # jobcentre_id of the "all participating job centres" rows in keys

Key = tuple[str, str, int, str]  # (analysis, estimand, jobcentre_id or ALL, period)

DURATION_GROUPS = ("participating_before", "participating_intervention", "other_before", "other_intervention")
NEW_COURSE_SHARE_ANALYSIS = "share_internship_or_hours_new_courses"  # Table 7's share block, same layout
SHARE_ANALYSES = (SHARE_ANALYSIS, NEW_COURSE_SHARE_ANALYSIS)
DESCRIPTIVE_ANALYSES = (PERSONS_ANALYSIS, BACKGROUND_ANALYSIS, LAB_MIX_ANALYSIS)


@dataclass(frozen=True)
class Relation:
    """A known relation between published cells.

    ``kind="derived"``: ``target`` is a function of ``parts``. ``kind="additive"``: the parts
    add up to ``target`` (``None`` = a known constant such as shares summing to 1).
    """

    kind: Literal["derived", "additive"]
    target: Key | None
    parts: tuple[Key, ...]


def cell_key(row: pd.Series | dict) -> Key:
    """The key of a tidy row: (analysis, estimand, jobcentre_id or -1, period)."""
    jc = row["jobcentre_id"]
    return (str(row["analysis"]), str(row["estimand"]), ALL if jc is None or pd.isna(jc) else int(jc),
            str(row["period"]))


def cell_persons(frame: pd.DataFrame) -> pd.Series:
    """How many persons each row rests on, at most: ``min(n_persons, n_obs)``.

    Activity-combination shares (``combination_share/…``) rest on ``share × n_obs`` responses.
    """
    n_persons = pd.to_numeric(frame["n_persons"], errors="coerce").astype(float)
    n_obs = pd.to_numeric(frame["n_obs"], errors="coerce").astype(float)
    n = np.fmin(n_persons.to_numpy(), n_obs.to_numpy())
    combo = frame["estimand"].astype(str).str.startswith("combination_share/").to_numpy()
    est = pd.to_numeric(frame["estimate"], errors="coerce").to_numpy(dtype=float)
    n = np.where(combo, np.floor(est * n_obs.to_numpy() + 1e-9), n)
    return pd.Series(np.nan_to_num(n, nan=0.0), index=frame.index)


# --------------------------------------------------------------------------- relations


def relations(frame: pd.DataFrame) -> list[Relation]:
    """Every derived and additive relation among the rows of one run's tidy estimates.

    Only relations whose target and parts are all present in ``frame`` are returned (a part
    absent from the frame is not published, so it cannot be used to solve for another).
    """
    keys = {cell_key(r) for r in frame[["analysis", "estimand", "jobcentre_id", "period"]].to_dict("records")}
    out: list[Relation] = []

    def add(kind: str, target: Key | None, parts: Iterable[Key]) -> None:
        parts = tuple(parts)
        if (target is None or target in keys) and parts and all(p in keys for p in parts):
            out.append(Relation(kind, target, parts))  # type: ignore[arg-type]

    by_analysis: dict[str, list[Key]] = {}
    for k in sorted(keys):
        by_analysis.setdefault(k[0], []).append(k)

    for analysis, ks in by_analysis.items():
        jcs = sorted({k[2] for k in ks})
        if analysis in SHARE_ANALYSES:
            windows = sorted({k[3] for k in ks if k[1] == "did"})
            for jc in jcs:
                for w in windows:
                    add("derived", (analysis, "did", jc, w),
                        [(analysis, "mean_participating", jc, "before"), (analysis, "mean_participating", jc, w),
                         (analysis, "mean_others", ALL, "before"), (analysis, "mean_others", ALL, w)])
            for period in sorted({k[3] for k in ks}):
                parts = [k for k in ks if k[1] == "mean_participating" and k[3] == period and k[2] != ALL]
                add("additive", (analysis, "mean_participating", ALL, period), parts)
        elif analysis in ("hir_table4", "hir_table7"):
            for period in sorted({k[3] for k in ks}):
                for jc in jcs:
                    groups = [(analysis, g, jc, period) for g in DURATION_GROUPS]
                    for derived in ("did_weeks", "did_pct"):
                        add("derived", (analysis, derived, jc, period), groups)
                    add("derived", (analysis, "rmst52_did_weeks", jc, period),
                        [(analysis, f"rmst52_{g}", jc, period) for g in DURATION_GROUPS])
                for g in ("participating_before", "participating_intervention",
                          "rmst52_participating_before", "rmst52_participating_intervention"):
                    parts = [k for k in ks if k[1] == g and k[3] == period and k[2] != ALL]
                    add("additive", (analysis, g, ALL, period), parts)
        elif analysis in DESCRIPTIVE_ANALYSES:
            # per-centre counts / means / shares add up to (are averaged into) the participating total
            for estimand in sorted({k[1] for k in ks if k[1].endswith("participating")}):
                for period in sorted({k[3] for k in ks}):
                    parts = [k for k in ks if k[1] == estimand and k[3] == period and k[2] != ALL]
                    add("additive", (analysis, estimand, ALL, period), parts)
            if analysis == LAB_MIX_ANALYSIS:  # the LAB types' shares of one group add up to 1
                for jc in jcs:
                    for period in sorted({k[3] for k in ks}):
                        for group in ("participating", "others"):
                            add("additive", None, [k for k in ks if k[2] == jc and k[3] == period
                                                   and k[1].endswith(f":{group}")])
        elif analysis == FIRST_STAGE_ANALYSIS:
            levels = sorted({k[3] for k in ks if k[1] == "caseload_fte"})
            for period in levels:  # the all-centres caseload is the mean of the centres' means
                add("additive", (analysis, "caseload_fte", ALL, period),
                    [k for k in ks if k[1] == "caseload_fte" and k[3] == period and k[2] != ALL])
            add("derived", (analysis, "change", ALL, "intervention"),
                [(analysis, "caseload_fte", ALL, p) for p in ("baseline", "intervention")])
            add("derived", (analysis, "did", ALL, "intervention"),
                [(analysis, e, ALL, p) for e in ("caseload_fte", "caseload_fte_others")
                 for p in ("baseline", "intervention")])
        elif analysis == "hir_table8":
            for k in ks:
                if ":" not in k[1]:
                    dest = k[1]
                    add("derived", k, [(analysis, f"{dest}:{side}", k[2], p)
                                       for side in ("mean_participating", "mean_others")
                                       for p in ("before", "intervention")])
                elif k[1].endswith(":persons_did"):
                    dest = k[1].removesuffix(":persons_did")
                    add("derived", k, [(analysis, f"{dest}:{side}", k[2], p)
                                       for side in ("persons_participating", "persons_others")
                                       for p in ("before", k[3])])
        elif analysis == "hir_table3":
            for k in ks:
                if k[3] == "difference":
                    add("derived", k, [(analysis, k[1], k[2], "pre"), (analysis, k[1], k[2], "post")])
        elif analysis == "bip_caseworker_effectiveness":
            a = analysis
            add("derived", (a, "increase", ALL, "all"),
                [(a, "actual", ALL, "all"), (a, "counterfactual_top_quartile", ALL, "all")])
            add("additive", (a, "actual", ALL, "all"), [k for k in ks if k[1].startswith("outcome_rate/q")])
        elif analysis == "bip_caseworker_change":
            a = analysis
            add("derived", (a, "rate_changed_without_change", ALL, "all"),
                [(a, "rate_changed", ALL, "all"), (a, "effect_pp", ALL, "all")])
            add("derived", (a, "relative_effect", ALL, "all"),
                [(a, "rate_changed", ALL, "all"), (a, "effect_pp", ALL, "all")])
        elif analysis == "bip_progression":
            add("additive", None, [k for k in ks if k[1].startswith("combination_share/")])
    return out


# --------------------------------------------------------------------------- the previous release

NEW = "new"
SAME_PUBLISHED = "same_published"
SAME_SUPPRESSED = "same_suppressed"
SMALL_CHANGE = "small_change"
LARGE_CHANGE = "large_change"
KEY_COLUMNS = ["analysis", "estimand", "jobcentre_id", "period"]


def _counts(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_persons, n_obs, persons the cell rests on) as floats, NaN where a count is missing."""
    n_persons = pd.to_numeric(frame["n_persons"], errors="coerce").astype(float).to_numpy()
    n_obs = pd.to_numeric(frame["n_obs"], errors="coerce").astype(float).to_numpy()
    persons = cell_persons(frame).to_numpy(dtype=float)
    unknown = np.isnan(n_persons) | np.isnan(n_obs)
    persons[unknown] = np.nan
    return n_persons, n_obs, persons


def compare_releases(current: pd.DataFrame, previous: pd.DataFrame,
                     min_persons: int = DEFAULT_MIN_PERSONS) -> pd.Series:
    """How each cell of ``current`` relates to the same cell of the previous release.

    Parameters
    ----------
    current : this run's tidy estimates, with their true counts.
    previous : the previous run's release: its tidy estimates with the ``suppressed`` flags its
        report published. Give the true counts of its suppressed cells where they are known (the
        run's ``results/``); where they are masked, the cell is presumed unchanged.

    Returns
    -------
    Series (index of ``current``) of :data:`NEW`, :data:`SAME_PUBLISHED`,
    :data:`SAME_SUPPRESSED`, :data:`SMALL_CHANGE` (counts differ, by fewer than ``min_persons``
    persons) or :data:`LARGE_CHANGE` — see the module docstring, step 4.
    """
    prev = previous.reset_index(drop=True)
    flags = (prev[SUPPRESSED].fillna("").astype(str) != "").to_numpy() if SUPPRESSED in prev.columns \
        else np.zeros(len(prev), dtype=bool)
    p_persons, p_obs, p_cell = _counts(prev)
    where = {cell_key(r): i for i, r in enumerate(prev[KEY_COLUMNS].to_dict("records"))}
    c_persons, c_obs, c_cell = _counts(current)
    out = []
    for i, r in enumerate(current[KEY_COLUMNS].to_dict("records")):
        j = where.get(cell_key(r))
        if j is None:
            out.append(NEW)
            continue
        unknown = np.isnan(p_cell[j]) or np.isnan(c_cell[i])
        same = unknown or (c_persons[i] == p_persons[j] and c_obs[i] == p_obs[j])
        if same:
            out.append(SAME_SUPPRESSED if flags[j] else SAME_PUBLISHED)
        else:
            out.append(SMALL_CHANGE if abs(c_cell[i] - p_cell[j]) < min_persons else LARGE_CHANGE)
    return pd.Series(out, index=current.index, dtype=object)


# --------------------------------------------------------------------------- suppression


def _settle(rel: Relation, index: dict[Key, int], reason: list[str], n: np.ndarray, known: Sequence[bool],
            avoid: Sequence[bool], min_persons: int) -> bool:
    """Add complementary suppressions until ``rel`` cannot be solved for a hidden cell.

    A cell is *hidden* when suppressed and not in ``known`` (the attacker's knowledge besides
    this run); a *candidate* complement is a published cell not in ``known``: cells in ``avoid``
    (known from the previous release) last, then the smallest first. Returns whether anything
    was suppressed.
    """
    parts = [index[p] for p in rel.parts]
    target = None if rel.target is None else index[rel.target]

    def hidden(i: int) -> bool:
        return bool(reason[i]) and not known[i]

    def candidates(cells: Iterable[int]) -> list[int]:
        return sorted((i for i in cells if not reason[i] and not known[i]), key=lambda i: (avoid[i], n[i], i))

    def hide(i: int) -> bool:
        reason[i] = SECONDARY
        return True

    hidden_parts = [p for p in parts if hidden(p)]
    target_hidden = target is not None and hidden(target)
    free = candidates(parts)
    if rel.kind == "derived":
        if hidden_parts and not target_hidden:
            if target is not None and not reason[target] and not known[target]:
                return hide(target)
            if len(hidden_parts) < 2 and free:  # the target is known: a second unknown among the inputs
                return hide(free[0])
        elif target_hidden and not hidden_parts and free:
            return hide(free[0])
        return False
    if target_hidden:
        return hide(free[0]) if not hidden_parts and free else False
    changed = False
    while hidden_parts and (len(hidden_parts) < 2 or sum(n[p] for p in hidden_parts) < min_persons):
        if free:
            nxt = free.pop(0)
            changed = hide(nxt)
            hidden_parts.append(nxt)
        else:  # no complement left among the parts: the total must go
            if target is not None and not reason[target] and not known[target]:
                changed = hide(target)
            break
    return changed


def _relation_id(rel: Relation) -> tuple:
    return (rel.kind, rel.target if rel.target is not None else ("constant", rel.parts[0][0]))


def _settle_across(rel: Relation, before: Relation, index: dict[Key, int], reason: list[str], n: np.ndarray,
                   known: Sequence[bool], status: Sequence[str], hidden_before: dict[Key, bool]) -> bool:
    """Keep the month-over-month difference of one relation unsolvable.

    Subtracting last month's equation of ``rel`` (``before``) from this month's cancels every
    unchanged cell; what is left relates the changed cells' previous values (unknown where they
    were suppressed then) and current values (unknown where suppressed now). Exactly one unknown
    would be solved, so a changed or new published cell of the relation is suppressed: the cell
    whose previous value is the lone unknown if it is still there, else a derived cell itself,
    else the smallest.
    """
    cells = dict.fromkeys([*([rel.target] if rel.target is not None else []), *rel.parts,
                           *([before.target] if before.target is not None else []), *before.parts])
    then_keys = set(before.parts) | ({before.target} if before.target is not None else set())
    unknown_then, unknown_now, free = [], [], []
    for k in cells:
        i = index.get(k)
        if i is not None and k in then_keys and status[i] in (SAME_PUBLISHED, SAME_SUPPRESSED):
            continue  # the same value in both equations: it cancels
        if k in then_keys and hidden_before.get(k, False):
            unknown_then.append(k)
        if i is not None:
            if reason[i] and not known[i]:
                unknown_now.append(k)
            elif not reason[i] and not known[i]:
                free.append(i)
    if len(unknown_then) + len(unknown_now) != 1 or not free:
        return False
    lone = index.get(unknown_then[0]) if unknown_then else None
    target = None if rel.target is None else index[rel.target]
    if lone in free:
        pick = lone
    elif rel.kind == "derived" and target in free:
        pick = target
    else:
        pick = min(free, key=lambda i: (n[i], i))
    reason[pick] = SECONDARY
    return True


def protect_estimates(frame: pd.DataFrame, min_persons: int = DEFAULT_MIN_PERSONS,
                      previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The tidy estimates with disclosure control applied (see the module docstring).

    Parameters
    ----------
    frame : one run's tidy estimates (:data:`bipdask.analyses.estimates.COLUMNS`).
    min_persons : N, the spec's ``disclosure_min_persons``.
    previous : the previous committed run's release (step 4): its tidy estimates with the true
        counts and the ``suppressed`` flags its report published. ``None``: the run alone.

    Returns a copy with the same rows and order, value columns NaN and count columns
    ``<NA>`` where suppressed, and a ``suppressed`` column: ``""``, ``"primary"``,
    ``"secondary"`` or ``"previous"``. Idempotent: protecting a protected frame changes nothing.
    """
    out = frame.copy().reset_index(drop=True)
    reason = (out[SUPPRESSED].fillna("").astype(str).tolist() if SUPPRESSED in out.columns
              else [""] * len(out))
    n = cell_persons(out).to_numpy()
    n[[bool(r) for r in reason]] = np.inf  # suppressed by an earlier pass: counts masked, already protected
    for i in range(len(out)):
        if not reason[i] and n[i] < min_persons:
            reason[i] = PRIMARY
    known = [False] * len(out)
    status = [NEW] * len(out)
    index = {cell_key(r): i for i, r in enumerate(out[KEY_COLUMNS].to_dict("records"))}
    rels = relations(out)
    pairs: list[tuple[Relation, Relation]] = []
    hidden_before: dict[Key, bool] = {}
    if previous is not None:
        status = compare_releases(out, previous, min_persons).tolist()
        for i, st in enumerate(status):
            if not reason[i] and st in (SAME_SUPPRESSED, SMALL_CHANGE):
                reason[i] = PREVIOUS
        known = [st == SAME_PUBLISHED for st in status]
        prev = previous.reset_index(drop=True)
        flags = prev[SUPPRESSED].fillna("").astype(str) if SUPPRESSED in prev.columns else pd.Series([""] * len(prev))
        hidden_before = {cell_key(r): bool(f) for r, f in zip(prev[KEY_COLUMNS].to_dict("records"), flags)}
        then = {_relation_id(r): r for r in relations(prev)}
        pairs = [(r, then[_relation_id(r)]) for r in rels if _relation_id(r) in then]
    views = [[False] * len(out)] + ([known] if any(known) else [])
    changed = True
    while changed:
        changed = False
        for view in views:
            for rel in rels:
                changed = _settle(rel, index, reason, n, view, known, min_persons) or changed
        if changed:
            continue  # the run settled first, then its difference with the previous release
        for rel, before in pairs:
            if _settle_across(rel, before, index, reason, n, known, status, hidden_before):
                changed = True
                break
    out[SUPPRESSED] = reason
    mask = out[SUPPRESSED] != ""
    for c in VALUE_COLUMNS:
        if c in out.columns:
            out[c] = out[c].astype(float).mask(mask)
    for c in COUNT_COLUMNS:
        if c in out.columns:
            out[c] = out[c].astype("Int64").mask(mask)
    return out


def assert_protected(frame: pd.DataFrame, min_persons: int = DEFAULT_MIN_PERSONS) -> None:
    """Raise ``ValueError`` unless ``frame`` went through :func:`protect_estimates` with at least
    ``min_persons``: every published row rests on ≥ N persons and no relation can be solved."""
    if SUPPRESSED not in frame.columns:
        raise ValueError("estimates were not disclosure-protected (no 'suppressed' column)")
    shown = frame[frame[SUPPRESSED].fillna("") == ""]
    if (cell_persons(shown) < min_persons).any():
        raise ValueError(f"{int((cell_persons(shown) < min_persons).sum())} published rows rest on "
                         f"fewer than {min_persons} persons")
    again = protect_estimates(frame, min_persons)
    if not again[SUPPRESSED].equals(frame[SUPPRESSED].fillna("").reset_index(drop=True)):
        raise ValueError("secondary suppression is incomplete")


def protect_curve(frame: pd.DataFrame, min_persons: int = DEFAULT_MIN_PERSONS, *, group: str = "group",
                  at_risk: str = "n_risk", time: str | None = None) -> pd.DataFrame:
    """Figure data (raw hazard, Kaplan–Meier) cut where fewer than N persons are at risk.

    Each group's curve is kept up to (not including) the first time point with fewer than
    ``min_persons`` at risk: later points would describe the last few persons. Returns the
    kept rows (a copy, original order).
    """
    if frame.empty:
        return frame.copy()
    if time is None:
        time = "week" if "week" in frame.columns else "time"
    keep = np.zeros(len(frame), dtype=bool)
    ordered = frame.reset_index(drop=True)
    for _, idx in ordered.groupby(group, sort=False).groups.items():
        sub = ordered.loc[idx].sort_values(time)
        small = (sub[at_risk].to_numpy(dtype=float) < min_persons)
        stop = int(np.argmax(small)) if small.any() else len(sub)
        keep[sub.index[:stop]] = True
    return ordered[keep].copy()


def safe_order_statistics(values: Sequence[float] | np.ndarray,
                          min_persons: int = DEFAULT_MIN_PERSONS) -> dict[str, float] | None:
    """Count, mean, and min / median / max that single out no one.

    Minimum and maximum are the means of the ``min_persons`` smallest / largest values; the
    median is the mean of the ``min_persons`` values around the middle. ``None`` when fewer
    than ``min_persons`` values (the whole summary would rest on too few persons).
    """
    x = np.sort(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))])
    k = int(min_persons)
    if len(x) < max(k, 1):
        return None
    mid = max(0, min(len(x) - k, (len(x) - k) // 2))
    return {"n": float(len(x)), "mean": float(x.mean()), "min": float(x[:k].mean()),
            "median": float(x[mid:mid + k].mean()), "max": float(x[-k:].mean())}
