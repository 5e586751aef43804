"""The planted truth of the synthetic HIR panel, and the population quantities it implies.

The share "in company internship or with ordinary hours" (HIR quantitative report, eq. 2, Tabel 6) is produced by
the LAB dynamics, so its population values are not parameters: :func:`population_truth` simulates
the same DGP for a much larger population (scale ``POPULATION_SCALE``, the same per-job-centre
composition as Tabel 1, an independent seed stream) and aggregates the cell shares. The weekly
exits from the course (Tabel 8, eq. 3) are aggregated from the same run (:func:`aggregate_exits`):
their planted inputs are the per-period destination probabilities that reproduce Tabel 8's
percent of persons, so the weekly-rate DiD is a population quantity too. The result is
cached in ``bipdask/synth/hir/population_truth.json`` keyed by :data:`~bipdask.synth.hir.params.DGP_VERSION`;
regenerate it with ``python -m bipdask.synth.hir.truth`` after changing the DGP.

Table 7's share block (new courses) has no planted or population value: the generator plants
only the time to the first LAB of a new course. :func:`sample_new_course_share` counts the
delivery's own value from the generator's course spans (``_truth/courses.parquet``).
"""

from __future__ import annotations

import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from bipdask.synth.hir import params as P
from bipdask.synth.hir import plan as PL

POPULATION_SCALE = 20.0
POPULATION_SEED = 20180301
POPULATION_STREAM = 1000
CACHE_NAME = "population_truth.json"


def _light(plan) -> dict:
    return PL.run_jobcentre(plan, light=True).stats


def aggregate_shares(plans: list, stats: list[dict]) -> dict:
    """Cell shares (D × before/intervention/last 3 months), their DiDs and per-job-centre shares."""
    cells: dict = {}
    per_jc: dict = {}
    for plan, st in zip(plans, stats):
        d = "participating" if plan.participating else "other"
        for per, s in st["share"].items():
            c = cells.setdefault(d, {}).setdefault(per, {"rc_weeks": 0, "share_weeks": 0, "lab_weeks": 0,
                                                        "internship_weeks": 0})
            for k in c:
                c[k] += s[k]
        if plan.participating:
            per_jc[plan.name] = {per: s["share_weeks"] / max(s["rc_weeks"], 1) for per, s in st["share"].items()}
    share = {d: {per: c["share_weeks"] / c["rc_weeks"] for per, c in v.items()} for d, v in cells.items()}
    lab = {d: {per: c["lab_weeks"] / c["rc_weeks"] for per, c in v.items()} for d, v in cells.items()}
    intern = {d: {per: c["internship_weeks"] / c["rc_weeks"] for per, c in v.items()} for d, v in cells.items()}
    did = ((share["participating"]["intervention"] - share["participating"]["before"])
           - (share["other"]["intervention"] - share["other"]["before"]))
    did3 = ((share["participating"]["last3m"] - share["participating"]["before"])
            - (share["other"]["last3m"] - share["other"]["before"]))
    jc_did = {n: {"effect": ((v["intervention"] - v["before"])
                             - (share["other"]["intervention"] - share["other"]["before"])),
                  "effect_last3m": (v["last3m"] - v["before"]) - (share["other"]["last3m"] - share["other"]["before"]),
                  **v}
              for n, v in per_jc.items()}
    return {"cell_share": share, "did_share": did, "did_share_last3m": did3,
            "cell_lab_share": lab, "cell_internship_share": intern, "jobcentre_share": jc_did,
            "cell_rc_weeks": {d: {per: c["rc_weeks"] for per, c in v.items()} for d, v in cells.items()}}


