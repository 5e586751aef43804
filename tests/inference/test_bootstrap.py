"""The bootstrap engine: replicate weights are pure functions of (seed, replicate, clusters)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.newton import vectorised_newton
from bipdask.inference import bootstrap as bs


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


@pytest.mark.parametrize("n_clusters,chunk", [(5, 8192), (1000, 7), (1000, 64)])
def test_multinomial_weights_are_the_documented_draws(n_clusters, chunk, monkeypatch):
    # The module docstring's definition: G draws with replacement from a generator seeded by
    # (seed, b, 0x5EED), counted per cluster. Pins the numbers every estimator's CIs depend on,
    # also when the draws are made in pieces.
    monkeypatch.setattr(bs, "_DRAW_CHUNK", chunk)
    ids = np.sort(np.random.default_rng(n_clusters).choice(10**12, n_clusters, replace=False)).astype(np.int64)
    w = bs.replicate_weights(ids, [0, 5, 123], seed=42)
    for row, b in enumerate([0, 5, 123]):
        draws = np.random.default_rng(np.random.SeedSequence([42, b, 0x5EED])).integers(0, ids.size, size=ids.size)
        assert np.array_equal(w[row], np.bincount(draws, minlength=ids.size).astype(float))


@pytest.mark.parametrize("scheme", ["multinomial", "poisson"])
def test_reused_buffer_and_out_give_the_same_weights(scheme, monkeypatch):
    monkeypatch.setattr(bs, "_POISSON_CHUNK", 1000)  # several hash chunks per block
    ids = np.arange(0, 1500, 5, dtype=np.int64) * 13
    whole = bs.replicate_weights(ids, range(23), seed=4, scheme=scheme)
    seen, buffers = [], set()
    for reps, w in bs.replicate_blocks(ids, 23, seed=4, scheme=scheme, block=10, reuse=True):
        seen.append(w.copy())
        buffers.add(w.__array_interface__["data"][0])
    assert np.array_equal(np.vstack(seen), whole)
    assert len(buffers) == 1  # one buffer, overwritten block by block
    out = np.full((23, ids.size), -1.0)
    assert bs.replicate_weights(ids, range(23), 4, scheme, out=out) is out and np.array_equal(out, whole)
    with pytest.raises(ValueError, match="out must be"):
        bs.replicate_weights(ids, range(23), 4, scheme, out=np.empty((22, ids.size)))


@pytest.mark.parametrize("form", ["dense", "sparse made dense", "sparse"])
def test_replicate_sums_equal_weights_times_sums(form, monkeypatch):
    from scipy import sparse

    rng = np.random.default_rng(2)
    ids = np.arange(0, 400, 2, dtype=np.int64)
    sums = rng.integers(0, 5, size=(ids.size, 6)) * (rng.random((ids.size, 6)) < 0.3)
    if form != "dense":
        sums = sparse.csr_matrix(sums)
    if form == "sparse":
        monkeypatch.setattr(bs, "_DENSE_SUMS_MAX", 10)
    want = bs.replicate_weights(ids, range(45), 3) @ (sums.toarray() if form != "dense" else sums)
    np.testing.assert_allclose(bs.replicate_sums(ids, 45, 3, sums, block=8), want, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="rows for"):
        bs.replicate_sums(ids[1:], 45, 3, sums)


def test_unsorted_ids_rejected_for_multinomial():
    with pytest.raises(ValueError, match="sorted"):
        bs.replicate_weights(np.array([3, 1, 2]), range(2), 1)


def test_vectorised_newton_solves_independent_quadratics():
    targets = np.array([[1.0, -2.0], [0.5, 3.0], [10.0, 0.0]])

    def gh(theta, rows):
        g = -(theta - targets[rows])
        h = np.repeat(-np.eye(2)[None], len(rows), axis=0)
        return g, h

    sol, ok = vectorised_newton(gh, np.zeros((3, 2)))
    assert ok.all()
    assert np.allclose(sol, targets)


# --- replicate windows and shared weights -------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 40), cut=st.data(), block=st.integers(1, 9), scheme=st.sampled_from(["multinomial", "poisson"]))
def test_a_window_yields_the_whole_runs_blocks_that_hold_it(b, cut, block, scheme):
    ids = np.array([3, 8, 11, 40, 41])
    b0 = cut.draw(st.integers(0, b - 1))
    b1 = cut.draw(st.integers(b0 + 1, b))
    whole = list(bs.replicate_blocks(ids, b, 7, scheme, block))
    part = list(bs.replicate_blocks(ids, b, 7, scheme, block, window=range(b0, b1)))
    assert [r for r, _ in part] == [r for r, _ in whole if r.stop > b0 and r.start < b1]  # the run's own cuts
    rows = np.vstack([w[bs.window_rows(r, range(b0, b1))[0]] for r, w in part])
    np.testing.assert_array_equal(rows, bs.replicate_weights(ids, range(b0, b1), 7, scheme))
    out = np.empty((b1 - b0, ids.size))
    for r, w in part:
        src, dst = bs.window_rows(r, range(b0, b1))
        out[dst] = w[src]
    np.testing.assert_array_equal(out, rows)


def test_shared_weights_hand_out_the_same_values_drawn_once():
    ids, other = np.arange(0, 300, 3), np.arange(1, 200, 3)  # another cluster set: drawn anew
    plain = [w.copy() for _, w in bs.replicate_blocks(ids, 23, 5, block=10)]
    with bs.shared_weights() as shared:
        first = [w for _, w in bs.replicate_blocks(ids, 23, 5, block=10, reuse=True)]
        again = [w for _, w in bs.replicate_blocks(ids, 23, 5, block=10)]
        elsewhere = [w for _, w in bs.replicate_blocks(other, 23, 5, block=10)]
        assert (shared.misses, shared.hits) == (6, 3)
        with pytest.raises(ValueError):
            again[0][0, 0] = 1.0                                     # read-only: no fit can alter another's
    for p, a, b, c in zip(plain, first, again, elsewhere):
        np.testing.assert_array_equal(p, a)
        assert a is b and c.shape[1] == other.size
    with bs.shared_weights(max_bytes=10 * ids.size * 8) as small:   # room for one block
        for _ in range(2):
            list(bs.replicate_blocks(ids, 23, 5, block=10))
        assert small.hits == 0 and small.bytes <= 10 * ids.size * 8
    assert bs._SHARED.get() is None


@given(block=st.sampled_from([1, 7, 100, 500]), g=st.integers(1, 5000), cap=st.integers(1, 20000))
@settings(max_examples=200, deadline=None)
def test_a_bounded_block_divides_the_block_and_fits_the_cap(block, g, cap):
    import unittest.mock

    with unittest.mock.patch.object(bs, "BLOCK_WEIGHTS_MAX", cap):
        b = bs.bounded_block(block, g)
    assert block % b == 0 and 1 <= b <= block
    assert b * g <= cap or b == 1
    assert b == block or (block * g > cap)


def test_blocks_above_the_weight_cap_are_smaller_and_draw_the_same_weights(monkeypatch):
    """G = 1,000 clusters with a cap of 60,000 entries: blocks of 50 (the largest divisor of 500
    with 50 × 1,000 ≤ 60,000), the same weights as one unbounded draw, and a window cut at a
    multiple of 500 still draws only its own replicates."""
    ids = np.arange(1000, dtype=np.int64) * 7 + 3
    whole = bs.replicate_weights(ids, range(0, 1200), seed=11)
    monkeypatch.setattr(bs, "BLOCK_WEIGHTS_MAX", 60_000)
    blocks = list(bs.replicate_blocks(ids, 1200, seed=11))
    assert {len(r) for r, _ in blocks} == {50}
    assert np.array_equal(np.vstack([w for _, w in blocks]), whole)
    window = list(bs.replicate_blocks(ids, 1200, seed=11, window=range(500, 1000)))
    assert window[0][0].start == 500 and window[-1][0].stop == 1000


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 150), st.integers(1, 40), st.integers(1, 30), st.booleans(), st.integers(0, 2**31 - 1))
def test_pattern_weights_in_rows_equal_pattern_weights_bit_for_bit(n_rep, n_clusters, n_patterns, integer, seed):
    from scipy import sparse

    rng = np.random.default_rng(seed)
    dense = rng.random((n_clusters, n_patterns)) * (rng.random((n_clusters, n_patterns)) < 0.3)
    if integer:
        dense = np.round(dense * 7)
    cp = sparse.csr_matrix(dense)
    w = rng.poisson(1.0, (n_rep, n_clusters)).astype(np.float64) if integer else rng.random((n_rep, n_clusters))
    np.testing.assert_array_equal(bs.pattern_weights_in_rows(w, cp.T.tocsr()), bs.pattern_weights(w, cp))
