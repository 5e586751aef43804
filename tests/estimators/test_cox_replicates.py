"""bipdask.estimators.cox.replicates: replicate windows. Any cut of the B pairs replicates into
windows gives the replicates of one run of all B, bit for bit (the flow computes windows as tasks)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.cox import cox_ph
from bipdask.estimators.cox.replicates import _BlockStrata, _cells, _tie_index, cox_replicates, cox_replicates_many
from bipdask.estimators.cox.source import local_source, partition_strata

B, BLOCK, SEED = 23, 5, 7


def _person_weeks(n_persons=150, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_persons):
        for k in range(20):
            cl = rng.normal(0, 6)
            ev = rng.random() < np.exp(-2.3 - 0.05 * cl + 0.2 * (pid % 3))
            rows.append((pid, pid % 3, k, k + 1, cl, int(ev)))
            if ev:
                break
    return pd.DataFrame(rows, columns=["pid", "jc", "start", "stop", "cl", "ev"])


DF = _person_weeks()
KW = {"start": "start", "duration": "stop", "event": "ev", "covariates": ["cl"], "strata": "jc", "cluster": "pid"}
FIT = cox_ph(DF, **KW, bootstrap=B, seed=SEED, block=BLOCK)
SOURCE = local_source([partition_strata(DF, ties="efron", **KW)])


def test_all_replicates_equal_the_fits_bootstrap():
    got = cox_replicates(SOURCE, FIT.params, B, SEED, block=BLOCK)
    np.testing.assert_array_equal(got, FIT.bootstrap.replicates.to_numpy())


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, B - 1), max_size=5, unique=True))
def test_any_cut_into_windows_gives_the_run_of_all_replicates_bit_for_bit(cuts):
    edges = [0, *sorted(cuts), B]
    parts = [cox_replicates(SOURCE, FIT.params, B, SEED, block=BLOCK, window=range(a, b))
             for a, b in zip(edges[:-1], edges[1:])]
    assert [len(p) for p in parts] == list(np.diff(edges))
    np.testing.assert_array_equal(np.concatenate(parts), FIT.bootstrap.replicates.to_numpy())


# --------------------------------------------------------------------------- cells and block terms


def _stratum(start, stop, event, X):
    from bipdask.estimators.cox.model import _prepare

    start, stop, event = (np.asarray(a, dtype=np.float64) for a in (start, stop, event))
    X = np.asarray(X, dtype=np.float64)
    X = X.reshape(-1, 1) if X.ndim == 1 else X
    return _prepare(start, stop, event, X, np.ones(len(start)), np.arange(len(start)))


def test_cells_merge_rows_that_share_slots_death_time_and_covariates():
    # event times 1, 2: rows 0, 1 and 4 are at risk at time 1 only, alive, x = 5 → one cell;
    # row 2 dies there (its own cell); row 3 has x = 6; row 5 (2, 3] is at risk at no event time
    st = _stratum([0, 0, 0, 0, 0, 2, 1], [1, 1, 1, 1, 1, 3, 2], [0, 0, 1, 0, 0, 0, 1], [5, 5, 5, 6, 5, 5, 5])
    rows, cell = _cells(st)
    assert sorted(rows.tolist()) == [0, 1, 2, 3, 4, 6]
    groups = {}
    for r, c in zip(rows.tolist(), cell.tolist()):
        groups.setdefault(c, []).append(r)
    assert sorted(groups.values()) == [[0, 1, 4], [2], [3], [6]]
    assert np.all(np.diff(cell) >= 0)


def test_tie_index_has_one_term_per_tied_death_copy():
    nd, idx, frac = _tie_index(np.array([[2.0, 0.0], [1.0, 3.0]]))  # slots × replicates
    assert nd.tolist() == [2, 0, 1, 3]
    assert idx.tolist() == [0, 0, 2, 3, 3, 3]  # flat (slot, replicate) positions
    np.testing.assert_array_equal(frac, [0, 1 / 2, 0, 0, 1 / 3, 2 / 3])


def _random_strata(seed, n_strata, static):
    """Strata of person-week rows (k, k+1] (or, ``static``, one row (0, T] per person), small
    integer covariates so that rows share cells, many tied deaths."""
    rng = np.random.default_rng(seed)
    strata, clusters, pid = [], [], 0
    for _ in range(n_strata):
        rows = []
        for _ in range(int(rng.integers(3, 12))):
            x = rng.integers(0, 3, 2)
            weeks = int(rng.integers(1, 6))
            ev = int(rng.random() < 0.7)
            if static:
                rows.append((pid, 0, weeks, ev, *x))
            else:
                rows += [(pid, k, k + 1, int(ev and k == weeks - 1), rng.integers(0, 3), x[1]) for k in range(weeks)]
            pid += 1
        a = np.array(rows, dtype=np.float64)
        if a[:, 3].sum() == 0:
            a[-1, 3] = 1.0
        strata.append(_stratum(a[:, 1], a[:, 2], a[:, 3], a[:, 4:]))
        clusters.append(a[:, 0].astype(np.int64))
    return strata, clusters, pid


def _duplicated(st, copies):
    keep = np.repeat(np.arange(st.start.size), copies)
    return _stratum(st.start[keep], st.stop[keep], st.event[keep], st.X[keep])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.booleans(), st.sampled_from(["efron", "breslow"]))
def test_block_terms_are_the_stratum_terms_of_the_duplicated_rows(seed, n_strata, static, ties):
    from bipdask.estimators.cox.model import _stratum_stats

    strata, clusters, G = _random_strata(seed, n_strata, static)
    rng = np.random.default_rng(seed + 1)
    W = rng.poisson(1.0, (4, G)).astype(np.float64)
    beta = rng.normal(0, 0.3, (4, 2))
    blocks = _BlockStrata(strata, clusters, G)
    U, H = blocks.grad_hess(beta, blocks.weights(W), ties)
    for s, (stra, c) in enumerate(zip(strata, clusters)):
        for b in range(4):
            dup = _duplicated(stra, W[b, c].astype(int))
            if dup.times.size == 0:  # no death left in the stratum: no terms
                np.testing.assert_array_equal(U[s, b], 0.0)
                np.testing.assert_array_equal(H[s, b], 0.0)
                continue
            _, U_ref, I_ref, _ = _stratum_stats(beta[b], dup, ties)
            np.testing.assert_allclose(U[s, b], U_ref, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(H[s, b], -I_ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_a_stratums_block_terms_do_not_depend_on_the_strata_beside_it(seed, static):
    """Strata solved together in one partition give each stratum's terms bit for bit as alone."""
    strata, clusters, G = _random_strata(seed, 3, static)
    rng = np.random.default_rng(seed + 2)
    W = rng.poisson(1.0, (5, G)).astype(np.float64)
    beta = rng.normal(0, 0.3, (5, 2))
    together = _BlockStrata(strata, clusters, G)
    U, H = together.grad_hess(beta, together.weights(W))
    sub = np.array([0, 3])
    Us, Hs = together.grad_hess(beta[sub], together.weights(W).rows(sub))
    for s in range(3):
        alone = _BlockStrata(strata[s:s + 1], clusters[s:s + 1], G)
        U1, H1 = alone.grad_hess(beta, alone.weights(W))
        np.testing.assert_array_equal(U1[0], U[s])
        np.testing.assert_array_equal(H1[0], H[s])
        U2, H2 = alone.grad_hess(beta[sub], alone.weights(W).rows(sub))
        np.testing.assert_array_equal(U2[0], Us[s])
        np.testing.assert_array_equal(H2[0], Hs[s])


