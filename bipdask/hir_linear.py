"""The HIR tables estimated as linear (probability) models: Tables 3, 8, 9 and 10.

HIR quantitative report (Metrica 2019, seed 001), pure functions over frames, each returning
rows of the tidy estimates schema (:mod:`bipdask.results`), all fitted with
:func:`bipdask.linear_model.lpm`:

* :func:`table8_exits` — exits from the resource course (*afgang fra ressourceforløb*), the
  weekly transition LPM of eq. (3), Y_τ = ϑ_τ + κD + ξE + βDE + ε, one per destination
  (ordinary employment, flex job, ledighedsydelse, disability pension), week effects ϑ_τ absorbed,
  clustered by person.
* :func:`table3_belief` — caseworker belief in the citizen (*tro på borgeren*), a before/after
  comparison of the caseworkers who answered both surveys, controlling for job centre (job-centre
  fixed effects), clustered by caseworker ("Der kontrolleres for sagsbehandlernes jobcenter-
  tilknytning"; 81 caseworkers; Table 3: 43.4 → 43.8, 18.3 → 17.0, 34.5 → 35.6 percent).
* :func:`table9_10_share` — the mediator LPMs of the share in company internship or with
  ordinary hours (eq. 2's outcome) on the week's caseload (+casemiss), on the change in caseload
  from the Jan–Feb 2018 baseline (+change_miss) — Table 9, 0.0012 and −0.0028 — and on the
  caseworker's pre-survey belief — Table 10, 0.0021, 0.0001, −0.0004 — clustered by person.

Every row carries the cluster-bootstrap SE, percentile CI and p-value when ``bootstrap > 0``
(the analytic CR1 values otherwise): ``se``, ``ci_low``, ``ci_high`` and ``p_value`` of the
schema hold whichever was computed. Effects on shares are differences of fractions; belief
outcomes are percent of the caseload, as in Table 3.

With ``return_fits=True`` each function returns a :class:`LinearTable` instead of the bare
rows: the same rows plus one :class:`ModelFit` per bootstrapped row — the fitted
:class:`~bipdask.linear_model.LinearResult` and the term behind the row — so a caller can write
the B replicates of every row (:meth:`LinearTable.replicate_columns`) without refitting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bipdask.errors import InputError, Problem
from bipdask.linear_model import CONS, LinearResult, lpm
from bipdask.results import Estimate
from bipdask.spells import EXIT_DESTINATIONS

TABLE8 = "hir_table8"
TABLE3 = "hir_table3"
TABLE9 = "hir_table9"
TABLE10 = "hir_table10"
SHARE_OUTCOME = "in_internship_or_hours"
BELIEFS: Mapping[str, str] = {
    "internship_3m": "n_internship_3m",
    "ordinary_hours_1y": "n_ordinary_hours_1y",
    "job_2y": "n_job_2y",
}
BELIEF_PREFIX = "belief_"
__all__ = ["BELIEFS", "LinearTable", "ModelFit", "belief_percentages", "estimate_row", "period_week",
           "table3_belief", "table8_exits", "table9_10_share"]


@dataclass(frozen=True)
class ModelFit:
    """The fitted model behind one row: ``fit.params[term]`` is the row's estimate.

    ``fit`` is the :class:`~bipdask.linear_model.LinearResult` without its private fit state
    (the absorbed data, ~(k+2)·n floats), so holding it costs O(B·k), not O(n); its
    ``fixed_effect_values`` is therefore unavailable.
    """

    analysis: str
    estimand: str
    period: str
    term: str
    fit: LinearResult
    jobcentre_id: int | None = None

    @property
    def replicates(self) -> np.ndarray | None:
        """The B bootstrap replicates of the row's estimate (None without a bootstrap)."""
        boot = self.fit.bootstrap
        return None if boot is None else boot.replicates[self.term].to_numpy(np.float64)


