"""Table 4 / Table A machinery: expected durations by group and the DiD, with bootstrap."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import gamma

from bipdask.analyses.hir.durations import did_replicates
from bipdask.estimators.duration_did import (
    GROUP_NAMES,
    QUANTITIES,
    duration_did,
    duration_did_by_jobcentre,
)
from bipdask.estimators.weibull import restricted_mean_from_params
from bipdask.inference import bootstrap as bs
from bipdask.inference.pairs import replicate_summary


def _spells(n=30000, seed=0, delta=-0.3):
    rng = np.random.default_rng(seed)
    D = (rng.random(n) < 0.3).astype(int)
    E = rng.integers(0, 2, n)
    jc = np.where(D == 1, rng.integers(1, 4, n), 99)
    xb = -3.0 + 0.2 * D + 0.1 * E + delta * D * E
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8)
    return pd.DataFrame({"duration": np.minimum(t, 200), "event": (t <= 200).astype(int), "D": D, "E": E,
                         "person_id": rng.integers(0, n // 2, n), "jobcentre_id": jc})


def test_quantities_are_the_fits_expected_weeks_and_the_bootstrap_follows_the_rule():
    """Exact checks on one fit. Whether the intervals cover a planted DiD is a property over many
    draws: ``benchmarks/coverage.py`` (section ``duration_did``)."""
    res = duration_did(_spells(n=8000), bootstrap=60, seed=3)
    tab = res.table.set_index("quantity")
    b = res.fit.params
    p = np.exp(b["ln_p"])
    for name, (d, e) in zip(GROUP_NAMES, [(1, 0), (1, 1), (0, 0), (0, 1)]):
        xb = b["_cons"] + b["D"] * d + b["E"] * e + b["DE"] * d * e
        assert tab.loc[name, "estimate"] == pytest.approx(gamma(1 + 1 / p) * np.exp(-xb / p), rel=1e-12)
    g = tab["estimate"]
    did = (g["participating_intervention"] - g["participating_before"]) - (g["other_intervention"] - g["other_before"])
    assert tab.loc["did_weeks", "estimate"] == pytest.approx(did, rel=1e-12)
    assert tab.loc["did_pct", "estimate"] == pytest.approx(100 * did / g["participating_before"], rel=1e-12)
    want = replicate_summary(did_replicates(res), tab["estimate"].to_numpy())
    np.testing.assert_allclose(tab["se_boot"], want["se"], rtol=1e-12)
    np.testing.assert_allclose(tab[["ci_low", "ci_high"]], want[["ci_low", "ci_high"]], rtol=1e-12)
    np.testing.assert_allclose(tab["replicate_failure_share"], want["failure_share"])
    assert tab.loc["did_weeks", "p_value"] == pytest.approx(want["p_value"].iloc[4], rel=1e-12)
    assert tab.loc[GROUP_NAMES, "p_value"].isna().all()


def test_display_caps_at_52_weeks():
    """Participating centres' gaps last about 100 weeks (above the cap), the others' about 45."""
    rng = np.random.default_rng(1)
    n = 6000
    D, E = rng.integers(0, 2, n), rng.integers(0, 2, n)
    xb = -3.0 - 0.6 * D + 0.05 * E
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8)
    spells = pd.DataFrame({"duration": np.minimum(t, 400), "event": (t <= 400).astype(int), "D": D, "E": E,
                           "person_id": np.arange(n)})
    tab = duration_did(spells, bootstrap=0).table.set_index("quantity")
    est = tab.loc[GROUP_NAMES, "estimate"]
    assert (est.loc[["participating_before", "participating_intervention"]] > 52).all()
    assert (est.loc[["other_before", "other_intervention"]] < 52).all()
    for name in GROUP_NAMES:
        want = ">52" if est[name] > 52 else f"{est[name]:.0f}"
        assert tab.loc[name, "display"] == want
    for name in ("did_weeks", "did_pct"):
        assert tab.loc[name, "display"] == (">0" if tab.loc[name, "estimate"] > 0 else "<0")
    below = duration_did(spells[spells["D"] == 0].assign(D=lambda d: (d["person_id"] % 2).astype(int)),
                         bootstrap=0).table.set_index("quantity")  # no group above 52: numbers shown
    assert (below.loc[GROUP_NAMES, "estimate"] < 52).all()
    assert below.loc["did_weeks", "display"] == f"{below.loc['did_weeks', 'estimate']:.0f}"


def test_no_successful_replicate_publishes_no_p_value(monkeypatch):
    """Every resample draws the D=1, E=1 cell empty: no replicate can be fitted. The p-value was
    1/(0 + 1) = 1.0 from nothing; it is missing, with SE and CI, and the failure share is 1."""
    spells = _spells(n=3000)
    cell = ((spells["D"] == 1) & (spells["E"] == 1)).to_numpy()
    spells = spells.assign(person_id=np.arange(len(spells)))

    def weights(cluster_ids, replicates, seed, scheme="multinomial", *, out=None):
        w = np.ones((len(replicates), len(cluster_ids)))
        w[:, cell] = 0.0  # person ids are the row numbers: sorted ids in row order
        return w

    monkeypatch.setattr(bs, "replicate_weights", weights)
    tab = duration_did(spells, bootstrap=20, seed=1).table.set_index("quantity")
    assert tab[["se_boot", "ci_low", "ci_high", "p_value"]].isna().all().all()
    assert (tab["replicate_failure_share"] == 1.0).all() and tab["estimate"].notna().all()


def test_by_jobcentre_one_row_set_per_participating_centre():
    tab = duration_did_by_jobcentre(_spells(n=8000), bootstrap=50, seed=1)
    assert tab["jobcentre_id"].isna().sum() == len(QUANTITIES)
    assert sorted(tab["jobcentre_id"].dropna().unique()) == [1, 2, 3]
    assert tab["se_boot"].notna().all()


# ---------------------------------------------------------------- restricted mean and hazard ratio

NAMES = pd.Index(["D", "E", "DE", "_cons", "ln_p"])


def _grouped(n=40000, seed=5, delta=-0.3, p=0.75, window=56):
    """Whole-week spells of a Weibull PH process: an event in week ⌈T⌉, censored after ``window``
    whole weeks (the fit's ``weeks survived`` convention)."""
    rng = np.random.default_rng(seed)
    D, E = (rng.random(n) < 0.4).astype(int), rng.integers(0, 2, n)
    xb = -2.6 - 0.1 * D - 0.05 * E + delta * D * E
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / p)
    event = (t <= window).astype(int)
    return pd.DataFrame({"t": np.where(event == 1, np.ceil(t), window), "event": event, "D": D, "E": E,
                         "person_id": np.arange(n)})


