"""The ``evaluate`` flow: validate → stage → per-job-centre sufficient statistics → reduce →
results → commit, on a Dask cluster (DESIGN.md §4).

``run_evaluation`` is what ``bipdask run`` calls; ``run_demo`` what ``bipdask demo`` calls.
Same inputs (file hashes), code version, spec and seed give the same run id: a rerun of a
committed run is a no-op that reports the existing run.

Dask: a ``LocalCluster`` (``workers`` processes, one thread each) unless an address is given
(``--dask-address`` or ``DASK_ADDRESS``). Prefect: with no ``PREFECT_API_URL`` Prefect runs
an ephemeral local server for the duration of the flow; its logging is quieted to WARNING (and
task/flow failure tracebacks are left to the CLI's one-line error) unless ``debug``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import importlib
import json
import logging
import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.futures import as_completed
from prefect_dask import DaskTaskRunner

import bipdask
from bipdask.runtime import claims, input_cache, storage
from bipdask.data.contract import TABLES
from bipdask.data.dream import ACTIVITY_TABLE, WIDE_TABLE
from bipdask.errors import BipdaskError, InfrastructureError, InputError, Problem
from bipdask.analyses.hir.shares import headline
from bipdask.prepare.hir import KINDS as MODEL_INPUT_KINDS
from bipdask.prepare.hir import ModelInputConfig
from bipdask.prepare.outcomes import comparison_windows, treated_jobcentre_ids
from bipdask.analyses.estimates import estimates_frame
from bipdask.spec import EvaluationSpec, load_spec

from flows import QUIET_ENV
from flows.credentials import apply_s3_secret_block
from flows.tasks import (
    ESTIMATES_FILE,
    check_linkage,
    commit_run,
    compute_model_inputs,
    estimate_bip,
    estimate_hir_belief_change,
    estimate_hir_beliefs,
    estimate_hir_durations,
    estimate_hir_exits,
    estimate_hir_mediators,
    estimate_new_course_share,
    estimate_share_did,
    prune_cache,
    validate_and_stage,
    write_report,
    write_results,
)

DELIVERY_TABLES = (*TABLES, WIDE_TABLE, ACTIVITY_TABLE)  # every file the validator reads
BATCHES_PER_WORKER = 4
DEFAULT_BATCH_SIZE = 8  # job centres per task when the cluster size is unknown (--dask-address)
CLAIM_POLL_S = 2.0

ProgressFn = Callable[[str, int, int], None]
_progress: ProgressFn | None = None  # set by execute_run for the duration of one flow call


def _step(stage: str, done: int, total: int) -> None:
    """Tell the caller's progress display (the CLI's bar) that ``done`` of ``total`` units of
    ``stage`` are finished (``total`` 0: a message, such as the Dask dashboard link); a no-op
    when the flow runs without one (a deployment)."""
    if _progress is not None:
        try:
            _progress(stage, done, total)
        except Exception:  # noqa: BLE001 - a display must never fail a run
            pass


# --------------------------------------------------------------------------- the flow


@flow(name="evaluate", log_prints=False, validate_parameters=False)
def evaluate(
    input_dir: str,
    root: str,
    run_id: str,
    run_key: str,
    spec: str,
    seed: int,
    code_version: dict,
    input_hashes: dict,
    n_batches: int = 0,
    batch_size: int = 0,
    claim_token: str | None = None,
    cache_keep_runs: int = input_cache.DEFAULT_KEEP_RUNS,
) -> dict:
    """Evaluate one delivery into ``<root>/runs/<run_id>/``; returns the committed manifest.

    Job centres whose staged inputs are unchanged since an earlier run under the same root
    reuse that run's model inputs (``<root>/cache/model_input/``); the manifest's
    ``incremental`` section lists the reused and the recomputed job centres and the cache keys
    used; after the commit, cache entries none of the newest ``cache_keep_runs`` runs used are
    removed.
    """
    started = dt.datetime.now(dt.timezone.utc)
    spec_obj = load_spec(spec)
    run = storage.RunLayout.create(root, run_id)
    link = _dashboard_link()
    if link:
        get_run_logger().info("Dask dashboard: %s", link)
        _step(f"Dask dashboard: {link}", 0, 0)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    _step("validate and stage", 0, 1)
    report = validate_and_stage.submit(input_dir, run.url).result()
    timings["validate_and_stage"] = time.perf_counter() - t0
    _step("validate and stage", 1, 1)

    staged = report["staged_url"]
    jobcentres = storage.read_parquet(storage.join(staged, "jobcentres.parquet"))
    treated_ids, missing_names = treated_jobcentre_ids(jobcentres, spec_obj.treated_jobcentres)
    windows = {k: (p.start.isoformat(), p.end.isoformat()) for k, p in comparison_windows(spec_obj).items()}
    ids = sorted(int(i) for i in report["jobcentre_ids"])
    size = batch_size or (math.ceil(len(ids) / n_batches) if n_batches > 0 else DEFAULT_BATCH_SIZE)
    batches = [ids[i:i + max(1, size)] for i in range(0, len(ids), max(1, size))]

    config = ModelInputConfig.from_spec(spec_obj, treated_ids, (report.get("week_span") or [None])[0]).to_dict()
    t0 = time.perf_counter()
    cache = input_cache.cache_url(root)
    version = version_key(code_version)
    futures = [
        compute_model_inputs.submit(batch, staged, run.model_input, list(treated_ids), windows, config,
                                    cache, version)
        for batch in batches
    ]
    _step("model inputs (job centre batches)", 0, len(futures))
    for done, _ in enumerate(as_completed(futures), start=1):
        _step("model inputs (job centre batches)", done, len(futures))
    infos = [f.result() for f in futures]  # in batch order, whatever order they finished in
    timings["compute_model_inputs"] = time.perf_counter() - t0

    def urls(kind: str) -> list[str]:
        return [u for i in infos for u in i["urls"].get(kind, [])]

    t0 = time.perf_counter()
    has_linkage_tables = all(storage.exists(storage.join(staged, f"{t}.parquet")) for t in ("assignments", "caseload"))
    linkage = check_linkage.submit(urls("linkage_counts"), run.results, spec_obj.match_rate_floor,
                                   has_linkage_tables).result()
    timings["check_linkage"] = time.perf_counter() - t0

    # The reduces are independent: submitted together they run side by side on the cluster.
    cluster = "jobcentre_id" if spec_obj.cluster == "jobcentre" else "person_id"
    boot = dict(bootstrap=spec_obj.bootstrap_replicates, seed=seed, scheme=spec_obj.bootstrap_scheme, cluster=cluster)
    panel_end = (report.get("week_span") or [None])[-1]
    t0 = time.perf_counter()
    share_boot = spec_obj.bootstrap_replicates if cluster == "person_id" else 0  # person sums only
    share_future = estimate_share_did.submit(urls("share_cells"), list(treated_ids), list(windows),
                                             spec_obj.disclosure_min_persons, run.replicates, share_boot, seed,
                                             spec_obj.bootstrap_scheme)
    new_course_future = estimate_new_course_share.submit(urls("new_course_share_cells"), list(treated_ids),
                                                         run.replicates, share_boot, seed, spec_obj.bootstrap_scheme)
    reduces = {"estimate_hir_durations": estimate_hir_durations.submit(
        urls("gap_spells"), urls("first_lab_spells"), run.results, run.replicates,
        min_persons=spec_obj.disclosure_min_persons, **boot)}
    if linkage["available"]:  # the heavy reduces first: the cluster starts them first
        reduces["estimate_hir_mediators"] = estimate_hir_mediators.submit(
            urls("time_varying"), urls("share_weeks"), run.replicates, **boot)
        reduces["estimate_hir_beliefs"] = estimate_hir_beliefs.submit(
            urls("time_varying"), urls("share_weeks"), staged, run.replicates, **boot)
    reduces["estimate_hir_exits"] = estimate_hir_exits.submit(urls("course_exits"), run.replicates, **boot)
    reduces["estimate_new_course_share"] = new_course_future
    reduces["estimate_bip"] = estimate_bip.submit(staged, run.replicates, panel_end, **boot)
    reduces["estimate_hir_belief_change"] = estimate_hir_belief_change.submit(
        staged, run.replicates, **{k: v for k, v in boot.items() if k != "cluster"})
    pending = [share_future, *reduces.values()]
    _step("estimates and bootstrap", 0, len(pending))
    for done, _ in enumerate(as_completed(pending), start=1):
        _step("estimates and bootstrap", done, len(pending))
    outputs = {"estimate_share_did": share_future.result()}
    timings["estimate_share_did"] = outputs["estimate_share_did"]["seconds"]
    for name, future in reduces.items():  # a fixed order: the rows are sorted on writing anyway
        outputs[name] = future.result()
        timings[name] = outputs[name]["seconds"]
    for name, analysis in (("estimate_hir_mediators", "hir_table9"), ("estimate_hir_beliefs", "hir_table10")):
        if name not in outputs:
            outputs[name] = {"rows": [], "files": {}, "notes": {analysis: {"skipped": linkage.get("reason")}},
                             "counts": {}, "seconds": 0.0}
            timings[name] = 0.0
    timings["estimates_wall"] = time.perf_counter() - t0
    rows = [r for o in outputs.values() for r in o["rows"]]
    notes = {k: v for o in outputs.values() for k, v in o["notes"].items()}
    result_files = {k: v for o in outputs.values() for k, v in o["files"].items()}
    counts = {k: v for o in outputs.values() for k, v in o.get("counts", {}).items()}

    t0 = time.perf_counter()
    write_results.submit(rows, run.results).result()
    timings["write_results"] = time.perf_counter() - t0

    def rel(url: str) -> str:
        return url[len(run.url):].lstrip("/")

    kinds = ("share_cells", *MODEL_INPUT_KINDS)
    model_rows = {k: sum(i["rows"].get(k, 0) for i in infos) for k in kinds}
    reused = sorted(j for i in infos for j in i["reused"])
    recomputed = sorted(j for i in infos for j in i["recomputed"])
    linkage_counts = {k: linkage[k] for k in ("person_weeks", "matched", "linked", "trimmed", "no_caseworker",
                                              "no_caseload_record") if k in linkage}
    manifest = {
        "run_id": run_id,
        "run_key": run_key,
        "flow": "evaluate",
        "code_version": code_version,
        "spec": {"name": spec_obj.name, "source": spec, "content": spec_dict(spec_obj)},
        "seed": seed,
        "inputs": {"delivery": str(input_dir), "sha256": input_hashes},
        "validation": {k: report.get(k) for k in ("contract_version", "rows_in", "rows_out", "quarantined",
                                                   "problems", "input_hashes", "week_span")},
        "row_counts": {
            "input": report.get("rows_in", {}),
            "staged": report.get("rows_out", {}),
            "quarantined": {t: sum(r.values()) for t, r in (report.get("quarantined") or {}).items()},
            "weeks_read_by_model_inputs": sum(i["weeks_rows"] for i in infos),
            "share_cell_rows": model_rows["share_cells"],
            "model_input": model_rows,
            "linkage": linkage_counts,
            "estimates": len(rows),
            "estimates_by_analysis": dict(sorted(collections.Counter(r["analysis"] for r in rows).items())),
            "reduce_outputs": dict(sorted(counts.items())),
        },
        "linkage": {k: v for k, v in linkage.items() if k not in ("url", "seconds")},
        "estimation": {
            "bootstrap_replicates": spec_obj.bootstrap_replicates, "bootstrap_scheme": spec_obj.bootstrap_scheme,
            "seed": seed, "cluster": cluster,
            "se": "bootstrap SE, percentile CI and bootstrap p-value (every analysis; the weekly/wave means of "
                  "hir_table8/hir_table3 and bip rows without replicates: analytic; Tables 6 and 7 (share) with job-centre "
                  "clusters: CR1 analytic)",
            "notes": notes,
        },
        "jobcentres": {"staged": len(ids), "batches": len(batches), "treated_ids": list(treated_ids),
                       "treated_names_not_found": list(missing_names)},
        "outputs": {"estimates": f"results/{ESTIMATES_FILE}", "staged": "staged/",
                    **{k: f"model_input/{k}/" for k in kinds},
                    **({"linkage_report": rel(linkage["url"])} if linkage.get("url") else {}),
                    **{k: rel(v) for k, v in sorted(result_files.items())}},
        "incremental": {"cache": f"{input_cache.CACHE_DIR}/", "reused": len(reused), "recomputed": len(recomputed),
                        "reused_jobcentres": reused, "recomputed_jobcentres": recomputed,
                        "keys": sorted(k for i in infos for k in i.get("keys", []))},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "started_at": started.isoformat(timespec="seconds"),
        "committed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    t0 = time.perf_counter()
    _step("report and commit", 0, 1)
    reports = write_report.submit(run.url, manifest).result()
    manifest["outputs"]["report"] = [rel(u) for u in reports]
    manifest["timings_s"]["write_report"] = round(time.perf_counter() - t0, 3)
    committed = commit_run.submit(root, run_id, manifest, claim_token).result()
    prune_cache.submit(root, cache_keep_runs).result()
    _step("report and commit", 1, 1)
    return committed


def _dashboard_link() -> str | None:
    """The Dask dashboard of the cluster this flow run's task runner is connected to, if any."""
    try:
        from prefect.context import FlowRunContext

        return FlowRunContext.get().task_runner.client.dashboard_link  # connects now, as the first task would
    except Exception:  # noqa: BLE001 - no context, no client, no dashboard: nothing to show
        return None


