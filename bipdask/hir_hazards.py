"""The reduce side of the HIR duration analyses: gathered model inputs → tidy estimate rows.

HIR quantitative report (Metrica 2019, seed 001):

- Tables A and 4 — expected weeks between LAB interventions (eq. 1, Weibull PH on D, E, D×E) for
  the four D×E groups and their difference-in-differences, nationally and for each participating
  job centre against all non-participating ones (:func:`table4`);
- Table 7 — the same machinery on the time from a newly granted course to its first LAB
  (:func:`table7`);
- Figures 1–2 — the raw weekly hazard of a new LAB and the Kaplan–Meier share not yet in a new
  LAB, by D×E group (:func:`figure_curves`);
- Table 9 — Cox models of the LAB hazard on the week's caseload (+casemiss) and on its change
  from the January–February 2018 baseline (+change_miss) (:func:`table9`);
- Table 10 — the same Cox setup on the caseworker's pre-survey belief (+ its missing indicator)
  (:func:`table10`).

The linear tables (3, 8 and the share LPMs of 9–10) are fitted by :mod:`bipdask.hir_linear`;
:func:`table8`, :func:`table3` and :func:`share_mediators` wrap them as :class:`HazardEstimates`
with the bootstrap replicates behind their rows.

Every function takes the concatenated frames of :mod:`bipdask.model_inputs` and returns a
:class:`HazardEstimates`: rows in the columns of :data:`bipdask.results.ESTIMATES_SCHEMA`, the
bootstrap replicates behind them (one row per replicate, one column per estimand key
``"<estimand>|<jobcentre_id or all>|<period>"``) and notes (fits skipped and why, counts only).
``se``, ``ci_low``/``ci_high`` and ``p_value`` are the cluster bootstrap's (SE of the replicates,
percentile CI, share of centred replicates at least as extreme) whenever B > 0.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.cox import cox_ph
from bipdask.duration_did import GROUP_NAMES, GROUPS, DurationDiD, duration_did
from bipdask.hazards import FitError, expected_from_params
from bipdask.hir_linear import (BELIEF_PREFIX, BELIEFS, LinearTable, belief_percentages, period_week,
                                table3_belief, table8_exits, table9_10_share)
from bipdask.results import COLUMNS, replicate_key
from bipdask.survival_curves import kaplan_meier, raw_weekly_hazard

DID_ESTIMANDS = (*GROUP_NAMES, "did_weeks", "did_pct")
TABLE9_MODELS = {"caseload": ("caseload", "casemiss"), "caseload_change": ("caseload_change", "change_miss")}
GROUP_LABELS = {(1, 0): "participating_before", (1, 1): "participating_intervention",
                (0, 0): "other_before", (0, 1): "other_intervention"}

__all__ = [
    "DID_ESTIMANDS",
    "HazardEstimates",
    "did_replicates",
    "figure_curves",
    "replicate_key",
    "table4",
    "table7",
    "combine_estimates",
    "share_mediators",
    "table3",
    "table8",
    "table9",
    "table10",
]


@dataclass(frozen=True)
class HazardEstimates:
    """Tidy rows (:data:`bipdask.results.COLUMNS`), bootstrap replicates and notes of one analysis."""

    analysis: str
    rows: pd.DataFrame
    replicates: pd.DataFrame
    notes: dict = field(default_factory=dict)


def _replicates_frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    out = pd.DataFrame({"replicate": np.arange(n, dtype=np.int32)})
    if columns:
        out = pd.concat([out, pd.DataFrame(columns)], axis=1)
    return out


# --------------------------------------------------------------------------- Tables A/4 and 7


def did_replicates(result: DurationDiD) -> np.ndarray:
    """(B × 6) replicates of the four expected durations, the DiD in weeks and in percent.

    The same quantities as :func:`bipdask.duration_did.duration_did` computes internally, from
    the fit's bootstrap replicates of the Weibull parameters: E[T|D,E] = Γ(1 + 1/p)·exp(−x'b/p).
    """
    if result.fit.bootstrap is None:
        return np.empty((0, len(DID_ESTIMANDS)))
    e = expected_from_params(result.fit.bootstrap.replicates.to_numpy(), result.fit.params.index, GROUPS)
    did = (e[:, 1] - e[:, 0]) - (e[:, 3] - e[:, 2])
    return np.column_stack([e, did, 100 * did / e[:, 0]])


def _did_rows(res: DurationDiD, data: pd.DataFrame, analysis: str, jobcentre_id: int | None,
              period: str) -> list[dict]:
    rows = []
    tab = res.table.set_index("quantity")
    for name in DID_ESTIMANDS:
        if name in GROUP_NAMES:
            d, e = GROUPS.iloc[GROUP_NAMES.index(name)][["D", "E"]]
            cell = data[(data["D"] == d) & (data["E"] == e)]
        else:
            cell = data
        r = tab.loc[name]
        rows.append({"analysis": analysis, "estimand": name, "jobcentre_id": jobcentre_id, "period": period,
                     "estimate": float(r["estimate"]), "se": r["se_boot"], "ci_low": r["ci_low"],
                     "ci_high": r["ci_high"], "p_value": r["p_value"],
                     "n_persons": int(cell["person_id"].nunique()), "n_obs": int(len(cell))})
    return rows


def _duration_table(spells: pd.DataFrame, *, analysis: str, period: str, bootstrap: int, seed: int,
                    scheme: str, min_persons: int, notes: dict, cluster: str) -> HazardEstimates:
    """The national DiD and one per participating job centre against all D=0 spells.

    Same subsets as :func:`bipdask.duration_did.duration_did_by_jobcentre` (which does not
    return the fits, and the replicate arrays are needed here). A job centre whose fit fails
    (e.g. a D×E cell without events) or with fewer than ``min_persons`` persons in its
    participating cells is skipped and counted in ``notes``.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Replicates that fail to converge are NaN and counted in notes; their numpy warnings
        # would only reach the worker's stderr.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _duration_fits(spells, analysis=analysis, period=period, bootstrap=bootstrap, seed=seed,
                              scheme=scheme, min_persons=min_persons, notes=notes, cluster=cluster)


