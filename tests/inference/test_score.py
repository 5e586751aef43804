"""Wild score bootstrap (Kline–Santos) for the Weibull and Cox DiDs, clustered by job centre.

(a) brute force: every replicate's statistic recomputed here from per-row scores written out
    from the likelihoods (Weibull) or taken from statsmodels (Cox, Breslow), all 2^G sign
    vectors, p-values compared exactly;
(b) restricted fits with an offset equal fits with the coefficient fixed (scipy, statsmodels);
(c) test inversion: p at the CI ends ≈ α;
(d) size: 200 null draws, G = 20 job centres with frailty, rejection at 5 % in [2 %, 9 %];
(e) the default path: pairs/analytic results do not depend on the new code.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from statsmodels.duration.hazard_regression import PHReg

from bipdask.estimators.cox import cox_ph
from bipdask.estimators.cox import model as cox_model
from bipdask.estimators.cox import score as cox_score
from bipdask.estimators.cox.source import source_from_strata
from bipdask.estimators.duration_did import _contrast, duration_did
from bipdask.estimators.weibull import (
    _restricted,
    _restricted_fit,
    weibull_ph,
    wild_weibull,
)
from bipdask.inference import score

COVS = ["D", "E", "DE"]


def _spells(G=8, n=800, seed=0, delta=-0.25, treated=None, frailty=0.3, weekly=False, shock=0.0):
    """Gap spells of G job centres (treatment at job-centre level), Weibull PH with frailty."""
    rng = np.random.default_rng(seed)
    jc = rng.integers(0, G, n)
    treated = G // 2 if treated is None else treated
    D = (jc < treated).astype(int)
    E = rng.integers(0, 2, n)
    u = rng.normal(0, frailty, G)[jc] + rng.normal(0, shock, (G, 2))[jc, E]
    xb = -3.0 + 0.2 * D + 0.1 * E + delta * D * E + u
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8)
    t = np.ceil(t) if weekly else t
    return pd.DataFrame({"t": np.minimum(t, 56.0), "d": (t <= 56).astype(float), "D": D, "E": E, "DE": D * E,
                         "jc": jc + 101})


# ----------------------------------------------------------------------------------------------
# Weibull PH with exact times, written out here (not the module's helpers)


def _weibull_rows(theta, X, t, d):
    """Per-row scores (n × k+1) and the Hessian of ℓ = d(ln p + (p−1) ln t + η) − e^η t^p."""
    b, lnp = theta[:-1], theta[-1]
    p = np.exp(lnp)
    lam = np.exp(X @ b) * t ** p
    plt = p * np.log(t)
    s_eta = d - lam
    s_lnp = d * (1 + plt) - lam * plt
    scores = np.column_stack([X * s_eta[:, None], s_lnp])
    k = X.shape[1]
    H = np.empty((k + 1, k + 1))
    H[:k, :k] = -(X * lam[:, None]).T @ X
    H[:k, k] = H[k, :k] = -(lam * plt) @ X
    H[k, k] = np.sum(d * plt - lam * (plt + plt ** 2))
    return scores, H


def _weibull_negll(theta, X, t, d):
    b, lnp = theta[:-1], theta[-1]
    p = np.exp(lnp)
    eta = X @ b
    return -np.sum(d * (lnp + (p - 1) * np.log(t) + eta) - np.exp(eta) * t ** p)


def _design(df):
    return np.column_stack([df[COVS].to_numpy(float), np.ones(len(df))]), df["t"].to_numpy(), df["d"].to_numpy()


def _weibull_fixed(df, j, r):
    """ML with parameter j held at r: scipy on the free parameters, then Newton polishing."""
    X, t, d = _design(df)
    free = [i for i in range(X.shape[1] + 1) if i != j]

    def full(phi):
        theta = np.empty(X.shape[1] + 1)
        theta[free], theta[j] = phi, r
        return theta

    def grad(phi):
        return -_weibull_rows(full(phi), X, t, d)[0].sum(axis=0)[free]

    phi = optimize.minimize(lambda ph: _weibull_negll(full(ph), X, t, d), np.r_[0, 0, -3.0, 0][:len(free)]
                            if len(free) == 4 else np.zeros(len(free)), jac=grad, method="BFGS",
                            options={"gtol": 1e-8, "maxiter": 1000}).x
    for _ in range(20):
        scores, H = _weibull_rows(full(phi), X, t, d)
        phi = phi - np.linalg.solve(H[np.ix_(free, free)], scores.sum(axis=0)[free])
    return full(phi)


def _brute_force_p(scores_rows, H, codes, G, j, weight=None):
    """Loop over all 2^G sign vectors: t(v) = e_j'I⁻¹S*/sqrt(e_j'I⁻¹ Σ_g (v_g s_g − π_g S*)(…)' I⁻¹e_j)."""
    w = np.ones(len(codes)) if weight is None else weight
    s = np.array([scores_rows[codes == g].sum(axis=0) for g in range(G)])
    share = np.array([w[codes == g].sum() for g in range(G)]) / w.sum()
    Iinv = np.linalg.inv(-H)

    def t_of(v):
        S = sum(v[g] * s[g] for g in range(G))
        meat = sum(np.outer(v[g] * s[g] - share[g] * S, v[g] * s[g] - share[g] * S) for g in range(G))
        return (Iinv @ S)[j] / np.sqrt((Iinv @ meat @ Iinv)[j, j])

    t_obs = t_of(np.ones(G))
    stars = [t_of(np.array(v)) for v in itertools.product([1.0, -1.0], repeat=G)]
    count = sum(abs(ts) >= abs(t_obs) * (1 - 1e-9) for ts in stars)
    return count / 2 ** G, t_obs


