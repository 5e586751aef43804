"""The report's tables, built from disclosure-protected tidy estimates only.

Each builder reproduces one published table's layout (the HIR quantitative report, Metrica
2019: Tables A, 3, 4, 6, 7, 8, 9, 10; the BIP caseworker report's Tabel 1, the BIP progression
report's Tabel 1 and the BIP slides' caseworker change; ``docs/methods.md``) and returns a
:class:`Table` of formatted :class:`Cell` s — estimate, 95 % bootstrap CI and persons — or
``None`` when the run holds no rows of that analysis.

Units: shares are stored as fractions and shown in per cent, effects on shares in percentage
points; expected durations in weeks, shown as ">52" above 52 weeks (and the DiD as ">0"/"<0"
then), as Table 4 of the report does.

The "Difference" columns (intervention − year before) carry a 95 % CI where the run makes one
derivable: for the expected durations of Tables A/4/7 and the share means of Tables A/6, the
percentile interval of the difference of the two cells' bootstrap replicates, which come from the
same resampled persons (:func:`difference_intervals`, :func:`share_difference_intervals`). The
exit shares of Table 8 have analytic per-cell SEs only; the same persons are in both periods, so
the two cells are correlated and their own intervals give no interval for the difference: "—",
with a note (also for a run computed without the share bootstrap).
Table 3's difference is its own estimate (post − pre, bootstrapped), shown with its CI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bipdask.inference.pairs import replicate_summary
from bipdask.publish.disclosure import (
    NEW_COURSE_SHARE_ANALYSIS,
    SUPPRESSED,
    assert_protected,
)
from bipdask.publish.report.i18n import count, label, number

WEEKS_CAP = 52.0
SUPPRESSED_MARK = "×"
MISSING_MARK = "·"
NO_CI_MARK = "—"
NEW_COURSE_SHARE = NEW_COURSE_SHARE_ANALYSIS  # Table 7's share block (flows: estimate_new_course_share)
DIFFERENCE_SIDES = {"participating": ("participating_before", "participating_intervention"),
                    "other": ("other_before", "other_intervention"),
                    "rmst52_participating": ("rmst52_participating_before", "rmst52_participating_intervention"),
                    "rmst52_other": ("rmst52_other_before", "rmst52_other_intervention")}
SIGNIFICANCE = 0.05

# kind → (scale, decimals, signed)
KINDS: dict[str, tuple[float, int, bool]] = {
    "weeks": (1.0, 0, False), "weeks_did": (1.0, 0, True), "pct": (100.0, 1, False), "pp": (100.0, 1, True),
    "pct2": (100.0, 2, False), "pp2": (100.0, 2, True), "belief": (1.0, 1, False), "belief_pp": (1.0, 1, True),
    "weeks_did1": (1.0, 1, True), "hr": (1.0, 4, False), "coef": (1.0, 4, True), "change": (1.0, 3, True),
    "r2": (100.0, 1, False),
    "ratio_pct": (100.0, 1, True), "pct_did": (1.0, 1, True), "weeks1": (1.0, 1, True), "hr3": (1.0, 3, False),
    "fte": (1.0, 1, False), "fte_did": (1.0, 1, True), "count": (1.0, 0, False), "years": (1.0, 1, False),
    "weeks_mean": (1.0, 1, False),
}


@dataclass(frozen=True)
class Cell:
    """One formatted table cell: ``text`` (estimate), ``ci``, ``n`` and whether to embolden."""

    text: str = ""
    ci: str = ""
    n: str = ""
    bold: bool = False
    status: str = ""  # "" | "suppressed" | "missing"


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...] = ()
    heading: bool = False
    total: bool = False


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


class Estimates:
    """Lookup over the protected tidy estimates: ``get(analysis, estimand, jobcentre_id, period)``.

    ``differences`` maps (analysis, side, jobcentre_id or None, period) to the 95 % CI of that
    side's intervention − before difference (:func:`difference_intervals`).
    """

    def __init__(self, protected: pd.DataFrame, min_persons: int,
                 differences: Mapping[tuple, tuple[float, float]] | None = None):
        assert_protected(protected, min_persons)
        self.frame = protected
        self.differences = dict(differences or {})
        self._index: dict[tuple, dict] = {}
        for r in protected.to_dict("records"):
            jc = r["jobcentre_id"]
            self._index[(r["analysis"], r["estimand"], None if pd.isna(jc) else int(jc), r["period"])] = r

    def get(self, analysis: str, estimand: str, jobcentre_id: int | None = None, period: str = "intervention"
            ) -> dict | None:
        return self._index.get((analysis, estimand, jobcentre_id, period))

    def difference_ci(self, analysis: str, side: str, jobcentre_id: int | None = None,
                      period: str = "intervention") -> tuple[float, float] | None:
        return self.differences.get((analysis, side, jobcentre_id, period))

    def has(self, analysis: str) -> bool:
        return bool((self.frame["analysis"] == analysis).any())

    def jobcentres(self, analysis: str, names: Mapping[int, str] | None = None) -> list[int]:
        """The job centres with rows in ``analysis``, by name (as the report lists them), then id."""
        jc = self.frame.loc[self.frame["analysis"] == analysis, "jobcentre_id"].dropna()
        return sorted({int(j) for j in jc}, key=lambda j: ((names or {}).get(j, ""), j))


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _value(x: float, kind: str, lang: str) -> str:
    scale, dec, signed = KINDS[kind]
    if kind == "weeks" and x > WEEKS_CAP:
        return f">{int(WEEKS_CAP)}"
    return number(x * scale, dec, lang, sign=signed)


def ci_text(lo, hi, kind: str, lang: str) -> str:
    if _missing(lo) or _missing(hi):
        return ""
    sep = "; " if lang == "da" else ", "
    return f"[{_value(lo, kind, lang)}{sep}{_value(hi, kind, lang)}]"


def cell(row: dict | None, kind: str, lang: str, *, significance: bool = False, show_p: bool = False) -> Cell:
    """Format one estimate: value, CI, persons; bold if ``significance`` and p < 0.05."""
    if row is None:
        return Cell(MISSING_MARK, status="missing")
    if row.get(SUPPRESSED):
        return Cell(SUPPRESSED_MARK, status="suppressed")
    est = row["estimate"]
    if _missing(est):
        return Cell(MISSING_MARK, status="missing")
    p = row.get("p_value")
    ci = ci_text(row.get("ci_low"), row.get("ci_high"), kind, lang)
    if show_p and not _missing(p):
        ci = f"{ci} p={number(p, 3, lang)}" if ci else f"p={number(p, 3, lang)}"
    n = "" if _missing(row.get("n_persons")) else f"n={count(row['n_persons'], lang)}"
    bold = bool(significance and not _missing(p) and p < SIGNIFICANCE)
    return Cell(_value(float(est), kind, lang), ci, n, bold)


def difference(before: dict | None, after: dict | None, kind: str, lang: str,
               interval: tuple[float, float] | None = None) -> Cell:
    """after − before of two published cells, with ``interval`` (its 95 % CI) or "—" without one.

    The difference of two published cells reveals nothing new; a suppressed side makes it "×".
    Above the 52-week cap only its sign is shown, without a CI (as the DiD there).
    """
    if before is None or after is None:
        return Cell(MISSING_MARK, status="missing")
    if before.get(SUPPRESSED) or after.get(SUPPRESSED):
        return Cell(SUPPRESSED_MARK, status="suppressed")
    b, a = float(before["estimate"]), float(after["estimate"])
    ci = NO_CI_MARK if interval is None else ci_text(interval[0], interval[1], _diff_kind(kind), lang)
    if kind == "weeks":
        if a > WEEKS_CAP or b > WEEKS_CAP:
            return Cell(">0" if a - b >= 0 else "<0")
        return Cell(number(a - b, 0, lang, sign=True), ci)
    scale, dec, _ = KINDS[kind]
    return Cell(number((a - b) * scale, dec, lang, sign=True), ci)


def _diff_kind(kind: str) -> str:
    """The display kind of a difference of two ``kind`` cells (signed)."""
    return {"weeks": "weeks_did", "pct": "pp", "pct2": "pp2", "weeks1": "weeks_did1", "fte": "fte_did"}.get(kind, kind)


def difference_intervals(replicates: pd.DataFrame, analysis: str, alpha: float = 0.05
                         ) -> dict[tuple, tuple[float, float]]:
    """95 % percentile CIs of intervention − before for Tables A/4/7 from the bootstrap replicates.

    Parameters
    ----------
    replicates : the analysis' replicates (``replicates/<analysis>.parquet``): one row per
        replicate, columns ``"<estimand>|<jobcentre_id or all>|<period>"`` (expected durations in
        weeks, :func:`bipdask.analyses.hir.durations.did_replicates`). Both sides of a difference are computed
        from the same replicate draw, so the difference of the columns is the replicate of the
        difference.
    analysis : ``"hir_table4"`` or ``"hir_table7"``.

    Returns
    -------
    (analysis, side, jobcentre_id or None, period) → (low, high) in weeks, for each side of
    :data:`DIFFERENCE_SIDES` with both columns and at least two finite replicates (failed
    replicates are NaN and left out, as in the cells' own CIs).
    """
    cols = {}
    for c in replicates.columns:
        parts = str(c).split("|")
        if len(parts) == 3:
            cols[(parts[0], parts[1], parts[2])] = c
    out: dict[tuple, tuple[float, float]] = {}
    for (estimand, jc, period), col in cols.items():
        for side, (before, after) in DIFFERENCE_SIDES.items():
            if estimand != before or (after, jc, period) not in cols:
                continue
            interval = _difference_interval(replicates, cols[(after, jc, period)], col, alpha)
            if interval is not None:
                out[(analysis, side, None if jc == "all" else int(jc), period)] = interval
    return out


def _difference_interval(replicates: pd.DataFrame, after: str, before: str, alpha: float
                         ) -> tuple[float, float] | None:
    """Percentile interval of the replicate differences ``after − before`` (the same draws on
    both sides) by the rule for failed replicates (:func:`bipdask.inference.pairs.replicate_summary`:
    they count as extreme; above 1 % of them, or with fewer than two successes, None)."""
    d = replicates[after].to_numpy(dtype=float) - replicates[before].to_numpy(dtype=float)
    if np.isfinite(d).sum() < 2:
        return None
    s = replicate_summary(d[:, None], np.array([np.nan]), alpha).iloc[0]
    if not (np.isfinite(s["ci_low"]) and np.isfinite(s["ci_high"])):
        return None
    return float(s["ci_low"]), float(s["ci_high"])


SHARE_DIFFERENCE_SIDES = {"participating": "mean_participating", "other": "mean_others"}


def share_difference_intervals(replicates: pd.DataFrame, analysis: str, window: str = "intervention",
                               alpha: float = 0.05) -> dict[tuple, tuple[float, float]]:
    """95 % percentile CIs of the share's ``window`` − before difference (Tables A and 6) from the
    person-bootstrap replicates of the cell means (``replicates/<analysis>.parquet``, columns
    ``"mean_participating|<jc or all>|<period>"``, :mod:`bipdask.analyses.hir.shares`); keyed
    like :func:`difference_intervals` (period = ``window``)."""
    out: dict[tuple, tuple[float, float]] = {}
    for c in replicates.columns:
        parts = str(c).split("|")
        if len(parts) != 3 or parts[2] != "before":
            continue
        for side, estimand in SHARE_DIFFERENCE_SIDES.items():
            after = f"{estimand}|{parts[1]}|{window}"
            if parts[0] != estimand or after not in replicates:
                continue
            interval = _difference_interval(replicates, after, c, alpha)
            if interval is not None:
                out[(analysis, side, None if parts[1] == "all" else int(parts[1]), window)] = interval
    return out


def _notes(rows: list[Row], *notes: str, lang: str) -> tuple[str, ...]:
    """The notes of a table with a Difference column (the third): where its CIs come from, and
    why some have none ("—")."""
    cis = {r.cells[2].ci for r in rows if len(r.cells) > 2 and not r.cells[2].status}
    if cis - {"", NO_CI_MARK}:
        notes = (*notes, label("difference_ci", lang))
    if NO_CI_MARK in cis:
        notes = (*notes, label("difference_no_ci", lang))
    return tuple(notes)


def _did_cell(did: dict | None, groups: list[dict | None], lang: str, kind: str = "weeks_did") -> Cell:
    """Table 4's effect column: the DiD in weeks, or its sign when a participating value > 52."""
    c = cell(did, kind, lang, significance=True)
    if c.status or did is None:
        return c
    capped = any(g is not None and not g.get(SUPPRESSED) and float(g["estimate"]) > WEEKS_CAP for g in groups)
    if capped:
        return Cell(">0" if float(did["estimate"]) >= 0 else "<0", "", c.n, c.bold)
    return c


def _name(names: Mapping[int, str], jc: int) -> str:
    return names.get(jc, f"{jc}")


# --------------------------------------------------------------------------- HIR


def _period_columns(lang: str, *extra: str) -> tuple[str, ...]:
    return (label("before", lang), label("intervention", lang), label("difference", lang), *extra)


def _duration_rows(est: Estimates, analysis: str, jc: int | None, row_label: str, lang: str,
                   total: bool = False, with_others: bool = True, did_kind: str = "weeks_did") -> list[Row]:
    g = {k: est.get(analysis, k, jc) for k in ("participating_before", "participating_intervention",
                                               "other_before", "other_intervention")}
    did = est.get(analysis, "did_weeks", jc)
    rows = [Row(row_label, (cell(g["participating_before"], "weeks", lang),
                            cell(g["participating_intervention"], "weeks", lang),
                            difference(g["participating_before"], g["participating_intervention"], "weeks", lang,
                                       est.difference_ci(analysis, "participating", jc)),
                            _did_cell(did, [g["participating_before"], g["participating_intervention"]], lang,
                                      did_kind)),
                total=total)]
    if with_others:
        rows.append(Row(label("others", lang), (cell(g["other_before"], "weeks", lang),
                                                cell(g["other_intervention"], "weeks", lang),
                                                difference(g["other_before"], g["other_intervention"], "weeks", lang,
                                                           est.difference_ci(analysis, "other", jc)),
                                                Cell()), total=total))
    return rows


def _restricted_rows(est: Estimates, analysis: str, jc: int | None, lang: str) -> list[Row]:
    """The estimands the 56-week window identifies, under a Tables A/4/7 block: the restricted
    mean over the first 52 weeks (whole weeks) per group and its DiD, and the hazard ratio
    exp(δ). No rows when the run has none (runs before these estimands existed)."""
    hr = est.get(analysis, "hazard_ratio", jc)
    if hr is None and est.get(analysis, "rmst52_did_weeks", jc) is None:
        return []
    rows = [Row(label("rmst52", lang), heading=True)]
    for side, side_label, effect in (("participating", "rmst52_participating", True),
                                     ("other", "rmst52_others", False)):
        b, i = (est.get(analysis, f"rmst52_{side}_{p}", jc) for p in ("before", "intervention"))
        rows.append(Row(label(side_label, lang), (
            cell(b, "weeks", lang), cell(i, "weeks", lang),
            difference(b, i, "weeks1", lang, est.difference_ci(analysis, f"rmst52_{side}", jc)),
            cell(est.get(analysis, "rmst52_did_weeks", jc), "weeks_did1", lang, significance=True) if effect
            else Cell())))
    rows.append(Row(label("hazard_ratio_de", lang), (Cell(), Cell(), Cell(),
                                                     cell(hr, "hr3", lang, significance=True))))
    return rows


def _share_rows(est: Estimates, jc: int | None, row_label: str, lang: str, last3: bool, total: bool = False,
                analysis: str = "share_internship_or_hours") -> Row:
    a = analysis
    b, i = est.get(a, "mean_participating", jc, "before"), est.get(a, "mean_participating", jc, "intervention")
    cells = [cell(b, "pct", lang), cell(i, "pct", lang),
             difference(b, i, "pct", lang, est.difference_ci(a, "participating", jc)),
             cell(est.get(a, "did", jc, "intervention"), "pp", lang, significance=True)]
    if last3:
        cells.append(cell(est.get(a, "did", jc, "last_3_months"), "pp", lang, significance=True))
    return Row(row_label, tuple(cells), total=total)


def _others_share_row(est: Estimates, lang: str, n_cols: int, row_label: str, total: bool = True,
                      analysis: str = "share_internship_or_hours") -> Row:
    b, i = est.get(analysis, "mean_others", None, "before"), est.get(analysis, "mean_others", None, "intervention")
    return Row(row_label, (cell(b, "pct", lang), cell(i, "pct", lang),
                           difference(b, i, "pct", lang, est.difference_ci(analysis, "other", None)),
                           *([Cell()] * (n_cols - 3))), total=total)


def table_a(est: Estimates, lang: str) -> Table | None:
    """Table A: expected weeks between LAB interventions and the share, all job centres."""
    if not (est.has("hir_table4") or est.has("share_internship_or_hours")):
        return None
    rows: list[Row] = []
    if est.has("hir_table4"):
        rows.append(Row(label("weeks_between_lab", lang), heading=True))
        rows += _duration_rows(est, "hir_table4", None, label("participating", lang), lang, did_kind="weeks_did1")
        rows.append(Row(label("effect_pct", lang), (Cell(), Cell(), Cell(),
                                                    cell(est.get("hir_table4", "did_pct"), "pct_did", lang,
                                                         significance=True))))
        rows += _restricted_rows(est, "hir_table4", None, lang)
    if est.has("share_internship_or_hours"):
        rows.append(Row(label("share_internship", lang), heading=True))
        whole = label("whole_period", lang)
        rows.append(_share_rows(est, None, f"{label('participating', lang)}, {whole}", lang, last3=False))
        rows.append(_others_share_row(est, lang, 4, f"{label('others_short', lang)}, {whole}", total=False))
        rows.append(Row(label("effect_last3_pp", lang), (Cell(), Cell(), Cell(), cell(
            est.get("share_internship_or_hours", "did", None, "last_3_months"), "pp", lang, significance=True))))
    return Table("tableA", label("tableA", lang), _period_columns(lang, label("effect", lang)), tuple(rows),
                 _notes(rows, label("how_to_read", lang), lang=lang))


def table3(est: Estimates, lang: str) -> Table | None:
    if not est.has("hir_table3"):
        return None
    rows = [Row(label(f"belief_{b}", lang), (cell(est.get("hir_table3", b, None, "pre"), "belief", lang),
                                             cell(est.get("hir_table3", b, None, "post"), "belief", lang),
                                             cell(est.get("hir_table3", b, None, "difference"), "belief_pp", lang,
                                                  significance=True)))
            for b in ("internship_3m", "ordinary_hours_1y", "job_2y")]
    cols = (label("belief_pre", lang), label("belief_post", lang), label("belief_effect", lang))
    return Table("table3", label("table3", lang), cols, tuple(rows), (label("how_to_read", lang),))


def duration_table(est: Estimates, analysis: str, lang: str, names: Mapping[int, str], *, per_jobcentre: bool
                   ) -> Table | None:
    """Table 4 (gaps between LAB interventions) or Table 7 (new courses: time to first LAB, and
    the share in company internship or with ordinary hours when the run estimated it)."""
    if not est.has(analysis):
        return None
    rows: list[Row] = []
    notes = [label("how_to_read", lang), label("table4_note", lang)]
    if analysis == "hir_table7":
        rows.append(Row(label("time_to_first_lab", lang), heading=True))
    if per_jobcentre:
        for jc in est.jobcentres(analysis, names):
            rows += _duration_rows(est, analysis, jc, _name(names, jc), lang, with_others=False)
    rows += _duration_rows(est, analysis, None, label("total_participating", lang), lang, total=True)
    restricted = _restricted_rows(est, analysis, None, lang)
    rows += restricted
    if restricted:
        notes.append(label("rmst52_note", lang))
    if analysis == "hir_table7":
        rows.append(Row(label("share_internship", lang), heading=True))
        if est.has(NEW_COURSE_SHARE):
            rows.append(_share_rows(est, None, label("participating", lang), lang, last3=False, total=True,
                                    analysis=NEW_COURSE_SHARE))
            rows.append(_others_share_row(est, lang, 4, label("others", lang), analysis=NEW_COURSE_SHARE))
        else:
            rows.append(Row(label("participating", lang), (Cell(MISSING_MARK, status="missing"),) * 4))
            notes.append(label("table7_share_missing", lang))
    key = "table4" if analysis == "hir_table4" else "table7"
    return Table(key, label(key, lang), _period_columns(lang, label("effect", lang)), tuple(rows),
                 _notes(rows, *notes, lang=lang))


def table6(est: Estimates, lang: str, names: Mapping[int, str]) -> Table | None:
    a = "share_internship_or_hours"
    if not est.has(a):
        return None
    rows = [_share_rows(est, jc, _name(names, jc), lang, last3=True) for jc in est.jobcentres(a, names)]
    rows.append(_share_rows(est, None, label("total_participating", lang), lang, last3=True, total=True))
    rows.append(_others_share_row(est, lang, 5, label("others", lang)))
    cols = _period_columns(lang, label("effect", lang), label("effect_last3", lang))
    return Table("table6", label("table6", lang), cols, tuple(rows),
                 _notes(rows, label("how_to_read", lang), lang=lang))


EXIT_DESTINATIONS = ("ordinary_employment", "flex_job", "ledighedsydelse", "disability_pension")


def table8(est: Estimates, lang: str) -> Table | None:
    """Table 8: per destination the share of persons exiting in each period (the report's
    percentages) and the DiD of those shares; the weekly exit rate's DiD (eq. 3) beside it as a
    secondary effect column. A run without the persons rows shows the weekly rates only."""
    a = "hir_table8"
    if not est.has(a):
        return None
    persons = any(est.get(a, f"{d}:persons_did") is not None for d in EXIT_DESTINATIONS)
    rows: list[Row] = []
    for dest in EXIT_DESTINATIONS:
        rows.append(Row(label(dest, lang), heading=True))
        for side, side_label in (("participating", "participating"), ("others", "others")):
            first = side == "participating"
            if persons:
                b = est.get(a, f"{dest}:persons_{side}", None, "before")
                i = est.get(a, f"{dest}:persons_{side}", None, "intervention")
                effect = cell(est.get(a, f"{dest}:persons_did"), "pp", lang, significance=True) if first else Cell()
                weekly = (cell(est.get(a, dest, None, "intervention"), "pp2", lang, significance=True)
                          if first else Cell())
                rows.append(Row(label(side_label, lang), (cell(b, "pct", lang), cell(i, "pct", lang),
                                                          difference(b, i, "pct", lang), effect, weekly)))
                continue
            b = est.get(a, f"{dest}:mean_{side}", None, "before")
            i = est.get(a, f"{dest}:mean_{side}", None, "intervention")
            effect = cell(est.get(a, dest, None, "intervention"), "pp2", lang, significance=True) if first else Cell()
            rows.append(Row(label(side_label, lang), (cell(b, "pct2", lang), cell(i, "pct2", lang),
                                                      difference(b, i, "pct2", lang), effect)))
    columns = _period_columns(lang, label("effect", lang))
    notes = [label("how_to_read", lang)]
    if persons:
        columns = (*columns, label("effect_weekly_exit", lang))
        notes.append(label("table8_note", lang))
    return Table("table8", label("table8", lang), columns, tuple(rows), _notes(rows, *notes, lang=lang))


def table9(est: Estimates, lang: str) -> Table | None:
    a = "hir_table9"
    if not est.has(a):
        return None
    rows = (Row(label("lab_hazard", lang), (cell(est.get(a, "hr_caseload"), "hr", lang, significance=True, show_p=True),
                                            cell(est.get(a, "hr_caseload_change"), "hr", lang, significance=True,
                                                 show_p=True))),
            Row(label("share_coef", lang), (cell(est.get(a, "caseload"), "coef", lang, significance=True, show_p=True),
                                            cell(est.get(a, "caseload_change"), "coef", lang, significance=True,
                                                 show_p=True))))
    cols = (label("effect_of_caseload", lang), label("effect_of_caseload_change", lang))
    return Table("table9", label("table9", lang), cols, rows, (label("table9_note", lang), label("how_to_read", lang)))


BELIEFS = ("internship_3m", "ordinary_hours_1y", "job_2y")


def table10(est: Estimates, lang: str) -> Table | None:
    a = "hir_table10"
    if not est.has(a):
        return None
    rows = (Row(label("lab_hazard", lang), tuple(cell(est.get(a, f"hr_belief_{b}"), "hr", lang, significance=True,
                                                      show_p=True) for b in BELIEFS)),
            Row(label("share_coef", lang), tuple(cell(est.get(a, b), "coef", lang, significance=True, show_p=True)
                                                 for b in BELIEFS)))
    cols = (label("internship", lang), label("ordinary_hours", lang), label("flexjob_job", lang))
    return Table("table10", label("table10", lang), cols, rows, (label("how_to_read", lang),))


# --------------------------------------------------------------------------- BIP


def bip_table1(est: Estimates, lang: str) -> Table | None:
    a = "bip_caseworker_effectiveness"
    if not est.has(a):
        return None
    rows = [Row(label(f"bip_{k}", lang), (cell(est.get(a, e, None, "all"), "pct", lang, significance=(k == "increase"),
                                               show_p=(k == "increase")),))
            for k, e in (("actual", "actual"), ("counterfactual", "counterfactual_top_quartile"),
                         ("increase", "increase"))]
    r0, r1 = est.get(a, "r2_without_fe", None, "all"), est.get(a, "r2_with_fe", None, "all")
    if r0 is not None and r1 is not None:
        c0, c1 = cell(r0, "r2", lang), cell(r1, "r2", lang)
        rows.append(Row(label("bip_r2", lang), (Cell(f"{c0.text} / {c1.text}", n=c1.n,
                                                     status=c0.status or c1.status),)))
    return Table("bip_table1", label("bip_table1", lang), (label("share_pct", lang),), tuple(rows),
                 (label("how_to_read", lang),))


def bip_change(est: Estimates, lang: str) -> Table | None:
    a = "bip_caseworker_change"
    if not est.has(a):
        return None
    spec = (("effect_pp", "pp"), ("relative_effect", "ratio_pct"), ("rate_changed", "pct"),
            ("rate_changed_without_change", "pct"), ("rate_unchanged", "pct"))
    rows = tuple(Row(label(k, lang), (cell(est.get(a, k, None, "all"), kind, lang,
                                           significance=k in ("effect_pp", "relative_effect")),)) for k, kind in spec)
    return Table("bip_change", label("bip_change", lang), (label("estimate", lang),), rows,
                 (label("how_to_read", lang),))


def bip_progression(est: Estimates, lang: str) -> Table | None:
    a = "bip_progression"
    if not est.has(a):
        return None
    names = sorted({e.split("/", 1)[1] for e in est.frame.loc[est.frame["analysis"] == a, "estimand"]
                    if e.startswith("mean_change/")}, key=_indicator_order)
    rows = tuple(Row(label(n, lang) if n.endswith("_avg") else n.upper(),
                     (cell(est.get(a, f"mean_change/{n}", None, "all"), "change", lang, significance=True),))
                 for n in names)
    return Table("bip_progression", label("bip_progression", lang), (label("mean_change", lang),), rows,
                 (label("how_to_read", lang),))


def _indicator_order(name: str) -> tuple:
    if name.endswith("_avg"):
        return (0 if name.startswith("citizen") else 2, 0)
    return (1 if name.startswith("b") else 3, int("".join(ch for ch in name if ch.isdigit()) or 0))


def all_tables(est: Estimates, lang: str, names: Mapping[int, str]) -> dict[str, Table | None]:
    """Every table of the report, by key, in the report's order."""
    return {
        "tableA": table_a(est, lang),
        "table3": table3(est, lang),
        "table4": duration_table(est, "hir_table4", lang, names, per_jobcentre=True),
        "table6": table6(est, lang, names),
        "table7": duration_table(est, "hir_table7", lang, names, per_jobcentre=False),
        "table8": table8(est, lang),
        "table9": table9(est, lang),
        "table10": table10(est, lang),
        "bip_table1": bip_table1(est, lang),
        "bip_change": bip_change(est, lang),
        "bip_progression": bip_progression(est, lang),
    }
