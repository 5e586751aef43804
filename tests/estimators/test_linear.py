"""The cell DiD (HIR eq. 2) against statsmodels OLS with person-clustered SEs on expanded rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.analyses.estimates import estimates_frame
from bipdask.analyses.hir.shares import headline, share_did_table
from bipdask.errors import InputError
from bipdask.estimators.cell_did import PARAM_NAMES, cell_did


def random_person_weeks(seed: int, n_persons: int = 60) -> pd.DataFrame:
    """Person-week rows; persons change D (move) and E across weeks; outcome depends on cell."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    rows = []
    for pid in range(n_persons):
        n_weeks = int(rng.integers(1, 30))
        d = rng.integers(0, 2, n_weeks) if rng.random() < 0.2 else np.full(n_weeks, rng.integers(0, 2))
        e = rng.integers(0, 2, n_weeks)
        p = 0.15 + 0.03 * d + 0.02 * e + 0.05 * d * e + rng.normal(0, 0.05)
        y = (rng.random(n_weeks) < np.clip(p, 0, 1)).astype(int)
        rows.append(pd.DataFrame({"person_id": 1000 + 7 * pid, "d": d, "e": e, "y": y}))
    return pd.concat(rows, ignore_index=True)


def to_cells(rows: pd.DataFrame) -> pd.DataFrame:
    return (rows.groupby(["person_id", "d", "e"])["y"].agg(n_weeks="size", n_yes="sum").reset_index())


def statsmodels_fit(rows: pd.DataFrame):
    x = np.column_stack([np.ones(len(rows)), rows["d"], rows["e"], rows["d"] * rows["e"]])
    return sm.OLS(rows["y"].to_numpy(float), x).fit(
        cov_type="cluster", cov_kwds={"groups": rows["person_id"].to_numpy()}, use_t=True
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_statsmodels_cluster_ols(seed):
    rows = random_person_weeks(seed)
    ref = statsmodels_fit(rows)
    fit = cell_did(to_cells(rows))
    np.testing.assert_allclose(fit.params, ref.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(fit.cov), ref.cov_params(), rtol=1e-10, atol=1e-14)
    assert fit.se == pytest.approx(ref.bse[3], rel=1e-10)
    assert fit.p_value == pytest.approx(ref.pvalues[3], rel=1e-8)
    lo, hi = ref.conf_int()[3]
    assert fit.ci_low == pytest.approx(lo, abs=1e-10) and fit.ci_high == pytest.approx(hi, abs=1e-10)
    assert fit.n_obs == len(rows) and fit.n_persons == rows["person_id"].nunique()
    cells = rows.groupby(["d", "e"])["y"].mean()
    np.testing.assert_allclose(fit.cell_means, [cells[0, 0], cells[0, 1], cells[1, 0], cells[1, 1]], atol=1e-15)
    assert list(fit.params_series().index) == list(PARAM_NAMES)


def test_hand_computed_did():
    # D0: 1/4 → 2/4; D1: 1/2 → 2/2: DiD = (1 - 0.5) - (0.5 - 0.25) = 0.25
    cells = pd.DataFrame({
        "person_id": [1, 1, 2, 2, 3, 4],
        "d": [0, 0, 0, 0, 1, 1],
        "e": [0, 1, 0, 1, 0, 1],
        "n_weeks": [2, 2, 2, 2, 2, 2],
        "n_yes": [1, 2, 0, 0, 1, 2],
    })
    fit = cell_did(cells)
    assert fit.cell_means == (0.25, 0.5, 0.5, 1.0)
    assert fit.estimate == pytest.approx(0.25)
    assert fit.n_obs == 12 and fit.n_persons == 4


def test_empty_cell_is_an_input_error_naming_the_cell():
    cells = pd.DataFrame({"person_id": [1, 2, 3], "d": [0, 0, 1], "e": [0, 1, 0],
                          "n_weeks": [3, 3, 3], "n_yes": [1, 1, 1]})
    with pytest.raises(InputError, match="D1_E1"):
        cell_did(cells)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000), n_parts=st.integers(1, 5))
