"""Weibull proportional-hazards duration models with cluster-robust and bootstrap inference.

Reproduces the HIR quantitative report's eq. (1), h(t | D, E) = α(t)·exp(λD + γE + δDE) with a
Weibull baseline α(t) = p·t^(p−1), and its Tables A, 4 and 7 (expected weeks between LAB
interventions, *forventet tid mellem LAB-indsatser*). Parameters are in the proportional-hazards
metric with Stata ``streg`` naming: one log hazard ratio per covariate, ``_cons`` and ``ln_p``.

Data are compressed to unique (covariates, duration, event) *patterns* with counts: the
likelihood is a weighted sum over patterns, so the fit is exact and, with weekly durations and
categorical designs, a few hundred patterns stand for ~190k spells. The bootstrap re-weights
the patterns per replicate (see :mod:`bipdask.inference.bootstrap`) and solves all replicates together by
vectorised Newton–Raphson from the full-sample estimate, on the likelihood summed per distinct
covariate row and duration (:class:`ReplicateTerms`: e^η per row, t^p per week). The full-sample fit is
:func:`bipdask.estimators.newton.newton` (step halving), the variance is built from
:mod:`bipdask.estimators.covariance`; the methods are described in ``docs/methods.md``.

Inference at job-centre level (HIR assigned the caseload cap to 15 of 97 job centres):
``inference="wild"`` runs the wild score bootstrap of Kline and Santos (2012)
(:func:`wild_weibull`, :mod:`bipdask.inference.score`): per tested coefficient a restricted
fit with the coefficient held at r — the column dropped and r·x added to the linear predictor
as a per-pattern offset — the full model's cluster scores and information there, and sign
flips of the job centres' scores instead of refits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special

from bipdask.errors import FitError, require_columns
from bipdask.estimators import covariance as cv
from bipdask.estimators.newton import NewtonMessages, newton, vectorised_newton
from bipdask.estimators.results import Results
from bipdask.inference import bootstrap as bs
from bipdask.inference import score
from bipdask.inference.pairs import BootstrapSummary, summarise
from bipdask.inference.wild import WildTest, WildWeights

CONS = "_cons"
LN_P = "ln_p"


@dataclass(frozen=True)
class Patterns:
    """Unique (X, t, d) rows with their counts, and which cluster each row came from."""

    X: np.ndarray  # (P × k) design incl. constant
    t: np.ndarray  # (P,) duration (weeks)
    event: np.ndarray  # (P,)
    count: np.ndarray  # (P,) sum of row weights
    cluster_patterns: object  # sparse (G × P): weighted rows of cluster g in pattern p
    cluster_ids: np.ndarray  # sorted unique cluster ids (G,)
    interval: bool = False  # grouped weeks: an event at t happened in (t−1, t]


def _compress(X: np.ndarray, t: np.ndarray, d: np.ndarray, w: np.ndarray, clusters: np.ndarray,
              interval: bool = False) -> Patterns:
    """Group identical (x, t, d) rows: each column is factorised and the codes combined into one
    integer key, which is much faster than a row-wise ``np.unique(axis=0)`` on ~10⁵ rows."""
    keys = np.column_stack([X, t, d])
    key = np.zeros(len(keys), dtype=np.int64)
    radix = 1
    for col in keys.T:
        codes, levels = pd.factorize(col, sort=True)
        if radix * max(len(levels), 1) > 2**62:  # too many distinct rows for one int64 key
            key = np.unique(keys, axis=0, return_inverse=True)[1].ravel().astype(np.int64)
            break
        key += codes.astype(np.int64) * radix
        radix *= max(len(levels), 1)
    first_rows, pattern_code = np.unique(key, return_index=True, return_inverse=True)[1:]
    uniq = keys[first_rows]
    pattern_code = pattern_code.ravel()
    cluster_ids, cluster_code = np.unique(clusters, return_inverse=True)
    count = np.bincount(pattern_code, weights=w, minlength=uniq.shape[0])
    cp = bs.cluster_pattern_matrix(cluster_code.ravel(), pattern_code, cluster_ids.size, uniq.shape[0], w)
    k = X.shape[1]
    return Patterns(uniq[:, :k], uniq[:, k], uniq[:, k + 1], count, cp, cluster_ids, interval)


def _xlogy_p(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t^p and p·ln(t)·t^p, with 0 at t = 0 (B × P), for a row of durations ``t`` (1 × P).

    Computed once per distinct duration and spread to the patterns (a few hundred weeks for
    thousands of patterns): the same operations on the same numbers, so the same bits."""
    tu, inv = np.unique(t, return_inverse=True)
    pos = tu > 0
    lt = np.where(pos, np.log(np.where(pos, tu, 1.0)), 0.0)[None, :]
    tp = np.where(pos, np.exp(p * lt), 0.0)
    inv = inv.ravel()
    return tp[:, inv], (p * lt)[:, inv]


