"""lpm with cluster fixed effects from per-cluster moments, combined over partitions, equals lpm on the rows."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.lpm import lpm
from bipdask.estimators.lpm.within import combine_within, lpm_within, within_moments


def panel(seed: int, n_centres: int = 9, missing: bool = True) -> pd.DataFrame:
    """Person-weeks of job centres with their own share level and caseload level (the confounding
    the fixed effects remove), a caseload effect and some missing caseloads."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(n_centres):
        n = int(rng.integers(40, 400))
        level, load = rng.normal(0, 0.1), rng.normal(35, 8)
        caseload = load + rng.normal(0, 5, n)
        casemiss = (rng.random(n) < 0.1).astype(np.int8)
        caseload = np.where(casemiss == 1, 0.0, caseload)
        p = np.clip(0.3 + level + 0.004 * (caseload - load) * (1 - casemiss), 0.01, 0.99)
        rows.append(pd.DataFrame({"jobcentre_id": 100 + 7 * j, "person_id": rng.integers(0, 10**6, n),
                                  "y": (rng.random(n) < p).astype(np.int8), "caseload": caseload,
                                  "casemiss": casemiss}))
    frame = pd.concat(rows, ignore_index=True)
    if missing:
        frame.loc[rng.choice(len(frame), 5, replace=False), "caseload"] = np.nan
    return frame


def partitions(frame: pd.DataFrame, cuts: int, seed: int) -> list[pd.DataFrame]:
    """Rows in ``cuts`` partitions, each job centre's rows scattered over them (cut by person)."""
    part = np.random.default_rng(seed).integers(0, cuts, len(frame))
    return [frame[part == k] for k in range(cuts)]


def from_parts(frame, cuts, cut_seed, **kw):
    parts = [within_moments(p, y="y", covariates=["caseload", "casemiss"], cluster="jobcentre_id")
             for p in partitions(frame, cuts, cut_seed)]
    return lpm_within(combine_within(parts), fixed_effect="jobcentre_id", **kw)


@pytest.mark.parametrize("cuts", [1, 3])
def test_wild_fit_from_partition_moments_equals_lpm_on_the_rows(cuts):
    frame = panel(1)
    rows = lpm(frame, y="y", covariates=["caseload", "casemiss"], fixed_effects="jobcentre_id",
               cluster="jobcentre_id", inference="wild", bootstrap=399, seed=5)
    fit = from_parts(frame, cuts, 2, inference="wild", bootstrap=399, seed=5)
    np.testing.assert_allclose(fit.params, rows.params, rtol=1e-10)
    np.testing.assert_allclose(fit.se, rows.se, rtol=1e-9)
    pd.testing.assert_frame_equal(fit.wild.table, rows.wild.table, rtol=1e-8)
    assert (fit.nobs, fit.n_clusters, fit.k_dof, fit.n_dropped) == (rows.nobs, rows.n_clusters, rows.k_dof, 5)
    assert fit.n_replicates == rows.n_replicates and fit.inference == rows.inference == "wild"
    for attr in ("rss", "rsquared", "rsquared_within", "rsquared_without_fe", "df_resid"):
        assert getattr(fit, attr) == pytest.approx(getattr(rows, attr), rel=1e-9), attr


def test_a_covariate_constant_within_every_cluster_is_omitted_as_lpm_omits_it():
    frame = panel(3, missing=False)
    frame["casemiss"] = (frame["jobcentre_id"] % 2).astype(np.int8)  # absorbed by the fixed effects
    rows = lpm(frame, y="y", covariates=["caseload", "casemiss"], fixed_effects="jobcentre_id",
               cluster="jobcentre_id", inference="analytic")
    fit = from_parts(frame, 2, 4, inference="analytic")
    assert fit.omitted == rows.omitted == ("casemiss",)
    np.testing.assert_allclose(fit.params, rows.params, rtol=1e-10)
    np.testing.assert_allclose(fit.cov, rows.cov, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6))
def test_combining_partitions_in_any_cut_gives_the_moments_of_the_whole(seed, cuts):
    frame = panel(seed, n_centres=4)
    whole = within_moments(frame, y="y", covariates=["caseload", "casemiss"], cluster="jobcentre_id")
    parts = combine_within([within_moments(p, y="y", covariates=["caseload", "casemiss"], cluster="jobcentre_id")
                            for p in partitions(frame, cuts, seed + 1)])
    assert np.array_equal(parts.cluster_ids, whole.cluster_ids) and np.array_equal(parts.n, whole.n)
    np.testing.assert_allclose(parts.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(parts.comoment, whole.comoment, rtol=1e-9, atol=1e-8)
    assert parts.nobs_dropped == whole.nobs_dropped
