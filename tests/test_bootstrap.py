"""The bootstrap engine: replicate weights are pure functions of (seed, replicate, clusters)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask import bootstrap as bs


@pytest.mark.parametrize("scheme", ["multinomial", "poisson"])
def test_weights_are_deterministic_and_blockwise_identical(scheme):
    ids = np.arange(0, 3000, 3, dtype=np.int64)
    whole = bs.replicate_weights(ids, range(0, 50), seed=7, scheme=scheme)
    parts = np.vstack([w for _, w in bs.replicate_blocks(ids, 50, seed=7, scheme=scheme, block=13)])
    assert np.array_equal(whole, parts)
    assert np.array_equal(whole, bs.replicate_weights(ids, range(50), seed=7, scheme=scheme))
    assert not np.array_equal(whole, bs.replicate_weights(ids, range(50), seed=8, scheme=scheme))


def test_multinomial_draws_g_clusters():
    ids = np.arange(500, dtype=np.int64)
    w = bs.replicate_weights(ids, range(20), seed=1)
    assert np.all(w.sum(axis=1) == 500)
    assert np.all(w >= 0)


def test_poisson_weights_have_mean_and_variance_one():
    ids = np.arange(20000, dtype=np.int64) * 7919
    w = bs.replicate_weights(ids, range(50), seed=3, scheme="poisson")
    assert abs(w.mean() - 1) < 0.01
    assert abs(w.var() - 1) < 0.02


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 10**12), min_size=2, max_size=60, unique=True), st.integers(0, 2**31))
def test_poisson_weight_of_a_cluster_ignores_the_other_clusters(ids, seed):
    ids = np.array(sorted(ids), dtype=np.int64)
    full = bs.replicate_weights(ids, range(5), seed, "poisson")
    half = bs.replicate_weights(ids[::2], range(5), seed, "poisson")
    assert np.array_equal(full[:, ::2], half)


def test_unsorted_ids_rejected_for_multinomial():
    with pytest.raises(ValueError, match="sorted"):
        bs.replicate_weights(np.array([3, 1, 2]), range(2), 1)


def test_vectorised_newton_solves_independent_quadratics():
    targets = np.array([[1.0, -2.0], [0.5, 3.0], [10.0, 0.0]])

    def gh(theta, rows):
        g = -(theta - targets[rows])
        h = np.repeat(-np.eye(2)[None], len(rows), axis=0)
        return g, h

    sol, ok = bs.vectorised_newton(gh, np.zeros((3, 2)))
    assert ok.all()
    assert np.allclose(sol, targets)