def test_invariant_to_row_order_and_partitioning(seed, perm_seed, n_parts):
    rows = random_person_weeks(seed, n_persons=25)
    whole = cell_did(to_cells(rows))
    rng = np.random.default_rng(perm_seed)
    # Split the person-weeks at random into parts (batches / job centres), sum each part to
    # cells, concatenate in a shuffled order: the same person appears in several rows.
    part = rng.integers(0, n_parts, len(rows))
    pieces = [to_cells(rows[part == k]) for k in range(n_parts) if (part == k).any()]
    cells = pd.concat(pieces, ignore_index=True)
    cells = cells.iloc[rng.permutation(len(cells))]
    split = cell_did(cells)
    assert split.params.equals(whole.params)
    assert split.cov.equals(whole.cov)
    assert (split.n_obs, split.n_persons) == (whole.n_obs, whole.n_persons)


def planted_cells(effect: float, seed: int = 0, n_persons: int = 4000) -> tuple[pd.DataFrame, list[int]]:
    """Cell sums of a panel with 4 job centres (1, 2 participating) and a planted DiD effect."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    jc = rng.integers(1, 5, n_persons)
    d = np.isin(jc, [1, 2]).astype(int)
    frames = []
    for label, e in (("before", 0), ("intervention", 1), ("last_3_months", 1)):
        n = rng.integers(5, 40, n_persons) if label != "last_3_months" else rng.integers(1, 13, n_persons)
        p = 0.15 + 0.02 * d + 0.02 * e + effect * d * e
        frames.append(pd.DataFrame({"jobcentre_id": jc, "person_id": np.arange(n_persons), "period": label,
                                    "d": d, "n_weeks": n, "n_yes": rng.binomial(n, p)}))
    return pd.concat(frames, ignore_index=True), [1, 2]


def test_share_did_table_recovers_planted_effect_and_writes_tidy_rows():
    cells, treated = planted_cells(0.05)
    rows = share_did_table(cells, treated_ids=treated, after=("intervention", "last_3_months"))
    df = estimates_frame(rows)
    pooled = df[(df["estimand"] == "did") & df["jobcentre_id"].isna()].set_index("period")
    for period in ("intervention", "last_3_months"):
        assert pooled.loc[period, "ci_low"] < 0.05 < pooled.loc[period, "ci_high"]
        assert pooled.loc[period, "p_value"] < 0.05
    per_jc = df[(df["estimand"] == "did") & df["jobcentre_id"].notna()]
    assert sorted(per_jc["jobcentre_id"].unique()) == [1, 2]
    means = df[(df["estimand"] == "mean_others") & df["jobcentre_id"].isna()].set_index("period")
    assert set(means.index) == {"before", "intervention", "last_3_months"}
    text = headline(df)
    assert "Effect (DiD)" in text and "last 3 months" in text


def test_share_did_table_suppresses_small_job_centres():
    cells, treated = planted_cells(0.0, n_persons=400)
    rows = share_did_table(cells, treated_ids=treated, min_persons=10_000)
    assert all(r.jobcentre_id is None for r in rows)


# --------------------------------------------------------------------------- lpm

from reference_refits import refit_replicate  # noqa: E402
from scipy import sparse  # noqa: E402

from bipdask.estimators.lpm import CONS, LinearResult, lpm  # noqa: E402
from bipdask.estimators.lpm import replicates as lm  # noqa: E402
from bipdask.inference import bootstrap as bs  # noqa: E402


def panel(seed: int, n: int = 800, persons: int = 80) -> pd.DataFrame:
    """Rows of persons (clusters) over weeks, with caseworkers nested in persons' teams."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    pid = rng.integers(0, persons, n) * 3 + 11
    df = pd.DataFrame({"person_id": pid, "week": rng.integers(0, 6, n), "x1": rng.normal(size=n),
                       "x2": rng.integers(0, 2, n), "team": pid % 5, "w": rng.integers(1, 4, n)})
    df["caseworker"] = pid // 2  # nested in persons
    df["y"] = (rng.random(n) < 0.25 + 0.1 * df["x2"] + 0.02 * df["week"]).astype(int)
    df["desk"] = rng.integers(0, 150, n)  # many small levels, not nested in persons
    return df


