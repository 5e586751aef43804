"""Cross-checks that prove the R reference fixtures in ``tests/fixtures/r/`` are consistent.

The fixtures (made by ``make_survival.R`` and ``make_linear.R``, see ``tests/fixtures/README.md``)
are the oracle for bipdask's hazard and linear estimators. CI has no R,
so these tests re-derive as much of them as possible in Python *without* bipdask estimators:

- internal consistency: SE = sqrt(diag(vcov)); the proportional-hazards (Stata ``streg``)
  metric is the delta-method image of R's AFT metric; every cluster small-sample factor;
- statsmodels OLS reproduces lm + sandwich (HC0/HC1/CR0/CR1, with and without dummies);
- lifelines reproduces survreg (Weibull) and coxph (Efron) point estimates, model-based SEs
  and log-likelihoods; robust Cox SEs agree only when there are no tied event times;
- a plain NumPy partial likelihood reproduces coxph's Efron *and* Breslow log-likelihoods,
  scores and information, with weights and (start, stop] data;
- Greenwood's formula reproduces survfit's Kaplan-Meier tables.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import (
    CoxPHFitter,
    CoxTimeVaryingFitter,
    KaplanMeierFitter,
    WeibullAFTFitter,
)
from r_fixtures import R_FIXTURES as FIXTURES

pytestmark = pytest.mark.against_r

Z975 = 1.959963984540054


@lru_cache(maxsize=None)
def fixture(name: str) -> pd.DataFrame:
    """One fixture CSV; empty strings stay empty strings (not NaN) in the text columns."""
    return pd.read_csv(FIXTURES / name, keep_default_na=False, na_values=["NA"])


@lru_cache(maxsize=None)
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "data" / name)


def calls(family: str) -> pd.DataFrame:
    table = "linear_calls.csv" if family == "lm" else "survival_calls.csv"
    c = fixture(table)
    return c if family == "lm" else c[c["family"] == family]


def coefs(table: str, model: str, metric: str, vcov_type: str) -> pd.DataFrame:
    c = fixture(table)
    sel = c[(c["model"] == model) & (c["metric"] == metric) & (c["vcov_type"] == vcov_type)]
    return sel.set_index("term")


def vcov(table: str, model: str, metric: str, vcov_type: str) -> pd.DataFrame:
    v = fixture(table)
    sel = v[(v["model"] == model) & (v["metric"] == metric) & (v["vcov_type"] == vcov_type)]
    order = list(dict.fromkeys(sel["row"]))
    return sel.pivot(index="row", columns="col", values="value").loc[order, order]


def stat(table: str, model: str, quantity: str) -> float:
    s = fixture(table)
    return float(s[(s["model"] == model) & (s["quantity"] == quantity)]["value"].iloc[0])


SURVREG = list(calls("survreg_weibull")["model"])
COXPH = list(calls("coxph")["model"])
LM = list(calls("lm")["model"])


def call_row(family: str, model: str) -> pd.Series:
    c = calls(family)
    return c[c["model"] == model].iloc[0]


# --------------------------------------------------------------------------- consistency


def test_fixture_files_exist_and_are_small() -> None:
    files = [p for p in FIXTURES.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 2_000_000
    referenced = set(fixture("survival_calls.csv")["data"]) | set(fixture("linear_calls.csv")["data"])
    assert referenced <= {p.name for p in (FIXTURES / "data").iterdir()}
    versions = fixture("versions.csv").set_index("quantity")["value"]
    assert versions["survival"] == "3.5.3" and versions["sandwich"] == "3.0.2"


def test_exported_rows_follow_their_documented_definitions() -> None:
    lung = dataset("lung.csv")
    assert len(lung) == 226 and lung["id"].is_unique
    assert (lung["time_wk"] == np.ceil(lung["time"] / 7)).all()
    assert (lung["D"] == (lung["sex"] == 2)).all() and (lung["E"] == (lung["ph_ecog"] >= 1)).all()
    assert (lung["DxE"] == lung["D"] * lung["E"]).all()
    assert lung["time_untied"].is_unique
    # weekly times are what makes the HIR data hard: most events share a time with another
    events = lung.loc[lung["status"] == 1, "time_wk"]
    assert events.duplicated(keep=False).mean() > 0.8
    colon = dataset("colon.csv")
    assert colon.groupby("id").size().eq(2).all()
    heart = dataset("heart.csv")
    assert (heart["start"] < heart["stop"]).all()
    assert heart.groupby("id")["transplant"].nunique().max() == 2


@pytest.mark.parametrize("table", ["survival", "linear"])
def test_se_column_is_sqrt_of_vcov_diagonal(table: str) -> None:
    c = fixture(f"{table}_coef.csv")
    v = fixture(f"{table}_vcov.csv")
    diag = v[v["row"] == v["col"]].rename(columns={"row": "term"})
    m = c.merge(diag, on=["model", "metric", "vcov_type", "term"], validate="one_to_one")
    assert len(m) == len(c)
    np.testing.assert_allclose(m["se"], np.sqrt(m["value"]), rtol=1e-12)


@pytest.mark.parametrize("model", SURVREG)
def test_ph_metric_is_delta_method_image_of_aft(model: str) -> None:
    for vt in fixture("survival_coef.csv").query("model == @model")["vcov_type"].unique():
        aft = coefs("survival_coef.csv", model, "aft", vt)
        ph = coefs("survival_coef.csv", model, "ph", vt)
        theta = aft["estimate"].to_numpy()
        b, s = theta[:-1], theta[-1]
        np.testing.assert_allclose(ph["estimate"].to_numpy(), np.r_[-b * math.exp(-s), -s], rtol=1e-12)
        assert list(ph.index) == ["_cons", *aft.index[1:-1], "ln_p"]
        jac = np.zeros((len(theta), len(theta)))
        jac[np.arange(len(b)), np.arange(len(b))] = -math.exp(-s)
        jac[: len(b), -1] = b * math.exp(-s)
        jac[-1, -1] = -1.0
        v_ph = jac @ vcov("survival_vcov.csv", model, "aft", vt).to_numpy() @ jac.T
        np.testing.assert_allclose(v_ph, vcov("survival_vcov.csv", model, "ph", vt).to_numpy(),
                                   rtol=1e-10, atol=1e-15)
        assert math.isclose(stat("survival_stats.csv", model, "p"), math.exp(-s), rel_tol=1e-12)


@pytest.mark.parametrize("table,models", [("survival", SURVREG + COXPH), ("linear", LM)])
def test_stata_style_and_r_cluster_factors(table: str, models: list[str]) -> None:
    """robust_stata = robust * G/(G-1); every CR1 variant = CR0 * its documented factor."""
    c = fixture(f"{table}_coef.csv")
    checked = 0
    for model in models:
        types = set(c[c["model"] == model]["vcov_type"])
        if table == "survival" and "robust" in types:
            row = call_row("coxph" if model in COXPH else "survreg_weibull", model)
            data = dataset(row["data"])
            g = data[row["cluster_col"]].nunique() if row["cluster_col"] else len(data)
            r = coefs("survival_coef.csv", model, "cox" if model in COXPH else "aft", "robust")
            rs = coefs("survival_coef.csv", model, "cox" if model in COXPH else "aft", "robust_stata")
            np.testing.assert_allclose(rs["se"], r["se"] * math.sqrt(g / (g - 1)), rtol=1e-13)
            checked += 1
        for vt in sorted(t for t in types if t.startswith("CL_") and t.endswith("_CR0")):
            cl = vt[3:-4]
            cr0 = coefs("linear_coef.csv", model, "ols", vt)["se"]
            for variant in ("CR1", "CR1_nested"):
                if f"CL_{cl}_{variant}" in types:
                    f = stat("linear_stats.csv", model, f"factor_CL_{cl}_{variant}")
                    se = coefs("linear_coef.csv", model, "ols", f"CL_{cl}_{variant}")["se"]
                    np.testing.assert_allclose(se, cr0 * math.sqrt(f), rtol=1e-12)
                    checked += 1
            default = coefs("linear_coef.csv", model, "ols", f"CL_{cl}_R_default")["se"]
            np.testing.assert_allclose(default, coefs("linear_coef.csv", model, "ols", f"CL_{cl}_CR1")["se"],
                                       rtol=1e-14)
    assert checked > 0


# --------------------------------------------------------------------------- linear: statsmodels


def _design(model: str, demean: bool = False) -> tuple[pd.Series, pd.DataFrame, pd.Series, pd.DataFrame]:
    """Regressors as lm saw them: intercept + covariates (+ FE dummies), or FE swept out.

    ``demean=True`` sweeps the absorbed effect out of y and X (Frisch-Waugh-Lovell): the same
    slopes, residuals and sandwich for the non-FE block, without a 5000 x 500 dummy matrix.
    """
    row = call_row("lm", model)
    data = dataset(row["data"])
    covs = row["covariates"].split()
    y = data[row["outcome"]].astype(float)
    if row["absorb"] and demean:
        g = data[row["absorb"]]
        X = data[covs].astype(float)
        return row, X - X.groupby(g).transform("mean"), y - y.groupby(g).transform("mean"), data
    X = sm.add_constant(data[covs].astype(float), has_constant="add")
    if row["absorb"]:
        dummies = pd.get_dummies(data[row["absorb"]], prefix="fe", drop_first=True, dtype=float)
        X = pd.concat([X, dummies], axis=1)
    return row, X, y, data


LM_PLAIN = [m for m in LM if not call_row("lm", m)["absorb"]]
LM_FE = [m for m in LM if call_row("lm", m)["absorb"]]


def _check_ols(model: str, vt: str, params: pd.Series, bse: pd.Series) -> None:
    ref = coefs("linear_coef.csv", model, "ols", vt)
    names = ["const" if t == "(Intercept)" else t for t in ref.index]
    np.testing.assert_allclose(params[names], ref["estimate"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bse[names], ref["se"], rtol=1e-6)


@pytest.mark.parametrize("model", LM_PLAIN)
def test_statsmodels_ols_reproduces_lm_sandwich(model: str) -> None:
    """statsmodels applies its own small-sample factors: they are R's (HC1, CR1 = Stata CR1)."""
    row, X, y, data = _design(model)
    ols = sm.OLS(y, X)
    for vt, kw in [("const", {}), ("HC0", {"cov_type": "HC0"}), ("HC1", {"cov_type": "HC1"})]:
        fit = ols.fit(**kw)
        _check_ols(model, vt, fit.params, fit.bse)
    for cl in row["clusters"].split():
        groups = pd.factorize(data[cl])[0]
        fit = ols.fit(cov_type="cluster", cov_kwds={"groups": groups})
        _check_ols(model, f"CL_{cl}_CR1", fit.params, fit.bse)
        fit = ols.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
        _check_ols(model, f"CL_{cl}_CR0", fit.params, fit.bse)