def test_weibull_p_values_equal_brute_force_over_all_sign_vectors():
    df = _spells(G=8, n=900, seed=4, delta=-0.2)
    res = weibull_ph(df, duration="t", event="d", covariates=COVS, cluster="jc", inference="wild", bootstrap=256)
    assert res.wild.enumerated and res.wild.n_replicates == 256 and res.wild.seed is None
    codes = pd.factorize(df["jc"], sort=True)[0]
    X, t, d = _design(df)
    ps = []
    for j, term in enumerate(COVS):
        theta = _weibull_fixed(df, j, 0.0)
        rows, H = _weibull_rows(theta, X, t, d)
        p, t_obs = _brute_force_p(rows, H, codes, 8, j)
        assert res.wild.table.loc[term, "p_value"] == p
        assert res.wild.table.loc[term, "statistic"] == pytest.approx(t_obs, rel=1e-6)
        ps.append(p)
    assert any(0.02 < p < 0.98 for p in ps)  # not a trivial comparison


def test_cox_p_values_equal_brute_force_with_statsmodels_scores():
    """Breslow ties, strata; statsmodels' score residuals and Hessian at the restricted fit.
    (One row per person: statsmodels' score residuals do not handle delayed entry.)"""
    rng = np.random.default_rng(7)
    n = 1500
    df = pd.DataFrame({"jc": rng.integers(0, 7, n) + 11, "cl": rng.normal(0, 5, n),
                       "cm": (rng.random(n) < 0.2).astype(float)})
    df["s"] = df["jc"] % 2
    df["stop"] = np.ceil(-np.log(rng.random(n)) / np.exp(-3 - 0.01 * df["cl"] + 0.2 * df["cm"]
                                                          + 0.15 * (df["jc"] - 14)
                                                          + rng.normal(0, 0.4, 7)[df["jc"] - 11]))
    df["ev"] = (df["stop"] <= 30).astype(float)
    df["stop"] = df["stop"].clip(upper=30)
    res = cox_ph(df, duration="stop", event="ev", covariates=["cl", "cm"], ties="breslow", strata="s",
                 cluster="jc", inference="wild", bootstrap=128)
    assert res.wild.enumerated and res.wild.n_replicates == 128
    codes = pd.factorize(df["jc"], sort=True)[0]
    X = df[["cl", "cm"]].to_numpy()
    ps = []
    for j, term in enumerate(["cl", "cm"]):
        free = 1 - j
        restricted = PHReg(df["stop"], X[:, [free]], status=df["ev"], strata=df["s"], offset=0.0 * X[:, j],
                           ties="breslow").fit()
        beta = np.zeros(2)
        beta[free] = restricted.params[0]
        full = PHReg(df["stop"], X, status=df["ev"], strata=df["s"], ties="breslow")
        resid = np.nan_to_num(full.score_residuals(beta))
        p, t_obs = _brute_force_p(resid, full.hessian(beta), codes, 7, j)
        assert res.wild.table.loc[term, "p_value"] == p
        assert res.wild.table.loc[term, "statistic"] == pytest.approx(t_obs, rel=1e-6)
        ps.append(p)
    assert any(0.02 < p < 0.98 for p in ps)


