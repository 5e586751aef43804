"""What a committed run shows in the Prefect UI besides its log: a table artifact of the
headline estimates (national rows, as published: disclosure control applied) with their
confidence intervals and inference method, and link artifacts to the report and the
published estimates.

Published rows only (:func:`bipdask.publish.report.build.load_published`), never the internal
``results/``: the UI is shown to more people than the statisticians. URLs carry no user-info.
Creating an artifact never fails a committed run: a problem is logged as a warning.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from bipdask.publish.report.build import PUBLISHED_FILE
from bipdask.runtime import storage

HEADLINE_KEY = "bipdask-headline-estimates"
REPORT_KEY = "bipdask-report"
PUBLISHED_KEY = "bipdask-published-estimates"
HEADLINE_COLUMNS = ("analysis", "estimand", "period", "estimate", "ci_low", "ci_high", "p_value", "inference",
                    "cluster_level", "n_clusters", "n_replicates")


def headline_rows(published: pd.DataFrame) -> list[dict[str, Any]]:
    """The national rows (no job centre) of the published estimates, for a table artifact:
    estimate, CI, p-value and how they were inferred; NaN (suppressed or withheld) as ``None``."""
    if published is None or published.empty:
        return []
    national = published[published["jobcentre_id"].isna()]
    national = national.sort_values(["analysis", "estimand", "period"], kind="stable")
    rows = []
    for record in national.reindex(columns=list(HEADLINE_COLUMNS)).to_dict("records"):
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else
                         round(v, 6) if isinstance(v, float) else
                         int(v) if hasattr(v, "item") and float(v).is_integer() else v)
                     for k, v in record.items()})
    return rows


def publish_run_artifacts(root: str, run_id: str) -> list[str]:
    """Create the committed run's artifacts in the current flow run; returns their keys."""
    from bipdask.publish.report.build import load_published

    committed = storage.open_run(root, run_id)
    return create_artifacts(committed.url, run_id, (committed.manifest.get("outputs") or {}).get("report", []),
                            load_published(committed).estimates)


def _link_base(run_url: str) -> str:
    """The run's URL as a link: ``file://`` for a local folder, the object-store URL without any
    user-info part otherwise."""
    if storage.is_remote(run_url):
        return storage._safe(run_url)
    return Path(run_url.removeprefix("file://")).resolve().as_uri()


def create_artifacts(run_url: str, run_id: str, report_paths: list[str], published: pd.DataFrame) -> list[str]:
    """The table artifact of ``published``'s headline rows and the two link artifacts."""
    from prefect.artifacts import create_link_artifact, create_table_artifact

    keys = []
    rows = headline_rows(published)
    create_table_artifact(rows, key=HEADLINE_KEY,
                          description=f"Run {run_id}: national estimates as published (disclosure control applied), "
                                      "with confidence intervals and inference method")
    keys.append(HEADLINE_KEY)
    base = _link_base(run_url)
    html = [p for p in report_paths if p.endswith("report.html")] or list(report_paths)[:1]
    if html:
        create_link_artifact(storage.join(base, html[0]), link_text=f"report of run {run_id}", key=REPORT_KEY,
                             description="the disclosure-protected HTML report (English; report.da.html: Danish)")
        keys.append(REPORT_KEY)
    create_link_artifact(storage.join(base, "report", PUBLISHED_FILE),
                         link_text=f"published estimates of run {run_id}", key=PUBLISHED_KEY,
                         description="the estimates as the report published them (CSV)")
    keys.append(PUBLISHED_KEY)
    return keys