# --------------------------------------------------------------------------- entry points


@dataclass(frozen=True, eq=False)
class RunResult:
    """A committed run: id, URL, the tidy estimates and the manifest."""

    run_id: str
    url: str
    estimates: pd.DataFrame
    manifest: dict
    reused: bool = False
    published: pd.DataFrame | None = None  # as the report publishes them: disclosure control applied

    def describe(self) -> str:
        shown = self.estimates if self.published is None else self.published
        lines = [headline(shown), ""]
        rows = self.manifest.get("row_counts", {})
        weeks_in = (rows.get("input") or {}).get("weeks")
        if weeks_in is not None:
            lines.append(f"weeks rows: {weeks_in:,} in, {(rows.get('staged') or {}).get('weeks', 0):,} staged, "
                         f"{(rows.get('quarantined') or {}).get('weeks', 0):,} quarantined")
        lines += _headline_extras(shown)
        state = "already committed; nothing recomputed" if self.reused else "committed"
        lines.append(f"run {self.run_id} {state}: {self.url}")
        lines.append(f"estimates: {storage.join(self.url, 'results', ESTIMATES_FILE)}")
        for rel_url in (self.manifest.get("outputs") or {}).get("report", []):
            lines.append(f"report: {storage.join(self.url, rel_url)}")
        return "\n".join(lines)