# ----------------------------------------------------------------------------------------------
# (b) restricted fits: offset = coefficient held fixed


@pytest.mark.parametrize("j,r", [(2, 0.0), (2, -0.4), (0, 0.3), (1, 0.0)])
def test_weibull_restricted_fit_equals_fit_with_coefficient_fixed(j, r):
    df = _spells(G=10, n=1500, seed=1)
    fit = weibull_ph(df, duration="t", event="d", covariates=COVS, cluster="jc")
    theta = _restricted_fit(fit._patterns, j, r, np.delete(fit.params.to_numpy(), j))
    assert theta[j] == r
    assert np.allclose(theta, _weibull_fixed(df, j, r), rtol=1e-7, atol=1e-9)
    at_estimate = _restricted_fit(fit._patterns, j, fit.params.iloc[j], np.delete(fit.params.to_numpy(), j))
    assert np.allclose(at_estimate, fit.params.to_numpy(), atol=1e-9)


def test_weibull_grouped_week_restricted_fit_equals_fixed_coefficient_fit():
    df = _spells(G=10, n=1500, seed=2, weekly=True)
    fit = weibull_ph(df, duration="t", event="d", covariates=COVS, cluster="jc", interval=True)
    theta = _restricted_fit(fit._patterns, 2, 0.1, np.delete(fit.params.to_numpy(), 2))
    X, t, d = _design(df)

    def negll(phi):  # grouped weeks: an event in week t has probability S(t−1) − S(t)
        th = np.insert(phi, 2, 0.1)
        e, p = np.exp(X @ th[:-1]), np.exp(th[-1])
        lo = np.where(d > 0, t - 1, t)
        with np.errstate(divide="ignore"):
            ll = -e * lo ** p + np.where(d > 0, np.log(-np.expm1(-e * (t ** p - lo ** p))), 0.0)
        return -ll.sum()

    phi = optimize.minimize(negll, np.delete(fit.params.to_numpy(), 2), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000}).x
    assert np.allclose(np.delete(theta, 2), phi, atol=2e-6)
    assert negll(np.delete(theta, 2)) <= negll(phi) + 1e-9


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_restricted_fit_equals_statsmodels_offset_fit(ties):
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({"start": rng.integers(0, 20, n).astype(float), "cl": rng.normal(0, 5, n),
                       "cm": (rng.random(n) < 0.2).astype(float), "s": rng.integers(0, 3, n)})
    df["stop"] = df["start"] + rng.integers(1, 8, n)
    df["ev"] = (rng.random(n) < 0.3).astype(float)
    X = df[["cl", "cm"]].to_numpy()
    strata = cox_model._strata(df, "start", "stop", "ev", X, np.ones(n), "s")
    source = source_from_strata(strata, np.arange(n), ties)
    for j, r in [(0, -0.05), (1, 0.4)]:
        ours = cox_score._restricted_fit(source, j, r, np.zeros(1))
        # statsmodels counts a row as at risk at its entry time, R's (start, stop] does not:
        # all times are whole weeks, so entering half a week later gives R's risk sets
        sm = PHReg(df["stop"], X[:, [1 - j]], status=df["ev"], entry=df["start"] + 0.5, strata=df["s"],
                   offset=r * X[:, j], ties=ties).fit()
        assert ours[j] == r
        assert ours[1 - j] == pytest.approx(sm.params[0], rel=1e-7, abs=1e-10)


# ----------------------------------------------------------------------------------------------
# (c) test inversion


def test_weibull_p_at_ci_ends_is_alpha():
    df = _spells(G=14, n=3000, seed=5, weekly=True)
    res = weibull_ph(df, duration="t", event="d", covariates=COVS, cluster="jc", interval=True, inference="wild",
                     bootstrap=499, seed=9, alpha=0.1)
    pat = res._patterns
    weights, _ = score.wild_weights(pat.cluster_ids, 499, 9)
    shares = score.cluster_shares(np.asarray(pat.cluster_patterns.sum(axis=1)))
    stat_at = score.statistic_function(_restricted(pat, res.params.to_numpy(), 2), weights, shares)
    lo, hi = res.wild.table.loc["DE", ["ci_low", "ci_high"]]
    assert lo < res.params["DE"] < hi
    eps = 1e-4 * (hi - lo)
    for end, inward in [(lo, 1), (hi, -1)]:
        inside, outside = score.p_value(*stat_at(end + inward * eps)), score.p_value(*stat_at(end - inward * eps))
        assert outside < 0.1 <= inside
        assert inside - 0.1 <= 2 / 499 and 0.1 - outside <= 2 / 499
    assert res.wild.table.loc["DE", "se"] == pytest.approx((hi - lo) / (2 * 1.6448536269514722))


