"""The cluster-bootstrap engine: replicate weights, replicate sums and summaries.

Replicates are never refits on resampled rows. An estimator aggregates each cluster's
contribution once (a cluster × pattern count matrix, or per-cluster sufficient statistics),
turns the replicate weights of the clusters into replicate weights of the patterns with one
matrix product per block of replicates, and solves all replicates together.

Replicate weights are a pure function of the seed, the replicate number and the cluster ids:

* ``poisson``: w[b, g] ~ Poisson(1) from a counter-based hash of (seed, b, cluster id). The
  weight of a cluster does not depend on which other clusters exist, how the data are
  partitioned, or in which order tasks run.
* ``multinomial`` (the classic pairs-cluster bootstrap): replicate b draws G clusters with
  replacement from the sorted set of cluster ids, with a generator seeded by (seed, b). The
  weights depend on the seed, b and the *set* of cluster ids (never on row order or
  partitioning), which is fixed once the national reduce has seen all clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

Scheme = Literal["multinomial", "poisson"]

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective 64-bit mixer (vectorised, wraps mod 2**64)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(seed: int, replicates: np.ndarray, cluster_ids: np.ndarray) -> np.ndarray:
    """U(0,1) for every (replicate, cluster) pair, a pure function of (seed, b, id)."""
    ids = _splitmix64(np.asarray(cluster_ids).astype(np.int64).view(np.uint64))
    b = _splitmix64(np.asarray(replicates, dtype=np.uint64) + _splitmix64(np.array([seed], dtype=np.uint64)))
    with np.errstate(over="ignore"):
        z = _splitmix64(b[:, None] ^ (ids[None, :] * np.uint64(0xD6E8FEB86659FD93)))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


_POISSON1_CDF = stats.poisson.cdf(np.arange(0, 30), 1.0)


def replicate_weights(
    cluster_ids: np.ndarray,
    replicates: np.ndarray | range,
    seed: int,
    scheme: Scheme = "multinomial",
) -> np.ndarray:
    """Replicate weights, shape (len(replicates), G), for the clusters ``cluster_ids``.

    ``cluster_ids`` must be the sorted unique cluster ids (int64). Weights are float64 counts:
    how often each cluster enters replicate b.
    """
    cluster_ids = np.asarray(cluster_ids)
    reps = np.asarray(replicates, dtype=np.int64)
    g = cluster_ids.size
    if scheme == "poisson":
        u = _uniform(seed, reps, cluster_ids)
        return np.searchsorted(_POISSON1_CDF, u, side="right").astype(np.float64)
    if scheme != "multinomial":
        raise ValueError(f"unknown bootstrap scheme {scheme!r}; use 'multinomial' or 'poisson'")
    if g and np.any(cluster_ids[1:] <= cluster_ids[:-1]):
        raise ValueError("cluster_ids must be sorted and unique")
    out = np.empty((reps.size, g), dtype=np.float64)
    for row, b in enumerate(reps):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(b), 0x5EED]))
        out[row] = np.bincount(rng.integers(0, g, size=g), minlength=g)
    return out


def replicate_blocks(
    cluster_ids: np.ndarray, n_replicates: int, seed: int, scheme: Scheme = "multinomial", block: int = 500
) -> Iterator[tuple[range, np.ndarray]]:
    """Yield (replicate range, weights) blocks so that B × G never sits in memory at once."""
    for start in range(0, n_replicates, block):
        reps = range(start, min(start + block, n_replicates))
        yield reps, replicate_weights(cluster_ids, reps, seed, scheme)


def cluster_pattern_matrix(cluster_codes: np.ndarray, pattern_codes: np.ndarray, n_clusters: int, n_patterns: int,
                           counts: np.ndarray | None = None) -> sparse.csr_matrix:
    """Sparse (G × P) matrix: how many rows of cluster g have pattern p (weighted by ``counts``)."""
    data = np.ones(cluster_codes.size) if counts is None else np.asarray(counts, dtype=np.float64)
    return sparse.csr_matrix((data, (cluster_codes, pattern_codes)), shape=(n_clusters, n_patterns))


def pattern_weights(weights: np.ndarray, cluster_patterns: sparse.csr_matrix) -> np.ndarray:
    """Replicate weights of the patterns: (B × G) @ (G × P) → (B × P)."""
    return np.asarray((cluster_patterns.T @ weights.T).T)


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


def confidence_interval(params: pd.Series, se: pd.Series, summary: "BootstrapSummary | None",
                        alpha: float = 0.05, kind: str = "analytic") -> pd.DataFrame:
    """Wald CIs (``kind="analytic"``) or bootstrap percentile CIs (``kind="bootstrap"``)."""
    if kind == "bootstrap":
        if summary is None:
            raise ValueError("no bootstrap replicates: fit with bootstrap=B")
        return summary.conf_int(alpha)
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"lower": params - z * se, "upper": params + z * se})


def wald_table(params: pd.Series, se: pd.Series, ci: pd.DataFrame, summary: "BootstrapSummary | None",
               **extra: np.ndarray) -> pd.DataFrame:
    """The tidy table every estimator returns: term, estimate, [extra columns], se, z, p_value,
    ci_low, ci_high, and with bootstrap replicates se_boot, ci_low_boot, ci_high_boot,
    p_value_boot (normal-theory z and p)."""
    z = (params / se).to_numpy()
    out = pd.DataFrame({"term": params.index, "estimate": params.to_numpy(), **extra, "se": se.to_numpy(),
                        "z": z, "p_value": 2 * stats.norm.sf(np.abs(z)),
                        "ci_low": ci["lower"].to_numpy(), "ci_high": ci["upper"].to_numpy()})
    if summary is not None:
        bci = summary.conf_int()
        out["se_boot"] = summary.se.to_numpy()
        out["ci_low_boot"] = bci["lower"].to_numpy()
        out["ci_high_boot"] = bci["upper"].to_numpy()
        out["p_value_boot"] = summary.p_value.to_numpy()
    return out


def summarise(replicates: np.ndarray, estimate: pd.Series, scheme: str, seed: int) -> BootstrapSummary:
    """Wrap a (B × k) replicate array; replicates that failed to converge are NaN rows."""
    failed = int(np.sum(~np.all(np.isfinite(replicates), axis=1)))
    frame = pd.DataFrame(replicates, columns=estimate.index)
    return BootstrapSummary(frame, estimate, scheme, seed, failed)


def vectorised_newton(
    grad_hess: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    *,
    tol: float = 1e-9,
    max_iter: int = 50,
    max_step: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve B maximisation problems at once by Newton–Raphson.

    ``grad_hess(theta, rows)`` gets the parameters of the still-active replicates (n × k) and
    their row numbers, and returns gradients (n × k) and Hessians (n × k × k) of concave
    objectives. Starting from the full-sample estimate, replicates converge in a few steps.
    Returns the solutions (non-converged rows NaN) and a convergence flag per replicate.
    """
    theta = np.array(start, dtype=np.float64, copy=True)
    active = np.ones(theta.shape[0], dtype=bool)
    converged = np.zeros(theta.shape[0], dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        g, h = grad_hess(theta[idx], idx)
        try:
            step = np.linalg.solve(h, -g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full_like(g, np.nan)
        step = np.clip(step, -max_step, max_step)
        theta[idx] += step
        bad = ~np.all(np.isfinite(theta[idx]), axis=1)
        done = np.max(np.abs(step), axis=1) < tol
        converged[idx[done & ~bad]] = True
        active[idx[done | bad]] = False
    theta[~converged] = np.nan
    return theta, converged
