"""The cluster bootstrap of :func:`bipdask.estimators.lpm.lpm` without refitting rows.

Every replicate's coefficients solve the same normal equations on replicate-weighted
per-cluster cross products (``_cluster_moments``): a cluster drawn k times contributes its
moments k times. With absorbed effects nested in the clusters the per-cluster moments of the
absorbed data are exact; otherwise the per-(cluster, level) cell sums (``_cell_sums``) re-absorb
per replicate. ``tests/reference_refits.py``'s ``refit_replicate`` is the slow reference a test compares against.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from bipdask.estimators.lpm.absorb import (
    _Absorbed,
)
from bipdask.estimators.newton import solve_many
from bipdask.inference import bootstrap as bs

_COLLINEAR_TOL = 1e-10  # a pivot below this share of its full-sample value: the covariate is collinear
_MOMENT_CHUNK_ENTRIES = 1 << 22  # rows × columns of one block of per-row products (32 MiB)


def _cluster_moments(Z: np.ndarray, w: np.ndarray, codes: np.ndarray, g: int, *, lead: bool) -> np.ndarray:
    """Per-cluster sums of the rows' w·z_a·z_b (upper triangle of z), in one pass over the rows.

    With ``lead`` the columns start with Σw and Σw·z (the one-cell sums of the exact no-FE
    bootstrap), so that a replicate needs a single (block × G)·(G × q) product. Rows are visited
    in cluster order (a stable sort when the codes are not sorted already) in blocks of
    ~4M entries, and each cluster's run of rows is reduced with ``np.add.reduceat``: O(n·q),
    in row order within a cluster.
    """
    n, p1 = Z.shape
    iu0, iu1 = np.triu_indices(p1)
    off = 1 + p1 if lead else 0
    q = off + iu0.size
    out = np.zeros((g, q))
    if n == 0:
        return out
    order = None if np.all(codes[1:] >= codes[:-1]) else np.argsort(codes, kind="stable")
    step = max(1, _MOMENT_CHUNK_ENTRIES // q)
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
    clusters), dense otherwise (week effects with person clusters: most cells occupied).
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
    rows = np.repeat(occupied // n_levels, width)
    cols = (np.repeat(occupied % n_levels, width) * width + np.tile(np.arange(width), occupied.size))
    m = sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(g, n_levels * width))
    return m if 8 * occupied.size < g * n_levels else m.toarray()


def _bootstrap(state: _Absorbed, keep: list[int], k: int, n_rep: int, seed: int, scheme: bs.Scheme,
               block: int, absorption: str, n_levels: list[int], window: range | None = None) -> np.ndarray:
    """(B × params) replicate estimates from per-cluster sums (see the module docstring); with
    ``window`` only its replicates (row i = replicate window[i]), each as in the whole run.

    Per block of replicates the cluster weights W (block × G, one reused buffer) enter one dense
    product W·[M | S] with the per-cluster sums S of w·z·z' and, for the exact absorption, the
    per-(cluster, level) sums M of w and w·z (a separate sparse product when M is sparse).
    """
    p1 = k + 1
    iu = np.triu_indices(p1)
    with_cons = state.means is not None
    exact = absorption == "exact"
    L = n_levels[0] if state.fe_codes else 1
    width = L * (p1 + 1)  # columns of M
    g = state.cluster_ids.size
    if exact and not state.fe_codes:  # one cell: M = (Σw, Σw·z) leads the moment columns
        R = _cluster_moments(state.Z, state.w, state.cluster_codes, g, lead=True)
        M_sparse, lead = None, width
    else:
        S = _cluster_moments(state.Z, state.w, state.cluster_codes, g, lead=False)
        M = _cell_sums(state, L) if exact else None
        if M is None or sparse.issparse(M):
            R, M_sparse, lead = S, M, 0
        else:
            R, M_sparse, lead = np.hstack([M, S]), None, width
            del S, M
    out = np.full((n_rep if window is None else len(window), k + int(with_cons)), np.nan)
    diag_cols = [np.flatnonzero((iu[0] == j) & (iu[1] == j))[0] for j in keep]
    full_diag = R[:, lead:].sum(axis=0)[diag_cols]
    kk = np.asarray(keep, dtype=np.intp)
    for reps, wc in bs.replicate_blocks(state.cluster_ids, n_rep, seed, scheme, block, reuse=True, window=window):
        nb = len(reps)
        src, dst = bs.window_rows(reps, window)  # the whole block is solved: its bits do not depend on the window
        T = wc @ R
        Q = np.empty((nb, p1, p1))
        Q[:, iu[0], iu[1]] = T[:, lead:]
        Q[:, iu[1], iu[0]] = T[:, lead:]
        if exact:
            C = T[:, :lead] if M_sparse is None else np.asarray(M_sparse.T @ wc.T).T
            C = C.reshape(nb, L, p1 + 1)
            nl = C[..., 0]
            mean = np.divide(C[..., 1:], nl[..., None], out=np.zeros_like(C[..., 1:]), where=nl[..., None] > 0)
            Q -= np.matmul(C[..., 1:].transpose(0, 2, 1), mean)
        A = Q[:, kk[:, None], kk[None, :]]
        rhs = Q[:, kk, k]
        good = np.all(np.diagonal(A, axis1=1, axis2=2) > _COLLINEAR_TOL * np.maximum(full_diag, 1e-300), axis=1)
        beta = np.full((nb, kk.size), np.nan)
        if good.any() and kk.size:
            beta[good] = solve_many(A[good], rhs[good])
        out[dst, kk] = beta[src]
        if with_cons:
            n_b = C[:, 0, 0]
            shift = mean[:, 0, :]  # replicate means of (x̃, ỹ): x̄_b − x̄
            cons = state.means[k] + shift[:, k] - np.einsum("bj,bj->b", state.means[kk] + shift[:, kk], beta)
            out[dst, k] = np.where(n_b > 0, cons, np.nan)[src]
    return out
