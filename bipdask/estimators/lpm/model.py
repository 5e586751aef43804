"""Linear (probability) models with absorbed fixed effects, robust and cluster-bootstrap inference.

:func:`lpm` fits y = Xb + FE + e by OLS: HIR eqs. (2)–(3) and the mediator LPMs of Tables 9–10
(the HIR quantitative report, Metrica 2019), and the BIP caseworker-effect LPM (the BIP caseworker
report: R² without/with caseworker fixed effects 16 %/21 %). Fixed effects are *absorbed* —
swept out of y and X by weighted demeaning (exact group means for one factor, alternating
projections for several, :mod:`bipdask.estimators.lpm.absorb`) — never built as dummies; their
level effects are recovered afterwards (:meth:`LinearResult.fixed_effect_values`). Without fixed effects
the model has an intercept ``_cons`` (Stata naming).

Standard errors (``small_sample="stata"``): HC1 = N/(N−K)·HC0 without a cluster, CR1 =
G/(G−1)·(N−1)/(N−K)·CR0 with one (Stata ``regress``/``areg, vce(cluster)``, R ``vcovCL``).
``small_sample="none"`` (alias ``"r"``) gives HC0/CR0; the vocabulary and the sandwich pieces are
:mod:`bipdask.estimators.covariance`. What K counts with absorbed effects is ``fe_dof``:

* ``"all"``: the intercept and every absorbed level (L − 1 per factor after the first; for two
  factors the exact redundancy from their connected components). This is lm with dummies and
  Stata ``areg``.
* ``"nested"`` (default): a factor whose levels are nested in the clusters (caseworker effects
  clustered by caseworker, person effects by person) adds nothing to K — Stata ``xtreg, fe``,
  ``reghdfe`` and fixest ``fixef.K = "nested"``. Factors not nested in the clusters count as under
  ``"all"``; without a cluster every factor counts.

Inference uses Student's t with G − 1 degrees of freedom when clustered, N − K otherwise.
``weights`` are frequency weights: a row stands for w identical observations, so N = Σw (a
frame of per-person cell means with weeks as weights gives the same coefficients and
cluster-robust SEs as the person-week rows; HC SEs and R² need the rows themselves).

The cluster bootstrap (:mod:`bipdask.inference.bootstrap` weights) never refits rows. After absorbing the
fixed effects once, each cluster g contributes its sums S_g = Σ_i w_i z_i z_i' of z = (x̃, ỹ)
(stacked as a G × (k+1)(k+2)/2 matrix); replicate b's normal equations are W_b S, streamed in
blocks of replicates, and all B systems are solved at once. Whether this equals a refit on the
resampled clusters depends on the fixed effects (``LinearResult.bootstrap_absorption``):

* ``"exact"`` — no fixed effects, or one factor. A replicate's level means are weighted means,
  linear in the cluster weights: the per-(cluster, level) sums n_gl, s_gl = Σ w z̃ are carried
  too, and the replicate's demeaning is re-applied exactly,
  Σ_b = W_b S − Σ_l s_lb s_lb' / n_lb with s_lb = Σ_g w_bg s_gl, n_lb = Σ_g w_bg n_gl.
  For factors nested in the clusters every s_gl is zero (the correction vanishes). The dense
  G × L(k+2) matrix of cell sums must fit ``max_cell_entries``; otherwise ``"once"`` is used.
* ``"nested"`` — several factors, all nested in the clusters: demeaning once is exact (a cluster
  drawn m times duplicates whole levels, whose means do not change).
* ``"once"`` — several factors not all nested (or a one-way correction too large): the
  full-sample demeaning is kept in every replicate. This is an approximation: it ignores the
  sampling variation of the level means, an O(1/n_l) effect per level. With week effects over
  ~28k persons (Table 8: thousands of rows per level) the replicate SEs differ by well under 1 %;
  it matters for small levels (a few rows per level).

Wild cluster restricted bootstrap (``inference="wild"``): the caseload cap of the HIR experiment
was assigned to 15 of 97 job centres, so the DiD coefficients of eqs. (2)–(3) need inference at
job-centre level, where CR1 (and person-clustered intervals even more) over-reject. ``lpm`` then
tests H0: β_j = 0 for every covariate by the WCR bootstrap of :mod:`bipdask.inference.wild`
(``cluster`` is the wild cluster, ``bootstrap`` is B, ``wild_weights`` Rademacher or Webb; all 2^G
sign vectors when 2^G ≤ B) and inverts it for intervals at ``alpha``. The replicates come from
per-cluster sums of the partialled design (:meth:`LinearResult.cluster_moments`,
:mod:`bipdask.estimators.lpm.wild`) — O(G·k) per replicate, never the rows — and equal the WCR of
the model with its intercept and fixed effects as dummies: exact without fixed effects, with
factors nested in the clusters, and with one factor not nested (beside at most one nested
factor; others raise ValueError). ``bootstrap_absorption`` is then ``"exact"`` or ``"nested"``.
The result is in ``wild`` and ``tidy()`` publishes its se/CI/p (``inference="wild"``).

Speed (``benchmarks/bench_linear.py``): the per-cluster sums are one pass over the rows
(column-major products reduced per cluster run); per block of replicates the weights are drawn
into one reused buffer and enter a single (block × G)·(G × q) product — q = 15 columns for the
share DiD (Σw, Σw·z, Σw·z·z'), never a B × G matrix. At G ≈ 28k persons and 2.7M rows the
replicates take ≈ 0.25 s for B = 999 and ≈ 1.6 s for B = 9,999 on one core, two thirds of it
drawing the weights (≈ 0.1 ms per replicate); see benchmarks/results/linear.json. The methods are
described in ``docs/methods.md``. The WCR bootstrap at G = 97 job centres and 2.7M rows with
B = 9,999 takes ≈ 0.25 s after the point fit for one coefficient, ≈ 0.4 s for D, E and D×E
(``benchmarks/bench_wild.py``, results/wild.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from bipdask.errors import InputError, Problem, require_columns
from bipdask.estimators import covariance as cv
from bipdask.estimators.covariance import SmallSample
from bipdask.estimators.lpm.absorb import (
    _absorb,
    _Absorbed,
    _absorbed_params,
    _absorption_method,
    _nested,
    _recover_effects,
)
from bipdask.estimators.lpm.replicates import _COLLINEAR_TOL, PairsState, _bootstrap
from bipdask.estimators.lpm.wild import wild_absorption, wild_moments
from bipdask.estimators.results import Results
from bipdask.inference import bootstrap as bs
from bipdask.inference.pairs import BootstrapSummary
from bipdask.inference.wild import (
    WEIGHTS,
    ClusterMoments,
    WildTest,
    WildWeights,
    wcr_linear,
)

CONS = "_cons"
FeDof = Literal["nested", "all"]
InferenceKind = Literal["analytic", "pairs", "wild"]


@dataclass(frozen=True, repr=False)
class LinearResult(Results):
    """A fitted :func:`lpm`: OLS coefficients, robust covariance, R² and bootstrap replicates.

    ``params`` index: the covariates (and ``_cons`` without fixed effects). Covariates collinear
    with others or with the fixed effects are listed in ``omitted`` with NaN estimates (Stata's
    "omitted because of collinearity"). ``nobs`` = rows used, ``sum_weights`` = N.
    ``rsquared`` is the full model's (with the fixed effects, lm/areg's); ``rsquared_within``
    that of the absorbed regression (reghdfe's); ``rsquared_without_fe`` that of the same
    covariates with an intercept and no fixed effects (the BIP report's 16 % against 21 %).
    Inference is Student's t with ``df_inference`` degrees of freedom
    (:class:`~bipdask.estimators.results.Results`); ``tvalues``/``pvalues`` are the base's
    ``statistics``/``p_values``.
    """

    _title = "Linear model (OLS, absorbed fixed effects)"
    _statistic = "t"
    _se_name = "se"

    params: pd.Series
    cov: pd.DataFrame
    nobs: int
    sum_weights: float
    df_resid: float
    df_inference: float
    k_dof: int
    rss: float
    rsquared: float
    rsquared_adj: float
    rsquared_within: float
    rsquared_without_fe: float
    n_clusters: int
    cov_type: str
    fixed_effects: tuple[str, ...] = ()
    n_absorbed: tuple[int, ...] = ()
    omitted: tuple[str, ...] = ()
    n_dropped: int = 0
    bootstrap: BootstrapSummary | None = None
    bootstrap_absorption: str | None = None
    wild: WildTest | None = None
    pairs_state: PairsState | None = field(default=None, repr=False, compare=False)
    _state: _Absorbed | None = field(default=None, repr=False, compare=False)

    @property
    def _t_df(self) -> float:
        return self.df_inference

    @property
    def tvalues(self) -> pd.Series:
        """Alias of :attr:`statistics` (t = estimate / se)."""
        return self.statistics

    @property
    def pvalues(self) -> pd.Series:
        """Alias of :attr:`p_values` (t with ``df_inference`` degrees of freedom)."""
        return self.p_values

    def _summary_info(self) -> dict[str, str]:
        info = {"Sum of weights": f"{self.sum_weights:,.0f}", "R²": f"{self.rsquared:.4f}",
                "R² without fixed effects": f"{self.rsquared_without_fe:.4f}", "t df": f"{self.df_inference:g}"}
        if self.fixed_effects:
            info["Absorbed"] = ", ".join(f"{f} ({n:,} levels)" for f, n in zip(self.fixed_effects, self.n_absorbed))
        if self.omitted:
            info["Omitted (collinear)"] = ", ".join(self.omitted)
        if self.wild is not None:
            draws = ("all 2^G sign vectors" if self.wild.enumerated
                     else f"{self.wild.n_replicates:,} {self.wild.weights} draws, seed {self.wild.seed}")
            info["Wild cluster bootstrap"] = f"WCR, {self.wild.n_clusters:,} clusters, {draws}"
        return info

    def cluster_moments(self) -> ClusterMoments:
        """The fit's per-cluster sufficient statistics (FWL-partialled design, and the cells of an
        absorbed factor not nested in the clusters), for wild cluster restricted bootstrap tests of
        other hypotheses: :func:`bipdask.inference.wild.wcr_draws` (H0: R'β = r for any contrast R
        and r) and :func:`~bipdask.inference.wild.wcr_linear`. Without ``cluster`` the rows are the
        clusters. ValueError for absorbed factors the WCR cannot handle exactly
        (:func:`bipdask.estimators.lpm.wild.wild_absorption`)."""
        st = self._state
        if st is None:
            raise ValueError("cluster moments need the fit state (not kept for this result)")
        covs = [c for c in self.params.index if c != CONS]
        keep = [j for j, c in enumerate(covs) if c not in self.omitted]
        nested = [_nested(c, st.cluster_codes) for c in st.fe_codes]
        small = "stata" if self.cov_type.startswith(("CR1", "HC1")) else "none"
        return wild_moments(st, keep, len(covs), [covs[j] for j in keep], nobs=self.sum_weights,
                            k_dof=self.k_dof, small_sample=small, nested=nested, n_levels=list(self.n_absorbed))

    def fixed_effect_values(self, name: str) -> pd.Series:
        """Estimated level effects of the absorbed factor ``name``, indexed by its levels.

        One factor: α_l = weighted mean of y − Xb within level l (the dummy coefficients of lm
        plus its intercept). Several factors: the alternating-projections solution of
        y − Xb = Σ_f α_f + e, normalised so that every factor after the first has weighted mean
        zero (only differences within connected sets are identified).
        """
        if name not in self.fixed_effects:
            raise KeyError(f"{name!r} is not an absorbed factor; absorbed: {list(self.fixed_effects)}")
        st = self._state
        if st is None or st.resid_fe is None:
            raise ValueError("fixed-effect values need the fit state (not kept for this result)")
        effects = _recover_effects(st.resid_fe, st.w, st.fe_codes, [len(lv) for lv in st.fe_levels])
        i = self.fixed_effects.index(name)
        return pd.Series(effects[i], index=st.fe_levels[i], name=name)


def _independent(Q: np.ndarray, scale: np.ndarray) -> list[int]:
    """Columns of the Gram matrix Q that are linearly independent of the earlier ones."""
    keep: list[int] = []
    for j in range(Q.shape[0]):
        if scale[j] <= 0:
            continue
        resid = Q[j, j]
        if keep:
            a = Q[np.ix_(keep, keep)]
            v = Q[keep, j]
            resid = Q[j, j] - v @ np.linalg.solve(a, v)
        if resid > _COLLINEAR_TOL * scale[j]:
            keep.append(j)
    return keep


# --------------------------------------------------------------------------- fit


def _problem(column: str, rule: str, n: int) -> InputError:
    return InputError([Problem("lpm", column, rule, n)])


def lpm(
    data: pd.DataFrame,
    *,
    y: str,
    covariates: Sequence[str],
    fixed_effects: str | Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    scheme: bs.Scheme = "multinomial",
    replicate_window: range | None = None,
    small_sample: SmallSample = "stata",
    fe_dof: FeDof = "nested",
    block: int = 500,
    max_cell_entries: int = 20_000_000,
    inference: InferenceKind | None = None,
    wild_weights: WildWeights = "rademacher",
    alpha: float = 0.05,
    keep_pairs_state: bool = False,
    max_moment_bytes: int | None = None,
) -> LinearResult:
    """OLS of ``y`` on ``covariates`` with absorbed ``fixed_effects`` (a linear probability model).

    Parameters
    ----------
    data : one row per observation (person-week, response). Rows with a missing value in any
        column used are dropped (listwise, as lm and Stata do); ``n_dropped`` counts them.
    y : outcome column (a 0/1 flag for an LPM; bools are read as 0/1).
    covariates : regressor columns; an intercept ``_cons`` is added when there are no fixed effects.
    fixed_effects : one or more categorical columns absorbed by demeaning (their level effects via
        :meth:`LinearResult.fixed_effect_values`).
    cluster : cluster column (e.g. ``person_id``) for CR1 SEs and the bootstrap; without it SEs are
        HC1 and the bootstrap resamples rows.
    weights : frequency-weight column (> 0).
    bootstrap, seed, scheme : B cluster-bootstrap replicates (0 = none) from
        :func:`bipdask.inference.bootstrap.replicate_weights`; a seed is required when B > 0.
    replicate_window : a range inside 0 … B − 1: only those replicates (one block of a run computed
        in pieces), each bit for bit as in the run of all B (``docs/methods.md#replicate-blocks``).
    small_sample : ``"stata"`` (HC1 / CR1) or ``"none"`` (HC0 / CR0; alias ``"r"``), see
        :mod:`bipdask.estimators.covariance`.
    fe_dof : ``"nested"`` or ``"all"``: whether factors nested in the clusters count in K.
    block : replicates per block (memory: block × G floats).
    max_cell_entries : size limit of the dense per-(cluster, level) sums of the exact one-way
        bootstrap; above it the demeaning is done once (see the module docstring).
    inference : ``"analytic"`` (HC1/CR1 only; ``bootstrap`` must be 0), ``"pairs"`` (the pairs
        cluster bootstrap above, ``bootstrap`` = B > 0) or ``"wild"`` (the wild cluster restricted
        bootstrap of every covariate with ``cluster`` as the wild cluster and ``bootstrap`` as B,
        stored in ``wild``; ``tidy()`` then publishes its se/CI/p). Default (``None``): pairs when
        ``bootstrap`` > 0, analytic otherwise.
    wild_weights : ``"rademacher"`` (all 2^G sign vectors when 2^G ≤ B) or ``"webb"``.
    alpha : level of the wild bootstrap's inverted intervals (1 − α).
    keep_pairs_state : keep what the pairs bootstrap needs (``pairs_state``,
        :class:`~bipdask.estimators.lpm.replicates.PairsState`) so that a window of replicates can
        be computed later without the rows (:func:`~bipdask.estimators.lpm.replicates.pairs_replicates`);
        ``block`` and ``max_cell_entries`` are kept with it.
    max_moment_bytes : bound on the per-cluster sums of the pairs bootstrap held at once (None:
        no bound); above it they are formed a group of columns at a time
        (:mod:`bipdask.estimators.lpm.replicates`).
    """
    method = _inference_method(inference, bootstrap, cluster, wild_weights)
    if replicate_window is not None and method != "pairs":
        raise ValueError("lpm: replicate_window is a window of the pairs bootstrap; it needs inference='pairs'")
    covs = list(covariates)
    fes = [fixed_effects] if isinstance(fixed_effects, str) else list(fixed_effects or [])
    small_sample = cv.small_sample_kind(small_sample)
    if fe_dof not in ("nested", "all"):
        raise ValueError(f"fe_dof must be 'nested' or 'all', not {fe_dof!r}")
    if len(set(covs)) != len(covs) or CONS in covs:
        raise ValueError("lpm: covariates must be distinct and not named '_cons'")
    used = list(dict.fromkeys([y, *covs, *fes, *(c for c in (cluster, weights) if c)]))
    require_columns(data, used, "lpm")
    frame = data[used]
    ok = frame.notna().all(axis=1).to_numpy()
    n_dropped = int((~ok).sum())
    if n_dropped:
        frame = frame[ok]
    n = len(frame)
    try:
        yv = frame[y].to_numpy(dtype=np.float64)
        X = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in covs]) if covs else np.empty((n, 0))
    except (TypeError, ValueError):
        raise _problem(y if not covs else ",".join(covs), "outcome and covariates must be numeric", n) from None
    w = np.ones(n) if weights is None else frame[weights].to_numpy(dtype=np.float64)
    if weights is not None and not np.all(w > 0):
        raise _problem(weights, "frequency weights must be > 0", int((~(w > 0)).sum()))
    if not (np.all(np.isfinite(yv)) and np.all(np.isfinite(X))):
        raise _problem(y, "outcome and covariates must be finite", n)
    fe_codes, fe_levels = [], []
    for f in fes:
        codes, levels = pd.factorize(frame[f], sort=True)
        fe_codes.append(codes.astype(np.intp))
        fe_levels.append(pd.Index(levels, name=f))
    n_levels = [len(lv) for lv in fe_levels]
    if cluster is not None:
        cl_codes, cl_levels = pd.factorize(frame[cluster], sort=True)
        cl_codes = cl_codes.astype(np.intp)
        cluster_ids = (np.asarray(cl_levels, dtype=np.int64) if pd.api.types.is_integer_dtype(cl_levels)
                       else np.arange(len(cl_levels), dtype=np.int64))
    else:
        cl_codes = np.arange(n, dtype=np.intp)
        cluster_ids = np.arange(n, dtype=np.int64)
    g = cluster_ids.size
    k = len(covs)
    del frame  # memory: the rows are in X and yv now (n × k floats each copy; 96 MB for BIP at scale 30)

    raw = np.column_stack([X, yv])
    means = w @ raw / w.sum() if n else np.zeros(k + 1)
    if fes:
        Z = _absorb(raw, w, fe_codes, n_levels)
        Q0 = _weighted_gram(raw, w, means)
        Q = _weighted_gram(Z, w)
    else:
        Z = raw - means  # centred
        Q0 = Q = _weighted_gram(Z, w)
    if fes or not keep_pairs_state:
        del raw
    keep = _independent(Q[:k, :k], np.diag(Q0)[:k])
    omitted = tuple(covs[j] for j in range(k) if j not in keep)
    nested = [cluster is not None and _nested(c, cl_codes) for c in fe_codes]
    counted_all = _absorbed_params(fe_codes, n_levels, [True] * len(fes))
    counted = (_absorbed_params(fe_codes, n_levels, [not s for s in nested]) if fe_dof == "nested"
               else counted_all)
    n_w = float(w.sum())
    k_all = len(keep) + 1 + counted_all
    k_dof = len(keep) + 1 + (counted if cluster is not None else counted_all)
    if n_w <= k_all or (cluster is not None and g < 2):
        raise _problem(y, f"too few observations ({n_w:g}) or clusters ({g}) for {k_all} parameters", n)

    Xk = Z[:, keep]
    A = Q[np.ix_(keep, keep)]
    beta = _solve(A, Q[keep, k])
    e = Z[:, k] - Xk @ beta
    beta = beta + _solve(A, Xk.T @ (w * e))  # one refinement step: lstsq accuracy
    e = Z[:, k] - Xk @ beta
    bread = np.linalg.inv(A) if keep else np.zeros((0, 0))
    scores = Xk * (w * e)[:, None]
    if cluster is not None:
        meat = cv.cluster_meat(cv.sum_by_cluster(cl_codes, scores, g))
        del scores
        factor = cv.linear_factor(small_sample, nobs=n_w, k=k_dof, n_clusters=g)
        df_inf = float(g - 1)
        cov_type = f"CR1 (K={k_dof})" if small_sample == "stata" else "CR0"
    else:
        meat = cv.hetero_meat(Xk, w * e * e)
        factor = cv.linear_factor(small_sample, nobs=n_w, k=k_dof)
        df_inf = n_w - k_all
        cov_type = f"HC1 (K={k_dof})" if small_sample == "stata" else "HC0"
    cov_k = cv.sandwich(bread, meat, factor)
    cov_k = (cov_k + cov_k.T) / 2

    names = [*covs] if fes else [*covs, CONS]
    full_beta = np.full(k, np.nan)
    full_beta[keep] = beta
    params = pd.Series(full_beta, index=covs, dtype=np.float64)
    cov = pd.DataFrame(np.full((k, k), np.nan), index=covs, columns=covs)
    cov.iloc[keep, keep] = cov_k
    if not fes:
        cons = means[k] - means[keep] @ beta  # _cons = ȳ − x̄'b
        params = pd.concat([params, pd.Series({CONS: cons})])
        cov_cons = _cons_cov(Xk, e, w, cl_codes, g, means[keep], factor, cluster is not None)
        cov = pd.DataFrame(_embed_cons(cov_cons, keep, k), index=names, columns=names)

    rss = float(w @ (e * e))
    tss = float(Q0[k, k])
    within_tss = float(Q[k, k])
    r2 = 1 - rss / tss if tss > 0 else np.nan
    r2_adj = 1 - (rss / (n_w - k_all)) / (tss / (n_w - 1)) if tss > 0 else np.nan
    if fes:
        keep0 = _independent(Q0[:k, :k], np.diag(Q0)[:k])
        a0 = Q0[np.ix_(keep0, keep0)]
        b0 = _solve(a0, Q0[keep0, k])
        rss0 = tss - float(Q0[keep0, k] @ b0)
        r2_without = 1 - rss0 / tss if tss > 0 else np.nan
        r2_within = 1 - rss / within_tss if within_tss > 0 else np.nan
        resid_fe = yv - X[:, keep] @ beta
    else:
        r2_without, r2_within, resid_fe = r2, np.nan, None
    state = _Absorbed(Z, w, cl_codes, cluster_ids, tuple(fe_codes), tuple(fe_levels),
                      None if fes else means, resid_fe)
    summary = absorption = wild = kept = None
    if keep_pairs_state:
        kept = PairsState.of(state, keep, k, _absorption_method(fe_codes, nested, g, n_levels, k, max_cell_entries),
                             n_levels, block, params.index, None if fes else raw)
    if method == "wild":
        absorption = wild_absorption(nested)
        moments = wild_moments(state, keep, k, [covs[j] for j in keep], nobs=n_w, k_dof=k_dof,
                               small_sample=small_sample, nested=nested, n_levels=n_levels)
        test = wcr_linear(moments, bootstrap=bootstrap, seed=seed, weights=wild_weights, alpha=alpha)
        wild = replace(test, table=test.table.reindex(params.index))
    elif bootstrap:
        if seed is None:
            raise ValueError("lpm: bootstrap needs a seed")
        absorption = _absorption_method(fe_codes, nested, g, n_levels, k, max_cell_entries)
        reps = _bootstrap(state, keep, k, bootstrap, seed, scheme, block, absorption, n_levels,
                          replicate_window, max_moment_bytes)
        summary = _pairs_summary(reps, params, scheme, seed)
    return LinearResult(
        params=params, cov=cov, nobs=n, sum_weights=n_w, df_resid=n_w - k_all, df_inference=df_inf,
        k_dof=int(k_dof), rss=rss, rsquared=r2, rsquared_adj=r2_adj, rsquared_within=r2_within,
        rsquared_without_fe=r2_without, n_clusters=int(g), cov_type=cov_type, fixed_effects=tuple(fes),
        n_absorbed=tuple(n_levels), omitted=omitted, n_dropped=n_dropped, bootstrap=summary,
        bootstrap_absorption=absorption, wild=wild, pairs_state=kept, _state=state,
    )


def _pairs_summary(reps: np.ndarray, params: pd.Series, scheme: str, seed: int) -> BootstrapSummary:
    """The pairs bootstrap's summary of replicate rows ``reps`` (failed: a fitted parameter not finite)."""
    fitted = np.isfinite(params.to_numpy())  # omitted covariates are NaN in every replicate
    failed = int(np.sum(~np.all(np.isfinite(reps[:, fitted]), axis=1)))
    return BootstrapSummary(pd.DataFrame(reps, columns=params.index), params, scheme, seed, failed)


def with_pairs_replicates(fit: LinearResult, replicates: pd.DataFrame, absorption: str, scheme: str,
                          seed: int) -> LinearResult:
    """``fit`` (an :func:`lpm` fit without replicates) as :func:`lpm` returns it with the pairs
    bootstrap whose replicates are ``replicates`` (:func:`~bipdask.estimators.lpm.replicates.pairs_replicates`
    or :class:`~bipdask.estimators.lpm.replicates.SharedReplicates` of its ``pairs_state``, whose
    ``absorption`` it was): its bootstrap summary and absorption method set, the pairs state dropped."""
    summary = _pairs_summary(replicates.to_numpy(), fit.params, scheme, seed)
    return replace(fit, bootstrap=summary, bootstrap_absorption=absorption, pairs_state=None)


def _inference_method(inference: str | None, bootstrap: int, cluster: str | None, weights: str) -> str:
    """Resolve ``inference`` (None: pairs when B > 0, analytic otherwise) and check its arguments."""
    if inference is None:
        return "pairs" if bootstrap else "analytic"
    if inference == "analytic":
        if bootstrap:
            raise ValueError("lpm: inference='analytic' draws no replicates; set bootstrap=0")
    elif inference == "pairs":
        if not bootstrap:
            raise ValueError("lpm: inference='pairs' needs bootstrap=B > 0")
    elif inference == "wild":
        if cluster is None:
            raise ValueError("lpm: inference='wild' needs a cluster (the level of the wild weights)")
        if not bootstrap or bootstrap < 0:
            raise ValueError("lpm: inference='wild' needs bootstrap=B > 0")
        if weights not in WEIGHTS:
            raise ValueError(f"lpm: wild_weights must be one of {WEIGHTS}, not {weights!r}")
    else:
        raise ValueError(f"lpm: inference must be 'analytic', 'pairs' or 'wild', not {inference!r}")
    return inference


GRAM_ROWS = 65_536  # rows per product of :func:`_weighted_gram`


def _weighted_gram(A: np.ndarray, w: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
    """(A − centre)ᵀ diag(w) (A − centre), summed over blocks of :data:`GRAM_ROWS` rows: the
    temporaries are a block's, not n × cols (two 94 MB copies per fit of the BIP slides' LPM at
    390,000 responses). Up to GRAM_ROWS rows it is the one product ``(A·w)ᵀ A``, bit for bit."""
    out = np.zeros((A.shape[1], A.shape[1]))
    for a in range(0, max(A.shape[0], 1), GRAM_ROWS):
        block = A[a:a + GRAM_ROWS] if centre is None else A[a:a + GRAM_ROWS] - centre
        part = (block * w[a:a + GRAM_ROWS, None]).T @ block
        out = part if a == 0 else out + part
    return out


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(A, b) if A.size else np.zeros(0)


def _cons_cov(Xk, e, w, cl_codes, g, xbar, factor, clustered) -> np.ndarray:
    """Sandwich of (b, _cons) from the centred fit: the intercept's score is Σ w e."""
    Xa = np.column_stack([Xk + xbar, np.ones(len(e))])  # raw design [x, 1]
    u = Xa * (w * e)[:, None]
    meat = cv.cluster_meat(cv.sum_by_cluster(cl_codes, u, g)) if clustered else cv.hetero_meat(Xa, w * e * e)
    A = (Xa * w[:, None]).T @ Xa
    bread_full = np.linalg.inv(A)
    return cv.sandwich(bread_full, meat, factor)


def _embed_cons(cov_full, keep, k) -> np.ndarray:
    out = np.full((k + 1, k + 1), np.nan)
    idx = [*keep, k]
    out[np.ix_(idx, idx)] = (cov_full + cov_full.T) / 2
    return out