# (analysis, estimand, label, scale, unit) of the national rows the CLI prints after Table 6
_EXTRAS = (
    ("hir_table4", "participating_before", "Table A: weeks between LAB, participating, before", 1, " wk"),
    ("hir_table4", "participating_intervention", "Table A: weeks between LAB, participating, during", 1, " wk"),
    ("hir_table4", "other_before", "Table A: weeks between LAB, others, before", 1, " wk"),
    ("hir_table4", "other_intervention", "Table A: weeks between LAB, others, during", 1, " wk"),
    ("hir_table4", "did_weeks", "Table A: effect on weeks between LAB (DiD)", 1, " wk"),
    ("hir_table9", "hr_caseload", "Table 9: hazard ratio of a new LAB per caseload unit", 1, ""),
    ("bip_caseworker_effectiveness", "actual", "BIP Table 1: job or SU within 52 weeks", 100, "%"),
    ("bip_caseworker_effectiveness", "counterfactual_top_quartile", "BIP Table 1: all as top-quartile caseworkers",
     100, "%"),
)


def _headline_extras(estimates: pd.DataFrame) -> list[str]:
    """National Table A, Table 9 and BIP Table 1 lines with their bootstrap CIs, where present."""
    if estimates is None or estimates.empty or "analysis" not in estimates:
        return []
    national = estimates[estimates["jobcentre_id"].isna()]
    lines = []
    for analysis, estimand, label, scale, unit in _EXTRAS:
        row = national[(national["analysis"] == analysis) & (national["estimand"] == estimand)]
        if row.empty or pd.isna(row["estimate"].iloc[0]):
            continue
        r = row.iloc[0]
        ci = (f"  95% CI [{scale * r['ci_low']:.3g}, {scale * r['ci_high']:.3g}]"
              if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"]) else "")
        lines.append(f"{label:<56} {scale * r['estimate']:.3g}{unit}{ci}")
    return ["", *lines] if lines else []


def spec_dict(spec: EvaluationSpec) -> dict:
    """The spec as a JSON-able dict (dates ISO), for the run key and the manifest."""
    return json.loads(storage.canonical_json(dataclasses.asdict(spec)))


SOURCE_PACKAGES = ("bipdask", "flows")
SOURCE_SUFFIXES = (".py", ".toml", ".json")


def source_digest() -> str:
    """sha256 over the source of the packages that compute a run (paths and bytes, sorted).

    The run key depends on it, not on a git commit: an uncommitted edit changes the key (its
    results are not those of the commit), and the same code installed in a container image or
    a wheel gives the same key as the checkout it was built from.
    """
    h = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        base = Path(importlib.import_module(package).__file__).parent
        for path in sorted(p for p in base.rglob("*") if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts):
            h.update(f"{package}/{path.relative_to(base).as_posix()}\0".encode("utf-8"))
            h.update(path.read_bytes())
    return h.hexdigest()


def code_version() -> dict[str, str | None]:
    """bipdask's version, the digest of its source, and the git commit when run from a checkout
    (for the reader; the run key uses the version and the digest)."""
    sha = None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(bipdask.__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
        if out.returncode == 0:
            sha = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"bipdask": bipdask.__version__, "source_sha256": source_digest(), "git_sha": sha}


def version_key(version: dict) -> str:
    """The part of :func:`code_version` that decides results: the package version and the
    source digest (``git_sha`` is provenance only)."""
    return f"{version.get('bipdask')}+{version.get('source_sha256') or version.get('git_sha')}"


def plan_run(input_dir: str | Path, output_url: str, spec: str = "hir", seed: int | None = None
             ) -> tuple[storage.RunLayout, dict[str, Any]]:
    """Hash the inputs and derive the run id; no side effects."""
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise InputError([Problem("delivery", "", "delivery folder not found", 0)])
    spec_obj = load_spec(spec)
    seed = spec_obj.seed if seed is None else int(seed)
    hashes = storage.hash_delivery(input_dir, list(DELIVERY_TABLES))
    if not hashes:
        raise InputError([Problem("delivery", "", "no contract tables found", 0)])
    version = code_version()
    key = storage.run_key(hashes, version_key(version), spec_dict(spec_obj), seed)
    run = storage.RunLayout.create(output_url, storage.run_id_from_key(key))
    return run, {"run_key": key, "seed": seed, "input_hashes": hashes, "code_version": version,
                 "spec": spec, "input_dir": str(input_dir.resolve())}


class PrestartedLocalCluster:
    """A LocalCluster started in a background thread as soon as this object exists.

    Given to :class:`DaskTaskRunner` as its ``cluster_class``: the runner calls it when the
    flow starts and gets the cluster that was being started meanwhile. The workers' start
    (process spawn, importing :mod:`flows.tasks` with Prefect, pandas and SciPy — seconds per
    worker) then overlaps with Prefect starting its temporary API server, instead of following
    it. The runner closes the cluster when the flow ends; :meth:`close` covers a flow that
    failed before it took the cluster.
    """

    def __init__(self, **cluster_kwargs: Any) -> None:
        import concurrent.futures

        from distributed import LocalCluster

        self.__qualname__ = type(self).__qualname__  # the runner logs the "class" it instantiates by name
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="bipdask-cluster-start")
        self._future = pool.submit(self._start, LocalCluster, cluster_kwargs)
        pool.shutdown(wait=False)

    @staticmethod
    def _start(cluster_class: Any, cluster_kwargs: dict) -> Any:
        from distributed import Client

        cluster = cluster_class(**cluster_kwargs)
        with Client(cluster, set_as_default=False) as client:
            client.run(importlib.import_module, "flows.tasks")
        return cluster

    def __call__(self, **_: Any):
        return self._future.result()

    def __getstate__(self) -> dict:
        # Prefect ships the flow-run context, task runner included, with each task: only the
        # name travels; the cluster itself is needed in this process only.
        return {"__qualname__": self.__qualname__}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._future = None

    def close(self) -> None:
        try:
            self._future.result().close()
        except Exception:  # noqa: BLE001 - it failed to start or is closed already
            pass