@pytest.mark.parametrize("p", [0.6, 0.75, 1.0, 1.4])
def test_restricted_mean_is_the_area_under_the_whole_week_survival_step(p):
    from scipy import integrate

    theta = np.array([[0.2, -0.1, -0.3, -3.0, np.log(p)]])
    profile = pd.DataFrame({"D": [1, 0], "E": [1, 0], "DE": [1, 0]})
    got = restricted_mean_from_params(theta, NAMES, profile, 52)[0]
    for row, eta in zip(got, (-3.2, -3.0)):
        def surv(t, eta=eta):
            return np.exp(-np.exp(eta) * np.floor(t) ** p)

        area = sum(integrate.quad(surv, k, k + 1)[0] for k in range(52))
        assert row == pytest.approx(area, rel=1e-10)


@pytest.mark.parametrize("p", [0.6, 0.75, 0.9, 1.2])
def test_whole_week_mean_is_the_expected_duration_plus_about_half_a_week(p):
    """E[⌈T⌉] = Σ_k S(k) against E[T] = ∫ S(t) dt (numerically integrated), for expected
    durations of 20–60 weeks: the gap is ½ week to within 0.05."""
    from scipy import integrate, special

    for mean in (20.0, 40.0, 60.0):
        eta = -p * np.log(mean / special.gamma(1 + 1 / p))
        e_t = integrate.quad(lambda t, eta=eta: np.exp(-np.exp(eta) * t ** p), 0, np.inf, limit=500)[0]
        assert e_t == pytest.approx(mean, rel=1e-6)  # the expected-duration formula
        theta = np.array([[0.0, 0.0, 0.0, eta, np.log(p)]])
        whole = restricted_mean_from_params(theta, NAMES, pd.DataFrame({"D": [0], "E": [0], "DE": [0]}), 20000)
        assert whole[0, 0] - e_t == pytest.approx(0.5, abs=0.05)


