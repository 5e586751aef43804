"""One run of the ``evaluate`` flow per run key: :func:`plan_run` (input hashes, code version,
spec and seed → run id), :func:`execute_run` (claim, heartbeat, cluster, flow call) and
:func:`run_evaluation` (both; what ``bipdask run`` calls), and :class:`RunResult` (a committed
run read back, with its summary text).

Same inputs (file hashes), code version, spec and seed give the same run id: a rerun of a
committed run is a no-op that reports the existing run.

Dask: a ``LocalCluster`` (``workers`` processes, one thread each) unless an address is given
(``--dask-address`` or ``DASK_ADDRESS``). Prefect: with no ``PREFECT_API_URL`` the run starts
one temporary local API server, shared with the workers and stopped with the run, even a
killed one (:mod:`flows.api_server`); its logging is quieted to WARNING (and
task/flow failure tracebacks are left to the CLI's one-line error) unless ``debug``
(:func:`flows.configure_logging`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bipdask.analyses.estimates import estimates_frame
from bipdask.analyses.hir.shares import headline
from bipdask.data.contract import TABLES
from bipdask.data.dream import ACTIVITY_TABLE, WIDE_TABLE
from bipdask.errors import BipdaskError, InfrastructureError, InputError, Problem
from bipdask.runtime import claims, storage
from bipdask.spec import MAX_SEED, load_spec, with_replicates
from flows import configure_logging, settings, timeouts
from flows.api_server import run_api
from flows.cluster import close_runner, scheduler_address, task_runner
from flows.credentials import BLOCK_VARIABLE, apply_s3_secret_block
from flows.evaluate import ProgressFn, StageProgress, evaluate
from flows.manifest import spec_dict
from flows.outputs import ESTIMATES_FILE
from flows.version import code_version, version_key

DELIVERY_TABLES = (*TABLES, WIDE_TABLE, ACTIVITY_TABLE)  # every file the validator reads
BATCHES_PER_WORKER = 4
CLAIM_POLL_S = 2.0
log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- plan and execute


def plan_run(input_dir: str | Path, output_url: str, spec: str = "hir", seed: int | None = None,
             bootstrap: int | None = None) -> tuple[storage.RunLayout, dict[str, Any]]:
    """Check the spec, the output URL and the environment settings (:mod:`flows.settings`), then hash
    the inputs and derive the run id; no side effects. ``bootstrap`` replaces the spec's
    ``bootstrap_replicates`` (a quick look)."""
    input_dir = Path(input_dir)
    spec_obj = with_replicates(load_spec(spec), bootstrap)  # every spec problem at once, before any work
    output_url = storage.check_root_url(output_url)  # a root no run can be written to: before hashing
    settings.check_settings()  # a bad BIPDASK_MAX_UNIT_ROWS / BIPDASK_BIP_BLOCK_REPLICATES: before hashing
    if not input_dir.is_dir():
        raise InputError([Problem("delivery", "", "delivery folder not found", 0)])
    seed = spec_obj.seed if seed is None else int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise InputError([Problem("run", "seed", f"must be within 0..{MAX_SEED}", None)])
    hashes = storage.hash_delivery(input_dir, list(DELIVERY_TABLES))
    if not hashes:
        raise InputError([Problem("delivery", "", "no contract tables found", 0)])
    version = code_version()
    key = storage.run_key(hashes, version_key(version), spec_dict(spec_obj), seed)
    run = storage.RunLayout.create(output_url, storage.run_id_from_key(key))
    return run, {"run_key": key, "seed": seed, "input_hashes": hashes, "code_version": version,
                 "spec": spec, "bootstrap": bootstrap, "input_dir": str(input_dir.resolve())}


def run_evaluation(
    *,
    input_dir: str | Path,
    output_url: str,
    seed: int | None = None,
    spec: str = "hir",
    bootstrap: int | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    debug: bool = False,
    batch_size: int | None = None,
    progress: ProgressFn | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> RunResult:
    """Run (or find) the evaluation of the delivery at ``input_dir`` under ``output_url``.

    ``batch_size`` job centres go to one ``compute_model_inputs`` task (default: about
    ``BATCHES_PER_WORKER`` tasks per local worker, or ``DEFAULT_BATCH_SIZE`` on a remote
    cluster); the results do not depend on it. ``progress(stage, done, total)`` is called as the
    stages advance (the CLI draws its bar from it). ``bootstrap`` replaces the spec's B.
    """
    run, plan = plan_run(input_dir, output_url, spec, seed, bootstrap)
    return execute_run(run, plan, workers=workers, dask_address=dask_address, debug=debug, batch_size=batch_size,
                       progress=progress, on_wait=on_wait)


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
    on_wait: Callable[[str], None] | None = None,
) -> RunResult:
    """Compute a planned run once, whoever else asks for the same run key at the same time.

    A committed run is returned as it is (``reused``). Otherwise this process claims the run
    (:func:`bipdask.runtime.claims.claim_run`); while another process holds a live claim it waits
    for that run's commit and then reports it, saying once per holder whose the claim is and
    when it goes stale (``on_wait(line)``; default: a warning on this module's logger). A
    claim whose owner process on this machine is gone is taken over at once. The claim is
    kept alive by a heartbeat thread and released after the commit or a failure (also on
    Ctrl-C or SIGTERM, which the CLI turns into an exception). ``s3_secret_block`` (or
    ``$BIPDASK_S3_SECRET_BLOCK``) names a Prefect Secret block with the S3 credentials
    (:mod:`flows.credentials`).
    """
    if not s3_secret_block and not os.environ.get(BLOCK_VARIABLE) and run.is_committed():
        return load_result(run.root, run.run_id, reused=True)
    with contextlib.ExitStack() as stack:
        api = None
        if s3_secret_block or os.environ.get(BLOCK_VARIABLE):  # the block is read from the API
            api = stack.enter_context(run_api())
            api.wait_ready()
        apply_s3_secret_block(s3_secret_block)  # before any S3 access and the LocalCluster (workers inherit it)
        claim = _wait_for_claim(run, poll_s, on_wait)
        if claim is None:
            return load_result(run.root, run.run_id, reused=True)
        runner = None
        try:
            if run.is_committed():  # committed between our check and our claim
                return load_result(run.root, run.run_id, reused=True)
            if api is None:  # only now: a run waiting for another's claim holds no server
                api = stack.enter_context(run_api())  # the run's own unless one is configured; dies with us
            for layer in storage.RUN_LAYERS:  # an earlier attempt that never committed: start clean
                storage.remove(run.layer(layer))
            storage.remove(run.manifest)
            address = scheduler_address(dask_address)
            n_batches = 0 if address else BATCHES_PER_WORKER * max(1, int(workers or 1))
            runner = task_runner(workers, address, worker_env=api.worker_env())
            flow_timeout = timeouts.flow_timeout_s(timeouts.delivery_megabytes(plan["input_dir"]),
                                                   with_replicates(load_spec(plan["spec"]),
                                                                   plan.get("bootstrap")).bootstrap_replicates)
            flow_fn = evaluate.with_options(task_runner=runner, flow_run_name=f"evaluate-{run.run_id}",
                                            timeout_seconds=flow_timeout)
            configure_logging(debug)
            api.wait_ready()  # while the LocalCluster starts in the background
            with Heartbeat(claim):
                try:
                    flow_fn(input_dir=plan["input_dir"], root=run.root, run_id=run.run_id, run_key=plan["run_key"],
                            spec=plan["spec"], bootstrap=plan.get("bootstrap"), seed=plan["seed"],
                            code_version=plan["code_version"],
                            input_hashes=plan["input_hashes"], n_batches=n_batches, batch_size=int(batch_size or 0),
                            claim_token=claim.token, progress=StageProgress(progress))
                except BipdaskError:
                    raise
                except Exception as exc:  # noqa: BLE001 - cluster/orchestration failure: exit code 3
                    if debug:
                        raise
                    raise InfrastructureError(f"evaluate flow failed ({type(exc).__name__})") from None
        finally:
            close_runner(runner)  # before the API stops: the flow's last state changes go to it
            try:
                claims.release_claim(claim)
            except BipdaskError:
                pass  # a stale claim expires by itself
    return load_result(run.root, run.run_id)


def _wait_for_claim(run: storage.RunLayout, poll_s: float, on_wait: Callable[[str], None] | None
                    ) -> claims.Claim | None:
    """Claim the run, waiting while another process holds a live claim (and saying whose, once
    per holder); None when the run was committed meanwhile."""
    announced = None
    while True:
        if run.is_committed():
            return None
        claim = claims.claim_run(run)
        if claim is not None:
            return claim
        holder = claims.read_claim(run)
        if holder is not None and holder.get("token") != announced:
            announced = holder.get("token")
            (on_wait or log.warning)(f"run {run.run_id} is being computed by another process: its claim is "
                                     f"{claims.describe_claim(holder)}; waiting for its commit")
        time.sleep(poll_s)


class Heartbeat:
    """Refresh a claim every quarter of the stale timeout while a run is computed."""

    def __init__(self, claim: claims.Claim) -> None:
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

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------- the committed run


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
        lines.append(f"estimates (internal): {storage.join(self.url, 'results', ESTIMATES_FILE)}")
        published = (self.manifest.get("outputs") or {}).get("published")
        if published:
            lines.append(f"published estimates: {storage.join(self.url, published)}")
        for rel_url in (self.manifest.get("outputs") or {}).get("report", []):
            lines.append(f"report: {storage.join(self.url, rel_url)}")
        return "\n".join(lines)


def load_result(root: str, run_id: str | None = None, reused: bool = False) -> RunResult:
    """The committed run's estimates, as computed and as published (disclosure control), and its
    manifest."""
    from bipdask.publish.report.build import load_published

    committed = storage.open_run(root, run_id)
    estimates = estimates_frame(committed.read_parquet(f"results/{ESTIMATES_FILE}"))  # checked: sha256
    return RunResult(committed.run_id, committed.url, estimates, committed.manifest, reused=reused,
                     published=load_published(committed).estimates)


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
