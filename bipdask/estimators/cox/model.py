"""Cox proportional-hazards regression with counting-process input, Efron or Breslow ties,
and cluster-robust standard errors that are right with tied event times.

Reproduces the HIR quantitative report's mediator models (Tables 9 and 10: the hazard of a new
LAB intervention, *afgangsrate til LAB-indsats*, on the week's caseload and casemiss, on the change
in caseload from Jan–Feb 2018, and on pre-survey belief). Weekly register data are all ties, so
ties are handled exactly as R ``survival::coxph`` does (Efron by default), including the
robust (sandwich) variance from the Efron score residuals — lifelines' robust SEs ignore ties.

With ``inference="wild"`` the coefficients are tested at job-centre level by the wild score
bootstrap (:mod:`bipdask.estimators.cox.score`); its restricted fits hold a coefficient fixed
through a per-row offset of the linear predictor (``_Stratum.offset``).

The risk-set sums are computed for all event times at once with cumulative sums over event-time
indices (no per-row loops), so ~200k person-week rows fit in well under a second. The fit is
:func:`bipdask.estimators.newton.newton` (step halving) on the partial likelihood, the variance
comes from :mod:`bipdask.estimators.covariance`; the methods are described in ``docs/methods.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from bipdask.errors import FitError, require_columns
from bipdask.estimators import covariance as cv
from bipdask.estimators.cox.replicates import REPLICATE_BLOCK
from bipdask.estimators.newton import NewtonMessages, NewtonResult, newton
from bipdask.estimators.results import Results
from bipdask.inference import score
from bipdask.inference.pairs import BootstrapSummary
from bipdask.inference.wild import WildTest, WildWeights


@dataclass(frozen=True)
class _Stratum:
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray
    X: np.ndarray
    w: np.ndarray
    rows: np.ndarray  # positions in the caller's data
    times: np.ndarray  # distinct event times (m,)
    idx_stop: np.ndarray  # number of event times ≤ stop (rows contribute to times[:idx_stop])
    idx_start: np.ndarray  # number of event times ≤ start
    death_time: np.ndarray  # event-time index of each death row (−1 otherwise)
    offset: np.ndarray | None = None  # added to x'β (a coefficient held fixed); None: nothing added


def _prepare(start, stop, event, X, w, rows) -> _Stratum:
    times = np.unique(stop[event > 0])
    idx_stop = np.searchsorted(times, stop, side="right")
    idx_start = np.searchsorted(times, start, side="right")
    death_time = np.where(event > 0, idx_stop - 1, -1)
    return _Stratum(start, stop, event, X, w, rows, times, idx_stop, idx_start, death_time)


def _risk_sums(st: _Stratum, values: np.ndarray) -> np.ndarray:
    """Σ over rows at risk at each event time (start < τ ≤ stop) of ``values`` (n × q) → (m × q)."""
    m = st.times.size
    q = values.shape[1]
    add = np.zeros((m + 1, q))
    np.add.at(add, st.idx_stop, values)
    sub = np.zeros((m + 1, q))
    np.add.at(sub, st.idx_start, values)
    # rows with idx > j contribute at time j: reverse cumulative sum, shifted by one
    return (np.cumsum(add[::-1], axis=0)[::-1] - np.cumsum(sub[::-1], axis=0)[::-1])[1:]


def _death_sums(st: _Stratum, values: np.ndarray) -> np.ndarray:
    m = st.times.size
    out = np.zeros((m, values.shape[1]))
    dead = st.death_time >= 0
    np.add.at(out, st.death_time[dead], values[dead])
    return out


def _tie_terms(st: _Stratum, ties: str):
    """Per (event time, k) Efron terms: time index, fraction k/d and weight (R's mean weight)."""
    dead = st.death_time >= 0
    n_dead = np.bincount(st.death_time[dead], minlength=st.times.size)
    w_dead = np.bincount(st.death_time[dead], weights=st.w[dead], minlength=st.times.size)
    if ties == "breslow":
        j = np.arange(st.times.size)
        return j, np.zeros(st.times.size), w_dead
    if ties != "efron":
        raise ValueError("ties must be 'efron' or 'breslow'")
    j = np.repeat(np.arange(st.times.size), n_dead)
    first = np.repeat(np.cumsum(n_dead) - n_dead, n_dead)
    k = np.arange(j.size) - first
    frac = k / n_dead[j]
    return j, frac, (w_dead / np.maximum(n_dead, 1))[j]


def _stratum_stats(beta: np.ndarray, st: _Stratum, ties: str, want_resid: bool = False):
    """One stratum's log partial likelihood, score, information (and score residuals per row if
    asked, else ``None``). Strata are independent: the model's are the sums over strata."""
    p = beta.size
    eta = st.X @ beta
    if st.offset is not None:
        eta = eta + st.offset
    r = np.exp(eta)
    wr = st.w * r
    xx = np.einsum("ni,nj->nij", st.X, st.X).reshape(len(eta), p * p)
    z = np.hstack([wr[:, None], wr[:, None] * st.X, wr[:, None] * xx])
    S = _risk_sums(st, z)
    Dd = _death_sums(st, z)
    j, frac, wbar = _tie_terms(st, ties)
    S0 = S[j, 0] - frac * Dd[j, 0]
    S1 = S[j, 1:1 + p] - frac[:, None] * Dd[j, 1:1 + p]
    S2 = (S[j, 1 + p:] - frac[:, None] * Dd[j, 1 + p:]).reshape(-1, p, p)
    if np.any(S0 <= 0):
        raise FitError("cox_ph: an event time has an empty risk set; check that start < stop for every row")
    a = S1 / S0[:, None]
    dead = st.death_time >= 0
    ll = float(np.sum(st.w[dead] * eta[dead]) - np.sum(wbar * np.log(S0)))
    U = st.w[dead] @ st.X[dead] - wbar @ a
    I = np.einsum("k,kij->ij", wbar / S0, S2) - np.einsum("k,ki,kj->ij", wbar, a, a)
    resid = _score_residuals(st, r, j, frac, wbar, S0, a) if want_resid else None
    return ll, U, I, resid


def _fit_stats(beta: np.ndarray, strata: list[_Stratum], ties: str, want_resid: bool = False):
    """Log partial likelihood, score, information (and score residuals per row if asked): the
    per-stratum terms (:func:`_stratum_stats`) summed in stratum order."""
    p = beta.size
    ll, U, I = 0.0, np.zeros(p), np.zeros((p, p))
    resid = []
    for st in strata:
        ll_s, U_s, I_s, res = _stratum_stats(beta, st, ties, want_resid)
        ll += ll_s
        U += U_s
        I += I_s
        if want_resid:
            resid.append(res)
    return ll, U, I, resid


def _score_residuals(st: _Stratum, r, j, frac, wbar, S0, a) -> np.ndarray:
    """Score (martingale-weighted) residuals per row, as R's ``residuals(type="score")``."""
    m, p = st.times.size, a.shape[1]
    h = wbar / S0  # hazard increment of each (time, k) term
    H = np.bincount(j, weights=h, minlength=m)
    G = np.zeros((m, p))
    np.add.at(G, j, h[:, None] * a)
    Hk = np.bincount(j, weights=h * frac, minlength=m)
    Gk = np.zeros((m, p))
    np.add.at(Gk, j, (h * frac)[:, None] * a)
    n_terms = np.bincount(j, minlength=m)
    abar = np.zeros((m, p))
    np.add.at(abar, j, a)
    abar /= np.maximum(n_terms, 1)[:, None]
    cH = np.concatenate([[0.0], np.cumsum(H)])
    cG = np.vstack([np.zeros(p), np.cumsum(G, axis=0)])
    Hi = cH[st.idx_stop] - cH[st.idx_start]
    Gi = cG[st.idx_stop] - cG[st.idx_start]
    L = -r[:, None] * (st.X * Hi[:, None] - Gi)
    dead = st.death_time >= 0
    jd = st.death_time[dead]
    L[dead] += st.X[dead] - abar[jd]
    L[dead] += r[dead, None] * (st.X[dead] * Hk[jd, None] - Gk[jd])
    return L


@dataclass(frozen=True, repr=False)
class CoxResult(Results):
    """A fitted Cox model: log hazard ratios, SEs (model-based or cluster-robust), log-likelihood.

    ``cov_model`` is the inverse information (``se_model``); ``cov`` the cluster-robust sandwich
    when a cluster was given. Intervals, p-values and :meth:`tidy` (with a ``hazard_ratio``
    column) are normal-theory (:class:`~bipdask.estimators.results.Results`), or with
    ``inference="wild"`` those of the wild score bootstrap in ``wild`` (on the β scale;
    :func:`bipdask.estimators.cox.score.wild_cox`).
    """

    _title = "Cox proportional hazards"

    params: pd.Series
    cov: pd.DataFrame
    cov_model: pd.DataFrame
    loglik: float
    loglik_null: float
    nobs: int
    n_events: float
    n_clusters: int
    ties: str
    cov_type: str
    iterations: int
    bootstrap: BootstrapSummary | None = None
    wild: WildTest | None = None
    _data: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def se_model(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_model.to_numpy())), index=self.params.index)

    @property
    def hazard_ratios(self) -> pd.Series:
        return np.exp(self.params)

    def _tidy_extra(self) -> dict[str, np.ndarray]:
        return {"hazard_ratio": np.exp(self.params.to_numpy())}

    def _summary_info(self) -> dict[str, str]:
        info = {"Events": f"{self.n_events:,.0f}", "Ties": self.ties, "Log-likelihood": f"{self.loglik:.4f}",
                "Null log-likelihood": f"{self.loglik_null:.4f}", "Iterations": str(self.iterations)}
        if self.wild is not None:
            info["Wild bootstrap"] = score.describe(self.wild)
        return info


