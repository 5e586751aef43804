"""Covariance matrices of the estimators as pure functions of bread, meat and scores.

Every model in :mod:`bipdask.estimators` builds its variance the same way — a bread (the inverse
information, or (X'WX)⁻¹), a meat (the outer product of scores, summed within clusters or row by
row) and a small-sample factor — so those pieces live here once, as functions of arrays with no
model state (the layout of pyfixest's ``estimation/internals/vcov_utils.py``). Each function
keeps the order of floating-point operations the models used before, so results are unchanged
to the last bit; the methods are described in ``docs/methods.md``.

Small-sample vocabulary (:data:`SmallSample`), one for all models:

* ``"none"`` — no factor: HC0 / CR0 for the linear model, and the robust variance of R
  ``survival`` (``coxph(cluster=)``, ``survreg(robust=TRUE)``) for the Weibull and Cox models.
* ``"stata"`` — the factor Stata applies to the estimator: for the linear model HC1 = N/(N−K)
  without clusters and CR1 = G/(G−1)·(N−1)/(N−K) with them (``regress``/``areg, vce(cluster)``,
  R ``vcovCL``); for the likelihood models (``streg``, ``stcox``) G/(G−1) only.

Aliases accepted by :func:`small_sample_kind`: ``"r"`` = ``"none"`` (the Weibull and Cox models'
old name for R's convention). The linear model's default is ``"stata"``, the likelihood models'
``"none"``, as before.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

SmallSample = Literal["none", "stata"]
SMALL_SAMPLE_ALIASES: dict[str, SmallSample] = {"r": "none"}


def small_sample_kind(value: str) -> SmallSample:
    """The canonical name of a small-sample option (aliases resolved); ValueError otherwise."""
    kind = SMALL_SAMPLE_ALIASES.get(value, value)
    if kind not in get_args(SmallSample):
        allowed = [*get_args(SmallSample), *SMALL_SAMPLE_ALIASES]
        raise ValueError(f"small_sample must be one of {allowed}, not {value!r}")
    return kind


def linear_factor(small_sample: SmallSample, *, nobs: float, k: int, n_clusters: int | None = None) -> float:
    """Small-sample factor of the linear model: CR1 G/(G−1)·(N−1)/(N−K) with ``n_clusters``,
    HC1 N/(N−K) without, under ``"stata"``; 1 under ``"none"``."""
    if small_sample == "none":
        return 1.0
    if n_clusters is not None:
        return n_clusters / (n_clusters - 1) * (nobs - 1) / (nobs - k)
    return nobs / (nobs - k)


def likelihood_cluster_factor(cov: np.ndarray, small_sample: SmallSample, n_clusters: int) -> np.ndarray:
    """Cluster-robust covariance of a likelihood model times G/(G−1) under ``"stata"``
    (Stata ``streg``/``stcox, vce(cluster)``), unchanged under ``"none"`` (R ``survival``)."""
    if small_sample == "stata":
        return cov * n_clusters / (n_clusters - 1)
    return cov


def sandwich(bread: np.ndarray, meat: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """factor · bread · meat · bread (the factor enters the bread first)."""
    return factor * bread @ meat @ bread


def sum_by_cluster(codes: np.ndarray, values: np.ndarray, n_clusters: int) -> np.ndarray:
    """(G × cols) sums of the rows of ``values`` within clusters ``codes`` ∈ [0, G), in row order."""
    out = np.zeros((n_clusters, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_clusters)
    return out


def cluster_meat(scores_by_cluster: np.ndarray) -> np.ndarray:
    """Σ_g s_g s_g' from the (G × k) per-cluster score sums."""
    return scores_by_cluster.T @ scores_by_cluster


def hetero_meat(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_i weights_i x_i x_i' — the heteroskedasticity-robust meat with ``weights`` = w·e²."""
    return (X * weights[:, None]).T @ X


def dfbeta_sandwich(scores_by_cluster: np.ndarray, bread: np.ndarray) -> np.ndarray:
    """The sandwich as R ``survival`` forms it: D'D with the cluster dfbetas D = S · bread."""
    dfbeta = scores_by_cluster @ bread
    return dfbeta.T @ dfbeta