def test_first_step_at_the_estimate_equals_the_general_step():
    """All replicates at one β (Newton's first step) take a shortcut (one exponential per cell)."""
    strata, clusters, G = _random_strata(5, 3, False)
    W = np.random.default_rng(0).poisson(1.0, (6, G)).astype(np.float64)
    blocks = _BlockStrata(strata, clusters, G)
    w = blocks.weights(W)
    beta = np.tile([0.2, -0.1], (6, 1))
    U, H = blocks.grad_hess(beta, w)
    for b in range(6):
        Ub, Hb = blocks.grad_hess(beta[b:b + 1], w.rows(np.array([b])))
        np.testing.assert_array_equal(Ub[:, 0], U[:, b])
        np.testing.assert_array_equal(Hb[:, 0], H[:, b])


def test_breslow_replicate_with_an_empty_risk_set_equals_its_refit(monkeypatch):
    """A replicate that draws none of the persons at risk at an event time has no risk set (and
    no death) there. Breslow's terms were 0/0 there, which made the replicate fail (NaN); the
    refit on the replicate's rows simply has one event time less."""
    from test_newton import _inject_block

    df = DF[DF["jc"] == 0]
    last = df.loc[df["ev"] == 1, "stop"].max()
    at_risk = df.loc[(df["start"] < last) & (df["stop"] >= last), "pid"].unique()
    ids = np.unique(df["pid"])
    w = np.random.default_rng(1).poisson(1.0, (3, ids.size)).astype(float)
    w[1, np.isin(ids, at_risk)] = 0.0
    w[1, ~np.isin(ids, at_risk)] = np.maximum(w[1, ~np.isin(ids, at_risk)], 1.0)
    _inject_block(monkeypatch, w)
    kw = {"start": "start", "duration": "stop", "event": "ev", "covariates": ["cl"], "ties": "breslow"}
    res = cox_ph(df, **kw, cluster="pid", bootstrap=3, seed=1, block=3)
    reps = res.bootstrap.replicates.to_numpy()
    for b in range(3):
        copies = w[b][np.searchsorted(ids, df["pid"])].astype(int)
        refit = cox_ph(df.loc[df.index.repeat(copies)], **kw)
        np.testing.assert_allclose(reps[b], refit.params.to_numpy(), atol=1e-8)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sets(st.integers(0, 7), min_size=1))
