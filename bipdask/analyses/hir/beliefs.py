"""HIR Table 3: caseworker belief in the citizen (*tro på borgeren*) before and after, HIR quantitative report.

The ``belief_survey`` asks each caseworker, before the intervention (``pre``) and at its end
(``post``), how many of their caseload they expect to (1) be in a company internship within
3 months, (2) have ordinary paid hours within 1 year, (3) have a flex, part- or full-time job
within 2 years. :func:`belief_percentages` turns the counts into percent of the caseload
(*omregnet til procent af sagsstammen*); :data:`BELIEFS` names the three.

:func:`table3_belief` compares the waves for the caseworkers who answered both (81 in the
report): per belief, belief = α_jobcentre + β·post + e with job-centre effects absorbed,
clustered by caseworker; β is in percentage points (Table 3: 43.4 → 43.8, 18.3 → 17.0,
34.5 → 35.6). :func:`table3` returns the rows with the bootstrap replicates of β (analysis
``hir_table3``). The pre-wave percentages are also the mediators of Table 10
(:mod:`bipdask.analyses.hir.mediators`). Method:
``docs/methods.md#hir-table-3--caseworker-belief-before-and-after``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import Estimate, HazardEstimates
from bipdask.analyses.hir.linear_table import (
    LinearTable,
    ModelFit,
    _linear_estimates,
    _model_fit,
    _returned,
    estimate_row,
)
from bipdask.errors import InputError, Problem, require_columns
from bipdask.estimators.lpm import CONS, lpm
from bipdask.inference.config import Inference


def table3(belief_survey: pd.DataFrame, jobcentres: pd.DataFrame | None = None, *,
           inference: Inference) -> HazardEstimates:
    """HIR Table 3 (caseworker belief before/after) via :func:`bipdask.analyses.hir.beliefs.table3_belief`.

    Replicates of the before/after difference per belief (``"<belief>|all|difference"``),
    clustered by caseworker as table3_belief is; the wave means have analytic SEs.
    """
    tab = table3_belief(belief_survey, jobcentres, inference=inference, return_fits=True)
    notes = {"caseworkers": int(belief_percentages(belief_survey)["caseworker_id"].nunique())}
    return _linear_estimates("hir_table3", tab, notes=notes)


TABLE3 = "hir_table3"


BELIEFS: Mapping[str, str] = {
    "internship_3m": "n_internship_3m",
    "ordinary_hours_1y": "n_ordinary_hours_1y",
    "job_2y": "n_job_2y",
}


BELIEF_PREFIX = "belief_"


def belief_percentages(belief_survey: pd.DataFrame, *, wave: str | None = None) -> pd.DataFrame:
    """Each answer as percent of the caseworker's caseload (*omregnet til procent af sagsstammen*).

    Returns caseworker_id, jobcentre_id, wave and ``belief_<name>`` = 100·n_x / n_caseload for
    the three beliefs of :data:`BELIEFS`; rows with n_caseload ≤ 0 or missing are left out.
    ``wave`` keeps one wave (``"pre"`` for the Table 10 covariates).
    """
    require_columns(belief_survey, ["caseworker_id", "jobcentre_id", "wave", "n_caseload", *BELIEFS.values()],
                    "belief_survey")
    s = belief_survey if wave is None else belief_survey[belief_survey["wave"] == wave]
    caseload = pd.to_numeric(s["n_caseload"], errors="coerce").to_numpy(np.float64)
    ok = caseload > 0
    out = s.loc[ok, ["caseworker_id", "jobcentre_id", "wave"]].reset_index(drop=True)
    for name, col in BELIEFS.items():
        value = pd.to_numeric(s[col], errors="coerce").to_numpy(np.float64)[ok]
        out[BELIEF_PREFIX + name] = 100.0 * value / caseload[ok]
    return out


def table3_belief(
    belief_survey: pd.DataFrame,
    jobcentres: pd.DataFrame | None = None,
    *,
    inference: Inference,
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 3: caseworker belief before and after, caseworkers who answered both waves.

    Per belief: the mean percent in the pre and post waves (periods ``"pre"``, ``"post"``) and
    the difference (period ``"difference"``): the coefficient on ``post`` in
    belief = α_jobcentre + β·post + e, job-centre effects absorbed, clustered by caseworker
    (whatever ``inference.cluster`` says: the survey's unit is the caseworker).
    ``jobcentres`` (optional) is checked to know every job centre of the survey.
    Rows: analysis ``"hir_table3"``, estimand = belief name, ``n_persons`` = caseworkers.
    With ``return_fits=True``: a :class:`LinearTable` whose ``fits`` are the three difference
    models (term ``"post"``, period ``"difference"``).
    """
    alpha = inference.alpha
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
                  **inference.estimator_kwargs())
        for wave in ("pre", "post"):
            m = lpm(both[both["wave"] == wave], y=col, covariates=[], cluster="caseworker_id")
            rows.append(estimate_row(m, CONS, analysis=TABLE3, estimand=name, period=wave, alpha=alpha))
        rows.append(estimate_row(fit, "post", analysis=TABLE3, estimand=name, period="difference", alpha=alpha))
        fits.append(_model_fit(fit, "post", rows[-1]))
    return _returned(rows, fits, return_fits)
