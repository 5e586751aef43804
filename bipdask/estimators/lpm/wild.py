"""The linear model's per-cluster sufficient statistics for the wild cluster restricted bootstrap.

:func:`bipdask.estimators.lpm.model.lpm` with ``inference="wild"`` hands
:func:`bipdask.inference.wild.wcr_linear` the FWL-partialled design it already holds (x̃, ỹ after
absorbing the fixed effects, or centred without them), summed per wild cluster, plus — for the
one absorbed factor whose levels are not nested in the clusters — the per-(cluster, level) sums
that make the replicates' re-absorption exact (:class:`bipdask.inference.wild.AbsorbedCells`):

* no fixed effects: the intercept is that factor (one level), so the replicates equal the WCR of
  lm/Stata ``regress`` with ``_cons`` (``wildboottest``, ``boottest``);
* every factor nested in the clusters (person effects with person clusters, job-centre effects
  with job-centre clusters): the partialled design is exact, nothing else is needed;
* one factor not nested (week effects with job-centre clusters, HIR eq. 3; caseworker effects with
  person clusters), alone or beside one nested factor (two-way job-centre and week effects with
  job-centre clusters): exact, with C = diag(n_l) − N_AF' diag(1/n_a) N_AF the Gram matrix of
  the free factor's dummies after the nested one (pseudo-inverted; ≤ 2,000 levels).

Other combinations (two factors not nested, or a free factor beside several nested ones) raise
ValueError rather than return an approximate test. The methods are described in
``docs/methods.md`` (section Inference, "Wild cluster restricted bootstrap").
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import sparse

from bipdask.estimators.lpm.absorb import _Absorbed
from bipdask.inference.wild import AbsorbedCells, ClusterMoments

MAX_PINV_LEVELS = 2_000  # levels of a free factor beside a nested one (dense L × L pseudo-inverse)
_DENSE_CELLS = 1 << 22  # G·L up to which the per-(cluster, level) sums are dense arrays
_PINV_RTOL = 1e-10


def wild_absorption(nested: Sequence[bool]) -> str:
    """``"exact"`` (no factor, or one factor not nested, beside at most one nested factor) or
    ``"nested"`` (every factor nested in the clusters); ValueError otherwise."""
    free = [i for i, s in enumerate(nested) if not s]
    if not nested or (len(free) == 1 and len(nested) <= 2):
        return "exact"
    if not free:
        return "nested"
    raise ValueError("lpm: the wild cluster bootstrap supports at most one absorbed factor that is not nested "
                     "in the clusters, beside at most one nested factor (the replicates' re-absorption is "
                     f"exact only then); {len(free)} of {len(nested)} factors are not nested")


def wild_moments(state: _Absorbed, keep: Sequence[int], k: int, names: Sequence[str], *, nobs: float,
                 k_dof: int, small_sample: str, nested: Sequence[bool], n_levels: Sequence[int]) -> ClusterMoments:
    """:class:`~bipdask.inference.wild.ClusterMoments` of a fitted lpm (its state after absorption).

    ``keep`` are the covariates that were not collinear (columns of ``state.Z``; ``k`` is ỹ's
    column), ``names`` their names. The per-cluster sums are bincounts of the rows' products
    (sequential reads, G-sized accumulators: no sort of the rows by cluster).
    """
    cols = [*keep, k]
    kk = len(keep)
    Z = np.asfortranarray(state.Z[:, cols])
    w, codes = state.w, state.cluster_codes
    g = state.cluster_ids.size
    absorption = wild_absorption(nested)
    intercept = not state.fe_codes
    wz = Z * w[:, None]
    iu0, iu1 = np.triu_indices(kk)
    xx = np.empty((g, iu0.size))
    for p, (a, b) in enumerate(zip(iu0, iu1)):
        xx[:, p] = np.bincount(codes, weights=wz[:, a] * Z[:, b], minlength=g)
    xy = np.empty((g, kk))
    for a in range(kk):
        xy[:, a] = np.bincount(codes, weights=wz[:, a] * Z[:, kk], minlength=g)
    cells = None
    if intercept:  # the intercept as a one-level factor: per-cluster Σw·z are the cells
        sums = [np.bincount(codes, weights=wz[:, j], minlength=g)[:, None] for j in range(kk + 1)]
        cells = AbsorbedCells(x=tuple(sums[:kk]), y=sums[kk], inverse=np.array([1.0 / float(w.sum())]))
    elif absorption == "exact":
        free = [i for i, s in enumerate(nested) if not s][0]
        other = [i for i, s in enumerate(nested) if s]
        cells = _cells(Z, w, codes, g, state.fe_codes[free], n_levels[free],
                       None if not other else (state.fe_codes[other[0]], n_levels[other[0]]))
    return ClusterMoments(xx=np.ascontiguousarray(xx), xy=np.ascontiguousarray(xy),
                          cluster_ids=state.cluster_ids, names=tuple(names), nobs=float(nobs), k_dof=int(k_dof),
                          small_sample=small_sample, cells=cells)


def _cells(Z: np.ndarray, w: np.ndarray, codes: np.ndarray, g: int, f: np.ndarray, L: int,
           nested: tuple[np.ndarray, int] | None) -> AbsorbedCells:
    """Per-(cluster, level of the free factor f) sums of w·z for every column of Z, and the
    (pseudo-)inverse Gram matrix of f's dummies (after the nested factor, when there is one)."""
    cell = codes.astype(np.int64) * L + f
    if g * L <= _DENSE_CELLS:
        sums = [np.bincount(cell, weights=w * Z[:, j], minlength=g * L).reshape(g, L) for j in range(Z.shape[1])]
    else:
        occupied, inv = np.unique(cell, return_inverse=True)
        r, c = occupied // L, occupied % L
        sums = [sparse.csr_matrix((np.bincount(inv, weights=w * Z[:, j], minlength=occupied.size), (r, c)),
                                  shape=(g, L)) for j in range(Z.shape[1])]
    n_f = np.bincount(f, weights=w, minlength=L)
    if nested is None:
        inverse = 1.0 / n_f
    else:
        a, la = nested
        if L > MAX_PINV_LEVELS:
            raise ValueError(f"lpm: the wild cluster bootstrap beside a nested factor needs ≤ {MAX_PINV_LEVELS:,} "
                             f"levels of the factor not nested in the clusters, not {L:,}")
        n_a = np.bincount(a, weights=w, minlength=la)
        N = sparse.csr_matrix((w, (a, f)), shape=(la, L))  # duplicates are summed
        C = np.diag(n_f) - np.asarray((N.T @ sparse.diags(1.0 / n_a) @ N).todense())
        vals, vecs = np.linalg.eigh((C + C.T) / 2)
        good = vals > _PINV_RTOL * max(float(vals.max()), 1e-300)
        inverse = (vecs[:, good] / vals[good]) @ vecs[:, good].T
    return AbsorbedCells(x=tuple(sums[:-1]), y=sums[-1], inverse=inverse)