def test_a_replicates_block_terms_do_not_depend_on_the_replicates_beside_it(seed, active):
    """The terms of replicate b come from column b of every array only: solving the whole block
    (what partition_grad_hess does while most of a block is active) or the active replicates
    alone gives the same bits."""
    from bipdask.estimators.cox.source import BlockPartition, partition_grad_hess

    strata, clusters, G = _random_strata(seed, 2, seed % 2 == 0)
    rng = np.random.default_rng(seed + 3)
    W = rng.poisson(1.0, (8, G)).astype(np.float64)
    beta = rng.normal(0, 0.3, (8, 2))
    rows = np.array(sorted(active))
    blocks = _BlockStrata(strata, clusters, G)
    w = blocks.weights(W)
    U, H = blocks.grad_hess(beta, w)
    Ua, Ha = blocks.grad_hess(beta[rows], w.rows(rows))
    np.testing.assert_array_equal(Ua, U[:, rows])
    np.testing.assert_array_equal(Ha, H[:, rows])
    got = partition_grad_hess(BlockPartition((0, 1), blocks, "efron", w), beta[rows], rows)
    for s, (key, Us, Hs) in enumerate(got):
        assert key == s
        np.testing.assert_array_equal(Us, U[s, rows])
        np.testing.assert_array_equal(Hs, H[s, rows])


def test_replicates_of_several_models_equal_each_models_own_bit_for_bit():
    """Tables 9–10 solve their models' replicates block by block, one draw of weights for all."""
    kw2 = {**KW, "covariates": ["cl", "ev_lag"]}
    df = DF.assign(ev_lag=DF.groupby("pid")["cl"].shift(1, fill_value=0.0))
    fit2 = cox_ph(df, **kw2)
    source2 = local_source([partition_strata(df, ties="efron", **kw2)])
    for window in (None, range(4, 17)):
        got = cox_replicates_many([SOURCE, source2], [FIT.params, fit2.params], B, SEED, block=BLOCK, window=window)
        np.testing.assert_array_equal(got[0], cox_replicates(SOURCE, FIT.params, B, SEED, block=BLOCK, window=window))
        np.testing.assert_array_equal(got[1], cox_replicates(source2, fit2.params, B, SEED, block=BLOCK, window=window))
    other = local_source([partition_strata(DF[DF["pid"] > 0], ties="efron", **KW)])
    with pytest.raises(ValueError, match="different clusters"):
        cox_replicates_many([SOURCE, other], [FIT.params, FIT.params], B, SEED, block=BLOCK)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, B))
def test_replicates_do_not_depend_on_the_block_size(block):
    """Every term of a replicate comes from its own column, and Newton stops each replicate on its
    own: the block size (REPLICATE_BLOCK, a speed setting) changes no replicate's bits."""
    got = cox_replicates(SOURCE, FIT.params, B, SEED, block=block)
    np.testing.assert_array_equal(got, FIT.bootstrap.replicates.to_numpy())
