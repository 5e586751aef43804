"""Where the strata of a stratified Cox model are: in this process, or on Dask workers.

A stratified Cox model's log partial likelihood, score and information are sums over strata, and
a cluster's score sum is a sum over the strata holding its rows. So the fit (:func:`cox_fit
<bipdask.estimators.cox.model.cox_fit>`), its robust variance, the wild score bootstrap and the
pairs replicates need from the rows only per-stratum terms of size k and k × k and per-cluster
score sums. A :class:`StrataSource` provides those; :class:`PartitionedStrata` is the one
implementation: an ordered list of partitions (each a :class:`CoxPartition`: whole strata, e.g.
a batch of job centres) and an :class:`Executor` that applies a function to each partition where
it lives — :class:`LocalExecutor` in this process (what :func:`cox_ph
<bipdask.estimators.cox.model.cox_ph>` uses), or a Dask client's map (``flows``), so the
partitions stay in worker memory across Newton iterations.

Every partition function here (:func:`partition_strata`, :func:`partition_stats`,
:func:`partition_scores`, ...) is a pure module-level function a worker can run. Each returns
its terms *per stratum* with the stratum's key, and the driver adds them in key order — the
order in which a one-frame fit adds them — so the result is the same to the last bit however the
strata are partitioned (1 or N workers, any batch size). Methods: ``docs/methods.md`` (Cox
section, distributed Newton).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bipdask.errors import FitError, require_columns
from bipdask.estimators.cox.model import _strata, _Stratum, _stratum_stats

Fixed = tuple[int, float] | None  # (j, r): coefficient j held at r, the others estimated


# --------------------------------------------------------------------------- partitions


@dataclass(frozen=True)
class CoxPartition:
    """Whole strata of a Cox model's rows: what one worker holds.

    ``keys`` are the strata's values (e.g. job centre ids), ``clusters`` each stratum's cluster
    id per row (its rows' positions when the model has no cluster), ``n_events`` the weighted
    events of the partition.
    """

    keys: tuple
    strata: tuple[_Stratum, ...]
    clusters: tuple[np.ndarray, ...]
    ties: str
    n_rows: int
    n_events: float


def partition_strata(frame: pd.DataFrame, *, duration: str, event: str, covariates: Sequence[str],
                     start: str | None = None, weights: str | None = None, strata: str | None = None,
                     cluster: str | None = None, ties: str = "efron") -> CoxPartition:
    """The strata of ``frame`` (rows in the frame's order within each stratum), as :func:`cox_ph
    <bipdask.estimators.cox.model.cox_ph>` prepares them. Every stratum must lie in one
    partition; without ``strata`` the whole frame is one stratum (key 0)."""
    if ties not in ("efron", "breslow"):
        raise ValueError("ties must be 'efron' or 'breslow'")
    cols = list(covariates)
    require_columns(frame, [duration, event, *cols, start, cluster, weights, strata], "cox_ph")
    X = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in cols]) if len(frame) else np.zeros((0, len(cols)))
    w = np.ones(len(frame)) if weights is None else frame[weights].to_numpy(dtype=np.float64)
    sts = _strata(frame, start, duration, event, X, w, strata) if len(frame) else []
    keys = (0,) if strata is None else tuple(pd.factorize(frame[strata], sort=True)[1].tolist())
    ids = np.arange(len(frame)) if cluster is None else frame[cluster].to_numpy()
    n_events = float(np.sum(w * frame[event].to_numpy(dtype=float)))
    return CoxPartition(keys[:len(sts)], tuple(sts), tuple(ids[st.rows] for st in sts), ties, len(frame), n_events)


def _restricted_strata(strata: Sequence[_Stratum], fixed: Fixed) -> Sequence[_Stratum]:
    """The strata with column j dropped and r·x_j added to the linear predictor (β_j = r)."""
    if fixed is None:
        return strata
    j, r = fixed
    return [replace(st, X=np.delete(st.X, j, axis=1), offset=r * st.X[:, j]) for st in strata]


def partition_stats(part: CoxPartition, beta: np.ndarray, fixed: Fixed = None) -> list[tuple]:
    """[(stratum key, log partial likelihood, score (k,), information (k × k))] per stratum at β
    (with ``fixed``: β without coefficient j, which is held at r)."""
    beta = np.asarray(beta, dtype=np.float64)
    return [(key, *_stratum_stats(beta, st, part.ties)[:3])
            for key, st in zip(part.keys, _restricted_strata(part.strata, fixed))]


def _cluster_sums(ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique ids, their sums of the rows of ``values``, in row order)."""
    uniq, codes = np.unique(ids, return_inverse=True)
    codes = codes.ravel()
    out = np.zeros((uniq.size, values.shape[1]))
    for c in range(values.shape[1]):
        out[:, c] = np.bincount(codes, weights=values[:, c], minlength=uniq.size)
    return uniq, out


def partition_scores(part: CoxPartition, beta: np.ndarray) -> list[tuple]:
    """[(key, loglik, score, information, cluster ids, per-cluster score sums)] per stratum at β:
    R ``coxph``'s score residuals times the case weights, summed within the stratum's clusters
    (rows of a cluster in row order)."""
    beta = np.asarray(beta, dtype=np.float64)
    out = []
    for key, st, ids in zip(part.keys, part.strata, part.clusters):
        ll, U, I, resid = _stratum_stats(beta, st, part.ties, want_resid=True)
        out.append((key, ll, U, I, *_cluster_sums(ids, resid * st.w[:, None])))
    return out


def partition_cluster_weights(part: CoxPartition) -> list[tuple]:
    """[(key, cluster ids, their row weight)] per stratum (the wild bootstrap's cluster shares)."""
    out = []
    for key, st, ids in zip(part.keys, part.strata, part.clusters):
        uniq, sums = _cluster_sums(ids, st.w[:, None])
        out.append((key, uniq, sums[:, 0]))
    return out


def partition_summary(part: CoxPartition) -> dict[str, Any]:
    """The partition's stratum keys, rows, weighted events and ties (small)."""
    return {"keys": list(part.keys), "n_rows": part.n_rows, "n_events": part.n_events, "ties": part.ties}


@dataclass(frozen=True)
class BlockPartition:
    """A partition's strata prepared for replicate blocks (:class:`~bipdask.estimators.cox.replicates._BlockStrata`),
    and, once a block's cluster weights are set, the block's weights on them
    (:class:`~bipdask.estimators.cox.replicates.BlockWeights`)."""

    keys: tuple
    strata: Any
    ties: str
    weights: Any = None


def partition_block_strata(part: CoxPartition, cluster_ids: np.ndarray) -> BlockPartition:
    """The partition's strata for the pairs bootstrap; ``cluster_ids``: all sorted unique ids."""
    from bipdask.estimators.cox.replicates import _BlockStrata

    ids = np.asarray(cluster_ids)
    return BlockPartition(part.keys, _BlockStrata(part.strata, [np.searchsorted(ids, c) for c in part.clusters],
                                                  ids.size), part.ties)


def partition_block_weights(part: BlockPartition, cluster_weights: np.ndarray) -> BlockPartition:
    """The block's weights on the partition's strata: ``cluster_weights`` (B × G, columns in the
    order of the sorted cluster ids) → each cell's summed row weights and the tied-death copies."""
    return replace(part, weights=part.strata.weights(cluster_weights))


def partition_grad_hess(part: BlockPartition, beta: np.ndarray, rows: np.ndarray) -> list[tuple]:
    """[(key, score (b × k), Hessian (b × k × k))] per stratum for replicates ``rows`` of the
    block at their coefficients ``beta`` (b × k), copies semantics
    (:mod:`bipdask.estimators.cox.replicates`)."""
    if not part.keys:
        return []
    w, n = part.weights, part.weights.N.shape[1]
    if rows.size == n:
        U, H = part.strata.grad_hess(beta, w, part.ties)
    elif 2 * rows.size >= n:
        # most of the block still active: solve the whole block (the others at an active
        # replicate's β) and keep the active ones. Every replicate's terms come from its own
        # column of every array (element-wise operations, row-wise sparse sums), so they are the
        # same bits as from the active replicates alone; this saves copying their weights.
        full = np.repeat(beta[:1], n, axis=0)
        full[rows] = beta
        U, H = part.strata.grad_hess(full, w, part.ties)
        U, H = U[:, rows], H[:, rows]
    else:
        U, H = part.strata.grad_hess(beta, w.rows(rows), part.ties)
    return [(key, U[s], H[s]) for s, key in enumerate(part.keys)]


# --------------------------------------------------------------------------- sums in stratum order


def _in_key_order(results: Sequence[list[tuple]]) -> list[tuple]:
    """Per-stratum results of all partitions, sorted by stratum key (each key once)."""
    flat = [t for res in results for t in res]
    keys = [t[0] for t in flat]
    if len(set(keys)) != len(keys):
        raise FitError("cox_ph: a stratum is split across partitions; partition the rows by whole strata")
    return sorted(flat, key=lambda t: t[0])


def _sum_terms(items: Sequence[tuple], p: int) -> tuple[float, np.ndarray, np.ndarray]:
    ll, U, I = 0.0, np.zeros(p), np.zeros((p, p))
    for _, ll_s, U_s, I_s, *_ in items:
        ll += ll_s
        U += U_s
        I += I_s
    return ll, U, I


def _merge_clusters(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(all sorted unique ids, sums over the strata in the order given) from per-stratum
    (ids, sums)."""
    if not pairs:
        return np.array([]), np.zeros((0, 0))
    ids = np.unique(np.concatenate([u for u, _ in pairs]))
    first = pairs[0][1]
    out = np.zeros((ids.size, *first.shape[1:]))
    for u, s in pairs:
        out[np.searchsorted(ids, u)] += s
    return ids, out


# --------------------------------------------------------------------------- the source


class Executor(Protocol):
    """Applies a partition function to every partition where the partitions are."""

    def map(self, fn: Callable, parts: Sequence, **kwargs) -> list:
        """``[fn(part, **kwargs) for part in parts]``, brought back here, in partition order."""

    def derive(self, fn: Callable, parts: Sequence, **kwargs) -> list:
        """New partitions ``fn(part, **kwargs)``, kept where ``parts`` are (handles)."""


class LocalExecutor:
    """Partitions in this process."""

    def map(self, fn: Callable, parts: Sequence, **kwargs) -> list:
        return [fn(part, **kwargs) for part in parts]

    derive = map


class StrataSource(Protocol):
    """What the Cox fit and its inference need from the rows (:func:`cox_fit
    <bipdask.estimators.cox.model.cox_fit>`, :func:`~bipdask.estimators.cox.score.wild_cox`,
    :func:`~bipdask.estimators.cox.replicates.bootstrap_cox`)."""

    ties: str
    n_rows: int
    n_events: float

    def stats(self, beta: np.ndarray, fixed: Fixed = None) -> tuple[float, np.ndarray, np.ndarray]:
        """(log partial likelihood, score, information) summed over strata."""

    def scores(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`stats` and (sorted cluster ids, per-cluster score sums G × k)."""

    def cluster_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted cluster ids, row weight per cluster)."""

    def block(self, cluster_ids: np.ndarray, cluster_weights: np.ndarray
              ) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """A replicate block's (beta (b × k), rows) ↦ (score b × k, Hessian b × k × k)."""


class PartitionedStrata:
    """A :class:`StrataSource` over ordered partitions (:class:`CoxPartition`, or handles to
    them) and an :class:`Executor`; every sum over strata is taken in stratum-key order."""

    def __init__(self, parts: Sequence, executor: Executor | None = None) -> None:
        self.parts = list(parts)
        self.executor = executor or LocalExecutor()
        info = self.executor.map(partition_summary, self.parts)
        keys = [k for i in info for k in i["keys"]]
        if len(set(keys)) != len(keys):
            raise FitError("cox_ph: a stratum is split across partitions; partition the rows by whole strata")
        self.n_rows = int(sum(i["n_rows"] for i in info))
        self.n_events = float(sum(i["n_events"] for i in sorted(info, key=lambda i: i["keys"][:1])))
        ties = {i["ties"] for i in info}
        if len(ties) > 1:
            raise ValueError("cox_ph: the partitions use different ties")
        self.ties = ties.pop() if ties else "efron"
        self._cluster_ids: np.ndarray | None = None
        self._block_parts: list | None = None

    def stats(self, beta: np.ndarray, fixed: Fixed = None) -> tuple[float, np.ndarray, np.ndarray]:
        beta = np.asarray(beta, dtype=np.float64)
        items = _in_key_order(self.executor.map(partition_stats, self.parts, beta=beta, fixed=fixed))
        return _sum_terms(items, beta.size)

    def scores(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        beta = np.asarray(beta, dtype=np.float64)
        items = _in_key_order(self.executor.map(partition_scores, self.parts, beta=beta))
        ll, U, I = _sum_terms(items, beta.size)
        ids, sums = _merge_clusters([(t[4], t[5]) for t in items])
        return ll, U, I, ids, sums

    def cluster_weights(self) -> tuple[np.ndarray, np.ndarray]:
        items = _in_key_order(self.executor.map(partition_cluster_weights, self.parts))
        ids, sums = _merge_clusters([(u, s[:, None]) for _, u, s in items])
        return ids, sums[:, 0] if sums.size else np.zeros(0)

    def cluster_ids(self) -> np.ndarray:
        if self._cluster_ids is None:
            self._cluster_ids = self.cluster_weights()[0]
        return self._cluster_ids

    def block(self, cluster_ids: np.ndarray, cluster_weights: np.ndarray
              ) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        if self._block_parts is None:
            self._block_parts = self.executor.derive(partition_block_strata, self.parts, cluster_ids=cluster_ids)
        weighted = self.executor.derive(partition_block_weights, self._block_parts, cluster_weights=cluster_weights)
        n_rep = cluster_weights.shape[0]

        def grad_hess(beta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            items = _in_key_order(self.executor.map(partition_grad_hess, weighted, beta=beta, rows=rows))
            b, p = beta.shape
            U, H = np.zeros((b, p)), np.zeros((b, p, p))
            for _, U_s, H_s in items:
                U += U_s
                H += H_s
            return U, H

        grad_hess.n_replicates = n_rep
        return grad_hess


def local_source(parts: Sequence[CoxPartition]) -> PartitionedStrata:
    """The strata in this process (what :func:`cox_ph <bipdask.estimators.cox.model.cox_ph>` fits)."""
    return PartitionedStrata(parts, LocalExecutor())


def source_from_strata(strata: Sequence[_Stratum], clusters: np.ndarray, ties: str = "efron") -> PartitionedStrata:
    """A local source over prepared strata (:func:`~bipdask.estimators.cox.model._strata`) with one
    cluster id per row of the data they came from (keys: the strata's positions)."""
    clusters = np.asarray(clusters)
    n = sum(st.rows.size for st in strata)
    events = float(sum(np.sum(st.w * st.event) for st in strata))
    part = CoxPartition(tuple(range(len(strata))), tuple(strata), tuple(clusters[st.rows] for st in strata), ties,
                        n, events)
    return local_source([part])
