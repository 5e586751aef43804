"""HIR Tables 9–10 Cox rows fitted where the rows are: the ``time_varying`` model input stays on
the Dask workers, in partitions of whole job centres, for every Newton step of the fit, of the
wild test's restricted fits and of the replicate blocks.

:func:`time_varying_rows` loads each partition once on a worker, into a Dask actor
(:class:`PartitionActor`, kept for the whole table), and hands the Table 9/10 functions a
:class:`bipdask.analyses.hir.mediators.PartitionedRows` whose :class:`DaskExecutor` calls the
pure per-partition functions of :mod:`bipdask.estimators.cox.source` on those actors. Only
summaries, per-job-centre terms (k, k × k) and per-cluster score sums come back to the reduce
task; the library adds them in job-centre order, so the rows are the same to the last bit on 1 or
N workers and for any partitioning (``docs/methods.md``, HIR Table 9).

Why actors, not ``client.map`` over futures: a fit takes a few hundred sequential round trips
(Newton steps of the fit and of the wild test's restricted fits), and the run's other reduces
occupy the workers' task threads for tens of seconds each; mapped tasks queue behind them (at
scale 1 that made Table 9 take 107 s instead of 3 s), actor calls run in the worker's actor
thread at once. The reduce task runs on a worker itself: it gets the worker's client
(``distributed.get_client``), submits the actors with high priority, then *secedes* while it
drives the fits (as ``distributed.worker_client`` does, without its final rejoin) — on a
one-worker, one-thread cluster a task that kept its thread while waiting for tasks would wait
forever.
(``prefect_dask.get_dask_client`` opens a plain ``Client`` inside a task and does not secede.)
Outside a Dask worker (a task body called directly, tests) the same partitions are loaded and
fitted in this process.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bipdask.analyses.hir.mediators import PartitionedRows, cox_replicate_window, sorted_rows
from bipdask.estimators.cox.replicates import REPLICATE_BLOCK
from bipdask.estimators.cox.source import LocalExecutor
from bipdask.inference.config import Inference
from bipdask.prepare.hir import with_pre_belief
from bipdask.runtime import storage

PARTITIONS_PER_WORKER = 1
PRIORITY = 100  # the partitions' actors start before the reduces queued meanwhile
WINDOWS_PER_WORKER = 2  # replicate windows per worker and table


class PartitionActor:
    """A Dask actor holding one partition of rows and what the fit derives from it.

    Method calls run in the worker's actor thread, not in its task threads, so a Newton step
    never waits behind the other reduce tasks of the run that occupy those threads. A derived
    object lives in a slot named after its source and function; deriving again replaces it (and
    everything derived from it): the fits of a table are sequential, so only the latest model's
    strata and replicate block are kept. A handle carries the slot's generation, so a replaced
    object is never used by mistake.
    """

    def __init__(self, urls: Sequence[str], belief_survey: pd.DataFrame | None = None) -> None:
        self.slots: dict[str, tuple[int, Any]] = {"": (0, load_partition(urls, belief_survey))}
        self.generation = 0

    def _get(self, slot: str, generation: int) -> Any:
        held, obj = self.slots.get(slot, (None, None))
        if held != generation:
            raise RuntimeError(f"partition slot {slot!r} was replaced")
        return obj

    # Newton's trial steps may overflow exp() before step halving rejects them: the one-frame fit
    # silences those RuntimeWarnings around the fits (mediators._cox_table), which cannot reach the
    # actor's thread; numpy's error state is per thread, so it is set here for each call.
    def apply(self, fn: Callable, slot: str, generation: int, kwargs: dict) -> Any:
        with np.errstate(all="ignore"):
            return fn(self._get(slot, generation), **kwargs)

    def derive(self, fn: Callable, slot: str, generation: int, kwargs: dict) -> tuple[str, int]:
        with np.errstate(all="ignore"):
            obj = fn(self._get(slot, generation), **kwargs)
        new = f"{slot}/{fn.__name__}"
        for old in [k for k in self.slots if k == new or k.startswith(new + "/")]:
            del self.slots[old]
        self.generation += 1
        self.slots[new] = (self.generation, obj)
        return new, self.generation


@dataclass(frozen=True)
class ActorPart:
    """A handle to an object held by a :class:`PartitionActor`."""

    actor: Any
    slot: str = ""
    generation: int = 0


class DaskExecutor:
    """An :class:`~bipdask.estimators.cox.source.Executor` over :class:`PartitionActor` handles:
    every partition's call is sent at once, the results come back in partition order."""

    def __init__(self, client: Any = None) -> None:
        self.client = client

    def map(self, fn: Callable, parts: Sequence[ActorPart], **kwargs) -> list:
        calls = [p.actor.apply(fn, p.slot, p.generation, kwargs) for p in parts]
        return [c.result() for c in calls]

    def derive(self, fn: Callable, parts: Sequence[ActorPart], **kwargs) -> list:
        calls = [p.actor.derive(fn, p.slot, p.generation, kwargs) for p in parts]
        return [ActorPart(p.actor, *c.result()) for p, c in zip(parts, calls)]


