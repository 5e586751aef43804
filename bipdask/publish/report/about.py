"""The report's methods, data and links sections, generated from the run: its manifest (the spec
as run, B, the cluster, row counts, linkage, versions, the Prefect flow run) and its protected
rows (each table's inference, cluster level, clusters and replicates). Only the labels are written
by hand (:mod:`bipdask.publish.report.i18n`), so a changed spec or a changed run changes the text.

No person-level value enters these sections: counts of delivered, staged and quarantined rows per
table, the linkage rate, job-centre names (a code list) and settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bipdask.publish.disclosure import SUPPRESSED
from bipdask.publish.report import html
from bipdask.publish.report.i18n import count, label, number
from bipdask.spec import last_months_of

# analysis → the model label key; the order is the report's
MODELS: tuple[tuple[str, str], ...] = (
    ("hir_caseload", "model_hir_caseload"),
    ("hir_table1_persons", "model_descriptive"),
    ("hir_table2_background", "model_descriptive"),
    ("hir_table5_lab_mix", "model_descriptive"),
    ("hir_table3", "model_hir_table3"),
    ("hir_table4", "model_weibull"),
    ("hir_table7", "model_weibull"),
    ("share_internship_or_hours", "model_cell_did"),
    ("share_internship_or_hours_new_courses", "model_cell_did"),
    ("hir_table8", "model_hir_table8"),
    ("hir_table9", "model_cox"),
    ("hir_table10", "model_cox"),
    ("bip_caseworker_effectiveness", "model_bip_fe"),
    ("bip_caseworker_change", "model_bip_change"),
    ("bip_progression", "model_bip_progression"),
)
INFERENCE_ORDER = ("wild", "randomization", "placebo", "pairs", "analytic", "none")
LEVEL_ORDER = ("jobcentre", "caseworker", "person", "citizen")
PERIODS = ("before", "intervention", "caseload_baseline")
PACKAGES = ("numpy", "pandas", "pyarrow", "scipy", "dask", "distributed", "prefect")


def _spec(manifest: Mapping[str, Any]) -> dict:
    return dict((manifest.get("spec") or {}).get("content") or {})


def _shown(estimates: pd.DataFrame) -> pd.DataFrame:
    """The published rows (suppressed rows carry no counts)."""
    return estimates[estimates[SUPPRESSED] == ""] if SUPPRESSED in estimates.columns else estimates


def _ints(values: pd.Series) -> list[int]:
    return sorted({int(v) for v in pd.to_numeric(values, errors="coerce").dropna()})


def _level(level: object, lang: str) -> str:
    """A cluster level as the report names it (``jobcentre_id`` and ``jobcentre`` alike)."""
    text = str(level).removesuffix("_id")
    return label(f"level_{text}", lang) if text in LEVEL_ORDER else text


def _inference(method: object, lang: str) -> str:
    text = str(method)
    return label(f"inf_{text}", lang) if text in INFERENCE_ORDER else text


def _inference_cells(rows: pd.DataFrame, lang: str) -> tuple[str, str, str]:
    """(inference methods, clusters by level, replicates) of one analysis's published rows."""
    methods = [m for m in INFERENCE_ORDER if "inference" in rows.columns and (rows["inference"] == m).any()]
    clusters = []
    if {"cluster_level", "n_clusters"} <= set(rows.columns):
        for level in [lv for lv in LEVEL_ORDER if (rows["cluster_level"] == lv).any()]:
            ns = _ints(rows.loc[rows["cluster_level"] == level, "n_clusters"])
            clusters.append(f"{_level(level, lang)}: {count(max(ns), lang)}" if ns else _level(level, lang))
    reps = _ints(rows["n_replicates"]) if "n_replicates" in rows.columns else []
    reps = [r for r in reps if r > 0]
    replicates = (count(reps[0], lang) if len(reps) == 1
                  else f"{count(reps[0], lang)}–{count(reps[-1], lang)}" if reps else "—")
    return (", ".join(_inference(m, lang) for m in methods) or "—", "; ".join(clusters) or "—", replicates)


def models_table(estimates: pd.DataFrame, manifest: Mapping[str, Any], lang: str) -> str:
    """One row per table the run estimated: its model, and the inference, clusters and replicates
    its published rows carry."""
    shown = _shown(estimates)
    method = _spec(manifest).get("bip_top_quartile")
    rows = []
    for analysis, key in MODELS:
        mine = shown[shown["analysis"] == analysis]
        if not (estimates["analysis"] == analysis).any():
            continue
        model = label(key, lang)
        if key == "model_bip_fe":
            model = model.format(method=label(f"bip_method_{method}", lang) if method else "—")
        rows.append((label(f"tab_{analysis}", lang), model, *_inference_cells(mine, lang)))
    cols = (label("col_table", lang), label("col_model", lang), label("col_inference", lang),
            label("col_clusters", lang), label("col_replicates", lang))
    return html.render_plain_table(cols, rows, text_columns=3)


