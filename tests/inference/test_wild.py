"""The wild cluster restricted bootstrap (bipdask.inference.wild) and its uses in lpm and the cell DiD.

Reference checks: the ``wildboottest`` package (WCR11, Rademacher enumeration and injected
weights) and a brute-force enumeration that refits statsmodels OLS with CR1 on every one of the
2^G bootstrap samples, with fixed effects as dummies. Tie convention: bipdask counts
|t*| ≥ |t| (with a relative slack of 1e-9, :data:`TIE_RTOL`), wildboottest counts |t*| > |t|
in floating point. Under the null-imposed DGP the sign vectors ±1 reproduce |t| exactly, so with
enumeration wildboottest's p-value depends on how its rounding resolves those two ties; the
comparison is therefore made exact by (i) matching the 2^G bootstrap t statistics one by one
(1e-8), (ii) recomputing wildboottest's p-value from its own t statistics with bipdask's tie rule
(equal to the last bit), and (iii) checking that its published p-value differs from bipdask's by
exactly the ties its rounding did not count. The small-sample factor G/(G−1)·(N−1)/(N−K) is the
same in both (and cancels from the p-value).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.cell_did import cell_did_wild
from bipdask.estimators.lpm import lpm
from bipdask.inference.wild import (
    TIE_RTOL,
    WEBB_POINTS,
    WCRDraws,
    cluster_moments,
    enumerates,
    sign_vectors,
    wcr_draws,
    wcr_linear,
    wcr_pvalue,
    wild_weights,
)

# --------------------------------------------------------------------------- data


def voters(seed: int = 3, n_clusters: int = 10, n: int = 400) -> pd.DataFrame:
    """A small public-style dataset (as fwildclusterboot's ``create_data``): a cluster-level
    treatment, an individual covariate, a cluster random effect and an outcome."""
    rng = np.random.default_rng(seed)
    cl = np.sort(rng.integers(0, n_clusters, n)) + 1
    treat = (cl % 3 == 0).astype(float)
    log_income = rng.normal(10, 1, n)
    y = 0.1 * treat + 0.05 * log_income + rng.normal(size=n) + rng.normal(0, 0.7, n_clusters + 1)[cl]
    return pd.DataFrame({"group_id": cl, "treatment": treat, "log_income": log_income, "proposition_vote": y})


def panel(seed: int = 5, n_clusters: int = 7, n: int = 260, weeks: int = 5) -> pd.DataFrame:
    """Job centres × weeks with job-centre × week shocks (for the fixed-effect cases)."""
    rng = np.random.default_rng(seed)
    jc = rng.integers(0, n_clusters, n) + 11
    wk = rng.integers(0, weeks, n)
    df = pd.DataFrame({"jc": jc, "wk": wk, "x": rng.normal(size=n), "D": (jc < 14).astype(float),
                       "E": (wk >= weeks // 2).astype(float), "w": rng.integers(1, 4, n).astype(float)})
    df["DE"] = df["D"] * df["E"]
    df["y"] = (0.3 * df["x"] + rng.normal(size=n) + rng.normal(size=(n_clusters + 11, weeks))[jc, wk]
               + 0.5 * rng.normal(size=weeks)[wk])
    df["person"] = jc * 100 + rng.integers(0, 4, n)
    return df


def _wbt(model, cluster, param, weights_type="rademacher", B=9999):
    """wildboottest's published p-value and t, and its internals (t*, t) from the same steps."""
    from wildboottest.wildboottest import WildboottestCL, wildboottest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wildboottest(model, B=B, cluster=cluster, param=param, weights_type=weights_type,
                           impose_null=True, bootstrap_type="11", seed=1, show=False, parallel=False)
    R = np.zeros(len(model.exog_names))
    R[model.exog_names.index(param)] = 1.0
    boot = WildboottestCL(X=model.exog, Y=model.endog, cluster=cluster, R=R, B=B, seed=1, parallel=False)
    boot.get_scores(bootstrap_type="11", impose_null=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot.get_weights(weights_type=weights_type)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue()
    return float(res["p-value"].iloc[0]), float(np.ravel(res["statistic"].iloc[0])[0]), np.asarray(boot.t_boot), \
        float(np.ravel(boot.t_stat)[0]), float(boot.pvalue)


def _their_order(n_clusters: int) -> np.ndarray:
    """Index into itertools.product([-1, 1], repeat=G) (wildboottest's enumeration) of our rows."""
    bits = (sign_vectors(n_clusters) > 0).astype(np.int64)
    return bits @ (2 ** np.arange(n_clusters - 1, -1, -1))


# --------------------------------------------------------------------------- weights


def test_weights_are_pure_functions_of_seed_replicate_and_cluster():
    ids = np.array([3, 8, 15, 16, 42, 97], dtype=np.int64)
    V = wild_weights(ids, range(2000), 11)
    assert set(np.unique(V)) == {-1.0, 1.0}
    assert abs(V.mean()) < 0.05
    # a cluster's weights do not depend on the other clusters, nor on how replicates are blocked
    np.testing.assert_array_equal(wild_weights(ids[[1, 4]], range(2000), 11), V[:, [1, 4]])
    np.testing.assert_array_equal(wild_weights(ids, range(500, 900), 11), V[500:900])
    W = wild_weights(ids, range(30000), 11, "webb")
    vals, counts = np.unique(W, return_counts=True)
    np.testing.assert_allclose(vals, WEBB_POINTS)
    assert np.all(np.abs(counts / W.size - 1 / 6) < 0.01)
    assert abs(np.mean(W ** 2) - 1) < 0.02  # Webb's weights have variance 1


def test_enumeration_rule_and_sign_vectors():
    V = sign_vectors(5)
    assert V.shape == (32, 5) and len({tuple(r) for r in V}) == 32
    np.testing.assert_array_equal(sign_vectors(5, range(7, 19)), V[7:19])
    assert enumerates(13, 9999) and not enumerates(14, 9999) and enumerates(10, 1024)
    assert not enumerates(5, 9999, "webb")  # Webb's weights are not enumerable
    m = cluster_moments(sm.add_constant(voters()[["treatment"]]), voters()["proposition_vote"], voters()["group_id"])
    d = wcr_draws(m, {"treatment": [0.0, 1.0]}, bootstrap=9999)["treatment"]  # no seed needed
    assert d.enumerated and d.n_replicates == 1024 and d.seed is None
    with pytest.raises(ValueError, match="seed"):
        wcr_draws(m, {"treatment": [0.0, 1.0]}, bootstrap=999)


# --------------------------------------------------------------------------- (a) wildboottest


@pytest.mark.parametrize("param", ["treatment", "log_income"])
def test_matches_wildboottest_with_full_enumeration(param):
    df = voters()
    X = df[["treatment", "log_income"]].assign(const=1.0)
    model = sm.OLS(df["proposition_vote"], X)
    cl = df["group_id"].to_numpy()
    p_pub, t_pub, t_boot, t_wbt, p_internal = _wbt(model, cl, param)
    g = 10

    fit = lpm(df, y="proposition_vote", covariates=["treatment", "log_income"], cluster="group_id",
              inference="wild", bootstrap=9999)
    m_rows = cluster_moments(X, df["proposition_vote"], cl)
    e = (X.columns == param).astype(float)
    draws = {"raw design": wcr_draws(m_rows, {param: e}, bootstrap=9999)[param],
             "lpm (centred, intercept cells)": wcr_draws(
                 fit.cluster_moments(), {param: (np.array(["treatment", "log_income"]) == param).astype(float)},
                 bootstrap=9999)[param]}
    assert fit.wild.enumerated and fit.wild.n_replicates == 2 ** g
    assert p_internal == p_pub  # the internals reproduce the published p-value
    assert t_wbt == pytest.approx(t_pub, rel=1e-12)
    assert fit.tvalues[param] == pytest.approx(t_wbt, rel=1e-10)  # same CR1 small-sample factor
    for label, d in draws.items():
        assert d.t_stat == pytest.approx(t_wbt, rel=1e-10), label
        # every one of the 2^G bootstrap t statistics, vector by vector
        np.testing.assert_allclose(d.t_boot, t_boot[_their_order(g)], rtol=1e-8, atol=1e-10, err_msg=label)
        # their statistics under our tie rule give our p-value, to the last bit
        assert d.p_value() == np.mean(np.abs(t_boot) >= abs(t_wbt) * (1 - TIE_RTOL)), label
        # their published p counts |t*| > |t| in floating point: it differs from ours by exactly the
        # exact ties (the ±1 vectors) that its rounding put at or below |t|
        ties = np.abs(np.abs(t_boot) - abs(t_wbt)) <= TIE_RTOL * abs(t_wbt)
        assert ties.sum() == 2
        uncounted = int(np.sum(ties & ~(np.abs(t_boot) > abs(t_wbt))))
        assert (d.p_value() - p_pub) * 2 ** g == pytest.approx(uncounted, abs=1e-9), label
    assert fit.wild.table.loc[param, "p_value"] == draws["raw design"].p_value()


@pytest.mark.parametrize("kind", ["webb", "rademacher"])
def test_matches_wildboottest_with_the_same_random_weights(kind):
    """Random draws: our weights injected into wildboottest (a callable weights_type)."""
    df = voters(seed=8, n_clusters=12, n=500)
    X = df[["treatment", "log_income"]].assign(const=1.0)
    model = sm.OLS(df["proposition_vote"], X)
    cl = df["group_id"].to_numpy()
    ids = np.unique(cl).astype(np.int64)
    B = 999
    V = wild_weights(ids, range(B), 21, kind)
    p_pub, _, t_boot, t_wbt, _ = _wbt(model, cl, "treatment", weights_type=lambda n, rng: V.T.ravel(), B=B)
    fit = lpm(df, y="proposition_vote", covariates=["treatment", "log_income"], cluster="group_id",
              inference="wild", bootstrap=B, seed=21, wild_weights=kind)
    d = wcr_draws(cluster_moments(X, df["proposition_vote"], cl), {"treatment": [1.0, 0.0, 0.0]},
                  bootstrap=B, seed=21, weights=kind)["treatment"]
    assert not fit.wild.enumerated and fit.wild.n_replicates == B and fit.wild.seed == 21
    np.testing.assert_allclose(d.t_boot, t_boot, rtol=1e-8, atol=1e-10)
    ties = np.abs(np.abs(t_boot) - abs(t_wbt)) <= TIE_RTOL * abs(t_wbt)
    uncounted = int(np.sum(ties & ~(np.abs(t_boot) > abs(t_wbt))))
    assert (d.p_value() - p_pub) * B == pytest.approx(uncounted, abs=1e-9)
    if not ties.any():
        assert d.p_value() == p_pub
    assert fit.wild.table.loc["treatment", "p_value"] == d.p_value()


# --------------------------------------------------------------------------- (b) brute force


def brute_force(df, y, covs, fes, cluster, term, r=0.0, weights=None):
    """WCR by refitting statsmodels OLS (WLS with frequency weights) with CR1 on every one of the
    2^G samples y* = Xβ̃ + v_g·ũ_g; fixed effects as dummies. Returns (p, t, t*)."""
    X = df[covs].astype(float)
    if fes:
        dummies = [pd.get_dummies(df[f].astype("category"), prefix=f, drop_first=i > 0, dtype=float)
                   for i, f in enumerate(fes)]
        X = pd.concat([X, *dummies], axis=1)
    else:
        X = sm.add_constant(X, prepend=False)
    X = X.to_numpy()
    yv = df[y].to_numpy(float)
    w = np.ones(len(df)) if weights is None else df[weights].to_numpy(float)
    j = covs.index(term)
    ids, codes = np.unique(df[cluster].to_numpy(), return_inverse=True)

    def t_of(yy):
        fit = sm.WLS(yy, X, weights=w).fit(cov_type="cluster", cov_kwds={"groups": codes})
        return (fit.params[j] - r) / fit.bse[j]

    t = t_of(yv)
    others = [c for c in range(X.shape[1]) if c != j]
    restricted = sm.WLS(yv - r * X[:, j], X[:, others], weights=w).fit()
    u = yv - r * X[:, j] - X[:, others] @ restricted.params
    fitted = yv - u
    t_star = np.array([t_of(fitted + v[codes] * u) for v in sign_vectors(ids.size)])
    return float(np.mean(np.abs(t_star) >= abs(t) * (1 - TIE_RTOL))), t, t_star


BRUTE_CASES = [
    ("no fixed effects (intercept)", [], ["x", "DE", "D", "E"], None),
    ("week effects, not nested in job centres", ["wk"], ["x", "DE", "D"], None),
    ("job-centre effects, nested", ["jc"], ["x", "DE", "E"], None),
    ("job-centre and week effects (two-way DiD)", ["jc", "wk"], ["x", "DE"], None),
    ("person effects nested, week effects not", ["person", "wk"], ["x", "DE"], None),
    ("week effects with frequency weights", ["wk"], ["x", "DE", "D"], "w"),
]


@pytest.mark.parametrize("label,fes,covs,weights", BRUTE_CASES, ids=[c[0] for c in BRUTE_CASES])
def test_equals_brute_force_enumeration(label, fes, covs, weights):
    df = panel()
    fit = lpm(df, y="y", covariates=covs, fixed_effects=fes or None, cluster="jc", weights=weights,
              inference="wild", bootstrap=9999)
    assert fit.wild.enumerated and fit.wild.n_replicates == 2 ** 7
    moments = fit.cluster_moments()
    for term in ("x", "DE"):
        p, t, t_star = brute_force(df, "y", covs, fes, "jc", term, weights=weights)
        assert fit.wild.table.loc[term, "p_value"] == p
        e = (np.array(moments.names) == term).astype(float)
        d = wcr_draws(moments, {term: e}, bootstrap=9999)[term]
        # t*/t: the CR1 factors differ (statsmodels counts every dummy in K; lpm's nested
        # factors do not) and cancel from the p-value
        np.testing.assert_allclose(d.t_boot / d.t_stat, t_star / t, rtol=1e-8, atol=1e-10)
        # another null value, drawn under it
        p_r, _, _ = brute_force(df, "y", covs, fes, "jc", term, r=0.2, weights=weights)
        assert wcr_pvalue(moments, term, 0.2, bootstrap=9999) == p_r


def test_unsupported_fixed_effects_raise():
    df = panel()
    df["month"] = df["wk"] % 2
    with pytest.raises(ValueError, match="not nested"):
        lpm(df, y="y", covariates=["x"], fixed_effects=["wk", "month"], cluster="jc", inference="wild",
            bootstrap=99, seed=1)


# --------------------------------------------------------------------------- (c) test inversion


@pytest.mark.parametrize("fes,weights,B", [([], "rademacher", 9999), (["wk"], "rademacher", 9999),
                                           ([], "webb", 999), (["wk"], "webb", 499)])
def test_inverted_interval_has_p_equal_alpha_at_its_ends(fes, weights, B):
    df = panel(seed=9, n_clusters=12, n=500)
    covs = ["x", "DE", "D"] if fes else ["x", "DE", "D", "E"]
    fit = lpm(df, y="y", covariates=covs, fixed_effects=fes or None, cluster="jc", inference="wild",
              bootstrap=B, seed=4, wild_weights=weights, alpha=0.1)
    moments = fit.cluster_moments()
    n_rep = fit.wild.n_replicates
    for term in ("x", "DE"):
        lo, hi = fit.wild.table.loc[term, ["ci_low", "ci_high"]]
        assert lo < fit.params[term] < hi
        eps = 1e-7 * (hi - lo)
        kw = dict(bootstrap=B, seed=4, weights=weights)
        for end, inside, outside in ((lo, lo + eps, lo - eps), (hi, hi - eps, hi + eps)):
            p_in, p_out = wcr_pvalue(moments, term, inside, **kw), wcr_pvalue(moments, term, outside, **kw)
            assert p_in >= 0.1 > p_out  # p(r) crosses α exactly at the end of the interval
            assert abs(p_in - 0.1) <= 3 / n_rep and abs(p_out - 0.1) <= 3 / n_rep
        # the draws made under H0: β = 0 give the same p(r) as draws made under each r
        e = (np.array(moments.names) == term).astype(float)
        d = wcr_draws(moments, {term: e}, **kw)[term]
        for r in np.linspace(lo - (hi - lo), hi + (hi - lo), 9):  # never exactly at a jump
            assert d.p_value(r) == wcr_pvalue(moments, term, r, **kw)
        # the published se is the one the interval implies
        assert fit.wild.table.loc[term, "se"] == pytest.approx((hi - lo) / (2 * 1.6448536269514722), rel=1e-12)


def test_few_clusters_give_an_unbounded_interval():
    df = panel(n_clusters=4, n=120)  # the ±1 vectors alone give p ≥ 2/16 > α
    fit = lpm(df, y="y", covariates=["x"], cluster="jc", inference="wild", bootstrap=999)
    lo, hi = fit.wild.table.loc["x", ["ci_low", "ci_high"]]
    assert lo == -np.inf and hi == np.inf and fit.wild.table.loc["x", "p_value"] >= 2 / 16


# --------------------------------------------------------------------------- (d) invariances


@settings(max_examples=12, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from([9999, 299]))
def test_row_order_does_not_matter(rnd, B):
    df = panel(seed=13, n_clusters=9, n=300)
    perm = list(range(len(df)))
    rnd.shuffle(perm)
    kw = dict(y="y", covariates=["x", "DE", "D"], fixed_effects="wk", cluster="jc", inference="wild", bootstrap=B,
              seed=2)
    a, b = lpm(df, **kw).wild.table, lpm(df.iloc[perm], **kw).wild.table
    np.testing.assert_array_equal(a["p_value"], b["p_value"])
    np.testing.assert_allclose(a[["ci_low", "ci_high"]], b[["ci_low", "ci_high"]], rtol=1e-9)


@settings(max_examples=12, deadline=None)
@given(st.permutations(list(range(9))), st.integers(0, 10_000))
def test_cluster_relabelling_does_not_matter_with_enumeration(perm, offset):
    df = panel(seed=13, n_clusters=9, n=300)
    codes = pd.factorize(df["jc"], sort=True)[0]
    relabelled = df.assign(jc=np.asarray(perm)[codes] * 7 + offset)
    kw = dict(y="y", covariates=["x", "DE", "D", "E"], cluster="jc", inference="wild", bootstrap=9999)
    a, b = lpm(df, **kw).wild.table, lpm(relabelled, **kw).wild.table
    np.testing.assert_array_equal(a["p_value"], b["p_value"])
    np.testing.assert_allclose(a[["ci_low", "ci_high"]], b[["ci_low", "ci_high"]], rtol=1e-9)


# --------------------------------------------------------------------------- (e) size


def test_size_with_job_centre_by_period_shocks():
    """200 null DiDs, 20 job centres (6 participating) sharing strong job-centre × period shocks:
    the WCR at job-centre level keeps its 5 % size, person-clustered CR1 does not."""
    g, persons, weeks, n_sim = 20, 15, 4, 200
    jc = np.repeat(np.arange(g), persons * 2 * weeks)
    pid = np.repeat(np.arange(g * persons), 2 * weeks)
    e = np.tile(np.repeat([0.0, 1.0], weeks), g * persons)
    d = (jc < 6).astype(float)
    rejections = {"wcr": 0, "person_cr1": 0}
    for s in range(n_sim):
        rng = np.random.default_rng(1000 + s)
        y = (rng.normal(0, 1, (g, 2))[jc, e.astype(int)] + rng.normal(0, 0.5, g * persons)[pid]
             + rng.normal(0, 1, jc.size))
        df = pd.DataFrame({"jc": jc, "pid": pid, "D": d, "E": e, "DE": d * e, "y": y})
        person = lpm(df, y="y", covariates=["D", "E", "DE"], cluster="pid")
        rejections["person_cr1"] += person.pvalues["DE"] < 0.05
        m = lpm(df, y="y", covariates=["D", "E", "DE"], cluster="jc").cluster_moments()
        rejections["wcr"] += wcr_draws(m, {"DE": [0.0, 0.0, 1.0]}, bootstrap=199, seed=s)["DE"].p_value() < 0.05
    rate = {k: v / n_sim for k, v in rejections.items()}
    assert 0.02 <= rate["wcr"] <= 0.09, rate
    assert rate["person_cr1"] > 0.3, rate


# --------------------------------------------------------------------------- lpm and cell DiD


def hir_cells(seed=2, n_jc=11, treated=(100, 103, 107)) -> pd.DataFrame:
    """Per (job centre, person, period) cell sums as share_cell_sums gives them (period → e)."""
    rng = np.random.default_rng(seed)
    rows = []
    for jc in range(100, 100 + n_jc):
        shock = rng.normal(0, 0.05, 2)
        for person in range(3):
            for e in (0, 1):
                n = int(rng.integers(1, 15))
                rows.append((jc, jc * 10 + person, int(jc in treated), e, n,
                             int(rng.binomial(n, 0.2 + 0.05 * e + max(shock[e], -0.15)))))
    return pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "d", "e", "n_weeks", "n_yes"])


