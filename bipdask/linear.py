"""Linear probability models from sufficient statistics.

For now: the saturated 2×2 difference-in-differences of HIR eq. (2) (Metrica 2019, seed 001),

    share = η + μ·D + θ·E + φ·D·E + ν,

fitted on person-weeks but computed from per-person × cell sums (weeks ``n`` and weeks with
the outcome ``y``). OLS on a saturated model reproduces the four cell means, so φ is the
difference-in-differences of cell means. The person-clustered covariance is the CR1 sandwich
(Stata ``vce(cluster)``: factor G/(G−1)·(N−1)/(N−K), K=4), exact from the sums because the
score of cluster g in cell c is Σ_t (y_gt − m_c) = y_gc − n_gc·m_c. Inference uses Student's t
with G−1 degrees of freedom, as Stata does.

:func:`share_did_table` assembles Table 6: the pooled effect for all participating job
centres and one effect per participating job centre, whole intervention period and its last
months.

The general linear (probability) model with absorbed fixed effects, robust and cluster-bootstrap
inference, :func:`lpm` / :class:`LinearResult`, lives in :mod:`bipdask.linear_model` and is
re-exported here; the HIR tables built on it are in :mod:`bipdask.hir_linear`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.errors import InputError, Problem
from bipdask.linear_model import CONS, FitError, LinearResult, lpm
from bipdask.results import Estimate

__all__ = ["CONS", "CellDiD", "FitError", "LinearResult", "cell_did", "headline", "lpm", "share_did_table"]

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


@dataclass(frozen=True)
class CellDiD:
    """A fitted saturated 2×2 DiD with a cluster-robust (CR1) covariance.

    ``estimate`` is φ (the D·E coefficient); ``cell_means`` are the shares in cells
    (D0E0, D0E1, D1E0, D1E1); ``params``/``cov`` are (η, μ, θ, φ) named by
    :data:`PARAM_NAMES`; ``n_obs`` person-weeks, ``n_persons`` clusters.
    """

    params: tuple[float, float, float, float]
    cov: tuple[tuple[float, ...], ...]
    cell_means: tuple[float, float, float, float]
    cell_se: tuple[float, float, float, float]
    cell_obs: tuple[int, int, int, int]
    cell_persons: tuple[int, int, int, int]
    n_obs: int
    n_persons: int
    alpha: float = 0.05

    @property
    def estimate(self) -> float:
        return self.params[3]

    @property
    def se(self) -> float:
        return float(np.sqrt(self.cov[3][3]))

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

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        q = stats.t.ppf(1.0 - (self.alpha if alpha is None else alpha) / 2.0, self.df)
        return (self.estimate - q * self.se, self.estimate + q * self.se)

    @property
    def ci(self) -> tuple[float, float]:
        return self.conf_int()

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
        return pd.Series(self.params, index=list(PARAM_NAMES), name="params")


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
    factor = g / (g - 1) * (n_total - 1) / (n_total - K_PARAMS)
    cov_cells = factor * meat
    cov = _CELL_TO_PARAMS @ cov_cells @ _CELL_TO_PARAMS.T
    params = _CELL_TO_PARAMS @ means
    persons_c = np.bincount(cell, minlength=4)
    return CellDiD(
        params=tuple(float(p) for p in params),
        cov=tuple(tuple(float(v) for v in row) for row in cov),
        cell_means=tuple(float(m) for m in means),
        cell_se=tuple(float(np.sqrt(v)) for v in np.diag(cov_cells)),
        cell_obs=tuple(int(v) for v in n_c),
        cell_persons=tuple(int(v) for v in persons_c),
        n_obs=n_total,
        n_persons=int(g),
        alpha=alpha,
    )


SHARE_ANALYSIS = "share_internship_or_hours"


def share_did_table(
    cells: pd.DataFrame,
    *,
    treated_ids: Iterable[int],
    before: str = "before",
    after: Iterable[str] = ("intervention",),
    alpha: float = 0.05,
    min_persons: int = 0,
) -> list[Estimate]:
    """HIR Table 6 as tidy rows, from the concatenated per-job-centre cell sums.

    For each E=1 window in ``after`` (the intervention period, its last months): the pooled DiD
    of all participating job centres against all others (``jobcentre_id`` null), the four cell
    means behind it (estimands ``mean_participating`` / ``mean_others``, periods ``before`` and
    the window), and one DiD per participating job centre against all others. A job centre's
    row is left out when one of its cells is empty or has fewer than ``min_persons`` persons
    (disclosure control).

    Parameters
    ----------
    cells : rows of :func:`bipdask.outcomes.share_cell_sums` from every job centre.
    treated_ids : participating job centre ids (D=1).
    """
    rows: list[Estimate] = []
    windows = list(after)
    for window in windows:
        sample = cells[cells["period"].isin([before, window])]
        sample = sample.assign(e=(sample["period"] == window).astype("int8"))
        fit = cell_did(sample, alpha=alpha)
        rows.append(_did_row(fit, None, window))
        if window == windows[0]:
            rows += _mean_rows(fit, None, before, 0)
        rows += _mean_rows(fit, None, window, 1)
        for jc in sorted(int(j) for j in treated_ids):
            one = sample[(sample["d"] == 0) | (sample["jobcentre_id"] == jc)]
            if not (one["d"] == 1).any():
                continue
            try:
                fit_jc = cell_did(one, alpha=alpha)
            except InputError:
                continue
            if min(fit_jc.cell_persons) < min_persons:
                continue
            rows.append(_did_row(fit_jc, jc, window))
            if window == windows[0]:
                rows += _mean_rows(fit_jc, jc, before, 0, participating_only=True)
            rows += _mean_rows(fit_jc, jc, window, 1, participating_only=True)
    return rows


def _did_row(fit: CellDiD, jobcentre_id: int | None, period: str) -> Estimate:
    lo, hi = fit.ci
    return Estimate(SHARE_ANALYSIS, "did", jobcentre_id, period, fit.estimate, fit.se, lo, hi,
                    fit.p_value, fit.n_persons, fit.n_obs)


def _mean_rows(fit: CellDiD, jobcentre_id: int | None, period: str, e: int,
               participating_only: bool = False) -> list[Estimate]:
    out = []
    for d, estimand in ((1, "mean_participating"), (0, "mean_others")):
        if participating_only and d == 0:
            continue
        c = 2 * d + e
        lo, hi = fit.cell_conf_int(c)
        out.append(Estimate(SHARE_ANALYSIS, estimand, jobcentre_id, period, fit.cell_means[c],
                            fit.cell_se[c], lo, hi, None, fit.cell_persons[c], fit.cell_obs[c]))
    return out


def headline(estimates: pd.DataFrame) -> str:
    """The Table 6 headline as text: cell means in %, the effects in pp with 95 % CI and n."""
    e = estimates[(estimates["analysis"] == SHARE_ANALYSIS) & estimates["jobcentre_id"].isna()]
    if e.empty:
        return "Table 6: no estimates"

    def val(estimand: str, period: str) -> pd.Series | None:
        hit = e[(e["estimand"] == estimand) & (e["period"] == period)]
        return None if hit.empty else hit.iloc[0]

    lines = ["Table 6 - share of resource-course weeks in company internship or with ordinary hours",
             f"{'':28s}{'before':>10s}{'intervention':>14s}{'change':>10s}"]
    for estimand, label in (("mean_participating", "Participating job centres"), ("mean_others", "Other job centres")):
        b, a = val(estimand, "before"), val(estimand, "intervention")
        if b is not None and a is not None:
            lines.append(f"{label:28s}{100 * b.estimate:9.1f}%{100 * a.estimate:13.1f}%"
                         f"{100 * (a.estimate - b.estimate):+9.1f}pp")
    for period in sorted(set(e.loc[e["estimand"] == "did", "period"]), key=lambda p: p != "intervention"):
        r = val("did", period)
        label = "Effect (DiD)" if period == "intervention" else f"Effect, {period.replace('_', ' ')}"
        lines.append(f"{label:28s}{100 * r.estimate:+9.1f}pp  95% CI [{100 * r.ci_low:+.1f}, "
                     f"{100 * r.ci_high:+.1f}]  p={r.p_value:.3f}  n={int(r.n_persons):,} persons, "
                     f"{int(r.n_obs):,} person-weeks")
    return "\n".join(lines)
