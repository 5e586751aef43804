"""HIR Tables 9 and 10: mediating factors (*medierende faktorer*), HIR quantitative report.

How the week's caseload, its change since January–February 2018 and the caseworker's
pre-survey belief relate to the two success criteria, on the participating job centres'
intervention period (the person-weeks linked by Boks 1, :mod:`bipdask.prepare.linkage`):

- the hazard of a new LAB intervention (*afgangsrate til LAB-indsats*): Cox models on the
  counting-process rows of the gaps between LAB spells, Efron ties, stratified by job centre,
  reported as hazard ratios exp(β) per caseload unit or per belief percentage point —
  :func:`table9` (caseload + casemiss, change + change_miss; Table 9: 0.9553, 0.9912) and
  :func:`table10` (each belief + its missing indicator; Table 10: 1.0041, 0.9947, 1.0011);
- the share in company internship or with ordinary hours (eq. 2's outcome): person-week LPMs on
  the same covariates with job-centre fixed effects (within job centres, as the Cox strata) —
  :func:`table9_10_share`, wrapped with its replicates by
  :func:`share_mediators` (Table 9: 0.0012, −0.0028; Table 10: 0.0021, 0.0001, −0.0004; a
  change in the share, as a fraction, per unit).

Clustered by person (the spec's cluster level). With a bootstrap, every row's SE, percentile CI
and p-value come from its replicates (analyses ``hir_table9``, ``hir_table10``). Method:
``docs/methods.md#hir-table-9--caseload-as-mediator`` and
``docs/methods.md#hir-table-10--caseworker-belief-as-mediator``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.analyses.estimates import (
    Estimate,
    HazardEstimates,
    _replicates_frame,
    replicate_key,
    rows_frame,
)
from bipdask.analyses.hir.beliefs import BELIEF_PREFIX, BELIEFS
from bipdask.analyses.hir.linear_table import (
    SHARE_OUTCOME,
    LinearTable,
    ModelFit,
    _linear_estimates,
    _model_fit,
    _returned,
    estimate_row,
)
from bipdask.errors import FitError, require_columns
from bipdask.estimators.cox import cox_ph
from bipdask.estimators.lpm import lpm
from bipdask.inference.config import Inference
from bipdask.inference.pairs import replicate_summary

TABLE9_MODELS = {"caseload": ("caseload", "casemiss"), "caseload_change": ("caseload_change", "change_miss")}


def table9(time_varying: pd.DataFrame, *, inference: Inference, period: str = "intervention") -> HazardEstimates:
    """Table 9: hazard ratios of a new LAB per unit of the week's caseload and of its change.

    Two Cox models on the counting-process rows of the participating job centres' intervention
    period gaps (:func:`bipdask.prepare.spells.time_varying_rows`): covariates [caseload, casemiss] and,
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
    return _cox_table(time_varying, TABLE9_MODELS, analysis="hir_table9", inference=inference, period=period)


def table10(time_varying: pd.DataFrame, *, inference: Inference, period: str = "intervention") -> HazardEstimates:
    """Table 10 (*Medierende faktorer*): hazard ratios of a new LAB per point of pre-survey belief.

    One Cox model per belief of :data:`bipdask.analyses.hir.beliefs.BELIEFS` — the caseworker's answer
    before the experiment in percent of their caseload (internship within 3 months, ordinary
    hours within a year, a job within 2 years) — with its missing indicator
    ``belief_<name>_miss`` (the week has no caseworker or the caseworker did not answer the pre
    survey; belief 0 there), the Table 9 setup otherwise: counting-process rows, Efron ties,
    stratified by job centre, clustered by ``cluster``. An indicator that is constant in the
    rows (everyone answered) is left out of its model and named in ``notes``.

    Parameters
    ----------
    time_varying : the ``time_varying`` model input with the belief columns of
        :func:`bipdask.prepare.hir.with_pre_belief`.

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
    est = _cox_table(time_varying, models, analysis="hir_table10", inference=inference, period=period)
    if dropped:
        est.notes["constant_indicators_left_out"] = dropped
    return est


def _cox_table(data: pd.DataFrame, models: dict[str, tuple[str, ...]], **kw) -> HazardEstimates:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _cox_fits(data, models, **kw)


def _cox_fits(time_varying: pd.DataFrame, models: dict[str, tuple[str, ...]], *, analysis: str,
              inference: Inference, period: str) -> HazardEstimates:
    """Stratified Efron Cox fits, one per model, as hazard-ratio rows with bootstrap replicates."""
    alpha, bootstrap = inference.alpha, inference.replicates
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
        wild = {"wild_terms": [covs[0]]} if inference.method == "wild" else {}  # the mediator, not its indicator
        try:
            fit = cox_ph(data, duration="stop", start="start", event="event", covariates=list(covs),
                         ties="efron", cluster=inference.cluster, strata="jobcentre_id",
                         **inference.estimator_kwargs(), **wild)
        except FitError as exc:
            notes[model] = f"skipped: {exc}"
            continue
        hr = np.exp(fit.params.to_numpy())
        if fit.wild is not None:  # the wild score test of β = 0 and its inverted CI, on the HR scale
            rep = None
            tab = fit.wild.table.reindex(list(covs))
            se = hr * tab["se"].to_numpy()
            lo, hi = np.exp(tab["ci_low"].to_numpy()), np.exp(tab["ci_high"].to_numpy())
            p = tab["p_value"].to_numpy()
        elif fit.bootstrap is not None:
            rep = np.exp(fit.bootstrap.replicates.to_numpy())
            hr_boot = replicate_summary(rep, hr, alpha)  # failed replicates count as extreme
            se, lo, hi = (hr_boot[c].to_numpy() for c in ("se", "ci_low", "ci_high"))
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
                         "n_obs": int(len(data)), "n_clusters": int(fit.n_clusters),
                         **({"inference": "wild", "n_replicates": int(fit.wild.n_replicates)}
                            if fit.wild is not None and np.isfinite(p[i]) else {})})
            if rep is not None:
                reps[replicate_key(estimand, None, period)] = rep[:, i]
        notes[f"{model}_events"] = int(fit.n_events)
    return HazardEstimates(analysis, rows_frame(rows), _replicates_frame(reps, bootstrap if reps else 0), notes)


def share_mediators(share_weeks: pd.DataFrame, *, analysis: str, inference: Inference,
                    period: str = "intervention") -> HazardEstimates:
    """The share LPMs of HIR Table 9 or 10 via :func:`bipdask.analyses.hir.mediators.table9_10_share`.

    Parameters
    ----------
    share_weeks : the ``share_weeks`` model input (the participating job centres' intervention
        period course weeks), for ``analysis="hir_table10"`` with the belief columns of
        :func:`bipdask.prepare.hir.with_pre_belief`.
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
        return HazardEstimates(analysis, rows_frame([]), _replicates_frame({}, 0), {**notes, "skipped": "no rows"})
    tab = table9_10_share(frame, beliefs=beliefs, inference=inference, period=period, return_fits=True)
    mine = LinearTable([r for r in tab.rows if r.analysis == analysis], [m for m in tab.fits if m.analysis == analysis])
    return _linear_estimates(analysis, mine, notes=notes)


