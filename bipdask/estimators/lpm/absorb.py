"""Absorbing fixed effects: weighted demeaning of the linear model's y and X, and what follows.

:func:`bipdask.estimators.lpm.model.lpm` never builds dummies. One factor is swept out exactly by
its weighted level means, several by alternating projections (until no level mean exceeds 1e-13 of its column's scale);
the level effects are recovered afterwards from y − Xb the same way. The degrees of freedom the
absorbed levels use (less the redundancy of two connected factors), whether a factor is nested
in the clusters, and which bootstrap absorption is exact for the design are decided here too;
the methods are described in ``docs/methods.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from bipdask.errors import FitError

_MAP_TOL = 1e-13  # alternating projections stop when the largest change is below this
_MAP_MAX_ITER = 10_000


@dataclass(frozen=True)
class _Absorbed:
    """What the bootstrap and the fixed-effect recovery need after the fit (not public)."""

    Z: np.ndarray  # n × (k+1): absorbed (or centred) [X, y], all covariates
    w: np.ndarray  # n frequency weights
    cluster_codes: np.ndarray  # n codes into cluster_ids
    cluster_ids: np.ndarray  # G sorted ids handed to the replicate weights
    fe_codes: tuple[np.ndarray, ...]
    fe_levels: tuple[pd.Index, ...]
    means: np.ndarray | None  # (k+1) weighted means (no-FE model: the intercept needs them)
    resid_fe: np.ndarray | None  # y − Xb on the raw scale (FE models): the level effects' data


def _group_mean(Z: np.ndarray, w: np.ndarray, codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Weighted means of every column of Z within levels (n_levels × cols)."""
    wsum = np.bincount(codes, weights=w, minlength=n_levels)
    out = np.empty((n_levels, Z.shape[1]))
    for j in range(Z.shape[1]):
        out[:, j] = np.bincount(codes, weights=w * Z[:, j], minlength=n_levels)
    return out / wsum[:, None]


def _subtract_levels(Z: np.ndarray, level_values: np.ndarray, codes: np.ndarray) -> None:
    """Z −= level_values[codes], in place and one column at a time (no n × cols temporary)."""
    for j in range(Z.shape[1]):
        Z[:, j] -= level_values[codes, j]


def _absorb(Z: np.ndarray, w: np.ndarray, fe_codes: Sequence[np.ndarray], n_levels: Sequence[int]) -> np.ndarray:
    """Sweep the factors out of Z: exact for one, alternating projections for several."""
    Z = Z.copy()
    if len(fe_codes) == 1:
        _subtract_levels(Z, _group_mean(Z, w, fe_codes[0], n_levels[0]), fe_codes[0])
        return Z
    scale = np.maximum(np.abs(Z).max(axis=0), 1.0)
    for _ in range(_MAP_MAX_ITER):
        step = 0.0
        for codes, n in zip(fe_codes, n_levels):
            m = _group_mean(Z, w, codes, n)
            _subtract_levels(Z, m, codes)
            step = max(step, float(np.max(np.abs(m) / scale)))
        if step < _MAP_TOL:
            return Z
    raise FitError("lpm: absorbing the fixed effects did not converge; check for factors that are "
                   "(almost) collinear with each other, or absorb fewer factors")


def _recover_effects(r: np.ndarray, w: np.ndarray, fe_codes: Sequence[np.ndarray],
                     n_levels: Sequence[int]) -> list[np.ndarray]:
    col = r[:, None]
    effects = [np.zeros(n) for n in n_levels]
    if len(fe_codes) == 1:
        return [_group_mean(col, w, fe_codes[0], n_levels[0])[:, 0]]
    for _ in range(_MAP_MAX_ITER):
        step = 0.0
        for f, (codes, n) in enumerate(zip(fe_codes, n_levels)):
            rest = r - sum(effects[h][fe_codes[h]] for h in range(len(fe_codes)) if h != f)
            new = _group_mean(rest[:, None], w, codes, n)[:, 0]
            step = max(step, float(np.max(np.abs(new - effects[f]))))
            effects[f] = new
        if step < 1e-12 * max(1.0, float(np.max(np.abs(r)))):
            break
    for f in range(1, len(effects)):
        wsum = np.bincount(fe_codes[f], weights=w, minlength=n_levels[f])
        shift = float(wsum @ effects[f] / wsum.sum())
        effects[f] = effects[f] - shift
        effects[0] = effects[0] + shift
    return effects


def _nested(fe: np.ndarray, cl: np.ndarray) -> bool:
    """Every level of ``fe`` lies within one cluster."""
    first = np.full(int(fe.max()) + 1 if fe.size else 0, -1, dtype=np.int64)
    first[fe] = cl  # any one cluster of each level
    return bool(np.all(first[fe] == cl))


def _absorbed_params(fe_codes: Sequence[np.ndarray], n_levels: Sequence[int], counted: Sequence[bool]) -> int:
    """Absorbed parameters beyond the intercept: Σ (L_f − 1), less the two-way redundancy."""
    total = sum(n - 1 for n, c in zip(n_levels, counted) if c)
    if len(fe_codes) >= 2 and counted[0] and counted[1]:
        a, b = fe_codes[0], fe_codes[1]
        graph = sparse.coo_matrix((np.ones(a.size), (a, n_levels[0] + b)),
                                  shape=(n_levels[0] + n_levels[1],) * 2)
        n_comp = csgraph.connected_components(graph, directed=False)[0]
        total -= n_comp - 1
    return total


def _absorption_method(fe_codes, nested, g, n_levels, k, max_cell_entries) -> str:
    if not fe_codes:
        return "exact"
    if all(nested):
        return "nested"
    if len(fe_codes) == 1 and g * n_levels[0] * (k + 2) <= max_cell_entries:
        return "exact"
    return "once"
