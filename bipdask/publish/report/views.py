"""Text views of committed runs for the command line: ``bipdask runs`` and ``bipdask show``.

Both read manifests and the run's public release (``published/estimates.parquet``) only (never
staged data), so what they print obeys the same rule as the report: no cell resting on fewer than
N persons.
"""

from __future__ import annotations

import posixpath

import pandas as pd

from bipdask.errors import InputError, Problem
from bipdask.publish.disclosure import SUPPRESSED
from bipdask.publish.release import RELEASE_FILE, SE_TYPES
from bipdask.publish.report.build import (
    committed_runs,
    describe_run,
    display_kind,
    format_estimate,
    load_published,
    open_committed,
)
from bipdask.publish.report.i18n import count, number
from bipdask.runtime import storage

UNITS = {"pct": "%", "pct2": "%", "pp": "pp", "pp2": "pp", "weeks": "weeks", "weeks_did": "weeks",
         "weeks_did1": "weeks", "pct_did": "%", "belief": "%", "belief_pp": "pp", "r2": "%", "ratio_pct": "%"}
RUN_COLUMNS = ("run_id", "status", "committed_at", "spec", "seed", "B", "estimates", "report")


def incomplete_runs(root: str) -> list[str]:
    """Run folders under ``root`` without a manifest (never committed: invisible to readers)."""
    base = storage.join(storage.normalize_root(root) if "://" not in root else root, storage.RUNS)
    fs, path = storage.filesystem(base)
    try:
        if not fs.exists(path):
            return []
        entries = fs.ls(path, detail=True)
    except Exception as exc:  # noqa: BLE001
        raise storage._infra("listing", base, exc) from None
    folders = sorted(posixpath.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "directory")
    committed = set(storage.list_runs(root))
    return [f for f in folders if f not in committed]


def runs_text(root: str) -> str:
    """The committed runs under ``root`` as an aligned table (newest last), plus incomplete ones."""
    runs = committed_runs(root)
    latest = runs[-1].run_id if runs else None
    try:
        latest = storage.open_run(root).run_id
    except FileNotFoundError:
        pass
    rows = []
    for r in runs:
        d = describe_run(r)
        if r.run_id == latest:
            d["status"] = "committed, latest"
        rows.append([str(d[c]) for c in RUN_COLUMNS])
    rows += [[rid, "incomplete", "", "", "", "", "", ""] for rid in incomplete_runs(root)]
    if not rows:
        return f"no committed runs under {storage._safe(str(root))}"
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(RUN_COLUMNS)]
    line = lambda cells: "  ".join(v.ljust(w) for v, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(RUN_COLUMNS), *(line(r) for r in rows)])


def release_of_run(run: storage.CommittedRun) -> pd.DataFrame:
    """The run's public release as committed (``published/estimates.parquet``, checked against its
    sha256); for a run committed before the Parquet release, the release its estimates make now."""
    if run.has(RELEASE_FILE):
        return run.read_parquet(RELEASE_FILE)
    return load_published(run).release()


def show_text(run_url: str, estimand: str, *, analysis: str | None = None, jobcentre_id: int | None = None,
              period: str | None = None) -> str:
    """One estimate (or every match) with its 95 % CI, SE, p-value and n, disclosure-protected."""
    run = open_committed(run_url)
    est = release_of_run(run)
    hit = est[est["estimand"] == estimand]
    if analysis:
        hit = hit[hit["analysis"] == analysis]
    hit = hit[hit["jobcentre_id"].isna()] if jobcentre_id is None else hit[hit["jobcentre_id"] == jobcentre_id]
    if period:
        hit = hit[hit["period"] == period]
    if hit.empty:
        known = sorted(set(est.loc[est["estimand"] == estimand, "analysis"])) or sorted(set(est["analysis"]))
        what = "analyses with this estimand" if (est["estimand"] == estimand).any() else "analyses in the run"
        raise InputError([Problem("results", "estimand", f"no estimate {estimand!r} for that selection; "
                                  f"{what}: {', '.join(known)}", 0)])
    lines = [f"run {run.run_id}"]
    for r in hit.to_dict("records"):
        where = "all participating" if pd.isna(r["jobcentre_id"]) else f"job centre {int(r['jobcentre_id'])}"
        head = f"{r['analysis']} {r['estimand']} [{where}, {r['period']}]"
        if r[SUPPRESSED]:
            lines.append(f"{head}: suppressed (disclosure control, {r[SUPPRESSED]})")
            continue
        value, ci = format_estimate(r, "en")
        unit = UNITS.get(display_kind(r["analysis"], r["estimand"]), "")
        value = f"{value} {unit}".rstrip()
        raw = f"estimate {r['estimate']:.6g}"
        log_se = r.get("se_type") == SE_TYPES["ratio"]
        who = (f"{count(r['n_caseworkers'])} caseworkers" if not pd.isna(r.get("n_caseworkers"))
               else f"{count(r['n_persons'])} persons")
        parts = [f"{head}: {value}", f"95% CI {ci}" if ci else "", raw,
                 f"SE {r['se']:.4g}{' (log scale)' if log_se else ''}" if not pd.isna(r["se"]) else "",
                 f"p={number(r['p_value'], 3)}" if not pd.isna(r["p_value"]) else "",
                 f"n={who}, {count(r['n_obs'])} obs"]
        lines.append("  ".join(p for p in parts if p))
    return "\n".join(lines)