def _terms(theta: np.ndarray, X: np.ndarray, t: np.ndarray, d: np.ndarray, interval: bool,
           offset: np.ndarray | None = None):
    """Per-pattern log-likelihood and its derivatives in (η = x'b [+ offset], θ = ln p), each (B × P).

    Continuous (exact times): ℓ = d(θ + (p−1) ln t + η) − e^η t^p.
    Interval (grouped weeks): an event at t has probability S(t−1) − S(t), i.e.
    ℓ = −e^η (t−1)^p + log(1 − exp(−e^η (t^p − (t−1)^p))); a censored row at t gives ℓ = −e^η t^p.
    This is the likelihood of a discrete-week Weibull PH process (the synthetic panel's DGP).
    ``offset`` (P,): a constant added to every pattern's linear predictor — a coefficient held
    fixed (the restricted fits of the wild score bootstrap); ``None`` leaves η untouched.
    The event terms are computed on the event patterns' columns only.
    """
    b, ln_p = theta[:, :-1], theta[:, -1:]
    p = np.exp(ln_p)
    eta = b @ X.T
    if offset is not None:
        eta = eta + offset
    e = np.exp(eta)
    if not interval:
        tp, plt = _xlogy_p(t[None, :], p)
        lam = e * tp
        ll = d * (ln_p + (p - 1) * np.log(t)[None, :] + eta) - lam
        l_e = d - lam
        l_t = d * (1 + plt) - lam * plt
        return ll, l_e, l_t, -lam, -lam * plt, d * plt - lam * (plt + plt**2)
    lo = np.where(d > 0, t - 1.0, t)[None, :]  # censored rows: survival to t
    a, alt = _xlogy_p(lo, p)  # (t−1)^p (or t^p), p·ln(.)
    a_t, a_tt = a * alt, a * alt * (1 + alt)
    A = e * a
    ll = -A
    l_e, l_t, l_ee, l_et, l_tt = -A, -e * a_t, -A, -e * a_t, -e * a_tt
    ev = np.flatnonzero(d > 0)
    if ev.size:
        u, ult = _xlogy_p(t[None, ev], p)
        e_ev = e[:, ev]
        dl = u - a[:, ev]
        dl_t = u * ult - a_t[:, ev]
        dl_tt = u * ult * (1 + ult) - a_tt[:, ev]
        Dl = e_ev * dl
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            g = np.log(-np.expm1(-Dl))
            q = 1.0 / np.expm1(Dl)
            g2 = -q * (1 + q)
            Dt, Dtt = e_ev * dl_t, e_ev * dl_tt
            ll[:, ev] = ll[:, ev] + g
            l_e[:, ev] = l_e[:, ev] + q * Dl
            l_t[:, ev] = l_t[:, ev] + q * Dt
            l_ee[:, ev] = l_ee[:, ev] + g2 * Dl**2 + q * Dl
            l_et[:, ev] = l_et[:, ev] + g2 * Dl * Dt + q * Dt
            l_tt[:, ev] = l_tt[:, ev] + g2 * Dt**2 + q * Dtt
    return ll, l_e, l_t, l_ee, l_et, l_tt


def _grad_hess(theta: np.ndarray, pat: "Patterns", w: np.ndarray, offset: np.ndarray | None = None):
    """Gradient (B × (k+1)) and Hessian (B × (k+1)²) of the weighted log-likelihood for B
    parameter rows ``theta`` = [b, ln_p] with pattern weights ``w`` (B × P)."""
    X = pat.X
    _, l_e, l_t, l_ee, l_et, l_tt = _terms(theta, X, pat.t, pat.event, pat.interval, offset)
    k = X.shape[1]
    h = np.empty((theta.shape[0], k + 1, k + 1))
    h[:, :k, :k] = np.einsum("bp,pi,pj->bij", w * l_ee, X, X)
    h[:, :k, k] = h[:, k, :k] = (w * l_et) @ X
    h[:, k, k] = np.sum(w * l_tt, axis=1)
    return np.hstack([(w * l_e) @ X, np.sum(w * l_t, axis=1, keepdims=True)]), h


def _loglik(theta: np.ndarray, pat: "Patterns", offset: np.ndarray | None = None) -> float:
    ll = _terms(theta[None, :], pat.X, pat.t, pat.event, pat.interval, offset)[0][0]
    return float(np.sum(pat.count * ll))


