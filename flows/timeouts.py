"""Timeouts of the ``evaluate`` flow and its tasks, derived from the spec (its bootstrap
replicates B) and the delivery's size, with a wide margin: a hung task fails the run (exit 3,
the claim released) instead of a heartbeat keeping it alive forever.

Measured (benchmarks/results/pipeline.json): a scale-1 delivery (3.6 million weeks rows, about
6 MB of Parquet) with B = 999 on 2 workers takes 9.6 s to validate and at most 23 s in any one
stage (the model inputs of all job centres; the longest reduce 19 s). A task may take
``MARGIN`` × (``BASE_S`` + ``S_PER_MB`` × MB × max(1, B / 999)) seconds: 600 s at scale 1,
about an hour at scale 10. The flow may take ``FLOW_TASKS`` task timeouts plus
``STARTUP_S`` (the cluster's start, Prefect's temporary server).

Operators override them with ``BIPDASK_TASK_TIMEOUT_S`` and ``BIPDASK_FLOW_TIMEOUT_S``.

Prefect enforces a task's timeout in the worker thread running it, which a call blocked in C
(a stuck read) only notices when it returns; the flow's timeout, enforced in the flow's main
thread, ends the run in any case, and closing the LocalCluster stops the stuck worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bipdask.errors import InputError, Problem

MARGIN = 10
BASE_S = 30.0
S_PER_MB = 5.0
REFERENCE_REPLICATES = 999
FLOW_TASKS = 6  # stages that run one after another: validate, model inputs, linkage, reduces, report, commit
STARTUP_S = 600.0
TASK_TIMEOUT_VARIABLE = "BIPDASK_TASK_TIMEOUT_S"
FLOW_TIMEOUT_VARIABLE = "BIPDASK_FLOW_TIMEOUT_S"


def _override(name: str) -> float | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise InputError([Problem("environment", name, "must be a positive number of seconds", None)])
    return seconds


def delivery_megabytes(input_dir: str | os.PathLike) -> float:
    """Size of every file under the delivery folder, MB (10^6 bytes)."""
    return sum(p.stat().st_size for p in Path(input_dir).rglob("*") if p.is_file()) / 1e6


def task_timeout_s(delivery_mb: float, replicates: int) -> float:
    """The longest any one task may run, seconds (``$BIPDASK_TASK_TIMEOUT_S`` if set)."""
    override = _override(TASK_TIMEOUT_VARIABLE)
    if override is not None:
        return override
    work = max(1.0, int(replicates or 0) / REFERENCE_REPLICATES)
    return round(MARGIN * (BASE_S + S_PER_MB * max(0.0, delivery_mb) * work), 1)


def flow_timeout_s(delivery_mb: float, replicates: int) -> float:
    """The longest a run's flow may take, seconds (``$BIPDASK_FLOW_TIMEOUT_S`` if set)."""
    override = _override(FLOW_TIMEOUT_VARIABLE)
    if override is not None:
        return override
    return round(FLOW_TASKS * task_timeout_s(delivery_mb, replicates) + STARTUP_S, 1)


def set_task_timeouts(tasks: Iterable[Any], seconds: float) -> None:
    """Give each Prefect task ``seconds`` as its ``timeout_seconds`` (read when a run of it starts;
    the task travels to the worker with it)."""
    for task in tasks:
        task.timeout_seconds = float(seconds)
