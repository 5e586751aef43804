"""HIR Table 6 (and Table 7's share block): the share in company internship or with ordinary hours.

The saturated 2×2 difference-in-differences of eq. (2) of the HIR quantitative report
(Metrica 2019; ``docs/methods.md#hir-table-6--share-in-internship-or-ordinary-hours``),

    share = η + μ·D + θ·E + φ·D·E + ν,

fitted on person-weeks but computed from per-person × cell sums (weeks ``n`` and weeks with
the outcome ``y``). OLS on a saturated model reproduces the four cell means, so φ is the
difference-in-differences of cell means. The person-clustered covariance is the CR1 sandwich
(Stata ``vce(cluster)``: factor G/(G−1)·(N−1)/(N−K), K=4), exact from the sums because the
score of cluster g in cell c is Σ_t (y_gt − m_c) = y_gc − n_gc·m_c. Inference uses Student's t
with G−1 degrees of freedom, as Stata does.

The fit from the sums is :func:`bipdask.estimators.cell_did.cell_did`. :func:`share_did_table`
assembles Table 6 from it: the pooled effect for all participating job centres and one effect
per participating job centre, whole intervention period and its last months, with the cell
means behind them (shares as fractions, effects as differences of fractions).
:func:`share_did_replicates` draws the person-cluster bootstrap of every row at once from the
per-person cell sums, and :func:`with_bootstrap` puts its SE, percentile CI and p-value on the
rows; :func:`headline` is the text the command line prints.

:func:`design_based_rows` replaces the DiD rows' inference by tests at job-centre level (the wild
cluster restricted bootstrap, randomization inference, placebo intervals) when the run's
inference is ``"wild"``. The HIR tables built on the linear model are in
:mod:`bipdask.analyses.hir.exits`, :mod:`bipdask.analyses.hir.beliefs` and
:mod:`bipdask.analyses.hir.mediators`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from bipdask.analyses.estimates import Estimate, replicate_key
from bipdask.errors import InputError
from bipdask.estimators.cell_did import ALL_PERIODS, CellDiD, cell_did, cell_did_moments, cell_did_wild, is_moments
from bipdask.inference import bootstrap as bs
from bipdask.inference.config import Inference
from bipdask.inference.pairs import replicate_summary
from bipdask.inference.randomization import table6_design_inference

__all__ = ["SHARE_ANALYSIS", "design_based_rows", "headline", "jobcentre_rows", "share_did_replicates",
           "share_did_table", "window_sample", "with_bootstrap"]







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
    cells : rows of :func:`bipdask.prepare.outcomes.share_cell_sums` from every job centre, or
        their per-unit moments (:func:`bipdask.estimators.cell_did.person_cell_moments`) when
        no person is in two units: the same rows within rounding.
    treated_ids : participating job centre ids (D=1).
    """
    rows: list[Estimate] = []
    windows = list(after)
    fit_cells = cell_did_moments if is_moments(cells) else cell_did
    for window in windows:
        sample = window_sample(cells, before, window)
        fit = fit_cells(sample, alpha=alpha)
        rows.append(_did_row(fit, None, window))
        if window == windows[0]:
            rows += _mean_rows(fit, None, before, 0)
        rows += _mean_rows(fit, None, window, 1)
        for jc in sorted(int(j) for j in treated_ids):
            one = sample[(sample["d"] == 0) | (sample["jobcentre_id"] == jc)]
            if not (one["d"] == 1).any():
                continue
            try:
                fit_jc = fit_cells(one, alpha=alpha)
            except InputError:
                continue
            if min(fit_jc.cell_persons) < min_persons:
                continue
            rows.append(_did_row(fit_jc, jc, window))
            if window == windows[0]:
                rows += _mean_rows(fit_jc, jc, before, 0, participating_only=True)
            rows += _mean_rows(fit_jc, jc, window, 1, participating_only=True)
    return rows


def window_sample(cells: pd.DataFrame, before: str, window: str) -> pd.DataFrame:
    """The rows of ``cells`` (cell sums or their moments) in the E = 0 period ``before`` and the
    E = 1 period ``window``, with ``e`` (and for moments ``e2``, the E of ``period2``)."""
    sample = cells[cells["period"].isin([before, window])]
    if is_moments(cells):
        sample = sample[sample["period2"].isin([before, window])]
        sample = sample.assign(e2=(sample["period2"] == window).astype("int8"))
    return sample.assign(e=(sample["period"] == window).astype("int8"))


