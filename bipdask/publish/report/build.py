"""Assemble the report of one committed run: read results → protect → tables/figures → HTML.

Disclosure control comes first: :func:`load_published` returns only protected frames
(:func:`bipdask.publish.disclosure.protect_estimates`, :func:`~bipdask.publish.disclosure.protect_curve`),
and every table and figure is built from them. The estimates are protected against the
previous committed run's release as well (:func:`release_of`: that run's true estimates with
the flags its report published), so that no suppressed cell can be recovered by differencing
the two months (:mod:`bipdask.publish.disclosure`, step 4; ``docs/methods.md#disclosure-control``).

The report reads the run's ``results/`` layer, the manifest, the job centres' names
(``staged/jobcentres.parquet``, a code list), the previous run's ``results/estimates.parquet``
and its release ``published/estimates.parquet``, and the Table 4/6/7 bootstrap replicates
(``replicates/<analysis>.parquet``, :data:`DIFFERENCE_SOURCES`) — only to compute the 95 % CIs of
the Difference columns (:func:`bipdask.publish.report.tables.difference_intervals`), never copied. It never
reads persons, weeks or responses, and writes only under ``report/`` and ``published/``.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from bipdask.analyses.estimates import estimates_frame
from bipdask.analyses.hir.shares import SHARE_ANALYSIS
from bipdask.errors import InputError, Problem
from bipdask.publish.disclosure import (
    DEFAULT_MIN_PERSONS,
    NEW_COURSE_SHARE_ANALYSIS,
    SUPPRESSED,
    protect_curve,
    protect_estimates,
)
from bipdask.publish.release import (
    RELEASE_FILE,
    public_period,
    release_bytes,
    release_frame,
)
from bipdask.publish.report import about, figures, html
from bipdask.publish.report.data_tables import data_tables
from bipdask.publish.report.i18n import LANGUAGES, count, label, number
from bipdask.publish.report.tables import (
    DIFFERENCE_SIDES,
    KINDS,
    SHARE_DIFFERENCE_SIDES,
    Estimates,
    all_tables,
    ci_text,
    difference_intervals,
    share_difference_intervals,
)
from bipdask.runtime import storage
from bipdask.spec import disclosure_floor

ESTIMATES_FILE = "estimates.parquet"
FIGURE_FILES = {"figure1": "figure1_raw_hazard.parquet", "figure2": "figure2_km.parquet"}
LINKAGE_FILE = "linkage_report.parquet"
PUBLISHED_FILE = "published_estimates.csv"  # report/: a CSV copy of the release, for spreadsheets
RELEASE_COPY = "published_estimates.parquet"  # the release's name next to a report written with --out
_DURATION_SIDES = tuple(e for pair in DIFFERENCE_SIDES.values() for e in pair)
_SHARE_SIDES = tuple(SHARE_DIFFERENCE_SIDES.values())
# analysis → (replicate estimands read, interval function) of the Difference columns' CIs
DIFFERENCE_SOURCES = {
    "hir_table4": (_DURATION_SIDES, difference_intervals),
    "hir_table7": (_DURATION_SIDES, difference_intervals),
    SHARE_ANALYSIS: (_SHARE_SIDES, share_difference_intervals),
    NEW_COURSE_SHARE_ANALYSIS: (_SHARE_SIDES, share_difference_intervals),
}
KEY_COLUMNS = ["analysis", "estimand", "jobcentre_id", "period"]


@dataclass(frozen=True, eq=False)
class Published:
    """Everything of one run the report may show — already disclosure-protected."""

    run: storage.CommittedRun
    estimates: pd.DataFrame
    curves: dict[str, pd.DataFrame]
    linkage: dict
    names: dict[int, str]
    min_persons: int
    notes: dict = field(default_factory=dict)
    differences: dict = field(default_factory=dict)  # (analysis, side, jc, period) → 95 % CI of the Difference
    previous_run_id: str | None = None  # the release the estimates were also protected against

    def release(self) -> pd.DataFrame:
        """The public release of these estimates (:func:`bipdask.publish.release.release_frame`)."""
        return release_frame(self.estimates, self.run.run_id)


# --------------------------------------------------------------------------- locating runs


def split_run_url(run_url: str) -> tuple[str, str | None]:
    """``<root>/runs/<id>`` → (root, id); any other URL is a root (its latest run)."""
    url = storage.normalize_root(run_url) if "://" not in str(run_url) or str(run_url).startswith("file://") \
        else str(run_url).rstrip("/")
    parent, last = posixpath.split(url.rstrip("/"))
    if posixpath.basename(parent) == storage.RUNS and last:
        return posixpath.dirname(parent) or "/", last
    return url, None


def open_committed(run_url: str) -> storage.CommittedRun:
    """The committed run a URL names; an ``InputError`` (exit 2) when there is none."""
    root, run_id = split_run_url(run_url)
    try:
        return storage.open_run(root, run_id)
    except FileNotFoundError:
        what = f"run {run_id}" if run_id else "any committed run"
        raise InputError([Problem("runs", "", f"{what} not found under {storage._safe(root)}", 0)]) from None


def run_root(run: storage.CommittedRun) -> str:
    return posixpath.dirname(posixpath.dirname(run.url.rstrip("/")))


def committed_runs(root: str) -> list[storage.CommittedRun]:
    """Every committed run under ``root``, oldest first (by ``committed_at``, then id)."""
    runs = [storage.open_run(root, r) for r in storage.list_runs(root)]
    return sorted(runs, key=lambda r: (str(r.manifest.get("committed_at", "")), r.run_id))


def previous_run(run: storage.CommittedRun) -> storage.CommittedRun | None:
    """The committed run under the same root committed last before ``run`` (or ``None``)."""
    mine = (str(run.manifest.get("committed_at", "")), run.run_id)
    before = [r for r in committed_runs(run_root(run))
              if r.run_id != run.run_id and (str(r.manifest.get("committed_at", "")), r.run_id) < mine]
    return before[-1] if before else None


# --------------------------------------------------------------------------- reading, protected


def min_persons_of(manifest: dict) -> int:
    """The N a committed run is published at: its spec's ``disclosure_min_persons``, never below the
    disclosure floor (:func:`bipdask.spec.disclosure_floor`) — a run committed before the floor was
    enforced, or a manifest edited to 0, is still published at the floor."""
    spec = (manifest.get("spec") or {}).get("content") or {}
    try:
        n = int(spec.get("disclosure_min_persons", DEFAULT_MIN_PERSONS))
    except (TypeError, ValueError):
        n = DEFAULT_MIN_PERSONS
    return max(n, disclosure_floor())


def _results(run: storage.CommittedRun, name: str) -> pd.DataFrame | None:
    rel = f"results/{name}"
    return run.read_parquet(rel) if run.has(rel) else None


def _names(run: storage.CommittedRun) -> dict[int, str]:
    rel = "staged/jobcentres.parquet"
    if not run.has(rel):
        return {}
    jc = run.read_parquet(rel, columns=["jobcentre_id", "name"]).drop_duplicates("jobcentre_id")
    return {int(i): str(n) for i, n in zip(jc["jobcentre_id"], jc["name"])}


def _csv_key(r: dict) -> tuple:
    jc = str(r["jobcentre_id"]).strip()
    return (r["analysis"], r["estimand"], None if jc in ("", "nan", "<NA>") else int(float(jc)), r["period"])


def _frame_key(r: dict) -> tuple:
    jc = r["jobcentre_id"]
    return (r["analysis"], r["estimand"], None if jc is None or pd.isna(jc) else int(jc), r["period"])


def release_of(run: storage.CommittedRun) -> pd.DataFrame | None:
    """What a committed run published: its true estimates (``results/``) with the ``suppressed``
    flags of its release ``published/estimates.parquet`` (of ``report/published_estimates.csv`` for a
    run committed before the Parquet release) — the basis the next run is protected
    against. Rows the report did not list are left out. Without a report the flags are those of
    :func:`~bipdask.publish.disclosure.protect_estimates` on the run alone (at its own N). ``None`` when
    the run has no estimates."""
    raw = _results(run, ESTIMATES_FILE)
    if raw is None:
        return None
    raw = estimates_frame(raw)
    rel = f"report/{PUBLISHED_FILE}"
    if run.has(RELEASE_FILE):
        flags = run.read_parquet(RELEASE_FILE, columns=[*KEY_COLUMNS, SUPPRESSED])
        published = {_frame_key(r): r[SUPPRESSED] for r in flags.to_dict("records")}
    elif run.has(rel):  # runs committed before the Parquet release: the report's CSV
        csv = pd.read_csv(io.BytesIO(run.read_bytes(rel)), dtype=str, keep_default_na=False,
                          usecols=[*KEY_COLUMNS, SUPPRESSED])
        published = {_csv_key(r): r[SUPPRESSED] for r in csv.to_dict("records")}
    else:
        flags = protect_estimates(raw, min_persons_of(run.manifest))[SUPPRESSED].to_numpy()
        return raw.assign(**{SUPPRESSED: flags})
    # the release names a row by its public period (Tables 4/7 before-groups: "before"); older CSVs by the internal one
    keys = [k if k in published else (a, e, j, public_period(a, e, p))
            for k in (_frame_key(r) for r in raw[KEY_COLUMNS].to_dict("records")) for a, e, j, p in [k]]
    keep = [k in published for k in keys]
    out = raw[keep].reset_index(drop=True)
    return out.assign(**{SUPPRESSED: [published[k] for k, kept in zip(keys, keep) if kept]})


def _difference_intervals(run: storage.CommittedRun) -> dict:
    """95 % CIs of the Tables A/4/6/7 Difference columns from the run's replicates (read, not copied)."""
    out: dict = {}
    for analysis, (estimands, intervals) in DIFFERENCE_SOURCES.items():
        rel = f"replicates/{analysis}.parquet"
        if not run.has(rel):
            continue
        reps = run.read_parquet(rel, columns=lambda names, e=estimands: [c for c in names if c.split("|")[0] in e])
        if len(reps.columns):
            out.update(intervals(reps, analysis))
    return out