@pytest.mark.parametrize("model", LM_FE)
def test_within_ols_with_documented_factors_reproduces_lm_with_dummies(model: str) -> None:
    """Absorbed FE: statsmodels on demeaned data (HC0, CR0) times the README's factors.

    K (for HC1 and CR1) counts the intercept, covariates and n_levels - 1 dummies, as lm and
    Stata areg do; CR1_nested counts only the intercept and covariates (xtreg,fe / reghdfe
    when the FE are nested in the clusters).
    """
    row, Xd, yd, data = _design(model, demean=True)
    n, k_nonfe = len(data), Xd.shape[1] + 1
    k_full = k_nonfe + data[row["absorb"]].nunique() - 1
    ols = sm.OLS(yd, Xd)
    fit = ols.fit()
    _check_ols(model, "const", fit.params, fit.bse * math.sqrt((n - Xd.shape[1]) / (n - k_full)))
    fit = ols.fit(cov_type="HC0")
    _check_ols(model, "HC0", fit.params, fit.bse)
    _check_ols(model, "HC1", fit.params, fit.bse * math.sqrt(n / (n - k_full)))
    for cl in row["clusters"].split():
        groups = pd.factorize(data[cl])[0]
        g = groups.max() + 1
        fit = ols.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
        _check_ols(model, f"CL_{cl}_CR0", fit.params, fit.bse)
        cr1 = g / (g - 1) * (n - 1) / (n - k_full)
        _check_ols(model, f"CL_{cl}_CR1", fit.params, fit.bse * math.sqrt(cr1))
        if cl == row["absorb"]:
            nested = g / (g - 1) * (n - 1) / (n - k_nonfe)
            _check_ols(model, f"CL_{cl}_CR1_nested", fit.params, fit.bse * math.sqrt(nested))


