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

The Cox rows may be one frame or partitions of whole job centres held elsewhere (Dask workers):
the functions take a :class:`CoxRows` (a DataFrame is wrapped in :class:`FrameRows`), whose
per-partition pieces — :func:`sorted_rows`, :func:`rows_summary`, :func:`cox_partition` — are
pure functions a worker can run; the fit adds per-stratum terms in job-centre order either way
(:mod:`bipdask.estimators.cox.source`).

Clustered by person (the spec's cluster level). With a bootstrap, every row's SE, percentile CI
and p-value come from its replicates (analyses ``hir_table9``, ``hir_table10``). Method:
``docs/methods.md#hir-table-9--caseload-as-mediator`` and
``docs/methods.md#hir-table-10--caseworker-belief-as-mediator``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

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
from bipdask.estimators.cox.model import cox_fit
from bipdask.estimators.cox.replicates import REPLICATE_BLOCK, cox_replicates_many
from bipdask.estimators.cox.source import (
    CoxPartition,
    Executor,
    PartitionedStrata,
    StrataSource,
    local_source,
    partition_strata,
)
from bipdask.estimators.lpm import lpm
from bipdask.estimators.lpm.within import WithinMoments, combine_within, lpm_within, within_moments
from bipdask.inference.config import Inference
from bipdask.inference.pairs import replicate_summary, summarise

TABLE9_MODELS = {"caseload": ("caseload", "casemiss"), "caseload_change": ("caseload_change", "change_miss")}
ROW_ORDER = ["jobcentre_id", "person_id", "start"]


def sorted_rows(time_varying: pd.DataFrame) -> pd.DataFrame:
    """The counting-process rows in the order the fits see them: job centre, person, start."""
    return time_varying.sort_values(ROW_ORDER, kind="mergesort").reset_index(drop=True)


def rows_summary(time_varying: pd.DataFrame) -> dict[str, Any]:
    """What the tables need to know of (a partition of) the rows without the rows: count, events,
    columns, the distinct persons and the distinct values of the ``*_miss`` indicators."""
    n = len(time_varying)
    return {"n_rows": n, "n_events": float(time_varying["event"].sum()) if n else 0.0,
            "columns": list(time_varying.columns),
            "persons": pd.unique(time_varying["person_id"]) if "person_id" in time_varying else np.array([]),
            "miss_values": {c: pd.unique(time_varying[c].dropna()) for c in time_varying.columns
                            if str(c).endswith("_miss")}}


@dataclass(frozen=True)
class RowsSummary:
    """:func:`rows_summary` of all partitions merged."""

    n_rows: int
    n_events: float
    n_persons: int
    columns: tuple[str, ...]
    distinct: dict[str, int]  # distinct non-missing values of each ``*_miss`` column

    @classmethod
    def merge(cls, parts: Sequence[dict[str, Any]]) -> RowsSummary:
        columns = tuple(dict.fromkeys(c for p in parts for c in p["columns"]))
        persons = [p["persons"] for p in parts if len(p["persons"])]
        distinct = {c: int(pd.unique(np.concatenate([np.asarray(p["miss_values"].get(c, []), dtype=float)
                                                        for p in parts])).size)
                    for c in columns if str(c).endswith("_miss")}
        return cls(int(sum(p["n_rows"] for p in parts)), float(sum(p["n_events"] for p in parts)),
                   int(pd.unique(np.concatenate(persons)).size) if persons else 0, columns, distinct)


def cox_partition(time_varying: pd.DataFrame, covariates: Sequence[str], cluster: str | None) -> CoxPartition:
    """The Tables 9–10 Cox strata of (a partition of whole job centres of) :func:`sorted_rows`:
    counting-process rows (start, stop], Efron ties, stratified by ``jobcentre_id``."""
    return partition_strata(time_varying, duration="stop", start="start", event="event", covariates=list(covariates),
                            strata="jobcentre_id", cluster=cluster, ties="efron")


class CoxRows(Protocol):
    """The ``time_varying`` rows of Tables 9–10, wherever they are."""

    def summary(self) -> RowsSummary:
        """Counts, columns and indicator values of all the rows."""

    def source(self, covariates: Sequence[str], cluster: str | None) -> StrataSource:
        """The Cox strata of the rows for these covariates and cluster column."""


class FrameRows:
    """The rows as one DataFrame in this process."""

    def __init__(self, time_varying: pd.DataFrame) -> None:
        self.data = sorted_rows(time_varying)

    def summary(self) -> RowsSummary:
        return RowsSummary.merge([rows_summary(self.data)])

    def source(self, covariates: Sequence[str], cluster: str | None) -> StrataSource:
        return local_source([cox_partition(self.data, covariates, cluster)])


class PartitionedRows:
    """The rows as partitions of whole job centres, each in :func:`sorted_rows` order, held where
    ``executor`` runs (:class:`~bipdask.estimators.cox.source.Executor`: this process, or Dask
    workers); only summaries and per-stratum terms come back. ``replicate_runner`` (optional)
    computes the pairs replicates of the fitted models elsewhere (the flow: windows of replicates
    as tasks, each on all rows, :func:`cox_replicate_window`) instead of Newton step by Newton
    step through the partitions."""

    def __init__(self, parts: Sequence, executor: Executor, replicate_runner: ReplicateRunner | None = None) -> None:
        self.parts = list(parts)
        self.executor = executor
        self.replicate_runner = replicate_runner

    def summary(self) -> RowsSummary:
        return RowsSummary.merge(self.executor.map(rows_summary, self.parts))

    def source(self, covariates: Sequence[str], cluster: str | None) -> StrataSource:
        strata = self.executor.derive(cox_partition, self.parts, covariates=list(covariates), cluster=cluster)
        return PartitionedStrata(strata, self.executor)


def _as_rows(time_varying: pd.DataFrame | CoxRows) -> CoxRows:
    return FrameRows(time_varying) if isinstance(time_varying, pd.DataFrame) else time_varying


def table9(time_varying: pd.DataFrame | CoxRows, *, inference: Inference,
           period: str = "intervention") -> HazardEstimates:
    """Table 9: hazard ratios of a new LAB per unit of the week's caseload and of its change.

    Two Cox models on the counting-process rows of the participating job centres' intervention
    period gaps (:func:`bipdask.prepare.spells.time_varying_rows`): covariates [caseload, casemiss] and,
    separately, [caseload_change, change_miss]; Efron ties (durations are whole weeks), robust
    variance and bootstrap clustered on ``cluster`` (person_id), and **stratified by
    jobcentre_id**: each job centre has its own baseline hazard, so the hazard ratio is
    identified from caseload differences *within* a job centre. That is where the effect lives:
    the synthetic generator plants the caseload HR on the deviation of the caseworker's caseload
    from the job centre's period mean, and job centres differ in both caseload level and LAB
    intensity, which a pooled baseline would confound with the caseload effect.

    Estimates are hazard ratios exp(β); with B > 0, ``se`` is the bootstrap SE of exp(β*), the CI
    the percentile interval of exp(β*) and the p-value the bootstrap one for β = 0; with B = 0
    the delta-method SE, a Wald CI and p-value from the cluster-robust variance.
    """
    return _cox_table(_as_rows(time_varying), TABLE9_MODELS, analysis="hir_table9", inference=inference, period=period)


def table10(time_varying: pd.DataFrame | CoxRows, *, inference: Inference,
            period: str = "intervention") -> HazardEstimates:
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
        :func:`bipdask.prepare.hir.with_pre_belief` (a frame, or :class:`CoxRows`).

    Returns
    -------
    HazardEstimates
        ``analysis="hir_table10"``; estimands ``hr_belief_<name>`` (hazard ratio per percentage
        point) and ``hr_belief_<name>_miss``; SE/CI/p as in :func:`table9`.
    """
    rows = _as_rows(time_varying)
    summary = rows.summary()
    models: dict[str, tuple[str, ...]] = {}
    dropped = []
    for name in BELIEFS:
        b = BELIEF_PREFIX + name
        if b not in summary.columns:
            continue
        miss = b + "_miss"
        varies = summary.distinct.get(miss, 0) > 1
        models[name] = (b, miss) if varies else (b,)
        if not varies:
            dropped.append(miss)
    est = _cox_table(rows, models, analysis="hir_table10", inference=inference, period=period, summary=summary)
    if dropped:
        est.notes["constant_indicators_left_out"] = dropped
    return est


def _cox_table(data: CoxRows, models: dict[str, tuple[str, ...]], **kw) -> HazardEstimates:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _cox_fits(data, models, **kw)


ReplicateRunner = Callable[[Sequence[tuple[tuple[str, ...], pd.Series]], Inference], list[np.ndarray]]


def cox_replicate_window(time_varying: pd.DataFrame, models: Sequence[tuple[tuple[str, ...], pd.Series]],
                         inference: Inference, window: range | None = None) -> list[np.ndarray]:
    """The pairs-bootstrap replicates ``window`` (default: all B) of each Cox model of Tables 9–10,
    on all the rows in this process: ``models`` are (covariates, full-sample estimate) pairs, the
    replicates (len(window) × k per model) solved from the estimate as :func:`cox_fit
    <bipdask.estimators.cox.model.cox_fit>` solves them (each block of weights drawn once for all the
    models, :func:`~bipdask.estimators.cox.replicates.cox_replicates_many`).
    The rows of every window of a run are the run's rows bit for bit, so the flow cuts B into
    windows computed as separate tasks (:mod:`flows.distributed_cox`)."""
    rows = FrameRows(time_varying)
    if not models:
        return []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return cox_replicates_many([rows.source(covs, inference.cluster) for covs, _ in models],
                                   [params for _, params in models], int(inference.replicates), inference.seed,
                                   inference.scheme, REPLICATE_BLOCK, window)


def _cox_fits(data: CoxRows, models: dict[str, tuple[str, ...]], *, analysis: str,
              inference: Inference, period: str, summary: RowsSummary | None = None) -> HazardEstimates:
    """Stratified Efron Cox fits, one per model, as hazard-ratio rows with bootstrap replicates.

    Rows that bring a ``replicate_runner`` (:class:`PartitionedRows` in the flow) get the pairs
    replicates of all models from it, after the point fits; otherwise each fit solves its own."""
    alpha, bootstrap = inference.alpha, inference.replicates
    summary = data.summary() if summary is None else summary
    notes: dict = {"rows": summary.n_rows}
    rows: list[dict] = []
    reps: dict[str, np.ndarray] = {}
    n_persons = summary.n_persons
    z = stats.norm.ppf(1 - alpha / 2)
    runner: ReplicateRunner | None = getattr(data, "replicate_runner", None)
    deferred = runner is not None and inference.method == "pairs" and bootstrap > 0
    fits: dict[str, Any] = {}
    for model, covs in models.items():
        if summary.n_rows == 0 or summary.n_events == 0:
            notes[model] = "skipped: no events"
            continue
        wild = {"wild_terms": [covs[0]]} if inference.method == "wild" else {}  # the mediator, not its indicator
        kw = {**inference.estimator_kwargs(), **({"bootstrap": 0} if deferred else {})}
        try:
            fits[model] = cox_fit(data.source(covs, inference.cluster), list(covs), cluster=inference.cluster,
                                  **kw, **wild)
        except FitError as exc:
            notes[model] = f"skipped: {exc}"
    if deferred and fits:
        arrays = runner([(models[m], fit.params) for m, fit in fits.items()], inference)
        fits = {m: replace(fit, bootstrap=summarise(a, fit.params, inference.scheme, inference.seed))
                for (m, fit), a in zip(fits.items(), arrays)}
    for model, fit in fits.items():
        covs = models[model]
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
                         "n_obs": summary.n_rows, "n_clusters": int(fit.n_clusters),
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
    notes: dict = {"rows": len(share_weeks)}
    if len(frame) == 0:
        return HazardEstimates(analysis, rows_frame([]), _replicates_frame({}, 0), {**notes, "skipped": "no rows"})
    tab = table9_10_share(frame, beliefs=beliefs, inference=inference, period=period, return_fits=True)
    mine = LinearTable([r for r in tab.rows if r.analysis == analysis], [m for m in tab.fits if m.analysis == analysis])
    return _linear_estimates(analysis, mine, notes=notes)


def share_mediators_by_partition(partitions: Iterable[pd.DataFrame], *, analysis: str, inference: Inference,
                                 period: str = "intervention") -> HazardEstimates:
    """:func:`share_mediators` over the rows of several partitions, holding one partition at a time.

    With job-centre clusters (the spec's default) the share LPMs absorb the clusters themselves,
    so each partition is reduced to per-job-centre moments where it is read
    (:func:`bipdask.estimators.lpm.within.within_moments`) and the fits run on their combination
    (:func:`~bipdask.estimators.lpm.within.lpm_within`): the same rows as ``share_mediators`` on
    the gathered frame, in memory of job centres, not person-weeks. Other inference (persons as
    clusters, a pairs bootstrap) needs the rows: the partitions are gathered then.
    ``partitions`` may be a generator (each frame read when it is needed); Table 10's frames
    carry the belief columns (:func:`bipdask.prepare.hir.with_pre_belief`).
    """
    if analysis not in (TABLE9, TABLE10):
        raise ValueError(f"analysis must be 'hir_table9' or 'hir_table10', not {analysis!r}")
    if inference.cluster != "jobcentre_id" or inference.method not in ("wild", "analytic"):
        return share_mediators(pd.concat(list(partitions), ignore_index=True), analysis=analysis,
                               inference=inference, period=period)
    moments: dict[str, list[WithinMoments]] = {}
    models: list[tuple[str, list[str]]] | None = None
    persons: list[np.ndarray] = []
    n_rows = 0
    for part in partitions:
        if models is None:
            models = _share_models(analysis, part.columns)
        require_columns(part, [SHARE_OUTCOME, "jobcentre_id", "person_id"], "share_weeks")
        n_rows += len(part)
        persons.append(pd.unique(part["person_id"].to_numpy(np.int64)))
        for estimand, covs in models:
            moments.setdefault(estimand, []).append(
                within_moments(part, y=SHARE_OUTCOME, covariates=covs, cluster="jobcentre_id"))
    notes: dict = {"rows": n_rows}
    if not n_rows:
        return HazardEstimates(analysis, rows_frame([]), _replicates_frame({}, 0), {**notes, "skipped": "no rows"})
    n_persons = int(np.unique(np.concatenate(persons)).size)
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for estimand, covs in models or []:
        fit = lpm_within(combine_within(moments[estimand]), fixed_effect="jobcentre_id", inference=inference.method,
                         bootstrap=int(inference.replicates), seed=inference.seed,
                         wild_weights=inference.wild_weights, alpha=inference.alpha)
        rows.append(estimate_row(fit, covs[0], analysis=analysis, estimand=estimand, period=period,
                                 alpha=inference.alpha, n_persons=n_persons))
        fits.append(_model_fit(fit, covs[0], rows[-1]))
    return _linear_estimates(analysis, LinearTable(rows, fits), notes=notes)


def share_models(columns: Sequence[str], beliefs: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    """(analysis, estimand, covariates) of the share LPMs of Tables 9 and 10 whose columns are in
    ``columns``: the caseload models of :data:`TABLE9_MODELS`, then one per belief column of
    ``beliefs`` (with its ``_miss`` indicator when that column exists)."""
    models = [(TABLE9, estimand, list(covs)) for estimand, covs in TABLE9_MODELS.items()]
    models += [(TABLE10, b.removeprefix(BELIEF_PREFIX), [b, *([f"{b}_miss"] if f"{b}_miss" in columns else [])])
               for b in beliefs]
    return [m for m in models if all(c in columns for c in m[2])]


def _share_models(analysis: str, columns: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(estimand, covariates) of the share LPMs of ``analysis`` whose columns are present."""
    beliefs = [BELIEF_PREFIX + b for b in BELIEFS]
    return [(estimand, covs) for a, estimand, covs in share_models(columns, beliefs) if a == analysis]


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
    models = share_models(list(person_weeks.columns), beliefs)
    frame = person_weeks.assign(**{outcome: person_weeks[outcome].astype(np.float64)})
    absorb = fixed_effects if fixed_effects is not None and fixed_effects in frame.columns else None
    # with person clusters the fit's clusters are the persons; otherwise count them for disclosure
    n_persons = None if cluster == "person_id" else int(frame["person_id"].nunique())
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for analysis, estimand, covs in models:
        fit = lpm(frame, y=outcome, covariates=[*covs, *controls], fixed_effects=absorb, cluster=cluster,
                  **inference.estimator_kwargs())
        rows.append(estimate_row(fit, covs[0], analysis=analysis, estimand=estimand, period=period, alpha=alpha,
                                 n_persons=n_persons))
        fits.append(_model_fit(fit, covs[0], rows[-1]))
    return _returned(rows, fits, return_fits)
