"""The run manifest (``_manifest.json``): :func:`build_manifest`, a pure function of what the
``evaluate`` flow's tasks returned — no I/O, no clock.

The manifest is committed last (:func:`bipdask.runtime.storage.commit`); its keys are read by
the report (:mod:`bipdask.publish.report`), ``bipdask runs``/``show`` and the tests. The layout
of a run is described in ``docs/architecture.md``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from bipdask.publish.release import RELEASE_FILE
from bipdask.runtime import input_cache, storage
from bipdask.spec import EvaluationSpec
from flows.outputs import ESTIMATES_FILE, ReduceOutput

LINKAGE_COUNTS = ("person_weeks", "matched", "linked", "trimmed", "no_caseworker", "no_caseload_record")
VALIDATION_KEYS = ("contract_version", "rows_in", "rows_out", "quarantined", "problems", "input_hashes",
                   "week_span", "coverage")
SE_NOTES = {
    "pairs": ("pairs cluster bootstrap SE, percentile CI and bootstrap p-value (every analysis; the weekly/wave "
              "means of hir_table8/hir_table3 and bip rows without replicates: analytic)"),
    "wild": ("HIR DiDs at the cluster level: wild cluster restricted bootstrap (linear) or wild score bootstrap "
             "(Weibull, Cox), p-value of no effect and CI by test inversion, se implied by the CI; pooled share "
             "DiD also by randomization inference (did_randomization); per-centre DiDs by placebo intervals; "
             "levels, BIP (citizens) and hir_table3 (caseworkers): pairs bootstrap or analytic. Per row: the "
             "inference, cluster_level, n_clusters and n_replicates columns"),
    "analytic": "cluster-robust analytic SE, Wald CI and p-value",
}


def spec_dict(spec: EvaluationSpec) -> dict:
    """The spec as a JSON-able dict (dates ISO), for the run key and the manifest."""
    return json.loads(storage.canonical_json(dataclasses.asdict(spec)))


def build_manifest(
    *,
    run_id: str,
    run_key: str,
    run_url: str,
    code_version: Mapping[str, Any],
    spec: EvaluationSpec,
    spec_source: str,
    seed: int,
    cluster: str,
    input_dir: str,
    input_hashes: Mapping[str, str],
    validation: Mapping[str, Any],
    model_inputs: Sequence[Mapping[str, Any]],
    jobcentre_ids: Sequence[int],
    treated_ids: Sequence[int],
    treated_names_not_found: Sequence[str],
    linkage: Mapping[str, Any],
    reduced: ReduceOutput,
    timings: Mapping[str, float],
    started_at: dt.datetime,
    committed_at: dt.datetime,
    dask: Mapping[str, Any] | None = None,
    packages: Mapping[str, str] | None = None,
    prefect: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of one run of the ``evaluate`` flow.

    Parameters
    ----------
    run_id, run_key, run_url : the run (``run_url`` = ``<root>/runs/<run_id>``; output URLs under it
        are recorded relative to it).
    code_version, spec, spec_source, seed : what decides the results (``spec_source``: the spec as
        given — a built-in name or a file).
    cluster : the bootstrap's cluster column (``person_id`` or ``jobcentre_id``).
    input_dir, input_hashes : the delivery folder and the sha256 of each file read.
    validation : the ``validate_and_stage`` report (a dict).
    model_inputs : the ``compute_model_inputs`` results, one per job-centre batch.
    jobcentre_ids, treated_ids, treated_names_not_found : the staged job centres, the
        participating ones and the spec's names no job centre matched.
    linkage : the ``check_linkage`` result.
    reduced : the reduce tasks' outputs merged (:func:`flows.outputs.merge_outputs`).
    timings : step → seconds (rounded to ms here).
    started_at, committed_at : timestamps (UTC).
    dask : :func:`flows.cluster.cluster_summary` (workers, bytes moved between workers, their
        memory at the end), or None without a reachable cluster.
    packages : :func:`flows.version.package_versions` (numpy, pandas, pyarrow, dask, prefect, …
        in the flow's process), for the report's data section.
    prefect : :func:`flows.api_server.flow_run_record` (the flow run's id, and its UI link when
        the run reported to a Prefect API with a UI), for the report's links.
    """

    def rel(url: str) -> str:
        return url[len(run_url):].lstrip("/")

    rows = reduced.rows
    # the kinds the map wrote (the per-person rows behind per-unit sums only when a reduce read them)
    kinds = sorted({k for i in model_inputs for k in i["rows"]})
    model_rows = {k: sum(i["rows"].get(k, 0) for i in model_inputs) for k in kinds}
    reused = [j for i in model_inputs for j in i["reused"]]  # per unit: a job centre cut in parts once per part
    recomputed = [j for i in model_inputs for j in i["recomputed"]]
    linkage_counts = {k: linkage[k] for k in LINKAGE_COUNTS if k in linkage}
    return {
        "run_id": run_id,
        "run_key": run_key,
        "flow": "evaluate",
        "code_version": code_version,
        "spec": {"name": spec.name, "source": spec_source, "content": spec_dict(spec)},
        "seed": seed,
        "inputs": {"delivery": str(input_dir), "sha256": input_hashes},
        "validation": {k: validation.get(k) for k in VALIDATION_KEYS},
        "row_counts": {
            "input": validation.get("rows_in", {}),
            "staged": validation.get("rows_out", {}),
            "quarantined": {t: sum(r.values()) for t, r in (validation.get("quarantined") or {}).items()},
            "weeks_read_by_model_inputs": sum(i["weeks_rows"] for i in model_inputs),
            "share_cell_rows": model_rows.get("share_cells"),
            "model_input": model_rows,
            "linkage": linkage_counts,
            "estimates": len(rows),
            "estimates_by_analysis": dict(sorted(collections.Counter(r["analysis"] for r in rows).items())),
            "reduce_outputs": dict(sorted(reduced.counts.items())),
        },
        "linkage": {k: v for k, v in linkage.items() if k not in ("url", "seconds")},
        "estimation": {
            "bootstrap_replicates": spec.bootstrap_replicates, "bootstrap_scheme": spec.bootstrap_scheme,
            "seed": seed, "cluster": cluster, "inference": spec.inference_method,
            "se": SE_NOTES.get(spec.inference_method, SE_NOTES["pairs"]),
            "notes": dict(reduced.notes),
        },
        "jobcentres": {"staged": len(jobcentre_ids), "batches": len(model_inputs),
                       "units": sum(i.get("units", i.get("jobcentres", 0)) for i in model_inputs),
                       "treated_ids": list(treated_ids),
                       "treated_names_not_found": list(treated_names_not_found)},
        "outputs": {"estimates": f"results/{ESTIMATES_FILE}", "published": RELEASE_FILE, "staged": "staged/",
                    **{k: f"model_input/{k}/" for k in kinds},
                    **({"linkage_report": rel(linkage["url"])} if linkage.get("url") else {}),
                    **{k: rel(v) for k, v in sorted(reduced.files.items())}},
        "incremental": {"cache": f"{input_cache.CACHE_DIR}/", "reused": len(reused), "recomputed": len(recomputed),
                        "reused_jobcentres": sorted(set(reused)), "recomputed_jobcentres": sorted(set(recomputed)),
                        "keys": sorted(k for i in model_inputs for k in i.get("keys", []))},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "dask": dict(dask) if dask else None,
        "packages": dict(sorted((packages or {}).items())),
        "prefect": dict(prefect) if prefect else None,
        "started_at": started_at.isoformat(timespec="seconds"),
        "committed_at": committed_at.isoformat(timespec="seconds"),
    }