WORKER_MEMORY_VARIABLE = "BIPDASK_WORKER_MEMORY"  # e.g. "8GiB"; "0" = no limit


def default_worker_memory() -> int:
    """Per-worker memory limit of the LocalCluster, bytes: 90 % of the machine's RAM.

    Not Dask's even share (RAM / workers): the reduces differ in size, and one of them (HIR
    Table 8 at scale 10: ~14 GB) needs more than half of a 24 GiB machine while the other
    worker's tasks are small — an even share gets that worker killed. The whole tree's peak is
    what has to fit (measured: 14.3 GiB at scale 10 on 2 workers).
    """
    import psutil

    return int(psutil.virtual_memory().total * 0.9)


def task_runner(workers: int | None = None, dask_address: str | None = None) -> DaskTaskRunner:
    """A DaskTaskRunner on an existing scheduler (address) or a fresh LocalCluster (started now,
    in the background, its workers importing the tasks module: :class:`PrestartedLocalCluster`)."""
    address = dask_address or os.environ.get("DASK_ADDRESS") or None
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_class=PrestartedLocalCluster(
        n_workers=max(1, int(workers or 1)), threads_per_worker=1, processes=True, dashboard_address=":0",
        memory_limit=os.environ.get(WORKER_MEMORY_VARIABLE) or default_worker_memory()))