def design_clusters(estimates: pd.DataFrame, cluster: str) -> int | None:
    """The number of clusters the design-based tests ran on: the most of any published row at the
    spec's cluster level (``None`` when no row records it)."""
    shown = _shown(estimates)
    if not {"cluster_level", "n_clusters"} <= set(shown.columns):
        return None
    level = str(cluster).removesuffix("_id")
    ns = _ints(shown.loc[shown["cluster_level"] == level, "n_clusters"])
    return max(ns) if ns else None


def suppressed_counts(estimates: pd.DataFrame) -> dict[str, int]:
    flags = estimates[SUPPRESSED] if SUPPRESSED in estimates.columns else pd.Series([], dtype=str)
    return {k: int((flags == k).sum()) for k in ("primary", "secondary", "previous")}


def methods_section(estimates: pd.DataFrame, manifest: Mapping[str, Any], min_persons: int, lang: str,
                    inference_text: str) -> str:
    """The methods section: the settings the run used (the spec as run: inference, cluster level and
    its number of clusters, B, weights, seed, the disclosure rule, the linkage floor, the BIP
    estimator), how the uncertainty is computed (``inference_text``) and the models by table."""
    spec = _spec(manifest)
    estimation = manifest.get("estimation") or {}
    cluster = str(spec.get("cluster") or estimation.get("cluster") or "")
    g = design_clusters(estimates, cluster)
    b = estimation.get("bootstrap_replicates", spec.get("bootstrap_replicates"))
    floor = spec.get("match_rate_floor")
    method = spec.get("bip_top_quartile")
    facts = [
        (label("inference_method", lang), _inference(spec.get("inference_method") or estimation.get("inference")
                                                     or "pairs", lang)),
        (label("cluster_level", lang), _level(cluster, lang) if cluster else "—"),
        (label("n_clusters", lang), count(g, lang) if g is not None else "—"),
        (label("bootstrap_b", lang), count(b, lang) if b is not None else "—"),
        (label("bootstrap_scheme", lang), str(estimation.get("bootstrap_scheme") or spec.get("bootstrap_scheme")
                                              or "—")),
        (label("bootstrap_seed", lang), str(manifest.get("seed", "—"))),
        (label("disclosure_min", lang), count(min_persons, lang)),
        (label("match_rate_floor", lang), f"{number(100 * float(floor), 0, lang)} %" if floor is not None else "—"),
        (label("top_quartile", lang), label(f"bip_method_{method}", lang) if method else "—"),
    ]
    sup = suppressed_counts(estimates)
    rule = label("disclosure_rule_text", lang).format(n=min_persons, **{k: count(v, lang) for k, v in sup.items()})
    return (f'<h3 id="inference_settings">{html.esc(label("inference_settings", lang))}</h3>'
            f"{html.render_meta(facts)}<p>{html.esc(inference_text)}</p>"
            f'<h3 id="disclosure_rule">{html.esc(label("disclosure_rule", lang))}</h3><p>{html.esc(rule)}</p>'
            f'<h3 id="models">{html.esc(label("models", lang))}</h3>{models_table(estimates, manifest, lang)}')


def _date(value: object) -> str:
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        return ""


def period_rows(spec: Mapping[str, Any], week_span: Sequence[str] | None, lang: str) -> list[tuple[str, str, str]]:
    """(label, first day, last day) of the spec's periods, the intervention's last months and the
    delivery's weeks."""
    rows = []
    for key in PERIODS:
        p = spec.get(key)
        if isinstance(p, Mapping) and p.get("start") and p.get("end"):
            rows.append((label(f"period_{key}", lang), _date(p["start"]), _date(p["end"])))
            if key == "intervention" and spec.get("last_months"):
                k = int(spec["last_months"])
                last = last_months_of(dt.date.fromisoformat(_date(p["end"])), k)
                rows.append((label("period_last_months", lang).format(k=k), last.start.isoformat(),
                             last.end.isoformat()))
    if week_span and len(week_span) == 2 and all(week_span):
        rows.append((label("delivery_weeks", lang), _date(week_span[0]), _date(week_span[1])))
    return rows


def participating_names(manifest: Mapping[str, Any], names: Mapping[int, str]) -> list[str]:
    """The participating job centres' names: the run's treated ids named from the delivery's code
    list, else the spec's names."""
    ids = (manifest.get("jobcentres") or {}).get("treated_ids") or []
    if ids and all(int(i) in names for i in ids):
        return sorted(names[int(i)] for i in ids)
    return sorted(str(n) for n in _spec(manifest).get("treated_jobcentres") or [])