def _scores(theta: np.ndarray, pat: Patterns) -> np.ndarray:
    """Per-pattern score contributions per unit weight (P × (k+1))."""
    _, l_e, l_t, *_ = _terms(theta[None, :], pat.X, pat.t, pat.event, pat.interval)
    return np.column_stack([l_e[0][:, None] * pat.X, l_t[0]])


@dataclass(frozen=True, repr=False)
class WeibullResult(Results):
    """A fitted Weibull PH model (Stata ``streg, dist(weibull)`` metric).

    ``params`` index: the covariates, ``_cons``, ``ln_p``. ``se`` is model-based, or
    cluster-robust when a cluster was given (R's convention: no small-sample factor, unless
    ``small_sample="stata"``, which multiplies the variance by G/(G−1)). Intervals, p-values
    and :meth:`tidy` are normal-theory (:class:`~bipdask.estimators.results.Results`), or with
    ``inference="wild"`` those of the wild score bootstrap in ``wild`` (:func:`wild_weibull`).
    """

    _title = "Weibull proportional hazards"

    params: pd.Series
    cov: pd.DataFrame
    loglik: float
    nobs: int
    n_events: float
    n_clusters: int
    cov_type: str
    iterations: int
    bootstrap: BootstrapSummary | None = None
    wild: WildTest | None = None
    _patterns: Patterns | None = field(default=None, repr=False, compare=False)

    @property
    def shape(self) -> float:
        """Weibull shape p = exp(ln_p); p < 1 is a falling hazard (the report's Figure 1)."""
        return float(np.exp(self.params[LN_P]))

    @property
    def hazard_ratios(self) -> pd.Series:
        return np.exp(self.params.drop([CONS, LN_P]))

    def _summary_info(self) -> dict[str, str]:
        info = {"Events": f"{self.n_events:,.0f}", "Log-likelihood": f"{self.loglik:.4f}",
                "Shape p": f"{self.shape:.4f}", "Iterations": str(self.iterations)}
        if self.wild is not None:
            info["Wild bootstrap"] = score.describe(self.wild)
        return info


_MAX_ITER = 100