def test_cox_p_at_ci_ends_is_alpha():
    rng = np.random.default_rng(11)
    n = 4000
    df = pd.DataFrame({"jc": rng.integers(0, 12, n), "cl": rng.normal(0, 5, n), "start": 0.0})
    df["stop"] = np.ceil(-np.log(rng.random(n)) / np.exp(-3 - 0.04 * df["cl"] + 0.1 * (df["jc"] % 3)))
    df["ev"] = (df["stop"] <= 40).astype(float)
    df["stop"] = df["stop"].clip(upper=40)
    res = cox_ph(df, duration="stop", event="ev", covariates=["cl"], cluster="jc", inference="wild", bootstrap=399,
                 seed=2)
    strata = cox_model._strata(df, None, "stop", "ev", df[["cl"]].to_numpy(), np.ones(n), None)
    ids, codes = np.unique(df["jc"], return_inverse=True)
    weights, _ = score.wild_weights(ids, 399, 2)
    shares = score.cluster_shares(np.bincount(codes))
    source = source_from_strata(strata, df["jc"].to_numpy())
    stat_at = score.statistic_function(cox_score._restricted(source, res.params.to_numpy(), 0, ids), weights, shares)
    lo, hi = res.wild.table.loc["cl", ["ci_low", "ci_high"]]
    eps = 1e-4 * (hi - lo)
    for end, inward in [(lo, 1), (hi, -1)]:
        inside, outside = score.p_value(*stat_at(end + inward * eps)), score.p_value(*stat_at(end - inward * eps))
        assert outside < 0.05 <= inside and inside - outside <= 2 / 399


def test_weeks_did_has_its_own_test_and_interval():
    df = _spells(G=16, n=6000, seed=6, weekly=True, frailty=0.2).rename(columns={"t": "duration", "d": "event"})
    res = duration_did(df, cluster="jc", inference="wild", bootstrap=399, seed=4, interval=True)
    tab = res.table.set_index("quantity")
    for q in ("did_weeks", "did_pct"):
        assert tab.loc[q, "ci_low"] < tab.loc[q, "estimate"] < tab.loc[q, "ci_high"]
    assert tab.loc["did_pct", "p_value"] == tab.loc["did_weeks", "p_value"]
    # the group levels: delta-method Wald intervals from the clustered covariance, no p-value
    from bipdask.estimators.weibull import expected_from_params

    groups = ["participating_before", "participating_intervention", "other_before", "other_intervention"]
    assert tab.loc[groups, "p_value"].isna().all()
    theta0, names = res.fit.params.to_numpy(), res.fit.params.index
    from bipdask.estimators.duration_did import GROUPS

    h = 1e-6
    grad = np.array([(expected_from_params((theta0 + h * np.eye(5)[j])[None, :], names, GROUPS)[0]
                      - expected_from_params((theta0 - h * np.eye(5)[j])[None, :], names, GROUPS)[0]) / (2 * h)
                     for j in range(5)]).T  # 4 × 5, by central differences
    se = np.sqrt(np.einsum("gi,ij,gj->g", grad, res.fit.cov.to_numpy(), grad))
    np.testing.assert_allclose(tab.loc[groups, "se_boot"].to_numpy(float), se, rtol=1e-5)
    assert (tab.loc[groups, "ci_low"] < tab.loc[groups, "estimate"]).all()
    assert res.fit.inference == "wild" and res.fit.wild.method == "score" and res.fit.wild.n_replicates == 399
    k = res.fit.wild.table.loc["DE", "p_value"] * 399  # a share of the 399 score-bootstrap draws
    assert abs(k - round(k)) < 1e-9
    # DE = 0 does not make the weeks DiD zero (λ, γ ≠ 0): the reason for the separate test
    theta = res.fit.params.to_numpy().copy()
    theta[2] = 0.0
    assert abs(_contrast(theta, "weeks")[0]) > 0.1


