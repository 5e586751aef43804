"""The reduce side of the HIR duration analyses: gathered model inputs → tidy estimate rows.

HIR quantitative report (Metrica 2019):

- Tables A and 4 — expected weeks between LAB interventions (eq. 1, Weibull PH on D, E, D×E) for
  the four D×E groups and their difference-in-differences, nationally and for each participating
  job centre against all non-participating ones (:func:`table4`);
- Table 7 — the same machinery on the time from a newly granted course to its first LAB
  (:func:`table7`);
- Figures 1–2 — the raw weekly hazard of a new LAB and the Kaplan–Meier share not yet in a new
  LAB, by D×E group (:func:`figure_curves`).

The other HIR tables are in their own modules: Tables 9–10 (Cox and share LPMs on caseload and
belief) in :mod:`bipdask.analyses.hir.mediators`, Table 8 in :mod:`bipdask.analyses.hir.exits`,
Table 3 in :mod:`bipdask.analyses.hir.beliefs`, Table 6 in :mod:`bipdask.analyses.hir.shares`.
Methods: ``docs/methods.md#hir-table-4--weeks-between-lab-interventions``,
``#hir-table-7--newly-granted-courses`` and
``#hir-figures-1-and-2--raw-weekly-hazard-and-kaplan-meier-curve``.

Tables A/4 and 7 and the figures are fitted on spell pattern counts
(:mod:`bipdask.prepare.spell_counts`): ``table4_from_counts``, ``table7_from_counts`` and
``figure_curves_from_counts`` take the counts summed over the map side's units (a run with
job-centre clusters never gathers a spell), and ``table4``, ``table7``, ``figure_curves`` take
spells (a notebook, or person clusters, whose counts are keyed by person) and call them on the
frame's own counts, so both give the same rows. Each returns a
:class:`HazardEstimates`: rows in the columns of :data:`bipdask.analyses.estimates.ESTIMATES_SCHEMA`, the
bootstrap replicates behind them (one row per replicate, one column per estimand key
``"<estimand>|<jobcentre_id or all>|<period>"``) and notes (fits skipped and why, counts only).
``se``, ``ci_low``/``ci_high`` and ``p_value`` are the cluster bootstrap's (SE of the replicates,
percentile CI, share of centred replicates at least as extreme) whenever B > 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import (
    HazardEstimates,
    _replicates_frame,
    replicate_key,
    rows_frame,
)
from bipdask.errors import FitError
from bipdask.estimators.duration_did import (
    GROUP_NAMES,
    GROUPS,
    QUANTITIES,
    RMST_NAMES,
    DurationDiD,
    duration_did,
    quantities,
)
from bipdask.estimators.survival_curves import kaplan_meier, raw_weekly_hazard
from bipdask.inference.config import Inference
from bipdask.inference.placebo import placebo_interval
from bipdask.prepare.spell_counts import spell_counts, spell_persons

DID_ESTIMANDS = tuple(QUANTITIES)
EFFECT_ESTIMANDS = ("did_weeks", "did_pct", "rmst52_did_weeks", "hazard_ratio")
GROUP_LABELS = {(1, 0): "participating_before", (1, 1): "participating_intervention",
                (0, 0): "other_before", (0, 1): "other_intervention"}

__all__ = ["DID_ESTIMANDS", "did_replicates", "figure_curves", "figure_curves_from_counts", "table4",
           "table4_from_counts", "table7", "table7_from_counts", "weekly_survival_time"]






# --------------------------------------------------------------------------- Tables A/4 and 7


def did_replicates(result: DurationDiD) -> np.ndarray:
    """(B × 12) replicates of :data:`DID_ESTIMANDS`: the four expected durations, the DiD in weeks
    and in percent, the four 52-week restricted means and their DiD, the hazard ratio exp(δ).

    The same quantities as :func:`bipdask.estimators.duration_did.duration_did` computes
    (:func:`bipdask.estimators.duration_did.quantities`), from the fit's bootstrap replicates of
    the Weibull parameters.
    """
    if result.fit.bootstrap is None:
        return np.empty((0, len(DID_ESTIMANDS)))
    return quantities(result.fit.bootstrap.replicates.to_numpy(), result.fit.params.index)


def _placebo_dids(counts: pd.DataFrame, fit_kw: dict) -> np.ndarray:
    """(n × 4) placebo effects (:data:`EFFECT_ESTIMANDS`: weeks, percent, restricted-mean weeks,
    log hazard ratio): each comparison centre with spells in both periods as if it had been
    participating, against the other comparison centres (point fits)."""
    others = counts[counts["D"] == 0]
    out = []
    for jc in sorted(int(j) for j in others["jobcentre_id"].unique()):
        mine = others["jobcentre_id"].to_numpy() == jc
        if others.loc[mine, "E"].nunique() < 2:
            continue
        try:
            res = duration_did(others.assign(D=mine.astype(np.int8)), label=f"placebo {jc}", **fit_kw)
        except FitError:
            continue
        effects = res.table.set_index("quantity").loc[list(EFFECT_ESTIMANDS), "estimate"].to_numpy(float)
        effects[-1] = np.log(effects[-1])  # placebos of exp(δ) on the log scale, where no effect is 0
        out.append(effects)
    return np.array(out).reshape(-1, len(EFFECT_ESTIMANDS))


_PERSONS_COLUMN = {None: "n_persons", 0: "n_persons_before", 1: "n_persons_intervention"}


def _n_persons(cell: pd.DataFrame, persons: pd.DataFrame, E: int | None) -> int:
    """Distinct persons behind the count rows ``cell`` (in period ``E``; ``None``: either period).

    Person-keyed counts (the gathered path) count their ``person_id``; job-centre counts sum
    the job centres' :func:`~bipdask.prepare.spell_counts.spell_persons` (exact unless a person
    has spells in two of the job centres, docs/methods.md)."""
    if "person_id" in cell:
        return int(cell["person_id"].nunique())
    jcs = pd.unique(cell["jobcentre_id"])
    return int(persons.loc[persons["jobcentre_id"].isin(jcs), _PERSONS_COLUMN[E]].sum())


def _cell_sizes(data: pd.DataFrame, persons: pd.DataFrame) -> dict:
    """(n_persons, n_spells) of each D×E group of the count rows ``data`` (keys (D, E)) and of all
    of them (key ``None``)."""
    sizes = {None: (_n_persons(data, persons, None), int(data["n_spells"].sum()))}
    for (d, e), cell in data.groupby(["D", "E"], sort=True):
        sizes[(int(d), int(e))] = (_n_persons(cell, persons, int(e)), int(cell["n_spells"].sum()))
    return sizes


def _did_rows(res: DurationDiD, data: pd.DataFrame, persons: pd.DataFrame, analysis: str, jobcentre_id: int | None,
              period: str, placebos: np.ndarray | None = None, alpha: float = 0.05) -> list[dict]:
    rows = []
    tab = res.table.set_index("quantity")
    sizes = _cell_sizes(data, persons)
    for name in DID_ESTIMANDS:
        group = GROUP_NAMES[RMST_NAMES.index(name)] if name in RMST_NAMES else name
        cell = None
        if group in GROUP_NAMES:
            cell = tuple(int(v) for v in GROUPS.iloc[GROUP_NAMES.index(group)][["D", "E"]])
        n_persons, n_obs = sizes.get(cell, (0, 0))
        r = tab.loc[name]
        row = {"analysis": analysis, "estimand": name, "jobcentre_id": jobcentre_id, "period": period,
               "estimate": float(r["estimate"]), "se": r["se_boot"], "ci_low": r["ci_low"],
               "ci_high": r["ci_high"], "p_value": r["p_value"],
               "n_persons": n_persons, "n_obs": n_obs,
               "n_clusters": int(res.fit.n_clusters), "replicate_failure_share": r.get("replicate_failure_share")}
        if name in EFFECT_ESTIMANDS and res.fit.wild is not None:
            row.update(inference="wild", n_replicates=int(res.fit.wild.n_replicates), replicate_failure_share=None)
        elif name in EFFECT_ESTIMANDS and placebos is not None and jobcentre_id is not None and len(placebos):
            log = name == "hazard_ratio"
            est = float(np.log(r["estimate"])) if log else float(r["estimate"])
            iv = placebo_interval(est, placebos[:, EFFECT_ESTIMANDS.index(name)], alpha)
            lo, hi = (np.exp(iv["ci_low"]), np.exp(iv["ci_high"])) if log else (iv["ci_low"], iv["ci_high"])
            row.update(se=None, ci_low=lo, ci_high=hi, p_value=iv["p_value"], inference="placebo",
                       n_clusters=iv["n_placebos"] + 1, n_replicates=iv["n_placebos"], replicate_failure_share=None)
        rows.append(row)
    return rows


def _duration_table(counts: pd.DataFrame, persons: pd.DataFrame, *, analysis: str, period: str,
                    inference: Inference, min_persons: int, notes: dict) -> HazardEstimates:
    """The national DiD and one per participating job centre against all D=0 spells.

    Same subsets as :func:`bipdask.estimators.duration_did.duration_did_by_jobcentre` (which does not
    return the fits, and the replicate arrays are needed here). A job centre whose fit fails
    (e.g. a D×E cell without events) or with fewer than ``min_persons`` persons in its
    participating cells is skipped and counted in ``notes``. ``counts``:
    :func:`~bipdask.prepare.spell_counts.spell_counts` (person-keyed for person clusters),
    ``persons``: :func:`~bipdask.prepare.spell_counts.spell_persons`.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Replicates that fail to converge are NaN and counted in notes; their numpy warnings
        # would only reach the worker's stderr.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _duration_fits(counts, persons, analysis=analysis, period=period, inference=inference,
                              min_persons=min_persons, notes=notes)