def jobcentre_rows(cells: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``n_weeks`` / ``n_yes`` add up to the job centres' cell sums: the cell sums
    themselves, or the one-period rows of their moments."""
    if not is_moments(cells):
        return cells
    return cells[(cells["period"] == cells["period2"]).to_numpy() & (cells["period"] != ALL_PERIODS).to_numpy()]


def _did_row(fit: CellDiD, jobcentre_id: int | None, period: str) -> Estimate:
    lo, hi = fit.ci
    return Estimate(SHARE_ANALYSIS, "did", jobcentre_id, period, fit.estimate, fit.se, lo, hi,
                    fit.p_value, fit.n_persons, fit.n_obs, n_clusters=fit.n_clusters)


def _mean_rows(fit: CellDiD, jobcentre_id: int | None, period: str, e: int,
               participating_only: bool = False) -> list[Estimate]:
    out = []
    for d, estimand in ((1, "mean_participating"), (0, "mean_others")):
        if participating_only and d == 0:
            continue
        c = 2 * d + e
        lo, hi = fit.cell_conf_int(c)
        out.append(Estimate(SHARE_ANALYSIS, estimand, jobcentre_id, period, fit.cell_means[c],
                            fit.cell_se[c], lo, hi, None, fit.cell_persons[c], fit.cell_obs[c],
                            n_clusters=int(fit.cell_persons[c])))
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


def share_did_replicates(
    cells: pd.DataFrame,
    *,
    treated_ids: Iterable[int],
    before: str,
    after: Sequence[str],
    inference: Inference,
) -> pd.DataFrame:
    """B replicates of every Table 6 estimate: columns ``"<estimand>|<jobcentre or all>|<period>"``.

    Estimands as :func:`bipdask.analyses.hir.shares.share_did_table` names them: ``did`` (pooled and per
    participating job centre, per E=1 window), ``mean_participating`` (pooled and per job
    centre) and ``mean_others`` (pooled) for the before period and each window. A replicate in
    which a cell drew no person-weeks is NaN for the estimates using that cell.

    Parameters
    ----------
    cells : rows of :func:`bipdask.prepare.outcomes.share_cell_sums` (jobcentre_id, person_id, period,
        d, n_weeks, n_yes) from every job centre.
    treated_ids : participating job centre ids (D=1).
    before, after : the E=0 period label and the E=1 window labels.
    inference : replicates, seed and weight scheme; the clusters are persons by construction
        (the cell sums are per person).
    """
    bootstrap, seed, scheme = inference.replicates, inference.seed, inference.scheme
    treated = np.array(sorted(int(j) for j in treated_ids), dtype=np.int64)
    k = treated.size
    persons = np.unique(cells["person_id"].to_numpy(np.int64))
    n_b = int(bootstrap)
    n_cols = 2 * (k + 1)  # (others, each participating job centre) × (before, window)
    blocks = []
    for window in after:
        sample = cells[cells["period"].isin([before, window])]
        e = (sample["period"] == window).to_numpy(np.int64)
        jc = sample["jobcentre_id"].to_numpy(np.int64)
        pos = np.searchsorted(treated, jc)
        in_treated = (sample["d"].to_numpy() == 1) & (pos < k) & (treated[np.minimum(pos, max(k - 1, 0))] == jc)
        column = 2 * np.where(in_treated, pos + 1, 0) + e  # group 0 = others, 1 + i = job centre i
        rows = np.searchsorted(persons, sample["person_id"].to_numpy(np.int64))
        values = np.concatenate([sample["n_weeks"].to_numpy(np.float64), sample["n_yes"].to_numpy(np.float64)])
        blocks.append(sparse.csr_matrix(
            (values, (np.concatenate([rows, rows]), np.concatenate([column, column + n_cols]))),
            shape=(persons.size, 2 * n_cols)))
    # One product for every window: the weights of each replicate block are drawn once.
    R_all = bs.replicate_sums(persons, n_b, seed, sparse.hstack(blocks).tocsr(), scheme) if blocks else None
    out: dict[str, np.ndarray] = {}
    for w, window in enumerate(after):
        R = R_all[:, 2 * n_cols * w: 2 * n_cols * (w + 1)]
        N = R[:, :n_cols].reshape(n_b, k + 1, 2)
        Y = R[:, n_cols:].reshape(n_b, k + 1, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            others = Y[:, 0] / N[:, 0]
            pooled = Y[:, 1:].sum(axis=1) / N[:, 1:].sum(axis=1)
            each = Y[:, 1:] / N[:, 1:]
        out[replicate_key("did", None, window)] = (pooled[:, 1] - pooled[:, 0]) - (others[:, 1] - others[:, 0])
        out[replicate_key("mean_participating", None, window)] = pooled[:, 1]
        out[replicate_key("mean_others", None, window)] = others[:, 1]
        if w == 0:
            out[replicate_key("mean_participating", None, before)] = pooled[:, 0]
            out[replicate_key("mean_others", None, before)] = others[:, 0]
        for i, j in enumerate(treated):
            out[replicate_key("did", int(j), window)] = (each[:, i, 1] - each[:, i, 0]) - (others[:, 1] - others[:, 0])
            out[replicate_key("mean_participating", int(j), window)] = each[:, i, 1]
            if w == 0:
                out[replicate_key("mean_participating", int(j), before)] = each[:, i, 0]
    frame = pd.DataFrame({"replicate": np.arange(n_b, dtype=np.int32)})
    return pd.concat([frame, pd.DataFrame(out)], axis=1)


def with_bootstrap(rows: Sequence[Estimate], replicates: pd.DataFrame, alpha: float = 0.05,
                   n_clusters: int | None = None) -> list[Estimate]:
    """Table 6 rows with the bootstrap SE, percentile CI and (DiD rows) bootstrap p-value.

    ``n_clusters``: the clusters the replicates resample, when they are not the rows' own (job
    centres, where a row counts its persons); a row that takes replicates then says so.

    The p-value is :class:`bipdask.inference.pairs.BootstrapSummary`'s (centred replicates at least as
    far from zero as the estimate); mean rows keep no p-value. Rows without a replicate column
    are returned unchanged. Replicates that are NaN (a cell that resamples empty) count as
    extreme, and above 1 % of them the row loses its SE and CI
    (:func:`bipdask.inference.pairs.replicate_summary`); the share is in ``replicate_failure_share``.
    """
    out = []
    for row in rows:
        key = replicate_key(row.estimand, row.jobcentre_id, row.period)
        if key not in replicates:
            out.append(row)
            continue
        s = replicate_summary(replicates[[key]].to_numpy(dtype=float), np.array([row.estimate]), alpha).iloc[0]
        out.append(dataclasses.replace(row, se=_none(s["se"]), ci_low=_none(s["ci_low"]), ci_high=_none(s["ci_high"]),
                                       p_value=_none(s["p_value"]) if row.estimand == "did" else None,
                                       replicate_failure_share=float(s["failure_share"]),
                                       n_clusters=row.n_clusters if n_clusters is None else int(n_clusters)))
    return out


def _none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


RANDOMIZATION_ESTIMAND = "did_randomization"


def design_based_rows(rows: Sequence[Estimate], cells: pd.DataFrame, *, treated_ids: Iterable[int], before: str,
                      after: Sequence[str], inference: Inference, min_persons: int = 0) -> list[Estimate]:
    """HIR Table 6 with inference at the level where the caseload cap was assigned (job centres).

    The rows of :func:`share_did_table` are kept; their inference changes:

    * the pooled ``did`` rows: the wild cluster restricted bootstrap at job-centre level
      (:func:`bipdask.estimators.cell_did.cell_did_wild`; Rademacher or Webb weights, all 2^G
      sign vectors when that is fewer than the replicates) — p-value of DiD = 0, CI by test
      inversion, the SE that CI implies;
    * one ``did_randomization`` row per window next to it: the same DiD with randomization
      inference over which centres are participating (sharp null; exact when the assignments can
      be enumerated, else ``inference.replicates`` sampled ones) and the interval of constant
      effects it does not reject (:func:`bipdask.inference.randomization.table6_design_inference`);
    * the per-centre ``did`` rows (one treated cluster each, where no bootstrap works): Conley–Taber
      placebo intervals from the comparison centres' placebo DiDs with the Ferman–Pinto size
      adjustment; no SE.

    The cell means keep their person-clustered intervals (levels, not effects). Methods:
    ``docs/methods.md#inference``.
    """
    treated = sorted(int(j) for j in treated_ids)
    reps = max(int(inference.replicates), 1)
    out: list[Estimate] = []
    added: list[Estimate] = []
    design = {}
    for window in after:
        sample = jobcentre_rows(window_sample(cells, before, window))
        wild = cell_did_wild(sample, cluster="jobcentre_id", bootstrap=reps, seed=inference.seed,
                             weights=inference.wild_weights, alpha=inference.alpha)
        ri = table6_design_inference(cells, treated, before, window, inference.seed, assignments=reps,
                                     alpha=inference.alpha, min_persons=min_persons)
        design[window] = (wild, ri)
    for row in rows:
        if row.estimand != "did" or row.period not in design:
            out.append(row)
            continue
        wild, ri = design[row.period]
        if row.jobcentre_id is None:
            w = wild.wild.table.loc["D_E"]
            out.append(dataclasses.replace(row, se=float(w["se"]), ci_low=float(w["ci_low"]),
                                           ci_high=float(w["ci_high"]), p_value=float(w["p_value"]),
                                           inference="wild", cluster_level="jobcentre",
                                           n_clusters=int(wild.wild.n_clusters),
                                           n_replicates=int(wild.wild.n_replicates)))
            pooled = ri.pooled
            added.append(dataclasses.replace(row, estimand=RANDOMIZATION_ESTIMAND, estimate=float(pooled.estimate),
                                             se=None, ci_low=_finite(pooled.ci_low), ci_high=_finite(pooled.ci_high),
                                             p_value=float(pooled.p_value), inference="randomization",
                                             cluster_level="jobcentre", n_clusters=int(pooled.n_centres),
                                             n_replicates=int(pooled.n_assignments)))
            continue
        per = ri.per_centre.set_index("jobcentre_id")
        if row.jobcentre_id not in per.index:
            out.append(row)
            continue
        p = per.loc[row.jobcentre_id]
        out.append(dataclasses.replace(row, se=None, ci_low=float(p["ci_low"]), ci_high=float(p["ci_high"]),
                                       p_value=float(p["p_value"]), inference="placebo", cluster_level="jobcentre",
                                       n_clusters=int(p["n_placebos"]) + 1, n_replicates=int(p["n_placebos"])))
    return out + added


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