def test_lm_dummies_and_within_fits_agree_on_small_fe() -> None:
    """The one FE model small enough for dummies: statsmodels with dummies == lm, CR1 included."""
    row, X, y, data = _design("lpm_lung_fe_inst")
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(data["inst"])[0]})
    _check_ols("lpm_lung_fe_inst", "CL_inst_CR1", fit.params, fit.bse)


@pytest.mark.parametrize("model", LM)
def test_r_squared_with_and_without_absorbed_effects(model: str) -> None:
    row, Xd, yd, data = _design(model, demean=True)
    y = data[row["outcome"]].astype(float)
    n = len(data)
    fit = sm.OLS(yd, Xd).fit()
    k = int(stat("linear_stats.csv", model, "K"))
    if row["absorb"]:
        assert k == Xd.shape[1] + data[row["absorb"]].nunique()
        assert int(stat("linear_stats.csv", model, "n_absorbed")) == data[row["absorb"]].nunique()
        within = 1 - fit.ssr / float((yd**2).sum())
        assert math.isclose(within, stat("linear_stats.csv", model, "r2_within"), rel_tol=1e-9)
    else:
        assert k == Xd.shape[1]
    tss = float(((y - y.mean()) ** 2).sum())
    assert math.isclose(1 - fit.ssr / tss, stat("linear_stats.csv", model, "r2"), rel_tol=1e-9)
    adj = 1 - (fit.ssr / (n - k)) / (tss / (n - 1))
    assert math.isclose(adj, stat("linear_stats.csv", model, "adj_r2"), rel_tol=1e-9)


