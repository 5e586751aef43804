"""flows.cluster: the LocalCluster the flow starts serves the Dask dashboard its link points at,
listens on loopback only unless asked otherwise, and its workers are told the run's Prefect API."""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.parse
import urllib.request

import psutil
import pytest

from flows import cluster
from flows.cluster import close_runner, task_runner


@pytest.mark.dask
def test_the_local_cluster_dashboard_answers():
    """The link the flow logs (``Dask dashboard: …``) must lead to the dashboard, which
    distributed serves only with bokeh installed: without it ``/status`` answers 200 with
    "Dask needs bokeh>=3.1.0" and ``/individual-plots.json`` lists no plots."""
    runner = task_runner(workers=1)
    try:
        cluster = runner.cluster_class()
        # on loopback, whatever host name the link carries
        base = f"http://127.0.0.1:{urllib.parse.urlsplit(cluster.dashboard_link).port}"
        with urllib.request.urlopen(f"{base}/status", timeout=30) as page:
            assert page.status == 200
            assert b"needs bokeh" not in page.read()
        with urllib.request.urlopen(f"{base}/individual-plots.json", timeout=30) as plots:
            assert plots.status == 200
            assert "Individual Task Stream" in json.loads(plots.read())
    finally:
        close_runner(runner)


def _listening(pids: set[int]) -> list[str]:
    """The addresses the given processes listen on (TCP)."""
    return [c.laddr.ip for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


@pytest.mark.dask
def test_the_local_cluster_listens_on_loopback_only_and_gives_its_workers_the_runs_api(monkeypatch):
    from distributed import Client

    for name in (cluster.HOST_VARIABLE, cluster.DASHBOARD_VARIABLE, cluster.ADDRESS_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(cluster.WORKER_MEMORY_VARIABLE, "2GiB")
    api = "http://127.0.0.1:1/api"
    runner = cluster.task_runner(1, worker_env={"PREFECT_API_URL": api})
    local = runner.cluster_class()
    try:
        with Client(local, set_as_default=False) as client:
            in_worker = client.run(lambda: __import__("os").environ.get("PREFECT_API_URL"))
            assert set(in_worker.values()) == {api}
            malloc = client.run(lambda: {k: __import__("os").environ.get(k)
                                         for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")})
            # an explicit per-worker limit (2GiB above): Dask's own setting, set before the spawn
            assert list(malloc.values()) == [{"MALLOC_MMAP_THRESHOLD_": str(128 << 10),
                                              "MALLOC_TRIM_THRESHOLD_": "65536"}]
            pids = {os.getpid(), *client.run(os.getpid).values()}
            assert local.dashboard_link.startswith("http://127.0.0.1:")
        addresses = _listening(pids)
        assert len(addresses) >= 3  # scheduler, dashboard, worker (and its nanny)
        assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
    finally:
        cluster.close_runner(runner)


def test_the_workers_malloc_setting_adds_to_dasks_and_yields_to_the_users():
    import dask

    assert cluster.worker_pre_spawn_env()["MALLOC_MMAP_THRESHOLD_"] == str(32 << 20)
    assert "MALLOC_TRIM_THRESHOLD_" in cluster.worker_pre_spawn_env()  # Dask's own stays
    assert cluster.worker_pre_spawn_env(explicit_memory_limit=True)["MALLOC_MMAP_THRESHOLD_"] == str(128 << 10)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {"MALLOC_MMAP_THRESHOLD_": 1 << 20}}):
        assert cluster.worker_pre_spawn_env() == {"MALLOC_MMAP_THRESHOLD_": 1 << 20}


@pytest.mark.dask
def test_workers_under_the_default_memory_limit_get_the_malloc_setting_before_the_spawn(monkeypatch):
    from distributed import Client

    for name in (cluster.ADDRESS_VARIABLE, cluster.WORKER_MEMORY_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    runner = cluster.task_runner(1)
    try:
        with Client(runner.cluster_class(), set_as_default=False) as client:
            env = client.run(lambda: __import__("os").environ.get("MALLOC_MMAP_THRESHOLD_"))
        assert list(env.values()) == [str(32 << 20)]
    finally:
        cluster.close_runner(runner)


def test_the_listening_interface_is_the_users_choice(monkeypatch):
    monkeypatch.delenv(cluster.HOST_VARIABLE, raising=False)
    monkeypatch.delenv(cluster.DASHBOARD_VARIABLE, raising=False)
    assert cluster.listen_addresses() == {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    monkeypatch.setenv(cluster.HOST_VARIABLE, "0.0.0.0")
    assert cluster.listen_addresses() == {"host": "0.0.0.0", "dashboard_address": "0.0.0.0:0"}
    monkeypatch.setenv(cluster.DASHBOARD_VARIABLE, "127.0.0.1:8787")
    assert cluster.listen_addresses()["dashboard_address"] == "127.0.0.1:8787"
