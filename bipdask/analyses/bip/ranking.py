"""The top-quartile mean of noisy caseworker effects, three ways: raw, empirical Bayes, split sample.

The BIP caseworker report's Tabel 1 moves every caseworker to "the mean effectiveness of the
top 25 %". Ranking noisy fixed effects and averaging the top quarter of the *same* estimates
overstates that mean (the winner's curse: the top quarter is selected partly for positive
noise). ``docs/methods.md#bip-tabel-1--caseworker-effectiveness`` states the estimand; the
methods here, per replicate a pure function of 1-D arrays:

* ``raw`` — the report's rule: the mean of the largest quarter of the estimates;
* ``eb`` — empirical Bayes (:func:`eb_posterior`): a normal prior on the effects whose mean and
  signal variance come from the estimates by the method of moments (Kane & Staiger 2008;
  Chetty, Friedman & Rockoff 2014), and the *posterior expectation of the top-quartile mean*
  of the true effects (Louis 1984: posterior means are under-dispersed, so a functional of the
  ensemble is estimated by its posterior expectation, not by the functional of the posterior
  means); computed over fixed standard-normal draws (common random numbers, so replicates
  differ only by the data);
* ``split`` — rank on one half of the citizens, average the other half's estimates of the
  selected caseworkers, and the reverse, then the mean of the two (cross-fitting). Unbiased for
  the true mean of the caseworkers a half-sample ranking selects, which is below the true top
  quarter's mean.

The top quarter has ``K // 4`` caseworkers, as :func:`bipdask.analyses.bip.common.quartile_of`.
"""

from __future__ import annotations

import numpy as np

METHODS = ("eb", "split", "raw")
#: Posterior draws for the EB top-quartile mean (Monte Carlo SE ≈ posterior SD / √1000 ≈ 0.02 pp
#: at scale 1, far below the sampling SE of ≈ 1.3 pp).
POSTERIOR_DRAWS = 1000


def top_count(k: int) -> int:
    """Caseworkers in the top quartile of ``k`` (115 → 28)."""
    return k // 4


def top_mean(values: np.ndarray) -> float:
    """Mean of the largest ``K // 4`` values (the report's rule on whatever is ranked)."""
    values = np.asarray(values, dtype=float)
    n = top_count(values.size)
    if n == 0:
        return float("nan")
    return float(np.partition(values, values.size - n)[values.size - n:].mean())


def signal_variance(effects: np.ndarray, variances: np.ndarray) -> tuple[float, float]:
    """Prior mean and signal variance of the true effects by the method of moments.

    ``effects`` are the estimates α̂_k, ``variances`` their sampling variances s_k². With
    α̂_k = θ_k + e_k, E[var(α̂)] = var(θ) + mean(s²), so τ² = var(α̂, ddof=1) − mean(s²),
    floored at 0 (no detectable signal: every effect shrinks to the mean). The prior mean is the
    unweighted mean of the estimates. Units: those of the effects (fractions here).
    """
    effects = np.asarray(effects, dtype=float)
    variances = np.asarray(variances, dtype=float)
    if effects.size < 2:
        return float(np.mean(effects)) if effects.size else float("nan"), 0.0
    mu = float(effects.mean())
    tau2 = float(np.var(effects, ddof=1) - variances.mean())
    return mu, max(tau2, 0.0)


def eb_posterior(effects: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean, posterior variance and reliability of each effect under the normal prior
    N(μ, τ²) of :func:`signal_variance`.

    Reliability λ_k = τ² / (τ² + s_k²); posterior mean μ + λ_k (α̂_k − μ) (the shrunk effect);
    posterior variance λ_k s_k².
    """
    effects = np.asarray(effects, dtype=float)
    variances = np.asarray(variances, dtype=float)
    mu, tau2 = signal_variance(effects, variances)
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = np.where(tau2 + variances > 0, tau2 / (tau2 + variances), 0.0)
    return mu + lam * (effects - mu), lam * variances, lam


def posterior_draws(k: int, seed: int, n_draws: int = POSTERIOR_DRAWS) -> np.ndarray:
    """Standard-normal draws (n_draws × k) for :func:`eb_top_mean`, a pure function of the seed."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0xEB])))
    return rng.standard_normal((n_draws, k))


def eb_increase_draws(effects: np.ndarray, variances: np.ndarray, weights: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Posterior draws of the increase "top-quartile mean minus the weighted mean" of the true
    effects, mean_{top K//4}(θ) − Σ_k w_k θ_k with w the response shares, under the EB posterior
    (:func:`eb_posterior`), one per row of the standard normals ``z`` (at least K columns; the
    first K are used). Their mean is the EB estimate of the increase, their variance its
    posterior variance given the prior."""
    post_mean, post_var, _ = eb_posterior(effects, variances)
    k = post_mean.size
    n = top_count(k)
    if n == 0:
        return np.full(z.shape[0], np.nan)
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    theta = post_mean[None, :] + np.sqrt(post_var)[None, :] * z[:, :k]
    return np.partition(theta, k - n, axis=1)[:, k - n:].mean(axis=1) - theta @ w


def split_top_mean(effects_a: np.ndarray, effects_b: np.ndarray) -> float:
    """Cross-fitted split-sample top-quartile mean: rank on half A, average half B's estimates of
    A's top quarter; the same with the halves swapped; the mean of the two. Caseworkers need an
    estimate in both halves (the caller passes only those)."""
    a = np.asarray(effects_a, dtype=float)
    b = np.asarray(effects_b, dtype=float)
    n = top_count(a.size)
    if n == 0:
        return float("nan")
    top_a = np.argsort(a, kind="stable")[a.size - n:]
    top_b = np.argsort(b, kind="stable")[b.size - n:]
    return float(0.5 * (b[top_a].mean() + a[top_b].mean()))


def split_halves(cluster_ids: np.ndarray, seed: int) -> np.ndarray:
    """Half 0 or 1 of each (sorted, unique) cluster id: a seeded random permutation cut in two,
    so the halves differ in size by at most one and depend only on the seed and the ids."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x5B17])))
    half = np.zeros(len(cluster_ids), dtype=np.int8)
    half[rng.permutation(len(cluster_ids))[len(cluster_ids) // 2:]] = 1
    return half