def test_two_way_cluster_r_default_equals_statsmodels_two_groups() -> None:
    """Two-way (firm, year): (N-1)/(N-K) [G1/(G1-1) V1 + G2/(G2-1) V2 - G12/(G12-1) V12] in both."""
    _, X, y, data = _design("ols_petersen")
    groups = np.column_stack([pd.factorize(data["firm"])[0], pd.factorize(data["year"])[0]])
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups})
    _check_ols("ols_petersen", "CL_firm_year_R_default", fit.params, fit.bse)


# --------------------------------------------------------------------------- survreg: lifelines


def _weibull_lifelines(row: pd.Series, robust: bool) -> tuple[np.ndarray, np.ndarray, float]:
    data = dataset(row["data"])
    covs = row["covariates"].split()
    cols = list(dict.fromkeys([row["duration_col"], row["event_col"], *covs, row["weights_col"]] ))
    cols = [c for c in cols if c]
    fitter = WeibullAFTFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lifelines' default (SLSQP, ftol=1e-10) leaves up to 5e-5 in the coefficients.
        fitter.fit(data[cols], row["duration_col"], row["event_col"],
                   weights_col=row["weights_col"] or None, robust=robust,
                   fit_options={"ftol": 1e-14})
    lam, rho = fitter.params_["lambda_"], fitter.params_["rho_"]
    se_lam, se_rho = fitter.standard_errors_["lambda_"], fitter.standard_errors_["rho_"]
    est = np.r_[lam["Intercept"], lam[covs].to_numpy(), -rho["Intercept"]]
    se = np.r_[se_lam["Intercept"], se_lam[covs].to_numpy(), se_rho["Intercept"]]
    return est, se, float(fitter.log_likelihood_)