def _expand(cells: pd.DataFrame) -> pd.DataFrame:
    rows = cells.loc[cells.index.repeat(cells["n_weeks"])].copy()
    rows["y"] = np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for n, k in zip(cells["n_weeks"], cells["n_yes"])])
    return rows.assign(D=rows["d"], E=rows["e"], DE=rows["d"] * rows["e"])


@pytest.mark.parametrize("B,seed,weights", [(9999, None, "rademacher"), (999, 3, "rademacher"), (999, 3, "webb")])
def test_cell_did_wild_equals_lpm_on_the_rows(B, seed, weights):
    cells = hir_cells()
    fit = cell_did_wild(cells, bootstrap=B, seed=seed, weights=weights)
    rows = lpm(_expand(cells), y="y", covariates=["D", "E", "DE"], cluster="jobcentre_id", inference="wild",
               bootstrap=B, seed=seed, wild_weights=weights)
    a, b = fit.wild.table.loc["D_E"], rows.wild.table.loc["DE"]
    assert fit.estimate == pytest.approx(rows.params["DE"], abs=1e-12)
    assert a["p_value"] == pytest.approx(b["p_value"], abs=1e-12)
    assert a[["ci_low", "ci_high"]].to_numpy() == pytest.approx(b[["ci_low", "ci_high"]].to_numpy(), rel=1e-9)
    assert fit.wild.enumerated == (B == 9999) and fit.n_clusters == 11
    assert fit.se == pytest.approx(rows.se["DE"], rel=1e-10)  # CR1 at job-centre level
    tidy = fit.tidy()
    assert list(tidy["inference"].unique()) == ["wild"]
    assert tidy.set_index("term").loc["D_E", "p_value"] == a["p_value"]
    assert tidy.set_index("term").loc[["_cons", "D", "E"], "p_value"].isna().all()


