"""The ``evaluate`` flow: validate → stage → per-job-centre model inputs → reduces → results →
report → commit, on a Dask cluster. Wiring only: the tasks are :mod:`flows.tasks`, the
manifest :func:`flows.manifest.build_manifest`; :func:`flows.run.run_evaluation` calls it once
per run key (the design: ``docs/architecture.md``).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, as_completed

from bipdask.data.validate.coverage import check_groups
from bipdask.prepare.hir import ModelInputConfig
from bipdask.prepare.outcomes import comparison_windows, treated_jobcentre_ids
from bipdask.prepare.partitions import MAX_UNIT_ROWS, Unit, pack_batches, plan_units
from bipdask.runtime import input_cache, storage
from bipdask.spec import load_spec, with_replicates
from flows import settings, timeouts
from flows.api_server import flow_run_record
from flows.artifacts import publish_run_artifacts
from flows.cluster import cluster_summary, dashboard_link, worker_count
from flows.manifest import build_manifest
from flows.outputs import ReduceOutput, merge_outputs
from flows.tasks import (
    BIP_FIRST_HITS,
    TASKS,
    check_linkage,
    commit_run,
    compute_model_inputs,
    estimate_bip,
    estimate_bip_block,
    estimate_bip_point,
    estimate_hir_belief_change,
    estimate_hir_beliefs,
    estimate_hir_descriptives,
    estimate_hir_durations,
    estimate_hir_exits,
    estimate_hir_first_stage,
    estimate_hir_mediators,
    estimate_new_course_share,
    estimate_share_did,
    from_unit_sums,
    prepare_bip,
    prune_cache,
    staged_bip_jobcentre_ids,
    sync_history,
    validate_and_stage,
    write_report,
    write_results,
)
from flows.tree import TREE_FOLDER, tree_reduce
from flows.version import package_versions, version_key

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total); total 0: a message
REPORT_LANGUAGES = ("en", "da")
DEFAULT_BATCH_SIZE = 8  # job centres per task when the cluster size is unknown (--dask-address)
# (reduce task, analysis) skipped, with the linkage's reason, when the delivery cannot be linked
NEEDS_LINKAGE = (("estimate_hir_mediators", "hir_table9"), ("estimate_hir_beliefs", "hir_table10"))


class StageProgress:
    """The caller's progress callback as the flow's ``progress`` parameter.

    Calls ``callback(stage, done, total)`` in the flow's process and never fails the run (a
    display error is swallowed; no callback: a no-op). Prefect ships a flow run's parameters
    with every task to the Dask workers: there this travels as a no-op, since a display (the
    CLI's bar holds a terminal and locks) can neither be pickled nor draw on a worker.
    """

    __slots__ = ("callback",)

    def __init__(self, callback: ProgressFn | None = None) -> None:
        self.callback = callback

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.callback is not None:
            try:
                self.callback(stage, done, total)
            except Exception:  # noqa: BLE001 - a display must never fail a run
                pass

    def __reduce__(self) -> tuple:
        return (StageProgress, ())


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
    progress: StageProgress | None = None,
    bootstrap: int | None = None,
) -> dict:
    """Evaluate one delivery into ``<root>/runs/<run_id>/``; returns the committed manifest.
    ``bootstrap`` replaces the spec's B (``bipdask run --bootstrap``; part of the run key).

    Job centres whose staged inputs are unchanged since an earlier run under the same root
    reuse that run's model inputs (``<root>/cache/model_input/``); the manifest's
    ``incremental`` section lists the reused and the recomputed job centres and the cache keys
    used; after the commit, cache entries none of the newest ``cache_keep_runs`` runs used are
    removed. ``progress`` is told ``(stage, done, total)`` as the stages advance (the CLI's bar,
    wrapped in a :class:`StageProgress`; ``None`` in a deployment).
    """
    flow_t0 = time.perf_counter()
    step = progress if isinstance(progress, StageProgress) else StageProgress(progress)
    log = get_run_logger()  # the run's log in the Prefect UI: counts and timings, never a data value
    started = dt.datetime.now(dt.timezone.utc)
    spec_obj = with_replicates(load_spec(spec), bootstrap)
    run = storage.RunLayout.create(root, run_id)
    task_timeout = timeouts.task_timeout_s(timeouts.delivery_megabytes(input_dir), spec_obj.bootstrap_replicates)
    timeouts.set_task_timeouts(TASKS, task_timeout)
    log.info("run %s: spec %s, seed %d, %d input files; task timeout %.0f s", run_id, spec_obj.name, seed,
             len(input_hashes), task_timeout)
    link = dashboard_link()
    if link:
        log.info("Dask dashboard: %s", link)
        step(f"Dask dashboard: {link}", 0, 0)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    step("validate and stage", 0, 1)
    report = validate_and_stage.submit(input_dir, run.url, spec_obj.coverage_limits(), root).result()
    wall = time.perf_counter() - t0
    # the task's own time; the rest of the wait (connecting to the cluster, the workers' first
    # task) and the flow's set-up before it are start-up
    timings["validate_and_stage"] = float(report.get("seconds") or wall)
    timings["startup"] = (t0 - flow_t0) + max(0.0, wall - timings["validate_and_stage"])
    step("validate and stage", 1, 1)
    rows_in, rows_out = report.get("rows_in") or {}, report.get("rows_out") or {}
    log.info("validated and staged in %.1f s (start-up %.1f s): %d tables, %d rows in, %d staged",
             timings["validate_and_stage"], timings["startup"], len(rows_out), sum(rows_in.values()),
             sum(rows_out.values()))

    staged = report["staged_url"]
    jobcentres = storage.read_parquet(storage.join(staged, "jobcentres.parquet"))
    treated_ids, missing_names = treated_jobcentre_ids(jobcentres, spec_obj.treated_jobcentres)
    windows = {k: (p.start.isoformat(), p.end.isoformat()) for k, p in comparison_windows(spec_obj).items()}
    ids = sorted(int(i) for i in report["jobcentre_ids"])
    check_groups(ids, treated_ids)
    # persons in one job centre each: per-unit counts of distinct persons add up (the small reduces
    # fit on the units' sums, and the map leaves out the per-person rows behind them)
    disjoint = (report.get("coverage") or {}).get("persons_in_several_jobcentres") == 0
    config = ModelInputConfig.from_spec(spec_obj, treated_ids, (report.get("week_span") or [None])[0],
                                        persons_disjoint=disjoint).to_dict()

    t0 = time.perf_counter()
    cache, version = input_cache.cache_url(root), version_key(code_version)
    units = plan_units(_rows_by_jobcentre(report, ids), max_unit_rows())
    bip_ids = staged_bip_jobcentre_ids(staged)  # their units also write the BIP outcome's map part
    futures = [compute_model_inputs.submit([u.key() for u in batch], staged, run.model_input, list(treated_ids),
                                           windows, config, cache, version, bip_ids)
               for batch in unit_batches(units, n_batches, batch_size)]
    _track(futures, "model inputs (job centre batches)", step)
    infos = [f.result() for f in futures]  # in batch order, whatever order they finished in
    timings["compute_model_inputs"] = time.perf_counter() - t0
    log.info("model inputs of %d job centres (%d units) in %d batches in %.1f s: %d units reused from the cache, "
             "%d recomputed", len(ids), len(units), len(infos), timings["compute_model_inputs"],
             sum(len(i["reused"]) for i in infos), sum(len(i["recomputed"]) for i in infos))

    def urls(kind: str) -> list[str]:
        """A kind's files in unit order (job centre, then part), whatever the batching: the reduces
        see the same rows in the same order on 1 worker or 16."""
        return sorted((u for i in infos for u in i["urls"].get(kind, [])), key=lambda u: u.rsplit("/", 1)[-1])

    tree_url = storage.join(run.model_input, TREE_FOLDER)

    def summed(kind: str) -> list[Any]:
        """A kind's additive unit files summed in a tree of combine tasks (:mod:`flows.tree`, a shape
        fixed by the unit list): ``[root]`` for a reduce that sums them (:func:`from_unit_sums`)."""
        return tree_reduce(kind, urls(kind), tree_url)

    t0 = time.perf_counter()
    has_linkage_tables = all(storage.exists(storage.join(staged, f"{t}.parquet")) for t in ("assignments", "caseload"))
    linkage = check_linkage.submit(summed("linkage_counts") if has_linkage_tables else [], run.results,
                                   spec_obj.match_rate_floor,
                                   has_linkage_tables, report.get("quarantined")).result()
    timings["check_linkage"] = time.perf_counter() - t0
    log.info("linkage: %s", f"match rate {linkage['match_rate']:.3f}" if linkage.get("match_rate") is not None
             else f"not available ({linkage.get('reason') or 'no linkage tables'})")

    # The reduces are independent: submitted together they run side by side on the cluster.
    inference = spec_obj.inference(seed)
    cluster = inference.cluster
    boot = dict(inference=inference)
    panel_end = (report.get("week_span") or [None])[-1]
    t0 = time.perf_counter()
    reduces: dict[str, PrefectFuture] = {}
    person_clusters = cluster == "person_id"

    def sums_or_none(rows_kind: str, sums_kind: str, per_person: bool = False) -> list[Any] | None:
        """The tree root of ``sums_kind`` when the reduce fits on the units' sums, else None: it
        gathers ``rows_kind`` (a person in two job centres, a person-level bootstrap, or a unit
        without the sums). The map wrote ``rows_kind`` only in the first two cases
        (:func:`bipdask.prepare.hir.written_kinds`)."""
        complete = len(urls(sums_kind)) == len(units)
        return summed(sums_kind) if from_unit_sums(complete, persons_disjoint=disjoint, per_person=per_person) else None

    reduces["estimate_share_did"] = estimate_share_did.submit(
        urls("share_cells"), list(treated_ids), list(windows), spec_obj.disclosure_min_persons, run.replicates,
        inference, sums_or_none("share_cells", "share_moments", inference.person_bootstrap), disjoint)
    new_course_future = estimate_new_course_share.submit(
        urls("new_course_share_cells"), list(treated_ids), run.replicates, inference,
        sums_or_none("new_course_share_cells", "new_course_share_moments", inference.person_bootstrap), disjoint)
    by_counts = from_unit_sums(per_person=person_clusters)  # Tables A/4, 7 (Figures 1-2 always from the counts)
    reduces["estimate_hir_durations"] = estimate_hir_durations.submit(
        summed("spell_counts"), summed("spell_persons") if by_counts else urls("spell_persons"), run.results,
        run.replicates,
        min_persons=spec_obj.disclosure_min_persons, gap_urls=urls("gap_spells"),
        first_lab_urls=urls("first_lab_spells"), **boot)
    if linkage["available"]:  # the heavy reduces first: the cluster starts them first
        reduces["estimate_hir_mediators"] = estimate_hir_mediators.submit(
            urls("time_varying"), urls("share_weeks"), run.replicates, **boot)
        reduces["estimate_hir_beliefs"] = estimate_hir_beliefs.submit(
            urls("time_varying"), urls("share_weeks"), staged, run.replicates, **boot)
    exit_cells = (summed("course_exit_cells") if from_unit_sums(per_person=person_clusters)
                  else urls("course_exit_cells"))  # cells of person clusters do not compress
    reduces["estimate_hir_exits"] = estimate_hir_exits.submit(exit_cells, urls("course_exit_persons"),
                                                           run.replicates, **boot)
    reduces["estimate_new_course_share"] = new_course_future
    reduces["estimate_bip"], bip_parts = _submit_bip(staged, run, panel_end, inference, spec_obj,
                                                     summed(BIP_FIRST_HITS))
    reduces["estimate_hir_belief_change"] = estimate_hir_belief_change.submit(
        staged, run.replicates, **boot)
    reduces["estimate_hir_descriptives"] = estimate_hir_descriptives.submit(
        urls("lab_weeks"), staged, {k: windows[k] for k in ("before", "intervention")}, run.replicates,
        sums_or_none("lab_weeks", "descriptive_moments"), disjoint)
    baseline = spec_obj.caseload_baseline
    reduces["estimate_hir_first_stage"] = estimate_hir_first_stage.submit(
        staged, list(treated_ids), None if baseline is None else (baseline.start.isoformat(), baseline.end.isoformat()),
        windows["intervention"], list(spec_obj.caseload_plausible), spec_obj.fte_hours_per_week, run.replicates,
        inference)
    _track(list(reduces.values()), "estimates and bootstrap", step)
    outputs: dict[str, ReduceOutput] = {name: f.result() for name, f in reduces.items()}  # a fixed order
    for name, analysis in NEEDS_LINKAGE:
        outputs.setdefault(name, ReduceOutput.skipped([analysis], linkage.get("reason")))
    timings.update({name: o.seconds for name, o in outputs.items()})
    timings.update(_bip_timings(bip_parts))
    timings["estimates_wall"] = time.perf_counter() - t0
    reduced = merge_outputs(outputs.values())
    for name, o in outputs.items():
        log.info("%s: %d estimate rows in %.1f s", name, len(o.rows), o.seconds)

    t0 = time.perf_counter()
    write_results.submit(list(reduced.rows), run.results).result()
    timings["write_results"] = time.perf_counter() - t0

    manifest = build_manifest(
        run_id=run_id, run_key=run_key, run_url=run.url, code_version=code_version, spec=spec_obj,
        spec_source=spec, seed=seed, cluster=cluster, input_dir=input_dir, input_hashes=input_hashes,
        validation=report, model_inputs=infos, jobcentre_ids=ids, treated_ids=treated_ids,
        treated_names_not_found=missing_names, linkage=linkage, reduced=reduced, timings=timings,
        started_at=started, committed_at=dt.datetime.now(dt.timezone.utc), dask=cluster_summary(),
        packages=package_versions(), prefect=flow_run_record())
    t0 = time.perf_counter()
    step("report and commit", 0, 1)
    # one task per language, side by side: each renders its own figures (most of the stage); both
    # write the same release bytes, atomically
    languages = [write_report.submit(run.url, manifest, [lang]) for lang in REPORT_LANGUAGES]
    reports = [url for f in languages for url in f.result()]
    manifest["outputs"]["report"] = [u[len(run.url):].lstrip("/") for u in reports]
    manifest["timings_s"]["write_report"] = round(time.perf_counter() - t0, 3)
    committed = commit_run.submit(root, run_id, manifest, claim_token).result()
    prune_cache.submit(root, cache_keep_runs).result()
    _sync_history(root, run_id, log)
    step("report and commit", 1, 1)
    log.info("committed run %s: %d estimate rows, report in %.1f s, %.1f s in all", run_id, len(reduced.rows),
             manifest["timings_s"]["write_report"], time.perf_counter() - flow_t0)
    try:
        publish_run_artifacts(root, run_id)
    except Exception as exc:  # noqa: BLE001 - the run is committed; the UI's artifacts are a convenience
        log.warning("run artifacts not created (%s)", type(exc).__name__)
    return committed


def _sync_history(root: str, run_id: str, log: Any) -> None:
    """The committed run into the cross-run table ``<root>/published/`` (and any committed run
    an earlier append missed). Never fails the committed run: a failure is logged, and the next
    run's sync or ``bipdask gc`` adds the run."""
    try:
        synced = sync_history.submit(root, run_id).result()
    except Exception as exc:  # noqa: BLE001 - the run is committed; the table is repaired later
        log.warning("run %s not added to the cross-run table published/ (%s); the next run or `bipdask gc` "
                    "adds it", run_id, type(exc).__name__)
        return
    repaired = [r for r in synced["added"] if r != run_id]
    log.info("cross-run table published/: run %s %s; %d earlier runs added, %d files of uncommitted runs removed",
             run_id, "in it" if synced["in_table"] else "not in it (no release)", len(repaired),
             len(synced["removed"]))
    for problem in synced["problems"]:
        log.warning("cross-run table: %s", problem)