def run_evaluation(
    *,
    input_dir: str | Path,
    output_url: str,
    seed: int | None = None,
    spec: str = "hir",
    workers: int | None = None,
    dask_address: str | None = None,
    debug: bool = False,
    batch_size: int | None = None,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Run (or find) the evaluation of the delivery at ``input_dir`` under ``output_url``.

    ``batch_size`` job centres go to one ``compute_model_inputs`` task (default: about
    ``BATCHES_PER_WORKER`` tasks per local worker, or ``DEFAULT_BATCH_SIZE`` on a remote
    cluster); the results do not depend on it. ``progress(stage, done, total)`` is called as the
    stages advance (the CLI draws its bar from it).
    """
    run, plan = plan_run(input_dir, output_url, spec, seed)
    return execute_run(run, plan, workers=workers, dask_address=dask_address, debug=debug, batch_size=batch_size,
                       progress=progress)


def execute_run(
    run: storage.RunLayout,
    plan: dict[str, Any],
    *,
    workers: int | None = None,
    dask_address: str | None = None,
    debug: bool = False,
    batch_size: int | None = None,
    poll_s: float = CLAIM_POLL_S,
    progress: ProgressFn | None = None,
    s3_secret_block: str | None = None,
) -> RunResult:
    """Compute a planned run once, whoever else asks for the same run key at the same time.

    A committed run is returned as it is (``reused``). Otherwise this process claims the run
    (:func:`bipdask.runtime.claims.claim_run`); while another process holds a live claim it waits
    for that run's commit and then reports it. The claim is kept alive by a heartbeat thread
    and released after the commit or a failure. ``s3_secret_block`` (or
    ``$BIPDASK_S3_SECRET_BLOCK``) names a Prefect Secret block with the S3 credentials
    (:mod:`flows.credentials`).
    """
    apply_s3_secret_block(s3_secret_block)  # before any S3 access and the LocalCluster (workers inherit it)
    claim = runner = None
    while claim is None:
        if run.is_committed():
            return load_result(run.root, run.run_id, reused=True)
        claim = claims.claim_run(run)
        if claim is None:
            time.sleep(poll_s)
    try:
        if run.is_committed():  # committed between our check and our claim
            return load_result(run.root, run.run_id, reused=True)
        for layer in storage.RUN_LAYERS:  # an earlier attempt that never committed: start clean
            storage.remove(run.layer(layer))
        storage.remove(run.manifest)
        address = dask_address or os.environ.get("DASK_ADDRESS") or None
        n_batches = 0 if address else BATCHES_PER_WORKER * max(1, int(workers or 1))
        runner = task_runner(workers, address)
        flow_fn = evaluate.with_options(task_runner=runner, flow_run_name=f"evaluate-{run.run_id}")
        configure_logging(debug)
        global _progress
        _progress = progress
        with _Heartbeat(claim):
            try:
                flow_fn(input_dir=plan["input_dir"], root=run.root, run_id=run.run_id, run_key=plan["run_key"],
                        spec=plan["spec"], seed=plan["seed"], code_version=plan["code_version"],
                        input_hashes=plan["input_hashes"], n_batches=n_batches, batch_size=int(batch_size or 0),
                        claim_token=claim.token)
            except BipdaskError:
                raise
            except Exception as exc:  # noqa: BLE001 - cluster/orchestration failure: exit code 3
                if debug:
                    raise
                raise InfrastructureError(f"evaluate flow failed ({type(exc).__name__})") from None
    finally:
        _progress = None
        if runner is not None and isinstance(runner.cluster_class, PrestartedLocalCluster):
            runner.cluster_class.close()
        try:
            claims.release_claim(claim)
        except BipdaskError:
            pass  # a stale claim expires by itself
    return load_result(run.root, run.run_id)


class _Heartbeat:
    """Refresh a claim every quarter of the stale timeout while a run is computed."""

    def __init__(self, claim: claims.Claim) -> None:
        import threading

        self.claim = claim
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="bipdask-claim-heartbeat", daemon=True)

    def _beat(self) -> None:
        interval = claims.claim_stale_after() / 4
        while not self.stop.wait(interval):
            try:
                if not claims.refresh_claim(self.claim):
                    return
            except BipdaskError:
                continue

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def load_result(root: str, run_id: str | None = None, reused: bool = False) -> RunResult:
    """The committed run's estimates, as computed and as published (disclosure control), and its
    manifest."""
    from bipdask.publish.report.build import load_published

    committed = storage.open_run(root, run_id)
    estimates = estimates_frame(storage.read_parquet(storage.join(committed.url, "results", ESTIMATES_FILE)))
    return RunResult(committed.run_id, committed.url, estimates, committed.manifest, reused=reused,
                     published=load_published(committed).estimates)


# --------------------------------------------------------------------------- demo


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What ``bipdask demo`` did: where the synthetic input and the output are, and the run."""

    input_dir: Path
    output_url: str
    run: RunResult
    generated: bool
    truth: dict = field(default_factory=dict)

    def describe(self) -> str:
        made = "generated" if self.generated else "reused"
        lines = [f"synthetic delivery ({made}): {self.input_dir}", "", self.run.describe()]
        if self.truth:
            lines.append("")
            lines.append("truth planted by the generator (truth.json):")
            lines += [f"  {k}: {100 * v:+.1f}pp" for k, v in self.truth.items()]
        lines.append(f"output: {self.output_url}")
        return "\n".join(lines)


DEMO_MARKER = "demo.json"


def run_demo(folder: str | Path = "bipdask-demo", scale: float = 1.0, seed: int = 42, workers: int = 2,
             debug: bool = False, progress: ProgressFn | None = None) -> DemoResult:
    """Synthetic delivery → evaluation → headline table (``bipdask demo``).

    The delivery goes to ``folder/input`` (kept and reused when it was made with the same scale
    and seed), the run to ``folder/output``.
    """
    from bipdask.synth import generate

    folder = Path(folder)
    input_dir, output = folder / "input", folder / "output"
    marker = folder / DEMO_MARKER
    wanted = {"scale": float(scale), "seed": int(seed)}
    generated = False
    if not (input_dir.is_dir() and marker.is_file() and json.loads(marker.read_text()) == wanted):
        if progress is not None:
            progress("synthetic delivery", 0, 1)
        generate(input_dir, scale=scale, seed=seed, workers=workers)
        if progress is not None:
            progress("synthetic delivery", 1, 1)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(wanted) + "\n")
        generated = True
    result = run_evaluation(input_dir=input_dir, output_url=str(output), workers=workers, debug=debug,
                            progress=progress)
    return DemoResult(input_dir, str(output.resolve()), result, generated, truth_share_did(input_dir))


