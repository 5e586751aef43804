"""Fixtures shared by the test modules that run flows."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def harness():
    """A temporary Prefect API (``prefect_test_harness``) for the flow runs of one test module."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