def weekly_survival_time(spells: pd.DataFrame) -> pd.Series:
    """Durations for the grouped-week Weibull likelihood (``weibull_ph(interval=True)``).

    A gap of d whole weeks without a LAB that ends in a new LAB is an event in week d, i.e. in
    (d−1, d]. A censored gap of d observed weeks survived only d − 1 whole weeks: a start in its
    last week would first show in the week after the period (or the course) ended, which the
    gap definition does not look at (:func:`bipdask.spells.gap_spells`).
    """
    d = spells["duration"].to_numpy(dtype=float)
    return pd.Series(np.where(spells["event"].to_numpy() == 1, d, d - 1), index=spells.index)


def _duration_fits(spells: pd.DataFrame, *, analysis: str, period: str, bootstrap: int, seed: int,
                   scheme: str, min_persons: int, notes: dict, cluster: str) -> HazardEstimates:
    spells = spells.sort_values(["jobcentre_id", "person_id", "E", "duration", "event"],
                                kind="mergesort").reset_index(drop=True)
    spells = spells.assign(weeks_survived=weekly_survival_time(spells))
    fit_kw = dict(duration="weeks_survived", interval=True)
    rows: list[dict] = []
    reps: dict[str, np.ndarray] = {}
    try:
        national = duration_did(spells, bootstrap=bootstrap, seed=seed, scheme=scheme, cluster=cluster, **fit_kw)
    except FitError as exc:
        notes.update({"national_fit": "failed", "reason": str(exc)})
        return HazardEstimates(analysis, _frame(rows), _replicates_frame({}, bootstrap), notes)
    fits = [(None, national, spells)]
    others = spells[spells["D"] == 0]
    skipped_small, skipped_fit = [], []
    for jc in sorted(int(j) for j in spells.loc[spells["D"] == 1, "jobcentre_id"].unique()):
        mine = spells[(spells["D"] == 1) & (spells["jobcentre_id"] == jc)]
        if mine["person_id"].nunique() < min_persons:
            skipped_small.append(jc)
            continue
        sub = pd.concat([mine, others], ignore_index=True)
        try:
            res = duration_did(sub, label=str(jc), bootstrap=bootstrap, seed=seed, scheme=scheme, cluster=cluster,
                               **fit_kw)
            fits.append((jc, res, sub))
        except FitError:
            skipped_fit.append(jc)
    for jc, res, data in fits:
        rows += _did_rows(res, data, analysis, jc, period)
        for name, col in zip(DID_ESTIMANDS, did_replicates(res).T):
            reps[replicate_key(name, jc, period)] = col
    notes.update({"fits": len(fits), "jobcentres_skipped_small": skipped_small,
                  "jobcentres_skipped_fit_failed": skipped_fit,
                  "bootstrap_failed_replicates": int(national.fit.bootstrap.n_failed) if national.fit.bootstrap else 0})
    return HazardEstimates(analysis, _frame(rows), _replicates_frame(reps, bootstrap), notes)