def test_lpm_inference_argument():
    df = panel(seed=21, n_clusters=10, n=300)
    kw = dict(y="y", covariates=["D", "E", "DE"], cluster="jc")
    # the default path is untouched: pairs when bootstrap > 0, analytic otherwise
    default, pairs = lpm(df, **kw, bootstrap=50, seed=1), lpm(df, **kw, bootstrap=50, seed=1, inference="pairs")
    assert default.wild is None and default.inference == "pairs"
    pd.testing.assert_frame_equal(default.bootstrap.replicates, pairs.bootstrap.replicates)
    pd.testing.assert_frame_equal(default.tidy(), pairs.tidy())
    assert lpm(df, **kw).inference == lpm(df, **kw, inference="analytic").inference == "analytic"
    with pytest.raises(ValueError, match="analytic"):
        lpm(df, **kw, bootstrap=50, inference="analytic")
    with pytest.raises(ValueError, match="pairs"):
        lpm(df, **kw, inference="pairs")
    with pytest.raises(ValueError, match="cluster"):
        lpm(df, y="y", covariates=["D"], inference="wild", bootstrap=99, seed=1)
    with pytest.raises(ValueError, match="bootstrap"):
        lpm(df, **kw, inference="wild")
    with pytest.raises(ValueError, match="wild_weights"):
        lpm(df, **kw, inference="wild", bootstrap=99, seed=1, wild_weights="mammen")
    # the example of the HIR share DiD at job-centre level
    data = df.rename(columns={"jc": "jobcentre_id"})
    tidy = lpm(data, y="y", covariates=["D", "E", "DE"], cluster="jobcentre_id", inference="wild", bootstrap=9999,
               seed=1, wild_weights="rademacher").tidy()
    assert {"inference", "n_clusters", "n_replicates", "se_analytic", "p_value_analytic"} <= set(tidy.columns)
    row = tidy.set_index("term").loc["DE"]
    assert row["inference"] == "wild" and row["n_clusters"] == 10 and row["n_replicates"] == 1024
    assert row["ci_low"] < row["estimate"] < row["ci_high"]


