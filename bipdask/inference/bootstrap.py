"""The cluster-bootstrap engine: replicate weights, replicate sums and summaries.

The method in brief: ``docs/methods.md#the-bootstrap-engine--pairs-cluster-bootstrap-by-reweighting``.

Replicates are never refits on resampled rows. An estimator aggregates each cluster's
contribution once (a cluster × pattern count matrix, or per-cluster sufficient statistics),
turns the replicate weights of the clusters into replicate weights of the patterns with one
matrix product per block of replicates, and solves all replicates together.

Replicate weights are a pure function of the seed, the replicate number and the cluster ids:

* ``poisson``: w[b, g] ~ Poisson(1) from a counter-based hash of (seed, b, cluster id). The
  weight of a cluster does not depend on which other clusters exist, how the data are
  partitioned, or in which order tasks run.
* ``multinomial`` (the classic pairs-cluster bootstrap): replicate b draws G clusters with
  replacement from the sorted set of cluster ids, with a generator seeded by (seed, b). The
  weights depend on the seed, b and the *set* of cluster ids (never on row order or
  partitioning), which is fixed once the national reduce has seen all clusters. Precisely:
  ``bincount(default_rng(SeedSequence([seed, b, 0x5EED])).integers(0, G, size=G), minlength=G)``
  (the draws are made as int32 when G < 2**31 and in pieces of 12,288; NumPy generates both
  from the same bounded 32-bit stream as one int64 call, so the numbers are identical).

Speed (``benchmarks/bench_linear.py``): generating the weights costs O(B·G) and is
the largest part of a linear bootstrap at G ≈ 28k persons. Estimators stream replicates in
blocks and can ask :func:`replicate_blocks` to reuse one block buffer (``reuse=True``), so the
B × G matrix never sits in memory and no fresh pages are touched per block; the per-cluster
sufficient statistics are then one dense (block × G)·(G × q) product per block.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Literal

import numpy as np
from scipy import sparse, stats

Scheme = Literal["multinomial", "poisson"]


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective 64-bit mixer (vectorised, wraps mod 2**64)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(seed: int, replicates: np.ndarray, cluster_ids: np.ndarray) -> np.ndarray:
    """U(0,1) for every (replicate, cluster) pair, a pure function of (seed, b, id)."""
    ids = splitmix64(np.asarray(cluster_ids).astype(np.int64).view(np.uint64))
    b = splitmix64(np.asarray(replicates, dtype=np.uint64) + splitmix64(np.array([seed], dtype=np.uint64)))
    with np.errstate(over="ignore"):
        z = splitmix64(b[:, None] ^ (ids[None, :] * np.uint64(0xD6E8FEB86659FD93)))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


_POISSON1_CDF = stats.poisson.cdf(np.arange(0, 30), 1.0)


def replicate_weights(
    cluster_ids: np.ndarray,
    replicates: np.ndarray | range,
    seed: int,
    scheme: Scheme = "multinomial",
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Replicate weights, shape (len(replicates), G), for the clusters ``cluster_ids``.

    ``cluster_ids`` must be the sorted unique cluster ids (int64). Weights are float64 counts:
    how often each cluster enters replicate b. ``out`` (optional, float64, C-contiguous, shape
    (len(replicates), G)) receives the weights instead of a new array and is returned.
    """
    cluster_ids = np.asarray(cluster_ids)
    reps = np.asarray(replicates, dtype=np.int64)
    g = cluster_ids.size
    if out is None:
        out = np.empty((reps.size, g), dtype=np.float64)
    elif out.shape != (reps.size, g) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape {(reps.size, g)}")
    if scheme == "poisson":
        step = max(1, _POISSON_CHUNK // max(g, 1))  # bounds the uint64 temporaries of the hash
        for start in range(0, reps.size, step):
            u = _uniform(seed, reps[start:start + step], cluster_ids)
            out[start:start + step] = np.searchsorted(_POISSON1_CDF, u, side="right")
        return out
    if scheme != "multinomial":
        raise ValueError(f"unknown bootstrap scheme {scheme!r}; use 'multinomial' or 'poisson'")
    if g and np.any(cluster_ids[1:] <= cluster_ids[:-1]):
        raise ValueError("cluster_ids must be sorted and unique")
    draw_type = np.int32 if g < 2**31 else np.int64  # same stream, half the memory traffic
    for row, b in enumerate(reps):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(b), 0x5EED])))
        counts = out[row]
        counts.fill(0.0)  # counted in place, the draws in small pieces: no G-sized temporaries
        for start in range(0, g, _DRAW_CHUNK):
            np.add.at(counts, rng.integers(0, g, size=min(_DRAW_CHUNK, g - start), dtype=draw_type), 1.0)
    return out


_POISSON_CHUNK = 1 << 21  # (replicates × clusters) per hash evaluation
# Draws per call: NumPy's bounded draws continue one stream across calls, so the pieces give the
# numbers of a single size-G call, and a 48 KiB piece stays clear of malloc trimming (Dask workers
# set MALLOC_TRIM_THRESHOLD_=65536; a G-sized temporary per replicate would be page-faulted anew).
_DRAW_CHUNK = 12288