@pytest.mark.parametrize("model", SURVREG)
def test_lifelines_weibull_aft_reproduces_survreg(model: str) -> None:
    row = call_row("survreg_weibull", model)
    est, se, loglik = _weibull_lifelines(row, robust=False)
    ref = coefs("survival_coef.csv", model, "aft", "model")
    np.testing.assert_allclose(est, ref["estimate"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(se, ref["se"], rtol=1e-5)
    assert math.isclose(loglik, stat("survival_stats.csv", model, "loglik"), rel_tol=1e-10)
    ph = coefs("survival_coef.csv", model, "ph", "model")
    np.testing.assert_allclose(np.r_[-est[:-1] * math.exp(-est[-1]), -est[-1]], ph["estimate"],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", [m for m in SURVREG if not call_row("survreg_weibull", m)["cluster_col"]
                                   and "robust" in set(fixture("survival_coef.csv").query("model == @m")["vcov_type"])])
def test_lifelines_weibull_robust_matches_unclustered_survreg(model: str) -> None:
    """lifelines' AFT robust=True has no cluster option; unclustered it matches survreg."""
    est, se, _ = _weibull_lifelines(call_row("survreg_weibull", model), robust=True)
    np.testing.assert_allclose(se, coefs("survival_coef.csv", model, "aft", "robust")["se"], rtol=1e-5)


# --------------------------------------------------------------------------- coxph: lifelines


# lifelines' default Newton stop (damped steps, precision 1e-7) leaves up to 1e-5 in the
# coefficients; full steps to machine precision agree with coxph to ~1e-15.
COX_TIGHT = {"precision": 1e-14, "r_precision": 1e-16, "step_size": 1.0}


def _cox_lifelines(row: pd.Series, robust: bool) -> CoxPHFitter | CoxTimeVaryingFitter:
    data = dataset(row["data"])
    covs = row["covariates"].split()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if row["entry_col"]:
            cols = ["id", row["entry_col"], row["duration_col"], row["event_col"], *covs]
            cols += [row["weights_col"]] if row["weights_col"] else []
            return CoxTimeVaryingFitter().fit(
                data[cols], id_col="id", event_col=row["event_col"], start_col=row["entry_col"],
                stop_col=row["duration_col"], weights_col=row["weights_col"] or None,
                fit_options=COX_TIGHT)
        cluster = row["cluster_col"] if robust else ""
        cols = [c for c in dict.fromkeys([row["duration_col"], row["event_col"], *covs,
                                          row["weights_col"], cluster]) if c]
        return CoxPHFitter().fit(data[cols], row["duration_col"], row["event_col"],
                                 weights_col=row["weights_col"] or None, cluster_col=cluster or None,
                                 robust=robust, fit_options=COX_TIGHT)


EFRON = [m for m in COXPH if call_row("coxph", m)["ties"] == "efron"]


@pytest.mark.parametrize("model", EFRON)
def test_lifelines_cox_efron_reproduces_coxph(model: str) -> None:
    row = call_row("coxph", model)
    fitter = _cox_lifelines(row, robust=False)
    covs = row["covariates"].split()
    ref = coefs("survival_coef.csv", model, "cox", "model")
    np.testing.assert_allclose(fitter.params_[covs], ref["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fitter.standard_errors_[covs], ref["se"], rtol=1e-6)
    assert math.isclose(fitter.log_likelihood_, stat("survival_stats.csv", model, "loglik"), rel_tol=1e-10)


ROBUST_EFRON = [m for m in EFRON if not call_row("coxph", m)["entry_col"]
                and "robust" in set(fixture("survival_coef.csv").query("model == @m")["vcov_type"])]


@pytest.mark.parametrize("model", ROBUST_EFRON)
def test_lifelines_robust_cox_se_equals_r_only_without_ties(model: str) -> None:
    """Robust (cluster) Cox SEs: lifelines == R when no event times are tied, not otherwise.

    With ties, R uses Efron-weighted score residuals (survival's coxscore); lifelines does not,
    and its robust SEs differ by 0.01-1.3 % on these fixtures (see README). bipdask must follow R.
    """
    row = call_row("coxph", model)
    fitter = _cox_lifelines(row, robust=True)
    covs = row["covariates"].split()
    ref = coefs("survival_coef.csv", model, "cox", "robust")["se"].to_numpy()
    gap = np.max(np.abs(fitter.standard_errors_[covs].to_numpy() / ref - 1))
    data = dataset(row["data"])
    tied = data.loc[data[row["event_col"]] == 1, row["duration_col"]].duplicated().any()
    if tied:
        assert 1e-5 < gap < 0.02
    else:
        assert gap < 1e-6


# --------------------------------------------------------------------------- coxph: NumPy


def _cox_loglik(beta: np.ndarray, x: np.ndarray, stop: np.ndarray, event: np.ndarray,
                start: np.ndarray, w: np.ndarray, ties: str) -> float:
    """Partial log-likelihood as survival's coxfit computes it (weighted Efron uses mean weight)."""
    eta = x @ beta
    risk = w * np.exp(eta)
    total = 0.0
    for t in np.unique(stop[event == 1]):
        at_risk = (start < t) & (stop >= t)
        dead = (stop == t) & (event == 1)
        r_sum, d_sum, d = risk[at_risk].sum(), risk[dead].sum(), int(dead.sum())
        total += float((w[dead] * eta[dead]).sum())
        wbar = w[dead].sum() / d
        if ties == "breslow":
            total -= w[dead].sum() * math.log(r_sum)
        else:
            total -= wbar * sum(math.log(r_sum - k / d * d_sum) for k in range(d))
    return total


@pytest.mark.parametrize("model", [m for m in COXPH if dataset(call_row("coxph", m)["data"]).shape[0] < 400])
def test_numpy_partial_likelihood_reproduces_coxph(model: str) -> None:
    """Both tie methods, weights and (start, stop] data: loglik, zero score, model-based SEs."""
    row = call_row("coxph", model)
    data = dataset(row["data"])
    covs = row["covariates"].split()
    x = data[covs].to_numpy(float)
    stop = data[row["duration_col"]].to_numpy(float)
    event = data[row["event_col"]].to_numpy(int)
    start = data[row["entry_col"]].to_numpy(float) if row["entry_col"] else np.full(len(data), -np.inf)
    w = data[row["weights_col"]].to_numpy(float) if row["weights_col"] else np.ones(len(data))
    ref = coefs("survival_coef.csv", model, "cox", "model")
    beta = ref["estimate"].to_numpy()

    def ll(b: np.ndarray) -> float:
        return _cox_loglik(b, x, stop, event, start, w, row["ties"])

    assert math.isclose(ll(beta), stat("survival_stats.csv", model, "loglik"), rel_tol=1e-10)
    assert math.isclose(ll(np.zeros_like(beta)), stat("survival_stats.csv", model, "loglik_null"), rel_tol=1e-10)
    h = 1e-4 * np.maximum(np.abs(beta), ref["se"].to_numpy())
    k = len(beta)
    hess = np.zeros((k, k))
    for i in range(k):
        ei = np.eye(k)[i] * h[i]
        score_i = (ll(beta + ei) - ll(beta - ei)) / (2 * h[i])
        assert abs(score_i * ref["se"].iloc[i]) < 1e-5
        for j in range(k):
            ej = np.eye(k)[j] * h[j]
            hess[i, j] = ((ll(beta + ei + ej) - ll(beta + ei - ej) - ll(beta - ei + ej) + ll(beta - ei - ej))
                          / (4 * h[i] * h[j]))
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(-hess))), ref["se"], rtol=1e-4)


