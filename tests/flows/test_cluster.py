"""flows.cluster: the LocalCluster the flow starts serves the Dask dashboard its link points at."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

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
