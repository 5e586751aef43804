"""Summaries of pairs-cluster bootstrap replicates: standard errors, percentile intervals, p-values.

Every estimator that draws replicates (:mod:`bipdask.inference.bootstrap` weights) returns its
B × k replicate estimates wrapped in one :class:`BootstrapSummary`, so the results' tables
(:mod:`bipdask.estimators.results`) and the analyses read bootstrap SEs, percentile CIs and
p-values the same way; replicates that failed (a resample that cannot be fitted) are NaN rows,
counted in ``n_failed``.

**Failed replicates are not dropped** (:func:`replicate_summary`). They are not random: they
are the tail draws, the resamples with an empty or event-free cell. So each one counts as
extreme in *both* tails: below every successful replicate for the lower percentile end, above
every one for the upper end, and as at least as far from the estimate as the estimate is from
zero for the p-value. With no failures these are the usual percentile interval and p-value;
with F failures of B they are never narrower than the interval and p-value any values of the
failed replicates could have given. An end that the failures reach (F > (B − 1)·α/2) is
unbounded (±inf; published as null). Above :data:`MAX_FAILURE_SHARE` (1 %) of failed
replicates the SE, interval and p-value are withheld (NaN): the SE of the survivors is too
small and has no conservative version. Without any successful replicate everything is NaN
(never the p-value 1/(0 + 1) = 1). Methods: ``docs/methods.md#failed-bootstrap-replicates``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_FAILURE_SHARE = 0.01  # above this share of failed replicates SE, CI and p-value are withheld


def failure_share(replicates: np.ndarray) -> np.ndarray:
    """Per column of a (B × k) replicate array, the share of replicates that failed (non-finite);
    NaN without replicates."""
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.shape[0] == 0:
        return np.full(reps.shape[1:], np.nan)
    return (~np.isfinite(reps)).mean(axis=0)


def conservative_percentile_interval(replicates: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column with failed (non-finite) replicates as extreme in both tails.

    The B replicates are sorted with the F failures at −∞ for the lower end and at +∞ for the
    upper end, and the α/2 and 1 − α/2 quantiles read as NumPy's default (linear) quantile of all
    B does: the lower end sits at position (B − 1)·α/2 − F among the n = B − F successes, the
    upper end at (B − 1)·(1 − α/2). With F = 0 this is ``np.quantile``; an end that falls on a
    failure is −inf / +inf; with no success both are NaN.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    b = reps.shape[0]
    k = reps.shape[1] if reps.ndim > 1 else 1
    reps = reps.reshape(b, k)
    lo, hi = np.full(k, np.nan), np.full(k, np.nan)
    for j in range(k):
        ok = np.sort(reps[np.isfinite(reps[:, j]), j])
        n = ok.size
        if n == 0:
            continue
        grid = np.arange(n)
        lower_pos = (b - 1) * alpha / 2 - (b - n)
        upper_pos = (b - 1) * (1 - alpha / 2)
        lo[j] = -np.inf if lower_pos < 0 else float(np.interp(lower_pos, grid, ok))
        hi[j] = np.inf if upper_pos > n - 1 else float(np.interp(upper_pos, grid, ok))
    return lo, hi


def conservative_p_value(replicates: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value per column, failed replicates counted as extreme:
    (1 + #{|θ*_b − θ̂| ≥ |θ̂|} + F) / (B + 1); NaN when no replicate succeeded."""
    reps = np.asarray(replicates, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    finite = np.isfinite(reps)
    with np.errstate(invalid="ignore"):
        far = (np.abs(reps - est) >= np.abs(est)) & finite
    b = reps.shape[0]
    p = (1 + far.sum(axis=0) + (~finite).sum(axis=0)) / (b + 1)
    return np.where(finite.any(axis=0), p, np.nan)


def replicate_se(replicates: np.ndarray) -> np.ndarray:
    """Per column of a (B × k) replicate array, the SD (ddof 1) of its finite replicates; NaN with
    fewer than two.

    Column by column on a contiguous copy of its finite values, so a column's SE is the same
    bits whichever other columns it is summarised with (a whole-array ``nanstd`` sums a column
    in a different order when it stands alone): an analysis that summarises its columns in groups
    and a combine of replicate blocks that summarises them all at once publish the same values.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps.reshape(reps.shape[0], -1)
    se = np.full(reps.shape[1], np.nan)
    for j in range(reps.shape[1]):
        col = reps[:, j]
        ok = col[np.isfinite(col)]
        if ok.size >= 2:
            se[j] = float(np.std(ok, ddof=1))
    return se


def replicate_summary(replicates: np.ndarray, estimate: np.ndarray, alpha: float = 0.05,
                      max_failure_share: float = MAX_FAILURE_SHARE) -> pd.DataFrame:
    """SE, conservative percentile CI, conservative p-value and failure share per column of a
    (B × k) replicate array (one row per column): the one rule every bootstrap-based estimate
    follows (module docstring). Columns ``se``, ``ci_low``, ``ci_high``, ``p_value``,
    ``failure_share``, ``withheld`` (the share exceeded ``max_failure_share``: se, CI and p NaN).
    """
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps.reshape(reps.shape[0], -1)
    share = failure_share(reps)
    lo, hi = conservative_percentile_interval(reps, alpha)
    p = conservative_p_value(reps, np.asarray(estimate, dtype=np.float64).reshape(-1))
    se = replicate_se(reps)
    withheld = ~(share <= max_failure_share)  # NaN share (no replicates) is withheld too
    for v in (se, lo, hi, p):
        v[withheld] = np.nan
    return pd.DataFrame({"se": se, "ci_low": lo, "ci_high": hi, "p_value": p, "failure_share": share,
                         "withheld": withheld})


@dataclass(frozen=True)
class BootstrapSummary:
    """Replicates of the parameters and their summaries (SE, percentile CI, p-value).

    ``replicates`` has one row per replicate and one column per parameter. The p-value is the
    share of centred replicates at least as far from zero as the estimate (two-sided), with
    the usual +1 correction: (1 + #{|θ*_b − θ̂| ≥ |θ̂|}) / (B + 1). Failed replicates count as
    extreme, and above 1 % of them SE, CI and p-value are NaN (:func:`replicate_summary`).
    """

    replicates: pd.DataFrame
    estimate: pd.Series
    scheme: str
    seed: int
    n_failed: int = 0

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """:func:`replicate_summary` of the replicates, indexed by parameter."""
        est = self.estimate.reindex(self.replicates.columns).to_numpy()
        return replicate_summary(self.replicates.to_numpy(), est, alpha).set_axis(self.replicates.columns)

    @property
    def se(self) -> pd.Series:
        return self.summary()["se"]

    @property
    def failure_share(self) -> pd.Series:
        return self.summary()["failure_share"]

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        return self.summary(alpha)[["ci_low", "ci_high"]].set_axis(["lower", "upper"], axis=1)

    @property
    def p_value(self) -> pd.Series:
        return self.summary()["p_value"]


def summarise(replicates: np.ndarray, estimate: pd.Series, scheme: str, seed: int) -> BootstrapSummary:
    """Wrap a (B × k) replicate array; replicates that failed to converge are NaN rows."""
    failed = int(np.sum(~np.all(np.isfinite(replicates), axis=1)))
    frame = pd.DataFrame(replicates, columns=estimate.index)
    return BootstrapSummary(frame, estimate, scheme, seed, failed)
