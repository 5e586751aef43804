"""The wild score bootstrap of Kline and Santos (2012) for likelihood models, clustered.

Used for the hazard DiDs of the HIR caseload experiment, where treatment was assigned to 15 of
97 job centres, so inference has to be at job-centre level: the Weibull PH model (HIR Tables A,
4 and 7; the D×E coefficient ``DE`` of eq. 1) and the Cox mediator models (Tables 9 and 10).
A pairs bootstrap over 97 job centres with 15 treated redraws treatment shares that never occur
in the design; the wild score bootstrap keeps every cluster and flips the sign of its score.

The test of H0: Rθ = r (one restriction), restricted version ("null imposed"):

1. Fit the model under H0 (the restricted estimate θ̃). Per cluster g, sum the score
   contributions at θ̃: s_g (G × k); take the information I = −H of the *full* model at θ̃
   (k × k, all parameters, the tested one included) and the cluster's share of the
   observations π_g (its row weight / all row weight).
2. a_g = R' I⁻¹ s_g: the cluster's contribution to the one-step (Newton) estimate of Rθ − r.
3. For weights v (G,), S*(v) = Σ_g v_g s_g and

       t(v) = R' I⁻¹ S*(v) / sqrt( R' I⁻¹ [Σ_g (v_g s_g − π_g S*(v)) (v_g s_g − π_g S*(v))'] I⁻¹ R )
            = Σ_g v_g a_g / sqrt( Σ_g (v_g a_g − π_g Σ_h v_h a_h)² ),

   the Wald-type form of the score (LM) statistic with a cluster-robust variance of the
   perturbed scores, re-centred by the cluster shares. The observed statistic is t = t(1); the
   replicates are t*_b = t(v_b). No refits per replicate: θ̃, s_g and I are computed once per
   hypothesised value r.
4. p = #{b : |t*_b| ≥ |t|} / B (symmetric, two-sided, no +1); a NaN replicate counts as
   extreme. Ties are decided with the relative slack of the linear WCR bootstrap
   (:data:`bipdask.inference.wild.TIE_RTOL`, 1e-9), so that the sign vectors ±1, which give
   |t*| = |t| exactly, count when all 2^G Rademacher vectors are enumerated (then p is exact,
   seed-free and at least 2/2^G).

Sources. Kline, P. and Santos, A. (2012), "A Score Based Approach to Wild Bootstrap
Inference", *Journal of Econometric Methods* 1(1), 23–41: perturbed scores at a null-imposed
estimate, the inverse Hessian and a studentised statistic (their Sections 3–4; clustered
scores in their Section 5). The definitions follow Stata ``boottest`` (Roodman, MacKinnon,
Nielsen and Webb 2019, "Fast and wild: Bootstrap inference in Stata using boottest", *Stata
Journal* 19(1), 4–60, section on the score bootstrap after ML estimation), whose source
(``boottest.ado``, ``boottest.mata``, github.com/droodman/boottest) fixes the details:
``boottest.ado`` imposes the null by refitting with the constraint, then re-runs the
unrestricted model from the restricted estimate for zero iterations, so that the scores and
``e(V)`` = I⁻¹ are those of the full model at θ̃ (step 1); ``boottest.mata``
(``_MakeInterpolables``) forms the scores times I⁻¹R' (step 2) and re-centres the perturbed
scores by ``ClustShare``, each cluster's share of the observations (step 3); ``getp`` gives
the symmetric p-value (step 4); ``MakeWildWeights`` enumerates the 2^G Rademacher vectors when
that is no more than B, and draws Webb's six-point weights. Scaling the weights (boottest's
v/2) and a small-sample factor leave t*/t unchanged, so both are left out. The weights are the
linear WCR bootstrap's (:func:`bipdask.inference.wild.wild_weights`, a pure function of
(seed, replicate, cluster id); :func:`bipdask.inference.wild.sign_vectors` when enumerated), so
the hazard and the linear DiDs of a run use the same draws.

Confidence intervals by test inversion, as for the linear WCR: CI = {r : p(r) ≥ α}, every
p(r) from the *same* weights. p(r) < α exactly when |t(r)|·(1 − 1e-9) exceeds the ⌈αB⌉-th
largest |t*_b(r)|; that difference is continuous in r, so each end is its root, bracketed by
stepping out from the estimate in multiples of z_{1−α/2}·se (doubling) and found by Brent's
method. An end with no rejection within 2^7 such steps, or where the restricted fit fails
first, is reported as ∓∞. Methods: ``docs/methods.md#wild-score-bootstrap-weibull-and-cox``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bipdask.errors import FitError
from bipdask.inference import wild
from bipdask.inference.wild import TIE_RTOL, WildTest, WildWeights

_MAX_DOUBLINGS = 7
_XTOL = 1e-6  # Brent tolerance, in units of the step z·se
# r ↦ (cluster scores G × k, information k × k, restriction gradient R (k,)) at the fit under H0
Restricted = Callable[[float], tuple[np.ndarray, np.ndarray, np.ndarray]]


def wild_weights(cluster_ids: np.ndarray, n_replicates: int, seed: int | None,
                 kind: WildWeights = "rademacher") -> tuple[np.ndarray, bool]:
    """(B × G) wild weights for the sorted unique ``cluster_ids`` and whether they enumerate.

    Enumeration (Rademacher, 2^G ≤ B, :func:`bipdask.inference.wild.enumerates`): the 2^G sign
    vectors of :func:`bipdask.inference.wild.sign_vectors`; B becomes 2^G, no seed is needed.
    Otherwise :func:`bipdask.inference.wild.wild_weights`: v[b, g] a pure function of
    (seed, b, cluster id), Rademacher −1 if u < ½ else +1, Webb ±√½, ±1, ±√(3/2) from ⌊6u⌋ —
    independent of partitioning, row order and the other clusters. Integer ids are hashed as
    they are; other ids (strings) by their position among the sorted ids.
    """
    ids = np.asarray(cluster_ids)
    if kind not in wild.WEIGHTS:
        raise ValueError(f"wild weights must be one of {wild.WEIGHTS}, not {kind!r}")
    if wild.enumerates(ids.size, n_replicates, kind):
        return wild.sign_vectors(ids.size), True
    if seed is None:
        raise ValueError("wild bootstrap: a seed is needed unless all 2^G sign vectors are enumerated")
    keys = ids if np.issubdtype(ids.dtype, np.integer) else np.arange(ids.size)
    return wild.wild_weights(keys, range(n_replicates), int(seed), kind), False


def cluster_shares(row_weight_by_cluster: np.ndarray) -> np.ndarray:
    """π_g: each cluster's share of the (weighted) observations, boottest's ``ClustShare``."""
    w = np.asarray(row_weight_by_cluster, dtype=np.float64).ravel()
    return w / w.sum()


def contributions(scores: np.ndarray, information: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """a_g = R' I⁻¹ s_g (G,) from cluster scores (G × k), information I (k × k) and R (k,)."""
    try:
        return np.asarray(scores, dtype=np.float64) @ np.linalg.solve(information, direction)
    except np.linalg.LinAlgError:
        raise FitError("wild score bootstrap: the information at the restricted fit is singular") from None


