"""Weibull PH (eq. 1 of the HIR report): against lifelines, and the bootstrap against refits."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import WeibullAFTFitter
from many_draws import assert_recovers

from bipdask.errors import FitError
from bipdask.estimators.weibull import expected_duration, weibull_ph
from bipdask.inference import bootstrap as bs


def _spells(n=4000, seed=0, weekly=True):
    rng = np.random.default_rng(seed)
    D = rng.integers(0, 2, n)
    E = rng.integers(0, 2, n)
    pid = rng.integers(0, n // 3, n)
    xb = -3.0 + 0.2 * D + 0.1 * E - 0.3 * D * E
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8)
    t = np.ceil(t) if weekly else t
    ev = (t <= 56).astype(int)
    return pd.DataFrame({"t": np.minimum(t, 56), "d": ev, "D": D, "E": E, "DE": D * E, "pid": pid})


def test_matches_lifelines_weibull_in_ph_metric():
    df = _spells(weekly=False)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"])
    aft = WeibullAFTFitter().fit(df[["t", "d", "D", "E", "DE"]], "t", "d")
    rho = np.exp(aft.params_.loc[("rho_", "Intercept")])
    for c in ["D", "E", "DE"]:
        assert res.params[c] == pytest.approx(-aft.params_.loc[("lambda_", c)] * rho, rel=1e-4)
    assert res.params["_cons"] == pytest.approx(-aft.params_.loc[("lambda_", "Intercept")] * rho, rel=1e-4)
    assert res.shape == pytest.approx(rho, rel=1e-5)
    assert res.loglik == pytest.approx(aft.log_likelihood_, rel=1e-6)


PLANTED = {"D": 0.2, "E": 0.1, "DE": -0.3}


def test_recovers_planted_effects_over_many_draws():
    """200 draws of 2,000 exact-time spells: the mean estimate is within 3 Monte-Carlo SEs of the
    planted effect and the person-clustered Wald intervals cover it in 176–199 of 200 draws (the
    binomial band a correct 95 % interval leaves with probability ≤ 1e-4 per term, together with
    the mean check ≤ 0.3 % per term; ``tests/many_draws.py``). A bias of 2 SEs fails both."""
    est, lower, upper = ([] for _ in range(3))
    for seed in range(200):
        res = weibull_ph(_spells(n=2000, seed=1000 + seed, weekly=False), duration="t", event="d",
                         covariates=["D", "E", "DE"], cluster="pid")
        ci = res.conf_int()
        est.append(res.params[list(PLANTED)])
        lower.append(ci.loc[list(PLANTED), "lower"])
        upper.append(ci.loc[list(PLANTED), "upper"])
    est, lower, upper = (pd.DataFrame(x) for x in (est, lower, upper))
    for c, truth in PLANTED.items():
        assert_recovers(est[c], lower[c], upper[c], truth, c)


def test_bootstrap_replicate_equals_weighted_refit():
    df = _spells(n=3000, seed=2)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], cluster="pid",
                     bootstrap=20, seed=11)
    ids = np.unique(df["pid"].to_numpy())
    w = bs.replicate_weights(ids, range(20), 11)
    for b in (0, 7, 19):
        rowweight = w[b][np.searchsorted(ids, df["pid"].to_numpy())]
        keep = rowweight > 0
        refit = weibull_ph(df[keep].assign(w=rowweight[keep]), duration="t", event="d",
                           covariates=["D", "E", "DE"], weights="w")
        assert np.allclose(res.bootstrap.replicates.iloc[b].to_numpy(), refit.params.to_numpy(), atol=1e-7)


def test_bootstrap_se_close_to_cluster_robust_se():
    df = _spells(n=20000, seed=9)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], cluster="pid",
                     bootstrap=400, seed=1)
    ratio = res.se_boot / res.se
    assert np.all((ratio > 0.85) & (ratio < 1.15)), ratio


def test_same_seed_same_replicates():
    df = _spells(n=1000, seed=3)
    kw = {"duration": "t", "event": "d", "covariates": ["D"], "cluster": "pid", "bootstrap": 30, "seed": 5}
    a, b = weibull_ph(df, **kw), weibull_ph(df.sample(frac=1, random_state=1), **kw)
    assert np.allclose(a.bootstrap.replicates.to_numpy(), b.bootstrap.replicates.to_numpy(), atol=1e-9)


def test_expected_duration_formula():
    df = _spells(n=5000, seed=4, weekly=False)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"])
    from scipy.special import gamma
    p = res.shape
    b = res.params
    want = gamma(1 + 1 / p) * np.exp(-(b["_cons"] + b["D"]) / p)
    assert expected_duration(res, {"D": 1, "E": 0, "DE": 0}).iloc[0] == pytest.approx(want)


def test_bad_durations_give_clear_error():
    df = _spells(n=100)
    df.loc[0, "t"] = 0
    with pytest.raises(FitError, match="durations are ≤ 0"):
        weibull_ph(df, duration="t", event="d", covariates=["D"])


def test_collinear_covariate_gives_clear_error():
    df = _spells(n=200).assign(D2=lambda x: x["D"])
    with pytest.raises(FitError, match="singular|converge"):
        weibull_ph(df, duration="t", event="d", covariates=["D", "D2"])


def _weekly_process(n=20000, seed=0, b=(0.2, 0.1, -0.3), cons=-2.6, p=0.75, horizon=56):
    """The discrete-week Weibull process of the synthetic panel: a start in gap week t with
    probability 1 − exp(−e^{x'b}(t^p − (t−1)^p)); censored rows survived ``horizon − 1`` weeks."""
    rng = np.random.default_rng(seed)
    D, E = rng.integers(0, 2, n), rng.integers(0, 2, n)
    xb = cons + b[0] * D + b[1] * E + b[2] * D * E
    u = rng.random(n)
    # invert S(t) = exp(−e^xb t^p): the event week is the first t with S(t) < u
    t_cont = (-np.log(u) / np.exp(xb)) ** (1 / p)
    week = np.ceil(t_cont)
    event = (week <= horizon).astype(int)
    dur = np.where(event == 1, week, horizon - 1)
    return pd.DataFrame({"t": dur, "d": event, "D": D, "E": E, "DE": D * E, "pid": rng.integers(0, n // 3, n)})


def test_interval_likelihood_recovers_the_weekly_process():
    df = _weekly_process()
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], cluster="pid", interval=True)
    ci = res.conf_int()
    truth = {"D": 0.2, "E": 0.1, "DE": -0.3, "_cons": -2.6, "ln_p": np.log(0.75)}
    for name, value in truth.items():
        assert ci.loc[name, "lower"] < value < ci.loc[name, "upper"], name
    cont = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"])
    assert not ci.loc["ln_p", "lower"] < cont.params["ln_p"] < ci.loc["ln_p", "upper"]  # the bias it removes


def test_interval_gradient_and_hessian_match_finite_differences():
    from bipdask.estimators.weibull import _compress, _grad_hess, _loglik

    df = _weekly_process(n=500, seed=3)
    X = np.column_stack([df[["D", "E", "DE"]].to_numpy(float), np.ones(len(df))])
    pat = _compress(X, df["t"].to_numpy(float), df["d"].to_numpy(float), np.ones(len(df)),
                    np.arange(len(df)), interval=True)
    theta = np.array([0.1, 0.05, -0.2, -2.4, -0.2])
    g, h = _grad_hess(theta[None, :], pat, pat.count[None, :])
    eps = 1e-6
    num_g = np.array([(_loglik(theta + eps * e, pat) - _loglik(theta - eps * e, pat)) / (2 * eps)
                      for e in np.eye(5)])
    assert np.allclose(g[0], num_g, rtol=1e-5, atol=1e-6)
    num_h = np.array([(_grad_hess((theta + eps * e)[None, :], pat, pat.count[None, :])[0][0]
                       - _grad_hess((theta - eps * e)[None, :], pat, pat.count[None, :])[0][0]) / (2 * eps)
                      for e in np.eye(5)])
    assert np.allclose(h[0], num_h, rtol=1e-4, atol=1e-4)


def test_interval_bootstrap_replicate_equals_weighted_refit():
    df = _weekly_process(n=3000, seed=4)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], cluster="pid",
                     bootstrap=5, seed=2, interval=True)
    ids = np.unique(df["pid"].to_numpy())
    w = bs.replicate_weights(ids, range(5), 2)
    rowweight = w[3][np.searchsorted(ids, df["pid"].to_numpy())]
    keep = rowweight > 0
    refit = weibull_ph(df[keep].assign(w=rowweight[keep]), duration="t", event="d",
                       covariates=["D", "E", "DE"], weights="w", interval=True)
    assert np.allclose(res.bootstrap.replicates.iloc[3].to_numpy(), refit.params.to_numpy(), atol=1e-7)


def _terms_before(theta, X, t, d, interval):
    """The per-pattern terms as computed before the per-duration powers and event columns (the
    previous implementation, kept as the reference the faster one must equal bit for bit)."""
    def xlogy_p(t, p):
        pos = t > 0
        lt = np.where(pos, np.log(np.where(pos, t, 1.0)), 0.0)
        return np.where(pos, np.exp(p * lt), 0.0), p * lt

    b, ln_p = theta[:, :-1], theta[:, -1:]
    p = np.exp(ln_p)
    eta = b @ X.T
    e = np.exp(eta)
    if not interval:
        tp, plt = xlogy_p(t[None, :], p)
        lam = e * tp
        ll = d * (ln_p + (p - 1) * np.log(t)[None, :] + eta) - lam
        return ll, d - lam, d * (1 + plt) - lam * plt, -lam, -lam * plt, d * plt - lam * (plt + plt**2)
    lo = np.where(d > 0, t - 1.0, t)[None, :]
    a, alt = xlogy_p(lo, p)
    a_t, a_tt = a * alt, a * alt * (1 + alt)
    A = e * a
    ll = -A
    l_e, l_t, l_ee, l_et, l_tt = -A, -e * a_t, -A, -e * a_t, -e * a_tt
    ev = d > 0
    u, ult = xlogy_p(t[None, :], p)
    dl, dl_t, dl_tt = u - a, u * ult - a_t, u * ult * (1 + ult) - a_tt
    Dl = e * dl
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        g, q = np.log(-np.expm1(-Dl)), 1.0 / np.expm1(Dl)
        g2 = -q * (1 + q)
        Dt, Dtt = e * dl_t, e * dl_tt
        return (np.where(ev, ll + g, ll), np.where(ev, l_e + q * Dl, l_e), np.where(ev, l_t + q * Dt, l_t),
                np.where(ev, l_ee + g2 * Dl**2 + q * Dl, l_ee), np.where(ev, l_et + g2 * Dl * Dt + q * Dt, l_et),
                np.where(ev, l_tt + g2 * Dt**2 + q * Dtt, l_tt))


@pytest.mark.parametrize("interval", [True, False], ids=["grouped-weeks", "exact-times"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pattern_terms_equal_the_previous_computation_bit_for_bit(interval, seed):
    from bipdask.estimators.weibull import _terms

    rng = np.random.default_rng(seed)
    n_pat = 400
    X = np.column_stack([rng.integers(0, 2, (n_pat, 2)).astype(float), np.ones(n_pat)])
    t = rng.integers(0 if interval else 1, 60, n_pat).astype(float) + (0.0 if interval else rng.random(n_pat))
    d = (rng.random(n_pat) < 0.6).astype(float)
    if interval:
        d[t < 1] = 0.0
    theta = np.column_stack([rng.normal(0, 0.3, (37, 3)), rng.normal(-0.2, 0.3, 37)])
    for got, want in zip(_terms(theta, X, t, d, interval), _terms_before(theta, X, t, d, interval)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("scheme", ["multinomial", "poisson"])
def test_pattern_weight_blocks_equal_the_blocks_of_cluster_weights_bit_for_bit(monkeypatch, scheme):
    """The replicate blocks (shrunk by bounded_block here) and their pattern weights equal those of
    replicate_blocks × pattern_weights, drawn without the block × G weights."""
    from bipdask.estimators.weibull import _compress, pattern_weight_blocks

    rng = np.random.default_rng(4)
    n = 900
    X = np.column_stack([rng.integers(0, 2, (n, 2)).astype(float), np.ones(n)])
    t = rng.integers(1, 30, n).astype(float)
    d = (rng.random(n) < 0.7).astype(float)
    pat = _compress(X, t, d, np.ones(n), rng.integers(0, 150, n) * 7 + 3, interval=True)
    monkeypatch.setattr(bs, "BLOCK_WEIGHTS_MAX", 1000)  # 150 clusters: blocks of 5 instead of 10
    got = list(pattern_weight_blocks(pat, 37, 11, scheme, block=10))
    want = [(reps, bs.pattern_weights(wc, pat.cluster_patterns))
            for reps, wc in bs.replicate_blocks(pat.cluster_ids, 37, 11, scheme, 10)]
    assert [r for r, _ in got] == [r for r, _ in want] and len(got[0][0]) == 5
    for (_, a), (_, b) in zip(got, want):
        np.testing.assert_array_equal(a, b)


def _random_patterns(rng, n_rows, interval, continuous_x=False):
    from bipdask.estimators.weibull import _compress

    D, E = rng.integers(0, 2, n_rows), rng.integers(0, 2, n_rows)
    cols = [D, E, D * E] + ([rng.integers(0, 3, n_rows) / 2.0] if continuous_x else [])
    X = np.column_stack(cols + [np.ones(n_rows)]).astype(float)
    t = rng.integers(1, 25, n_rows).astype(float)
    if not interval:
        t = t - rng.integers(0, 2, n_rows) * 0.5
    d = (rng.random(n_rows) < 0.6).astype(float)
    if interval:
        t = np.where(d > 0, t, t - rng.integers(0, 2, n_rows))  # censored rows may survive 0 weeks
    w = rng.integers(1, 4, n_rows).astype(float)
    return _compress(X, t, d, w, rng.integers(0, max(n_rows // 3, 1), n_rows), interval=interval)


def test_replicate_terms_of_a_hand_made_case():
    """One covariate row (the constant), grouped weeks: a censored pattern at t = 2 (weight 3) and an
    event in week 3 (weight 2). ℓ = −3·e^c·2^p + 2·[−e^c·2^p + log(1 − exp(−e^c(3^p − 2^p)))]; at
    p = 1: ℓ = −10e^c + 2·log(1 − exp(−e^c)), so ∂ℓ/∂c = −10e^c + 2e^c/(e^{e^c} − 1)."""
    from bipdask.estimators.weibull import Patterns, ReplicateTerms

    pat = Patterns(X=np.ones((2, 1)), t=np.array([2.0, 3.0]), event=np.array([0.0, 1.0]), count=np.array([3.0, 2.0]),
                   cluster_patterns=None, cluster_ids=np.arange(1), interval=True)
    terms = ReplicateTerms.of(pat)
    c = -1.0
    g, h = terms.grad_hess(np.array([[c, 0.0]]), terms.weights(np.array([[3.0, 2.0]])))
    ec = np.exp(c)
    assert g[0, 0] == pytest.approx(-10 * ec + 2 * ec / np.expm1(ec), rel=1e-14)
    # ∂ℓ/∂ln p at p = 1: −5·e^c·2·ln 2 + 2·q·e^c(3 ln 3 − 2 ln 2), q = 1/(e^{e^c} − 1)
    q = 1 / np.expm1(ec)
    assert g[0, 1] == pytest.approx(-5 * ec * 2 * np.log(2) + 2 * q * ec * (3 * np.log(3) - 2 * np.log(2)), rel=1e-13)
    assert h[0, 0, 1] == h[0, 1, 0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), interval=st.booleans(), continuous_x=st.booleans(), n_rep=st.integers(1, 12))
def test_replicate_terms_equal_the_pattern_gradient_and_hessian(seed, interval, continuous_x, n_rep):
    """ReplicateTerms.grad_hess is _grad_hess summed in another order: equal to rounding."""
    from bipdask.estimators.weibull import ReplicateTerms, _grad_hess

    rng = np.random.default_rng(seed)
    pat = _random_patterns(rng, int(rng.integers(5, 300)), interval, continuous_x)
    k = pat.X.shape[1]
    theta = np.column_stack([rng.normal(0, 0.3, (n_rep, k - 1)), rng.normal(-2.5, 0.3, n_rep),
                             rng.normal(-0.2, 0.3, n_rep)])
    wp = rng.integers(0, 4, (n_rep, pat.t.size)).astype(float)
    terms = ReplicateTerms.of(pat)
    g, h = terms.grad_hess(theta, terms.weights(wp))
    g0, h0 = _grad_hess(theta, pat, wp)
    scale_g = np.abs(wp).sum(axis=1, keepdims=True) + 1.0
    np.testing.assert_allclose(g, g0, rtol=0, atol=1e-12 * scale_g.max())
    np.testing.assert_allclose(h, h0, rtol=0, atol=1e-12 * scale_g.max())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), interval=st.booleans(), data=st.data())
def test_a_replicates_terms_do_not_depend_on_the_other_rows(seed, interval, data):
    """Any subset of a block's rows gets the bits it gets in the whole block (and alone): the
    replicates do not depend on how B is cut into blocks, nor on which replicates are still active."""
    from bipdask.estimators import weibull as wb
    from bipdask.estimators.weibull import ReplicateTerms

    rng = np.random.default_rng(seed)
    pat = _random_patterns(rng, 200, interval)
    n_rep = 17
    theta = np.column_stack([rng.normal(0, 0.3, (n_rep, 3)), rng.normal(-2.5, 0.3, n_rep), rng.normal(0, 0.3, n_rep)])
    terms = ReplicateTerms.of(pat)
    weights = terms.weights(rng.integers(0, 4, (n_rep, pat.t.size)).astype(float))
    g, h = terms.grad_hess(theta, weights)
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, n_rep - 1), min_size=1))))
    gs, hs = terms.grad_hess(theta[rows], weights.take(rows))
    np.testing.assert_array_equal(gs, g[rows])
    np.testing.assert_array_equal(hs, h[rows])
    with pytest.MonkeyPatch.context() as mp:  # the Newton steps' row chunks
        mp.setattr(wb, "TERM_ROWS", 3)
        gr, hr = terms.grad_hess_rows(theta[rows], weights, rows)
    np.testing.assert_array_equal(gr, g[rows])
    np.testing.assert_array_equal(hr, h[rows])


@pytest.mark.parametrize("interval", [True, False], ids=["grouped-weeks", "exact-times"])
def test_bootstrap_replicates_equal_newton_on_the_pattern_terms(interval):
    """The replicates of bootstrap_weibull equal vectorised Newton on _grad_hess (the previous
    computation) to 1e-10 relative."""
    from bipdask.estimators.newton import vectorised_newton
    from bipdask.estimators.weibull import _grad_hess, pattern_weight_blocks

    df = _weekly_process(n=3000, seed=7) if interval else _spells(n=3000, seed=7)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], cluster="pid", bootstrap=40, seed=3,
                     interval=interval, block=16)
    pat, theta0 = res._patterns, res.params.to_numpy()
    want = np.vstack([vectorised_newton(lambda th, rows, wp=wp: _grad_hess(th, pat, wp[rows]),
                                        np.tile(theta0, (len(reps), 1)))[0]
                      for reps, wp in pattern_weight_blocks(pat, 40, 3, block=16)])
    got = res.bootstrap.replicates.to_numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)