def eq3_did(person_weeks: np.ndarray, exits: np.ndarray) -> float:
    """β of the HIR quantitative report's eq. (3), Y = ϑ_τ + κD + ξE + βDE + ε, from its cell sums.

    ``person_weeks`` and ``exits`` are (D, E, τ) arrays (D, E ∈ {0, 1}; τ = week within the
    period, 0-padded where a period is shorter). The regressors are constant within a
    (D, E, τ) cell, so OLS on the person-weeks equals least squares on the cell means weighted
    by the cells' person-weeks: this is the population value of what
    :func:`bipdask.analyses.hir.exits.table8_exits` estimates (a difference of weekly exit probabilities).
    """
    n = np.asarray(person_weeks, dtype=np.float64)
    y = np.asarray(exits, dtype=np.float64)
    d, e, tau = np.nonzero(n > 0)
    n_tau = n.shape[2]
    X = np.zeros((len(d), 3 + n_tau))
    X[:, 0], X[:, 1], X[:, 2] = d, e, d * e
    X[np.arange(len(d)), 3 + tau] = 1.0
    w = n[d, e, tau]
    m = y[d, e, tau] / w
    XtW = X.T * w
    return float(np.linalg.solve(XtW @ X, XtW @ m)[2])


def aggregate_exits(plans: list, stats: list[dict]) -> dict:
    """Weekly exit rates from the course per D × period and destination, their DiD, and eq. (3)'s β.

    Sums :func:`bipdask.synth.hir.jobcentre.exit_statistics` over job centres. ``cell_rate`` = exits /
    course person-weeks (rows whose next week is in the panel); ``did_weekly`` = (D1 post −
    D1 before) − (D0 post − D0 before) of those rates; ``did_eq3`` = the β of eq. (3) with week-
    within-period effects (:func:`eq3_did`), the estimand of Tabel 8's DiD column here.
    ``did_eq3_planned`` is the same β with each week's exits replaced by their expectation
    given the courses ending that week, ends × P(destination | D, period) (the planner's
    :func:`~bipdask.synth.hir.plan.exit_probabilities`, set from Tabel 8's percent of persons):
    the planted effect without the noise of the destination draws.
    """
    pers = ("before", "intervention")
    n_tau = max(len(st["exit_weeks"][per]["person_weeks"]) for st in stats for per in pers)
    pw = np.zeros((2, 2, n_tau), np.int64)
    ex = {k: np.zeros((2, 2, n_tau), np.int64) for k in P.EXIT_DESTINATIONS}
    planned = {k: np.zeros((2, 2, n_tau)) for k in P.EXIT_DESTINATIONS}
    for plan, st in zip(plans, stats):
        d = int(plan.participating)
        for e, per in enumerate(pers):
            cell = st["exit_weeks"][per]
            k = len(cell["person_weeks"])
            pw[d, e, :k] += np.asarray(cell["person_weeks"], np.int64)
            for i, name in enumerate(P.EXIT_DESTINATIONS):
                ex[name][d, e, :k] += np.asarray(cell["exits"][name], np.int64)
                planned[name][d, e, :k] += np.asarray(cell["ends"], np.float64) * plan.exit_probs[e][i]
    labels = {1: "participating", 0: "other"}
    tot = pw.sum(axis=2)
    rate = {name: {labels[d]: {per: float(ex[name][d, e].sum() / tot[d, e]) for e, per in enumerate(pers)}
                   for d in (1, 0)} for name in P.EXIT_DESTINATIONS}
    did = {name: (r["participating"]["intervention"] - r["participating"]["before"])
           - (r["other"]["intervention"] - r["other"]["before"]) for name, r in rate.items()}
    return {
        "cell_rate": rate,
        "cell_exits": {name: {labels[d]: {per: int(ex[name][d, e].sum()) for e, per in enumerate(pers)}
                              for d in (1, 0)} for name in P.EXIT_DESTINATIONS},
        "cell_person_weeks": {labels[d]: {per: int(tot[d, e]) for e, per in enumerate(pers)} for d in (1, 0)},
        "did_weekly": did,
        "did_eq3": {name: eq3_did(pw, ex[name]) for name in P.EXIT_DESTINATIONS},
        "did_eq3_planned": {name: eq3_did(pw, planned[name]) for name in P.EXIT_DESTINATIONS},
    }


