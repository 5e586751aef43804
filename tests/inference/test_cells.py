"""Per-(cluster, cell) sums (bipdask.inference.cells) against scipy's coordinate build and by hand."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from bipdask.inference.cells import Cells


def test_sums_by_hand_with_empty_clusters_and_cells():
    cells = Cells.of(np.array([2, 0, 2, 2]), np.array([1, 1, 0, 1]), (4, 3))
    m = cells.sum_matrix(np.array([1.0, 2.0, 3.0, 4.0])).toarray()
    np.testing.assert_array_equal(m, [[0, 2, 0], [0, 0, 0], [3, 5, 0], [0, 0, 0]])
    wide = cells.sum_matrix(np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])).toarray()
    assert wide.shape == (4, 6)
    np.testing.assert_array_equal(wide[2], [3, 30, 5, 50, 0, 0])
    np.testing.assert_array_equal(wide[0], [0, 0, 2, 20, 0, 0])


def test_no_rows_give_an_empty_matrix():
    cells = Cells.of(np.zeros(0, int), np.zeros(0, int), (3, 2))
    assert cells.sum_matrix(np.zeros(0)).shape == (3, 2) and cells.sum_matrix(np.zeros(0)).nnz == 0
    assert cells.sum_matrix(np.zeros((0, 4))).shape == (3, 8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
                max_size=80))
def test_equal_the_coordinate_build(rows):
    g, k, a, b = (np.array(c) for c in zip(*rows)) if rows else (np.zeros(0, int),) * 2 + (np.zeros(0),) * 2
    cells = Cells.of(g, k, (6, 4))
    values = np.column_stack([a, b]) if rows else np.zeros((0, 2))
    got = cells.sum_matrix(values)
    cols = (k[:, None] * 2 + np.arange(2)).ravel()
    expect = sparse.csr_matrix((values.ravel(), (np.repeat(g, 2), cols)), shape=(6, 8))
    np.testing.assert_allclose(got.toarray(), expect.toarray(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(cells.sum_matrix(a if rows else np.zeros(0)).toarray(),
                               sparse.csr_matrix((a, (g, k)), shape=(6, 4)).toarray(), rtol=1e-12, atol=1e-9)
    for i in range(6):  # canonical: each row's columns strictly ascending
        assert np.all(np.diff(got.indices[got.indptr[i]:got.indptr[i + 1]]) > 0)
