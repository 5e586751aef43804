"""Cluster bootstrap of the Cox model without refitting rows: weighted vectorised Newton.

Continuous, time-varying covariates (the week's caseload) cannot be compressed into a few
patterns, so every replicate keeps all rows and re-weights them: replicate b gives row i the
weight v[b, i] = number of times its cluster was drawn. Newton–Raphson then runs for a block of
replicates at once, from the full-sample estimate (3–4 steps), with all risk-set sums computed
as sparse matrix products.

Exactness: a replicate is treated as the resampled data set — a cluster drawn k times is k
copies. Efron's tie correction therefore counts copies (d = Σ v over the tied deaths, each with
weight 1), so each replicate equals ``cox_ph`` refitted on the duplicated rows, to solver
precision. (R's case-weight convention, used by :func:`bipdask.estimators.cox.model.cox_ph` for user weights,
would use the mean weight instead; the two coincide for Breslow.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bipdask.estimators.newton import vectorised_newton
from bipdask.inference import bootstrap as bs
from bipdask.inference.pairs import BootstrapSummary, summarise

REPLICATE_BLOCK = 50  # replicates solved together (:func:`bipdask.estimators.cox.model.cox_fit`'s block)


class _BlockStratum:
    """One stratum prepared for replicate blocks.

    Rows are kept in the order of the event-time slot in which they leave the risk set
    (``idx_stop``), so every risk-set sum is a dense (B × n_j) @ (n_j × q) product per slot over
    the q = 1 + p + p(p+1)/2 moment columns (1, x, upper triangle of x xᵀ). Person-week rows
    (k, k+1] are at risk at one event time at most; rows at risk at none are dropped and no
    entry-side subtraction is needed. Longer intervals take the general path (entry sums
    subtracted, then cumulated).
    """

    def __init__(self, st, cluster_code: np.ndarray):
        m, p = st.times.size, st.X.shape[1]
        span = st.idx_stop - st.idx_start
        keep = span > 0
        order = np.flatnonzero(keep)[np.argsort(st.idx_stop[keep], kind="stable")]
        self.m, self.p = m, p
        self.single_slot = bool(np.all(span[keep] == 1))
        self.X = st.X[order]
        self.cluster_code = cluster_code[order]
        self.pairs = [(i, k) for i in range(p) for k in range(i, p)]
        self.Z = np.column_stack([np.ones(order.size), self.X, *[self.X[:, i] * self.X[:, k] for i, k in self.pairs]])
        idx_stop, idx_start = st.idx_stop[order], st.idx_start[order]
        self.stop_off = np.concatenate([[0], np.cumsum(np.bincount(idx_stop, minlength=m + 1))])
        if not self.single_slot:
            self.start_order = np.argsort(idx_start, kind="stable")
            self.start_off = np.concatenate([[0], np.cumsum(np.bincount(idx_start, minlength=m + 1))])
            self.Zb = self.Z[self.start_order]
        death_time = st.death_time[order]
        self.dead_rows = np.flatnonzero(death_time >= 0)  # already sorted by time: stop order
        self.dead_off = np.concatenate([[0], np.cumsum(np.bincount(death_time[self.dead_rows], minlength=m))])
        self.Zd = self.Z[self.dead_rows]
        self.Xd = self.X[self.dead_rows]

    @staticmethod
    def _seg_sums(r: np.ndarray, Z: np.ndarray, off: np.ndarray) -> np.ndarray:
        out = np.zeros((r.shape[0], off.size - 1, Z.shape[1]))
        for j in range(off.size - 1):
            if off[j + 1] > off[j]:
                out[:, j] = r[:, off[j]:off[j + 1]] @ Z[off[j]:off[j + 1]]
        return out

    def moments(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Risk-set and death-set moment sums at every event time: two (B × m × q) arrays."""
        add = self._seg_sums(r, self.Z, self.stop_off)
        if self.single_slot:
            risk = add[:, 1:]
        else:
            net = add - self._seg_sums(r[:, self.start_order], self.Zb, self.start_off)
            risk = np.cumsum(net[:, ::-1], axis=1)[:, ::-1][:, 1:]
        dead = self._seg_sums(r[:, self.dead_rows], self.Zd, self.dead_off)
        return risk, dead

    def dead_copies(self, v: np.ndarray) -> np.ndarray:
        """(B × m) number of tied deaths per event time, counting cluster copies."""
        return np.add.reduceat(v[:, self.dead_rows], self.dead_off[:-1], axis=1) * (np.diff(self.dead_off) > 0)

    def unpack(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split moment sums into S0 (B×m), S1 (B×m×p), S2 (B×m×p×p)."""
        p = self.p
        S2 = np.empty(M.shape[:2] + (p, p))
        for c, (i, k) in enumerate(self.pairs):
            S2[..., i, k] = S2[..., k, i] = M[..., 1 + p + c]
        return M[..., 0], M[..., 1:1 + p], S2


def _stratum_grad_hess(beta: np.ndarray, vb: np.ndarray, dead_copies: np.ndarray, bst: _BlockStratum,
                       ties: str = "efron") -> tuple[np.ndarray, np.ndarray]:
    """One stratum's score (B × p) and Hessian (B × p × p) of the partial likelihood, copies
    semantics; the model's are the sums over strata."""
    B, p = beta.shape
    U = np.zeros((B, p))
    H = np.zeros((B, p, p))
    r = vb * np.exp(beta @ bst.X.T)  # B × n
    risk, dead = bst.moments(r)
    S0, S1, S2 = bst.unpack(risk)
    D0, D1, D2 = bst.unpack(dead)
    U += vb[:, bst.dead_rows] @ bst.Xd
    if ties == "breslow":
        a = S1 / S0[..., None]
        U -= np.einsum("bm,bmi->bi", dead_copies, a)
        H -= np.einsum("bm,bmij->bij", dead_copies / S0, S2) - np.einsum("bm,bmi,bmj->bij", dead_copies, a, a)
        return U, H
    # Efron: the k-th of d tied deaths sees the risk set less k/d of the dead, f_k = k/d:
    #   U −= Σ_k (S1 − f_k D1)/s0_k,  s0_k = S0 − f_k D0
    #   H −= Σ_k [(S2 − f_k D2)/s0_k − (S1 − f_k D1)(S1 − f_k D1)ᵀ/s0_k²]
    # Expanding in f_k leaves the tie index k only in five scalar sums per (b, m), so no
    # array carries both k and the p × p moments.
    ndead = np.rint(dead_copies).astype(np.int64)
    k = np.arange(int(ndead.max()) if ndead.size else 0)
    on = k[None, None, :] < ndead[..., None]  # B × m × K
    frac = np.where(on, k / np.maximum(ndead, 1)[..., None], 0.0)
    inv = np.where(on, 1.0 / np.where(on, S0[..., None] - frac * D0[..., None], 1.0), 0.0)
    inv2 = inv * inv
    c0, c1 = inv.sum(axis=2), (frac * inv).sum(axis=2)
    e0, e1, e2 = inv2.sum(axis=2), (frac * inv2).sum(axis=2), (frac * frac * inv2).sum(axis=2)
    U -= np.einsum("bm,bmi->bi", c0, S1) - np.einsum("bm,bmi->bi", c1, D1)
    SS = np.einsum("bmi,bmj->bmij", S1, S1)
    SD = np.einsum("bmi,bmj->bmij", S1, D1)
    DD = np.einsum("bmi,bmj->bmij", D1, D1)
    H -= (np.einsum("bm,bmij->bij", c0, S2) - np.einsum("bm,bmij->bij", c1, D2)
          - np.einsum("bm,bmij->bij", e0, SS) + np.einsum("bm,bmij->bij", e1, SD + SD.transpose(0, 1, 3, 2))
          - np.einsum("bm,bmij->bij", e2, DD))
    return U, H


def bootstrap_cox(source, params: pd.Series, n_replicates: int, seed: int, scheme: str = "multinomial",
                  block: int = 50) -> BootstrapSummary:
    """B replicate Cox estimates by weighted vectorised Newton from the full-sample estimate
    (:func:`cox_replicates` of all B, summarised)."""
    return summarise(cox_replicates(source, params, n_replicates, seed, scheme, block), params, scheme, seed)


def cox_replicates(source, params: pd.Series, n_replicates: int, seed: int, scheme: str = "multinomial",
                   block: int = 50, window: range | None = None) -> np.ndarray:
    """The replicate estimates (len(window) × k; all B without ``window``), NaN rows for failed
    replicates.

    ``source`` is the fit's :class:`~bipdask.estimators.cox.source.StrataSource`: per block of
    replicates the cluster weights (block × G) go to its partitions once, then every Newton step
    brings back only the per-stratum score and Hessian stacks, summed in stratum order.
    With ``window`` (a contiguous range inside 0 … B − 1) only the blocks holding its replicates
    are solved, each whole (:func:`~bipdask.inference.bootstrap.replicate_blocks`), so a
    replicate's Newton sees the same block and active rows as in a run of all B: any cut of the
    replicates into windows gives the run's replicates bit for bit (the flow's replicate-window
    tasks, :mod:`flows.distributed_cox`)."""
    ids = source.cluster_ids()
    beta0 = params.to_numpy()
    n_out = n_replicates if window is None else len(window)
    out = np.empty((n_out, beta0.size))
    for reps, wc in bs.replicate_blocks(ids, n_replicates, seed, scheme, block, reuse=True, window=window):
        grad_hess = source.block(ids, wc)
        theta, _ = vectorised_newton(grad_hess, np.tile(beta0, (len(reps), 1)), tol=1e-9)
        src, dst = bs.window_rows(reps, window)
        out[dst] = theta[src]
    return out