def table4(gap_spells: pd.DataFrame, *, bootstrap: int, seed: int, scheme: str = "multinomial",
           min_persons: int = 0, period: str = "intervention", cluster: str = "person_id") -> HazardEstimates:
    """Tables A and 4: expected weeks between LAB interventions by D×E and their DiD.

    The Weibull PH model of eq. (1) is fitted with the grouped-week likelihood (durations are
    whole weeks; see :func:`weekly_survival_time`), which removes the bias a continuous-time
    likelihood has on weekly register data; expected durations are Γ(1 + 1/p)·exp(−x'b/p) weeks.

    Parameters
    ----------
    gap_spells : DataFrame
        The gathered ``gap_spells`` model input (D, E, jobcentre_id, person_id, duration in weeks,
        event), both periods.
    bootstrap, seed, scheme
        Cluster bootstrap: B replicates, the run seed, the weight scheme.
    min_persons : int
        Disclosure rule: per-job-centre rows need at least this many persons (spec
        ``disclosure_min_persons``).
    period : str
        The label of the E=1 period in the rows.
    cluster : str
        The cluster column of the bootstrap (``person_id``; ``jobcentre_id`` for spec
        ``cluster = "jobcentre"``).

    Returns
    -------
    HazardEstimates
        ``analysis="hir_table4"``; estimands participating_before, participating_intervention,
        other_before, other_intervention (weeks), did_weeks, did_pct (% of participating_before);
        ``jobcentre_id`` null = all participating job centres.
    """
    return _duration_table(gap_spells, analysis="hir_table4", period=period, bootstrap=bootstrap, seed=seed,
                           scheme=scheme, min_persons=min_persons, notes={"spells": int(len(gap_spells))},
                           cluster=cluster)


def table7(first_lab_spells: pd.DataFrame, *, bootstrap: int, seed: int, scheme: str = "multinomial",
           min_persons: int = 0, period: str = "intervention", cluster: str = "person_id") -> HazardEstimates:
    """Table 7: expected weeks from a newly granted course to its first LAB, by D×E, and the DiD.

    The Table 4 machinery on :func:`bipdask.spells.first_lab_spells`. Courses whose first week
    is already a LAB week have duration 0; they are **dropped** before the fit, as Stata's
    ``stset`` drops zero-length spells from a ``streg`` (a Weibull density has no mass at 0).
    ``notes["dropped_duration_0"]`` counts them. Courses whose 52-week lookback reaches before
    the delivery's first week are kept (the before period's new courses all do when the panel
    starts in January 2017).
    """
    zero = first_lab_spells["duration"].to_numpy() <= 0
    notes = {"spells": int(len(first_lab_spells)), "dropped_duration_0": int(zero.sum())}
    return _duration_table(first_lab_spells.loc[~zero], analysis="hir_table7", period=period,
                           bootstrap=bootstrap, seed=seed, scheme=scheme, min_persons=min_persons, notes=notes,
                           cluster=cluster)


# --------------------------------------------------------------------------- Figures 1–2


