"""The report's data and first-stage tables, from protected rows: HIR main report Tabel 1 (caseload per
full-time caseworker) and HIR quantitative report Tabel 1, 2 and 5 (persons, background, LAB mix).

Same cells and marks as :mod:`bipdask.publish.report.tables`: "×" suppressed, "·" not estimated.
Units: caseloads in cases per 37-hour week (one decimal), persons as counts, shares in per cent,
age in years, history in weeks (``docs/results.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

from bipdask.analyses.hir.descriptives import (
    BACKGROUND_ANALYSIS,
    BACKGROUND_VARIABLES,
    LAB_MIX_ANALYSIS,
    PERSONS_ANALYSIS,
    SHARE_VARIABLES,
)
from bipdask.analyses.hir.first_stage import (
    BASELINE,
    FIRST_STAGE_ANALYSIS,
    INTERVENTION,
    MONITORING_PERIODS,
)
from bipdask.data.contract import LAB_TYPES
from bipdask.publish.report.i18n import label
from bipdask.publish.report.tables import (
    Cell,
    Estimates,
    Row,
    Table,
    _name,
    cell,
    difference,
)

GROUP_COLUMNS = (("participating", "before"), ("participating", "intervention"), ("others", "before"),
                 ("others", "intervention"))


def caseload_table(est: Estimates, lang: str, names: Mapping[int, str]) -> Table | None:
    """HIR main report Tabel 1: mean FTE caseload before and in each monitoring period, the whole
    intervention period and the difference; the change and its DiD against comparison centres."""
    a = FIRST_STAGE_ANALYSIS
    if not est.has(a):
        return None
    periods = [BASELINE, *(p for p in MONITORING_PERIODS if est.frame["period"].eq(p).any()), INTERVENTION]
    columns = (label("caseload_baseline", lang), *(label(p, lang) for p in periods[1:-1]),
               label("intervention", lang), label("difference", lang))

    def level_row(estimand: str, jc: int | None, row_label: str, total: bool) -> Row:
        cells = [cell(est.get(a, estimand, jc, p), "fte", lang) for p in periods]
        cells.append(difference(est.get(a, estimand, jc, BASELINE), est.get(a, estimand, jc, INTERVENTION), "fte",
                                lang))
        return Row(row_label, tuple(cells), total=total)

    rows = [level_row("caseload_fte", None, label("average", lang), True)]
    rows += [level_row("caseload_fte", jc, _name(names, jc), False) for jc in est.jobcentres(a, names)]
    if est.get(a, "caseload_fte_others", None, BASELINE) or est.get(a, "caseload_fte_others", None, INTERVENTION):
        rows.append(level_row("caseload_fte_others", None, label("others", lang), True))
    blank = [Cell()] * (len(columns) - 1)
    for estimand in ("change", "did"):
        row = est.get(a, estimand, None, INTERVENTION)
        if row is not None:
            rows.append(Row(label(f"caseload_{estimand}", lang),
                            (*blank, cell(row, "fte_did", lang, significance=True, show_p=True)), total=True))
    return Table("caseload_table", label("caseload_table", lang), columns, tuple(rows),
                 (label("caseload_note", lang),))


def persons_table(est: Estimates, lang: str, names: Mapping[int, str]) -> Table | None:
    """HIR quantitative report Tabel 1: persons in resource courses per participating job centre,
    in total and in all other job centres, the year before and in the intervention period."""
    a = PERSONS_ANALYSIS
    if not est.has(a):
        return None
    periods = ("before", "intervention")

    def row(estimand: str, jc: int | None, row_label: str, total: bool = False) -> Row:
        return Row(row_label, tuple(_count_cell(est.get(a, estimand, jc, p), lang) for p in periods), total=total)

    rows = [row("persons_participating", jc, _name(names, jc)) for jc in est.jobcentres(a, names)]
    rows.append(row("persons_participating", None, label("total_participating", lang), True))
    rows.append(row("persons_others", None, label("others", lang), True))
    return Table("table1_persons", label("table1_persons", lang), tuple(label(p, lang) for p in periods),
                 tuple(rows), (label("persons_note", lang),))


def _count_cell(row: dict | None, lang: str) -> Cell:
    """A person count: the count itself, no interval and no separate n."""
    c = cell(row, "count", lang)
    return Cell(c.text, status=c.status) if c.status else Cell(c.text)


def _group_columns(lang: str) -> tuple[str, ...]:
    return tuple(label(f"{'other' if g == 'others' else g}_{p}", lang) for g, p in GROUP_COLUMNS)


def background_table(est: Estimates, lang: str) -> Table | None:
    """HIR quantitative report Tabel 2: background by group (participating, other job centres) and period."""
    a = BACKGROUND_ANALYSIS
    if not est.has(a):
        return None
    rows = []
    for var in BACKGROUND_VARIABLES:
        if var == "emp_weeks_6y":
            rows.append(Row(label("history", lang), heading=True))
        kind = "pct" if var in SHARE_VARIABLES else ("years" if var == "age" else "weeks_mean")
        rows.append(Row(label(var, lang), tuple(cell(est.get(a, f"{var}:{g}", None, p), kind, lang)
                                                for g, p in GROUP_COLUMNS)))
    return Table("table2_background", label("table2_background", lang), _group_columns(lang), tuple(rows),
                 (label("table2_note", lang),))


def lab_mix_table(est: Estimates, lang: str) -> Table | None:
    """HIR quantitative report Tabel 5: per cent of resource-course weeks by LAB type, by group and period."""
    a = LAB_MIX_ANALYSIS
    if not est.has(a):
        return None
    rows = tuple(Row(label(f"lab_{t}", lang), tuple(cell(est.get(a, f"{t}:{g}", None, p), "pct", lang)
                                                   for g, p in GROUP_COLUMNS)) for t in LAB_TYPES)
    return Table("table5_lab_mix", label("table5_lab_mix", lang), _group_columns(lang), rows,
                 (label("lab_mix_note", lang),))


def data_tables(est: Estimates, lang: str, names: Mapping[int, str]) -> dict[str, Table | None]:
    """The four tables by key, in the report's order."""
    return {"caseload_table": caseload_table(est, lang, names), "table1_persons": persons_table(est, lang, names),
            "table2_background": background_table(est, lang), "table5_lab_mix": lab_mix_table(est, lang)}
