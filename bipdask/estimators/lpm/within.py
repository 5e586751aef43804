"""The linear model with cluster fixed effects from per-cluster moments, partition by partition.

When the one absorbed factor of :func:`~bipdask.estimators.lpm.model.lpm` is the cluster itself
(HIR Tables 9 and 10's share LPMs: job-centre fixed effects, job-centre clusters), everything the
fit and its wild cluster restricted bootstrap need is, per cluster, the row count, the means and
the centred cross products of (X, y): the absorption is the within-cluster demeaning, the CR1
meat sums per-cluster scores X̃_g'ẽ_g = X̃_g'ỹ_g − X̃_g'X̃_g·β, and the WCR works from exactly these
sums (:class:`~bipdask.inference.wild.ClusterMoments`). So a partition of rows (a job centre's
batch) is reduced to :class:`WithinMoments` where it is read, partitions are combined with the
pairwise update of centred moments (Chan, Golub and LeVeque), and :func:`lpm_within` fits from
the result — the same coefficients, CR1 covariance and WCR as ``lpm`` on the gathered rows, with
memory of the clusters, not of the rows. Method: ``docs/methods.md`` (linear models).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bipdask.errors import InputError, Problem
from bipdask.estimators import covariance as cv
from bipdask.estimators.lpm.model import LinearResult, _independent, _solve
from bipdask.inference.wild import ClusterMoments, WildWeights, wcr_linear


@dataclass(frozen=True)
class WithinMoments:
    """Per-cluster moments of the columns ``names`` (the covariates, then the outcome last).

    ``n`` (G,) rows, ``mean`` (G × m) column means and ``comoment`` (G × m × m) centred cross
    products Σ (z − z̄_g)(z − z̄_g)' of each cluster, rows in ``cluster_ids`` order (sorted int64);
    ``nobs_dropped`` rows left out for a missing value (listwise, as ``lpm``).
    """

    cluster_ids: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    comoment: np.ndarray
    names: tuple[str, ...]
    nobs_dropped: int = 0

    @property
    def covariates(self) -> tuple[str, ...]:
        return self.names[:-1]


def within_moments(data: pd.DataFrame, *, y: str, covariates: Sequence[str], cluster: str) -> WithinMoments:
    """:class:`WithinMoments` of one partition's rows; rows with a missing value in ``y``, a
    covariate or ``cluster`` are dropped, as :func:`~bipdask.estimators.lpm.model.lpm` drops them."""
    names = (*covariates, y)
    frame = data[[*names, cluster]]
    ok = frame.notna().all(axis=1).to_numpy()
    frame = frame[ok]
    Z = (np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in names]) if len(frame)
         else np.empty((0, len(names))))
    codes, levels = pd.factorize(frame[cluster], sort=True)
    g, m = len(levels), len(names)
    n = np.bincount(codes, minlength=g).astype(np.float64)
    mean = (np.column_stack([np.bincount(codes, weights=Z[:, j], minlength=g) for j in range(m)])
            / np.maximum(n, 1)[:, None])
    centred = Z - mean[codes]
    comoment = np.empty((g, m, m))
    for a in range(m):
        for b in range(a, m):
            comoment[:, a, b] = comoment[:, b, a] = np.bincount(codes, weights=centred[:, a] * centred[:, b],
                                                                minlength=g)
    return WithinMoments(np.asarray(levels, dtype=np.int64), n, mean, comoment, names,
                         int((~ok).sum()))


def combine_within(parts: Sequence[WithinMoments]) -> WithinMoments:
    """The moments of the union of the partitions' rows; a cluster in several partitions (a job
    centre cut into parts) is merged by the pairwise update of centred moments, in the given order."""
    parts = [p for p in parts if p.cluster_ids.size]
    if not parts:
        raise ValueError("combine_within: no partition has rows")
    names = parts[0].names
    if any(p.names != names for p in parts):
        raise ValueError("combine_within: partitions of different models")
    ids = np.unique(np.concatenate([p.cluster_ids for p in parts]))
    g, m = ids.size, len(names)
    n, mean, com = np.zeros(g), np.zeros((g, m)), np.zeros((g, m, m))
    for p in parts:
        at = np.searchsorted(ids, p.cluster_ids)
        n_a, n_b = n[at], p.n
        total = n_a + n_b
        delta = p.mean - mean[at]
        share = np.where(total > 0, n_b / np.where(total > 0, total, 1), 0.0)
        com[at] += p.comoment + (delta[:, :, None] * delta[:, None, :]) * (n_a * share)[:, None, None]
        mean[at] += delta * share[:, None]
        n[at] = total
    return WithinMoments(ids, n, mean, com, names, sum(p.nobs_dropped for p in parts))


def lpm_within(moments: WithinMoments, *, fixed_effect: str, inference: str = "wild", bootstrap: int = 0,
               seed: int | None = None, wild_weights: WildWeights = "rademacher", alpha: float = 0.05) -> LinearResult:
    """:func:`~bipdask.estimators.lpm.model.lpm` of y on the covariates with ``fixed_effect``
    absorbed and clustered by the same factor (CR1, K = kept covariates + 1, as ``lpm`` counts a
    factor nested in the clusters), from combined per-cluster moments.

    ``inference``: ``"wild"`` (the WCR of every kept covariate, B = ``bootstrap``) or
    ``"analytic"``. Collinear covariates are omitted (NaN) by ``lpm``'s rule. The result has
    no row-level state (``cluster_moments()`` is not available; the WCR is in ``wild``).
    """
    if inference not in ("wild", "analytic"):
        raise ValueError("lpm_within: inference must be 'wild' or 'analytic' (a pairs bootstrap needs the rows)")
    covs = list(moments.covariates)
    k = len(covs)
    n_g, mean, com = moments.n, moments.mean, moments.comoment
    g = moments.cluster_ids.size
    n_w = float(n_g.sum())
    Q = com.sum(axis=0)  # Σ_g X̃_g'X̃_g (within), outcome last
    grand = n_g @ mean / n_w
    between = mean - grand
    Q0 = Q + (between * n_g[:, None]).T @ between  # the globally centred Gram matrix
    keep = _independent(Q[:k, :k], np.diag(Q0)[:k])
    k_dof = len(keep) + 1
    k_all = len(keep) + 1 + (g - 1)  # the fixed effects as absorbed parameters (lm's count)
    if n_w <= k_all or g < 2:
        raise InputError([Problem("lpm", moments.names[-1],
                                  f"too few observations ({n_w:g}) or clusters ({g}) for {k_all} parameters",
                                  int(n_w))])
    A = Q[np.ix_(keep, keep)]
    beta = _solve(A, Q[keep, k])
    beta = beta + _solve(A, Q[keep, k] - A @ beta)  # the refinement step of lpm
    xx_g = com[:, keep][:, :, keep]
    xy_g = com[:, keep, k]
    scores = xy_g - np.einsum("gab,b->ga", xx_g, beta)
    bread = np.linalg.inv(A) if keep else np.zeros((0, 0))
    factor = cv.linear_factor("stata", nobs=n_w, k=k_dof, n_clusters=g)
    cov_k = cv.sandwich(bread, cv.cluster_meat(scores), factor)
    cov_k = (cov_k + cov_k.T) / 2
    full = np.full(k, np.nan)
    full[keep] = beta
    params = pd.Series(full, index=covs, dtype=np.float64)
    cov = pd.DataFrame(np.full((k, k), np.nan), index=covs, columns=covs)
    cov.iloc[keep, keep] = cov_k
    rss = float(Q[k, k] - Q[keep, k] @ beta)
    tss, within_tss = float(Q0[k, k]), float(Q[k, k])
    keep0 = _independent(Q0[:k, :k], np.diag(Q0)[:k])
    rss0 = tss - float(Q0[keep0, k] @ _solve(Q0[np.ix_(keep0, keep0)], Q0[keep0, k]))
    wild = None
    if inference == "wild":
        iu0, iu1 = np.triu_indices(len(keep))
        cm = ClusterMoments(xx=np.ascontiguousarray(xx_g[:, iu0, iu1]), xy=np.ascontiguousarray(xy_g),
                            cluster_ids=moments.cluster_ids, names=tuple(covs[j] for j in keep), nobs=n_w,
                            k_dof=k_dof, small_sample="stata")
        test = wcr_linear(cm, bootstrap=bootstrap, seed=seed, weights=wild_weights, alpha=alpha)
        wild = dataclasses.replace(test, table=test.table.reindex(params.index))
    return LinearResult(
        params=params, cov=cov, nobs=int(n_w), sum_weights=n_w, df_resid=n_w - k_all, df_inference=float(g - 1),
        k_dof=int(k_dof), rss=rss, rsquared=1 - rss / tss if tss > 0 else np.nan,
        rsquared_adj=1 - (rss / (n_w - k_all)) / (tss / (n_w - 1)) if tss > 0 else np.nan,
        rsquared_within=1 - rss / within_tss if within_tss > 0 else np.nan,
        rsquared_without_fe=1 - rss0 / tss if tss > 0 else np.nan, n_clusters=int(g), cov_type=f"CR1 (K={k_dof})",
        fixed_effects=(fixed_effect,), n_absorbed=(int(g),), omitted=tuple(covs[j] for j in range(k) if j not in keep),
        n_dropped=int(moments.nobs_dropped), wild=wild,
    )
