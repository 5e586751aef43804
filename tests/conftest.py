"""Fixtures shared across the test folders: the Prefect test API, a pinned code version (run ids
that do not move when the source is edited mid-test) and an S3 endpoint on loopback (moto).

Helpers shared by several test modules are plain modules next to this file: ``_deliveries.py``
(hand-made deliveries and specs), ``fake_runs.py`` (a fake committed run) and ``r_fixtures.py``
(the R reference numbers in ``fixtures/r/``).
"""

from __future__ import annotations

import pytest

from bipdask.runtime import storage


@pytest.fixture(scope="module")
def harness():
    """A temporary Prefect API (``prefect_test_harness``) for the flow runs of one test module."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def pinned_code_version():
    """A fixed code version: run ids must not change if the source is edited mid-test."""
    import flows.run

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flows.run, "code_version", lambda: {"bipdask": "test", "source_sha256": "pinned"})
        yield


@pytest.fixture(scope="module")
def s3_root():
    """An S3 endpoint on loopback (moto), configured through the environment only; set before
    the clusters start so their worker processes inherit it."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
            mp.setenv(name, value)
        for name in ("FSSPEC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        fs, _ = storage.filesystem("s3://bipdask-flow")
        if not fs.exists("bipdask-flow"):  # moto's backend is per process: an earlier module's bucket stays
            fs.mkdir("bipdask-flow")
        yield "s3://bipdask-flow/agency"
    server.stop()