def load_partition(urls: Sequence[str], belief_survey: pd.DataFrame | None = None) -> pd.DataFrame:
    """One partition: the ``time_varying`` files of some job centres, with the pre-survey belief
    when ``belief_survey`` is given (Table 10), in the order the fits see them."""
    frame = storage.read_parquet(list(urls))
    if belief_survey is not None:
        frame = with_pre_belief(frame, belief_survey)
    return sorted_rows(frame)


def _jobcentre_key(url: str) -> str:
    """The job centre part of a model-input file name (``jc-00101.parquet`` and its parts
    ``jc-00101-p01of03.parquet``, :func:`bipdask.prepare.partitions.unit_name`)."""
    m = re.search(r"(jc-\d+)(?:-p\d+of\d+)?\.parquet$", str(url))
    return m.group(1) if m else str(url)


def partition_urls(urls: Sequence[str], n_partitions: int) -> list[list[str]]:
    """The model-input files (in unit order) in at most ``n_partitions`` contiguous groups, each
    holding whole job centres: a job centre cut into parts on the map side is one stratum, so its
    parts stay together."""
    by_jc: list[list[str]] = []
    for url in urls:
        if by_jc and _jobcentre_key(by_jc[-1][-1]) == _jobcentre_key(url):
            by_jc[-1].append(url)
        else:
            by_jc.append([url])
    n = max(1, min(int(n_partitions), len(by_jc)))
    return [[u for i in chunk for u in by_jc[i]] for chunk in np.array_split(np.arange(len(by_jc)), n) if chunk.size]


def task_client() -> Any | None:
    """The worker's client inside a task on a Dask worker, else None."""
    try:
        from distributed import get_client, get_worker

        get_worker()
    except (ImportError, ValueError):
        return None
    return get_client()


@contextlib.contextmanager
def time_varying_rows(urls: Sequence[str], belief_survey: pd.DataFrame | None = None,
                      n_partitions: int | None = None, executor: Callable[[Any], Any] = DaskExecutor
                      ) -> Iterator[PartitionedRows]:
    """The ``time_varying`` rows at ``urls`` (one file per job centre) as partitions held by actors
    on the Dask workers — or in this process outside a worker — for
    :func:`~bipdask.analyses.hir.mediators.table9` and :func:`~bipdask.analyses.hir.mediators.table10`.

    ``n_partitions`` defaults to :data:`PARTITIONS_PER_WORKER` per worker (the rows do not depend
    on it); ``executor`` makes the executor of a client. The calling task submits the actors
    first (high priority), then secedes while it drives the fits — so the slot it frees goes to
    the actors, and on a one-thread worker nothing waits for the task's own thread. It does not
    rejoin the worker's threads: ``rejoin`` waits for a free thread, i.e. for one of the run's
    longest reduces to end (at scale 1 that added ~60 s to Tables 9 and 10), and what is left of
    the task after the fits is small — so the callers fit the Cox rows last. The actors are
    released on exit.
    """
    client = task_client()
    if client is None:
        groups = partition_urls(urls, n_partitions or 1)
        yield PartitionedRows([load_partition(g, belief_survey) for g in groups], LocalExecutor())
        return
    from distributed import secede

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    n = n_partitions or PARTITIONS_PER_WORKER * n_workers
    futures = [client.submit(PartitionActor, g, belief_survey, actor=True, pure=False, priority=PRIORITY)
               for g in partition_urls(urls, n)]
    secede()
    try:
        runner = _window_runner(client, list(urls), belief_survey, WINDOWS_PER_WORKER * n_workers)
        rows = PartitionedRows([ActorPart(f.result()) for f in futures], executor(client), runner)
        yield rows
    finally:
        client.cancel(futures)
        del futures


