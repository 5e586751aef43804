"""The wild score bootstrap of the Cox model (HIR Tables 9 and 10), clustered by job centre.

The mediator models are fitted on the participating job centres only, so inference at the
level where the caseload cap was assigned has 15 clusters; the pairs bootstrap over so few
clusters is unreliable, the wild score bootstrap of Kline and Santos (2012) keeps every job
centre and flips the sign of its score (:mod:`bipdask.inference.score` has the statistic, the
weights, the p-value and the test inversion; ``docs/methods.md#wild-score-bootstrap-weibull-and-cox``).

What this module adds is the model side, per tested covariate j and hypothesised value r:

* the restricted fit — column j dropped and r·x_j added to every row's linear predictor as an
  offset (:class:`bipdask.estimators.cox.model._Stratum`), Newton from the last restricted
  solution, the same partial likelihood, ties and strata as the fit;
* the cluster scores at the restricted estimate β̃ (j-th entry r): R ``coxph``'s score
  residuals of the *full* model at β̃ (Efron or Breslow, times the case weights) summed within
  clusters, G × p; they add up to the full score U(β̃), which is zero except in entry j;
* the information I(β̃) of the full model (p × p), and each cluster's share of the
  (weighted) person-week rows.

All three come from a :class:`~bipdask.estimators.cox.source.StrataSource`, so the strata can be
in memory or on Dask workers: the restricted Newton steps and the cluster scores are per-stratum
sums added in stratum order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bipdask.errors import FitError
from bipdask.estimators.cox.model import CoxResult, _newton_fit
from bipdask.inference import score
from bipdask.inference.wild import WildTest, WildWeights


def _restricted_fit(source, j: int, r: float, start: np.ndarray) -> np.ndarray:
    """The partial-likelihood fit with β_j held at ``r``: column j dropped, r·x_j added to every
    row's linear predictor as an offset, Newton from ``start`` (the other coefficients).
    Returns the full coefficient vector, r in place j."""
    if start.size == 0:
        return np.array([r], dtype=np.float64)
    return np.insert(_newton_fit(source, start.size, start=start, fixed=(j, float(r))).params, j, r)


def _restricted(source, beta_hat: np.ndarray, j: int, cluster_ids: np.ndarray) -> score.Restricted:
    """r ↦ (cluster scores G × p, information p × p, e_j) at the Cox fit with β_j held at r;
    the clusters in the order of ``cluster_ids`` (all sorted unique ids)."""
    p = beta_hat.size
    direction = np.zeros(p)
    direction[j] = 1.0
    first = np.delete(beta_hat, j)
    warm = [first]

    def at(r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        try:
            beta = _restricted_fit(source, j, r, warm[0])
        except FitError:
            beta = _restricted_fit(source, j, r, first)
        warm[0] = np.delete(beta, j)
        _, _, info, ids, sums = source.scores(beta)
        if ids.size != cluster_ids.size or np.any(ids != cluster_ids):
            raise FitError("wild score bootstrap: the clusters of the scores are not the fit's")
        return sums, info, direction

    return at


def wild_cox(result: CoxResult, source, terms: Sequence[str] | None = None, *, bootstrap: int, seed: int | None,
             wild_weights: WildWeights = "rademacher", alpha: float = 0.05, ci: bool = True) -> WildTest:
    """The wild score bootstrap of a fitted Cox model: per covariate, H0: β = 0 and a CI for β.

    ``source`` is the fit's :class:`~bipdask.estimators.cox.source.StrataSource` (its partitions
    carry the cluster id of every row); ``terms`` default to every covariate. ``ci=False`` skips
    the test inversion.
    """
    names = result.params.index
    terms = list(names) if terms is None else list(terms)
    unknown = [t for t in terms if t not in names]
    if unknown:
        raise ValueError(f"cox_ph: wild_terms must be covariates, not {unknown}")
    cluster_ids, row_weight = source.cluster_weights()
    shares = score.cluster_shares(row_weight)
    beta = result.params.to_numpy()
    se = result.std_errors
    problems = {t: score.TermProblem(_restricted(source, beta, names.get_loc(t), cluster_ids),
                                     float(result.params[t]), float(se[t])) for t in terms}
    return score.wild_score_test(problems, names, cluster_ids, shares, bootstrap, seed, wild_weights, alpha, ci)