def test_restricted_mean_did_and_hazard_ratio_get_wild_inference():
    from bipdask.estimators.duration_did import _contrast, _full

    df = _spells(G=16, n=6000, seed=6, weekly=True, frailty=0.2).rename(columns={"t": "duration", "d": "event"})
    res = duration_did(df, cluster="jc", inference="wild", bootstrap=199, seed=4, interval=True)
    tab = res.table.set_index("quantity")
    r = tab.loc["rmst52_did_weeks"]
    assert r["ci_low"] < r["estimate"] < r["ci_high"] and 0 <= r["p_value"] <= 1
    assert abs(r["p_value"] * 199 - round(r["p_value"] * 199)) < 1e-9  # a share of the draws
    # exp(δ): the DE test of the fit, its inverted interval exponentiated
    de = res.fit.wild.table.loc["DE"]
    assert tab.loc["hazard_ratio", "p_value"] == de["p_value"]
    assert tab.loc["hazard_ratio", "ci_low"] == pytest.approx(np.exp(de["ci_low"]))
    assert tab.loc["hazard_ratio", "ci_high"] == pytest.approx(np.exp(de["ci_high"]))
    assert tab.loc[[f"rmst52_{g}" for g in ("participating_before", "other_intervention")], "p_value"].isna().all()
    # the restriction δ(φ, w) makes the restricted-mean DiD exactly w
    phi = res.fit.params.to_numpy()[[0, 1, 3, 4]]
    for w in (-3.0, 0.0, 2.5):
        assert _contrast(_full(phi, "rmst", w), "rmst")[0] == pytest.approx(w, abs=1e-9)
    # its analytic gradient against central differences
    theta = res.fit.params.to_numpy()
    _, grad = _contrast(theta, "rmst")
    num = [(_contrast(theta + 1e-6 * np.eye(5)[j], "rmst")[0] - _contrast(theta - 1e-6 * np.eye(5)[j], "rmst")[0])
           / 2e-6 for j in range(5)]
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


def test_weeks_did_restriction_holds_at_the_restricted_fit():
    from bipdask.estimators.duration_did import _restricted_contrast

    df = _spells(G=12, n=5000, seed=8, weekly=True).rename(columns={"t": "duration", "d": "event"})
    fit = weibull_ph(df.assign(DE=df.D * df.E), duration="duration", event="event", covariates=COVS, cluster="jc",
                     interval=True)
    scores, info, grad = _restricted_contrast(fit, "weeks")(0.0)
    total = scores.sum(axis=0)  # Lagrange: the score is parallel to ∂h/∂θ at the restricted fit
    cosine = total @ grad / np.linalg.norm(total) / np.linalg.norm(grad)
    assert abs(cosine) == pytest.approx(1.0, abs=1e-8)


# ----------------------------------------------------------------------------------------------
# (d) size


def test_size_at_5_percent_with_20_job_centres_and_frailty():
    """200 null draws (DE = 0), 10 of 20 job centres treated, job-centre and job-centre×period
    frailty, grouped weeks; B = 199 Rademacher draws per test."""
    rejections = 0
    for draw in range(200):
        df = _spells(G=20, n=1200, seed=1000 + draw, delta=0.0, frailty=0.3, shock=0.15, weekly=True)
        fit = weibull_ph(df, duration="t", event="d", covariates=COVS, cluster="jc", interval=True)
        test = wild_weibull(fit, ["DE"], bootstrap=199, seed=draw, ci=False)
        rejections += test.table.loc["DE", "p_value"] < 0.05
    assert 0.02 <= rejections / 200 <= 0.09


# ----------------------------------------------------------------------------------------------
# weights, API, (e) the default path