def weekly_survival_time(spells: pd.DataFrame) -> pd.Series:
    """Durations for the grouped-week Weibull likelihood (``weibull_ph(interval=True)``).

    A gap of d whole weeks without a LAB that ends in a new LAB is an event in week d, i.e. in
    (d−1, d]. A censored gap of d observed weeks survived only d − 1 whole weeks: a start in its
    last week would first show in the week after the period (or the course) ended, which the
    gap definition does not look at (:func:`bipdask.prepare.spells.gap_spells`). Rows may be
    spells or pattern counts.
    """
    d = spells["duration"].to_numpy(dtype=float)
    return pd.Series(np.where(spells["event"].to_numpy() == 1, d, d - 1), index=spells.index)


def _duration_fits(counts: pd.DataFrame, persons: pd.DataFrame, *, analysis: str, period: str,
                   inference: Inference, min_persons: int, notes: dict) -> HazardEstimates:
    if inference.cluster not in counts.columns:
        raise ValueError(f"{analysis}: the spell counts have no cluster column {inference.cluster!r}; "
                         "person clusters need person-keyed counts (spell_counts(by_person=True))")
    counts = counts.assign(weeks_survived=weekly_survival_time(counts))
    fit_kw = dict(duration="weeks_survived", interval=True, cluster=inference.cluster, weights="n_spells",
                  **inference.estimator_kwargs())
    bootstrap = inference.replicates
    wild = inference.method == "wild"
    # a per-centre row rests on one treated cluster, where no bootstrap works: point fits, then
    # Conley–Taber placebo intervals from the comparison centres (docs/methods.md#inference)
    centre_kw = (dict(duration="weeks_survived", interval=True, cluster=inference.cluster, weights="n_spells",
                      bootstrap=0) if wild else fit_kw)
    rows: list[dict] = []
    reps: dict[str, np.ndarray] = {}
    try:
        national = duration_did(counts, **fit_kw)
    except FitError as exc:
        notes.update({"national_fit": "failed", "reason": str(exc)})
        return HazardEstimates(analysis, rows_frame(rows), _replicates_frame({}, bootstrap), notes)
    fits = [(None, national, counts)]
    others = counts[counts["D"] == 0]
    skipped_small, skipped_fit = [], []
    for jc in sorted(int(j) for j in counts.loc[counts["D"] == 1, "jobcentre_id"].unique()):
        mine = counts[(counts["D"] == 1) & (counts["jobcentre_id"] == jc)]
        if _n_persons(mine, persons, None) < min_persons:
            skipped_small.append(jc)
            continue
        sub = pd.concat([mine, others], ignore_index=True)
        try:
            res = duration_did(sub, label=str(jc), **centre_kw)
            fits.append((jc, res, sub))
        except FitError:
            skipped_fit.append(jc)
    placebos = _placebo_dids(counts, centre_kw) if wild and len(fits) > 1 else None
    for jc, res, data in fits:
        rows += _did_rows(res, data, persons, analysis, jc, period, placebos, inference.alpha)
        for name, col in zip(DID_ESTIMANDS, did_replicates(res).T):
            reps[replicate_key(name, jc, period)] = col
    boots = {("all" if jc is None else jc): res.fit.bootstrap for jc, res, _ in fits if res.fit.bootstrap is not None}
    notes.update({"fits": len(fits), "jobcentres_skipped_small": skipped_small,
                  "jobcentres_skipped_fit_failed": skipped_fit,
                  "bootstrap_failed_replicates": int(national.fit.bootstrap.n_failed) if national.fit.bootstrap else 0})
    failed = {str(k): int(b.n_failed) for k, b in boots.items() if b.n_failed}
    if failed:  # per fit; above 1 % of B its rows' SE, CI and p-value are withheld (docs/methods.md)
        notes["bootstrap_failed_replicates_by_fit"] = failed
    none_left = [str(k) for k, b in boots.items() if len(b.replicates) and b.n_failed == len(b.replicates)]
    if none_left:  # no p-value of 1/(0 + 1): these fits' SE, CI and p-value are missing
        notes["fits_without_usable_replicates"] = none_left
    return HazardEstimates(analysis, rows_frame(rows), _replicates_frame(reps, bootstrap), notes)