def row_count_rows(row_counts: Mapping[str, Any], lang: str) -> list[tuple[str, str, str, str]]:
    rows_in = row_counts.get("input") or {}
    staged = row_counts.get("staged") or {}
    quarantined = row_counts.get("quarantined") or {}
    tables = sorted(set(rows_in) | set(staged) | set(quarantined))
    return [(t, count(rows_in.get(t), lang) or "—", count(staged.get(t), lang) or "—",
             count(quarantined.get(t, 0), lang)) for t in tables]


def version_rows(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    code = manifest.get("code_version") or {}
    rows = [("bipdask", str(code.get("bipdask") or "—"))]
    if code.get("source_sha256"):
        rows.append(("bipdask source sha256", str(code["source_sha256"])))
    if code.get("git_sha"):
        rows.append(("git", str(code["git_sha"])))
    packages = manifest.get("packages") or {}
    rows += [(p, str(packages[p])) for p in PACKAGES if packages.get(p)]
    rows += [(p, str(v)) for p, v in sorted(packages.items()) if p not in PACKAGES and v]
    return rows


def data_section(manifest: Mapping[str, Any], names: Mapping[int, str], lang: str) -> str:
    """The data section: periods with dates, the participating job centres, rows delivered, staged
    and quarantined per table, the linkage rate and the software versions — all from the manifest
    (and the delivery's job-centre code list for the names)."""
    spec = _spec(manifest)
    parts = []
    periods = period_rows(spec, (manifest.get("validation") or {}).get("week_span"), lang)
    if periods:
        cols = ("", label("period_from", lang), label("period_to", lang))
        parts.append(f'<h3 id="periods">{html.esc(label("periods", lang))}</h3>'
                     + html.render_plain_table(cols, periods))
    participating = participating_names(manifest, names)
    jc = manifest.get("jobcentres") or {}
    text = ", ".join(participating) or "—"
    if jc.get("staged"):
        k = len(jc.get("treated_ids") or participating)
        text += " " + label("participating_text", lang).format(k=count(k, lang),
                                                               c=count(int(jc["staged"]) - k, lang))
    if jc.get("treated_names_not_found"):
        text += " " + label("not_found", lang).format(names=", ".join(jc["treated_names_not_found"]))
    parts.append(f'<h3 id="participating">{html.esc(label("participating", lang))}</h3><p>{html.esc(text)}</p>')
    counts = row_count_rows(manifest.get("row_counts") or {}, lang)
    if counts:
        cols = (label("col_table", lang), label("rows_in", lang), label("rows_staged", lang),
                label("rows_quarantined", lang))
        parts.append(f'<h3 id="row_counts">{html.esc(label("row_counts", lang))}</h3>'
                     + html.render_plain_table(cols, counts))
    linkage = manifest.get("linkage") or {}
    if linkage.get("match_rate") is not None:
        floor = linkage.get("floor", spec.get("match_rate_floor"))
        text = label("linkage_rate_text", lang).format(
            rate=f'{number(100 * float(linkage["match_rate"]), 1, lang)} %',
            floor=f"{number(100 * float(floor), 0, lang)} %" if floor is not None else "—")
    elif linkage:
        text = label("linkage_unavailable", lang).format(reason=linkage.get("reason") or "—")
    else:
        text = ""
    if text:
        parts.append(f'<h3 id="linkage_rate">{html.esc(label("linkage_rate", lang))}</h3><p>{html.esc(text)}</p>')
    parts.append(f'<h3 id="versions">{html.esc(label("versions", lang))}</h3>'
                 + html.render_plain_table((label("package", lang), label("version", lang)), version_rows(manifest)))
    return "".join(parts)


def links_section(manifest: Mapping[str, Any], release_href: str, csv_href: str, lang: str) -> str:
    """Links to the published table (relative to the report) and to the run's Prefect flow run
    when the run recorded a Prefect UI (``manifest["prefect"]``, written by the flow)."""
    items: list[tuple[str, str | None, str]] = [
        (label("link_release", lang), release_href, f"({release_href})"),
        (label("link_release_csv", lang), csv_href, f"({csv_href})"),
    ]
    prefect = manifest.get("prefect") or {}
    if prefect.get("flow_run_id"):
        url = prefect.get("flow_run_url")
        note = f'({label("flow_run_id", lang)} {prefect["flow_run_id"]})'
        if not (url and html.safe_href(url)):
            note += " " + label("no_flow_run_link", lang)
        items.append((label("link_flow_run", lang), url, note))
    return html.render_links(items)