def unit_batches(units: Sequence[Unit], n_batches: int = 0, batch_size: int = 0) -> list[list[Unit]]:
    """``units`` packed by rows into ``ceil(len / batch_size)`` batches (else ``n_batches``, else
    batches of :data:`DEFAULT_BATCH_SIZE` units; :func:`~bipdask.prepare.partitions.pack_batches`):
    one ``compute_model_inputs`` task per batch."""
    size = max(1, batch_size or (math.ceil(len(units) / n_batches) if n_batches > 0 else DEFAULT_BATCH_SIZE))
    return pack_batches(units, math.ceil(len(units) / size))


BIP_BLOCK_REPLICATES = 1000  # replicates per BIP block task (at least one block per worker)
BIP_BLOCK_ALIGN = 500  # the BIP bootstraps' own block of replicates: windows cut on its multiples


def bip_replicate_windows(replicates: int, workers: int = 1) -> list[tuple[int, int]]:
    """The BIP replicate blocks [b0, b1) of one task each: ``BIPDASK_BIP_BLOCK_REPLICATES`` or
    ~:data:`BIP_BLOCK_REPLICATES` replicates, fewer when that leaves a worker without a block, cut
    on multiples of :data:`BIP_BLOCK_ALIGN` (a window that is not draws the weights of its
    bootstraps' blocks twice). Any cut gives the same results (``docs/methods.md#replicate-blocks``)."""
    if replicates <= 0:
        return []
    size = settings.positive_int(settings.BIP_BLOCK_REPLICATES_VARIABLE)
    if size is None:
        size = min(BIP_BLOCK_REPLICATES, math.ceil(replicates / max(1, workers)))
        size = BIP_BLOCK_ALIGN * math.ceil(size / BIP_BLOCK_ALIGN)
    return [(b, min(b + size, replicates)) for b in range(0, replicates, size)]


