"""Where the tasks run: a DaskTaskRunner on an existing scheduler or on a LocalCluster started
in the background (:class:`PrestartedLocalCluster`), its worker memory limit, the interface it
listens on (loopback unless asked otherwise: its dashboard has no authentication), and the Dask
dashboard link of a running flow."""

from __future__ import annotations

import importlib
import os
from typing import Any

from prefect_dask import DaskTaskRunner

WORKER_MEMORY_VARIABLE = "BIPDASK_WORKER_MEMORY"  # e.g. "8GiB"; "0" = no limit
ADDRESS_VARIABLE = "DASK_ADDRESS"
HOST_VARIABLE = "BIPDASK_CLUSTER_HOST"  # the LocalCluster's scheduler, workers and dashboard; default loopback
DASHBOARD_VARIABLE = "BIPDASK_DASHBOARD_ADDRESS"  # the dashboard alone, e.g. "0.0.0.0:8787"
DEFAULT_HOST = "127.0.0.1"
# glibc's mmap threshold in the LocalCluster's workers, bytes. Dask's nanny starts workers with
# MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's mmap threshold at 128 KiB: every temporary
# array above that is mapped, page-faulted and unmapped anew (at scale 30, 428 s of system time
# against 756 s of user time). Up to 32 MiB they now come from the heap; larger ones, the rows'
# matrices, are still returned to the system when freed. Scale 1, B = 9,999, person pairs on 2
# workers: 214 -> 136-154 s, same bytes. Only under the default memory limit: the heap keeps freed
# temporaries, and at scale 30 under an explicit 2 GiB limit the workers were restarted
# (``docs/architecture.md#workers-memory``).
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20)}
# under an explicit limit: glibc's default threshold, the one Dask's trim setting pins (set, not
# left out: the nanny also writes the variables into this process's environment, which later
# clusters of the same process would inherit)
LIMITED_WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(128 << 10)}
_USER_MALLOC = {k for k in WORKER_MALLOC_ENV if k in os.environ}  # the user's own setting wins


def scheduler_address(dask_address: str | None = None) -> str | None:
    """The scheduler to use: ``dask_address``, else ``$DASK_ADDRESS``; ``None``: a LocalCluster."""
    return dask_address or os.environ.get(ADDRESS_VARIABLE) or None


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
        import dask
        from distributed import Client

        env = worker_pre_spawn_env(explicit_memory_limit=bool(os.environ.get(WORKER_MEMORY_VARIABLE)))
        # the nanny lets this process's environment override its config, and writes the config
        # into it: a variable an earlier cluster of this process left there would win over ours
        os.environ.update({k: str(v) for k, v in env.items() if k in WORKER_MALLOC_ENV and k not in _USER_MALLOC})
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
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


def worker_pre_spawn_env(explicit_memory_limit: bool = False) -> dict[str, Any]:
    """The environment the nannies set before spawning a worker: Dask's
    ``distributed.nanny.pre-spawn-environ`` with :data:`WORKER_MALLOC_ENV` where it does not set
    those variables itself (a user's Dask config or environment wins), unless the run sets an explicit per-worker
    memory limit (:data:`WORKER_MEMORY_VARIABLE`): then :data:`LIMITED_WORKER_MALLOC_ENV`, Dask's
    behaviour, which keeps peaks lowest."""
    import dask

    own = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default=None) or {})
    return {**(LIMITED_WORKER_MALLOC_ENV if explicit_memory_limit else WORKER_MALLOC_ENV), **own}


def default_worker_memory() -> int:
    """Per-worker memory limit of the LocalCluster, bytes: 90 % of the machine's RAM.

    Not Dask's even share (RAM / workers): the reduces differ in size, and one of them (HIR
    Table 8 at scale 10: ~14 GB) needs more than half of a 24 GiB machine while the other
    worker's tasks are small — an even share gets that worker killed. The whole tree's peak is
    what has to fit (measured: 14.3 GiB at scale 10 on 2 workers).
    """
    import psutil

    return int(psutil.virtual_memory().total * 0.9)


