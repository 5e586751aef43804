"""The cluster bootstrap of :func:`bipdask.estimators.lpm.lpm` without refitting rows.

Every replicate's coefficients solve the same normal equations on replicate-weighted
per-cluster cross products (``_cluster_moments``): a cluster drawn k times contributes its
moments k times. With absorbed effects nested in the clusters the per-cluster moments of the
absorbed data are exact; otherwise the per-(cluster, level) cell sums (``_cell_sums``) re-absorb
per replicate. ``tests/reference_refits.py``'s ``refit_replicate`` is the slow reference a test compares against.

:class:`PairsState` is what the replicates need after the fit, kept apart from it: a task that
computes a window of replicates (:func:`pairs_replicates`) reads it instead of refitting rows
(the BIP replicate blocks, ``docs/methods.md#replicate-blocks``). ``max_moment_bytes`` bounds the
per-cluster sums held at once (G × q floats: 1.2 GiB for the BIP caseworker LPM's 64 covariates
over 71,555 citizens at scale 30) by forming them, and their products with the weights, a group
of columns at a time. Each column's sums are the same bits; a product's columns can differ from
the whole product's in the last bits (OpenBLAS computes the trailing columns of a product with
a kernel that depends on the matrix width), ≤ 1e-12 relative.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from bipdask.estimators.lpm.absorb import (
    _Absorbed,
)
from bipdask.estimators.newton import solve_many
from bipdask.inference import bootstrap as bs

_COLLINEAR_TOL = 1e-10  # a pivot below this share of its full-sample value: the covariate is collinear
_MOMENT_CHUNK_ENTRIES = 1 << 22  # rows × columns of one block of per-row products (32 MiB)


def _cluster_moments(Z: np.ndarray, w: np.ndarray, codes: np.ndarray, g: int, *, lead: bool,
                     columns: np.ndarray | None = None) -> np.ndarray:
    """Per-cluster sums of the rows' w·z_a·z_b (upper triangle of z), in one pass over the rows.

    With ``lead`` the columns start with Σw and Σw·z (the one-cell sums of the exact no-FE
    bootstrap), so that a replicate needs a single (block × G)·(G × q) product. Rows are visited
    in cluster order (a stable sort when the codes are not sorted already) in blocks of
    ~4M entries, and each cluster's run of rows is reduced with ``np.add.reduceat``: O(n·q),
    in row order within a cluster.

    ``columns`` (without ``lead``): only those columns of the upper triangle, each the same bits
    as in the whole matrix (the rows are cut where the whole matrix cuts them).
    """
    n, p1 = Z.shape
    iu0, iu1 = np.triu_indices(p1)
    off = 1 + p1 if lead else 0
    q = off + iu0.size
    step = max(1, _MOMENT_CHUNK_ENTRIES // q)
    if columns is not None:
        if lead:
            raise ValueError("_cluster_moments: columns needs lead=False")
        iu0, iu1 = iu0[columns], iu1[columns]
        q = iu0.size
    out = np.zeros((g, q))
    if n == 0:
        return out
    order = None if np.all(codes[1:] >= codes[:-1]) else np.argsort(codes, kind="stable")
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n)) if order is None else order[start:start + step]
        z, c = np.asfortranarray(Z[rows]), codes[rows]
        # Column-major products: each column is contiguous for the multiplies and for reduceat.
        F = np.empty((len(c), q), order="F")
        wz = F[:, 1:off] if lead else np.empty_like(z)
        np.multiply(z, w[rows][:, None], out=wz)
        if lead:
            F[:, 0] = w[rows]
        for j, (a, b) in enumerate(zip(iu0, iu1)):
            np.multiply(wz[:, a], z[:, b], out=F[:, off + j])
        first = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
        out[c[first]] += np.add.reduceat(F, first, axis=0)  # clusters are distinct within a block
    return out


def _cell_sums(state: _Absorbed, n_levels: int) -> np.ndarray | sparse.csr_matrix:
    """(G × L·(k+2)) per-(cluster, level) sums of w and w·z̃ (one factor, or the intercept).

    Sparse when few (cluster, level) cells are occupied (e.g. caseworker effects with person
    clusters), dense otherwise (week effects with person clusters: most cells occupied). Each
    occupied cell is one entry, so the dense matrix is written in place without the coordinate
    arrays, CSR conversion and copy of the sparse route (the same numbers: nothing is summed
    there; 1.3 M cells x 5 of Table 8's weekly models took ~1 s per model that way).
    """
    Z, w = state.Z, state.w
    g = state.cluster_ids.size
    lev = state.fe_codes[0] if state.fe_codes else np.zeros(len(w), np.intp)
    cell = state.cluster_codes.astype(np.int64) * n_levels + lev
    occupied, inv = np.unique(cell, return_inverse=True)
    width = Z.shape[1] + 1
    vals = np.empty((occupied.size, width))
    vals[:, 0] = np.bincount(inv, weights=w, minlength=occupied.size)
    for j in range(Z.shape[1]):
        vals[:, j + 1] = np.bincount(inv, weights=w * Z[:, j], minlength=occupied.size)
    if 8 * occupied.size >= g * n_levels:
        dense = np.zeros((g, n_levels * width))
        first = (occupied // n_levels) * (n_levels * width) + (occupied % n_levels) * width
        flat = dense.reshape(-1)
        for j in range(width):
            flat[first + j] = vals[:, j]
        return dense
    rows = np.repeat(occupied // n_levels, width)
    cols = (np.repeat(occupied % n_levels, width) * width + np.tile(np.arange(width), occupied.size))
    return sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(g, n_levels * width))


def _bootstrap(state: _Absorbed, keep: list[int], k: int, n_rep: int, seed: int, scheme: bs.Scheme,
               block: int, absorption: str, n_levels: list[int], window: range | None = None,
               max_moment_bytes: int | None = None) -> np.ndarray:
    """(B × params) replicate estimates from per-cluster sums (see the module docstring); with
    ``window`` only its replicates (row i = replicate window[i]), each as in the whole run.

    Per block of replicates the cluster weights W (block × G, one reused buffer) enter one dense
    product W·[M | S] with the per-cluster sums S of w·z·z' and, for the exact absorption, the
    per-(cluster, level) sums M of w and w·z (a separate sparse product when M is sparse).
    ``max_moment_bytes``: when S alone (no dense M) is larger, S and W·S are formed a group of
    columns at a time (the module docstring).
    """
    solver = _BlockSolver(state, keep, k, n_rep, seed, scheme, block, absorption, n_levels, window,
                          max_moment_bytes)
    for reps, wc in bs.replicate_blocks(state.cluster_ids, n_rep, seed, scheme, block, reuse=True, window=window):
        solver.solve(reps, wc)
    return solver.out


class _BlockSolver:
    """The replicates of one fit, a block of replicate weights at a time (:func:`_bootstrap`):
    the per-cluster sums are formed once (``__init__``), :meth:`solve` turns one block's cluster
    weights into that block's replicate estimates in ``out``. Separate, so that several fits on
    the same clusters can take each weight block from one draw (:class:`SharedReplicates`)."""

    def __init__(self, state: _Absorbed, keep: list[int], k: int, n_rep: int, seed: int, scheme: bs.Scheme,
                 block: int, absorption: str, n_levels: list[int], window: range | None = None,
                 max_moment_bytes: int | None = None) -> None:
        p1 = k + 1
        iu = np.triu_indices(p1)
        exact = absorption == "exact"
        L = n_levels[0] if state.fe_codes else 1
        width = L * (p1 + 1)  # columns of M
        g = state.cluster_ids.size
        R = products = None
        if exact and not state.fe_codes:  # one cell: M = (Σw, Σw·z) leads the moment columns
            R = _cluster_moments(state.Z, state.w, state.cluster_codes, g, lead=True)
            M_sparse, lead = None, width
        else:
            M = _cell_sums(state, L) if exact else None
            q = iu[0].size
            if (max_moment_bytes is not None and 8 * g * q > max_moment_bytes
                    and (M is None or sparse.issparse(M))):
                products, full_diag_all = _column_products(state, g, q, n_rep, seed, scheme, block, window,
                                                           max_moment_bytes)
                R, M_sparse, lead = None, M, 0
            else:
                S = _cluster_moments(state.Z, state.w, state.cluster_codes, g, lead=False)
                if M is None or sparse.issparse(M):
                    R, M_sparse, lead = S, M, 0
                else:
                    R, M_sparse, lead = np.hstack([M, S]), None, width
                    del S, M
        self.out = np.full((n_rep if window is None else len(window), k + int(state.means is not None)), np.nan)
        diag_cols = [np.flatnonzero((iu[0] == j) & (iu[1] == j))[0] for j in keep]
        self.full_diag = (full_diag_all if R is None else R[:, lead:].sum(axis=0))[diag_cols]
        self.kk = np.asarray(keep, dtype=np.intp)
        self.means, self.k, self.p1, self.iu, self.exact, self.L = state.means, k, p1, iu, exact, L
        self.R, self.M_sparse, self.lead, self.products, self.window = R, M_sparse, lead, products, window

    @property
    def nbytes(self) -> int:
        """Bytes of the per-cluster sums (and precomputed products) the solver holds."""
        n = 0 if self.R is None else self.R.nbytes
        if self.M_sparse is not None:
            n += self.M_sparse.data.nbytes + self.M_sparse.indices.nbytes + self.M_sparse.indptr.nbytes
        return n + sum(v.nbytes for v in (self.products or {}).values())

    def solve(self, reps: range, wc: np.ndarray, T: np.ndarray | None = None) -> None:
        """Solve the block ``reps`` of :func:`~bipdask.inference.bootstrap.replicate_blocks` (its
        weights ``wc``; the whole block: its bits do not depend on the window) into ``out``;
        ``T``: the block's product ``wc @ R`` when the caller formed it (:class:`SharedReplicates`)."""
        means, k, p1, iu, kk, lead = self.means, self.k, self.p1, self.iu, self.kk, self.lead
        nb = len(reps)
        src, dst = bs.window_rows(reps, self.window)
        if T is None:
            T = self.products.pop(reps.start) if self.R is None else wc @ self.R
        Q = np.empty((nb, p1, p1))
        Q[:, iu[0], iu[1]] = T[:, lead:]
        Q[:, iu[1], iu[0]] = T[:, lead:]
        if self.exact:
            C = T[:, :lead] if self.M_sparse is None else np.asarray(self.M_sparse.T @ wc.T).T
            C = C.reshape(nb, self.L, p1 + 1)
            nl = C[..., 0]
            mean = np.divide(C[..., 1:], nl[..., None], out=np.zeros_like(C[..., 1:]), where=nl[..., None] > 0)
            Q -= np.matmul(C[..., 1:].transpose(0, 2, 1), mean)
        A = Q[:, kk[:, None], kk[None, :]]
        rhs = Q[:, kk, k]
        good = np.all(np.diagonal(A, axis1=1, axis2=2) > _COLLINEAR_TOL * np.maximum(self.full_diag, 1e-300), axis=1)
        beta = np.full((nb, kk.size), np.nan)
        if good.any() and kk.size:
            beta[good] = solve_many(A[good], rhs[good])
        self.out[dst, kk] = beta[src]
        if means is not None:
            n_b = C[:, 0, 0]
            shift = mean[:, 0, :]  # replicate means of (x̃, ỹ): x̄_b − x̄
            cons = means[k] + shift[:, k] - np.einsum("bj,bj->b", means[kk] + shift[:, kk], beta)
            self.out[dst, k] = np.where(n_b > 0, cons, np.nan)[src]


def _column_products(state: _Absorbed, g: int, q: int, n_rep: int, seed: int, scheme: bs.Scheme, block: int,
                     window: range | None, max_moment_bytes: int) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """W·S of every weight block of the window, keyed by the block's first replicate, and S's
    column sums, with at most ``max_moment_bytes`` of S at once: S is formed a group of columns
    at a time (each column as in the whole S) and every block's weights are drawn per group."""
    groups = np.array_split(np.arange(q), max(2, -(-8 * g * q // max_moment_bytes)))
    products: dict[int, np.ndarray] = {}
    sums = np.empty(q)
    for cols in groups:  # q ≥ 2 groups of ≥ 2 columns: a column sum of S[:, cols] is S's (row order)
        part = _cluster_moments(state.Z, state.w, state.cluster_codes, g, lead=False, columns=cols)
        sums[cols] = part.sum(axis=0)
        for reps, wc in bs.replicate_blocks(state.cluster_ids, n_rep, seed, scheme, block, reuse=True,
                                            window=window):
            products.setdefault(reps.start, np.empty((len(reps), q)))[:, cols] = wc @ part
        del part
    return products, sums


@dataclass(frozen=True)
class PairsState:
    """What :func:`pairs_replicates` needs of a fitted :func:`~bipdask.estimators.lpm.model.lpm`:
    its absorbed design ``Z`` (n × (k+1), fixed-effect models) or, without fixed effects, the raw
    columns of [X, y] in their smallest exact dtype (0/1 dummies as int8) and their means (Z is
    raw − means, as in the fit); the cluster codes and sorted ids, the first factor's codes (the
    exact one-way absorption), which covariates were kept, the absorption method and the block
    of replicates. A few MB for the BIP progression models, ~100 MB for the caseworker LPM at
    scale 30 — instead of the fit's frames."""

    Z: np.ndarray | None
    raw: tuple[np.ndarray, ...] | None
    w: np.ndarray | None  # None: all ones
    cluster_codes: np.ndarray
    cluster_ids: np.ndarray
    fe_codes: tuple[np.ndarray, ...]
    means: np.ndarray | None
    keep: tuple[int, ...]
    k: int
    absorption: str
    n_levels: tuple[int, ...]
    block: int
    names: tuple[str, ...]  # the parameters' names (the fit's ``params`` index)

    @classmethod
    def of(cls, state: _Absorbed, keep, k: int, absorption: str, n_levels, block: int, names,
           raw: np.ndarray | None = None) -> PairsState:
        """From the fit's state; ``raw`` (no fixed effects): the fit's [X, y] before centring."""
        codes = state.cluster_codes
        if state.cluster_ids.size < 2**31:
            codes = codes.astype(np.int32)
        w = None if np.all(state.w == 1.0) else state.w
        fe = tuple(c.astype(np.int32) if c.size and c.max() < 2**31 else c for c in state.fe_codes)
        compact = (None if raw is None or state.means is None
                   else tuple(_compact(raw[:, j]) for j in range(raw.shape[1])))
        return cls(None if compact is not None else state.Z, compact, w, codes, state.cluster_ids, fe,
                   state.means, tuple(int(j) for j in keep), int(k), absorption, tuple(int(v) for v in n_levels),
                   int(block), tuple(names))

    def absorbed(self) -> _Absorbed:
        """The fit's state as the bootstrap reads it: Z and the weights exactly as in the fit."""
        if self.raw is not None:
            Z = np.column_stack([c.astype(np.float64) for c in self.raw]) - self.means
        else:
            Z = self.Z
        w = np.ones(len(Z)) if self.w is None else self.w
        codes = self.cluster_codes.astype(np.intp)
        return _Absorbed(Z, w, codes, self.cluster_ids, tuple(c.astype(np.intp) for c in self.fe_codes), (),
                         self.means, None)


def _compact(col: np.ndarray) -> np.ndarray:
    """``col`` in the smallest integer dtype that gives back its exact float64 values (0/1
    dummies: int8), else a float64 copy (a −0.0 would come back as 0.0). Never a view: a column
    of the fit's [X, y] would keep that whole matrix alive with the state (at scale 30 the BIP
    progression's 22 kept states held 767 MB of matrices that way)."""
    if col.size == 0 or not np.all(np.isfinite(col)) or np.any(np.signbit(col) & (col == 0)):
        return col.copy()
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if (col.min() >= info.min and col.max() <= info.max
                and np.array_equal(col.astype(dtype).astype(np.float64), col)):
            return col.astype(dtype)
    return col.copy()


def pairs_replicates(ps: PairsState, n_rep: int, seed: int, scheme: bs.Scheme, window: range | None = None,
                     max_moment_bytes: int | None = None) -> pd.DataFrame:
    """Replicates ``window`` of B = ``n_rep`` of the fit ``ps`` was kept from, as its
    ``bootstrap.replicates`` frame (columns: its parameters): the bits of a fit with
    ``bootstrap=n_rep, replicate_window=window, max_moment_bytes=...``, without its rows."""
    reps = _bootstrap(ps.absorbed(), list(ps.keep), ps.k, n_rep, seed, scheme, ps.block, ps.absorption,
                      list(ps.n_levels), window, max_moment_bytes)
    return pd.DataFrame(reps, columns=pd.Index(ps.names))


class _DistinctColumns:
    """The distinct columns (bit for bit) of several per-cluster sum matrices (each G × q_i),
    collected one matrix at a time. Fits that differ only in the outcome share most sums (Σw,
    Σw·x̃ per level, Σw·x̃x̃'): Table 8's four weekly models have 4 × 285 columns, 457 of them
    distinct, so one product per weight block does the work of four."""

    def __init__(self) -> None:
        self.columns: list[np.ndarray] = []
        self._seen: dict[bytes, int] = {}

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns)

    def add(self, m: np.ndarray) -> np.ndarray:
        """Where ``m``'s columns are among the distinct columns (new ones appended)."""
        where = np.empty(m.shape[1], dtype=np.intp)
        for j in range(m.shape[1]):
            col = np.array(m[:, j])  # a contiguous copy: no view keeps ``m`` alive
            key = hashlib.blake2b(col.tobytes(), digest_size=16).digest()
            at = self._seen.get(key)
            if at is None or not np.array_equal(self.columns[at], col):
                at = self._seen[key] = len(self.columns)  # a (practically impossible) collision: its own column
                self.columns.append(col)
            where[j] = at
        return where

    def matrix(self) -> np.ndarray:
        """The G × U matrix of the distinct columns; the collected columns are let go as they are copied."""
        out = np.empty((self.columns[0].size if self.columns else 0, len(self.columns)))
        for u in range(len(self.columns)):
            out[:, u] = self.columns[u]
            self.columns[u] = None
        self.columns, self._seen = [], {}
        return out


SHARED_SUMS_BYTES = 192 << 20  # per-cluster sums of the fits sharing weight blocks (SharedReplicates)


class SharedReplicates:
    """The pairs replicates of several fits on the same clusters, each block of weights drawn once.

    Each fit added (:meth:`add`, its :class:`PairsState`: the same cluster ids and block for all)
    gets the replicates :func:`pairs_replicates` gives it — the same blocks of the same weights
    enter products with the same sums — but the weights, a pure function of (seed,
    replicate, cluster id), are drawn once per block for all of them instead of once per fit, and
    the sums the fits share (all but the outcome's: :class:`_DistinctColumns`) enter one product
    per block. The product's columns can differ from a fit's own product in the last bits
    (BLAS sums in an order that depends on the matrix width): ≤ 1e-12 relative in the replicates.
    HIR Table 8's four weekly exit LPMs (one per destination, the same cells and persons) and its
    four persons' LPMs are such fits.

    A fit's per-cluster sums are formed when it is added (and its new distinct columns kept), so
    the caller can drop the fit's rows right after; pending fits are solved together as soon as
    their distinct sums reach ``max_bytes`` (one pass over the weight blocks), so at most
    ``max_bytes`` plus one fit's sums are held (at scale 1 Table 8's four weekly fits: 120 MB of
    distinct sums, one pass).
    :meth:`replicates` solves the rest and returns every fit's replicates in the order added.
    """

    def __init__(self, n_rep: int, seed: int, scheme: bs.Scheme, window: range | None = None,
                 max_moment_bytes: int | None = None, max_bytes: int = SHARED_SUMS_BYTES) -> None:
        self.n_rep, self.seed, self.scheme, self.window = n_rep, seed, scheme, window
        self.max_moment_bytes, self.max_bytes = max_moment_bytes, max_bytes
        self._ids: np.ndarray | None = None
        self._block = 0
        self._names: list[tuple[str, ...]] = []
        self._pending: list[tuple[int, _BlockSolver, np.ndarray | None]] = []
        self._sums = _DistinctColumns()  # the pending fits' per-cluster sums
        self._done: dict[int, np.ndarray] = {}
        self.passes = 0  # passes over the weight blocks so far

    def add(self, ps: PairsState) -> int:
        """Form the fit's per-cluster sums; returns its position in :meth:`replicates`."""
        if self._ids is None:
            self._ids, self._block = ps.cluster_ids, ps.block
        elif ps.block != self._block or not np.array_equal(ps.cluster_ids, self._ids):
            raise ValueError("SharedReplicates: the fits must have the same clusters and block of replicates")
        solver = _BlockSolver(ps.absorbed(), list(ps.keep), ps.k, self.n_rep, self.seed, self.scheme, ps.block,
                              ps.absorption, list(ps.n_levels), self.window, self.max_moment_bytes)
        cols = None
        if solver.R is not None:  # its sums join the distinct columns of the pending fits
            cols = self._sums.add(solver.R)
            solver.R = None
        self._names.append(ps.names)
        self._pending.append((len(self._names) - 1, solver, cols))
        if self._sums.nbytes + sum(s.nbytes for _, s, _ in self._pending) >= self.max_bytes:
            self._solve_pending()
        return len(self._names) - 1

    def _solve_pending(self) -> None:
        if not self._pending:
            return
        joint = self._sums.matrix()
        for reps, wc in bs.replicate_blocks(self._ids, self.n_rep, self.seed, self.scheme, self._block, reuse=True,
                                            window=self.window):
            T = wc @ joint if joint.shape[1] else None
            for _, solver, cols in self._pending:
                solver.solve(reps, wc, None if cols is None else T[:, cols])
        del joint
        self.passes += 1
        self._done.update((i, solver.out) for i, solver, _ in self._pending)
        self._pending = []

    def replicates(self) -> list[pd.DataFrame]:
        """Every added fit's replicates (rows: the window's, or all B), as :func:`pairs_replicates`."""
        self._solve_pending()
        return [pd.DataFrame(self._done[i], columns=pd.Index(names)) for i, names in enumerate(self._names)]