TABLE9 = "hir_table9"


TABLE10 = "hir_table10"


def table9_10_share(
    person_weeks: pd.DataFrame,
    *,
    outcome: str = SHARE_OUTCOME,
    beliefs: Sequence[str] = tuple(BELIEF_PREFIX + b for b in BELIEFS),
    controls: Sequence[str] = (),
    fixed_effects: str | None = "jobcentre_id",
    inference: Inference,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Tables 9–10 (share rows): the LPM of the weekly share on caseload, its change, belief.

    Models, each clustered by person, on the participating job centres' person-weeks of the
    intervention period (the weeks that have a caseload), with **job-centre fixed effects
    absorbed** (``fixed_effects``, when that column is present): the coefficient comes from
    differences *within* a job centre, as the Cox rows' hazard ratios do (stratified by job
    centre, :func:`table9`). Job centres differ in both caseload level and share level, which a
    pooled intercept would confound with the caseload effect. ``fixed_effects=None`` pools.

    * Table 9, estimand ``"caseload"``: outcome ~ caseload + casemiss (+ controls);
    * Table 9, estimand ``"caseload_change"``: outcome ~ caseload_change + change_miss;
    * Table 10, one model per belief column b (percent,
      :func:`bipdask.analyses.hir.beliefs.belief_percentages` of the pre wave joined on the
      week's caseworker): outcome ~ b (+ ``<b>_miss`` when that column
      exists; otherwise weeks without a belief are dropped).

    Parameters
    ----------
    person_weeks : person_id, the 0/1 ``outcome`` (:func:`bipdask.prepare.outcomes.in_internship_or_hours`),
        caseload, casemiss, caseload_change, change_miss (:func:`bipdask.prepare.linkage.link_caseload`,
        :func:`bipdask.prepare.linkage.add_caseload_change`) and the belief columns present; a model
        whose columns are absent is skipped.

    Returns
    -------
    Rows with analysis ``"hir_table9"`` / ``"hir_table10"``, estimand = the mediator, period
    ``period``: the coefficient (change in the share per unit of caseload / belief percent).
    With ``return_fits=True``: a :class:`LinearTable` with one fit per row (term = the mediator).
    """
    cluster, alpha = inference.cluster, inference.alpha
    require_columns(person_weeks, [outcome, cluster], "person_weeks")
    models: list[tuple[str, str, list[str]]] = [
        (TABLE9, "caseload", ["caseload", "casemiss"]),
        (TABLE9, "caseload_change", ["caseload_change", "change_miss"]),
    ]
    for b in beliefs:
        models.append((TABLE10, b.removeprefix(BELIEF_PREFIX), [b, *([f"{b}_miss"] if f"{b}_miss" in person_weeks else [])]))
    frame = person_weeks.assign(**{outcome: person_weeks[outcome].astype(np.float64)})
    absorb = fixed_effects if fixed_effects is not None and fixed_effects in frame.columns else None
    # with person clusters the fit's clusters are the persons; otherwise count them for disclosure
    n_persons = None if cluster == "person_id" else int(frame["person_id"].nunique())
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for analysis, estimand, covs in models:
        if any(c not in frame.columns for c in covs):
            continue
        fit = lpm(frame, y=outcome, covariates=[*covs, *controls], fixed_effects=absorb, cluster=cluster,
                  **inference.estimator_kwargs())
        rows.append(estimate_row(fit, covs[0], analysis=analysis, estimand=estimand, period=period, alpha=alpha,
                                 n_persons=n_persons))
        fits.append(_model_fit(fit, covs[0], rows[-1]))
    return _returned(rows, fits, return_fits)