def listen_addresses() -> dict[str, str]:
    """Where a LocalCluster listens: ``host`` (scheduler and workers) and ``dashboard_address``.

    127.0.0.1 unless ``$BIPDASK_CLUSTER_HOST`` names another interface (``0.0.0.0``: every one);
    the dashboard on a free port of that host unless ``$BIPDASK_DASHBOARD_ADDRESS`` says
    otherwise. The dashboard has no authentication and shows task names and timings: it is not
    for the network by default.
    """
    host = os.environ.get(HOST_VARIABLE) or DEFAULT_HOST
    return {"host": host, "dashboard_address": os.environ.get(DASHBOARD_VARIABLE) or f"{host}:0"}


def task_runner(workers: int | None = None, dask_address: str | None = None,
                worker_env: dict[str, str] | None = None) -> DaskTaskRunner:
    """A DaskTaskRunner on an existing scheduler (``dask_address`` or ``$DASK_ADDRESS``) or a fresh
    LocalCluster of ``workers`` processes (started now, in the background, its workers importing
    the tasks module: :class:`PrestartedLocalCluster`), listening on :func:`listen_addresses`,
    its workers' processes given ``worker_env`` (the run's Prefect API, :mod:`flows.api_server`)."""
    address = scheduler_address(dask_address)
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_class=PrestartedLocalCluster(
        n_workers=max(1, int(workers or 1)), threads_per_worker=1, processes=True, **listen_addresses(),
        env=dict(worker_env or {}), memory_limit=os.environ.get(WORKER_MEMORY_VARIABLE) or default_worker_memory()))


def close_runner(runner: DaskTaskRunner | None) -> None:
    """Close the LocalCluster a runner of :func:`task_runner` started, if the flow did not."""
    if runner is not None and isinstance(runner.cluster_class, PrestartedLocalCluster):
        runner.cluster_class.close()


def dashboard_link() -> str | None:
    """The Dask dashboard of the cluster this flow run's task runner is connected to, if any."""
    try:
        from prefect.context import FlowRunContext

        return FlowRunContext.get().task_runner.client.dashboard_link  # connects now, as the first task would
    except Exception:  # noqa: BLE001 - no context, no client, no dashboard: nothing to show
        return None


def _worker_transfers(dask_worker: Any) -> dict[str, float]:
    """On a worker: bytes it sent to other workers, and its memory now (Dask's own counters)."""
    import psutil

    return {"outgoing_bytes": float(getattr(dask_worker, "transfer_outgoing_bytes_total", 0) or 0),
            "rss_bytes": float(psutil.Process().memory_info().rss)}


def cluster_summary() -> dict[str, Any] | None:
    """What the flow run's Dask cluster did, for the manifest: the number of workers, the bytes the
    workers sent each other (data moved between workers, not to the flow) and each worker's
    memory at the end. ``None`` without a Dask client (no cluster, or it cannot be reached)."""
    try:
        from prefect.context import FlowRunContext

        client = FlowRunContext.get().task_runner.client
        per_worker = client.run(_worker_transfers)
    except Exception:  # noqa: BLE001 - the summary is a convenience; the run does not depend on it
        return None
    stats = [per_worker[w] for w in sorted(per_worker)]
    return {"workers": len(stats), "bytes_between_workers": int(sum(s["outgoing_bytes"] for s in stats)),
            "worker_rss_mib_at_end": [round(s["rss_bytes"] / 2**20, 1) for s in stats]}


def worker_count() -> int:
    """The number of Dask workers of this flow run's cluster (1 when it cannot be asked)."""
    try:
        from prefect.context import FlowRunContext

        return max(1, len(FlowRunContext.get().task_runner.client.scheduler_info()["workers"]))
    except Exception:  # noqa: BLE001 - no context or no client: plan for one worker
        return 1