def _strata(data, start, duration, event, X, w, strata) -> list[_Stratum]:
    st = np.zeros(len(data)) if start is None else data[start].to_numpy(dtype=np.float64)
    t = data[duration].to_numpy(dtype=np.float64)
    d = data[event].to_numpy(dtype=np.float64)
    if np.any(~(t > st)):
        raise FitError(f"cox_ph: {int(np.sum(~(t > st)))} rows have stop ≤ start (or duration ≤ 0)")
    groups = np.zeros(len(data), dtype=np.int64) if strata is None else pd.factorize(data[strata], sort=True)[0]
    out = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        out.append(_prepare(st[rows], t[rows], d[rows], X[rows], w[rows], rows))
    return out


_MAX_ITER = 59
_MESSAGES = NewtonMessages(
    singular="cox_ph: information matrix is singular; a covariate is constant or collinear",
    no_ascent="cox_ph: no ascent direction; a covariate may separate events perfectly",
    no_convergence="cox_ph did not converge in 60 iterations; rescale covariates or check separation",
)


def _newton_fit(source, p: int, start: np.ndarray | None = None, fixed: tuple[int, float] | None = None
                ) -> NewtonResult:
    """Newton with step halving on the partial likelihood from β = 0 (or ``start``). Log-likelihood,
    score and information come from one pass (``source.stats``, a
    :class:`~bipdask.estimators.cox.source.StrataSource`: the strata in memory or on Dask
    workers), so the last evaluation is kept for the derivatives at the accepted point. With
    ``fixed`` = (j, r) the coefficient j is held at r and β is the other p coefficients."""
    last: dict = {}

    def objective(beta: np.ndarray) -> float:
        ll, U, I = source.stats(beta, fixed=fixed)
        last.update(beta=beta, U=U, I=I)
        return ll

    def gradient_hessian(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if last.get("beta") is not beta:
            objective(beta)
        return last["U"], -last["I"]

    return newton(objective, gradient_hessian, np.zeros(p) if start is None else start, messages=_MESSAGES,
                  max_iter=_MAX_ITER,
                  step_tol=1e-11, ascent_tol=1e-10, objective_tol=1e-13)


def cox_ph(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    covariates: Sequence[str],
    start: str | None = None,
    ties: str = "efron",
    cluster: str | None = None,
    weights: str | None = None,
    strata: str | None = None,
    small_sample: cv.SmallSample | str = "none",
    bootstrap: int = 0,
    seed: int | None = None,
    scheme: str = "multinomial",
    block: int = REPLICATE_BLOCK,
    inference: str | None = None,
    wild_weights: WildWeights = "rademacher",
    wild_terms: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> CoxResult:
    """Fit a Cox model by Newton–Raphson on the partial likelihood.

    Parameters
    ----------
    duration : the stop time (weeks); with ``start``, rows are (start, stop] intervals of the
        counting process (time-varying covariates: one row per person-week at risk).
    event : 1 if the spell ends at ``stop``.
    ties : ``"efron"`` (R's default) or ``"breslow"``.
    cluster : robust (sandwich) variance from score residuals summed within clusters; R's
        convention (``small_sample="none"``, alias ``"r"``: no factor) unless
        ``small_sample="stata"`` (G/(G−1), like ``stcox, vce(cluster)``); see
        :mod:`bipdask.estimators.covariance`.
    weights : case weights, treated as R does (Efron uses the mean weight of tied deaths).
    strata : a separate baseline hazard per stratum (e.g. ``jobcentre_id``).
    bootstrap : cluster-bootstrap replicates, solved by weighted vectorised Newton from the
        full-sample estimate (see :func:`bipdask.estimators.cox.replicates.bootstrap_cox`).
    inference : ``"pairs"`` (the default when ``bootstrap`` > 0), ``"analytic"`` (the default
        without replicates) or ``"wild"``: the wild score bootstrap (Kline and Santos 2012) with
        B = ``bootstrap`` replicates, clustered by ``cluster`` (the job centre) — per tested
        covariate the restricted p-value of H0: β = 0 and a CI for β by test inversion at level
        1 − ``alpha``, in ``wild`` and :meth:`tidy` (:mod:`bipdask.inference.score`,
        :func:`bipdask.estimators.cox.score.wild_cox`). No pairs replicates are drawn then.
    wild_weights : ``"rademacher"`` (all 2^G sign vectors when 2^G ≤ B) or ``"webb"``.
    wild_terms : the covariates to test (default: all).
    alpha : 1 − the level of the wild CI (only with ``inference="wild"``).

    The fit itself is :func:`cox_fit` on the in-memory strata of ``data``
    (:func:`bipdask.estimators.cox.source.partition_strata`, one partition).
    """
    from bipdask.estimators.cox.source import local_source, partition_strata

    require_columns(data, [duration, event, *covariates, start, cluster, weights, strata], "cox_ph")
    score.resolve_inference(inference, bootstrap, cluster, "cox_ph")  # before the work
    part = partition_strata(data, duration=duration, event=event, covariates=covariates, start=start,
                            weights=weights, strata=strata, cluster=cluster, ties=ties)
    return cox_fit(local_source([part]), covariates, cluster=cluster, small_sample=small_sample,
                   bootstrap=bootstrap, seed=seed, scheme=scheme, block=block, inference=inference,
                   wild_weights=wild_weights, wild_terms=wild_terms, alpha=alpha)


def cox_fit(
    source,
    covariates: Sequence[str],
    *,
    cluster: str | None = None,
    small_sample: cv.SmallSample | str = "none",
    bootstrap: int = 0,
    seed: int | None = None,
    scheme: str = "multinomial",
    block: int = REPLICATE_BLOCK,
    inference: str | None = None,
    wild_weights: WildWeights = "rademacher",
    wild_terms: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> CoxResult:
    """:func:`cox_ph` on strata wherever they are: ``source`` is a
    :class:`~bipdask.estimators.cox.source.StrataSource` (its partitions hold the rows, the
    covariates in the order of ``covariates``, the ties and the cluster ids). Only sums over
    strata (k, k × k) and per-cluster score sums come back from the partitions, summed in
    stratum order, so the result does not depend on how the strata are partitioned.
    ``cluster`` names the cluster column the partitions were built with (``None``: model-based
    variance); the other arguments are :func:`cox_ph`'s."""
    cols = list(covariates)
    method = score.resolve_inference(inference, bootstrap, cluster, "cox_ph")
    small_sample = cv.small_sample_kind(small_sample)
    fit = _newton_fit(source, len(cols))
    beta, ll_null, it = fit.params, fit.start_objective, fit.iterations
    n = source.n_rows
    n_clusters = n
    if cluster is None:
        ll, _, I = source.stats(beta)
        cov_model = np.linalg.inv(I)
        cov, cov_type = cov_model, "model"
    else:
        ll, _, I, _, Lg = source.scores(beta)
        cov_model = np.linalg.inv(I)
        n_clusters = Lg.shape[0]
        cov = cv.likelihood_cluster_factor(cv.dfbeta_sandwich(Lg, cov_model), small_sample, n_clusters)
        cov_type = f"cluster({small_sample})"
    names = pd.Index(cols)
    params = pd.Series(beta, index=names)
    summary = None
    if bootstrap and method == "pairs":
        if seed is None:
            raise ValueError("cox_ph: bootstrap needs a seed")
        from bipdask.estimators.cox.replicates import bootstrap_cox

        summary = bootstrap_cox(source, params, bootstrap, seed, scheme, block)
    result = CoxResult(
        params=params,
        cov=pd.DataFrame(cov, index=names, columns=names),
        cov_model=pd.DataFrame(cov_model, index=names, columns=names),
        loglik=ll,
        loglik_null=ll_null,
        nobs=n,
        n_events=source.n_events,
        n_clusters=n_clusters,
        ties=source.ties,
        cov_type=cov_type,
        iterations=it,
        bootstrap=summary,
    )
    if method != "wild":
        return result
    from bipdask.estimators.cox.score import wild_cox

    test = wild_cox(result, source, wild_terms, bootstrap=bootstrap, seed=seed, wild_weights=wild_weights,
                    alpha=alpha)
    return replace(result, wild=test)
