"""The saturated 2×2 difference-in-differences of a share from per-person cell sums (HIR eq. 2).

The HIR quantitative report (Metrica 2019) compares the share of resource-course weeks in company
internships or with ordinary hours (Table 6) between participating (D = 1) and other job centres
before and during the intervention (E). With D, E and D·E as the only regressors the OLS fit is
the four cell means, and the person-clustered (CR1) covariance follows from each person's sums
per cell — so the fit needs the (person, D, E) sums only, never the person-week rows, and equals
statsmodels ``OLS(y ~ D + E + D:E)`` with ``cov_type="cluster"`` on those rows. The result is a
:class:`~bipdask.estimators.results.Results` with Student's t (G − 1 df) inference; the methods
are described in ``docs/methods.md``.

The caseload cap was assigned to job centres (15 of 97), so :func:`cell_did_wild` judges the DiD
coefficient at job-centre level with the wild cluster restricted bootstrap
(:mod:`bipdask.inference.wild`) from job-centre × cell sums alone: in the cell parametrisation
(one dummy per D×E cell) X_g'X_g = diag(n_gc) and X_g'y_g = (y_gc), and φ = R'm with
R = (1, −1, −1, 1) over the cells (00, 01, 10, 11).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.errors import InputError, Problem, require_columns
from bipdask.estimators.results import IntervalKind, Results, Summary
from bipdask.inference.wild import ClusterMoments, WildTest, WildWeights, wcr_linear

PARAM_NAMES = ("_cons", "D", "E", "D_E")


CELL_NAMES = ("D0_E0", "D0_E1", "D1_E0", "D1_E1")


K_PARAMS = 4


# Cell means m = (m00, m01, m10, m11) → (η, μ, θ, φ).
_CELL_TO_PARAMS = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],
        [-1.0, 0.0, 1.0, 0.0],
        [-1.0, 1.0, 0.0, 0.0],
        [1.0, -1.0, -1.0, 1.0],
    ]
)


@dataclass(frozen=True, eq=False, repr=False)
class CellDiD(Results):
    """A fitted saturated 2×2 DiD with a cluster-robust (CR1) covariance.

    ``params`` (Series) and ``cov`` (DataFrame) are (η, μ, θ, φ) named by :data:`PARAM_NAMES`;
    ``cell_means`` are the shares in cells (D0E0, D0E1, D1E0, D1E1); ``n_obs`` (= ``nobs``)
    person-weeks, ``n_persons`` (= ``n_clusters``) clusters. :meth:`conf_int`, :meth:`tidy` and
    ``p_values`` cover all four parameters (t with G − 1 df). The DiD coefficient φ has scalar
    shortcuts: ``estimate``, ``se`` (a float here, unlike the other results — ``std_errors``
    is the Series), ``t_stat``, ``p_value``, ``ci``, ``ci_low``, ``ci_high``; the interval level
    of the shortcuts and of :meth:`conf_int` defaults to the fit's ``alpha``.
    """

    _title = "Cell difference-in-differences (CR1)"
    _statistic = "t"
    cov_type = "CR1"

    params: pd.Series
    cov: pd.DataFrame
    cell_means: tuple[float, float, float, float]
    cell_se: tuple[float, float, float, float]
    cell_obs: tuple[int, int, int, int]
    cell_persons: tuple[int, int, int, int]
    n_obs: int
    n_persons: int
    alpha: float = 0.05
    wild: WildTest | None = None

    @property
    def nobs(self) -> int:
        return self.n_obs

    @property
    def n_clusters(self) -> int:
        return self.n_persons

    @property
    def _t_df(self) -> int:
        return self.df

    @property
    def estimate(self) -> float:
        return float(self.params.iloc[3])

    @property
    def se(self) -> float:
        return float(np.sqrt(self.cov.iloc[3, 3]))

    @property
    def df(self) -> int:
        """Degrees of freedom of the t reference distribution (clusters − 1)."""
        return self.n_persons - 1

    @property
    def t_stat(self) -> float:
        return self.estimate / self.se if self.se > 0 else float("nan")

    @property
    def p_value(self) -> float:
        return float(2.0 * stats.t.sf(abs(self.t_stat), self.df)) if self.se > 0 else float("nan")

    def conf_int(self, alpha: float | None = None, kind: IntervalKind = "analytic") -> pd.DataFrame:
        """t intervals of (η, μ, θ, φ) at level 1 − ``alpha`` (default: the fit's ``alpha``):
        columns ``lower``, ``upper`` indexed by :data:`PARAM_NAMES`. There are no replicates here
        (the Table 6 bootstrap is :func:`bipdask.analyses.hir.shares.share_did_replicates`), so
        ``kind="bootstrap"`` raises ValueError."""
        return super().conf_int(self.alpha if alpha is None else alpha, kind)

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        return super().tidy(self.alpha if alpha is None else alpha)

    def summary(self, alpha: float | None = None) -> Summary:
        return super().summary(self.alpha if alpha is None else alpha)

    def _summary_info(self) -> dict[str, str]:
        return {"Cell means": ", ".join(f"{n} {m:.4f}" for n, m in zip(CELL_NAMES, self.cell_means)),
                "Persons per cell": ", ".join(f"{p:,}" for p in self.cell_persons)}

    @property
    def ci(self) -> tuple[float, float]:
        """(lower, upper) of the DiD coefficient φ at the fit's ``alpha``."""
        lo, hi = self.conf_int().iloc[3]
        return (float(lo), float(hi))

    @property
    def ci_low(self) -> float:
        return self.ci[0]

    @property
    def ci_high(self) -> float:
        return self.ci[1]

    def cell_conf_int(self, cell: int, alpha: float | None = None) -> tuple[float, float]:
        q = stats.t.ppf(1.0 - (self.alpha if alpha is None else alpha) / 2.0, self.df)
        return (self.cell_means[cell] - q * self.cell_se[cell], self.cell_means[cell] + q * self.cell_se[cell])

    def params_series(self) -> pd.Series:
        """Alias of ``params`` (named ``"params"``)."""
        return self.params.rename("params")


def cell_did(
    cells: pd.DataFrame,
    *,
    cluster: str = "person_id",
    d: str = "d",
    e: str = "e",
    n: str = "n_weeks",
    y: str = "n_yes",
    alpha: float = 0.05,
) -> CellDiD:
    """Fit the saturated 2×2 DiD from per-cluster × cell sums.

    Parameters
    ----------
    cells : one row per (cluster, D, E) or finer — rows of the same cluster and cell (a
        person seen in several job centres or batches) are summed first, so the result does
        not depend on how the rows were partitioned or ordered.
    cluster, d, e, n, y : column names: cluster id, D ∈ {0,1}, E ∈ {0,1}, number of
        observations (person-weeks) and sum of the 0/1 outcome over them.

    Returns
    -------
    CellDiD, numerically equal to statsmodels ``OLS(y ~ D + E + D:E).fit(cov_type="cluster",
    use_t=True)`` on the expanded person-week rows.
    """
    if cells.empty:
        raise InputError([Problem("weeks", "", "DiD sample is empty", 0)])
    agg = (
        cells[[cluster, d, e, n, y]]
        .groupby([cluster, d, e], sort=True, observed=True)[[n, y]]
        .sum()
        .reset_index()
    )
    agg = agg[agg[n] > 0]
    dd, ee = agg[d].to_numpy().astype("int64"), agg[e].to_numpy().astype("int64")
    if not (np.isin(dd, (0, 1)).all() and np.isin(ee, (0, 1)).all()):
        raise ValueError("D and E must be 0/1")
    cell = 2 * dd + ee
    n_gc = agg[n].to_numpy().astype("int64")
    y_gc = agg[y].to_numpy().astype("int64")
    n_c = np.zeros(4, dtype="int64")
    np.add.at(n_c, cell, n_gc)
    y_c = np.zeros(4, dtype="int64")
    np.add.at(y_c, cell, y_gc)
    empty = [CELL_NAMES[i] for i in range(4) if n_c[i] == 0]
    if empty:
        raise InputError([Problem("weeks", "", f"DiD cell {c} has no observations", 0) for c in empty])
    means = y_c / n_c
    codes, uniques = pd.factorize(agg[cluster], sort=True)
    g = len(uniques)
    n_total = int(n_c.sum())
    if g < 2 or n_total <= K_PARAMS:
        raise InputError([Problem("weeks", "", "DiD needs at least 2 persons and 5 person-weeks", n_total)])
    # Score of cluster g for cell-mean c, scaled by (Z'Z)^-1 = 1/N_c. Each (g, c) occurs once.
    scores = np.zeros((g, 4))
    scores[codes, cell] = (y_gc - n_gc * means[cell]) / n_c[cell]
    meat = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            meat[i, j] = np.sum(scores[:, i] * scores[:, j])  # pairwise sum: order-stable
    return _cell_fit(n_c, means, meat, np.bincount(cell, minlength=4), int(g), alpha)


def _cell_fit(n_c: np.ndarray, means: np.ndarray, meat: np.ndarray, persons_c: np.ndarray, g: int,
              alpha: float) -> CellDiD:
    """The :class:`CellDiD` of the cell weeks ``n_c``, cell means, the CR1 meat of the cell means
    (Σ_g s_gc s_gc', s_gc = (y_gc − n_gc·m_c)/N_c), the persons per cell and the G clusters."""
    n_total = int(n_c.sum())
    factor = g / (g - 1) * (n_total - 1) / (n_total - K_PARAMS)
    cov_cells = factor * meat
    cov = _CELL_TO_PARAMS @ cov_cells @ _CELL_TO_PARAMS.T
    params = _CELL_TO_PARAMS @ means
    names = list(PARAM_NAMES)
    return CellDiD(
        params=pd.Series(params, index=names, dtype=np.float64),
        cov=pd.DataFrame(cov, index=names, columns=names, dtype=np.float64),
        cell_means=tuple(float(m) for m in means),
        cell_se=tuple(float(np.sqrt(v)) for v in np.diag(cov_cells)),
        cell_obs=tuple(int(v) for v in n_c),
        cell_persons=tuple(int(v) for v in persons_c),
        n_obs=n_total,
        n_persons=int(g),
        alpha=alpha,
    )


MOMENT_COLUMNS = ("jobcentre_id", "d", "period", "period2", "n_persons", "n_weeks", "n_yes", "nn", "ny", "yn", "yy")
ALL_PERIODS = "*"  # the period of a moment row counting the persons and weeks of every period
MOMENT_TYPES = {c: "int64" for c in MOMENT_COLUMNS} | {"period": "string", "period2": "string", "d": "int8"}


def person_cell_moments(cells: pd.DataFrame, *, person: str = "person_id", unit: str = "jobcentre_id",
                        period: str = "period", d: str = "d", n: str = "n_weeks", y: str = "n_yes") -> pd.DataFrame:
    """Per job centre × D × (period, period2): the moments of the per-person cell sums that the
    person-clustered fit of :func:`cell_did` needs — additive over disjoint sets of persons, so a
    map unit's moments stand in for its persons' rows (:func:`cell_did_moments`).

    For each ordered pair of periods (a, b) over the persons with weeks in both (a = b: in a):
    ``n_persons``, ``nn`` = Σ n_a·n_b, ``ny`` = Σ n_a·y_b, ``yn`` = Σ y_a·n_b, ``yy`` = Σ y_a·y_b
    (integers), and for a = b the weeks ``n_weeks`` and weeks with the outcome ``n_yes`` (0 for
    a ≠ b). One more row per job centre and D with both periods :data:`ALL_PERIODS`: its distinct
    persons (any row, with weeks or not) and all their weeks. Columns :data:`MOMENT_COLUMNS`;
    tiny (job centres × periods²). Rows of one person, centre and period are summed first.
    """
    require_columns(cells, [unit, person, period, d, n, y], "cell sums")
    if (len(cells) and _integer_keys(cells, (unit, d, person, n, y)) and not cells[period].isna().any()
            and (cells[n].to_numpy() > 0).all()):  # cell sums: every row has weeks
        return _moments_by_sort(cells, person, unit, period, d, n, y)
    keys = [unit, d, person]
    out = []
    if len(cells):
        every = (cells.groupby([unit, d], sort=True, observed=True)
                 .agg(n_persons=(person, "nunique"), n_weeks=(n, "sum")).reset_index())
        out.append(every.assign(period=ALL_PERIODS, period2=ALL_PERIODS))
    agg = cells.groupby([*keys, period], sort=True, observed=True)[[n, y]].sum()
    agg = agg[agg[n] > 0]
    if len(agg):
        wide = agg.unstack(period, fill_value=0)
        index = wide.index.to_frame(index=False)[[unit, d]]
        for a in wide[n].columns:
            for b in wide[n].columns:
                na, ya = wide[(n, a)].to_numpy(np.int64), wide[(y, a)].to_numpy(np.int64)
                nb, yb = wide[(n, b)].to_numpy(np.int64), wide[(y, b)].to_numpy(np.int64)
                both = (na > 0) & (nb > 0)
                if not both.any():
                    continue
                same = a == b
                part = index.assign(n_persons=both.astype(np.int64), n_weeks=na * same, n_yes=ya * same,
                                    nn=na * nb, ny=na * yb, yn=ya * nb, yy=ya * yb)[both]
                sums = part.groupby([unit, d], sort=True).sum().reset_index()
                out.append(sums.assign(period=str(a), period2=str(b)))
    if not out:  # the same column types as a unit with rows: the reduce concatenates the units' files
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MOMENT_TYPES.items()})
    frame = pd.concat(out, ignore_index=True).rename(columns={unit: "jobcentre_id"})
    for c in MOMENT_COLUMNS:
        frame[c] = frame[c].fillna(0) if c in frame else 0
    return frame[list(MOMENT_COLUMNS)].astype(MOMENT_TYPES)