def dummies_ols(df: pd.DataFrame, covs: list[str], fes: list[str], weights: str | None = None):
    X = df[covs].astype(float)
    parts = [pd.get_dummies(df[f], prefix=f, drop_first=i > 0, dtype=float) for i, f in enumerate(fes)]
    X = pd.concat([X, *parts], axis=1) if fes else sm.add_constant(X).rename(columns={"const": CONS})
    w = None if weights is None else df[weights].to_numpy(float)
    return sm.WLS(df["y"].astype(float), X, weights=1.0 if w is None else w), w


@pytest.mark.parametrize("fes", [[], ["week"], ["week", "team"]])
def test_lpm_matches_statsmodels_on_random_data(fes):
    df = panel(1)
    covs = ["x1", "x2"]
    model, _ = dummies_ols(df, covs, fes)
    groups = pd.factorize(df["person_id"])[0]
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    res = lpm(df, y="y", covariates=covs, fixed_effects=fes or None, cluster="person_id", fe_dof="all")
    names = covs + ([] if fes else [CONS])
    np.testing.assert_allclose(res.params[names], ref.params[names], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.se[names], ref.bse[names], rtol=1e-8)
    hc = model.fit(cov_type="HC1")
    res_hc = lpm(df, y="y", covariates=covs, fixed_effects=fes or None)
    np.testing.assert_allclose(res_hc.se[names], hc.bse[names], rtol=1e-8)
    assert res.rsquared == pytest.approx(ref.rsquared if not fes else 1 - ref.ssr / ref.centered_tss, rel=1e-10)