def test_wcr_linear_defaults_and_contrasts():
    df = voters()
    X = df[["treatment", "log_income"]].assign(_cons=1.0)
    m = cluster_moments(X, df["proposition_vote"], df["group_id"])
    wt = wcr_linear(m, bootstrap=9999)
    assert list(wt.table.index) == ["treatment", "log_income"] and list(wt.table.columns) == ["se", "ci_low",
                                                                                              "ci_high", "p_value"]
    both = wcr_linear(m, terms=["treatment"], contrasts={"t_minus_inc": [1.0, -1.0, 0.0]}, bootstrap=9999)
    assert both.table.loc["treatment", "p_value"] == wt.table.loc["treatment", "p_value"]
    assert np.isfinite(both.table.loc["t_minus_inc", "p_value"])


def test_enumeration_order_is_itertools_product_reordered():
    g = 4
    theirs = np.array(list(itertools.product([-1, 1], repeat=g)), dtype=float)
    np.testing.assert_array_equal(theirs[_their_order(g)], sign_vectors(g))


def test_undefined_wild_draw_counts_as_extreme():
    """t* = [1, 0.5, 0/0, 3] against |t| = 2: the 0/0 draw is extreme with the 3 (p = 2/4); it was
    counted as not extreme (p = 1/4), the opposite of the rule for failed pairs replicates."""
    zeros = np.zeros(4)
    draws = WCRDraws(term="x", estimate=2.0, se=1.0, null=0.0, n0=np.array([1.0, 0.5, 0.0, 3.0]), n1=zeros,
                     p0=np.array([1.0, 1.0, 0.0, 1.0]), p1=zeros, p2=zeros, factor=1.0, n_clusters=4,
                     weights="rademacher", enumerated=False, seed=0)
    assert draws.p_value() == 0.5
