"""The LPM pairs bootstrap (bipdask.estimators.lpm.replicates): per-cluster sums, shared weight blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from bipdask.estimators.lpm import lpm
from bipdask.estimators.lpm.absorb import _Absorbed
from bipdask.estimators.lpm.model import with_pairs_replicates
from bipdask.estimators.lpm.replicates import SharedReplicates, _cell_sums, pairs_replicates


def _state(rng, n, g, n_levels, k):
    codes = np.sort(rng.integers(0, g, n))
    return _Absorbed(rng.normal(size=(n, k + 1)), rng.integers(1, 5, n).astype(float), codes, np.arange(g) * 3 + 1,
                     (rng.integers(0, n_levels, n),), (), None, None)


def _sparse_route(state, n_levels):
    """The cell sums through coordinate arrays and a CSR matrix (the sparse route, made dense)."""
    lev = state.fe_codes[0]
    cell = state.cluster_codes.astype(np.int64) * n_levels + lev
    occupied, inv = np.unique(cell, return_inverse=True)
    width = state.Z.shape[1] + 1
    vals = np.column_stack([np.bincount(inv, weights=state.w, minlength=occupied.size)]
                           + [np.bincount(inv, weights=state.w * state.Z[:, j], minlength=occupied.size)
                              for j in range(state.Z.shape[1])])
    rows = np.repeat(occupied // n_levels, width)
    cols = np.repeat(occupied % n_levels, width) * width + np.tile(np.arange(width), occupied.size)
    return sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(state.cluster_ids.size, n_levels * width)).toarray()


def test_cell_sums_of_a_hand_made_case():
    """Two clusters, two levels, one covariate: cluster 0 has rows in level 0 (w 1, z (1, 2)) and
    level 1 (w 2, z (3, 4)); cluster 1 one row in level 1 (w 1, z (5, 6))."""
    state = _Absorbed(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([1.0, 2.0, 1.0]), np.array([0, 0, 1]),
                      np.array([10, 20]), (np.array([0, 1, 1]),), (), None, None)
    got = _cell_sums(state, 2)
    want = np.array([[1.0, 1.0, 2.0, 2.0, 6.0, 8.0],
                     [0.0, 0.0, 0.0, 1.0, 5.0, 6.0]])
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), g=st.integers(1, 40), n_levels=st.integers(1, 12), k=st.integers(0, 3),
       rows_per_cluster=st.integers(1, 30))
def test_cell_sums_equal_the_sparse_route_bit_for_bit(seed, g, n_levels, k, rows_per_cluster):
    """Dense or sparse (by occupancy), the cell sums are the sparse route's numbers exactly."""
    rng = np.random.default_rng(seed)
    state = _state(rng, g * rows_per_cluster, g, n_levels, k)
    got = _cell_sums(state, n_levels)
    got = got.toarray() if sparse.issparse(got) else got
    np.testing.assert_array_equal(got, _sparse_route(state, n_levels))


def _frame(seed, n_persons=60):
    rng = np.random.default_rng(seed)
    n = n_persons * 12
    pid = np.repeat(np.arange(n_persons) * 5 + 2, 12)
    d = np.repeat(rng.integers(0, 2, n_persons), 12)
    e = rng.integers(0, 2, n)
    frame = pd.DataFrame({"person_id": pid, "D": d, "E": e, "DE": d * e, "tau": rng.integers(0, 6, n),
                          "week": rng.integers(0, 200, n), "w": rng.integers(1, 4, n).astype(float)})
    for j in range(3):
        frame[f"y{j}"] = (rng.random(n) < 0.2 + 0.1 * j + 0.05 * d * e).astype(float)
    return frame