@dataclass(frozen=True)
class LinearTable:
    """Rows of one hir_linear function and the fits behind its bootstrapped rows.

    ``rows`` is exactly what the function returns without ``return_fits``; ``fits`` has one
    :class:`ModelFit` per row fitted with the caller's ``bootstrap`` (Table 8: the DiD β per
    destination; Table 3: the before/after difference per belief; Tables 9–10: each mediator
    coefficient), in row order; their replicates exist when ``bootstrap > 0``. The
    analytic-only rows (weekly exit shares, wave means) have no entry.
    """

    rows: list[Estimate]
    fits: list[ModelFit]

    def replicate_columns(self) -> dict[tuple[str, str, int | None, str], np.ndarray]:
        """(analysis, estimand, jobcentre_id, period) → the (B,) replicates of that row's estimate,
        for the fits that were bootstrapped. The SD (ddof 1) of each column is the row's ``se``."""
        out = {}
        for m in self.fits:
            reps = m.replicates
            if reps is not None:
                out[(m.analysis, m.estimand, m.jobcentre_id, m.period)] = reps
        return out


def _model_fit(fit: LinearResult, term: str, row: Estimate) -> ModelFit:
    if any(f.name == "_state" for f in dataclasses.fields(fit)):
        fit = dataclasses.replace(fit, _state=None)  # drop the O(n) fit state, keep params/cov/replicates
    return ModelFit(row.analysis, row.estimand, row.period, term, fit, row.jobcentre_id)


def _returned(rows: list[Estimate], fits: list[ModelFit], return_fits: bool) -> list[Estimate] | LinearTable:
    return LinearTable(rows, fits) if return_fits else rows


def estimate_row(fit: LinearResult, term: str, *, analysis: str, estimand: str, period: str,
                 jobcentre_id: int | None = None, alpha: float = 0.05) -> Estimate:
    """One tidy row for ``term`` of ``fit``: bootstrap SE/CI/p when replicated, else analytic."""
    est = float(fit.params[term])
    if fit.bootstrap is not None:
        ci = fit.conf_int(alpha, kind="bootstrap").loc[term]
        se, p = float(fit.bootstrap.se[term]), float(fit.bootstrap.p_value[term])
    else:
        ci = fit.conf_int(alpha).loc[term]
        se, p = float(fit.se[term]), float(fit.pvalues[term])
    return Estimate(analysis, estimand, jobcentre_id, period, est, se, float(ci["lower"]), float(ci["upper"]),
                    p, int(fit.n_clusters), int(fit.nobs))


