"""Disclosure control for published results: no cell rests on fewer than N persons.

Every number a report, a CLI line or an exported table shows goes through
:func:`protect_estimates` (tidy estimates) or :func:`protect_curve` (Figures 1–2) first:

1. **Primary suppression.** A cell whose person count is below ``min_persons`` (the spec's
   ``disclosure_min_persons``, 5 by default — Danmarks Statistik's rule for register
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
     (person-weeks and outcome sums of the Table 6 means, spell counts of Tables 4/7), BIP
     quartile outcome rates to the overall rate, activity-combination shares to 1. While the
     suppressed parts of such a group number fewer than two or rest together on fewer than N
     persons, the smallest published part is suppressed as well — so subtracting the
     published parts from the total reveals only an aggregate of at least N persons.

   Flags ``"secondary"``. Counts (``n_persons``, ``n_obs``) of suppressed cells are masked
   too: a count below N is itself a small cell.
3. **Order statistics** (:func:`safe_order_statistics`): minimum, maximum and median are
   reported as the mean of the N most extreme / central values, never one person's value.

All functions are pure (frames in, frames out); nothing here reads or writes storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_MIN_PERSONS",
    "PRIMARY",
    "SECONDARY",
    "SUPPRESSED",
    "Relation",
    "assert_protected",
    "cell_persons",
    "cell_key",
    "protect_curve",
    "protect_estimates",
    "relations",
    "safe_order_statistics",
]

DEFAULT_MIN_PERSONS = 5
SUPPRESSED = "suppressed"
PRIMARY = "primary"
SECONDARY = "secondary"
VALUE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value")
COUNT_COLUMNS = ("n_persons", "n_obs")
ALL = -1  # jobcentre_id of the "all participating job centres" rows in keys

Key = tuple[str, str, int, str]  # (analysis, estimand, jobcentre_id or ALL, period)

DURATION_GROUPS = ("participating_before", "participating_intervention", "other_before", "other_intervention")
SHARE_ANALYSIS = "share_internship_or_hours"


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
        if analysis == SHARE_ANALYSIS:
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
                for g in ("participating_before", "participating_intervention"):
                    parts = [k for k in ks if k[1] == g and k[3] == period and k[2] != ALL]
                    add("additive", (analysis, g, ALL, period), parts)
        elif analysis == "hir_table8":
            for k in ks:
                if ":" not in k[1]:
                    dest = k[1]
                    add("derived", k, [(analysis, f"{dest}:{side}", k[2], p)
                                       for side in ("mean_participating", "mean_others")
                                       for p in ("before", "intervention")])
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


# --------------------------------------------------------------------------- suppression


def protect_estimates(frame: pd.DataFrame, min_persons: int = DEFAULT_MIN_PERSONS) -> pd.DataFrame:
    """The tidy estimates with disclosure control applied (see the module docstring).

    Returns a copy with the same rows and order, value columns NaN and count columns
    ``<NA>`` where suppressed, and a ``suppressed`` column: ``""``, ``"primary"`` or
    ``"secondary"``. Idempotent: protecting a protected frame changes nothing.
    """
    out = frame.copy().reset_index(drop=True)
    reason = (out[SUPPRESSED].fillna("").astype(str).tolist() if SUPPRESSED in out.columns
              else [""] * len(out))
    n = cell_persons(out).to_numpy()
    n[[bool(r) for r in reason]] = np.inf  # suppressed by an earlier pass: counts masked, already protected
    for i in range(len(out)):
        if not reason[i] and n[i] < min_persons:
            reason[i] = PRIMARY
    index = {cell_key(r): i for i, r in enumerate(out[["analysis", "estimand", "jobcentre_id", "period"]]
                                                   .to_dict("records"))}
    rels = relations(out)
    changed = True
    while changed:
        changed = False
        for rel in rels:
            parts = [index[p] for p in rel.parts]
            target = None if rel.target is None else index[rel.target]
            hidden = [p for p in parts if reason[p]]
            shown = sorted((p for p in parts if not reason[p]), key=lambda p: (n[p], p))
            target_hidden = target is not None and bool(reason[target])
            if rel.kind == "derived":
                if hidden and not target_hidden:
                    reason[target] = SECONDARY
                    changed = True
                elif target_hidden and not hidden and shown:
                    reason[shown[0]] = SECONDARY
                    changed = True
            else:
                if target_hidden:
                    if not hidden and shown:
                        reason[shown[0]] = SECONDARY
                        changed = True
                    continue
                while hidden and shown and (len(hidden) < 2 or sum(n[p] for p in hidden) < min_persons):
                    nxt = shown.pop(0)
                    reason[nxt] = SECONDARY
                    hidden.append(nxt)
                    changed = True
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
