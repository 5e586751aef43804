"""Placebo intervals for the per-job-centre DiD rows of HIR Table 6 (Conley–Taber, Ferman–Pinto).

The HIR quantitative report's Table 6 gives, besides the pooled DiD, one DiD per participating
job centre against all non-participating job centres: the share of resource-course weeks in a
company internship or with ordinary hours, (ȳ_j1 − ȳ_j0) − (ȳ_C1 − ȳ_C0). Each such row rests on
a single treated cluster, so no cluster bootstrap (and no cluster-robust variance) can say how
far it is from its centre's effect: the centre-level shock η_j of the one treated centre is
never averaged out.

**Conley & Taber (2011).** The estimate is α_j + η_j + (terms that vanish with many persons),
and if the centre-level shocks are exchangeable, the comparison centres reveal their
distribution: each comparison centre k in turn is pseudo-treated against the *other* comparison
centres, giving the placebo DiD η̂_k = (ȳ_k1 − ȳ_k0) − (ȳ_{C∖k,1} − ȳ_{C∖k,0}). With q_lo and q_hi
the α/2 and 1 − α/2 quantiles of the placebos (NumPy's linear interpolation, as the bootstrap
percentiles), the interval for α_j is [DiD_j − q_hi, DiD_j − q_lo]; the p-value of α_j = 0 is
(1 + #{|η̂_k| ≥ |DiD_j|}) / (n_placebos + 1). ``outside`` flags a row whose estimate lies outside
[q_lo, q_hi] (0 outside its interval) — the rows the report may bold. Only comparison centres
with weeks in both periods give a placebo; every comparison centre stays in the others' pool.

**Ferman & Pinto (2019) size adjustment** (``adjust="ferman_pinto"``, the default). Job centres
differ a lot in size (person-weeks), and the variance of a centre's DiD falls with its size, so
the placebos of small centres would make a large centre's interval too wide and vice versa. The
simple version implemented: var(η_g) = a + b·v_g with v_g = 1/size_g,before + 1/size_g,after
(size = person-weeks by default, the sampling variance of a share ∝ 1/N), a, b ≥ 0 fitted by
non-negative least squares of η̂_k² on (1, v_k) over the comparison centres (a = the centre-level
variance that does not shrink with size, b = the within-centre part). Each placebo is rescaled to
the treated centre's size, η̂_k · √(V(v_j) / V(v_k)), before the quantiles and the p-value. The
shift of the comparison pool (C∖k against C) is ignored; if the fit is degenerate (all placebos
0) no rescaling is done.

Everything is computed from the job-centre × period sums (weeks, weeks with the outcome) of
:func:`bipdask.inference.randomization.jobcentre_cell_sums`. Method:
``docs/methods.md#placebo-intervals-for-per-centre-rows``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import nnls

Adjust = Literal["none", "ferman_pinto"]

PLACEBO_COLUMNS = ("jobcentre_id", "estimate", "ci_low", "ci_high", "p_value", "outside", "n_placebos",
                   "q_low", "q_high")


@dataclass(frozen=True)
class PlaceboResult:
    """Placebo inference for one participating job centre's DiD (fractions; 0.01 = 1 pp).

    ``estimate`` : its DiD against all non-participating centres (HIR Table 6 per-centre row).
    ``ci_low``, ``ci_high`` : [estimate − q_high, estimate − q_low] at level 1 − ``alpha``.
    ``p_value`` : (1 + #{|placebo| ≥ |estimate|}) / (n_placebos + 1).
    ``n_placebos`` : comparison centres that gave a placebo DiD.
    ``outside`` : the estimate lies outside [q_low, q_high], i.e. 0 is outside the interval.
    ``q_low``, ``q_high`` : the α/2 and 1 − α/2 placebo quantiles (rescaled to this centre's size
        under ``adjust="ferman_pinto"``).
    ``variance_intercept``, ``variance_slope`` : the fitted a, b of var = a + b·v (None unadjusted).
    """

    jobcentre_id: int
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n_placebos: int
    outside: bool
    q_low: float
    q_high: float
    alpha: float = 0.05
    adjust: Adjust = "ferman_pinto"
    variance_intercept: float | None = None
    variance_slope: float | None = None


def _prepare(jobcentre_ids, n, y, treated):
    ids = np.asarray(list(jobcentre_ids), dtype=np.int64)
    n = np.asarray(n, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if n.shape != (ids.size, 2) or y.shape != (ids.size, 2):
        raise ValueError("n_weeks and n_yes must be G × 2 (before, after)")
    if np.unique(ids).size != ids.size:
        raise ValueError("jobcentre_ids must be unique")
    order = np.argsort(ids, kind="stable")
    ids, n, y = ids[order], n[order], y[order]
    d = np.isin(ids, np.asarray(list(treated), dtype=np.int64))
    return ids, n, y, d, order


def _means(n: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (y[..., 1] / n[..., 1]) - (y[..., 0] / n[..., 0])


def _placebos(ids, n, y, d):
    """Placebo DiD of each comparison centre with weeks in both periods, against the others."""
    ctrl = ~d & (n > 0).any(axis=1)
    nc, yc = n[ctrl].sum(axis=0), y[ctrl].sum(axis=0)
    k = ctrl & (n > 0).all(axis=1)
    rest_n, rest_y = nc[None, :] - n[k], yc[None, :] - y[k]
    rest_n = np.where(rest_n > 0, rest_n, np.nan)  # an empty pool cell: no placebo
    pl = _means(n[k], y[k]) - _means(rest_n, rest_y)
    ok = np.isfinite(pl)
    return ids[k][ok], pl[ok], n[k][ok], (nc, yc)


def placebo_dids(jobcentre_ids: Iterable[int], n_weeks: np.ndarray, n_yes: np.ndarray,
                 treated: Iterable[int]) -> pd.Series:
    """Each comparison centre's placebo DiD (pseudo-treated against the other comparison centres).

    Inputs as :func:`share_did_placebo`. Returns a Series indexed by jobcentre_id (sorted),
    in fractions of a share; comparison centres without weeks in both periods have none.
    """
    ids, n, y, d, _ = _prepare(jobcentre_ids, n_weeks, n_yes, treated)
    pid, pl, _, _ = _placebos(ids, n, y, d)
    return pd.Series(pl, index=pd.Index(pid, name="jobcentre_id"), name="placebo_did")


def ferman_pinto_variance(placebos: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """(a, b) ≥ 0 of var(η) = a + b·v, by non-negative least squares of placebo² on (1, v)."""
    placebos, v = np.asarray(placebos, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if placebos.size == 0:
        return (0.0, 0.0)
    scale = float(np.mean(v)) or 1.0  # well-conditioned columns
    coef, _ = nnls(np.column_stack([np.ones_like(v), v / scale]), placebos ** 2)
    return (float(coef[0]), float(coef[1] / scale))


def share_did_placebo(
    jobcentre_ids: Iterable[int],
    n_weeks: np.ndarray,
    n_yes: np.ndarray,
    treated: Iterable[int],
    *,
    alpha: float = 0.05,
    adjust: Adjust = "ferman_pinto",
    size: np.ndarray | None = None,
) -> list[PlaceboResult]:
    """Conley–Taber placebo intervals for every participating centre's share DiD (HIR Table 6).

    Parameters
    ----------
    jobcentre_ids : the G job centre ids (any order).
    n_weeks, n_yes : G × 2 (before, after): resource-course person-weeks and weeks in a company
        internship or with ordinary hours.
    treated : participating job centre ids; one result per participating centre with weeks in
        both periods (the comparison is every non-participating centre), sorted by id.
    alpha : the interval's level is 1 − alpha; ``outside`` is judged at alpha.
    adjust : ``"ferman_pinto"`` (rescale placebos to the centre's size, see the module doc) or
        ``"none"`` (plain Conley–Taber).
    size : G × 2 sizes for the variance function (default ``n_weeks``; persons would do too).
    """
    ids, n, y, d, order = _prepare(jobcentre_ids, n_weeks, n_yes, treated)
    sz = n if size is None else np.asarray(size, dtype=np.float64)[order]
    return _placebo_results(ids, n, y, d, sz, alpha, adjust)


def weighted_did_placebo(
    jobcentre_ids: Iterable[int],
    statistic: np.ndarray,
    weight: np.ndarray,
    treated: Iterable[int],
    **kwargs,
) -> list[PlaceboResult]:
    """Placebo intervals for a DiD of weighted means of per-centre statistics θ (G × 2) with
    weights w (G × 2); the share DiD is θ = share, w = weeks. Keyword arguments as
    :func:`share_did_placebo` (``size`` defaults to the weights)."""
    w = np.asarray(weight, dtype=np.float64)
    th = np.asarray(statistic, dtype=np.float64)
    return share_did_placebo(jobcentre_ids, w, np.where(w > 0, w * th, 0.0), treated, **kwargs)


def _placebo_results(ids, n, y, d, sz, alpha, adjust) -> list[PlaceboResult]:
    if adjust not in ("none", "ferman_pinto"):
        raise ValueError("adjust must be 'none' or 'ferman_pinto'")
    pid, pl, _, (nc, yc) = _placebos(ids, n, y, d)
    pos = np.searchsorted(ids, pid)
    with np.errstate(divide="ignore"):
        v_all = (1.0 / sz[:, 0]) + (1.0 / sz[:, 1])
    a = b = None
    if adjust == "ferman_pinto":
        a, b = ferman_pinto_variance(pl, v_all[pos])
        var_k = a + b * v_all[pos]
    ctrl_did = float(_means(nc[None, :], yc[None, :])[0]) if (nc > 0).all() else float("nan")
    out = []
    for j in np.flatnonzero(d & (n > 0).all(axis=1)):
        est = float(_means(n[j], y[j]) - ctrl_did)
        if not np.isfinite(est):
            continue
        draws = pl
        if adjust == "ferman_pinto" and pl.size and (var_k > 0).all():
            draws = pl * np.sqrt((a + b * v_all[j]) / var_k)
        if draws.size == 0:
            out.append(PlaceboResult(int(ids[j]), est, float("nan"), float("nan"), float("nan"), 0, False,
                                     float("nan"), float("nan"), float(alpha), adjust, a, b))
            continue
        iv = placebo_interval(est, draws, alpha)
        out.append(PlaceboResult(jobcentre_id=int(ids[j]), estimate=est, **iv, alpha=float(alpha), adjust=adjust,
                                 variance_intercept=a, variance_slope=b))
    return out


def placebo_interval(estimate: float, placebos: np.ndarray, alpha: float = 0.05) -> dict:
    """Conley–Taber interval, p-value and ``outside`` flag of one treated unit's estimate from the
    placebo estimates of the comparison units (any estimator: a share DiD, a Weibull DiD in weeks).

    Interval [estimate − q_hi, estimate − q_lo] with q the α/2 and 1 − α/2 quantiles of the
    placebos; p-value (1 + #{|placebo| ≥ |estimate|}) / (n + 1); ``outside``: the estimate lies
    outside [q_lo, q_hi]. Keys: ci_low, ci_high, p_value, n_placebos, outside, q_low, q_high.
    """
    draws = np.asarray(placebos, dtype=float)
    draws = draws[np.isfinite(draws)]
    q_lo, q_hi = (float(q) for q in np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0]))
    av, ae = np.abs(draws), abs(estimate)
    hits = int(((av >= ae) | np.isclose(av, ae, rtol=1e-10, atol=1e-15)).sum())
    return {"ci_low": estimate - q_hi, "ci_high": estimate - q_lo, "p_value": (1 + hits) / (draws.size + 1),
            "n_placebos": int(draws.size), "outside": bool(estimate < q_lo or estimate > q_hi),
            "q_low": q_lo, "q_high": q_hi}


def placebo_table(results: Sequence[PlaceboResult]) -> pd.DataFrame:
    """The per-centre rows as a frame with :data:`PLACEBO_COLUMNS` (one row per result)."""
    frame = pd.DataFrame([{c: getattr(r, c) for c in PLACEBO_COLUMNS} for r in results],
                         columns=list(PLACEBO_COLUMNS))
    return frame.astype({"jobcentre_id": "int64", "estimate": "float64", "ci_low": "float64",
                         "ci_high": "float64", "p_value": "float64", "outside": "bool",
                         "n_placebos": "int64", "q_low": "float64", "q_high": "float64"})
