"""Cluster bootstrap of the Cox model without refitting rows: weighted vectorised Newton.

Continuous, time-varying covariates (the week's caseload) cannot be compressed into a few
patterns per cluster, so every replicate keeps all rows and re-weights them: replicate b gives
row i the weight v[b, i] = number of times its cluster was drawn. Newton–Raphson then runs for a
block of replicates at once, from the full-sample estimate (3–4 steps), with all risk-set sums
computed as sparse matrix products.

Rows that enter every sum alike — the same stratum, the same event-time slots at risk, the same
death time and the same covariates — are merged into one *cell* before any replicate is solved
(:class:`_BlockStrata`); a cell's replicate weight is the sum of its rows' weights, drawn once
per block, so a Newton step costs O(cells × replicates), not O(rows × replicates). All strata of
a partition are solved together (exp(x'β) once per distinct covariate vector, one sparse product
for all moment sums per Newton step), and every per-stratum term is computed from its own
stratum's cells only, and every replicate's from its own column — element-wise operations and
row-wise sparse sums — so it is the same to the last bit in whatever partition its stratum sits
and whichever replicates are solved beside it. Several models on the same clusters share each
block's weights (:func:`cox_replicates_many`).

Exactness: a replicate is treated as the resampled data set — a cluster drawn k times is k
copies. Efron's tie correction therefore counts copies (d = Σ v over the tied deaths, each with
weight 1), so each replicate equals ``cox_ph`` refitted on the duplicated rows, to solver
precision. (R's case-weight convention, used by :func:`bipdask.estimators.cox.model.cox_ph` for user weights,
would use the mean weight instead; the two coincide for Breslow.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from bipdask.estimators.newton import vectorised_newton
from bipdask.inference import bootstrap as bs
from bipdask.inference.pairs import BootstrapSummary, summarise

# Replicates solved together (:func:`bipdask.estimators.cox.model.cox_fit`'s block). A replicate's
# estimate does not depend on it (every term comes from the replicate's own column), only the
# speed: at scale 1 a block of 20-25 took 20-35 % less CPU than 50 or 100 on a Dask worker
# (smaller per-step arrays), and below ~20 Python's per-step overhead grows.
REPLICATE_BLOCK = 25


def _cells(st) -> tuple[np.ndarray, np.ndarray]:
    """(rows at risk at some event time, sorted by cell; their cell number): rows with equal
    (idx_start, idx_stop, death_time, x) share a cell, numbered in the lexicographic order of
    that key."""
    keep = np.flatnonzero(st.idx_stop > st.idx_start)
    key = np.column_stack([st.idx_start[keep], st.idx_stop[keep], st.death_time[keep], st.X[keep]]).astype(np.float64)
    perm = np.lexsort(key.T[::-1])  # the first column is the primary key
    key = key[perm]
    new = np.ones(keep.size, dtype=bool)
    new[1:] = np.any(key[1:] != key[:-1], axis=1)
    return keep[perm], np.cumsum(new) - 1


@dataclass(frozen=True)
class BlockWeights:
    """A block's replicate weights on a :class:`_BlockStrata`: N (cells × B) the summed cluster
    weights of each cell's rows, ``ndead`` (slots × B) the tied deaths per event time counting
    copies, ``ud0`` (strata × k × B) each stratum's weighted sum of the dead rows' covariates
    (the β-free part of the score); ``ties``: the block's Efron terms (:func:`_tie_index`)."""

    N: np.ndarray
    ndead: np.ndarray
    ud0: np.ndarray
    ties: tuple[np.ndarray, np.ndarray, np.ndarray]
    work: dict = field(default_factory=dict, compare=False, repr=False)  # scratch arrays, reused

    def buffer(self, name: str, shape: tuple) -> np.ndarray:
        """A scratch array kept for the block's Newton steps: arrays allocated anew every step are
        page-faulted anew on Dask workers (MALLOC_TRIM_THRESHOLD_=65536 returns freed memory to the
        system at once), which doubled the cost of a step."""
        buf = self.work.get(name)
        if buf is None or buf.shape != shape:
            buf = self.work[name] = np.empty(shape)
        return buf

    def rows(self, rows: np.ndarray) -> BlockWeights:
        """The weights of replicates ``rows`` of the block."""
        nd = self.ndead[:, rows]
        return BlockWeights(self.N[:, rows], nd, self.ud0[:, :, rows], _tie_index(nd))