# --------------------------------------------------------------------------- Kaplan-Meier


@pytest.mark.parametrize("km", sorted(fixture("survival_km.csv")["km"].unique()))
def test_greenwood_and_lifelines_reproduce_survfit(km: str) -> None:
    table = fixture("survival_km.csv")
    row = call_row("survfit_km", f"{km}_log")
    data = dataset(row["data"])
    for (conf_type, group), ref in table[table["km"] == km].groupby(["conf_type", "group"]):
        n, d = ref["n_risk"].to_numpy(float), ref["n_event"].to_numpy(float)
        surv = np.cumprod(1 - d / n)
        se = np.sqrt(np.cumsum(d / (n * (n - d))))
        np.testing.assert_allclose(surv, ref["surv"], rtol=1e-12)
        np.testing.assert_allclose(se, ref["std_err"], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(np.cumsum(d / n), ref["cumhaz"], rtol=1e-12)
        if conf_type == "log":
            lower, upper = surv * np.exp(-Z975 * se), np.minimum(surv * np.exp(Z975 * se), 1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                half = Z975 * se / np.log(surv)
            lower, upper = surv ** np.exp(-half), surv ** np.exp(half)
        ok = ~np.isnan(ref["lower"].to_numpy())
        np.testing.assert_allclose(lower[ok], ref["lower"][ok], rtol=1e-9)
        np.testing.assert_allclose(upper[ok], ref["upper"][ok], rtol=1e-9)
        # the group's own rows, against lifelines (its default interval is R's "log-log")
        sub = data[data[row["covariates"] or ref["group_col"].iloc[0]] == group]
        kmf = KaplanMeierFitter().fit(sub[row["duration_col"]], sub["status"])
        at = ref["time"].to_numpy()
        np.testing.assert_allclose(kmf.survival_function_at_times(at).to_numpy(), ref["surv"], rtol=1e-12)
        if conf_type == "log-log":
            ci = kmf.confidence_interval_survival_function_.loc[at]
            np.testing.assert_allclose(ci.iloc[:, 0].to_numpy()[ok], ref["lower"][ok], rtol=1e-8)
            np.testing.assert_allclose(ci.iloc[:, 1].to_numpy()[ok], ref["upper"][ok], rtol=1e-8)