@pytest.mark.parametrize("fes", [[], ["week"], ["week", "team"]])
def test_lpm_in_row_blocks_matches_statsmodels_and_the_one_block_fit(fes, monkeypatch):
    """The cross products summed over blocks of rows (large inputs) give the fit of the one
    product, to rounding, and still statsmodels' numbers."""
    from bipdask.estimators.lpm import model as lpm_model

    df = panel(1)
    covs = ["x1", "x2"]
    kw = dict(y="y", covariates=covs, fixed_effects=fes or None, cluster="person_id", fe_dof="all")
    whole = lpm(df, **kw)
    monkeypatch.setattr(lpm_model, "GRAM_ROWS", 7)
    blocked = lpm(df, **kw)
    ref = dummies_ols(df, covs, fes)[0].fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["person_id"])[0]})
    names = covs + ([] if fes else [CONS])
    np.testing.assert_allclose(blocked.params[names], whole.params[names], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(blocked.params[names], ref.params[names], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(blocked.se[names], ref.bse[names], rtol=1e-8)
    assert blocked.rsquared == pytest.approx(whole.rsquared, rel=1e-12)


def test_frequency_weights_equal_duplicated_rows():
    df = panel(2)
    dup = df.loc[df.index.repeat(df["w"])]
    a = lpm(df, y="y", covariates=["x1", "x2"], fixed_effects="week", cluster="person_id", weights="w")
    b = lpm(dup, y="y", covariates=["x1", "x2"], fixed_effects="week", cluster="person_id")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-9)
    assert a.sum_weights == len(dup) and a.rsquared == pytest.approx(b.rsquared, rel=1e-10)


@pytest.mark.parametrize("fes,absorption", [
    (None, "exact"), ("week", "exact"), ("desk", "exact"), ("caseworker", "nested"),
    (["caseworker", "week"], "once"), (["caseworker", "person_id"], "nested"),
])
def test_bootstrap_replicate_equals_refit_on_duplicated_clusters(fes, absorption):
    df = panel(3)
    covs = ["x1", "x2"]
    res = lpm(df, y="y", covariates=covs, fixed_effects=fes, cluster="person_id", bootstrap=4, seed=9)
    assert res.bootstrap_absorption == absorption
    if fes in ("week", "desk"):  # both forms of the per-(cluster, level) sums are exercised
        cells = lm._cell_sums(res._state, res.n_absorbed[0])
        assert sparse.issparse(cells) == (fes == "desk")
    ids = np.sort(df["person_id"].unique())
    W = bs.replicate_weights(ids, range(4), 9)
    fe_list = [fes] if isinstance(fes, str) else list(fes or [])
    for b in range(4):
        ref = refit_replicate(df, pd.Series(W[b], index=ids), y="y", covariates=covs, fixed_effects=fe_list,
                              cluster="person_id")
        got = res.bootstrap.replicates.iloc[b][ref.index]
        if absorption == "once":  # an approximation with non-nested factors: close, not exact
            np.testing.assert_allclose(got, ref, atol=0.05)
        else:
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("lead", [False, True])
def test_cluster_moments_equal_per_cluster_sums(shuffle, lead, monkeypatch):
    # Tiny blocks: clusters straddle block boundaries; shuffled codes take the sorting path.
    monkeypatch.setattr(lm, "_MOMENT_CHUNK_ENTRIES", 97)
    rng = np.random.default_rng(11)
    codes = np.sort(rng.integers(0, 40, 500))
    codes = rng.permutation(codes) if shuffle else codes
    Z, w = rng.normal(size=(500, 3)), rng.integers(1, 4, 500).astype(float)
    got = lm._cluster_moments(Z, w, codes, 42, lead=lead)
    iu = np.triu_indices(3)
    for g in (0, 7, 39, 41):  # 40 and 41 have no rows
        z, wg = Z[codes == g], w[codes == g]
        want = (z * wg[:, None]).T @ z
        want = np.concatenate([[wg.sum()], wg @ z, want[iu]]) if lead else want[iu]
        np.testing.assert_allclose(got[g], want, rtol=1e-12, atol=1e-12)


def test_bootstrap_is_seeded_and_summarised():
    df = panel(4)
    a = lpm(df, y="y", covariates=["x1", "x2"], cluster="person_id", bootstrap=200, seed=5)
    b = lpm(df, y="y", covariates=["x1", "x2"], cluster="person_id", bootstrap=200, seed=5, block=37)
    pd.testing.assert_frame_equal(a.bootstrap.replicates, b.bootstrap.replicates, check_exact=False, rtol=1e-12)
    assert a.se_boot["x2"] == pytest.approx(a.se["x2"], rel=0.25)
    tidy = a.tidy()
    assert list(tidy.columns) == ["term", "estimate", "se", "t", "p_value", "ci_low", "ci_high",
                                  "se_boot", "ci_low_boot", "ci_high_boot", "p_value_boot"]
    ci = a.conf_int(kind="bootstrap")
    assert (ci["lower"] < a.params).all() and (a.params < ci["upper"]).all()
    p = lpm(df, y="y", covariates=["x1"], cluster="person_id", bootstrap=50, seed=5, scheme="poisson")
    assert p.bootstrap.scheme == "poisson" and p.bootstrap.n_failed == 0


def test_collinear_covariate_is_omitted_and_missing_rows_dropped():
    df = panel(5)
    df["wk2"] = 2 * df["week"]  # constant within the week effects
    df.loc[df.index[:7], "x1"] = np.nan
    res = lpm(df, y="y", covariates=["x1", "wk2", "x2"], fixed_effects="week", cluster="person_id",
              bootstrap=20, seed=1)
    assert res.omitted == ("wk2",) and np.isnan(res.params["wk2"]) and np.isnan(res.se["wk2"])
    assert res.n_dropped == 7 and res.nobs == len(df) - 7
    assert res.bootstrap.n_failed == 0 and np.isfinite(res.tidy().set_index("term").loc["x2", "se_boot"])


def test_fixed_effect_values_recover_planted_effects():
    rng = np.random.default_rng(0)
    lev = rng.integers(0, 20, 5000)
    alpha = np.linspace(-1, 1, 20)
    x = rng.normal(size=5000)
    df = pd.DataFrame({"lev": lev, "x": x, "y": alpha[lev] + 0.5 * x + rng.normal(0, 0.01, 5000)})
    res = lpm(df, y="y", covariates=["x"], fixed_effects="lev")
    np.testing.assert_allclose(res.fixed_effect_values("lev").to_numpy(), alpha, atol=0.01)
    with pytest.raises(KeyError):
        res.fixed_effect_values("x")


def test_bad_input_is_a_one_line_input_error():
    df = panel(6)
    with pytest.raises(InputError, match="lpm.nope: column missing"):
        lpm(df, y="y", covariates=["nope"])
    with pytest.raises(InputError, match="frequency weights"):
        lpm(df.assign(w=0), y="y", covariates=["x1"], weights="w")
    with pytest.raises(ValueError, match="seed"):
        lpm(df, y="y", covariates=["x1"], bootstrap=10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.integers(0, 10_000))
def test_lpm_invariant_to_row_order(seed, perm):
    df = panel(seed, n=200, persons=25)
    shuffled = df.iloc[np.random.default_rng(perm).permutation(len(df))]
    a = lpm(df, y="y", covariates=["x1", "x2"], fixed_effects="week", cluster="person_id", bootstrap=20, seed=3)
    b = lpm(shuffled, y="y", covariates=["x1", "x2"], fixed_effects="week", cluster="person_id", bootstrap=20, seed=3)
    assert isinstance(a, LinearResult)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(a.bootstrap.replicates, b.bootstrap.replicates, rtol=1e-8, atol=1e-12)



# --- the pairs bootstrap from a kept state (bipdask.estimators.lpm.replicates) -----------------------

def _pairs_data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"p": rng.integers(0, 700, n), "k": rng.integers(0, 30, n),
                      "a": rng.integers(0, 2, n).astype(float), "b": rng.standard_normal(n),
                      "c": rng.integers(-3, 400, n).astype(float)})
    d["y"] = (rng.random(n) < 0.3 + 0.1 * d["a"]).astype(float)
    return d


