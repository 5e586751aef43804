"""Caseworker effectiveness (the BIP caseworker report, Rosholm et al., *Sagsbehandlereffektivitet*).

:func:`caseworker_effectiveness` is the report's fixed-effects LPM: the 52-week job/SU outcome
on register covariates, the citizen's answers B1–B11 and their changes, and a fixed effect per
caseworker (absorbed). From it: R² without/with the caseworker effects ("16 %" / "21 %"), each
caseworker's effect, quartiles of the effects (29/29/29/28 caseworkers), the raw outcome rate
per quartile (Figur 1: 7/13/18/23 %), the mean effect per quartile (Figur 2: a 26 pp gap),
citizens per caseworker (Figur 3), the counterfactual "every caseworker as effective as the
top-quartile mean" (Tabel 1: 14.76 % → 28.45 %, +14.69 pp) and the quartiles' use of the S1
activity groups (Figures 4–8, Tabel A1) and mean S2–S12 answers (Figures 9–19).

What a change of caseworker does to the job chance (the BIP slides) is in
:mod:`bipdask.analyses.bip.change`. Method: ``docs/methods.md#bip-tabel-1--caseworker-effectiveness``.

Inference: the linear fit comes from :func:`bipdask.estimators.lpm.model.lpm`; derived quantities
(effects, quartiles, the counterfactual) get a cluster bootstrap that reuses lpm's replicates — the same
:func:`bipdask.inference.bootstrap.replicate_weights` over the same sorted cluster ids and seed — and
recomputes each replicate's caseworker effects exactly from per-(cluster, caseworker) sums:
with slope β*_b, the absorbed effect of caseworker k is Σ w(y − x'β*_b) / Σ w over k's rows.
Clusters are citizens by default (responses of one citizen share their unobservables and a
citizen may meet several caseworkers); ``cluster="caseworker_id"`` or ``"jobcentre_id"``
are possible (with 10 job centres the job-centre bootstrap is coarse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from bipdask.analyses.bip import ranking
from bipdask.analyses.bip.common import MOMENT_BYTES, _estimates, _frame_of, _inference, quartile_of
from bipdask.analyses.estimates import Estimate, estimates_frame
from bipdask.data.contract import BIP_CASEWORKER_QUESTIONS
from bipdask.errors import InputError, Problem
from bipdask.estimators.lpm import LinearResult, lpm
from bipdask.estimators.lpm.replicates import PairsState, pairs_replicates
from bipdask.inference.bootstrap import pattern_weights, replicate_blocks, window_rows
from bipdask.inference.cells import Cells
from bipdask.inference.config import Inference
from bipdask.inference.pairs import BootstrapSummary, summarise
from bipdask.prepare.bip import (
    ANALYSIS_PERIOD,
    CaseworkerSample,
    cluster_ids,
    cluster_mean,
    full_rank_columns,
    group_use,
    model_frame,
)

EFFECTIVENESS = "bip_caseworker_effectiveness"
# Tabel 1's top-quartile rows: normal intervals from the bootstrap SE (:func:`normal_interval`).
NORMAL_INTERVAL_ESTIMANDS = ("counterfactual_top_quartile", "increase")
# The quartile figures (1–2) and the profiles publish an SE and a CI only: no p-value, and the
# failure share is left to the run (bipdask.analyses.estimates.describe_inference).
INTERVAL_ONLY_PREFIXES = ("outcome_rate/", "mean_effect/", "profile/")
QUARTILES = (1, 2, 3, 4)


# --- caseworker effectiveness ------------------------------------------------------------------

@dataclass(frozen=True)
class CaseworkerEffectiveness:
    """The BIP caseworker report reproduced. Shares are fractions (0.1476 = 14.76 %), effects are differences of
    fractions (0.1469 = 14.69 pp).

    ``caseworkers``: caseworker_id, n_responses, n_citizens, fixed_effect (the absorbed level
    α_k), effect (α_k minus the response-weighted mean of α: 0 = the average response's
    caseworker), rate_if_all_had (outcome rate if every response had caseworker k), quartile.
    ``quartiles``: per quartile the number of caseworkers, responses, citizens per caseworker
    (Figur 3), raw outcome rate (Figur 1) and mean effect (Figur 2) with SE/CI.
    ``counterfactual``: Tabel 1 (actual, counterfactual_top_quartile, increase) with SE/CI/p.
    ``profile``: per quartile and variable (J, O, S, H, none = S1 activity-group use; s2–s12 =
    mean answer) the mean with SE/CI (quartile membership held at the point estimate).
    """

    fit: LinearResult
    covariates: tuple[str, ...]
    caseworkers: pd.DataFrame
    quartiles: pd.DataFrame
    counterfactual: pd.DataFrame
    profile: pd.DataFrame
    r2_without_fe: float
    r2_with_fe: float
    n_obs: int
    n_citizens: int
    n_caseworkers: int
    cluster: str
    top_quartile: str = "eb"
    bootstrap: BootstrapSummary | None = None
    replicate_plan: EffectivenessReplicates | None = None

    def tidy(self) -> pd.DataFrame:
        """Rows of the estimates schema (:mod:`bipdask.analyses.estimates`), analysis
        ``bip_caseworker_effectiveness``; estimands ``actual``, ``counterfactual_top_quartile``,
        ``increase``, ``r2_without_fe``, ``r2_with_fe``, ``outcome_rate/q<k>``,
        ``mean_effect/q<k>``, ``profile/<variable>/q<k>``."""
        rows = _estimates(EFFECTIVENESS, self.counterfactual, self.n_citizens, self.n_obs)
        rows += [Estimate(EFFECTIVENESS, "r2_without_fe", None, ANALYSIS_PERIOD, self.r2_without_fe,
                          n_persons=self.n_citizens, n_obs=self.n_obs),
                 Estimate(EFFECTIVENESS, "r2_with_fe", None, ANALYSIS_PERIOD, self.r2_with_fe,
                          n_persons=self.n_citizens, n_obs=self.n_obs)]
        for what in ("outcome_rate", "mean_effect"):
            t = self.quartiles.set_index(self.quartiles["quartile"].map(lambda q: f"{what}/q{q}"))
            t = t[[what, f"{what}_se", f"{what}_ci_low", f"{what}_ci_high"]]
            t.columns = ["estimate", "se", "ci_low", "ci_high"]
            rows += _estimates(EFFECTIVENESS, t, self.n_citizens,
                               pd.Series(self.quartiles["n_responses"].to_numpy(), index=t.index))
        keys = [f"profile/{v}/q{q}" for v, q in zip(self.profile["variable"], self.profile["quartile"])]
        p = self.profile.set_index(pd.Index(keys))
        rows += _estimates(EFFECTIVENESS, p[["estimate", "se", "ci_low", "ci_high"]], self.n_citizens, p["n"])
        return estimates_frame(rows)


def caseworker_effectiveness(
    sample: CaseworkerSample | pd.DataFrame,
    persons: pd.DataFrame,
    *,
    inference: Inference = Inference(),
    top_quartile: str = "eb",
    rerank_quartiles: bool = True,
    replicate_plan: bool = False,
) -> CaseworkerEffectiveness:
    """Fit the caseworker fixed-effects LPM and derive the BIP caseworker report's figures and Tabel 1.

    Parameters
    ----------
    sample : :func:`bipdask.prepare.bip.caseworker_sample` (or its ``frame``).
    persons : the contract ``persons`` table (register covariates).
    inference : replicates B of the cluster bootstrap (0 = analytic SEs where they exist; the
        counterfactual and the quartile effects then have none), the run seed (replicate weights
        are ``replicate_weights(ids, range(B), seed, scheme)``; it also seeds the EB posterior
        draws and the split halves), the cluster column (default citizens, ``person_id``) and alpha.
    top_quartile : how Tabel 1's "mean effect of the top 25 %" is estimated
        (:mod:`bipdask.analyses.bip.ranking`): ``"eb"`` (default) the posterior expectation of the
        true top-quartile mean under an empirical-Bayes normal prior; ``"split"`` rank on one half
        of the citizens, evaluate on the other (cross-fitted); ``"raw"`` the report's mean of the
        top quarter of the estimates, biased upward by the winner's curse.
    rerank_quartiles : True (default): each replicate ranks its own effects, so the interval
        carries the uncertainty of who is in the top quartile. False: replicates keep the
        point estimate's quartile membership (conditional on the ranking; for ``raw`` that
        interval is centred on an upward-biased estimate and undercovers).
    replicate_plan : instead of drawing replicates (``inference.replicates`` must be 0), keep
        what they need in ``replicate_plan`` (:class:`EffectivenessReplicates`): any window of
        them later, bit for bit, without the rows or the fit.

    Notes
    -----
    The counterfactual keeps every response's covariates and moves its caseworker effect to the
    top-quartile mean: counterfactual = actual + top − mean_i α̂_k(i) (the LPM is linear, so no
    prediction is clipped). ``caseworkers`` ranks by the method's score (posterior means for
    ``eb``, the estimates otherwise); ``mean_effect/q4`` equals the increase only for ``raw``.
    """
    if top_quartile not in ranking.METHODS:
        raise InputError([Problem("spec", "bip.top_quartile", f"must be one of {', '.join(ranking.METHODS)}", 0)])
    bootstrap, seed, scheme, cluster, alpha = (inference.replicates, inference.seed, inference.scheme,
                                               inference.cluster, inference.alpha)
    window = inference.replicate_window
    frame = _frame_of(sample)
    data, candidates = model_frame(frame, persons)
    k_codes, k_ids = pd.factorize(data["caseworker_id"], sort=True)
    covariates = full_rank_columns(data[candidates], groups=k_codes)
    if replicate_plan and bootstrap:
        raise ValueError("caseworker_effectiveness: replicate_plan keeps the replicates for later; set replicates=0")
    fit = lpm(data, y="outcome", covariates=covariates, fixed_effects="caseworker_id",
              cluster=cluster, bootstrap=bootstrap, seed=seed, scheme=scheme, replicate_window=window,
              keep_pairs_state=replicate_plan, max_moment_bytes=MOMENT_BYTES)
    if fit.nobs != len(data):  # the effects below are recomputed on every row of ``data``
        raise InputError([Problem("bip_responses", cluster, "missing values in the model rows",
                                  len(data) - int(fit.nobs))])
    y = data["outcome"].to_numpy(dtype=float)
    x = data[covariates].to_numpy(dtype=float)
    beta = fit.params[covariates].to_numpy(dtype=float)
    ids, g_codes = cluster_ids(data, cluster)
    sums = _CellSums.of(y, x, beta, g_codes, len(ids), k_codes, len(k_ids), ranking.split_halves(ids, seed))
    z = ranking.posterior_draws(len(k_ids), seed)
    ones = np.ones((1, len(ids)))
    alpha_k, n_k, y_k, top, score, var_k = next(sums.effects(ones, beta[None, :], top_quartile, z))
    quart = quartile_of(score)
    point = _derived(alpha_k, n_k, y_k, quart, top, score)
    mean_alpha = float(n_k @ alpha_k / n_k.sum())
    ybar = float(y.mean())
    post_mean, _, reliability = ranking.eb_posterior(alpha_k, var_k)
    cw = pd.DataFrame({
        "caseworker_id": np.asarray(k_ids, dtype="int64"),
        "n_responses": n_k.astype("int64"),
        "n_citizens": data.groupby(k_codes)["person_id"].nunique().to_numpy().astype("int64"),
        "fixed_effect": alpha_k,
        "effect": alpha_k - mean_alpha,
        "effect_variance": var_k,
        "reliability": reliability,
        "shrunk_effect": post_mean - mean_alpha,
        "rate_if_all_had": ybar + alpha_k - mean_alpha,
        "quartile": quart.astype("int64"),
    })
    prof_values, prof_names = _profile_values(data)
    resp_q = quart[k_codes]

    summary = plan = None
    if bootstrap > 0 or replicate_plan:
        est = pd.concat([pd.Series(point), _profile_point(prof_values, resp_q, prof_names)])
        plan = EffectivenessReplicates(fit.pairs_state, tuple(covariates), sums, ids, seed, scheme, top_quartile, z,
                                       None if rerank_quartiles else quart,
                                       *_profile_sums(prof_values, g_codes, len(ids), resp_q), tuple(est.index))
    if bootstrap > 0:
        reps = fit.bootstrap.replicates[covariates].to_numpy(dtype=float)
        summary = summarise(plan.replicates(bootstrap, window, reps), est, scheme, seed)
        plan = None

    cf_est = pd.Series({"actual": point["actual"], "counterfactual_top_quartile": point["counterfactual"],
                        "increase": point["increase"]})
    actual_se = cluster_mean(y, g_codes, len(ids))[1]
    cf_sum = None if summary is None else _sub(summary, ["actual", "counterfactual", "increase"],
                                               list(cf_est.index))
    counterfactual = _normal_interval(_inference(cf_est, cf_sum, pd.Series({"actual": actual_se}), len(ids), alpha),
                                      list(NORMAL_INTERVAL_ESTIMANDS), alpha)

    quartiles = _quartile_table(cw, data, resp_q, point, summary, g_codes, len(ids), alpha)
    profile = _profile_table(prof_values, prof_names, resp_q, g_codes, len(ids), summary, alpha)
    return CaseworkerEffectiveness(
        fit=fit, covariates=tuple(covariates), caseworkers=cw, quartiles=quartiles,
        counterfactual=counterfactual, profile=profile, r2_without_fe=float(fit.rsquared_without_fe),
        r2_with_fe=float(fit.rsquared), n_obs=len(data), n_citizens=int(data["person_id"].nunique()),
        n_caseworkers=len(k_ids), cluster=cluster, top_quartile=top_quartile, bootstrap=summary,
        replicate_plan=plan)


@dataclass(frozen=True)
class EffectivenessReplicates:
    """What the bootstrap replicates of :func:`caseworker_effectiveness` need once the point fit
    is done: the LPM's :class:`~bipdask.estimators.lpm.replicates.PairsState` (slopes per
    replicate from per-citizen cross products), the per-(citizen, caseworker) sums
    (:class:`_CellSums`: each replicate's caseworker effects, EB prior and ranking), the
    per-(citizen, quartile) profile sums, the cluster ids, seed and scheme, the EB posterior
    draws and the fixed quartiles (None: re-ranked). ``columns``: the bootstrap's columns.
    At scale 30 (187,650 responses, 71,555 citizens, 3,407 caseworkers, 64 covariates) a few
    hundred MB, written once by the point task and read by each replicate-block task instead
    of the rows (``docs/methods.md#replicate-blocks``)."""

    fit: PairsState | None
    covariates: tuple[str, ...]
    sums: _CellSums
    ids: np.ndarray
    seed: int
    scheme: str
    top_quartile: str
    z: np.ndarray
    quart_fixed: np.ndarray | None
    profile_sums: sparse.csr_matrix
    profile_counts: sparse.csr_matrix
    columns: tuple[str, ...]

    def replicates(self, n_reps: int, window: range | None = None, beta_reps: np.ndarray | None = None
                   ) -> np.ndarray:
        """Replicates ``window`` (all without one) of B = ``n_reps``: one row each, ``columns``;
        ``beta_reps``: the LPM's replicates of the slopes when the fit drew them already."""
        if beta_reps is None:
            frame = pairs_replicates(self.fit, n_reps, self.seed, self.scheme, window, MOMENT_BYTES)
            beta_reps = frame[list(self.covariates)].to_numpy(dtype=float)
        derived = _derived_replicates(self.sums, beta_reps, self.ids, self.seed, self.scheme, self.top_quartile,
                                      self.z, self.quart_fixed, n_reps, window)
        prof = _profile_replicates(self.profile_sums, self.profile_counts, self.ids, n_reps, self.seed,
                                   self.scheme, window)
        return np.column_stack([derived, prof])


@dataclass(frozen=True)
class _CellSums:
    """Per-(cluster, caseworker) sums from which any weighting of the clusters (the point
    estimate: all ones; a bootstrap replicate: its weights) gives the caseworker effects
    α_k = Σw(y − x'β)/Σw n exactly, and their sampling variances from the point estimate's
    residuals r = y − x'β̂: s_k² = G_k/(G_k − 1) · Σ_c w_c (R_ck − n_ck ᾱ_k)² / (Σ_c w_c n_ck)²
    (the cluster-robust variance of a mean; ᾱ_k the weighted mean of r). ``half`` is each
    cluster's split-sample half."""

    n: sparse.csr_matrix
    y: sparse.csr_matrix
    x: sparse.csr_matrix
    r: sparse.csr_matrix
    r2: sparse.csr_matrix
    nr: sparse.csr_matrix
    n2: sparse.csr_matrix
    g_factor: np.ndarray
    half: np.ndarray
    n_k: int
    p: int

    @classmethod
    def of(cls, y, x, beta, g_codes, n_g, k_codes, n_k, half) -> _CellSums:
        """The sums of the responses (``y``, n; ``x``, n × p) in their (cluster, caseworker) cells."""
        cells = Cells.of(g_codes, k_codes, (n_g, n_k))
        n, r = cells.sum_matrix(np.ones_like(y)), cells.sum_matrix(y - x @ beta)
        g_k = np.asarray((n > 0).sum(axis=0)).ravel().astype(float)
        return cls(n=n, y=cells.sum_matrix(y), x=cells.sum_matrix(x), r=r, r2=r.multiply(r).tocsr(),
                   nr=n.multiply(r).tocsr(), n2=n.multiply(n).tocsr(), g_factor=g_k / np.maximum(g_k - 1, 1),
                   half=half, n_k=n_k, p=x.shape[1])

    def _alpha(self, w, b):
        nw, yw = pattern_weights(w, self.n), pattern_weights(w, self.y)
        xw = pattern_weights(w, self.x).reshape(w.shape[0], self.n_k, self.p)
        with np.errstate(invalid="ignore", divide="ignore"):
            return nw, yw, (yw - np.einsum("bkp,bp->bk", xw, b)) / nw

    def effects(self, w: np.ndarray, b: np.ndarray, method: str, z: np.ndarray, rows: slice = slice(None)):
        """Per row of weights ``w`` (replicates × clusters) and slopes ``b``: α, Σw n, Σw y (NaN
        effect where a caseworker has no weight), the top-quartile mean by ``method``, the ranking
        score and s²; yields one tuple per row of ``rows`` (default all). The products are formed
        over all rows of ``w`` whatever ``rows`` says: a row's bits then do not depend on it."""
        nw, yw, alpha = self._alpha(w, b)
        rw, r2w = pattern_weights(w, self.r), pattern_weights(w, self.r2)
        nrw, n2w = pattern_weights(w, self.nr), pattern_weights(w, self.n2)
        with np.errstate(invalid="ignore", divide="ignore"):
            rbar = rw / nw
            var = self.g_factor * (r2w - 2 * rbar * nrw + rbar**2 * n2w) / nw**2
        if method == "split":
            w_a = w * (self.half == 0)[None, :]
            _, _, alpha_a = self._alpha(w_a, b)
            _, _, alpha_b = self._alpha(w - w_a, b)
        for i in range(w.shape[0])[rows]:
            ok = (nw[i] > 0) & np.isfinite(alpha[i])
            a = np.where(ok, alpha[i], np.nan)
            if method == "raw":
                top, score = ranking.top_mean(a[ok]), a
            elif method == "eb":
                v = np.maximum(var[i], 0.0)
                draws = ranking.eb_increase_draws(a[ok], v[ok], nw[i][ok], z)
                # on the level scale of the other methods: _derived subtracts the weighted mean of α̂
                top = float(draws.mean()) + float(nw[i][ok] @ a[ok] / nw[i][ok].sum())
                score = np.full_like(a, np.nan)
                score[ok] = ranking.eb_posterior(a[ok], v[ok])[0]
            else:
                both = ok & np.isfinite(alpha_a[i]) & np.isfinite(alpha_b[i])
                top, score = ranking.split_top_mean(alpha_a[i][both], alpha_b[i][both]), a
            yield a, np.where(ok, nw[i], 0.0), np.where(ok, yw[i], 0.0), top, score, var[i]


def _derived(alpha_k: np.ndarray, n_k: np.ndarray, y_k: np.ndarray, quart: np.ndarray, top: float,
             score: np.ndarray) -> dict[str, float]:
    """Tabel 1 and Figures 1–2 from caseworker effects, response counts, outcome sums, the
    top-quartile mean ``top`` (level scale, :mod:`bipdask.analyses.bip.ranking`) and the ranking
    score whose quartile means are Figur 2.

    ``alpha_k`` may hold NaN for caseworkers without weight (a bootstrap replicate that drew
    none of their clusters; their ``n_k`` is 0); ``quart`` is 0 for them.
    """
    total = n_k.sum()
    actual = y_k.sum() / total
    mean_alpha = np.nansum(n_k * alpha_k) / total
    effect = score - mean_alpha
    out = {"actual": actual}
    out["counterfactual"] = actual + top - mean_alpha
    out["increase"] = top - mean_alpha
    for q in QUARTILES:
        m = quart == q
        out[f"outcome_rate/q{q}"] = y_k[m].sum() / n_k[m].sum() if n_k[m].sum() > 0 else float("nan")
        out[f"mean_effect/q{q}"] = float(np.mean(effect[m])) if m.any() else float("nan")
    return out


def _derived_replicates(sums: _CellSums, beta_reps, ids, seed, scheme, method: str, z: np.ndarray,
                        quart_fixed: np.ndarray | None, n_reps: int,
                        window: range | None = None) -> np.ndarray:
    """Replicates of :func:`_derived`: per replicate the caseworker effects, their variances and
    the top-quartile mean recomputed from the replicate's weights (``method`` re-applied: EB
    re-estimates its prior, split re-ranks on the reweighted halves); quartiles ``quart_fixed``
    (None: re-ranked per replicate). A caseworker none of whose clusters is drawn has no effect
    in that replicate and is left out. ``beta_reps``: lpm's replicates of the slopes, of the
    ``window`` of the ``n_reps`` replicates (all without one), in replicate order."""
    out = []
    for reps, w in replicate_blocks(ids, n_reps, seed, scheme, window=window):
        src, dst = window_rows(reps, window)
        b = beta_reps[dst]
        b_block = np.zeros((len(reps), beta_reps.shape[1]))  # the whole block, as in a run of all B;
        b_block[src] = np.nan_to_num(b)                       # rows outside the window are not used
        for i, (a, nw, yw, top, score, _) in enumerate(sums.effects(w, b_block, method, z, rows=src)):
            ok = np.isfinite(a)
            if not np.all(np.isfinite(b[i])) or not ok.any():
                out.append(np.full(3 + 2 * len(QUARTILES), np.nan))
                continue
            quart = np.zeros(a.size, dtype=np.int64)
            quart[ok] = quartile_of(score[ok]) if quart_fixed is None else quart_fixed[ok]
            d = _derived(np.where(ok, a, 0.0), nw, yw, quart, top, np.where(ok, score, 0.0))
            out.append(np.array(list(d.values())))
    return np.vstack(out)


def _normal_interval(table: pd.DataFrame, rows: list[str], alpha: float) -> pd.DataFrame:
    """Estimate ± z·SE (bootstrap SE) and its normal p-value for the top-quartile rows.

    The percentile interval is wrong for them: the bootstrap world's "true" caseworker effects
    are the noisy estimates, whose top quartile lies further out than the real one, so the
    re-ranked replicates sit above the estimate (by ≈ 3.5 pp at scale 1 with EB). Their spread
    still measures the estimator's sampling variability, which the normal interval uses.
    """
    out = table.copy()
    for r in rows:
        est, se = out.loc[r, "estimate"], out.loc[r, "se"]
        if np.isfinite(se):
            out.loc[r, ["ci_low", "ci_high", "p_value"]] = normal_interval(est, se, alpha)
    return out


def normal_interval(estimate: float, se: float, alpha: float) -> tuple[float, float, float]:
    """(estimate − z·se, estimate + z·se, two-sided normal p-value) for a finite ``se``
    (p NaN when se is 0): the interval of :data:`NORMAL_INTERVAL_ESTIMANDS`."""
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(estimate) / se) if se > 0 else float("nan")
    return estimate - z * se, estimate + z * se, p


def _profile_values(data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    use = group_use(data)
    answers = data[list(BIP_CASEWORKER_QUESTIONS)].to_numpy(dtype=float)
    return np.column_stack([use.to_numpy(dtype=float), answers]), [*use.columns, *BIP_CASEWORKER_QUESTIONS]


def _profile_point(values: np.ndarray, resp_q: np.ndarray, names: list[str]) -> pd.Series:
    out = {}
    for q in QUARTILES:
        for j, name in enumerate(names):
            v = values[resp_q == q, j]
            out[f"profile/{name}/q{q}"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    return pd.Series(out)


def _profile_sums(values, g_codes, n_g, resp_q) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Per-(citizen, quartile × variable) sums and counts of the answered profile values."""
    ok = np.isfinite(values)
    cells = Cells.of(g_codes, resp_q - 1, (n_g, 4))
    return cells.sum_matrix(np.where(ok, values, 0.0)), cells.sum_matrix(ok)


def _profile_replicates(s, c, ids, n_reps, seed, scheme, window=None) -> np.ndarray:
    out = [np.empty((0, s.shape[1]))]
    for reps, w in replicate_blocks(ids, n_reps, seed, scheme, window=window):
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append((pattern_weights(w, s) / pattern_weights(w, c))[window_rows(reps, window)[0]])
    return np.vstack(out)


def _sub(summary: BootstrapSummary, names: list[str], rename: list[str]) -> BootstrapSummary:
    reps = summary.replicates[names].set_axis(rename, axis=1)
    est = summary.estimate[names].set_axis(rename)
    return BootstrapSummary(reps, est, summary.scheme, summary.seed, summary.n_failed)


def _quartile_table(cw, data, resp_q, point, summary, g_codes, n_g, alpha) -> pd.DataFrame:
    y = data["outcome"].to_numpy(dtype=float)
    rows = []
    for q in QUARTILES:
        m = resp_q == q
        cq = cw[cw["quartile"] == q]
        rows.append({"quartile": q, "n_caseworkers": len(cq), "n_responses": int(m.sum()),
                     "citizens_per_caseworker": float(cq["n_citizens"].mean()) if len(cq) else float("nan"),
                     "rate_se": cluster_mean(np.where(m, y, np.nan), g_codes, n_g)[1]})
    t = pd.DataFrame(rows)
    for what in ("outcome_rate", "mean_effect"):
        names = [f"{what}/q{q}" for q in QUARTILES]
        est = pd.Series({n: point[n] for n in names})
        sub = None if summary is None else _sub(summary, names, names)
        analytic = pd.Series(t["rate_se"].to_numpy(), index=names) if what == "outcome_rate" else None
        inf = _inference(est, sub, analytic, n_g, alpha)
        t[what] = inf["estimate"].to_numpy()
        t[f"{what}_se"] = inf["se"].to_numpy()
        t[f"{what}_ci_low"] = inf["ci_low"].to_numpy()
        t[f"{what}_ci_high"] = inf["ci_high"].to_numpy()
    return t.drop(columns="rate_se")


def _profile_table(values, names, resp_q, g_codes, n_g, summary, alpha) -> pd.DataFrame:
    est, se, n, keys = {}, {}, {}, []
    for q in QUARTILES:
        for j, name in enumerate(names):
            key = f"profile/{name}/q{q}"
            keys.append((key, q, name))
            v = np.where(resp_q == q, values[:, j], np.nan)
            est[key], se[key], n[key] = cluster_mean(v, g_codes, n_g)
    sub = None if summary is None else _sub(summary, [k for k, _, _ in keys], [k for k, _, _ in keys])
    inf = _inference(pd.Series(est), sub, pd.Series(se), n_g, alpha)
    return pd.DataFrame({
        "quartile": [q for _, q, _ in keys], "variable": [v for _, _, v in keys],
        "estimate": inf["estimate"].to_numpy(), "se": inf["se"].to_numpy(),
        "ci_low": inf["ci_low"].to_numpy(), "ci_high": inf["ci_high"].to_numpy(),
        "n": [n[k] for k, _, _ in keys],
    })


# --- caseworker change ---------------------------------------------------------------------------