def replicate_windows(n_replicates: int, n_windows: int, block: int = REPLICATE_BLOCK) -> list[range]:
    """0 … B − 1 in at most ``n_windows`` contiguous windows cut at multiples of ``block`` (the Cox
    bootstrap's replicate blocks), so that no block is solved twice."""
    n_blocks = -(-int(n_replicates) // block)
    cuts = [min(int(c) * block, n_replicates) for c in np.linspace(0, n_blocks, max(1, min(n_windows, n_blocks)) + 1)
            .round().astype(int)]
    return [range(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def replicate_window_task(urls: Sequence[str], belief_survey: pd.DataFrame | None,
                          models: Sequence[tuple[tuple[str, ...], pd.Series]], inference: Inference,
                          window: range) -> list[np.ndarray]:
    """One window of the Cox pairs replicates of a table's models, on all its rows in this task
    (:func:`bipdask.analyses.hir.mediators.cox_replicate_window`): no round trip per Newton step."""
    return cox_replicate_window(load_partition(urls, belief_survey), models, inference, window)


class CallActor:
    """A Dask actor that runs functions in a thread of its own: work handed to a worker whose task
    threads are all taken by long reduces (Table 8, the BIP blocks) starts at once instead of
    queueing behind them. Not in the worker's one actor thread either: a call lasts minutes at large
    B, and the partitions' Newton steps of the other Cox table (:class:`PartitionActor`) must not
    wait behind it (at B = 9,999 on the loaded machine Table 10 took 1,653 s when they shared it)."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(1, thread_name_prefix="bipdask-call")

    async def call(self, fn: Callable, args: tuple) -> Any:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self.pool, _quiet_call, fn, args)

    def __del__(self) -> None:
        self.pool.shutdown(wait=False)


def _quiet_call(fn: Callable, args: tuple) -> Any:
    with np.errstate(all="ignore"):  # numpy's error state is per thread
        return fn(*args)


def on_every_worker(client: Any, calls: Sequence[tuple[Callable, tuple]]) -> list[Any]:
    """``[fn(*args) for fn, args in calls]``, the calls dealt round-robin to one :class:`CallActor`
    per worker (each worker's calls run one after another in its actor thread), results in call
    order; the actors are released at the end. The results do not depend on where a call ran."""
    workers = sorted(client.scheduler_info().get("workers", {}))
    futures = [client.submit(CallActor, actor=True, pure=False, priority=PRIORITY,
                             **({"workers": [w], "allow_other_workers": False} if w else {}))
               for w in (workers or [None])]
    try:
        actors = [f.result() for f in futures]
        pending = [actors[i % len(actors)].call(fn, args) for i, (fn, args) in enumerate(calls)]
        return [p.result() for p in pending]
    finally:
        client.cancel(futures)


def _window_runner(client: Any, urls: list[str], belief_survey: pd.DataFrame | None, n_windows: int) -> Callable:
    """A replicate runner (:class:`~bipdask.analyses.hir.mediators.PartitionedRows`) that cuts the B
    replicates into windows on block boundaries and computes them on every worker
    (:func:`on_every_worker`); the windows' rows are concatenated in replicate order, so the
    replicates are those of one run of all B, bit for bit, on any number of workers."""

    def run(models: Sequence[tuple[tuple[str, ...], pd.Series]], inference: Inference) -> list[np.ndarray]:
        windows = replicate_windows(int(inference.replicates), n_windows)
        parts = on_every_worker(client, [(replicate_window_task, (urls, belief_survey, list(models), inference, w))
                                         for w in windows])
        return [np.concatenate([p[i] for p in parts]) for i in range(len(models))]

    return run