def _newton_single(pat: Patterns, start: np.ndarray, max_iter: int = _MAX_ITER,
                   offset: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The full-sample maximum-likelihood fit: Newton with step halving from ``start``
    (with ``offset``, per pattern, added to the linear predictor: a restricted fit). The
    step-halving slack is relative to |ℓ| (:func:`bipdask.estimators.newton.newton`)."""

    def gradient_hessian(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, h = _grad_hess(theta[None, :], pat, pat.count[None, :], offset)
        return g[0], h[0]

    messages = NewtonMessages(
        singular="Weibull fit: the Hessian is singular — a covariate is constant or collinear "
                 "(e.g. a D×E cell without spells); drop it or merge cells",
        no_ascent="Weibull fit: no ascent direction; check for durations ≤ 0 or all-censored cells",
        no_convergence=f"Weibull fit did not converge in {max_iter} iterations; check for cells with no events "
                       "(a hazard ratio that runs to 0 or ∞) or rescale continuous covariates",
    )
    fit = newton(lambda theta: _loglik(theta, pat, offset), gradient_hessian, start, messages=messages,
                 max_iter=max_iter, step_tol=1e-10, ascent_tol=1e-12)
    return fit.params, fit.iterations


def weibull_ph(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    covariates: Sequence[str],
    weights: str | None = None,
    cluster: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    scheme: bs.Scheme = "multinomial",
    small_sample: cv.SmallSample | str = "none",
    block: int = 1000,
    interval: bool = False,
    inference: str | None = None,
    wild_weights: WildWeights = "rademacher",
    wild_terms: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> WeibullResult:
    """Fit h(t|x) = p·t^(p−1)·exp(x'b + _cons) by maximum likelihood (Newton–Raphson).

    Parameters
    ----------
    data : one row per spell; ``duration`` > 0 (weeks), ``event`` 1 = ended, 0 = censored.
    covariates : columns of the linear predictor (e.g. ``["D", "E", "DE"]`` for eq. (1)).
    weights : optional frequency weights column (e.g. the number of spells a pattern-count row
        stands for: the fit, its cluster scores and its replicates are then those of the rows;
        ``nobs`` is the weights' sum).
    cluster : column of cluster ids (e.g. ``person_id``) for robust SEs and the bootstrap;
        without it every row is its own cluster.
    bootstrap : number of cluster-bootstrap replicates B (0 = none), solved without refitting
        rows: the replicate weights of the clusters are mapped onto the patterns.
    seed : bootstrap seed (required when ``bootstrap > 0``).
    small_sample : ``"none"`` (no factor, like R ``survreg(robust=TRUE)``; alias ``"r"``) or
        ``"stata"`` (G/(G−1), like ``streg, vce(cluster)``); see :mod:`bipdask.estimators.covariance`.
    interval : grouped weekly durations — an event at ``t`` happened within week t, (t−1, t];
        a censored row at ``t`` survived t whole weeks (t ≥ 0). The same Weibull PH parameters,
        without the bias a continuous likelihood has on whole-week data. Default ``False``
        (exact times, as R ``survreg`` and Stata ``streg``).
    inference : ``"pairs"`` (the default when ``bootstrap`` > 0: the pairs cluster bootstrap in
        ``bootstrap``), ``"analytic"`` (the default without replicates) or ``"wild"``: the wild
        score bootstrap (Kline and Santos 2012) with B = ``bootstrap`` replicates, clustered by
        ``cluster`` (the job centre, where HIR assigned treatment) — per tested term the
        restricted p-value of H0: term = 0 and a CI by test inversion at level 1 − ``alpha``, in
        ``wild`` and in :meth:`tidy` (:mod:`bipdask.inference.score`). No pairs replicates are
        drawn then; ``params`` and ``cov`` are those of the analytic fit.
    wild_weights : ``"rademacher"`` (all 2^G sign vectors when 2^G ≤ B) or ``"webb"``.
    wild_terms : the terms to test (default: every covariate; never ``_cons`` or ``ln_p``).
    alpha : 1 − the level of the wild CI (only with ``inference="wild"``).
    """
    cols = list(covariates)
    require_columns(data, [duration, event, *cols, weights, cluster], "weibull_ph")
    method = score.resolve_inference(inference, bootstrap, cluster, "weibull_ph")
    small_sample = cv.small_sample_kind(small_sample)
    t = data[duration].to_numpy(dtype=np.float64)
    d_raw = data[event].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(t) | ((t <= 0) if not interval else ((t < 1) & (d_raw > 0)) | (t < 0))
    if np.any(bad):
        rule = "> 0" if not interval else "≥ 1 for events and ≥ 0 when censored"
        raise FitError(f"weibull_ph: {int(np.sum(bad))} durations are ≤ 0 or missing; durations must be {rule}")
    d = data[event].to_numpy(dtype=np.float64)
    X = np.column_stack([data[c].to_numpy(dtype=np.float64) for c in cols] + [np.ones(len(data))])
    w = np.ones(len(data)) if weights is None else data[weights].to_numpy(dtype=np.float64)
    clusters = np.arange(len(data)) if cluster is None else data[cluster].to_numpy()
    pat = _compress(X, t, d, w, clusters, interval)
    names = [*cols, CONS, LN_P]

    # Start: exponential model intercept, shape 1.
    rate = pat.count @ pat.event / max(np.sum(pat.count * pat.t), 1e-300)
    start = np.zeros(len(names))
    start[len(cols)] = np.log(max(rate, 1e-12))
    theta, iters = _newton_single(pat, start)
    ll = _loglik(theta, pat)
    _, h = _grad_hess(theta[None, :], pat, pat.count[None, :])
    try:
        bread = np.linalg.inv(-h[0])
    except np.linalg.LinAlgError:
        raise FitError("weibull_ph: information matrix is singular at the optimum; drop collinear covariates") from None
    n_clusters = pat.cluster_ids.size
    if cluster is None:
        cov, cov_type = bread, "model"
    else:
        s = pat.cluster_patterns @ _scores(theta, pat)  # G × k cluster scores
        cov = cv.likelihood_cluster_factor(cv.sandwich(bread, cv.cluster_meat(s)), small_sample, n_clusters)
        cov_type = f"cluster({small_sample})"
    params = pd.Series(theta, index=names)
    summary = None
    if bootstrap and method == "pairs":
        if seed is None:
            raise ValueError("weibull_ph: bootstrap needs a seed")
        summary = bootstrap_weibull(pat, params, bootstrap, seed, scheme, block)
    result = WeibullResult(
        params=params,
        cov=pd.DataFrame(cov, index=names, columns=names),
        loglik=ll,
        nobs=int(len(data)) if weights is None else int(round(float(np.sum(w)))),
        n_events=float(np.sum(w * d)),
        n_clusters=n_clusters,
        cov_type=cov_type,
        iterations=iters,
        bootstrap=summary,
        _patterns=pat,
    )
    if method != "wild":
        return result
    test = wild_weibull(result, wild_terms, bootstrap=bootstrap, seed=seed, wild_weights=wild_weights, alpha=alpha)
    return replace(result, wild=test)


def _restricted_fit(pat: Patterns, j: int, r: float, start: np.ndarray) -> np.ndarray:
    """The maximum-likelihood fit with parameter j (a covariate or ``_cons``) held at ``r``:
    column j dropped, r·x_j added to the linear predictor as an offset (constant within a
    pattern, since x_j is part of it), Newton from ``start`` (the other parameters). Returns
    the full parameter vector, r in place j."""
    reduced = replace(pat, X=np.delete(pat.X, j, axis=1))
    free, _ = _newton_single(reduced, start, offset=r * pat.X[:, j])
    return np.insert(free, j, r)


def _restricted(pat: Patterns, theta_hat: np.ndarray, j: int) -> score.Restricted:
    """r ↦ (cluster scores G × (k+1), information, e_j) at the fit with parameter j held at r.

    Newton starts from the last restricted solution (the unrestricted estimate first, and
    again if that fails). Scores and information are those of the full model at the
    restricted estimate (boottest's convention).
    """
    direction = np.zeros(theta_hat.size)
    direction[j] = 1.0
    first = np.delete(theta_hat, j)
    warm = [first]

    def at(r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # far-out trial steps
            try:
                theta = _restricted_fit(pat, j, r, warm[0])
            except FitError:
                theta = _restricted_fit(pat, j, r, first)
        warm[0] = np.delete(theta, j)
        _, h = _grad_hess(theta[None, :], pat, pat.count[None, :])
        return pat.cluster_patterns @ _scores(theta, pat), -h[0], direction

    return at


def wild_weibull(result: WeibullResult, terms: Sequence[str] | None = None, *, bootstrap: int, seed: int | None,
                 wild_weights: WildWeights = "rademacher", alpha: float = 0.05, ci: bool = True) -> WildTest:
    """The wild score bootstrap of a fitted clustered Weibull model (H0: term = 0 per term).

    ``terms`` default to every covariate (``_cons`` and ``ln_p`` are never tested). The clusters
    are the fit's; each cluster's share of the observations is its share of the (weighted)
    spells. ``ci=False`` skips the test inversion (p-values only).
    """
    pat = result._patterns
    names = result.params.index
    covs = [n for n in names if n not in (CONS, LN_P)]
    terms = covs if terms is None else list(terms)
    unknown = [t for t in terms if t not in covs]
    if unknown:
        raise ValueError(f"weibull_ph: wild_terms must be covariates, not {unknown}")
    theta = result.params.to_numpy()
    se = result.std_errors
    problems = {t: score.TermProblem(_restricted(pat, theta, names.get_loc(t)), float(result.params[t]), float(se[t]))
                for t in terms}
    shares = score.cluster_shares(np.asarray(pat.cluster_patterns.sum(axis=1)))
    return score.wild_score_test(problems, names, pat.cluster_ids, shares, bootstrap, seed, wild_weights, alpha, ci)


def bootstrap_weibull(pat: Patterns, params: pd.Series, n_replicates: int, seed: int,
                      scheme: bs.Scheme = "multinomial", block: int = 1000) -> BootstrapSummary:
    """All B replicate estimates from pattern weights, solved by vectorised Newton.

    Exact: each replicate maximises the same likelihood as a refit on the resampled clusters
    (a cluster drawn k times contributes its patterns k times), only without touching rows.
    The Newton steps use :class:`ReplicateTerms`, the likelihood of :func:`_grad_hess` summed
    per distinct covariate row and duration (the same numbers up to rounding, ~1e-15 relative).
    """
    out = np.empty((n_replicates, params.size))
    theta0 = params.to_numpy()
    terms = ReplicateTerms.of(pat)
    for reps, wp in pattern_weight_blocks(pat, n_replicates, seed, scheme, block):
        weights = terms.weights(wp)

        def grad_hess(theta: np.ndarray, rows: np.ndarray, weights: ReplicateWeights = weights):
            return terms.grad_hess_rows(theta, weights, rows)

        out[reps.start:reps.stop], _ = vectorised_newton(grad_hess, np.tile(theta0, (len(reps), 1)))
    return summarise(out, params, scheme, seed)


TERM_ROWS = 128  # replicates per call of ReplicateTerms.grad_hess in a Newton step


@dataclass(frozen=True)
class ReplicateWeights:
    """A block of replicates' pattern weights (n × P) regrouped for :meth:`ReplicateTerms.grad_hess`:
    ``survival`` (n × J) the weights of the −e^η·v^p terms per (covariate row, duration) entry,
    ``event`` (n × E) those of the event patterns' interval terms (grouped weeks), and for exact
    times ``events`` (n × U'), ``events_log_t`` (n × U'): Σ w·d and Σ w·d·ln t per covariate row
    with events (parameter-free, so once per block)."""

    survival: np.ndarray
    event: np.ndarray
    events: np.ndarray
    events_log_t: np.ndarray

    def take(self, rows: np.ndarray) -> "ReplicateWeights":
        return ReplicateWeights(self.survival[rows], self.event[rows], self.events[rows], self.events_log_t[rows])


@dataclass(frozen=True)
class ReplicateTerms:
    """The log-likelihood of :func:`_terms` regrouped by distinct covariate row u and duration v,
    for the gradient and Hessian of many replicates (:func:`bootstrap_weibull`).

    η = x'b is the same for every pattern of a covariate row, and t^p the same for every pattern
    of a duration: the replicates' Newton steps need e^η per row (n × U, U = 4 for eq. (1)), v^p per
    distinct duration (n × V) and, per pattern, only the sums they enter. The survival terms
    −e^η·v^p (every censored pattern at v = t; with grouped weeks every event pattern too, at
    v = t − 1; with exact times every pattern at v = t) are linear in e^η, so their weights are
    summed per (u, v) entry once per block and each Newton step sums w·v^p, w·v^p·p ln v and
    w·v^p·p ln v·(1 + p ln v) per row; the log(1 − exp(−e^η(t^p − (t−1)^p))) terms of grouped
    weeks are evaluated per event pattern; with exact times the event terms d·(ln p + (p−1) ln t + η)
    are parameter-free sums per block. Every sum runs over one replicate's row alone, in a fixed
    order, so a replicate's steps do not depend on the other replicates of its block.
    """

    Xu: np.ndarray  # (U × k) distinct covariate rows
    XXu: np.ndarray  # (U × k × k) their outer products
    log_v: np.ndarray  # (V,) ln v of the distinct durations (0 for v = 0, where v^p = 0)
    positive_v: np.ndarray  # (V,) v > 0
    survival_v: np.ndarray  # (J,) duration of each survival entry (index into V); entries sorted by u
    survival_starts: np.ndarray  # (U,) first entry of each covariate row (every row has one)
    survival_parts: tuple  # ((pattern indices, entry indices), ...), each injective
    event_patterns: np.ndarray  # (E,) pattern index of each event entry, sorted by u
    event_u: np.ndarray  # (E,) covariate row of each event entry
    event_rows: np.ndarray  # (U',) the covariate rows with events
    event_starts: np.ndarray  # (U',) first event entry of each of them
    event_t: np.ndarray  # (E,) index into ``event_durations`` of each event entry
    event_durations: tuple  # (index into V of t, of t − 1) per distinct event duration (grouped weeks)
    event_log_t: np.ndarray  # (E,) ln t of each event pattern (exact times)
    interval: bool

    @classmethod
    def of(cls, pat: Patterns) -> "ReplicateTerms":
        Xu, u = np.unique(pat.X, axis=0, return_inverse=True)
        u = u.ravel()
        ev = pat.event > 0
        lo = np.where(ev, pat.t - 1.0, pat.t) if pat.interval else pat.t
        values = np.unique(np.concatenate([pat.t, lo]))
        positive = values > 0
        log_v = np.where(positive, np.log(np.where(positive, values, 1.0)), 0.0)
        v_lo = np.searchsorted(values, lo)
        entry_key = u.astype(np.int64) * values.size + v_lo
        keys, entry = np.unique(entry_key, return_inverse=True)
        entry = entry.ravel()
        groups = (ev, ~ev)  # patterns are unique per (x, t, d): each group maps injectively
        parts = tuple((np.flatnonzero(g), entry[g]) for g in groups if g.any())
        starts = np.searchsorted(keys // values.size, np.arange(Xu.shape[0]))
        ev_idx = np.flatnonzero(ev)
        ev_idx = ev_idx[np.argsort(u[ev_idx], kind="stable")]
        ev_u = u[ev_idx]
        event_rows, event_starts = np.unique(ev_u, return_index=True)
        t_ev, t_code = np.unique(pat.t[ev_idx], return_inverse=True)
        durations = (np.searchsorted(values, t_ev), np.searchsorted(values, t_ev - 1.0 if pat.interval else t_ev))
        return cls(Xu, Xu[:, :, None] * Xu[:, None, :], log_v, positive, (keys % values.size).astype(np.intp),
                   starts, parts, ev_idx, ev_u, event_rows, event_starts, t_code.ravel(), durations,
                   log_v[np.searchsorted(values, pat.t[ev_idx])], bool(pat.interval))

    def weights(self, wp: np.ndarray) -> ReplicateWeights:
        """A block's pattern weights (n × P, :func:`pattern_weight_blocks`) regrouped."""
        n = wp.shape[0]
        survival = np.zeros((n, self.survival_v.size))
        for pats, entries in self.survival_parts:
            survival[:, entries] += wp[:, pats]
        event = wp[:, self.event_patterns]
        if self.interval or not self.event_rows.size:
            none = np.zeros((n, 0))
            return ReplicateWeights(survival, event, none, none)
        events = np.add.reduceat(event, self.event_starts, axis=1)
        return ReplicateWeights(survival, np.zeros((n, 0)), events,
                                np.add.reduceat(event * self.event_log_t, self.event_starts, axis=1))

    def grad_hess_rows(self, theta: np.ndarray, w: ReplicateWeights, rows: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`grad_hess` of the replicates ``rows`` of the block ``w`` (``theta``: one row each),
        :data:`TERM_ROWS` rows at a time: a few hundred kB of temporaries stay in the CPU cache
        (3.6 times faster than a block of 500 at once). Each row's bits are those of the whole block."""
        k1 = theta.shape[1]
        g, h = np.empty((len(rows), k1)), np.empty((len(rows), k1, k1))
        for a in range(0, len(rows), TERM_ROWS):
            part = slice(a, a + TERM_ROWS)
            g[part], h[part] = self.grad_hess(theta[part], w.take(rows[part]))
        return g, h

    def grad_hess(self, theta: np.ndarray, w: ReplicateWeights) -> tuple[np.ndarray, np.ndarray]:
        """Gradient (n × (k+1)) and Hessian (n × (k+1) × (k+1)) of each replicate's weighted
        log-likelihood at its parameters ``theta`` (n × (k+1), [b, ln p]): :func:`_grad_hess`."""
        n, k = theta.shape[0], self.Xu.shape[1]
        p = np.exp(theta[:, -1:])
        e = np.exp((theta[:, None, :k] * self.Xu[None, :, :]).sum(axis=2))  # (n × U) e^η
        plv = p * self.log_v[None, :]  # (n × V) p·ln v
        vp = np.where(self.positive_v, np.exp(plv), 0.0)  # v^p, 0 at v = 0
        a, alt = vp[:, self.survival_v], plv[:, self.survival_v]
        wa = w.survival * a
        wat = wa * alt
        s0 = np.add.reduceat(wa, self.survival_starts, axis=1)
        s1 = np.add.reduceat(wat, self.survival_starts, axis=1)
        s2 = np.add.reduceat(wat * (1 + alt), self.survival_starts, axis=1)
        l_e, l_t, l_ee, l_et, l_tt = -e * s0, -e * s1, -e * s0, -e * s1, -e * s2
        rows = self.event_rows
        if rows.size and self.interval:
            t_v, lo_v = self.event_durations
            ut, ult, at, alt_ = vp[:, t_v], plv[:, t_v], vp[:, lo_v], plv[:, lo_v]
            code = self.event_t
            dl = (ut - at)[:, code]
            dl_t = (ut * ult - at * alt_)[:, code]
            dl_tt = (ut * ult * (1 + ult) - at * alt_ * (1 + alt_))[:, code]
            e_ev = e[:, self.event_u]
            Dl, Dt = e_ev * dl, e_ev * dl_t
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                q = 1.0 / np.expm1(Dl)
                g2 = -q * (1 + q)
                qDl, qDt = q * Dl, q * Dt
                we = w.event
                for acc, term in ((l_e, qDl), (l_t, qDt), (l_ee, g2 * Dl**2 + qDl), (l_et, g2 * Dl * Dt + qDt),
                                  (l_tt, g2 * Dt**2 + q * (e_ev * dl_tt))):
                    acc[:, rows] += np.add.reduceat(we * term, self.event_starts, axis=1)
        elif rows.size:  # exact times: d·(ln p + (p − 1) ln t + η), parameter-free sums
            l_e[:, rows] += w.events
            l_t[:, rows] += w.events + p * w.events_log_t
            l_tt[:, rows] += p * w.events_log_t
        g = np.empty((n, k + 1))
        g[:, :k] = (l_e[:, :, None] * self.Xu[None]).sum(axis=1)
        g[:, k] = l_t.sum(axis=1)
        h = np.empty((n, k + 1, k + 1))
        h[:, :k, :k] = (l_ee[:, :, None, None] * self.XXu[None]).sum(axis=1)
        h[:, :k, k] = h[:, k, :k] = (l_et[:, :, None] * self.Xu[None]).sum(axis=1)
        h[:, k, k] = l_tt.sum(axis=1)
        return g, h


def pattern_weight_blocks(pat: Patterns, n_replicates: int, seed: int, scheme: bs.Scheme = "multinomial",
                          block: int = 1000):
    """Yield (replicate range, pattern weights block × P) for the blocks of
    :func:`~bipdask.inference.bootstrap.replicate_blocks` (the same ranges), without a block × G
    matrix of cluster weights: the weights are drawn :data:`~bipdask.inference.bootstrap.PATTERN_ROWS`
    replicates at a time into one small buffer and turned into pattern weights at once
    (:func:`~bipdask.inference.bootstrap.pattern_weights_in_rows`). The same numbers as the pattern
    weights of the whole block (weights are a pure function of seed, replicate and cluster id); with
    ~20,000 persons the block's 80 MB of weights were page-faulted and read back per fit."""
    ids = pat.cluster_ids
    by_cluster = pat.cluster_patterns.T.tocsr()
    size = bs.bounded_block(block, ids.size)
    buffer = np.empty((min(bs.PATTERN_ROWS, max(n_replicates, 1)), ids.size))
    for start in range(0, n_replicates, size):
        reps = range(start, min(start + size, n_replicates))
        wp = np.empty((len(reps), by_cluster.shape[0]))
        for a in range(0, len(reps), bs.PATTERN_ROWS):
            sub = reps[a:a + bs.PATTERN_ROWS]
            wc = bs.replicate_weights(ids, sub, seed, scheme, out=buffer[:len(sub)])
            wp[a:a + len(sub)] = bs.pattern_weights_in_rows(wc, by_cluster)
        yield reps, wp


def expected_duration(result: WeibullResult, profile: dict[str, float] | pd.DataFrame) -> pd.Series:
    """Expected duration E[T | x] = Γ(1 + 1/p)·exp(−x'b/p) (weeks), per profile row.

    With bootstrap replicates, use :func:`expected_duration_replicates` for SEs and CIs.
    """
    prof = pd.DataFrame([profile]) if isinstance(profile, dict) else profile
    return pd.Series(expected_from_params(result.params.to_numpy()[None, :], result.params.index, prof)[0],
                     index=prof.index)


def expected_duration_replicates(result: WeibullResult, profile: pd.DataFrame) -> np.ndarray:
    """(B × rows) expected durations under each bootstrap replicate of the parameters."""
    if result.bootstrap is None:
        raise ValueError("no bootstrap replicates: fit with bootstrap=B")
    return expected_from_params(result.bootstrap.replicates.to_numpy(), result.params.index, profile)


def expected_from_params(theta: np.ndarray, names: pd.Index, profile: pd.DataFrame) -> np.ndarray:
    """(B × rows) expected durations Γ(1 + 1/p)·exp(−x'b/p) for parameter rows ``theta`` (B × k)."""
    covs = [n for n in names if n not in (CONS, LN_P)]
    X = np.column_stack([profile[c].to_numpy(dtype=float) for c in covs] + [np.ones(len(profile))])
    b = theta[:, :-1]
    p = np.exp(theta[:, -1:])
    xb = b @ X.T
    return special.gamma(1 + 1 / p) * np.exp(-xb / p)


RMST_HORIZON_WEEKS = 52


def restricted_mean_from_params(theta: np.ndarray, names: pd.Index, profile: pd.DataFrame,
                                horizon: int = RMST_HORIZON_WEEKS) -> np.ndarray:
    """(B × rows) restricted mean in whole weeks, Σ_{k=0}^{horizon−1} S(k | x), S(k) = exp(−e^{x'b}·k^p).

    Under the grouped-week likelihood (``interval=True``) an event in week d means T ∈ (d−1, d],
    so the whole weeks a spell lasts are ⌈T⌉ and E[min(⌈T⌉, horizon)] = Σ_{k<horizon} P(T > k):
    the expected number of the first ``horizon`` weeks that pass without the event. Unlike the
    expected duration it needs S only at whole weeks up to ``horizon`` — what a window of 56 weeks
    observes — and equals the area under the Kaplan–Meier step curve of the whole-week durations
    up to ``horizon`` (lifelines ``restricted_mean_survival_time``). Parameter rows ``theta``
    (B × k) as :func:`expected_from_params`.
    """
    covs = [n for n in names if n not in (CONS, LN_P)]
    X = np.column_stack([profile[c].to_numpy(dtype=float) for c in covs] + [np.ones(len(profile))])
    rate = np.exp(theta[:, :-1] @ X.T)  # (B × rows) e^{x'b}
    p = np.exp(theta[:, -1])
    k = np.arange(horizon, dtype=float)
    kp = np.where(k[None, :] > 0, np.exp(p[:, None] * np.log(np.where(k > 0, k, 1.0))[None, :]), 0.0)  # (B × K)
    return np.exp(-rate[:, :, None] * kp[:, None, :]).sum(axis=2)