def studentised(a: np.ndarray, weights: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """t(v) = Σ v_g a_g / sqrt(Σ_g (v_g a_g − π_g Σ_h v_h a_h)²) for each row v of ``weights``."""
    u = np.atleast_2d(weights) * a[None, :]
    num = u.sum(axis=1)
    dev = u - shares[None, :] * num[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / np.sqrt((dev * dev).sum(axis=1))


def score_statistics(scores: np.ndarray, information: np.ndarray, direction: np.ndarray,
                     weights: np.ndarray, shares: np.ndarray) -> tuple[float, np.ndarray]:
    """The observed statistic t = t(1) and the B replicates t*_b = t(v_b).

    ``scores``: per-cluster score sums at the restricted estimate (G × k); ``information``: −H
    of the full model there (k × k); ``direction``: R (k,), e_j for H0: θ_j = r;
    ``weights``: (B × G); ``shares``: π_g (G,).
    """
    a = contributions(scores, information, direction)
    t = float(studentised(a, np.ones((1, a.size)), shares)[0])
    return t, studentised(a, weights, shares)


def p_value(t: float, t_star: np.ndarray) -> float:
    """#{b : |t*_b| ≥ |t|} / B, ties within a relative 1e-9; NaN replicates count as extreme."""
    if not np.isfinite(t):
        return float("nan")
    far = ~(np.abs(t_star) < abs(t) * (1 - TIE_RTOL))
    return float(far.mean())


def rejection_gap(t: float, t_star: np.ndarray, alpha: float) -> float:
    """|t|·(1 − 1e-9) − the ⌈αB⌉-th largest |t*|: > 0 exactly when p < α (H0 rejected)."""
    m = int(math.ceil(alpha * t_star.size - 1e-9))
    if m < 1:
        return -math.inf
    mag = np.where(np.isnan(t_star), np.inf, np.abs(t_star))
    crit = -np.partition(-mag, m - 1)[m - 1]
    return abs(t) * (1 - TIE_RTOL) - crit


def invert(stat_at: Callable[[float], tuple[float, np.ndarray]], estimate: float, step: float,
           alpha: float) -> tuple[float, float]:
    """(lower, upper) = the ends of {r : p(r) ≥ α} next to ``estimate``.

    ``stat_at(r)`` returns (t, t*) under H0: θ = r (same weights for every r). From the
    estimate, r steps out by ``step``·2^i until H0 is rejected (then Brent's method finds the
    end between the last accepted and the first rejected value); ∓∞ when no rejection is found
    within 2^7 steps or the restricted fit fails before one.
    """
    cache: dict[float, float] = {}

    def gap(r: float) -> float:
        if r not in cache:
            cache[r] = rejection_gap(*stat_at(r), alpha)
        return cache[r]

    ends = []
    for sign in (-1.0, 1.0):
        inside, mult, end = estimate, 1.0, sign * math.inf
        for _ in range(_MAX_DOUBLINGS + 1):
            r = estimate + sign * mult * step
            try:
                if gap(r) > 0:
                    if gap(inside) > 0:  # the estimate itself is rejected (degenerate fit)
                        end = math.nan
                    else:
                        end = optimize.brentq(gap, inside, r, xtol=_XTOL * step, rtol=1e-12)
                    break
            except FitError:
                break
            inside, mult = r, mult * 2
        ends.append(end)
    return ends[0], ends[1]


@dataclass(frozen=True)
class TermProblem:
    """One tested term: its restricted fits r ↦ (s_g, I, R), estimate and analytic SE."""

    restricted: Restricted
    estimate: float
    se: float


def statistic_function(restricted: Restricted, weights: np.ndarray, shares: np.ndarray
                       ) -> Callable[[float], tuple[float, np.ndarray]]:
    """r ↦ (t, t*) under H0: θ = r, from a model's restricted fits and fixed weights."""

    def stat_at(r: float) -> tuple[float, np.ndarray]:
        scores, information, direction = restricted(float(r))
        return score_statistics(scores, information, direction, weights, shares)

    return stat_at


def term_inference(problem: TermProblem, weights: np.ndarray, shares: np.ndarray, alpha: float = 0.05,
              null: float = 0.0, ci: bool = True) -> dict[str, float]:
    """p-value of H0: term = ``null``, the statistic, and the CI by inversion (with ``ci``)."""
    stat_at = statistic_function(problem.restricted, weights, shares)
    try:
        t, t_star = stat_at(null)
        p = p_value(t, t_star)
    except FitError:
        t = p = math.nan
    lo = hi = se = math.nan
    if ci:
        step = stats.norm.ppf(1 - alpha / 2) * problem.se
        if not (np.isfinite(step) and step > 0):
            step = 0.1 * max(abs(problem.estimate), 1.0)
        lo, hi = invert(stat_at, problem.estimate, step, alpha)
        se = (hi - lo) / (2 * stats.norm.ppf(1 - alpha / 2))
    return {"se": se, "ci_low": lo, "ci_high": hi, "p_value": p, "statistic": t}


def wild_score_test(problems: Mapping[str, TermProblem], names: pd.Index, cluster_ids: np.ndarray,
                    shares: np.ndarray, n_replicates: int, seed: int | None,
                    kind: WildWeights = "rademacher", alpha: float = 0.05, ci: bool = True) -> WildTest:
    """The :class:`WildTest` of every term in ``problems`` (H0: term = 0, CI by inversion).

    ``names``: all parameters (untested ones get NaN rows); ``cluster_ids``: the sorted unique
    clusters, in the row order of the cluster scores; ``shares``: π_g.
    """
    weights, enumerated = wild_weights(cluster_ids, n_replicates, seed, kind)
    rows = {name: term_inference(problem, weights, shares, alpha, ci=ci) for name, problem in problems.items()}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["se", "ci_low", "ci_high", "p_value", "statistic"])
    table = table.reindex(pd.Index(names))
    return WildTest(table=table, method="score", weights=kind, n_clusters=int(np.asarray(cluster_ids).size),
                    n_replicates=int(weights.shape[0]), enumerated=enumerated, alpha=alpha,
                    seed=None if enumerated else seed)


INFERENCE_METHODS = ("pairs", "analytic", "wild")


def resolve_inference(inference: str | None, bootstrap: int, cluster: str | None, model: str) -> str:
    """The likelihood models' ``inference=`` argument: ``None`` means ``"pairs"`` when
    ``bootstrap`` > 0 and ``"analytic"`` otherwise (the behaviour before wild inference);
    ``"wild"`` needs a cluster column and B = ``bootstrap`` > 0."""
    method = ("pairs" if bootstrap else "analytic") if inference is None else inference
    if method not in INFERENCE_METHODS:
        raise ValueError(f"{model}: inference must be one of {INFERENCE_METHODS}, not {inference!r}")
    if method == "analytic" and bootstrap:
        raise ValueError(f"{model}: inference='analytic' draws no replicates; set bootstrap=0")
    if method in ("pairs", "wild") and not bootstrap:
        raise ValueError(f"{model}: inference={method!r} needs bootstrap=B > 0 replicates")
    if method == "wild" and cluster is None:
        raise ValueError(f"{model}: inference='wild' needs cluster= (e.g. 'jobcentre_id'), the level of assignment")
    return method


def describe(test: WildTest) -> str:
    """One line for a result's summary: method, weights, replicates, clusters."""
    draws = "all sign vectors" if test.enumerated else f"seed {test.seed}"
    return (f"score (Kline–Santos), {test.weights}, {test.n_replicates:,} replicates ({draws}), "
            f"{test.n_clusters} clusters")
