"""bipdask's Weibull, Cox and Kaplan–Meier against R ``survival`` on public data.

The fixtures and the R script that made them are in ``tests/fixtures/r`` (see its README).
Tolerances: 1e-6 relative in coefficients, 1e-4 relative in SEs.
"""


import numpy as np
import pandas as pd
import pytest
from r_fixtures import R_FIXTURES as FIX

from bipdask.estimators.cox import cox_ph
from bipdask.estimators.survival_curves import kaplan_meier
from bipdask.estimators.weibull import weibull_ph

pytestmark = pytest.mark.against_r

CALLS = pd.read_csv(FIX / "survival_calls.csv", keep_default_na=False)
COEF = pd.read_csv(FIX / "survival_coef.csv")
STATS = pd.read_csv(FIX / "survival_stats.csv").pivot(index="model", columns="quantity", values="value")


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / "data" / name).assign(_row=lambda d: np.arange(len(d)))


def _expected(model: str, metric: str, vcov_type: str) -> pd.DataFrame:
    sel = COEF[(COEF.model == model) & (COEF.metric == metric) & (COEF.vcov_type == vcov_type)]
    return sel.set_index("term")[["estimate", "se"]]


def _fit(call: pd.Series, small_sample: str = "r"):
    data = _data(call["data"])
    covs = call["covariates"].split()
    robust = "robust = TRUE" in call["call"] or call["cluster_col"]
    cluster = call["cluster_col"] or ("_row" if robust else None)
    weights = call["weights_col"] or None
    if call["family"] == "survreg_weibull":
        return weibull_ph(data, duration=call["duration_col"], event=call["event_col"], covariates=covs,
                          weights=weights, cluster=cluster, small_sample=small_sample)
    return cox_ph(data, duration=call["duration_col"], event=call["event_col"], covariates=covs,
                  start=call["entry_col"] or None, ties=call["ties"], weights=weights, cluster=cluster,
                  small_sample=small_sample)


WEIBULL = CALLS[CALLS.family == "survreg_weibull"]
COX = CALLS[CALLS.family == "coxph"]


@pytest.mark.parametrize("model", WEIBULL.model, ids=list(WEIBULL.model))
def test_weibull_matches_survreg_in_ph_metric(model):
    call = WEIBULL.set_index("model").loc[model].copy()
    call["model"] = model
    res = _fit(call)
    want = _expected(model, "ph", "model")
    got = res.params.reindex(want.index)
    assert np.allclose(got, want["estimate"], rtol=1e-6, atol=1e-9), (got, want)
    assert res.loglik == pytest.approx(STATS.loc[model, "loglik"], rel=1e-8)
    if call["weights_col"]:
        # R's survreg builds its robust meat from *unweighted* dfbeta residuals (crossprod of
        # residuals(fit, "dfbeta")), unlike coxph (weighted=TRUE). bipdask treats weights as
        # frequency weights in both models, so only the model-based SEs are compared here.
        model_fit = weibull_ph(_data(call["data"]), duration=call["duration_col"], event=call["event_col"],
                               covariates=call["covariates"].split(), weights=call["weights_col"])
        se_model = _expected(model, "ph", "model")["se"]
        assert np.allclose(model_fit.se.reindex(se_model.index), se_model, rtol=1e-4)
    elif res.cov_type.startswith("cluster"):
        se_want = _expected(model, "ph", "robust")["se"]
        assert np.allclose(res.se.reindex(se_want.index), se_want, rtol=1e-4), (res.se, se_want)
        stata = _fit(call, small_sample="stata")
        se_st = _expected(model, "ph", "robust_stata")["se"]
        assert np.allclose(stata.se.reindex(se_st.index), se_st, rtol=1e-4)


@pytest.mark.parametrize("model", COX.model, ids=list(COX.model))
def test_cox_matches_coxph(model):
    call = COX.set_index("model").loc[model].copy()
    res = _fit(call)
    want = _expected(model, "cox", "model")
    assert np.allclose(res.params.reindex(want.index), want["estimate"], rtol=1e-6, atol=1e-10)
    assert np.allclose(res.se_model.reindex(want.index), want["se"], rtol=1e-4)
    assert res.loglik == pytest.approx(STATS.loc[model, "loglik"], rel=1e-8)
    se_rob = _expected(model, "cox", "robust")["se"]
    assert np.allclose(res.se.reindex(se_rob.index), se_rob, rtol=1e-4), (res.se, se_rob)
    stata = _fit(call, small_sample="stata")
    se_st = _expected(model, "cox", "robust_stata")["se"]
    assert np.allclose(stata.se.reindex(se_st.index), se_st, rtol=1e-4)


KM = pd.read_csv(FIX / "survival_km.csv")


@pytest.mark.parametrize("km_name,conf_type", sorted(set(zip(KM.km, KM.conf_type))))
def test_kaplan_meier_matches_survfit(km_name, conf_type):
    want = KM[(KM.km == km_name) & (KM.conf_type == conf_type)]
    call = CALLS[CALLS.model == f"{km_name}_{conf_type}"].iloc[0]
    group = want["group_col"].iloc[0]
    data = _data(call["data"])
    got = kaplan_meier(data, duration=call["duration_col"], event=call["event_col"], groups=[group],
                       conf_type=conf_type)
    merged = want.merge(got, left_on=["group", "time"], right_on=[group, "time"], suffixes=("_r", ""))
    assert len(merged) == len(want)
    for col in ("n_risk", "n_event", "surv", "lower", "upper"):
        assert np.allclose(merged[col], merged[f"{col}_r"], rtol=1e-10, atol=1e-12, equal_nan=True), col
    ok = merged["std_err_r"].notna()
    assert np.allclose(merged.loc[ok, "std_err"], merged.loc[ok, "std_err_r"], rtol=1e-10)
