"""Checks of an estimator over many small simulated datasets from a test's own DGP.

One draw's interval covering the planted truth is luck (it fails one time in twenty for a correct
estimator, and passes for a biased one more often than not); over R draws two properties hold for a
correct estimator with overwhelming probability and fail for one biased by a fraction of an SE:

* the mean estimate lies within 3 Monte-Carlo SEs (SD of the estimates / √R) of the truth
  (false failure 0.27 % per parameter if the estimator is unbiased);
* the share of 95 % intervals covering the truth lies in the two-sided binomial band of
  :func:`coverage_band` (false failure at most ``false_failure`` per parameter).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def coverage_band(draws: int, level: float = 0.95, false_failure: float = 1e-4) -> tuple[int, int]:
    """(k_lo, k_hi): an interval of exact coverage ``level`` covers in k_lo ≤ X ≤ k_hi of ``draws``
    independent draws except with probability ≤ ``false_failure`` (split equally over both tails)."""
    lo = int(stats.binom.ppf(false_failure / 2, draws, level))  # P(X < lo) < false_failure / 2
    hi = int(stats.binom.isf(false_failure / 2, draws, level))  # P(X > hi) ≤ false_failure / 2
    return lo, hi


def assert_recovers(estimates: np.ndarray, lower: np.ndarray, upper: np.ndarray, truth: float,
                    name: str = "", false_failure: float = 1e-4) -> None:
    """Mean of ``estimates`` (one per draw) within 3 MC SEs of ``truth`` and the coverage of
    [lower, upper] within :func:`coverage_band`."""
    est = np.asarray(estimates, dtype=float)
    draws = len(est)
    mc_se = est.std(ddof=1) / np.sqrt(draws)
    assert abs(est.mean() - truth) < 3 * mc_se, (name, est.mean(), truth, mc_se)
    covered = int(np.sum((np.asarray(lower) < truth) & (truth < np.asarray(upper))))
    lo, hi = coverage_band(draws, 0.95, false_failure)
    assert lo <= covered <= hi, (name, covered, draws, (lo, hi))