def _by_person(inference: Inference) -> bool:
    """Whether the fits need person-keyed counts: the clusters are persons (the gathered path)."""
    return inference.cluster == "person_id"


def table4(gap_spells: pd.DataFrame, *, inference: Inference, min_persons: int = 0,
           period: str = "intervention") -> HazardEstimates:
    """Tables A and 4: expected weeks between LAB interventions by D×E and their DiD.

    The Weibull PH model of eq. (1) is fitted with the grouped-week likelihood (durations are
    whole weeks; see :func:`weekly_survival_time`), which removes the bias a continuous-time
    likelihood has on weekly register data; expected durations are Γ(1 + 1/p)·exp(−x'b/p) weeks.
    The rows are :func:`table4_from_counts` of the frame's own spell counts.

    Parameters
    ----------
    gap_spells : DataFrame
        The gathered ``gap_spells`` model input (D, E, jobcentre_id, person_id, duration in weeks,
        event), both periods.
    inference : Inference
        Replicates, seed, weight scheme and cluster column of the bootstrap (``person_id``;
        ``jobcentre_id`` for spec ``cluster = "jobcentre"``).
    min_persons : int
        Disclosure rule: per-job-centre rows need at least this many persons (spec
        ``disclosure_min_persons``).
    period : str
        The label of the E=1 period in the rows.

    Returns
    -------
    HazardEstimates
        ``analysis="hir_table4"``; estimands participating_before, participating_intervention,
        other_before, other_intervention (expected weeks E[T], continuous time), did_weeks,
        did_pct (% of participating_before); rmst52_<group> (whole weeks of the first 52 without
        a new LAB) and rmst52_did_weeks; hazard_ratio (exp(δ)); ``jobcentre_id`` null = all
        participating job centres.
    """
    return table4_from_counts(spell_counts(gap_spells, by_person=_by_person(inference)), spell_persons(gap_spells),
                              inference=inference, min_persons=min_persons, period=period)


