"""The cheap CI version of benchmarks/coverage.py: with job-centre × period shocks, tests at the
level where treatment was assigned hold their size and person-level tests do not.

60 null draws of the HIR Table 6 design (97 centres, 15 participating, persons as in the HIR
quantitative report's Table 1). Expected rejection at 5 %: WCR and randomization inference
≈ 5 % (a binomial 60-draw count above 9 has probability < 0.01), person-clustered CR1 far above
(≈ 50 % at a 3 pp shock SD). The full run (1,000 draws, coverage of a planted effect) is
``python benchmarks/coverage.py``; its figures are in benchmarks/results/coverage.json.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "coverage_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "coverage.py")
coverage = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(coverage)


@pytest.fixture(scope="module")
def null_run():
    return coverage.run(draws=60, replicates=199, shock_sd=0.03, effect=0.0, pairs_draws=0)["methods"]


def test_design_based_tests_hold_their_size_under_common_shocks(null_run):
    for method in ("wcr", "randomization", "cr1_jobcentre"):
        assert null_run[method]["draws"] == 60
        assert null_run[method]["rejection_rate"] <= 9 / 60, (method, null_run[method])


def test_person_level_inference_over_rejects_under_common_shocks(null_run):
    assert null_run["cr1_person"]["rejection_rate"] >= 0.25, null_run["cr1_person"]


def test_without_shocks_the_person_level_test_is_fine_too():
    res = coverage.run(draws=40, replicates=99, shock_sd=0.0, effect=0.0, pairs_draws=0)["methods"]
    assert res["cr1_person"]["rejection_rate"] <= 8 / 40, res["cr1_person"]