def load_published(run: storage.CommittedRun, min_persons: int | None = None,
                   previous: storage.CommittedRun | None | Literal["auto"] = "auto") -> Published:
    """Read a committed run's results and apply disclosure control before anything else.

    ``previous``: the run whose release the estimates are protected against — by default the
    run committed last before this one under the same root (:func:`previous_run`); ``None``: the
    run alone.
    """
    n_min = min_persons_of(run.manifest) if min_persons is None else int(min_persons)
    if n_min < disclosure_floor():
        raise InputError([Problem("report", "min_persons", f"must be >= {disclosure_floor()}, the disclosure floor",
                                  None)])
    raw = _results(run, ESTIMATES_FILE)
    if raw is None:
        raise InputError([Problem("results", "estimates", "the run has no estimates.parquet", 0)])
    prev_run = previous_run(run) if isinstance(previous, str) else previous
    basis = release_of(prev_run) if prev_run is not None else None
    protected = protect_estimates(estimates_frame(raw), n_min, previous=basis)
    curves = {}
    for key, name in FIGURE_FILES.items():
        frame = _results(run, name)
        if frame is not None and not frame.empty:
            curves[key] = protect_curve(frame, n_min)
    linkage = {}
    report = _results(run, LINKAGE_FILE)
    if report is not None and (report["level"] == "overall").any():
        row = report[report["level"] == "overall"].iloc[0]
        if int(row["person_weeks"]) >= n_min:
            linkage = {"person_weeks": int(row["person_weeks"]), "linked": int(row["linked"]),
                       "match_rate": float(row["match_rate"])}
    return Published(run, protected, curves, linkage, _names(run), n_min,
                     differences=_difference_intervals(run),
                     previous_run_id=prev_run.run_id if basis is not None else None)