def test_restricted_mean_rows_are_the_fits_whole_week_survival_sums_and_the_replicates_percentiles():
    """Exact checks on one fit of whole-week spells: each 52-week restricted mean is Σ_{k<52} S(k)
    of the fitted Weibull (S(k) = exp(−exp(x'b)·k^p), computed here with numpy), the DiD their
    difference in differences, and its interval the 2.5 and 97.5 % points (numpy's linear
    quantile) of the same DiD recomputed from each bootstrap replicate's parameters. Whether the
    intervals cover a planted restricted-mean DiD and hazard ratio is a property over many draws:
    ``benchmarks/coverage.py`` (section ``duration_did_whole_weeks``)."""
    res = duration_did(_grouped(n=8000), duration="t", interval=True, bootstrap=60, seed=2)
    tab = res.table.set_index("quantity")
    weeks = np.arange(52)

    def rmst_did(b):
        rm = [np.sum(np.exp(-np.exp(b["_cons"] + b["D"] * d + b["E"] * e + b["DE"] * d * e)
                            * weeks ** np.exp(b["ln_p"])))
              for d, e in [(1, 0), (1, 1), (0, 0), (0, 1)]]
        return rm, (rm[1] - rm[0]) - (rm[3] - rm[2])

    rm, did = rmst_did(res.fit.params)
    for name, want in zip(GROUP_NAMES, rm):
        assert tab.loc[f"rmst52_{name}", "estimate"] == pytest.approx(want, rel=1e-10)
    assert tab.loc["rmst52_did_weeks", "estimate"] == pytest.approx(did, rel=1e-10)
    reps = res.fit.bootstrap.replicates
    assert np.isfinite(reps.to_numpy()).all()
    did_reps = np.array([rmst_did(row)[1] for _, row in reps.iterrows()])
    np.testing.assert_allclose(tab.loc["rmst52_did_weeks", ["ci_low", "ci_high"]].to_numpy(dtype=float),
                               np.quantile(did_reps, [0.025, 0.975]), rtol=1e-10)
    assert tab.loc["rmst52_did_weeks", "se_boot"] == pytest.approx(np.std(did_reps, ddof=1), rel=1e-10)


def test_hazard_ratio_matches_lifelines_weibull_on_exact_times():
    """Where the models match (exact continuous times), exp(δ) equals lifelines' Weibull fit's:
    its AFT coefficient β_DE and ρ give the PH coefficient −β_DE·ρ."""
    lifelines = pytest.importorskip("lifelines")
    df = _spells(n=8000, seed=9)
    res = duration_did(df, bootstrap=100, seed=1)
    aft = lifelines.WeibullAFTFitter().fit(df.assign(DE=df.D * df.E)[["duration", "event", "D", "E", "DE"]],
                                           duration_col="duration", event_col="event")
    rho = np.exp(aft.params_.loc[("rho_", "Intercept")])
    hr_ref = np.exp(-aft.params_.loc[("lambda_", "DE")] * rho)
    tab = res.table.set_index("quantity")
    assert tab.loc["hazard_ratio", "estimate"] == pytest.approx(hr_ref, rel=1e-4)
    assert tab.loc["hazard_ratio", "estimate"] == pytest.approx(np.exp(res.fit.params["DE"]), rel=1e-12)
    # the interval: 2.5 and 97.5 % points (numpy's linear quantile) of the replicates' exp(δ*)
    # (coverage of the planted exp(−0.3) over many draws: benchmarks/coverage.py, duration_did_whole_weeks)
    hr_reps = np.exp(res.fit.bootstrap.replicates["DE"].to_numpy())
    np.testing.assert_allclose(tab.loc["hazard_ratio", ["ci_low", "ci_high"]].to_numpy(dtype=float),
                               np.quantile(hr_reps, [0.025, 0.975]), rtol=1e-12)
    # the bootstrap p-value of H0: exp(δ) = 1 is that of δ = 0 (log scale)
    d = res.fit.bootstrap.replicates["DE"].to_numpy()
    far = np.abs(d - res.fit.params["DE"]) >= abs(res.fit.params["DE"])
    assert tab.loc["hazard_ratio", "p_value"] == pytest.approx((1 + far.sum()) / (np.isfinite(d).sum() + 1))


@given(st.lists(st.floats(-3, 3), min_size=4, max_size=4), st.floats(-1.5, 1.5))
def test_group_weeks_are_expected_from_params_on_the_four_groups(b, ln_p):
    from bipdask.estimators.duration_did import GROUPS, _group_weeks
    from bipdask.estimators.weibull import expected_from_params

    theta = np.array([*b, ln_p])
    expected = expected_from_params(theta[None, :], pd.Index(["D", "E", "DE", "_cons", "ln_p"]), GROUPS)[0]
    np.testing.assert_allclose(_group_weeks(theta)[0], expected, rtol=1e-14, atol=0)
