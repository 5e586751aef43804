"""The LPM pairs bootstrap's per-cluster sums (bipdask.estimators.lpm.replicates)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from bipdask.estimators.lpm.absorb import _Absorbed
from bipdask.estimators.lpm.replicates import _cell_sums


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