def _submit_bip(staged: str, run: storage.RunLayout, panel_end: str | None, inference: Any,
                spec_obj: Any, first_hit_urls: list[Any]) -> tuple[PrefectFuture, dict[str, Any]]:
    """The BIP analyses as tasks: their inputs prepared once (the responses, their persons and the
    map step's first hits, ``first_hit_urls``: the root of their tree), the point rows and replicate
    plans (the point fits, once), then the replicate blocks (:func:`bip_replicate_windows`) from the plans side by side,
    one combine (``estimate_bip``); only URLs travel between them."""
    bip_inference = inference.at_unit("person_id")  # citizens, whatever the run's cluster level
    rules = {"top_quartile": spec_obj.bip_top_quartile, "count_caseworker": spec_obj.bip_count_caseworker}
    prepared = prepare_bip.submit(staged, run.model_input, first_hit_urls)
    point = estimate_bip_point.submit(prepared, bip_inference, panel_end, **rules)
    blocks = [estimate_bip_block.submit(point, bip_inference, list(w))
              for w in bip_replicate_windows(bip_inference.replicates, worker_count())]
    combined = estimate_bip.submit(prepared, point, blocks, run.replicates, bip_inference)
    return combined, {"prepare": prepared, "point": point, "blocks": blocks}


def _bip_timings(parts: dict[str, Any]) -> dict[str, float]:
    """Seconds of the BIP tasks besides the combine (``estimate_bip``): prepare, point, and the
    replicate blocks' sum (CPU-like) and longest."""
    blocks = [f.result()["seconds"] for f in parts["blocks"]]
    return {"estimate_bip_prepare": parts["prepare"].result()["seconds"],
            "estimate_bip_point": parts["point"].result()["seconds"],
            "estimate_bip_blocks_sum": float(sum(blocks)), "estimate_bip_blocks_max": float(max(blocks, default=0.0))}


def max_unit_rows() -> int:
    """Staged weeks rows per map unit: ``BIPDASK_MAX_UNIT_ROWS`` or
    :data:`~bipdask.prepare.partitions.MAX_UNIT_ROWS`. Not derived from the cluster: the cut
    decides the model inputs' files, which must not depend on the number of workers."""
    rows = settings.positive_int(settings.MAX_UNIT_ROWS_VARIABLE)
    return MAX_UNIT_ROWS if rows is None else rows


def _rows_by_jobcentre(report: dict, ids: Sequence[int]) -> dict[int, int]:
    """Staged weeks rows per job centre from the validation report (1 each when it has none)."""
    counts = {int(k): int(v) for k, v in (report.get("weeks_rows_by_jobcentre") or {}).items()}
    return {jc: counts.get(jc, 1) for jc in ids}


def _track(futures: list[Any], stage: str, step: ProgressFn) -> None:
    """Report ``stage`` as 0, 1, … of ``len(futures)`` done while the futures finish."""
    step(stage, 0, len(futures))
    for done, _ in enumerate(as_completed(futures), start=1):
        step(stage, done, len(futures))
