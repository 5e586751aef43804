"""Summaries of pairs-cluster bootstrap replicates: standard errors, percentile intervals, p-values.

Every estimator that draws replicates (:mod:`bipdask.inference.bootstrap` weights) returns its
B × k replicate estimates wrapped in one :class:`BootstrapSummary`, so the results' tables
(:mod:`bipdask.estimators.results`) and the analyses read bootstrap SEs, percentile CIs and
p-values the same way; replicates that failed to converge are NaN rows, counted in ``n_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BootstrapSummary:
    """Replicates of the parameters and their summaries (SE, percentile CI, p-value).

    ``replicates`` has one row per replicate and one column per parameter. The p-value is the
    share of centred replicates at least as far from zero as the estimate (two-sided), with
    the usual +1 correction: (1 + #{|θ*_b − θ̂| ≥ |θ̂|}) / (B + 1).
    """

    replicates: pd.DataFrame
    estimate: pd.Series
    scheme: str
    seed: int
    n_failed: int = 0

    @property
    def se(self) -> pd.Series:
        return self.replicates.std(ddof=1)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        lo, hi = np.nanquantile(self.replicates.to_numpy(), [alpha / 2, 1 - alpha / 2], axis=0)
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.replicates.columns)

    @property
    def p_value(self) -> pd.Series:
        reps = self.replicates.to_numpy()
        est = self.estimate.reindex(self.replicates.columns).to_numpy()
        far = np.abs(reps - est) >= np.abs(est)
        b = np.isfinite(reps).sum(axis=0)
        return pd.Series((1 + far.sum(axis=0)) / (b + 1), index=self.replicates.columns)


def summarise(replicates: np.ndarray, estimate: pd.Series, scheme: str, seed: int) -> BootstrapSummary:
    """Wrap a (B × k) replicate array; replicates that failed to converge are NaN rows."""
    failed = int(np.sum(~np.all(np.isfinite(replicates), axis=1)))
    frame = pd.DataFrame(replicates, columns=estimate.index)
    return BootstrapSummary(frame, estimate, scheme, seed, failed)