def _tie_index(ndead: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efron's tie terms of (slots × b) tied-death counts d, one entry per (slot, replicate, k)
    with k < d, in (slot, replicate, k) order: the counts d (flat), each entry's flat (slot,
    replicate) position and the fraction k/d of the dead it removes."""
    nd = np.rint(ndead).astype(np.int64).ravel()
    idx = np.repeat(np.arange(nd.size), nd)
    first = np.repeat(np.cumsum(nd) - nd, nd)
    return nd, idx, (np.arange(idx.size) - first) / nd[idx] if idx.size else np.zeros(0)


class _BlockStrata:
    """The strata of a partition prepared for replicate blocks.

    Each stratum's kept rows (at risk at one event time at least) are merged into cells
    (:func:`_cells`); the cells of all strata are stacked, and the event-time slots of all strata
    too (stratum s owns slots ``slot_off[s]`` … ``slot_off[s + 1] − 1``). A Newton step forms
    r = N·exp(xβ) per cell and replicate (cells × b; the exponential per distinct x) and takes
    one sparse product with ``moments`` for the risk-set and death-set sums of the q = 1 + p +
    p(p+1)/2 moment columns (1, x, upper triangle of x xᵀ) at every slot; moment columns that are
    equal in every cell are summed once (``column``: moment column → row block). Person-week rows
    (k, k+1] are at risk at one event time at most, so a cell adds to one slot's risk set; strata
    with longer intervals (``general``) get entry and exit sums from ``general_moments`` instead,
    cumulated per stratum. Per-stratum sums over slots are a sparse product with ``slot_strata``.
    """

    def __init__(self, strata: Sequence, cluster_codes: Sequence[np.ndarray], n_clusters: int):
        p = strata[0].X.shape[1] if strata else 0
        self.p = p
        self.pairs = [(i, k) for i in range(p) for k in range(i, p)]
        q = self.q = 1 + p + len(self.pairs)
        self.n_strata = len(strata)
        ms = np.array([st.times.size for st in strata], dtype=np.int64)
        self.slot_off = np.concatenate([[0], np.cumsum(ms)])
        M = self.n_slots = int(self.slot_off[-1])
        X, cluster, c_cell, cell_off = [], [], [], [0]
        risk_r, risk_c, risk_v, dead_r, dead_c, dead_v = [], [], [], [], [], []
        gen_r, gen_c, gen_v = [], [], []
        self.general: list[tuple[int, int, int]] = []  # (stratum, first row of its entry/exit sums, m)
        gen_rows = 0
        spans = [st.idx_stop - st.idx_start for st in strata]
        n_gen = int(sum(2 * (m + 1) for m, sp in zip(ms, spans) if np.any(sp > 1)))
        for s, (st, codes) in enumerate(zip(strata, cluster_codes)):
            rows, cell = _cells(st)
            first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if rows.size else rows
            base = cell_off[-1]
            cx = st.X[rows[first]]
            Z = np.column_stack([np.ones(first.size), cx, *[cx[:, i] * cx[:, k] for i, k in self.pairs]])
            X.append(cx)
            cluster.append(codes[rows])
            c_cell.append(base + cell)
            cell_off.append(base + first.size)
            start, stop, death = st.idx_start[rows[first]], st.idx_stop[rows[first]], st.death_time[rows[first]]
            ids = base + np.arange(first.size)
            off = self.slot_off[s]
            if not np.any(spans[s] > 1):
                risk_r.append((off + stop - 1)[:, None] + M * np.arange(q))
                risk_c.append(np.repeat(ids[:, None], q, axis=1))
                risk_v.append(Z)
            else:
                m = int(ms[s])
                self.general.append((s, gen_rows, m))
                for slot, at in ((stop, 0), (start, m + 1)):
                    gen_r.append((gen_rows + at + slot)[:, None] + n_gen * np.arange(q))
                    gen_c.append(np.repeat(ids[:, None], q, axis=1))
                    gen_v.append(Z)
                gen_rows += 2 * (m + 1)
            d = death >= 0
            dead_r.append((off + death[d])[:, None] + M * np.arange(q, 2 * q))
            dead_c.append(np.repeat(ids[d, None], q, axis=1))
            dead_v.append(Z[d])
        n_cells = int(cell_off[-1])
        self.X = np.concatenate(X) if X else np.zeros((0, p))
        self.n_cells = n_cells
        self.x_values, self.x_index = np.unique(self.X, axis=0, return_inverse=True)
        self.x_index = self.x_index.ravel()

        def csr(r, c, v, n_rows):
            r = np.concatenate([a.ravel() for a in r]) if r else np.zeros(0, np.int64)
            c = np.concatenate([a.ravel() for a in c]) if c else np.zeros(0, np.int64)
            v = np.concatenate([a.ravel() for a in v]) if v else np.zeros(0)
            return sparse.csr_matrix((v, (r, c)), shape=(n_rows, n_cells))

        moments = csr(risk_r + dead_r, risk_c + dead_c, risk_v + dead_v, 2 * M * q)
        self.dead_count = moments[M * q:M * (q + 1)]  # slots × cells: 1 for a dead cell at its death slot
        # moment columns equal in every cell are summed once (a 0/1 indicator's square is the
        # indicator; x·miss is 0 where a missing value is coded 0), zero entries not at all:
        # the sums are the same numbers, so a stratum's sums still do not depend on its partition
        Z = np.column_stack([np.ones(n_cells), self.X, *[self.X[:, i] * self.X[:, k] for i, k in self.pairs]])
        reps: list[int] = []
        self.column = np.empty(q, dtype=np.int64)  # moment column → its row block in ``moments``
        for c in range(q):
            same = [j for j, r in enumerate(reps) if np.array_equal(Z[:, c], Z[:, r])]
            self.column[c] = same[0] if same else len(reps)
            if not same:
                reps.append(c)
        self.n_columns = len(reps)
        keep = np.concatenate([np.arange(M) + (part * q + c) * M for part in (0, 1) for c in reps]).astype(np.int64)
        self.moments = moments[keep]
        self.moments.eliminate_zeros()
        self.general_moments = None
        if self.general:
            g = csr(gen_r, gen_c, gen_v, n_gen * q)
            self.general_moments = g[np.concatenate([np.arange(n_gen) + c * n_gen for c in reps]).astype(np.int64)]
            self.general_moments.eliminate_zeros()
        rows_all = np.concatenate(c_cell) if c_cell else np.zeros(0, np.int64)
        codes_all = np.concatenate(cluster) if cluster else np.zeros(0, np.int64)
        # cell × cluster counts: a cell's weight is the sum of its rows' cluster weights
        self.cell_clusters = sparse.csr_matrix((np.ones(rows_all.size), (rows_all, codes_all)),
                                               shape=(n_cells, n_clusters))
        stratum_of_cell = np.repeat(np.arange(self.n_strata), np.diff(cell_off))
        is_dead = np.zeros(n_cells, dtype=bool)
        is_dead[self.dead_count.indices] = True
        dc = np.flatnonzero(is_dead)
        self.dead_x = sparse.csr_matrix(  # (strata·p × cells): Σ over a stratum's dead cells of x
            (self.X[dc].ravel(), (((stratum_of_cell[dc] * p)[:, None] + np.arange(p)).ravel(), np.repeat(dc, p))),
            shape=(self.n_strata * p, n_cells)) if p else None
        slot_stratum = np.repeat(np.arange(self.n_strata), ms)
        self.slot_strata = sparse.csr_matrix((np.ones(M), (slot_stratum, np.arange(M))), shape=(self.n_strata, M))

    def weights(self, cluster_weights: np.ndarray) -> BlockWeights:
        """The block's weights (:class:`BlockWeights`) from its cluster weights (B × G, columns in
        the order of the sorted cluster ids)."""
        N = self.cell_clusters @ np.ascontiguousarray(cluster_weights.T)
        ndead = self.dead_count @ N
        B = N.shape[1]
        ud0 = np.zeros((0, 0, B)) if self.dead_x is None else (self.dead_x @ N).reshape(self.n_strata, self.p, B)
        return BlockWeights(N, ndead, ud0, _tie_index(ndead))

    def _risk_dead(self, beta: np.ndarray, w: BlockWeights) -> tuple[np.ndarray, np.ndarray]:
        """Risk-set and death-set moment sums at every slot: two (moment columns × slots × b)
        arrays, rows as in :attr:`column`."""
        b, M = beta.shape[0], self.n_slots
        same = b > 1 and bool(np.all(beta == beta[:1]))  # the first step: every replicate at the estimate
        bb = beta[:1] if same else beta
        # exp(xβ) once per distinct covariate vector, gathered to the cells: x'β is formed
        # element-wise (no BLAS), so a cell's value does not depend on the rows beside it
        eta = self.x_values[:, :1] * bb[:, 0]
        for k in range(1, self.p):
            eta += self.x_values[:, k:k + 1] * bb[:, k]
        e = np.exp(eta, out=eta)
        r = w.buffer("r", (self.n_cells, b))
        if same:
            np.multiply(w.N, e[self.x_index], out=r)
        else:
            np.take(e, self.x_index, axis=0, out=r, mode="clip")  # "raise" would copy via a temporary
            r *= w.N
        sums = (self.moments @ r).reshape(2, self.n_columns, M, b)
        risk, dead = sums[0], sums[1]
        if self.general:
            g = (self.general_moments @ r).reshape(self.n_columns, -1, b)
            for s, at, m in self.general:
                net = g[:, at:at + m + 1] - g[:, at + m + 1:at + 2 * m + 2]  # entries − exits per slot
                off = self.slot_off[s]
                risk[:, off:off + m] = np.cumsum(net[:, ::-1], axis=1)[:, ::-1][:, 1:]
        return risk, dead

    def grad_hess(self, beta: np.ndarray, w: BlockWeights, ties: str = "efron") -> tuple[np.ndarray, np.ndarray]:
        """Each stratum's score (strata × b × p) and Hessian (strata × b × p × p) of the partial
        likelihood at the replicates' β (b × p), copies semantics; the model's are the sums over
        strata."""
        b, p, M = beta.shape[0], self.p, self.n_slots
        risk, dead = self._risk_dead(beta, w)  # moment columns × slots × b, each contiguous
        S0, D0 = risk[self.column[0]], dead[self.column[0]]
        S1, D1 = [risk[c] for c in self.column[1:1 + p]], [dead[c] for c in self.column[1:1 + p]]
        S2, D2 = [risk[c] for c in self.column[1 + p:]], [dead[c] for c in self.column[1 + p:]]
        tmp, tmp2 = w.buffer("tmp", (M, b)), w.buffer("tmp2", (M, b))
        if ties == "breslow":
            # each death sees the whole risk set: c0 = d/S0, e0 = d/S0² (0 where no death)
            on = w.ndead > 0
            c0 = np.divide(w.ndead, S0, out=np.zeros_like(S0), where=on)
            e0 = np.divide(c0, S0, out=np.zeros_like(S0), where=on)
            c1 = e1 = e2 = None
        else:
            # Efron: the k-th of d tied deaths sees the risk set less k/d of the dead, f_k = k/d:
            #   U −= Σ_k (S1 − f_k D1)/s0_k,  s0_k = S0 − f_k D0
            #   H −= Σ_k [(S2 − f_k D2)/s0_k − (S1 − f_k D1)(S1 − f_k D1)ᵀ/s0_k²]
            # Expanding in f_k leaves the tie index k only in five scalar sums per (slot, b),
            # one entry per tied death (w.ties), so no array carries both k and the moments.
            _, idx, frac = w.ties
            inv, inv2, fk = (w.buffer(n, frac.shape) for n in ("inv", "inv2", "fk"))
            np.take(S0.ravel(), idx, out=inv, mode="clip")
            np.take(D0.ravel(), idx, out=fk, mode="clip")
            fk *= frac
            inv -= fk
            np.divide(1.0, inv, out=inv)  # 1/s0_k
            np.multiply(inv, inv, out=inv2)
            k_sums = w.buffer("k_sums", (5, M, b))  # c0, c1, e0, e1, e2, summed in k order
            k_sums.fill(0.0)
            c0, c1, e0, e1, e2 = k_sums
            np.add.at(c0.ravel(), idx, inv)
            np.add.at(c1.ravel(), idx, np.multiply(frac, inv, out=fk))
            np.add.at(e0.ravel(), idx, inv2)
            np.add.at(e1.ravel(), idx, np.multiply(frac, inv2, out=fk))
            np.add.at(e2.ravel(), idx, np.multiply(frac, fk, out=fk))
        # per slot and replicate: the score terms, then the Hessian's (upper triangle)
        terms = w.buffer("terms", (p + len(self.pairs), M, b))
        for i in range(p):
            np.multiply(c0, S1[i], out=terms[i])
            if c1 is not None:
                terms[i] -= np.multiply(c1, D1[i], out=tmp)
        for c, (i, k) in enumerate(self.pairs):
            t = terms[p + c]
            np.multiply(c0, S2[c], out=t)
            np.multiply(S1[i], S1[k], out=tmp)
            t -= np.multiply(e0, tmp, out=tmp)
            if c1 is not None:
                t -= np.multiply(c1, D2[c], out=tmp)
                np.multiply(S1[i], D1[k], out=tmp)
                tmp += np.multiply(D1[i], S1[k], out=tmp2)
                t += np.multiply(e1, tmp, out=tmp)
                np.multiply(D1[i], D1[k], out=tmp)
                t -= np.multiply(e2, tmp, out=tmp)
        # per-stratum sums over its slots: (p + pairs) × strata × b
        red = np.stack([self.slot_strata @ t for t in terms])
        U = (w.ud0 - red[:p].transpose(1, 0, 2)).transpose(0, 2, 1)
        H = np.empty((self.n_strata, b, p, p))
        for c, (i, k) in enumerate(self.pairs):
            H[:, :, i, k] = H[:, :, k, i] = -red[p + c]
        return U, H


def bootstrap_cox(source, params: pd.Series, n_replicates: int, seed: int, scheme: str = "multinomial",
                  block: int = REPLICATE_BLOCK) -> BootstrapSummary:
    """B replicate Cox estimates by weighted vectorised Newton from the full-sample estimate
    (:func:`cox_replicates` of all B, summarised)."""
    return summarise(cox_replicates(source, params, n_replicates, seed, scheme, block), params, scheme, seed)


def cox_replicates(source, params: pd.Series, n_replicates: int, seed: int, scheme: str = "multinomial",
                   block: int = REPLICATE_BLOCK, window: range | None = None) -> np.ndarray:
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
    return cox_replicates_many([source], [params], n_replicates, seed, scheme, block, window)[0]


def cox_replicates_many(sources: Sequence, params: Sequence[pd.Series], n_replicates: int, seed: int,
                        scheme: str = "multinomial", block: int = REPLICATE_BLOCK, window: range | None = None
                        ) -> list[np.ndarray]:
    """:func:`cox_replicates` of several models on the same clusters (Tables 9–10's models on one
    table's rows), each block of cluster weights drawn once for all of them: the same replicates,
    bit for bit, as one :func:`cox_replicates` per model."""
    ids = sources[0].cluster_ids()
    if any(not np.array_equal(s.cluster_ids(), ids) for s in sources[1:]):
        raise ValueError("cox_replicates_many: the models' sources have different clusters")
    starts = [p.to_numpy() for p in params]
    n_out = n_replicates if window is None else len(window)
    outs = [np.empty((n_out, b0.size)) for b0 in starts]
    for reps, wc in bs.replicate_blocks(ids, n_replicates, seed, scheme, block, reuse=True, window=window):
        src, dst = bs.window_rows(reps, window)
        for source, beta0, out in zip(sources, starts, outs):
            theta, _ = vectorised_newton(source.block(ids, wc), np.tile(beta0, (len(reps), 1)), tol=1e-9)
            out[dst] = theta[src]
    return outs
