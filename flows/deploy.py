"""The monthly refresh deployment: a thin wrapper flow over :func:`flows.evaluate.evaluate`.

``monthly_refresh`` first removes what failed or killed runs left under the output root more
than ``gc_older_than`` ago (``bipdask gc``, :mod:`bipdask.runtime.cleanup`: incomplete run
folders with their person-level staged rows, stale temporary files; never a committed run or
one being computed), then plans the run (input hashes → run id, :func:`flows.run.plan_run`)
and, unless that run is already committed, runs ``evaluate`` as a subflow; the result is the
run id either way, so a scheduled rerun on an unchanged delivery is a no-op. Job centres
whose staged inputs did not change since an earlier run under the same output root reuse
its model inputs (the incremental refresh of the ``evaluate`` flow).

Two ways to schedule it (cron ``0 3 2 * *``, Europe/Copenhagen: 03:00 on the 2nd of each
month, after the agency's monthly delivery):

- a work pool: ``prefect work-pool create bipdask-process --type process``, ``prefect deploy
  --all --no-prompt`` with ``prefect.yaml`` (entrypoint ``flows.deploy:monthly_refresh``, the
  installed package: nothing to pull), then ``prefect worker start --pool bipdask-process``
  with ``DASK_ADDRESS`` pointing at a Dask scheduler — what ``infra/compose.yaml``,
  ``infra/k8s/`` and ``infra/local-stack`` run (``infra/stack.py``);
- a single machine: ``python -m flows.deploy --serve --input-dir … --output-url …`` keeps a
  process serving the schedule (``Flow.serve``).
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow, get_run_logger

from bipdask.errors import InputError, Problem
from bipdask.publish.history import sync_history
from bipdask.runtime.cleanup import describe, parse_age, remove_leftovers
from flows.run import execute_run, plan_run

DEPLOYMENT_NAME = "bipdask-monthly"
MONTHLY_CRON = "0 3 2 * *"
TIMEZONE = "Europe/Copenhagen"
WORK_POOL = "bipdask-process"
GC_OLDER_THAN = "1d"  # a failed run's quarantine stays a day for inspection


@flow(name="monthly_refresh", log_prints=False)
def monthly_refresh(input_dir: str, output_url: str, spec: str = "hir", seed: int | None = None,
                    workers: int | None = None, dask_address: str | None = None,
                    s3_secret_block: str | None = None, gc_older_than: str = GC_OLDER_THAN) -> str:
    """Evaluate the delivery at ``input_dir`` into ``output_url`` once; returns the run id.

    Dask: ``dask_address`` or ``DASK_ADDRESS`` when set, else a LocalCluster of ``workers``
    processes. A committed run of the same key (same input hashes, code, spec and seed) is
    reported without recomputing; a run being computed by another process is waited for.
    S3 credentials: the worker's environment, or the Prefect Secret block ``s3_secret_block``
    (:mod:`flows.credentials`). Before the run, incomplete runs and temporary files older than
    ``gc_older_than`` (e.g. ``"1d"``, ``"12h"``) are removed from ``output_url`` and the cross-run
    table ``published/`` is repaired (:func:`bipdask.publish.history.sync_history`).
    """
    from flows.credentials import apply_s3_secret_block

    logger = get_run_logger()
    apply_s3_secret_block(s3_secret_block)  # before hashing/planning: the output may be on S3
    try:
        older_than = parse_age(gc_older_than)
    except ValueError as exc:
        raise InputError([Problem("monthly_refresh", "gc_older_than", str(exc), 0)]) from None
    removed, kept = remove_leftovers(output_url, older_than)
    if removed or kept:
        logger.warning(describe(removed, kept))
    synced = sync_history(output_url)  # a committed run an earlier append missed (also on an unchanged delivery)
    if synced.added or synced.removed or synced.problems:
        logger.warning(synced.describe())
    run, plan = plan_run(input_dir, output_url, spec, seed)
    result = execute_run(run, plan, workers=workers, dask_address=dask_address, on_wait=logger.warning)
    return result.run_id


def main(argv: list[str] | None = None) -> int:
    """``python -m flows.deploy --serve``: serve the monthly schedule from this process."""
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="serve the monthly schedule (blocks)")
    parser.add_argument("--input-dir", required=True, help="the folder the monthly delivery lands in")
    parser.add_argument("--output-url", required=True, help="run storage root (folder or s3://bucket/prefix)")
    parser.add_argument("--spec", default="hir")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--cron", default=MONTHLY_CRON)
    args = parser.parse_args(argv)
    if not args.serve:
        parser.error("nothing to do: pass --serve (or deploy prefect.yaml with `prefect deploy --all`)")
    from prefect.schedules import Cron

    monthly_refresh.serve(
        name=DEPLOYMENT_NAME,
        schedule=Cron(args.cron, timezone=TIMEZONE),
        parameters={"input_dir": args.input_dir, "output_url": args.output_url, "spec": args.spec,
                    "workers": args.workers},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