MOMENT_KEYS = MOMENT_COLUMNS[:4]  # (jobcentre_id, d, period, period2): a moment row's key; the rest are sums


def combine_cell_moments(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Several units' :func:`person_cell_moments` as one frame of the same form: the rows of equal
    :data:`MOMENT_KEYS` summed (every column is a sum over persons, so for disjoint persons the result
    is the moments of their union). Integer sums: any grouping of the units, in any order, gives
    the same frame, which :func:`cell_did_moments` reads like the units' frames stacked. Sorted by
    the keys."""
    frames = [f for f in parts if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MOMENT_TYPES.items()})
    both = pd.concat([f[list(MOMENT_COLUMNS)].astype(MOMENT_TYPES) for f in frames], ignore_index=True)
    out = both.groupby(list(MOMENT_KEYS), sort=True, observed=True)[list(MOMENT_COLUMNS[4:])].sum().reset_index()
    return out[list(MOMENT_COLUMNS)].astype(MOMENT_TYPES)


def _integer_keys(cells: pd.DataFrame, columns: Sequence[str]) -> bool:
    return all(pd.api.types.is_integer_dtype(cells[c].dtype) and not cells[c].isna().any() for c in columns)


def _moments_by_sort(cells: pd.DataFrame, person: str, unit: str, period: str, d: str, n: str, y: str
                     ) -> pd.DataFrame:
    """:func:`person_cell_moments` of integer keys and counts in one lexsort and ``np.add.reduceat``
    (the groupby / unstack form costs ~35 ms a map unit): the same rows in the same order."""
    u, dd, p = (cells[c].to_numpy(np.int64) for c in (unit, d, person))
    labels, per = np.unique(cells[period].to_numpy(object).astype(str), return_inverse=True)
    nw, yw = cells[n].to_numpy(np.int64), cells[y].to_numpy(np.int64)
    order = np.lexsort((per, p, dd, u))
    u, dd, p, per, nw, yw = (a[order] for a in (u, dd, p, per, nw, yw))

    def starts(*keys: np.ndarray) -> np.ndarray:
        change = np.zeros(len(keys[0]), bool)
        change[0] = True
        for k in keys:
            change[1:] |= k[1:] != k[:-1]
        return np.flatnonzero(change)

    g = starts(u, dd)  # every (unit, d): its distinct persons and all their weeks
    person_rows = starts(u, dd, p)
    rows: list[pd.DataFrame] = [pd.DataFrame({
        "jobcentre_id": u[g], "d": dd[g], "period": ALL_PERIODS, "period2": ALL_PERIODS,
        "n_persons": np.diff(np.searchsorted(person_rows, np.append(g, len(u)))),
        "n_weeks": np.add.reduceat(nw, g)})]
    # per (unit, d, person, period) sums, kept where the person has weeks; wide over the periods
    c = starts(u, dd, p, per)
    cn, cy = np.add.reduceat(nw, c), np.add.reduceat(yw, c)
    keep = cn > 0
    c, cn, cy = c[keep], cn[keep], cy[keep]
    if len(c):
        r = starts(u[c], dd[c], p[c])  # one row per (unit, d, person) with weeks
        row = np.cumsum(np.isin(np.arange(len(c)), r)) - 1
        wide_n = np.zeros((len(r), len(labels)), np.int64)
        wide_y = np.zeros((len(r), len(labels)), np.int64)
        wide_n[row, per[c]] = cn
        wide_y[row, per[c]] = cy
        ru, rd = u[c][r], dd[c][r]
        groups = starts(ru, rd)
        present = np.flatnonzero((wide_n > 0).any(axis=0))  # the unstacked periods, in label order
        for a in present:
            for b in present:
                na, ya, nb, yb = wide_n[:, a], wide_y[:, a], wide_n[:, b], wide_y[:, b]
                both = (na > 0) & (nb > 0)
                if not both.any():
                    continue
                same = int(a == b)
                values = np.column_stack([both, na * same, ya * same, na * nb, na * yb, ya * nb, ya * yb]
                                         ).astype(np.int64) * both[:, None]
                sums = np.add.reduceat(values, groups, axis=0)
                hit = np.add.reduceat(both.astype(np.int64), groups) > 0
                rows.append(pd.DataFrame({
                    "jobcentre_id": ru[groups][hit], "d": rd[groups][hit], "period": str(labels[a]),
                    "period2": str(labels[b]),
                    **{k: sums[hit, j] for j, k in enumerate(("n_persons", "n_weeks", "n_yes", "nn", "ny", "yn",
                                                                "yy"))}}))
    frame = pd.concat(rows, ignore_index=True)
    for col in MOMENT_COLUMNS:
        frame[col] = frame[col].fillna(0) if col in frame else 0
    return frame[list(MOMENT_COLUMNS)].astype(MOMENT_TYPES)


def is_moments(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds :func:`person_cell_moments` (not per-person cell sums)."""
    return "period2" in frame.columns


def cell_did_moments(moments: pd.DataFrame, *, d: str = "d", e: str = "e", e2: str = "e2",
                     alpha: float = 0.05) -> CellDiD:
    """:func:`cell_did` (person clusters) from the moments of :func:`person_cell_moments` of
    persons disjoint across the moments' rows' units, summed over the units.

    ``moments``: rows of one E = 0 and one E = 1 period (``period`` and ``period2`` both among
    them), ``e`` and ``e2`` the E of ``period`` and ``period2``. With cell c = 2·D + E, weeks
    N_c and outcome weeks Y_c, the CR1 meat is Σ_g s_gc s_gc' =
    (N_c N_c' yy − N_c Y_c' yn − Y_c N_c' ny + Y_c Y_c' nn) / (N_c N_c')² with the moments summed
    over the rows of (c, c'): an exact integer over an exact integer, rounded once (so equal to
    :func:`cell_did` on the persons' rows within that fit's own rounding); G = the persons of the
    cells less those in both periods.
    """
    if moments.empty:
        raise InputError([Problem("weeks", "", "DiD sample is empty", 0)])
    dd = moments[d].to_numpy().astype("int64")
    ee, ee2 = moments[e].to_numpy().astype("int64"), moments[e2].to_numpy().astype("int64")
    if not (np.isin(dd, (0, 1)).all() and np.isin(ee, (0, 1)).all() and np.isin(ee2, (0, 1)).all()):
        raise ValueError("D and E must be 0/1")
    c, c2 = 2 * dd + ee, 2 * dd + ee2
    diag = (moments["period"] == moments["period2"]).to_numpy()
    col = {k: moments[k].to_numpy().astype("int64") for k in ("n_persons", "n_weeks", "n_yes", "nn", "ny", "yn", "yy")}
    n_c = np.bincount(c[diag], weights=col["n_weeks"][diag], minlength=4).astype("int64")
    y_c = np.bincount(c[diag], weights=col["n_yes"][diag], minlength=4).astype("int64")
    empty = [CELL_NAMES[i] for i in range(4) if n_c[i] == 0]
    if empty:
        raise InputError([Problem("weeks", "", f"DiD cell {c} has no observations", 0) for c in empty])
    means = y_c / n_c
    persons_c = np.bincount(c[diag], weights=col["n_persons"][diag], minlength=4).astype("int64")
    g = int(persons_c.sum() - col["n_persons"][~diag & (ee == 0) & (ee2 == 1)].sum())
    n_total = int(n_c.sum())
    if g < 2 or n_total <= K_PARAMS:
        raise InputError([Problem("weeks", "", "DiD needs at least 2 persons and 5 person-weeks", n_total)])
    pair = pd.DataFrame({"c": c, "c2": c2, **{k: col[k] for k in ("nn", "ny", "yn", "yy")}})
    meat = np.zeros((4, 4))
    for (i, j), m in pair.groupby(["c", "c2"], sort=True)[["nn", "ny", "yn", "yy"]].sum().iterrows():
        # (N_i N_j)² Σ s_gi s_gj as an exact (Python) integer: one rounding, in the division
        ni, nj, yi, yj = int(n_c[i]), int(n_c[j]), int(y_c[i]), int(y_c[j])
        num = ni * nj * int(m["yy"]) - ni * yj * int(m["yn"]) - yi * nj * int(m["ny"]) + yi * yj * int(m["nn"])
        meat[i, j] = num / (ni * nj) ** 2
    return _cell_fit(n_c, means, meat, persons_c, g, alpha)


def _cell_frame(cells: pd.DataFrame, cluster: str, d: str, e: str, n: str, y: str) -> pd.DataFrame:
    agg = (cells[[cluster, d, e, n, y]].groupby([cluster, d, e], sort=True, observed=True)[[n, y]].sum()
           .reset_index())
    return agg[agg[n] > 0]


def cell_moments(cells: pd.DataFrame, *, cluster: str = "jobcentre_id", d: str = "d", e: str = "e",
                 n: str = "n_weeks", y: str = "n_yes") -> ClusterMoments:
    """Per-cluster sufficient statistics of the cell parametrisation of HIR eq. 2 (regressors: the
    four D×E cell dummies :data:`CELL_NAMES`, no intercept): X_g'X_g = diag(n_gc) (person-weeks of
    cluster g in cell c) and X_g'y_g = (y_gc) (those weeks with the outcome). Rows of the same
    cluster and cell are summed first. Integer cluster ids key the wild weights (as in
    :func:`bipdask.estimators.lpm.lpm` on the same column)."""
    agg = _cell_frame(cells, cluster, d, e, n, y)
    dd, ee = agg[d].to_numpy().astype("int64"), agg[e].to_numpy().astype("int64")
    if not (np.isin(dd, (0, 1)).all() and np.isin(ee, (0, 1)).all()):
        raise ValueError("D and E must be 0/1")
    cell = 2 * dd + ee
    codes, uniques = pd.factorize(agg[cluster], sort=True)
    ids = (np.asarray(uniques, dtype=np.int64) if pd.api.types.is_integer_dtype(uniques)
           else np.arange(len(uniques), dtype=np.int64))
    g = ids.size
    n_gc = np.zeros((g, K_PARAMS))
    y_gc = np.zeros((g, K_PARAMS))
    n_gc[codes, cell] = agg[n].to_numpy(dtype=np.float64)  # each (g, c) once after the groupby
    y_gc[codes, cell] = agg[y].to_numpy(dtype=np.float64)
    iu0, iu1 = np.triu_indices(K_PARAMS)
    xx = np.zeros((g, iu0.size))
    diag = np.flatnonzero(iu0 == iu1)
    xx[:, diag] = n_gc[:, iu0[diag]]
    return ClusterMoments(xx=xx, xy=y_gc, cluster_ids=ids, names=CELL_NAMES, nobs=float(n_gc.sum()),
                          k_dof=K_PARAMS)


def cell_did_wild(
    cells: pd.DataFrame,
    *,
    cluster: str = "jobcentre_id",
    d: str = "d",
    e: str = "e",
    n: str = "n_weeks",
    y: str = "n_yes",
    terms: Sequence[str] = ("D_E",),
    bootstrap: int = 9999,
    seed: int | None = None,
    weights: WildWeights = "rademacher",
    alpha: float = 0.05,
) -> CellDiD:
    """HIR Table 6 (eq. 2) at job-centre level: the saturated 2×2 DiD with the wild cluster
    restricted bootstrap of φ (``D_E``) from job-centre × cell sums.

    Parameters
    ----------
    cells : per (job centre, D, E) — or finer, e.g. the per-person rows of
        :func:`bipdask.prepare.outcomes.share_cell_sums` with the period mapped to ``e`` — the
        person-weeks ``n`` and the weeks with the outcome ``y``; summed per job centre and cell.
    cluster : the wild cluster (the level where treatment was assigned).
    terms : parameters of :data:`PARAM_NAMES` to test (H0: parameter = 0); each is a contrast
        of the cell means.
    bootstrap, seed, weights : B Rademacher or Webb draws; all 2^G sign vectors when 2^G ≤ B.
    alpha : 1 − the level of the inverted intervals.

    Returns
    -------
    CellDiD with CR1 at job-centre level (:func:`cell_did` with ``cluster``) and ``wild``: the WCR
    p-value, inverted CI and implied SE of ``terms`` (``tidy()`` publishes them; other terms NaN).
    Equal to :func:`bipdask.estimators.lpm.lpm` with covariates D, E, D×E,
    ``inference="wild"`` on the expanded person-week rows (same weights, same p-value).
    """
    unknown = [t for t in terms if t not in PARAM_NAMES]
    if unknown:
        raise ValueError(f"cell_did_wild: unknown terms {unknown}; choose from {PARAM_NAMES}")
    fit = cell_did(cells, cluster=cluster, d=d, e=e, n=n, y=y, alpha=alpha)
    moments = cell_moments(cells, cluster=cluster, d=d, e=e, n=n, y=y)
    contrasts = {t: _CELL_TO_PARAMS[PARAM_NAMES.index(t)] for t in terms}
    test = wcr_linear(moments, contrasts=contrasts, bootstrap=bootstrap, seed=seed, weights=weights, alpha=alpha)
    return replace(fit, wild=replace(test, table=test.table.reindex(list(PARAM_NAMES))))