def load_release(run: storage.CommittedRun) -> Published | None:
    """A committed run as its report published it (for the month-over-month view): the
    estimates of :func:`release_of`, masked where flagged."""
    basis = release_of(run)
    if basis is None:
        return None
    n_min = min_persons_of(run.manifest)
    return Published(run, protect_estimates(basis, n_min), {}, {}, _names(run), n_min)


# --------------------------------------------------------------------------- display helpers


def display_kind(analysis: str, estimand: str) -> str:
    """How an estimate is shown (see :data:`bipdask.publish.report.tables.KINDS`)."""
    if analysis in ("hir_table4", "hir_table7"):
        return "pct_did" if estimand == "did_pct" else ("weeks_did" if estimand == "did_weeks" else "weeks")
    if analysis == "share_internship_or_hours":
        return "pp" if estimand == "did" else "pct"
    if analysis == "hir_table8":
        return "pct2" if ":" in estimand else "pp2"
    if analysis == "hir_caseload":
        return "fte_did" if estimand in ("change", "did") else "fte"
    if analysis == "hir_table1_persons":
        return "count"
    if analysis == "hir_table5_lab_mix":
        return "pct"
    if analysis == "hir_table2_background":
        var = estimand.split(":")[0]
        return "pct" if var in ("male", "non_western", "western", "married") else "weeks_mean"
    if analysis == "hir_table3":
        return "belief"
    if analysis in ("hir_table9", "hir_table10"):
        return "hr" if estimand.startswith("hr_") else "coef"
    if analysis == "bip_caseworker_effectiveness":
        return "r2" if estimand.startswith("r2") else ("pp" if estimand == "increase" or "effect" in estimand
                                                       else "pct")
    if analysis == "bip_caseworker_change":
        return "ratio_pct" if estimand == "relative_effect" else ("pp" if estimand == "effect_pp" else "pct")
    return "change"


