"""HIR first stage: FTE caseload per caseworker per job centre before and during the cap, its change
and its DiD against comparison centres, with job-centre-level inference (HIR main report, Tabel 1).

The caseload experiment works only if caseloads fell. The HIR main report (Discus 2019), Tabel 1
("Gennemsnitligt caseload per fuldtidsstilling"), shows each participating job centre's mean FTE
caseload in January–February 2018 (before the cap) and in the five monitoring periods of the
intervention (38.9 → 30.3 on average). Here, from the contract's ``caseload`` table:

* ``caseload_fte`` — per participating job centre and period: the mean over its caseworker-weeks
  of ``n_cases × 37 / weekly_hours`` (cases per full-time caseworker,
  :func:`bipdask.prepare.linkage.caseload_fte`), keeping values inside the spec's
  ``caseload.plausible`` range (typing errors such as 1 and 140 out). The all-centres row
  (``jobcentre_id`` null) is the unweighted mean of the centres' means, as the report's
  "Gennemsnit". Periods: ``baseline`` (the spec's ``caseload_baseline``), the whole
  ``intervention`` period and the monitoring periods of :data:`MONITORING_PERIODS` inside it.
* ``caseload_fte_others`` — the same mean over comparison centres that report caseloads.
* ``change`` — the mean over participating centres of (intervention − baseline), FTE.
* ``did`` — ``change`` minus the comparison centres' mean change (only when at least
  :data:`MIN_COMPARISON_CENTRES` comparison centres report caseloads in both periods).

``change`` and ``did`` are regressions of the centre × period means on (1, E) and (1, D, E, D·E);
their inference is at job-centre level, where the cap was assigned: the wild cluster restricted
bootstrap (:func:`bipdask.inference.wild.wcr_linear`) with the run's replicates, seed and wild
weights, or — without replicates — the t interval of the centres' changes (G − 1 df).
``n_persons`` counts caseworkers and ``n_obs`` caseworker-weeks, so disclosure control keeps a
centre's caseload only when it rests on enough caseworkers. Methods:
``docs/methods.md#hir-first-stage-caseload-per-caseworker``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.analyses.estimates import HazardEstimates, rows_frame
from bipdask.data.contract import FTE_HOURS_PER_WEEK
from bipdask.errors import require_columns
from bipdask.inference.config import Inference
from bipdask.inference.wild import cluster_moments, wcr_linear
from bipdask.prepare.linkage import caseload_fte
from bipdask.prepare.outcomes import in_period
from bipdask.spec import Period

FIRST_STAGE_ANALYSIS = "hir_caseload"
BASELINE = "baseline"
INTERVENTION = "intervention"
MIN_COMPARISON_CENTRES = 2
# The HIR main report's five monitoring periods (Tabel 1: "1. periode mar.-maj 18" … "5. periode jan.-mar. 19");
# used only where they lie inside the spec's intervention period.
MONITORING_PERIODS: dict[str, Period] = {
    "mar_may_2018": Period(dt.date(2018, 3, 1), dt.date(2018, 5, 31)),
    "jun_aug_2018": Period(dt.date(2018, 6, 1), dt.date(2018, 8, 31)),
    "sep_oct_2018": Period(dt.date(2018, 9, 1), dt.date(2018, 10, 31)),
    "nov_dec_2018": Period(dt.date(2018, 11, 1), dt.date(2018, 12, 31)),
    "jan_mar_2019": Period(dt.date(2019, 1, 1), dt.date(2019, 3, 31)),
}
NO_REPLICATES = Inference()  # the default: no replicates, so change and DiD get the analytic t interval
CASELOAD_COLUMNS = ("caseworker_id", "jobcentre_id", "week", "n_cases", "weekly_hours")


def first_stage_periods(baseline: Period, intervention: Period) -> dict[str, Period]:
    """Period label → period: the baseline, the intervention and the monitoring periods within it."""
    out = {BASELINE: baseline, INTERVENTION: intervention}
    out.update({k: p for k, p in MONITORING_PERIODS.items()
                if p.start >= intervention.start and p.end <= intervention.end})
    return out


def caseload_cells(caseload: pd.DataFrame, periods: Mapping[str, Period], *,
                   plausible: tuple[float, float] = (5.0, 90.0),
                   fte_hours: float = FTE_HOURS_PER_WEEK) -> pd.DataFrame:
    """Per job centre × period: mean FTE caseload over caseworker-weeks, caseworkers, caseworker-weeks.

    Caseworker-weeks whose FTE caseload is undefined (no hours) or outside ``plausible``
    (inclusive) are left out. A week belongs to every period containing its Monday.
    """
    require_columns(caseload, CASELOAD_COLUMNS, "caseload")
    fte = caseload_fte(caseload, fte_hours=fte_hours)
    low, high = plausible
    with np.errstate(invalid="ignore"):
        fte = fte[(fte["caseload_fte"] >= low) & (fte["caseload_fte"] <= high)]
    parts = [fte.loc[in_period(fte["week"], p)].assign(period=label) for label, p in periods.items()]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"jobcentre_id": pd.Series(dtype="int64"), "period": pd.Series(dtype="object"),
                             "mean": pd.Series(dtype="float64"), "caseworkers": pd.Series(dtype="int64"),
                             "caseworker_weeks": pd.Series(dtype="int64")})
    both = pd.concat(parts, ignore_index=True)
    return (both.groupby(["jobcentre_id", "period"], sort=True)
            .agg(mean=("caseload_fte", "mean"), caseworkers=("caseworker_id", "nunique"),
                 caseworker_weeks=("caseload_fte", "size"))
            .reset_index().astype({"jobcentre_id": "int64"}))


def caseload_table(caseload: pd.DataFrame, *, treated_ids: Iterable[int], baseline: Period, intervention: Period,
                   inference: Inference = NO_REPLICATES, plausible: tuple[float, float] = (5.0, 90.0),
                   fte_hours: float = FTE_HOURS_PER_WEEK) -> HazardEstimates:
    """The first-stage table as tidy rows (analysis ``hir_caseload``; module docstring)."""
    periods = first_stage_periods(baseline, intervention)
    cells = caseload_cells(caseload, periods, plausible=plausible, fte_hours=fte_hours)
    treated = sorted(int(j) for j in treated_ids)
    cells["d"] = cells["jobcentre_id"].isin(treated).astype("int8")
    rows: list[dict] = []
    for period in periods:
        for d, estimand in ((1, "caseload_fte"), (0, "caseload_fte_others")):
            part = cells[(cells["period"] == period) & (cells["d"] == d)]
            if part.empty:
                continue
            if d == 1:
                rows += [_level_row(estimand, int(r.jobcentre_id), period, r.mean, r.caseworkers, r.caseworker_weeks)
                         for r in part.itertuples()]
            rows.append(_level_row(estimand, None, period, float(part["mean"].mean()), int(part["caseworkers"].sum()),
                                   int(part["caseworker_weeks"].sum()), n_clusters=len(part)))
    notes: dict = {"caseworker_weeks_kept": int(cells.loc[cells["period"] == INTERVENTION, "caseworker_weeks"].sum()),
                   "plausible_range_fte": list(plausible)}
    balanced = _balanced(cells)
    t = balanced[balanced["d"] == 1]
    if t["jobcentre_id"].nunique() >= 2:
        rows.append(_effect_row("change", t, ("_cons", "E"), "E", inference))
    else:
        notes["change"] = "fewer than 2 participating job centres report caseloads in both periods"
    c = balanced[balanced["d"] == 0]
    n_comparison = int(c["jobcentre_id"].nunique())
    notes["comparison_centres_with_caseload"] = n_comparison
    if n_comparison >= MIN_COMPARISON_CENTRES and t["jobcentre_id"].nunique() >= 1:
        rows.append(_effect_row("did", balanced, ("_cons", "D", "E", "D_E"), "D_E", inference))
    else:
        notes["did"] = (f"not identified: {n_comparison} comparison job centres report caseloads in both the "
                        f"baseline and the intervention period (at least {MIN_COMPARISON_CENTRES} needed)")
    return HazardEstimates(FIRST_STAGE_ANALYSIS, rows_frame(rows), pd.DataFrame({"replicate": []}), notes)


def _level_row(estimand: str, jc: int | None, period: str, mean: float, caseworkers: int, weeks: int,
               n_clusters: int | None = None) -> dict:
    return dict(analysis=FIRST_STAGE_ANALYSIS, estimand=estimand, jobcentre_id=jc, period=period,
                estimate=float(mean), n_persons=int(caseworkers), n_obs=int(weeks), inference="none",
                cluster_level="jobcentre" if n_clusters else None, n_clusters=n_clusters)


def _balanced(cells: pd.DataFrame) -> pd.DataFrame:
    """Baseline and intervention means of the centres that have both, with E."""
    two = cells[cells["period"].isin([BASELINE, INTERVENTION])]
    both = two.groupby("jobcentre_id")["period"].transform("nunique") == 2
    out = two[both].copy()
    out["e"] = (out["period"] == INTERVENTION).astype("int8")
    return out.sort_values(["jobcentre_id", "e"]).reset_index(drop=True)


def _effect_row(estimand: str, frame: pd.DataFrame, names: Sequence[str], term: str,
                inference: Inference) -> dict:
    """OLS of the centre × period means on ``names`` and its inference for ``term`` (job-centre clusters)."""
    d = frame["d"].to_numpy(np.float64)
    e = frame["e"].to_numpy(np.float64)
    columns = {"_cons": np.ones(len(frame)), "D": d, "E": e, "D_E": d * e}
    X = np.column_stack([columns[n] for n in names])
    y = frame["mean"].to_numpy(np.float64)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    estimate = float(beta[list(names).index(term)])
    centres = frame["jobcentre_id"].to_numpy(np.int64)
    g = int(np.unique(centres).size)
    row = dict(analysis=FIRST_STAGE_ANALYSIS, estimand=estimand, jobcentre_id=None, period=INTERVENTION,
               estimate=estimate, n_persons=int(frame["caseworkers"].sum()), n_obs=int(frame["caseworker_weeks"].sum()),
               cluster_level="jobcentre", n_clusters=g)
    if inference.replicates > 0:
        moments = cluster_moments(X, y, centres, names=list(names))
        test = wcr_linear(moments, terms=[term], bootstrap=int(inference.replicates), seed=inference.seed,
                          weights=inference.wild_weights, alpha=inference.alpha)
        w = test.table.loc[term]
        row.update(se=_finite(w["se"]), ci_low=_finite(w["ci_low"]), ci_high=_finite(w["ci_high"]),
                   p_value=float(w["p_value"]), inference="wild", n_replicates=int(test.n_replicates))
        return row
    se, df = _analytic_se(frame, term)
    if se is not None and se > 0:
        q = stats.t.ppf(1 - inference.alpha / 2, df)
        row.update(se=se, ci_low=estimate - q * se, ci_high=estimate + q * se,
                   p_value=float(2 * stats.t.sf(abs(estimate / se), df)))
    row.update(inference="analytic", n_replicates=0)
    return row


def _analytic_se(frame: pd.DataFrame, term: str) -> tuple[float | None, int]:
    """SE of the mean change (one sample of centre changes) or of the difference of the two groups'
    mean changes (Welch), with the smaller group's G − 1 degrees of freedom."""
    wide = frame.pivot_table(index=["jobcentre_id", "d"], columns="e", values="mean").reset_index()
    change = wide[1] - wide[0]
    groups = [change[wide["d"] == 1].to_numpy()] + ([change[wide["d"] == 0].to_numpy()] if term == "D_E" else [])
    if any(len(x) < 2 for x in groups):
        return None, 1
    se = float(np.sqrt(sum(np.var(x, ddof=1) / len(x) for x in groups)))
    return se, int(min(len(x) for x in groups) - 1)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