def figure_curves(gap_spells: pd.DataFrame, *, max_week: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figures 1 and 2 by D×E group: raw weekly hazard and Kaplan–Meier, as tidy frames.

    Returns
    -------
    (DataFrame, DataFrame)
        Figure 1: group, D, E, week, n_risk, n_event, hazard, lower, upper (Wilson 95 %);
        Figure 2: group, D, E, time (weeks), n_risk, n_event, surv (share not yet in a new LAB),
        std_err, lower, upper (log band, R ``survfit`` conventions).
    """
    data = gap_spells[["D", "E", "duration", "event"]]
    raw = raw_weekly_hazard(data, duration="duration", event="event", groups=["D", "E"], max_week=max_week)
    km = kaplan_meier(data, duration="duration", event="event", groups=["D", "E"])
    return _with_group(raw), _with_group(km)


def _with_group(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["D"] = out["D"].astype(np.int8)
    out["E"] = out["E"].astype(np.int8)
    out.insert(0, "group", [GROUP_LABELS[(int(d), int(e))] for d, e in zip(out["D"], out["E"])])
    for c in ("n_risk", "n_event"):
        out[c] = out[c].astype(np.float64)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- Table 9


def table9(time_varying: pd.DataFrame, *, bootstrap: int, seed: int, scheme: str = "multinomial",
           period: str = "intervention", alpha: float = 0.05, cluster: str = "person_id") -> HazardEstimates:
    """Table 9: hazard ratios of a new LAB per unit of the week's caseload and of its change.

    Two Cox models on the counting-process rows of the participating job centres' intervention
    period gaps (:func:`bipdask.spells.time_varying_rows`): covariates [caseload, casemiss] and,
    separately, [caseload_change, change_miss]; Efron ties (durations are whole weeks), robust
    variance and bootstrap clustered on ``cluster`` (person_id), and **stratified by
    jobcentre_id**: each job centre has its own baseline hazard, so the hazard ratio is
    identified from caseload differences *within* a job centre. That is where the effect lives: the synthetic generator plants the caseload HR
    on the deviation of the caseworker's caseload from the job centre's period mean, and job
    centres differ in both caseload level and LAB intensity, which a pooled baseline would
    confound with the caseload effect.

    Estimates are hazard ratios exp(β); with B > 0, ``se`` is the bootstrap SE of exp(β*), the CI
    the percentile interval of exp(β*) and the p-value the bootstrap one for β = 0; with B = 0
    the delta-method SE, a Wald CI and p-value from the cluster-robust variance.
    """
    return _cox_table(time_varying, TABLE9_MODELS, analysis="hir_table9", bootstrap=bootstrap, seed=seed,
                      scheme=scheme, period=period, alpha=alpha, cluster=cluster)


def table10(time_varying: pd.DataFrame, *, bootstrap: int, seed: int, scheme: str = "multinomial",
            period: str = "intervention", alpha: float = 0.05, cluster: str = "person_id") -> HazardEstimates:
    """Table 10 (*Medierende faktorer*): hazard ratios of a new LAB per point of pre-survey belief.

    One Cox model per belief of :data:`bipdask.hir_linear.BELIEFS` — the caseworker's answer
    before the experiment in percent of their caseload (internship within 3 months, ordinary
    hours within a year, a job within 2 years) — with its missing indicator
    ``belief_<name>_miss`` (the week has no caseworker or the caseworker did not answer the pre
    survey; belief 0 there), the Table 9 setup otherwise: counting-process rows, Efron ties,
    stratified by job centre, clustered by ``cluster``. An indicator that is constant in the
    rows (everyone answered) is left out of its model and named in ``notes``.

    Parameters
    ----------
    time_varying : the ``time_varying`` model input with the belief columns of
        :func:`bipdask.model_inputs.with_pre_belief`.

    Returns
    -------
    HazardEstimates
        ``analysis="hir_table10"``; estimands ``hr_belief_<name>`` (hazard ratio per percentage
        point) and ``hr_belief_<name>_miss``; SE/CI/p as in :func:`table9`.
    """
    models: dict[str, tuple[str, ...]] = {}
    dropped = []
    for name in BELIEFS:
        b = BELIEF_PREFIX + name
        if b not in time_varying.columns:
            continue
        miss = b + "_miss"
        varies = miss in time_varying.columns and time_varying[miss].nunique() > 1
        models[name] = (b, miss) if varies else (b,)
        if not varies:
            dropped.append(miss)
    est = _cox_table(time_varying, models, analysis="hir_table10", bootstrap=bootstrap, seed=seed, scheme=scheme,
                     period=period, alpha=alpha, cluster=cluster)
    if dropped:
        est.notes["constant_indicators_left_out"] = dropped
    return est


def _cox_table(data: pd.DataFrame, models: dict[str, tuple[str, ...]], **kw) -> HazardEstimates:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _cox_fits(data, models, **kw)


def _cox_fits(time_varying: pd.DataFrame, models: dict[str, tuple[str, ...]], *, analysis: str, bootstrap: int,
              seed: int, scheme: str, period: str, alpha: float, cluster: str) -> HazardEstimates:
    """Stratified Efron Cox fits, one per model, as hazard-ratio rows with bootstrap replicates."""
    notes: dict = {"rows": int(len(time_varying))}
    rows: list[dict] = []
    reps: dict[str, np.ndarray] = {}
    data = time_varying.sort_values(["jobcentre_id", "person_id", "start"], kind="mergesort").reset_index(drop=True)
    n_persons = int(data["person_id"].nunique())
    z = stats.norm.ppf(1 - alpha / 2)
    for model, covs in models.items():
        if len(data) == 0 or data["event"].sum() == 0:
            notes[model] = "skipped: no events"
            continue
        try:
            fit = cox_ph(data, duration="stop", start="start", event="event", covariates=list(covs),
                         ties="efron", cluster=cluster, strata="jobcentre_id",
                         bootstrap=bootstrap, seed=seed, scheme=scheme)
        except FitError as exc:
            notes[model] = f"skipped: {exc}"
            continue
        hr = np.exp(fit.params.to_numpy())
        if fit.bootstrap is not None:
            rep = np.exp(fit.bootstrap.replicates.to_numpy())
            se = np.nanstd(rep, axis=0, ddof=1)
            lo, hi = np.nanquantile(rep, [alpha / 2, 1 - alpha / 2], axis=0)
            p = fit.bootstrap.p_value.to_numpy()
            notes[f"{model}_bootstrap_failed_replicates"] = int(fit.bootstrap.n_failed)
        else:
            rep = None
            se = hr * fit.se.to_numpy()
            lo = np.exp(fit.params.to_numpy() - z * fit.se.to_numpy())
            hi = np.exp(fit.params.to_numpy() + z * fit.se.to_numpy())
            p = 2 * stats.norm.sf(np.abs(fit.params.to_numpy() / fit.se.to_numpy()))
        for i, cov in enumerate(covs):
            estimand = f"hr_{cov}"
            rows.append({"analysis": analysis, "estimand": estimand, "jobcentre_id": None, "period": period,
                         "estimate": float(hr[i]), "se": float(se[i]), "ci_low": float(lo[i]),
                         "ci_high": float(hi[i]), "p_value": float(p[i]), "n_persons": n_persons,
                         "n_obs": int(len(data))})
            if rep is not None:
                reps[replicate_key(estimand, None, period)] = rep[:, i]
        notes[f"{model}_events"] = int(fit.n_events)
    return HazardEstimates(analysis, _frame(rows), _replicates_frame(reps, bootstrap if reps else 0), notes)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"jobcentre_id": "Int32"}) if len(frame) else frame


# --------------------------------------------------------------------------- linear tables with replicates


def combine_estimates(analysis: str, *parts: HazardEstimates) -> HazardEstimates:
    """One analysis from several: rows stacked, replicate columns side by side (same B), notes merged."""
    frames = [p.rows for p in parts if len(p.rows)]
    rows = pd.concat(frames, ignore_index=True) if frames else _frame([])
    reps = {c: p.replicates[c].to_numpy() for p in parts for c in p.replicates.columns if c != "replicate"}
    n = max((len(p.replicates) for p in parts if p.replicates.shape[1] > 1), default=0)
    return HazardEstimates(analysis, rows, _replicates_frame(reps, n), {k: v for p in parts for k, v in p.notes.items()})


def _linear_estimates(analysis: str, table: LinearTable, *, notes: dict) -> HazardEstimates:
    """Rows of a :mod:`bipdask.hir_linear` function (``return_fits=True``) and the replicates of
    their bootstrapped terms, taken from the fits behind the rows (no refit): column
    ``"<estimand>|<jobcentre>|<period>"``. Rows without an estimate (a covariate omitted as
    collinear) are dropped, with their columns, and counted.
    """
    kept = [r for r in table.rows if r.estimate is not None and np.isfinite(r.estimate)]
    if len(kept) < len(table.rows):
        notes["rows_without_estimate_dropped"] = len(table.rows) - len(kept)
    frame = _frame([dataclasses.asdict(r) for r in kept])
    keys = {replicate_key(r.estimand, r.jobcentre_id, r.period) for r in kept}
    reps: dict[str, np.ndarray] = {}
    for m in table.fits:
        key, col = replicate_key(m.estimand, m.jobcentre_id, m.period), m.replicates
        if col is not None and key in keys:
            reps[key] = col
    n = len(next(iter(reps.values()))) if reps else 0
    return HazardEstimates(analysis, frame, _replicates_frame(reps, n), notes)


def table8(course_exits: pd.DataFrame, *, bootstrap: int, seed: int, scheme: str = "multinomial",
           cluster: str = "person_id", period: str = "intervention", alpha: float = 0.05) -> HazardEstimates:
    """HIR Table 8 (exits from the course) via :func:`bipdask.hir_linear.table8_exits`, with replicates.

    Rows whose next week is not in the panel (``next_observed == 0``: the panel ends there) are
    dropped, as table8_exits asks. The replicates are those of the DiD β per destination
    (``"<destination>|all|<period>"``); the weekly exit shares have analytic SEs.
    """
    notes: dict = {"rows": int(len(course_exits))}
    data = course_exits
    if "next_observed" in data.columns:
        data = data.loc[data["next_observed"].to_numpy() == 1]
        notes["rows_next_week_unobserved"] = int(len(course_exits) - len(data))
    d, e = data["D"].to_numpy(np.int8), data["E"].to_numpy(np.int8)
    frame = data.assign(D=d, E=e, DE=d * e, tau=period_week(data))
    tab = table8_exits(frame, cluster=cluster, bootstrap=bootstrap, seed=seed, scheme=scheme, alpha=alpha,
                       period=period, return_fits=True)
    return _linear_estimates("hir_table8", tab, notes=notes)


def table3(belief_survey: pd.DataFrame, jobcentres: pd.DataFrame | None = None, *, bootstrap: int, seed: int,
           scheme: str = "multinomial", alpha: float = 0.05) -> HazardEstimates:
    """HIR Table 3 (caseworker belief before/after) via :func:`bipdask.hir_linear.table3_belief`.

    Replicates of the before/after difference per belief (``"<belief>|all|difference"``),
    clustered by caseworker as table3_belief is; the wave means have analytic SEs.
    """
    tab = table3_belief(belief_survey, jobcentres, bootstrap=bootstrap, seed=seed, scheme=scheme, alpha=alpha,
                        return_fits=True)
    notes = {"caseworkers": int(belief_percentages(belief_survey)["caseworker_id"].nunique())}
    return _linear_estimates("hir_table3", tab, notes=notes)


SHARE_MODELS = {"hir_table9": {"caseload": ("caseload", "casemiss"),
                               "caseload_change": ("caseload_change", "change_miss")}}


def share_mediators(share_weeks: pd.DataFrame, *, analysis: str, bootstrap: int, seed: int,
                    scheme: str = "multinomial", cluster: str = "person_id", period: str = "intervention",
                    alpha: float = 0.05) -> HazardEstimates:
    """The share LPMs of HIR Table 9 or 10 via :func:`bipdask.hir_linear.table9_10_share`.

    Parameters
    ----------
    share_weeks : the ``share_weeks`` model input (the participating job centres' intervention
        period course weeks), for ``analysis="hir_table10"`` with the belief columns of
        :func:`bipdask.model_inputs.with_pre_belief`.
    analysis : ``"hir_table9"`` — share on caseload (+casemiss) and on its change (+change_miss),
        estimands ``caseload``, ``caseload_change``; ``"hir_table10"`` — share on each pre-survey
        belief (+ its missing indicator), estimand = belief name.

    Returns
    -------
    HazardEstimates
        Rows (coefficient: change in the share per unit of caseload / percentage point of belief)
        and replicates ``"<estimand>|all|<period>"``.
    """
    if analysis == "hir_table9":
        frame = share_weeks
        beliefs: Sequence[str] = ()
    elif analysis == "hir_table10":
        beliefs = [BELIEF_PREFIX + b for b in BELIEFS if BELIEF_PREFIX + b in share_weeks.columns]
        frame = share_weeks.drop(columns=[c for c in ("caseload", "casemiss", "caseload_change", "change_miss")
                                          if c in share_weeks.columns])
    else:
        raise ValueError(f"analysis must be 'hir_table9' or 'hir_table10', not {analysis!r}")
    notes: dict = {"rows": int(len(share_weeks))}
    if len(frame) == 0:
        return HazardEstimates(analysis, _frame([]), _replicates_frame({}, 0), {**notes, "skipped": "no rows"})
    tab = table9_10_share(frame, beliefs=beliefs, cluster=cluster, bootstrap=bootstrap, seed=seed, scheme=scheme,
                          alpha=alpha, period=period, return_fits=True)
    mine = LinearTable([r for r in tab.rows if r.analysis == analysis], [m for m in tab.fits if m.analysis == analysis])
    return _linear_estimates(analysis, mine, notes=notes)