TRUTH_KEYS = {
    # label → key path in truth.json (bipdask.synth): population and this delivery's sample DiD
    "population DiD, intervention": ("population", "did_share"),
    "population DiD, last 3 months": ("population", "did_share_last3m"),
    "sample DiD, intervention": ("realised", "sample_share", "did_share"),
    "sample DiD, last 3 months": ("realised", "sample_share", "did_share_last3m"),
}


def truth_share_did(input_dir: str | Path) -> dict[str, float]:
    """The Table 6 effects planted by the generator (``truth.json``, read defensively).

    Returns label → effect (fraction) for the keys of :data:`TRUTH_KEYS` that are present
    and numeric; ``{}`` when there is no truth file (a real delivery).
    """
    try:
        truth = json.loads((Path(input_dir) / "truth.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, float] = {}
    for label, path in TRUTH_KEYS.items():
        node: Any = truth
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            found[label] = float(node)
    return found


# --------------------------------------------------------------------------- logging


QUIET_LOGGERS = {"prefect": logging.WARNING, "distributed": logging.ERROR, "prefect_dask": logging.WARNING,
                 "httpx": logging.WARNING, "uvicorn": logging.WARNING, "asyncio": logging.WARNING}
# Failures are reported once by the CLI as a one-line error; the engines' own tracebacks only
# with --debug.
SILENT_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.flow_engine", "prefect.task_engine")


def configure_logging(debug: bool = False) -> None:
    """Prefect at WARNING, distributed at ERROR in this process unless ``debug``.

    The environment defaults for the temporary server and the Dask workers are set when
    :mod:`flows` is imported (see its docstring). The levels stay for the rest of the process,
    since Prefect logs the temporary server's shutdown at exit.
    """
    if debug:
        for name in ("prefect", *SILENT_LOGGERS):
            logging.getLogger(name).setLevel(logging.DEBUG)
    else:
        for k, v in QUIET_ENV.items():
            os.environ.setdefault(k, v)
        for name, level in [*QUIET_LOGGERS.items(), *((n, logging.CRITICAL + 1) for n in SILENT_LOGGERS)]:
            logging.getLogger(name).setLevel(level)