def sample_new_course_share(courses: pd.DataFrame, weeks: pd.DataFrame, periods: dict,
                            participating_ids) -> dict:
    """Table 7's share block of one delivery, counted from the generator's course spans.

    A course is new in a period when the generator started it there (``course_start`` in the
    period; every simulated person has one course, and the panel shows no earlier course week);
    its weeks are ``course_start`` … min(``course_end``, the period's last Monday); a week counts
    as "in a company internship or with ordinary hours" as in Tabel 6 (``lab_type`` company
    internship or ``ordinary_hours`` > 0 in the delivery's weeks). Independent of
    :mod:`bipdask.prepare.spells`: the spans come from the generator, not from DREAM codes.

    Parameters
    ----------
    courses : ``_truth/courses.parquet`` (person_id, jobcentre_id, course_start, course_end).
    weeks : the delivery's weeks (person_id, week, lab_type, ordinary_hours).
    periods : label → (start, end) dates, e.g. before / intervention.
    participating_ids : participating job centre ids (D = 1).

    Returns
    -------
    dict: cell_persons, cell_weeks, cell_yes, cell_share per "participating"/"other" and period
    (weeks in person-weeks, share as a fraction) and did_share (fraction; first period = E=0,
    second = E=1).
    """
    starts = pd.to_datetime(courses["course_start"])
    ends = pd.to_datetime(courses["course_end"])
    hit = weeks[["person_id", "week"]].assign(
        week=pd.to_datetime(weeks["week"]),
        yes=((weeks["lab_type"] == "company_internship").fillna(False).to_numpy()
             | (pd.to_numeric(weeks["ordinary_hours"], errors="coerce").fillna(0.0) > 0).to_numpy()))
    out: dict = {k: {"participating": {}, "other": {}} for k in ("cell_persons", "cell_weeks", "cell_yes",
                                                                 "cell_share")}
    participating = np.isin(courses["jobcentre_id"].to_numpy(), np.asarray(list(participating_ids)))
    for label, (a, b) in periods.items():
        a, b = pd.Timestamp(a), pd.Timestamp(b)
        last_monday = b - pd.Timedelta(days=b.weekday())
        new = ((starts >= a) & (starts <= b)).to_numpy()
        for d, who in ((True, "participating"), (False, "other")):
            sel = new & (participating == d)
            span = pd.DataFrame({"person_id": courses["person_id"].to_numpy()[sel],
                                 "first": starts.to_numpy()[sel],
                                 "last": ends.clip(upper=last_monday).to_numpy()[sel]})
            m = hit.merge(span, on="person_id", how="inner")
            m = m[(m["week"] >= m["first"]) & (m["week"] <= m["last"])]
            out["cell_persons"][who][label] = int(len(span))
            out["cell_weeks"][who][label] = int(len(m))
            out["cell_yes"][who][label] = int(m["yes"].sum())
            out["cell_share"][who][label] = int(m["yes"].sum()) / max(len(m), 1)
    e0, e1 = list(periods)[:2]
    share = out["cell_share"]
    out["did_share"] = (share["participating"][e1] - share["participating"][e0]) - (
        share["other"][e1] - share["other"][e0])
    return out


def population_truth(scale: float = POPULATION_SCALE, seed: int = POPULATION_SEED, workers: int = 1) -> dict:
    """Simulate the DGP for a large population and return the share truth (see module doc)."""
    plans = PL.build_plans(scale, seed, stream_offset=POPULATION_STREAM)
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            stats = list(ex.map(_light, plans))
    else:
        stats = [_light(p) for p in plans]
    out = aggregate_shares(plans, stats)
    out["exit"] = aggregate_exits(plans, stats)
    out.update({"dgp_version": P.DGP_VERSION, "scale": scale, "seed": seed,
                "stream_offset": POPULATION_STREAM,
                "how": ("same DGP as the delivery (build_plans → run_jobcentre, light mode) at scale "
                        f"{scale} with SeedSequence([seed, jobcentre_id, {POPULATION_STREAM} + stream]); "
                        "shares = internship-or-hours resource-course person-weeks / resource-course "
                        "person-weeks per cell; weeks belong to a period by their Monday; last3m = "
                        "Mondays 2019-01-01..2019-03-31; DiD = (D1 post − D1 before) − (D0 post − D0 before); "
                        "exit = weekly exits from the resource course per destination / course person-weeks "
                        "whose next week is in the panel (Tabel 8, eq. 3), did_eq3 = eq. (3)'s β with "
                        "week-within-period effects, from the (D, E, week) cell sums; did_eq3_planned = "
                        "the same with expected exits (courses ending × P(destination | D, period)))")})
    return out