MODELS = {  # one-way exact absorption (dense cells), no fixed effects (exact, lead), "once" (too many cells)
    "week effects": dict(fixed_effects="tau", weights="w"),
    "no effects": dict(),
    "once": dict(fixed_effects="tau", weights="w", max_cell_entries=10),
    "sparse cells": dict(fixed_effects="week"),
}


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("window", [None, range(7, 30)])
@pytest.mark.parametrize("max_bytes", [1, 1 << 30], ids=["a-pass-per-fit", "one-pass"])
def test_shared_replicates_are_each_fits_own_bit_for_bit(model, window, max_bytes):
    """Three fits on the same persons (another outcome each): the replicates of one shared pass
    over the weight blocks are lpm's own to rounding (their shared sums enter one wider product),
    those of a pass per fit (the sums exceed max_bytes) bit for bit."""
    frame = _frame(3)
    kw = dict(covariates=["D", "E", "DE"], cluster="person_id", block=8, **MODELS[model])
    boot = dict(bootstrap=41, seed=9, **({"replicate_window": window} if window else {}))
    shared = SharedReplicates(41, 9, "multinomial", window, max_bytes=max_bytes)
    want = []
    for j in range(3):
        fit = lpm(frame, y=f"y{j}", keep_pairs_state=True, **kw)
        assert shared.add(fit.pairs_state) == j
        want.append(lpm(frame, y=f"y{j}", **kw, **boot).bootstrap.replicates)
    got = shared.replicates()
    assert shared.passes == (3 if max_bytes == 1 else 1)
    for a, b in zip(got, want):
        assert list(a.columns) == list(b.columns) and len(a) == (41 if window is None else len(window))
        if max_bytes == 1:
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
        else:
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, atol=1e-15)


def test_shared_replicates_need_the_same_clusters():
    frame = _frame(4)
    shared = SharedReplicates(10, 1, "multinomial")
    shared.add(lpm(frame, y="y0", covariates=["D"], cluster="person_id", keep_pairs_state=True).pairs_state)
    other = frame[frame["person_id"] != frame["person_id"].iloc[0]]
    with pytest.raises(ValueError, match="same clusters"):
        shared.add(lpm(other, y="y0", covariates=["D"], cluster="person_id", keep_pairs_state=True).pairs_state)


def test_with_pairs_replicates_is_the_bootstrapped_fit():
    """A point fit given its replicates summarises them as lpm(bootstrap=B) does."""
    frame = _frame(5)
    kw = dict(y="y1", covariates=["D", "E", "DE"], fixed_effects="tau", cluster="person_id", weights="w")
    point = lpm(frame, keep_pairs_state=True, **kw)
    reps = pairs_replicates(point.pairs_state, 30, 2, "multinomial")
    got = with_pairs_replicates(point, reps, point.pairs_state.absorption, "multinomial", 2)
    want = lpm(frame, bootstrap=30, seed=2, **kw)
    assert got.pairs_state is None and got.bootstrap_absorption == want.bootstrap_absorption
    np.testing.assert_array_equal(got.bootstrap.replicates.to_numpy(), want.bootstrap.replicates.to_numpy())
    assert got.bootstrap.n_failed == want.bootstrap.n_failed
    pd.testing.assert_frame_equal(got.tidy(), want.tidy())


def _distinct(mats):
    from bipdask.estimators.lpm.replicates import _DistinctColumns

    sums = _DistinctColumns()
    columns = [sums.add(m) for m in mats]
    return sums.matrix(), columns


def test_distinct_columns_of_a_hand_made_case():
    """Two 3 × 3 matrices sharing two columns (one bit for bit, one only up to the sign of zero)."""
    a = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [5.0, 6.0, 0.0]])
    b = np.array([[2.0, 7.0, -0.0], [4.0, 8.0, 0.0], [6.0, 9.0, 0.0]])
    joint, (ca, cb) = _distinct([a, b])
    assert joint.shape == (3, 5)
    np.testing.assert_array_equal(joint[:, ca], a)
    np.testing.assert_array_equal(joint[:, cb], b)
    assert ca[1] == cb[0] and ca[2] != cb[2]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_mats=st.integers(1, 4), g=st.integers(1, 20))
def test_distinct_columns_rebuild_every_matrix_with_no_repeated_column(seed, n_mats, g):
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 3, (g, 6)).astype(float)  # few values: repeated columns happen
    mats = [pool[:, rng.integers(0, 6, int(rng.integers(1, 8)))] for _ in range(n_mats)]
    joint, columns = _distinct(mats)
    for m, cols in zip(mats, columns):
        np.testing.assert_array_equal(joint[:, cols], m)
    assert len({joint[:, u].tobytes() for u in range(joint.shape[1])}) == joint.shape[1]