def test_weights_are_a_function_of_seed_replicate_and_cluster_id():
    ids = np.array([3, 8, 15, 40, 97, 101, 150, 200, 230, 250])
    v, enumerated = score.wild_weights(ids, 50, 7)
    keep = [0, 1, 2, 4, 5, 7, 9]  # 2^7 > 50: drawn, not enumerated
    sub, sub_enumerated = score.wild_weights(ids[keep], 50, 7)
    assert not enumerated and not sub_enumerated and np.array_equal(v[:, keep], sub)
    assert set(np.unique(v)) == {-1.0, 1.0}
    webb, _ = score.wild_weights(ids, 4000, 7, "webb")
    assert np.allclose(np.unique(webb) ** 2, [1.5, 1, 0.5, 0.5, 1, 1.5])
    assert abs(webb.mean()) < 0.02 and webb.var() == pytest.approx(1.0, abs=0.02)
    full, enumerated = score.wild_weights(ids[:4], 16, None)
    assert enumerated and len({tuple(r) for r in full}) == 16 and {1.0, -1.0} == set(full.sum(axis=1) / 4) & {1.0, -1.0}


def test_bad_inference_arguments():
    df = _spells()
    kw = dict(duration="t", event="d", covariates=COVS)
    with pytest.raises(ValueError, match="cluster"):
        weibull_ph(df, **kw, inference="wild", bootstrap=99, seed=1)
    with pytest.raises(ValueError, match="bootstrap=0"):
        weibull_ph(df, **kw, inference="analytic", bootstrap=99, seed=1)
    with pytest.raises(ValueError, match="bootstrap=B"):
        cox_ph(df, duration="t", event="d", covariates=COVS, cluster="jc", inference="wild")
    with pytest.raises(ValueError, match="wild_terms"):
        weibull_ph(df, **kw, cluster="jc", inference="wild", bootstrap=99, seed=1, wild_terms=["_cons"])


def _same(a, b):
    assert np.array_equal(a.params.to_numpy(), b.params.to_numpy())
    assert np.array_equal(a.cov.to_numpy(), b.cov.to_numpy())
    assert a.tidy().equals(b.tidy())
    if a.bootstrap is not None:
        assert np.array_equal(a.bootstrap.replicates.to_numpy(), b.bootstrap.replicates.to_numpy(), equal_nan=True)


def test_pairs_and_analytic_do_not_depend_on_the_new_code():
    df = _spells(G=12, n=2000, seed=3, weekly=True)
    kw = dict(duration="t", event="d", covariates=COVS, cluster="jc", interval=True)
    pairs = weibull_ph(df, **kw, bootstrap=40, seed=5)
    analytic = weibull_ph(df, **kw)
    wild = weibull_ph(df, **kw, inference="wild", bootstrap=99, seed=5)
    _same(pairs, weibull_ph(df, **kw, bootstrap=40, seed=5, inference="pairs"))
    _same(analytic, weibull_ph(df, **kw, inference="analytic"))
    assert pairs.wild is None and analytic.wild is None and pairs.inference == "pairs"
    assert np.array_equal(wild.params.to_numpy(), analytic.params.to_numpy())
    assert np.array_equal(wild.cov.to_numpy(), analytic.cov.to_numpy()) and wild.bootstrap is None
    ckw = dict(duration="t", event="d", covariates=["D", "DE"], cluster="jc", strata="E")
    cpairs = cox_ph(df, **ckw, bootstrap=10, seed=2)
    cox_ph(df, **ckw, inference="wild", bootstrap=99, seed=2)
    _same(cpairs, cox_ph(df, **ckw, bootstrap=10, seed=2, inference="pairs"))
    _same(cox_ph(df, **ckw), cox_ph(df, **ckw, inference="analytic"))
    spells = df.rename(columns={"t": "duration", "d": "event"})
    a = duration_did(spells, cluster="jc", bootstrap=30, seed=1, interval=True)
    b = duration_did(spells, cluster="jc", bootstrap=30, seed=1, interval=True, inference="pairs")
    assert a.table.equals(b.table)


def test_tidy_publishes_the_wild_test():
    df = _spells(G=9, n=1500, seed=12)
    res = weibull_ph(df, duration="t", event="d", covariates=COVS, cluster="jc", inference="wild", bootstrap=999,
                     seed=1)
    tidy = res.tidy().set_index("term")
    assert res.wild.enumerated and res.wild.n_replicates == 512  # 2^9 ≤ 999: all sign vectors
    assert (tidy["inference"] == "wild").all() and (tidy["n_clusters"] == 9).all()
    assert tidy.loc[COVS, "p_value"].notna().all() and tidy.loc[["_cons", "ln_p"], "p_value"].isna().all()
    assert (tidy.loc[COVS, "p_value"] >= 2 / 512).all()  # v ≡ ±1 are among the vectors
    assert "Wild bootstrap" in str(res)