def cached_population_truth() -> dict | None:
    """The cached population truth if it matches the current DGP version, else ``None``."""
    res = resources.files("bipdask.synth.hir").joinpath(CACHE_NAME)
    if not res.is_file():
        return None
    data = json.loads(res.read_text(encoding="utf-8"))
    return data if data.get("dgp_version") == P.DGP_VERSION else None


def write_population_truth(path: Path | None = None, workers: int = 1) -> dict:
    """Recompute the population truth and write the package cache."""
    data = population_truth(workers=workers)
    path = path or Path(__file__).with_name(CACHE_NAME)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def planted_shocks(shock_scale: float = 1.0) -> dict:
    """The planted job-centre × period shock SDs (``planted.jobcentre_shocks`` of truth.json)."""
    return {
        "multiplier": shock_scale,
        "share_sd_pp": shock_scale * P.JOBCENTRE_SHARE_SHOCK_SD_PP,
        "log_hazard_sd": shock_scale * P.JOBCENTRE_FRAILTY_SD,
        "base_share_sd_pp": P.JOBCENTRE_SHARE_SHOCK_SD_PP, "base_log_hazard_sd": P.JOBCENTRE_FRAILTY_SD,
        "model": ("u[j,E] (pp) is added to job centre j's target weekly probability of being in a company "
                  "internship or with ordinary hours in period E (weeks by their Monday, the internship "
                  "probability leading the share by lead_weeks), before the 1–90 % clip; v[j,E] is added "
                  "to x'b of the gap hazard for gaps begun in period E (first gaps of new courses "
                  "included). Independent N(0, SD²) across job centres and periods, mean zero; "
                  "population quantities are those at zero shocks"),
        "stream": "SeedSequence([seed, jobcentre_id, 5]).standard_normal(4) = (u_before, u_intervention, "
                  "v_before, v_intervention) / SD",
    }


