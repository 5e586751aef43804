"""The estimators' shared pieces: one results base, one Newton routine, one input check, one
small-sample vocabulary (bipdask.estimators.results / newton / inputs / covariance)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bipdask.errors import FitError, InputError
from bipdask.estimators import covariance as cv
from bipdask.estimators.cell_did import PARAM_NAMES, CellDiD, cell_did
from bipdask.estimators.cox import CoxResult, cox_ph
from bipdask.estimators.lpm import LinearResult, lpm
from bipdask.estimators.newton import NewtonMessages, newton
from bipdask.estimators.results import Results, Summary
from bipdask.estimators.weibull import WeibullResult, weibull_ph


def _spells(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    D, E = rng.integers(0, 2, n), rng.integers(0, 2, n)
    t = np.ceil((-np.log(rng.random(n)) / np.exp(-3.0 + 0.2 * D + 0.1 * E)) ** (1 / 0.8))
    return pd.DataFrame({"t": np.minimum(t, 56), "d": (t <= 56).astype(int), "D": D, "E": E, "DE": D * E,
                         "pid": rng.integers(0, n // 3, n)})


def _person_weeks(n_persons: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_persons):
        for k in range(20):
            cl, cm = rng.normal(0, 6), float(rng.random() < 0.2)
            ev = rng.random() < np.exp(-2.5 - 0.05 * cl + 0.3 * cm)
            rows.append((pid, k, k + 1, cl, cm, int(ev)))
            if ev:
                break
    return pd.DataFrame(rows, columns=["pid", "start", "stop", "cl", "cm", "ev"])


def _cells(seed: int = 0, n_persons: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n_persons), 2)
    d = np.repeat(rng.integers(0, 2, n_persons), 2)
    e = np.tile([0, 1], n_persons)
    n = rng.integers(1, 20, pid.size)
    return pd.DataFrame({"person_id": pid, "d": d, "e": e, "n_weeks": n, "n_yes": rng.binomial(n, 0.2 + 0.05 * d * e)})


def _fits() -> dict[str, Results]:
    sp = _spells()
    pw = _person_weeks()
    rng = np.random.default_rng(3)
    lin = pd.DataFrame({"pid": rng.integers(0, 40, 300), "x": rng.normal(size=300), "wk": rng.integers(0, 4, 300)})
    lin["y"] = (rng.random(300) < 0.3 + 0.1 * (lin["x"] > 0)).astype(int)
    return {
        "weibull": weibull_ph(sp, duration="t", event="d", covariates=["D", "E", "DE"], cluster="pid",
                              bootstrap=10, seed=1),
        "cox": cox_ph(pw, start="start", duration="stop", event="ev", covariates=["cl", "cm"], cluster="pid",
                      bootstrap=6, seed=2),
        "lpm": lpm(lin, y="y", covariates=["x"], fixed_effects="wk", cluster="pid", bootstrap=10, seed=3),
        "cell_did": cell_did(_cells()),
    }


FITS = _fits()
TYPES = {"weibull": WeibullResult, "cox": CoxResult, "lpm": LinearResult, "cell_did": CellDiD}


@pytest.mark.parametrize("name", list(FITS))
def test_every_result_has_the_common_members(name):
    fit = FITS[name]
    assert isinstance(fit, TYPES[name]) and isinstance(fit, Results)
    terms = fit.params.index
    assert isinstance(fit.cov, pd.DataFrame) and list(fit.cov.index) == list(terms)
    ci = fit.conf_int()
    assert isinstance(ci, pd.DataFrame) and list(ci.columns) == ["lower", "upper"] and list(ci.index) == list(terms)
    assert (ci["lower"] < fit.params).all() and (fit.params < ci["upper"]).all()
    assert fit.conf_int(alpha=0.5)["lower"].gt(ci["lower"]).all()  # narrower at a lower level
    np.testing.assert_array_equal(fit.std_errors.to_numpy(), np.sqrt(np.diag(fit.cov.to_numpy())))
    assert isinstance(fit.p_values, pd.Series) and fit.p_values.between(0, 1).all()
    tidy = fit.tidy()
    assert list(tidy["term"]) == list(terms)
    np.testing.assert_array_equal(tidy["ci_low"].to_numpy(), ci["lower"].to_numpy())
    np.testing.assert_array_equal(tidy["p_value"].to_numpy(), fit.p_values.to_numpy())
    summary = fit.summary()
    assert isinstance(summary, Summary)
    text = str(fit)
    assert summary.title in text and fit.cov_type in text and all(t in text for t in terms)
    assert repr(fit).startswith(text) and type(fit).__name__ in repr(fit)
    html = fit._repr_html_()
    assert html.startswith("<div>") and "<table" in html and summary.title in html
    assert fit.nobs > 0 and fit.n_clusters > 1 and isinstance(fit.cov_type, str)
    with pytest.raises(ValueError, match="kind"):
        fit.conf_int(kind="wild")
    with pytest.raises(AttributeError):
        fit.params = fit.params  # immutable


@pytest.mark.parametrize("name", ["weibull", "cox", "lpm"])
def test_bootstrap_intervals_are_the_same_frame(name):
    fit = FITS[name]
    boot = fit.conf_int(kind="bootstrap")
    assert list(boot.columns) == ["lower", "upper"] and list(boot.index) == list(fit.params.index)
    pd.testing.assert_series_equal(fit.se_boot, fit.bootstrap.se)
    assert {"se_boot", "ci_low_boot", "ci_high_boot", "p_value_boot"} <= set(fit.tidy().columns)
    assert "replicates" in str(fit)


def test_cell_did_interval_frame_agrees_with_its_scalar_shortcuts():
    fit = FITS["cell_did"]
    ci = fit.conf_int()
    assert list(ci.index) == list(PARAM_NAMES)
    assert fit.ci == (ci.loc["D_E", "lower"], ci.loc["D_E", "upper"])
    assert (fit.ci_low, fit.ci_high) == fit.ci
    assert fit.estimate == fit.params["D_E"] and fit.se == fit.std_errors["D_E"]
    assert fit.p_value == pytest.approx(fit.p_values["D_E"], rel=1e-12)
    assert list(fit.tidy().columns) == ["term", "estimate", "se", "t", "p_value", "ci_low", "ci_high"]
    assert fit.params_series().equals(fit.params) and fit.params_series().name == "params"
    with pytest.raises(ValueError, match="bootstrap"):
        fit.conf_int(kind="bootstrap")


def test_linear_aliases_are_the_base_members():
    fit = FITS["lpm"]
    assert fit.pvalues.equals(fit.p_values) and fit.tvalues.equals(fit.statistics)
    assert "t" in fit.tidy().columns and "z" in FITS["weibull"].tidy().columns


# --------------------------------------------------------------------------- Newton

MESSAGES = NewtonMessages(singular="toy: singular", no_ascent="toy: no ascent", no_convergence="toy: no convergence")


def _quadratic(theta):
    return -float(np.sum((theta - 1.0) ** 2))


def test_newton_maximises_and_counts_iterations():
    fit = newton(_quadratic, lambda th: (-2 * (th - 1.0), -2 * np.eye(th.size)), np.zeros(2), messages=MESSAGES,
                 max_iter=10, step_tol=1e-10, ascent_tol=1e-12)
    np.testing.assert_allclose(fit.params, [1.0, 1.0])
    assert fit.iterations == 2 and fit.objective == 0.0 and fit.start_objective == -2.0


@pytest.mark.parametrize("failure,kwargs", [
    ("singular", {"gradient_hessian": lambda th: (np.ones(2), np.zeros((2, 2)))}),
    ("no ascent", {"objective": lambda th: 0.0 if not th.any() else float("nan")}),
    ("no convergence", {"max_iter": 1}),
])
def test_each_newton_failure_is_a_fit_error(failure, kwargs):
    args = {"objective": _quadratic, "gradient_hessian": lambda th: (-2 * (th - 1.0), -2 * np.eye(th.size)),
            "max_iter": 10, **kwargs}
    with pytest.raises(FitError, match=f"toy: {failure}"):
        newton(args["objective"], args["gradient_hessian"], np.zeros(2), messages=MESSAGES,
               max_iter=args["max_iter"], step_tol=1e-10, ascent_tol=1e-12)


def test_models_raise_fit_errors_from_newton():
    pw = _person_weeks().assign(cl2=lambda d: 2 * d["cl"])
    with pytest.raises(FitError, match="cox_ph: information matrix is singular"):
        cox_ph(pw, start="start", duration="stop", event="ev", covariates=["cl", "cl2"])
    with pytest.raises(FitError, match="Weibull fit"):
        weibull_ph(_spells().assign(D2=lambda d: d["D"]), duration="t", event="d", covariates=["D", "D2"])


# --------------------------------------------------------------------------- inputs, small samples


@pytest.mark.parametrize("fit_call,table", [
    (lambda df: weibull_ph(df, duration="t", event="d", covariates=["D", "nope"]), "weibull_ph"),
    (lambda df: weibull_ph(df, duration="t", event="d", covariates=["D"], cluster="nope"), "weibull_ph"),
    (lambda df: cox_ph(df, duration="t", event="d", covariates=["nope"]), "cox_ph"),
    (lambda df: cox_ph(df, duration="t", event="d", covariates=["D"], strata="nope"), "cox_ph"),
    (lambda df: lpm(df, y="d", covariates=["nope"]), "lpm"),
])
def test_a_missing_column_is_an_input_error_naming_it(fit_call, table):
    df = _spells(n=60)
    with pytest.raises(InputError, match=f"{table}.nope: column missing") as err:
        fit_call(df)
    assert not isinstance(err.value, KeyError)
    problems = [(p.table, p.column, p.rule, p.n_rows) for p in err.value.problems]
    assert problems == [(table, "nope", "column missing", 60)]


def test_small_sample_vocabulary_and_aliases():
    assert cv.small_sample_kind("r") == "none" and cv.small_sample_kind("stata") == "stata"
    with pytest.raises(ValueError, match="small_sample"):
        cv.small_sample_kind("hc3")
    sp = _spells()
    kw = {"duration": "t", "event": "d", "covariates": ["D", "E"], "cluster": "pid"}
    r, none, stata = (weibull_ph(sp, **kw, small_sample=s) for s in ("r", "none", "stata"))
    assert r.cov.equals(none.cov) and r.cov_type == none.cov_type == "cluster(none)"
    g = none.n_clusters
    np.testing.assert_allclose(stata.cov, none.cov * g / (g - 1), rtol=1e-14)
    pw = _person_weeks()
    a = cox_ph(pw, duration="stop", start="start", event="ev", covariates=["cl"], cluster="pid", small_sample="r")
    b = cox_ph(pw, duration="stop", start="start", event="ev", covariates=["cl"], cluster="pid")
    assert a.cov.equals(b.cov)
    lin = sp.assign(y=sp["d"])
    assert lpm(lin, y="y", covariates=["D"], small_sample="r").cov.equals(
        lpm(lin, y="y", covariates=["D"], small_sample="none").cov)


def test_covariance_functions_are_the_textbook_sandwich():
    rng = np.random.default_rng(0)
    X, e = rng.normal(size=(50, 3)), rng.normal(size=50)
    codes = rng.integers(0, 7, 50)
    bread = np.linalg.inv(X.T @ X)
    S = cv.sum_by_cluster(codes, X * e[:, None], 7)
    np.testing.assert_allclose(S, np.stack([(X * e[:, None])[codes == g].sum(axis=0) for g in range(7)]), atol=1e-14)
    meat = cv.cluster_meat(S)
    np.testing.assert_allclose(cv.sandwich(bread, meat), bread @ meat @ bread, rtol=1e-13)
    np.testing.assert_allclose(cv.dfbeta_sandwich(S, bread), bread @ meat @ bread, rtol=1e-10)
    np.testing.assert_allclose(cv.hetero_meat(X, e * e), X.T @ np.diag(e * e) @ X, rtol=1e-12)
    assert cv.linear_factor("stata", nobs=50, k=3, n_clusters=7) == pytest.approx(7 / 6 * 49 / 47)
    assert cv.linear_factor("stata", nobs=50, k=3) == pytest.approx(50 / 47)
    assert cv.linear_factor("none", nobs=50, k=3, n_clusters=7) == 1.0