@pytest.mark.parametrize("fe, cells", [("k", 20_000_000), ("k", 10), (None, 20_000_000)])
def test_pairs_state_gives_the_fits_replicates_bit_for_bit(fe, cells):
    """A window of replicates from the kept state (pickled, no rows, no refit) equals the fit's own."""
    import pickle

    from bipdask.estimators.lpm.replicates import pairs_replicates

    d = _pairs_data()
    kw = dict(y="y", covariates=["a", "b", "c"], fixed_effects=fe, cluster="p", max_cell_entries=cells)
    fit = lpm(d, bootstrap=1200, seed=3, replicate_window=range(500, 1000), **kw)
    kept = lpm(d, keep_pairs_state=True, **kw).pairs_state
    assert kept.absorption == fit.bootstrap_absorption
    if fe is None:  # the 0/1 and whole-number columns are kept as integers, the others as they are
        assert [c.dtype for c in kept.raw] == [np.int8, np.float64, np.int16, np.int8] and kept.Z is None
        # each column its own array: a view would keep the fit's whole [X, y] matrix alive
        assert all(c.base is None and c.nbytes == c.size * c.itemsize for c in kept.raw)
    kept = pickle.loads(pickle.dumps(kept))
    got = pairs_replicates(kept, 1200, 3, "multinomial", range(500, 1000))
    pd.testing.assert_frame_equal(got, fit.bootstrap.replicates, check_exact=True)


def test_moment_columns_are_those_of_the_whole_matrix():
    from bipdask.estimators.lpm.replicates import _cluster_moments

    rng = np.random.default_rng(1)
    Z, w = rng.standard_normal((5000, 7)), rng.random(5000) + 0.5
    codes = np.sort(rng.integers(0, 900, 5000))
    whole = _cluster_moments(Z, w, codes, 900, lead=False)
    cols = np.array([0, 5, 6, 27])
    np.testing.assert_array_equal(_cluster_moments(Z, w, codes, 900, lead=False, columns=cols), whole[:, cols])


@pytest.mark.parametrize("fe", ["k", None])
def test_bounded_moments_give_the_same_replicates_to_1e_12(fe):
    """Formed a few columns at a time (max_moment_bytes), the replicates agree with the whole
    product to 1e-12: a column group's product can differ from the whole one in the last bits."""
    d = _pairs_data(seed=2)
    kw = dict(y="y", covariates=["a", "b", "c"], fixed_effects=fe, cluster="p", bootstrap=700, seed=5,
              max_cell_entries=10)
    whole = lpm(d, **kw).bootstrap.replicates.to_numpy()
    bounded = lpm(d, max_moment_bytes=8 * 700 * 3, **kw).bootstrap.replicates.to_numpy()
    np.testing.assert_allclose(bounded, whole, rtol=1e-12, atol=1e-15)
    again = lpm(d, max_moment_bytes=8 * 700 * 3, replicate_window=range(200, 650), **kw).bootstrap.replicates
    np.testing.assert_array_equal(again.to_numpy(), bounded[200:650])  # a window of the bounded run, bit for bit