def replicate_blocks(
    cluster_ids: np.ndarray, n_replicates: int, seed: int, scheme: Scheme = "multinomial", block: int = 500,
    *, reuse: bool = False, window: range | None = None,
) -> Iterator[tuple[range, np.ndarray]]:
    """Yield (replicate range, weights) blocks so that B × G never sits in memory at once.

    The blocks are always the whole run's: replicates [0, block), [block, 2·block), … up to
    ``n_replicates``. With ``window`` (a range inside 0 … B − 1: one block of a run computed in
    pieces) only the blocks holding replicates of the window are drawn, each whole, so that
    every product over a block has the shape, and hence the bits, it has in a run of all B
    (BLAS sums a row of a matrix product in an order that depends on the number of rows); the
    caller keeps the window's rows (:func:`window_rows`). A window cut at multiples of
    ``block`` draws nothing outside itself.

    The block shrinks when ``block`` × G would exceed :data:`BLOCK_WEIGHTS_MAX` entries
    (:func:`bounded_block`): a function of G alone, so every window of a run cuts the same blocks.

    With ``reuse=True`` every block is written into the same buffer (block × G float64): the
    yielded array is only valid until the next block is requested. This avoids allocating (and
    page-faulting) a fresh block each time, which at G ≈ 28k costs as much as drawing the weights.
    """
    cluster_ids = np.asarray(cluster_ids)
    block = bounded_block(block, cluster_ids.size)
    cache = _SHARED.get()
    ids_key = None if cache is None else _ids_key(cluster_ids)
    lo, hi = (0, n_replicates) if window is None else (window.start, window.stop)
    if window is not None and (window.step != 1 or not 0 <= lo <= hi <= n_replicates):
        raise ValueError(f"replicate window {window} must be a contiguous range inside 0 … {n_replicates - 1}")
    buffer = None
    for start in range(lo - lo % block, hi, block):
        reps = range(start, min(start + block, n_replicates))
        if cache is not None:
            yield reps, cache.weights(ids_key, cluster_ids, reps, seed, scheme)
            continue
        if not reuse:
            yield reps, replicate_weights(cluster_ids, reps, seed, scheme)
            continue
        if buffer is None:
            buffer = np.empty((min(block, n_replicates), cluster_ids.size), dtype=np.float64)
        yield reps, replicate_weights(cluster_ids, reps, seed, scheme, out=buffer[:len(reps)])


BLOCK_WEIGHTS_MAX = 1 << 24  # entries (128 MiB of float64) of one block of replicate weights


