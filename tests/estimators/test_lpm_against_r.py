"""bipdask.estimators.lpm.model.lpm against R lm + sandwich (tests/fixtures/r/linear_*.csv).

Coefficients to 1e-8 and SEs to 1e-6 (relative) for HC0/HC1, CR0/CR1 by firm and by year, with and
without an absorbed fixed effect, both degrees-of-freedom conventions where the fixtures give them
(``CL_<v>_CR1`` = lm/areg K counting the absorbed levels → ``fe_dof="all"``; ``CL_<v>_CR1_nested``
= reghdfe/xtreg K → ``fe_dof="nested"``), R², adjusted R², within R², residual df and RSS.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from r_fixtures import R_FIXTURES as FIXTURES

from bipdask.estimators.lpm import CONS, lpm

pytestmark = pytest.mark.against_r


@lru_cache(maxsize=None)
def fixture(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, keep_default_na=False, na_values=["NA"])


@lru_cache(maxsize=None)
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "data" / name)


CALLS = fixture("linear_calls.csv").set_index("model")
MODELS = list(CALLS.index)


def reference(model: str, vcov_type: str) -> pd.DataFrame:
    c = fixture("linear_coef.csv")
    sel = c[(c["model"] == model) & (c["vcov_type"] == vcov_type)]
    return sel.assign(term=sel["term"].replace({"(Intercept)": CONS})).set_index("term")


def stat(model: str, quantity: str) -> float:
    s = fixture("linear_stats.csv")
    return float(s[(s["model"] == model) & (s["quantity"] == quantity)]["value"].iloc[0])


def fit(model: str, **kw):
    row = CALLS.loc[model]
    return lpm(dataset(row["data"]), y=row["outcome"], covariates=row["covariates"].split(),
               fixed_effects=row["absorb"] or None, **kw)


def cases() -> list[tuple[str, str, dict]]:
    out = []
    for model in MODELS:
        out += [(model, "HC1", {}), (model, "HC0", {"small_sample": "none"})]
        for cl in CALLS.loc[model, "clusters"].split():
            out += [(model, f"CL_{cl}_CR0", {"cluster": cl, "small_sample": "none"}),
                    (model, f"CL_{cl}_CR1", {"cluster": cl, "fe_dof": "all"})]
            if CALLS.loc[model, "absorb"] == cl:
                out.append((model, f"CL_{cl}_CR1_nested", {"cluster": cl, "fe_dof": "nested"}))
            else:  # FE not nested in the cluster (or none): "nested" counts the levels like "all"
                out.append((model, f"CL_{cl}_CR1", {"cluster": cl, "fe_dof": "nested"}))
    return out


@pytest.mark.parametrize("model,vcov_type,kw", cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_coefficients_and_ses_match_lm_sandwich(model: str, vcov_type: str, kw: dict) -> None:
    ref = reference(model, vcov_type)
    assert not ref.empty
    res = fit(model, **kw)
    np.testing.assert_allclose(res.params[ref.index], ref["estimate"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.se[ref.index], ref["se"], rtol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_full_covariance_block_matches(model: str) -> None:
    v = fixture("linear_vcov.csv")
    cl = CALLS.loc[model, "clusters"].split()[0]
    sel = v[(v["model"] == model) & (v["vcov_type"] == f"CL_{cl}_CR1")].replace({"(Intercept)": CONS})
    ref = sel.pivot(index="row", columns="col", values="value")
    res = fit(model, cluster=cl, fe_dof="all")
    np.testing.assert_allclose(res.cov.loc[ref.index, ref.columns], ref, rtol=1e-6, atol=1e-14)


@pytest.mark.parametrize("model", MODELS)
def test_r_squared_df_and_rss(model: str) -> None:
    res = fit(model)
    assert math.isclose(res.rsquared, stat(model, "r2"), rel_tol=1e-9)
    assert math.isclose(res.rsquared_adj, stat(model, "adj_r2"), rel_tol=1e-9)
    assert math.isclose(res.rss, stat(model, "rss"), rel_tol=1e-9)
    assert res.df_resid == stat(model, "df_resid")
    assert res.nobs == stat(model, "n")
    if CALLS.loc[model, "absorb"]:
        assert math.isclose(res.rsquared_within, stat(model, "r2_within"), rel_tol=1e-9)
        assert res.n_absorbed == (int(stat(model, "n_absorbed")),)
        # without the FE: the same covariates with an intercept (what lm gives on the plain model)
        plain = lpm(dataset(CALLS.loc[model, "data"]), y=CALLS.loc[model, "outcome"],
                    covariates=CALLS.loc[model, "covariates"].split())
        assert math.isclose(res.rsquared_without_fe, plain.rsquared, rel_tol=1e-12)
        assert res.rsquared_without_fe < res.rsquared
    else:
        assert math.isnan(res.rsquared_within) and res.rsquared_without_fe == res.rsquared


@pytest.mark.parametrize("model", [m for m in MODELS if CALLS.loc[m, "absorb"]])
def test_dof_conventions_reproduce_the_documented_factors(model: str) -> None:
    for cl in CALLS.loc[model, "clusters"].split():
        res_all = fit(model, cluster=cl, fe_dof="all")
        res_nested = fit(model, cluster=cl, fe_dof="nested")
        assert res_all.k_dof == stat(model, "K")
        expected = "factor_CL_{}_CR1_nested" if CALLS.loc[model, "absorb"] == cl else "factor_CL_{}_CR1"
        cr0 = fit(model, cluster=cl, small_sample="none")
        ratio = (res_nested.se / cr0.se) ** 2
        np.testing.assert_allclose(ratio.dropna(), stat(model, expected.format(cl)), rtol=1e-10)
        assert res_nested.n_clusters == stat(model, f"n_clusters_{cl}")


def test_fixed_effect_values_equal_lm_dummy_coefficients() -> None:
    """α_level = lm's intercept + dummy coefficient (statsmodels with dummies as the stand-in)."""
    import statsmodels.api as sm

    data = dataset("lung.csv")
    covs = ["age", "female", "ph_ecog"]
    res = lpm(data, y="status", covariates=covs, fixed_effects="inst")
    dummies = pd.get_dummies(data["inst"], prefix="fe", dtype=float)
    ref = sm.OLS(data["status"].astype(float), pd.concat([data[covs].astype(float), dummies], axis=1)).fit()
    alpha = res.fixed_effect_values("inst")
    np.testing.assert_allclose(alpha.to_numpy(), ref.params[[f"fe_{v}" for v in alpha.index]].to_numpy(), atol=1e-10)