def planted_parameters() -> dict:
    """Every planted parameter of the HIR DGP, with the table it was calibrated to."""
    p = P.WEIBULL_SHAPE
    g = math.gamma(1 + 1 / p)
    nat = P.TABLE4_NATIONAL
    xb = {d: [P.weibull_xb(v) for v in nat[d]] for d in (True, False)}
    return {
        "dgp_version": P.DGP_VERSION,
        "gap_hazard": {
            "model": ("discrete-week Weibull PH: P(start in gap week t) = 1 − exp(−exp(x'b)·(t^p − (t−1)^p)), "
                      "t = weeks since the previous LAB ended (observed duration = week of next start − "
                      "week of last LAB week); x'b fixed by the period in which the gap began, plus "
                      "log(caseload_hr)·(caseworker's true FTE caseload − job centre's period mean) "
                      "in participating job centres from 2018-01-01"),
            "shape_p": p, "ln_p": math.log(p),
            "expected_duration": "Γ(1+1/p)·exp(−x'b/p)", "gamma_1_plus_1_over_p": g,
            "national_expected_weeks": {"participating": list(nat[True]), "other": list(nat[False])},
            "_cons": xb[False][0], "lambda_D": xb[True][0] - xb[False][0],
            "gamma_E": xb[False][1] - xb[False][0],
            "delta_DE": (xb[True][1] - xb[True][0]) - (xb[False][1] - xb[False][0]),
            "jobcentre_expected_weeks": {k: list(v) for k, v in P.TABLE4_GAP_WEEKS.items()},
            "jobcentre_xb": {k: [P.weibull_xb(x) for x in v] for k, v in P.TABLE4_GAP_WEEKS.items()},
            "over_52_planted_as": P.OVER_52,
            "note": ("other job centres use the national x'b; each participating job centre uses its own "
                     "Tabel 4 row, so lambda/delta are the national planted contrasts, while a pooled "
                     "D/E/DE model fitted to the panel estimates a person-weighted mix of job centres"),
            "first_gap_of_new_course_expected_weeks": {"participating": list(P.TABLE7_FIRST_LAB_WEEKS[True]),
                                                       "other": list(P.TABLE7_FIRST_LAB_WEEKS[False])},
        },
        "caseload_effect": {
            "hr_per_fte_unit": P.CASELOAD_HR, "log_hr": math.log(P.CASELOAD_HR),
            "applies_to": ("deviation of the person's true caseworker's true FTE caseload that week from the "
                           "job centre's mean over caseworker-weeks of the period part (Jan–Feb 2018 "
                           "baseline for E=0 weeks, the intervention period for E=1); 0 without caseworker"),
            "recovered_by": ("Cox PH on LAB-gap weeks (counting process, time-varying caseload) of the "
                             "participating job centres from 2018-01-01, stratified by job centre × period "
                             "(E), covariates caseload (0 if missing) and casemiss; the true caseload and "
                             "caseworker give exactly log HR; the trimmed linked caseload attenuates it slightly"),
        },
        "lab": {"mean_weeks": P.LAB_MEAN_WEEKS, "other_lab_split": P.OTHER_LAB_SPLIT,
                "internship_probability": ("per job centre and week, set so the stationary share matches "
                                           "Tabel 6 (before; intervention = before + 1.9 pp national trend "
                                           "+ the job centre's ramped effect)"),
                "share_effect_delay_weeks": P.SHARE_EFFECT_DELAY_WEEKS, "lead_weeks": P.SHARE_LEAD_WEEKS,
                "ramp_gain": P.SHARE_RAMP_GAIN,
                "share_calibration": {"participating": P.SHARE_CALIBRATION[True], "other": P.SHARE_CALIBRATION[False]},
                "hours_share": {"participating": list(P.HOURS_SHARE[True]), "other": list(P.HOURS_SHARE[False])},
                "hours_spell_weeks": P.HOURS_SPELL_WEEKS},
        "courses": {"both_periods_share": P.BOTH_PERIODS_SHARE,
                    "exit_in_intervention_share": P.EXIT_IN_INTERVENTION_SHARE,
                    "exit_pct_targets": {k: {"participating": list(v[True]), "other": list(v[False])}
                                         for k, v in P.TABLE8_EXIT_PCT.items()}},
        "caseworkers": {"rc_persons_per_caseworker": P.RC_PERSONS_PER_CASEWORKER,
                        "caseworker_sd": P.CASEWORKER_SD, "weekly_sd": P.CASELOAD_WEEKLY_SD,
                        "leave_prob": P.CASEWORKER_LEAVE_PROB, "switch_weekly": P.CASEWORKER_SWITCH_WEEKLY,
                        "temporary_cover_share": P.TEMPORARY_COVER_SHARE,
                        "no_caseworker_new_course": P.NO_CASEWORKER_NEW_COURSE,
                        "no_caseworker_ongoing": P.NO_CASEWORKER_ONGOING,
                        "typo_low_share": P.TYPO_LOW_SHARE, "typo_high_share": P.TYPO_HIGH_SHARE,
                        "unreported_share": P.MISSING_CASELOAD_SHARE,
                        "caseload_targets_fte": {k: list(v) for k, v in P.TABLE1_CASELOAD_FTE.items()},
                        "trim": [13.0, 50.0]},
        "belief": {"n": P.BELIEF_N, "pct": {k: list(v) for k, v in P.BELIEF_PCT.items()}},
    }


if __name__ == "__main__":  # python -m bipdask.synth.hir.truth [workers]
    d = write_population_truth(workers=int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(json.dumps({k: d[k] for k in ("cell_share", "did_share", "did_share_last3m")}, indent=1))