def format_estimate(row: dict, lang: str = "en") -> tuple[str, str]:
    """(value, CI) of one protected row as the report shows them (value '×' when suppressed)."""
    if row.get(SUPPRESSED):
        return "×", ""
    kind = display_kind(row["analysis"], row["estimand"])
    scale, dec, signed = KINDS[kind]
    value = number(float(row["estimate"]) * scale, dec if kind != "weeks" else 1, lang, sign=signed)
    return value, ci_text(row.get("ci_low"), row.get("ci_high"), kind, lang)


# --------------------------------------------------------------------------- month over month

MOM_ANALYSES = ("share_internship_or_hours", "hir_table4", "hir_table7", NEW_COURSE_SHARE_ANALYSIS, "hir_table8",
                "hir_table3", "hir_table9", "hir_table10", "bip_caseworker_effectiveness", "bip_caseworker_change")


def _mom_rows(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame[frame["analysis"].isin(MOM_ANALYSES) & frame["jobcentre_id"].isna()]
    f = f[~f["estimand"].str.contains("/|:", regex=True) | f["estimand"].isin(["increase"])]
    return f.set_index(["analysis", "estimand", "period"])


def month_over_month(current: Published, previous: Published, lang: str) -> str:
    """The headline estimates of this run and the previous one side by side, with differences."""
    cur, prev = _mom_rows(current.estimates), _mom_rows(previous.estimates)
    rows = []
    for key in cur.index:
        c = cur.loc[key]
        p = prev.loc[key] if key in prev.index else None
        cv, cci = format_estimate({**c.to_dict(), "analysis": key[0], "estimand": key[1]}, lang)
        if p is None:
            pv, pci, diff = "·", "", "·"
        else:
            pv, pci = format_estimate({**p.to_dict(), "analysis": key[0], "estimand": key[1]}, lang)
            if c[SUPPRESSED] or p[SUPPRESSED]:
                diff = "×"
            else:
                scale, dec, _ = KINDS[display_kind(key[0], key[1])]
                diff = number((float(c["estimate"]) - float(p["estimate"])) * scale, max(dec, 1), lang, sign=True)
        rows.append((f"{key[0]} · {key[1]} · {key[2]}", f"{pv} {pci}".strip(), f"{cv} {cci}".strip(), diff))
    ch = current.run.manifest
    ph = previous.run.manifest
    ch_in = (ch.get("inputs") or {}).get("sha256") or {}
    ph_in = (ph.get("inputs") or {}).get("sha256") or {}
    files = sorted(set(ch_in) | set(ph_in))
    changed = sum(ch_in.get(f) != ph_in.get(f) for f in files)
    spec_same = (ch.get("spec") or {}).get("content") == (ph.get("spec") or {}).get("content")
    seed_same = ch.get("seed") == ph.get("seed")
    summary = label("mom_inputs", lang).format(
        k=changed, m=len(files), spec=label("same" if spec_same else "changed", lang),
        seed=label("same", lang) if seed_same else f"{ph.get('seed')} → {ch.get('seed')}")
    head = (f'<p>{html.esc(label("previous", lang))}: <code>{html.esc(previous.run.run_id)}</code> '
            f'({html.esc(ph.get("committed_at", ""))}); {html.esc(summary)}</p>')
    cols = ("", f'{label("previous", lang)}', f'{label("current", lang)}', label("change", lang))
    return head + html.render_plain_table(cols, rows)


# --------------------------------------------------------------------------- the document


def methods_text(estimates: pd.DataFrame, estimation: dict, lang: str) -> str:
    """The report's methods paragraph: which inference each table uses and why (from the run's
    manifest and the rows' ``inference`` column; ``docs/methods.md#inference``)."""
    method = estimation.get("inference", "pairs")
    unit = label("unit_jobcentre" if str(estimation.get("cluster", "")).startswith("jobcentre") else "unit_person",
                 lang)
    if method == "wild":
        g = ""
        if {"inference", "n_clusters"} <= set(estimates.columns):
            n = estimates.loc[estimates["inference"] == "wild", "n_clusters"].dropna()
            g = str(int(n.max())) if len(n) else ""
        return label("methods_wild", lang).format(g=g)
    if method == "analytic":
        return label("methods_analytic", lang).format(unit=unit)
    return label("methods_pairs", lang).format(unit=unit, b=estimation.get("bootstrap_replicates", ""))


def first_week_lab_note(estimation: dict, min_persons: int, lang: str) -> str:
    """Table 7's count of new courses whose first week is already a LAB week (kept in the fit as
    starts within week 1; ``notes["first_week_lab"]`` of ``hir_table7`` in the manifest), as a
    note under the table. A count between 1 and ``min_persons`` − 1 is shown as "fewer than N"
    (disclosure). Empty for runs that did not record it."""
    n = ((estimation.get("notes") or {}).get("hir_table7") or {}).get("first_week_lab")
    if n is None:
        return ""
    shown = count(n, lang) if n == 0 or n >= min_persons else label("fewer_than", lang).format(n=min_persons)
    return f'<p class="note">{html.esc(label("first_week_lab_note", lang).format(n=shown))}</p>'


def bip_method_note(manifest: dict, lang: str) -> str:
    """Which estimator of "the mean effect of the top 25 %" produced BIP Tabel 1 (the spec's
    ``bip.top_quartile``: empirical Bayes, split sample or the report's raw rule; see
    docs/methods.md), and which sample rule, as a note under the table. Empty for runs whose
    spec did not record it."""
    spec = (manifest.get("spec") or {}).get("content") or {}
    method = spec.get("bip_top_quartile")
    if method is None:
        return ""
    text = label("bip_method_note", lang).format(method=label(f"bip_method_{method}", lang),
                                                 rule=label(f"bip_count_{spec.get('bip_count_caseworker', 'citizens')}",
                                                            lang))
    return f'<p class="note">{html.esc(text)}</p>'


RELEASE_HREF = f"../{RELEASE_FILE}"  # the run's release, relative to report/report.html


def build_report(published: Published, lang: str = "en", previous: Published | None = None,
                 release_href: str = RELEASE_HREF, csv_href: str = PUBLISHED_FILE) -> tuple[str, dict[str, bytes]]:
    """The report's HTML and its figures (key → PNG bytes), from protected data only.
    ``release_href``/``csv_href``: the links to the published table, relative to the report."""
    if lang not in LANGUAGES:
        raise InputError([Problem("report", "lang", f"must be one of {', '.join(LANGUAGES)}", 0)])
    est = Estimates(published.estimates, published.min_persons, published.differences)
    tables = {**all_tables(est, lang, published.names), **data_tables(est, lang, published.names)}
    p = published.estimates
    da = lang == "da"
    figs = {
        "figure1": figures.curves(published.curves.get("figure1"), "hazard", lang),
        "figure2": figures.curves(published.curves.get("figure2"), "km", lang),
        "forest6": figures.forest(p, "share_internship_or_hours", "did", ("intervention", "last_3_months"),
                                  published.names, lang, scale=100.0, xlabel="pp",
                                  period_labels={"intervention": label("effect", lang),
                                                 "last_3_months": label("effect_last3", lang)}),
        "forest4": figures.forest(p, "hir_table4", "did_weeks", ("intervention",), published.names, lang,
                                  xlabel="uger" if da else "weeks"),
        "coef": figures.coefficients(p, lang),
        "bip_quartiles": figures.bip_quartiles(p, lang),
        "effect_sizes": figures.effect_sizes(p, lang),
    }
    fig_titles = {"figure1": label("figure1", lang), "figure2": label("figure2", lang),
                  "forest6": label("figure_forest6", lang), "forest4": label("figure_forest4", lang),
                  "coef": label("figure_coef", lang), "bip_quartiles": label("bip_quartiles", lang),
                  "effect_sizes": label("effect_size", lang)}
    none = label("no_estimates", lang)

    def tab(key: str) -> str:
        t = tables.get(key)
        return html.render_table(t, (label("suppressed_note", lang),)) if t else f'<p class="note">{html.esc(none)}</p>'

    def fig(key: str) -> str:
        return html.render_figure(key, fig_titles[key], figs[key], none)

    m = published.run.manifest
    estimation = m.get("estimation") or {}
    n_sup = int((p[SUPPRESSED] != "").sum())
    header = html.render_meta([
        (label("run", lang), published.run.run_id),
        (label("committed", lang), str(m.get("committed_at", ""))),
        (label("spec", lang), f'{(m.get("spec") or {}).get("name", "")} ({(m.get("spec") or {}).get("source", "")})'),
        (label("seed", lang), str(m.get("seed", ""))),
        (label("bootstrap", lang), str(estimation.get("bootstrap_replicates", ""))),
        (label("scheme", lang), f'{estimation.get("bootstrap_scheme", "")}, {estimation.get("cluster", "")}'),
        (label("inference", lang), str(estimation.get("inference", "pairs"))),
        (label("code_version", lang), " ".join(str(v) for v in (m.get("code_version") or {}).values() if v)),
    ])
    disclosure = label("disclosure_text", lang).format(n=published.min_persons, k=n_sup, m=len(p))
    if published.previous_run_id:
        disclosure += " " + label("disclosure_previous", lang).format(run=published.previous_run_id)
    header += f'<p class="note">{html.esc(disclosure)}</p>'
    sections = [
        html.Section("summary", label("sec_summary", lang), tab("tableA")),
        html.Section("methods", label("sec_about_methods", lang), about.methods_section(
            p, m, published.min_persons, lang, methods_text(p, estimation, lang))),
        html.Section("data", label("sec_about_data", lang), about.data_section(m, published.names, lang)),
        html.Section("first_stage", label("sec_first_stage", lang), tab("caseload_table")),
        html.Section("descriptives", label("sec_data", lang), tab("table1_persons") + tab("table2_background")
                     + tab("table5_lab_mix")),
        html.Section("belief", label("sec_belief", lang), tab("table3")),
        html.Section("durations", label("weeks_between_lab", lang), fig("figure1") + fig("figure2") + tab("table4")
                     + fig("forest4")),
        html.Section("share", label("share_internship", lang), tab("table6") + fig("forest6")),
        html.Section("new_courses", label("sec_new_courses", lang), tab("table7") + first_week_lab_note(
            estimation, published.min_persons, lang)),
        html.Section("exits", label("sec_exits", lang), tab("table8")),
        html.Section("mediators", label("sec_mediators", lang), tab("table9") + tab("table10") + fig("coef")),
        html.Section("bip", label("sec_bip", lang), tab("bip_table1") + bip_method_note(m, lang) + fig("bip_quartiles")
                     + tab("bip_change")),
        html.Section("bip_progression", label("sec_progression", lang), tab("bip_progression") + fig("effect_sizes")),
    ]
    if published.linkage:
        lk = published.linkage
        text = label("linkage_text", lang).format(linked=count(lk["linked"], lang), pw=count(lk["person_weeks"], lang),
                                                  rate=f'{number(100 * lk["match_rate"], 1, lang)} %')
        sections.append(html.Section("linkage", label("linkage", lang), f"<p>{html.esc(text)}</p>"))
    if previous is not None:
        sections.append(html.Section("mom", label("mom", lang), month_over_month(published, previous, lang)))
    sections.append(html.Section("links", label("sec_links", lang), about.links_section(m, release_href, csv_href,
                                                                                       lang)))
    hashes = (m.get("inputs") or {}).get("sha256") or {}
    sections.append(html.Section("inputs", label("inputs", lang), html.render_hashes(hashes, label("file", lang))))
    title = f'{label("report_title", lang)}: {(m.get("spec") or {}).get("name", "")} · {published.run.run_id}'
    document = html.render_document(title, lang, header, sections, label("contents", lang))
    return document, {k: v for k, v in figs.items() if v is not None}


def report_name(lang: str) -> str:
    return "report.html" if lang == "en" else f"report.{lang}.html"


def write_report(run_url: str, out_dir: str | Path | None = None, lang: str = "en",
                 previous_run_url: str | None = None, *, manifest: dict | None = None) -> Path | str:
    """Write the report of a committed run; returns the HTML's path (or URL on object storage).

    Parameters
    ----------
    run_url : ``<root>/runs/<run_id>`` (or a root: its latest committed run); local path,
        ``file://`` or ``s3://``.
    out_dir : where to write (default ``<run>/report/``).
    lang : ``"en"`` (default) or ``"da"`` (the source reports' Danish terms).
    previous_run_url : the run to compare with in the month-over-month section and to protect
        the estimates against (default: the run committed last before this one under the same
        root, if any).
    manifest : for the flow, which writes the report *before* committing: the manifest it is
        about to commit (``run_url`` must then be ``<root>/runs/<run_id>``); without it the run
        must be committed.

    Writes the release ``<run>/published/estimates.parquet`` (:mod:`bipdask.publish.release`;
    ``published_estimates.parquet`` in ``out_dir`` when given), and ``report.html``
    (``report.da.html`` for Danish), ``figures/<lang>/<key>.png`` and ``published_estimates.csv`` (a
    CSV copy of the release) — all disclosure-protected; no replicates, no microdata.
    """
    if manifest is not None:
        root, run_id = split_run_url(str(run_url))
        if run_id is None:
            raise InputError([Problem("runs", "", "with a manifest, run_url must be <root>/runs/<run_id>", 0)])
        run = storage.CommittedRun(run_id, storage.join(root, storage.RUNS, run_id), dict(manifest))
    else:
        run = open_committed(str(run_url))
    prev_run = open_committed(previous_run_url) if previous_run_url else previous_run(run)
    published = load_published(run, previous=prev_run)
    previous = load_release(prev_run) if prev_run is not None else None
    document, figs = build_report(published, lang, previous,
                                  release_href=RELEASE_HREF if out_dir is None else RELEASE_COPY)
    out = storage.join(run.url, "report") if out_dir is None else (
        str(out_dir) if "://" in str(out_dir) else storage.normalize_root(out_dir))
    release = published.release()
    files = {**{f"figures/{lang}/{key}.png": png for key, png in figs.items()},
             PUBLISHED_FILE: release.to_csv(index=False).encode("utf-8"),
             report_name(lang): document.encode("utf-8")}
    target = storage.join(out, report_name(lang))
    parquet = release_bytes(published.estimates, run.run_id)
    # the release: published/estimates.parquet of the run (hashed by the commit like every file);
    # with --out, next to the report
    release_url = storage.join(run.url, RELEASE_FILE) if out_dir is None else storage.join(out, RELEASE_COPY)
    if out_dir is None and manifest is None and run.hashes is not None:
        # a committed run's report/ and published/ are part of it: never rewritten
        _check_unchanged(run, {**{f"report/{rel}": data for rel, data in files.items()}, RELEASE_FILE: parquet})
        return Path(target) if not storage.is_remote(target) else target
    storage.write_bytes(parquet, release_url)
    for rel, data in files.items():
        storage.write_bytes(data, storage.join(out, rel))
    return Path(target) if not storage.is_remote(target) else target


def _check_unchanged(run: storage.CommittedRun, files: dict[str, bytes]) -> None:
    """The report of a committed run, made again into its own ``report/``: nothing is written;
    when it would differ from what the run committed (another ``--previous``, another code
    version, another language never committed) it is an :class:`InputError` pointing to ``--out``.
    ``files``: run-relative path → bytes."""
    hashes = run.hashes or {}
    changed = [rel for rel, data in files.items() if hashes.get(rel) != hashlib.sha256(data).hexdigest()]
    if changed:
        raise InputError([Problem("report", "", "a committed run's report/ cannot be rewritten", None,
                                  f"{changed[0]} would change; write the report elsewhere with --out FOLDER")])


def describe_run(run: storage.CommittedRun) -> dict:
    """One line of ``bipdask runs``: id, status, date, spec, seed, B, estimates, report."""
    m = run.manifest
    est = (m.get("estimation") or {})
    has_report = run.has("report/report.html")
    return {"run_id": run.run_id, "status": "committed", "committed_at": str(m.get("committed_at", "")),
            "spec": (m.get("spec") or {}).get("name", ""), "seed": m.get("seed", ""),
            "B": est.get("bootstrap_replicates", ""), "estimates": (m.get("row_counts") or {}).get("estimates", ""),
            "report": "yes" if has_report else "no"}

