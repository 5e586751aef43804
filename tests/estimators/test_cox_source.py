"""The stratified Cox fit on partitioned strata (bipdask.estimators.cox.source): the same fit,
robust variance, wild score test and pairs replicates as the one-frame cox_ph, whatever the
partitioning, and lifelines' stratified robust fit as the independent reference."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from bipdask.errors import FitError
from bipdask.estimators.cox import cox_ph
from bipdask.estimators.cox.model import cox_fit
from bipdask.estimators.cox.source import (
    CoxPartition,
    local_source,
    partition_block_strata,
    partition_block_weights,
    partition_grad_hess,
    partition_scores,
    partition_stats,
    partition_strata,
)

KW = {"start": "start", "duration": "stop", "event": "ev", "covariates": ["cl", "cm"], "strata": "jc"}


def _person_weeks(n_persons=500, n_jc=5, seed=0):
    """Person-weeks (k, k+1] with weekly ties, a time-varying caseload, job-centre baselines; one
    person in seven moves to the next job centre after week 12 (a person cluster in two strata)."""
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_persons):
        home = pid % n_jc
        for k in range(25):
            jc = home if k < 12 or pid % 7 else (home + 1) % n_jc
            cl, cm = rng.normal(0, 6), float(rng.random() < 0.1)
            ev = rng.random() < np.exp(-2.5 - 0.05 * cl + 0.3 * cm + 0.2 * jc)
            rows.append((pid, jc, k, k + 1, cl, cm, int(ev)))
            if ev:
                break
    df = pd.DataFrame(rows, columns=["pid", "jc", "start", "stop", "cl", "cm", "ev"])
    return df.sort_values(["jc", "pid", "start"], kind="mergesort").reset_index(drop=True)


def _parts(df, groups, cluster):
    """One partition per group of job centres (each group's rows in the frame's order)."""
    return [partition_strata(df[df["jc"].isin(g)], duration="stop", event="ev", covariates=["cl", "cm"],
                             start="start", strata="jc", cluster=cluster) for g in groups]


SPLITS = [[[0, 1], [2, 3, 4]], [[3], [0, 4], [1, 2]], [[4], [3], [2], [1], [0]]]


def _same(a, b, exact=False):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("groups", SPLITS, ids=["2", "3-shuffled", "5"])
def test_partitioned_fit_equals_one_frame_fit(groups):
    df = _person_weeks()
    one = cox_ph(df, **KW, cluster="pid")
    fit = cox_fit(local_source(_parts(df, groups, "pid")), ["cl", "cm"], cluster="pid")
    _same(fit.params, one.params)
    _same(fit.se, one.se)  # robust, person clusters (some in two strata)
    _same(fit.se_model, one.se_model)
    assert fit.loglik == pytest.approx(one.loglik, rel=1e-12)
    assert (fit.nobs, fit.n_events, fit.n_clusters) == (one.nobs, one.n_events, one.n_clusters)


@pytest.mark.parametrize("groups", SPLITS[:2], ids=["2", "3-shuffled"])
def test_partitioned_wild_score_test_equals_one_frame(groups):
    df = _person_weeks(seed=1)
    kw = {"inference": "wild", "bootstrap": 99, "seed": 4, "wild_terms": ["cl"]}
    one = cox_ph(df, **KW, cluster="jc", **kw)
    fit = cox_fit(local_source(_parts(df, groups, "jc")), ["cl", "cm"], cluster="jc", **kw)
    tab, want = fit.wild.table.loc["cl"], one.wild.table.loc["cl"]
    assert tab["p_value"] == want["p_value"]
    _same(tab[["statistic", "ci_low", "ci_high", "se"]], want[["statistic", "ci_low", "ci_high", "se"]])
    assert fit.wild.n_replicates == one.wild.n_replicates == 32  # 2^5 sign vectors, enumerated


@pytest.mark.parametrize("groups", SPLITS[:2], ids=["2", "3-shuffled"])
def test_partitioned_pairs_replicates_equal_one_frame(groups):
    df = _person_weeks(seed=2)
    kw = {"bootstrap": 12, "seed": 5, "block": 5}
    one = cox_ph(df, **KW, cluster="pid", **kw)
    fit = cox_fit(local_source(_parts(df, groups, "pid")), ["cl", "cm"], cluster="pid", **kw)
    _same(fit.bootstrap.replicates, one.bootstrap.replicates)
    _same(fit.bootstrap.se, one.bootstrap.se)


def test_results_do_not_depend_on_the_partitioning_to_the_last_bit():
    # the per-stratum terms are added in stratum order whatever partition holds them, so 1 or N
    # workers (any batch size) give the same bytes
    df = _person_weeks(seed=3)
    kw = {"cluster": "pid", "bootstrap": 6, "seed": 1, "block": 4}
    fits = [cox_fit(local_source(_parts(df, g, "pid")), ["cl", "cm"], **kw) for g in ([[0, 1, 2, 3, 4]], *SPLITS)]
    for other in fits[1:]:
        _same(other.params, fits[0].params, exact=True)
        _same(other.cov, fits[0].cov, exact=True)
        _same(other.bootstrap.replicates, fits[0].bootstrap.replicates, exact=True)


def test_partition_functions_return_only_stratum_and_cluster_sized_terms():
    df = _person_weeks(seed=4)
    part = _parts(df, [[0, 1]], "pid")[0]
    beta = np.array([-0.05, 0.3])
    stats = partition_stats(part, beta)
    assert [s[0] for s in stats] == [0, 1]
    assert all(isinstance(ll, float) and U.shape == (2,) and I.shape == (2, 2) for _, ll, U, I in stats)
    for key, _, _, _, ids, sums in partition_scores(part, beta):
        persons = df.loc[df["jc"] == key, "pid"].nunique()
        assert ids.shape == (persons,) and sums.shape == (persons, 2)
    restricted = partition_stats(part, beta[1:], fixed=(0, -0.05))
    _same(sum(s[1] for s in restricted), sum(s[1] for s in stats))  # same β: same log-likelihood
    source = local_source([part])
    ids = source.cluster_ids()
    grad_hess = source.block(ids, np.ones((3, ids.size)))
    U, H = grad_hess(np.tile(beta, (3, 1)), np.arange(3))
    assert U.shape == (3, 2) and H.shape == (3, 2, 2)
    _same(U[0], source.stats(beta)[1])  # weights 1: the sample's own score
    weighted = partition_block_weights(partition_block_strata(part, ids), np.ones((3, ids.size)))
    sub = partition_grad_hess(weighted, np.tile(beta, (2, 1)), np.array([0, 2]))  # two of the block's replicates
    assert [k for k, _, _ in sub] == [0, 1] and all(u.shape == (2, 2) and h.shape == (2, 2, 2) for _, u, h in sub)


def test_stratum_split_across_partitions_is_a_clear_error():
    df = _person_weeks(seed=5)
    whole = _parts(df, [[0, 1, 2, 3, 4]], "pid")[0]
    half = partition_strata(df[df["jc"] == 0].iloc[:10], duration="stop", event="ev", covariates=["cl", "cm"],
                            start="start", strata="jc", cluster="pid")
    with pytest.raises(FitError, match="stratum is split across partitions"):
        local_source([whole, half])
    assert isinstance(whole, CoxPartition) and whole.keys == (0, 1, 2, 3, 4)


def test_partitioned_fit_matches_lifelines_stratified_robust():
    # untied continuous times (lifelines' robust variance ignores ties), one row per person,
    # strata = job centres in two partitions
    rng = np.random.default_rng(7)
    n = 1500
    df = pd.DataFrame({"jc": rng.integers(0, 4, n), "cl": rng.normal(0, 6, n), "cm": (rng.random(n) < 0.2) * 1.0})
    df["stop"] = rng.exponential(1 / np.exp(-2 - 0.05 * df["cl"] + 0.3 * df["cm"] + 0.3 * df["jc"]))
    df["ev"] = (df["stop"] < 8).astype(float)
    df["stop"] = df["stop"].clip(upper=8)
    df["start"] = 0.0
    df["pid"] = np.arange(n)
    df = df.sort_values(["jc", "pid"]).reset_index(drop=True)
    fit = cox_fit(local_source(_parts(df, [[0, 2], [1, 3]], "pid")), ["cl", "cm"], cluster="pid")
    theirs = CoxPHFitter().fit(df[["stop", "ev", "cl", "cm", "jc", "pid"]], "stop", "ev", strata=["jc"],
                               robust=True, cluster_col="pid")
    np.testing.assert_allclose(fit.params.to_numpy(), theirs.params_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(fit.se.to_numpy(), theirs.standard_errors_.to_numpy(), rtol=1e-5)
    assert fit.loglik == pytest.approx(theirs.log_likelihood_, rel=1e-9)