def _require(frame: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError([Problem(table, c, "column missing", len(frame)) for c in missing])


# --------------------------------------------------------------------------- Table 8


def period_week(person_weeks: pd.DataFrame, *, week: str = "week", E: str = "E") -> np.ndarray:
    """τ of eq. (3): the week's number within its period (0 = the first week of the E=0 or E=1 rows).

    The week effects ϑ_τ are shared by the two periods: τ counts weeks since the period began,
    so calendar time within the period is controlled for without absorbing E (a calendar-week
    effect would be collinear with E).
    """
    wk = pd.to_datetime(person_weeks[week]).to_numpy("datetime64[D]").astype(np.int64)
    e = person_weeks[E].to_numpy()
    tau = np.empty(len(wk), np.int64)
    for value in np.unique(e):
        sel = e == value
        tau[sel] = (wk[sel] - wk[sel].min()) // 7
    return tau


def table8_exits(
    person_weeks: pd.DataFrame,
    *,
    destinations: Sequence[str] = EXIT_DESTINATIONS,
    cluster: str = "person_id",
    bootstrap: int = 999,
    seed: int = 0,
    scheme: str = "multinomial",
    alpha: float = 0.05,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 8: per destination the DiD β of eq. (3) and the weekly exit shares behind it.

    Parameters
    ----------
    person_weeks : the course weeks of both periods, :func:`bipdask.spells.course_exits` output
        concatenated over job centres and periods: person_id, week, D, E and one 0/1 column
        ``exit_<destination>`` per destination; a ``tau`` column (week within period) is used
        when present, else derived by :func:`period_week`. Rows with destination
        ``"unobserved"`` (no panel row for the next week) should be dropped by the caller when
        the panel is known to end there.

    Returns
    -------
    Rows with analysis ``"hir_table8"``: estimand = destination, period ``period``: β (a
    difference of weekly exit probabilities); estimand ``"<destination>:mean_participating"`` /
    ``"<destination>:mean_others"`` with period ``"before"``/``period``: the weekly exit share of
    the D×E group (analytic person-clustered SEs). The report's level columns (e.g. 10.0 → 12.8
    percent to disability pension) read as shares of persons over a period, not weekly rates.
    With ``return_fits=True``: a :class:`LinearTable` whose ``fits`` are the four eq. (3) models
    (term ``"DE"``).
    """
    _require(person_weeks, "person_weeks", [cluster, "D", "E", *(f"exit_{d}" for d in destinations)])
    frame = person_weeks.assign(
        D=person_weeks["D"].astype(np.int8), E=person_weeks["E"].astype(np.int8),
        DE=(person_weeks["D"].astype(np.int8) * person_weeks["E"].astype(np.int8)),
    )
    if "tau" not in frame.columns:
        _require(person_weeks, "person_weeks", ["week"])
        frame["tau"] = period_week(frame)
    cells = frame.groupby(["D", "E"]).size()
    if len(cells) < 4:
        raise InputError([Problem("person_weeks", "D, E", "a D×E group has no person-weeks", len(frame))])
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for d in destinations:
        y = f"exit_{d}"
        fit = lpm(frame, y=y, covariates=["D", "E", "DE"], fixed_effects="tau", cluster=cluster,
                  bootstrap=bootstrap, seed=seed, scheme=scheme)
        rows.append(estimate_row(fit, "DE", analysis=TABLE8, estimand=d, period=period, alpha=alpha))
        fits.append(_model_fit(fit, "DE", rows[-1]))
        for d_val, label in ((1, "mean_participating"), (0, "mean_others")):
            for e_val, per in ((0, "before"), (1, period)):
                sub = frame[(frame["D"] == d_val) & (frame["E"] == e_val)]
                m = lpm(sub, y=y, covariates=[], cluster=cluster)
                rows.append(estimate_row(m, CONS, analysis=TABLE8, estimand=f"{d}:{label}", period=per, alpha=alpha))
    return _returned(rows, fits, return_fits)


# --------------------------------------------------------------------------- Table 3


def belief_percentages(belief_survey: pd.DataFrame, *, wave: str | None = None) -> pd.DataFrame:
    """Each answer as percent of the caseworker's caseload (*omregnet til procent af sagsstammen*).

    Returns caseworker_id, jobcentre_id, wave and ``belief_<name>`` = 100·n_x / n_caseload for
    the three beliefs of :data:`BELIEFS`; rows with n_caseload ≤ 0 or missing are left out.
    ``wave`` keeps one wave (``"pre"`` for the Table 10 covariates).
    """
    _require(belief_survey, "belief_survey", ["caseworker_id", "jobcentre_id", "wave", "n_caseload", *BELIEFS.values()])
    s = belief_survey if wave is None else belief_survey[belief_survey["wave"] == wave]
    caseload = pd.to_numeric(s["n_caseload"], errors="coerce").to_numpy(np.float64)
    ok = caseload > 0
    out = s.loc[ok, ["caseworker_id", "jobcentre_id", "wave"]].reset_index(drop=True)
    for name, col in BELIEFS.items():
        out[BELIEF_PREFIX + name] = 100.0 * pd.to_numeric(s[col], errors="coerce").to_numpy(np.float64)[ok] / caseload[ok]
    return out


def table3_belief(
    belief_survey: pd.DataFrame,
    jobcentres: pd.DataFrame | None = None,
    *,
    bootstrap: int = 999,
    seed: int = 0,
    scheme: str = "multinomial",
    alpha: float = 0.05,
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 3: caseworker belief before and after, caseworkers who answered both waves.

    Per belief: the mean percent in the pre and post waves (periods ``"pre"``, ``"post"``) and
    the difference (period ``"difference"``): the coefficient on ``post`` in
    belief = α_jobcentre + β·post + e, job-centre effects absorbed, clustered by caseworker.
    ``jobcentres`` (optional) is checked to know every job centre of the survey.
    Rows: analysis ``"hir_table3"``, estimand = belief name, ``n_persons`` = caseworkers.
    With ``return_fits=True``: a :class:`LinearTable` whose ``fits`` are the three difference
    models (term ``"post"``, period ``"difference"``).
    """
    pct = belief_percentages(belief_survey)
    if jobcentres is not None:
        unknown = int((~pct["jobcentre_id"].isin(jobcentres["jobcentre_id"])).sum())
        if unknown:
            raise InputError([Problem("belief_survey", "jobcentre_id", "job centre not in jobcentres", unknown)])
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for name in BELIEFS:
        col = BELIEF_PREFIX + name
        answered = pct[pct[col].notna()]
        waves = answered.groupby("caseworker_id")["wave"].nunique()
        both = answered[answered["caseworker_id"].isin(waves.index[waves == 2])]
        if both["caseworker_id"].nunique() < 2:
            raise InputError([Problem("belief_survey", col, "fewer than 2 caseworkers answered both waves",
                                      len(both))])
        both = both.assign(post=(both["wave"] == "post").astype(np.int8))
        fit = lpm(both, y=col, covariates=["post"], fixed_effects="jobcentre_id", cluster="caseworker_id",
                  bootstrap=bootstrap, seed=seed, scheme=scheme)
        for wave in ("pre", "post"):
            m = lpm(both[both["wave"] == wave], y=col, covariates=[], cluster="caseworker_id")
            rows.append(estimate_row(m, CONS, analysis=TABLE3, estimand=name, period=wave, alpha=alpha))
        rows.append(estimate_row(fit, "post", analysis=TABLE3, estimand=name, period="difference", alpha=alpha))
        fits.append(_model_fit(fit, "post", rows[-1]))
    return _returned(rows, fits, return_fits)


# --------------------------------------------------------------------------- Tables 9–10


def table9_10_share(
    person_weeks: pd.DataFrame,
    *,
    outcome: str = SHARE_OUTCOME,
    beliefs: Sequence[str] = tuple(BELIEF_PREFIX + b for b in BELIEFS),
    controls: Sequence[str] = (),
    cluster: str = "person_id",
    bootstrap: int = 999,
    seed: int = 0,
    scheme: str = "multinomial",
    alpha: float = 0.05,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Tables 9–10 (share rows): the LPM of the weekly share on caseload, its change, belief.

    Models, each clustered by person, on the participating job centres' person-weeks of the
    intervention period (the weeks that have a caseload):

    * Table 9, estimand ``"caseload"``: outcome ~ caseload + casemiss (+ controls);
    * Table 9, estimand ``"caseload_change"``: outcome ~ caseload_change + change_miss;
    * Table 10, one model per belief column b (percent, :func:`belief_percentages` of the pre
      wave joined on the week's caseworker): outcome ~ b (+ ``<b>_miss`` when that column
      exists; otherwise weeks without a belief are dropped).

    Parameters
    ----------
    person_weeks : person_id, the 0/1 ``outcome`` (:func:`bipdask.outcomes.in_internship_or_hours`),
        caseload, casemiss, caseload_change, change_miss (:func:`bipdask.linkage.link_caseload`,
        :func:`bipdask.linkage.add_caseload_change`) and the belief columns present; a model
        whose columns are absent is skipped.

    Returns
    -------
    Rows with analysis ``"hir_table9"`` / ``"hir_table10"``, estimand = the mediator, period
    ``period``: the coefficient (change in the share per unit of caseload / belief percent).
    With ``return_fits=True``: a :class:`LinearTable` with one fit per row (term = the mediator).
    """
    _require(person_weeks, "person_weeks", [outcome, cluster])
    models: list[tuple[str, str, list[str]]] = [
        (TABLE9, "caseload", ["caseload", "casemiss"]),
        (TABLE9, "caseload_change", ["caseload_change", "change_miss"]),
    ]
    for b in beliefs:
        models.append((TABLE10, b.removeprefix(BELIEF_PREFIX), [b, *([f"{b}_miss"] if f"{b}_miss" in person_weeks else [])]))
    frame = person_weeks.assign(**{outcome: person_weeks[outcome].astype(np.float64)})
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for analysis, estimand, covs in models:
        if any(c not in frame.columns for c in covs):
            continue
        fit = lpm(frame, y=outcome, covariates=[*covs, *controls], cluster=cluster, bootstrap=bootstrap,
                  seed=seed, scheme=scheme)
        rows.append(estimate_row(fit, covs[0], analysis=analysis, estimand=estimand, period=period, alpha=alpha))
        fits.append(_model_fit(fit, covs[0], rows[-1]))
    return _returned(rows, fits, return_fits)