def table4_from_counts(counts: pd.DataFrame, persons: pd.DataFrame, *, inference: Inference, min_persons: int = 0,
                       period: str = "intervention") -> HazardEstimates:
    """:func:`table4` from the gap spells' pattern counts and persons per job centre
    (:func:`bipdask.prepare.spell_counts.spell_counts`, :func:`~bipdask.prepare.spell_counts.spell_persons`,
    or their sums over work units, :func:`~bipdask.prepare.spell_counts.combine_counts`): the
    same rows as the spells give. Person clusters need ``counts`` keyed by person."""
    return _duration_table(counts, persons, analysis="hir_table4", period=period, inference=inference,
                           min_persons=min_persons, notes={"spells": int(counts["n_spells"].sum())})


def table7(first_lab_spells: pd.DataFrame, *, inference: Inference, min_persons: int = 0,
           period: str = "intervention") -> HazardEstimates:
    """Table 7: expected weeks from a newly granted course to its first LAB, by D×E, and the DiD.

    The Table 4 machinery on :func:`bipdask.prepare.spells.first_lab_spells`. A course whose first
    week is already a LAB week (``duration = 0``, ``event = 1``) is **kept** as a start within
    the first week, T ∈ (0, 1] — the interval of a LAB in the week after the grant week, the
    fastest start the gap clock can express (an event in week d is T ∈ (d−1, d]; a Weibull has no
    mass at T = 0). Dropping them, as Stata's ``stset`` drops zero-length spells, would remove
    the fastest starts and bias the DiD whenever the intervention changes how many courses start
    with a LAB. ``notes["first_week_lab"]`` counts them (``notes["first_week_lab_by_group"]`` per
    D×E group). Courses whose 52-week lookback reaches before the delivery's first week are kept
    (the before period's new courses all do when the panel starts in January 2017).
    The rows are :func:`table7_from_counts` of the frame's own spell counts.
    """
    return table7_from_counts(spell_counts(first_lab_spells, by_person=_by_person(inference)),
                              spell_persons(first_lab_spells), inference=inference, min_persons=min_persons,
                              period=period)