def bounded_block(block: int, n_clusters: int) -> int:
    """The replicates per weight block for G = ``n_clusters``: ``block`` while block × G ≤
    :data:`BLOCK_WEIGHTS_MAX`, else its largest divisor that fits (at least 1).

    A divisor, so that windows cut at multiples of ``block`` (the flow's replicate blocks) still
    cut at block boundaries. With 500 replicates a block, the BIP bootstraps of ≈ 170,000 citizens
    (scale 30) held 680 MiB of weights per block and ≈ 4 GiB at the peak of a block task; G above
    ≈ 33,500 now draws smaller blocks. The weights are a pure function of (seed, replicate,
    cluster id), so the block size changes no weight, only the row count of the block products."""
    if n_clusters <= 0 or block * n_clusters <= BLOCK_WEIGHTS_MAX:
        return block
    fits = max(1, BLOCK_WEIGHTS_MAX // n_clusters)
    return max(d for d in range(1, min(block, fits) + 1) if block % d == 0)


class _SharedWeights:
    """Weight blocks kept for later fits on the same clusters (least recently used dropped beyond
    ``max_bytes``); each block read-only."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.bytes, self.blocks = max_bytes, 0, OrderedDict()
        self.hits = self.misses = 0

    def weights(self, ids_key, cluster_ids, reps: range, seed: int, scheme: Scheme) -> np.ndarray:
        key = (ids_key, reps.start, reps.stop, int(seed), scheme)
        w = self.blocks.get(key)
        if w is not None:
            self.blocks.move_to_end(key)
            self.hits += 1
            return w
        self.misses += 1
        w = replicate_weights(cluster_ids, reps, seed, scheme)
        w.flags.writeable = False
        if w.nbytes <= self.max_bytes:
            self.blocks[key] = w
            self.bytes += w.nbytes
            while self.bytes > self.max_bytes:
                self.bytes -= self.blocks.popitem(last=False)[1].nbytes
        return w


def _ids_key(cluster_ids: np.ndarray) -> tuple:
    ids = np.ascontiguousarray(cluster_ids, dtype=np.int64)
    return ids.size, hashlib.blake2b(ids.tobytes(), digest_size=16).digest()


_SHARED: ContextVar[_SharedWeights | None] = ContextVar("bipdask_shared_replicate_weights", default=None)
SHARED_WEIGHTS_BYTES = 128 << 20


@contextmanager
def shared_weights(max_bytes: int = SHARED_WEIGHTS_BYTES) -> Iterator[_SharedWeights]:
    """Within the block, :func:`replicate_blocks` keeps the weight blocks it draws (up to
    ``max_bytes``, least recently used dropped) and hands them to every later fit on the same
    cluster ids, seed and scheme instead of drawing them again: the same values (a pure function
    of seed, replicate and cluster ids), drawn once. The blocks are read-only. For a series of
    bootstraps on mostly the same clusters (the BIP analyses: five on the caseworker sample's
    citizens, an indicator's effect sizes and slope on the same pairs)."""
    token = _SHARED.set(_SharedWeights(max_bytes))
    try:
        yield _SHARED.get()
    finally:
        _SHARED.reset(token)


def window_rows(reps: range, window: range | None) -> tuple[slice, slice]:
    """For a block ``reps`` of :func:`replicate_blocks`: (its rows that lie in ``window``, where
    they go in the window's result). Without a window: all rows, at ``reps``' own numbers."""
    if window is None:
        return slice(0, len(reps)), slice(reps.start, reps.stop)
    a, b = max(reps.start, window.start), min(reps.stop, window.stop)
    return slice(a - reps.start, b - reps.start), slice(a - window.start, b - window.start)


_DENSE_SUMS_MAX = 1 << 24  # entries (128 MiB) up to which sparse per-cluster sums are made dense


def replicate_sums(
    cluster_ids: np.ndarray, n_replicates: int, seed: int, sums: np.ndarray | sparse.spmatrix,
    scheme: Scheme = "multinomial", block: int = 500,
) -> np.ndarray:
    """(B × q) replicate sums W·S of per-cluster sums ``sums`` (G × q, rows in ``cluster_ids`` order).

    For estimators whose replicates are functions of column sums (cell sums of a DiD, counts):
    the weights of each block of replicates are drawn once into a reused buffer and multiplied
    with every column at once, B × G never in memory. A sparse ``sums`` is made dense when it
    is small (G·q ≤ 2**24), so the product is one BLAS call per block (a sparse product otherwise).
    """
    cluster_ids = np.asarray(cluster_ids)
    if sums.shape[0] != cluster_ids.size:
        raise ValueError(f"sums has {sums.shape[0]} rows for {cluster_ids.size} clusters")
    if sparse.issparse(sums) and sums.shape[0] * sums.shape[1] <= _DENSE_SUMS_MAX:
        sums = sums.toarray()
    sums_t = sparse.csr_matrix(sums.T) if sparse.issparse(sums) else None
    out = np.empty((n_replicates, sums.shape[1]))
    for reps, w in replicate_blocks(cluster_ids, n_replicates, seed, scheme, block, reuse=True):
        out[reps.start:reps.stop] = w @ sums if sums_t is None else (sums_t @ w.T).T
    return out


def cluster_pattern_matrix(cluster_codes: np.ndarray, pattern_codes: np.ndarray, n_clusters: int, n_patterns: int,
                           counts: np.ndarray | None = None) -> sparse.csr_matrix:
    """Sparse (G × P) matrix: how many rows of cluster g have pattern p (weighted by ``counts``)."""
    from bipdask.inference.cells import Cells

    data = np.ones(cluster_codes.size) if counts is None else np.asarray(counts, dtype=np.float64)
    return Cells.of(cluster_codes, pattern_codes, (n_clusters, n_patterns)).sum_matrix(data)


def pattern_weights(weights: np.ndarray, cluster_patterns: sparse.csr_matrix) -> np.ndarray:
    """Replicate weights of the patterns: (B × G) @ (G × P) → (B × P)."""
    return np.asarray((cluster_patterns.T @ weights.T).T)


PATTERN_ROWS = 16  # replicates per sparse product of :func:`pattern_weights_in_rows`


def pattern_weights_in_rows(weights: np.ndarray, patterns_by_cluster: sparse.csr_matrix) -> np.ndarray:
    """:func:`pattern_weights`, the same numbers bit for bit, without its transposed copy of the block.

    ``patterns_by_cluster`` is the (P × G) CSR transpose of the cluster × pattern matrix
    (``cluster_patterns.T.tocsr()``, made once per fit). SciPy's product with ``weights.T`` first
    copies that (G × B) F-ordered view into C order — at G ≈ 20,000 persons and a block of 1,000
    replicates a 160 MB strided copy per block, the largest cost of the Weibull person bootstrap.
    Here the replicates go in slices of :data:`PATTERN_ROWS`, whose transposes are small. Each
    entry is the sum over the pattern's clusters in ascending order, as in :func:`pattern_weights`
    (and the counts are integers, whose float sums are exact in any order)."""
    out = np.empty((weights.shape[0], patterns_by_cluster.shape[0]))
    for a in range(0, weights.shape[0], PATTERN_ROWS):
        chunk = np.ascontiguousarray(weights[a:a + PATTERN_ROWS].T)
        out[a:a + PATTERN_ROWS] = (patterns_by_cluster @ chunk).T
    return out