def table7_from_counts(counts: pd.DataFrame, persons: pd.DataFrame, *, inference: Inference, min_persons: int = 0,
                       period: str = "intervention") -> HazardEstimates:
    """:func:`table7` from the first-LAB spells' pattern counts and persons per job centre (as
    :func:`table4_from_counts`)."""
    duration = counts["duration"].to_numpy()
    zero = (duration <= 0) & (counts["event"].to_numpy() == 1)
    n = counts["n_spells"].to_numpy(np.int64)
    by_group = counts.loc[zero].groupby(["D", "E"])["n_spells"].sum()
    notes = {"spells": int(n.sum()), "first_week_lab": int(n[zero].sum()),
             "first_week_lab_by_group": {GROUP_LABELS[(int(d), int(e))]: int(k) for (d, e), k in by_group.items()}}
    counts = counts.assign(duration=np.where(zero, 1, duration).astype(counts["duration"].dtype))
    return _duration_table(counts, persons, analysis="hir_table7", period=period, inference=inference,
                           min_persons=min_persons, notes=notes)


# --------------------------------------------------------------------------- Figures 1–2


def figure_curves(gap_spells: pd.DataFrame, *, max_week: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figures 1 and 2 by D×E group: raw weekly hazard and Kaplan–Meier, as tidy frames.

    Both curves count time as the Weibull fit of Tables A/4 does (:func:`weekly_survival_time`):
    a gap that ended in a new LAB after d weeks is an event in week d; a censored gap of d
    observed weeks survived d − 1 whole weeks (its week-d outcome is not observed), so it leaves
    the risk set after week d − 1 instead of counting as a survivor of week d. The Kaplan–Meier
    curve starts at week 0 with S(0) = 1 (every gap at risk, no event): without that row the
    plotted curve began at S(1), e.g. 93 % after a 7 % first-week hazard.

    Returns
    -------
    (DataFrame, DataFrame)
        Figure 1: group, D, E, week, n_risk, n_event, hazard, lower, upper (Wilson 95 %);
        Figure 2: group, D, E, time (weeks, from 0), n_risk, n_event, surv (share not yet in a
        new LAB), std_err, lower, upper (log band, R ``survfit`` conventions).
    """
    if "jobcentre_id" not in gap_spells:  # the curves pool job centres: any spells (D, E, duration, event) do
        gap_spells = gap_spells.assign(jobcentre_id=0)
    return figure_curves_from_counts(spell_counts(gap_spells), max_week=max_week)


def figure_curves_from_counts(counts: pd.DataFrame, *, max_week: int | None = None
                              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`figure_curves` from the gap spells' pattern counts
    (:func:`bipdask.prepare.spell_counts.spell_counts` or their sum over work units): the curves
    count spells, so each count row weighs ``n_spells``."""
    data = counts[["D", "E", "duration", "event", "n_spells"]]
    data = data.assign(weeks_survived=weekly_survival_time(data))
    raw = raw_weekly_hazard(data, duration="weeks_survived", event="event", groups=["D", "E"], max_week=max_week,
                            weights="n_spells")
    km = kaplan_meier(data, duration="weeks_survived", event="event", groups=["D", "E"], weights="n_spells",
                      origin=True)
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












# --------------------------------------------------------------------------- linear tables with replicates












