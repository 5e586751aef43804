"""The BIP outcome: a weekly hazard of starting a job or SU education, and the weeks it implies.

From a citizen's first response on, each week ``w`` carries the complementary-log-log hazard

    P(start in week w | not started) = 1 − exp(−exp(η_w)),
    η_w = α + x_i'β + β_B·answers(latest response) + u_i + j_jc
          + c_k(latest response) + δ·1[latest response came with a new caseworker],

where "latest response" is the latest response strictly before ``w``. The report's outcome —
job or SU education within 52 weeks after a response (the BIP caseworker report, "Data og
metode") — then has the exact expectation 1 − exp(−Σ_window exp(η_w)) given the response was
held, which is what ``truth`` reports. A citizen leaves BIP at the start (no further responses:
the slides say the citizens were followed "indtil de evt. er kommet i job").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bipdask.synth.bip import params as P

#: Centre and scale that standardise the hazard covariates (moments of the BIP population the
#: generator draws; fixed so that the planted coefficients do not depend on the sample).
COVARIATE_MOMENTS: dict[str, tuple[float, float]] = {
    "emp_weeks_3y": (7.0, 8.5),
    "emp_weeks_6y": (30.4, 19.0),
    "cash_weeks_3y": (109.2, 21.5),
    "sick_weeks_3y": (10.9, 10.2),
    "su_weeks_6y": (13.3, 10.5),
    "age": (39.1, 8.1),
    "female": (0.48, 0.50),
    "non_western": (0.17, 0.38),
    "married": (0.22, 0.41),
    "skilled": (0.22, 0.41),
    "higher": (0.05, 0.22),
    "citizen_answers": (3.15, 0.80),
}


def covariate_matrix(persons: dict[str, np.ndarray]) -> np.ndarray:
    """Standardised register covariates (columns in ``HAZARD_COEF`` order, answers excluded)."""
    raw = {
        "female": persons["sex"] == "F",
        "non_western": persons["origin"] == "non_western",
        "married": persons["married"],
        "skilled": persons["education"] == "skilled",
        "higher": persons["education"] == "higher",
        "age": persons["age"],
    }
    cols = []
    for name in P.HAZARD_COEF:
        if name == "citizen_answers":
            continue
        centre, scale = COVARIATE_MOMENTS[name]
        cols.append((np.asarray(raw.get(name, persons.get(name)), dtype=float) - centre) / scale)
    return np.column_stack(cols)


def register_index(persons: dict[str, np.ndarray]) -> np.ndarray:
    """x_i'β: the register part of the log hazard per citizen (without the intercept)."""
    beta = np.array([b for k, b in P.HAZARD_COEF.items() if k != "citizen_answers"])
    return covariate_matrix(persons) @ beta


def answers_index(citizen_avg: np.ndarray) -> np.ndarray:
    """β_B × standardised mean of B1–B9 per response (0 where nothing was answered)."""
    centre, scale = COVARIATE_MOMENTS["citizen_answers"]
    z = (citizen_avg - centre) / scale
    return P.HAZARD_COEF["citizen_answers"] * np.nan_to_num(z, nan=0.0)


@dataclass(frozen=True)
class HazardPath:
    """Per citizen-week hazards from the week after the first response to the panel end.

    ``cum_*`` are cumulative sums with a leading zero over the flat citizen-week array, so a
    window sum is ``cum[b] − cum[a]``; ``offset``/``first_week`` locate a citizen's block.
    """

    offset: np.ndarray            # per citizen: position of week first_week + 1
    first_week: np.ndarray        # per citizen: week of the first response
    start_week: np.ndarray        # per citizen: week the job/SU starts (n_weeks = never)
    cum_hazard: np.ndarray        # Σ exp(η)
    cum_no_caseworker: np.ndarray  # Σ exp(η − c_k): the path with every caseworker effect 0
    cum_no_change: np.ndarray     # Σ exp(η − δ·change): the path without the change shock


def simulate_hazard(
    n_weeks: int,
    resp_citizen: np.ndarray,
    resp_week: np.ndarray,
    resp_index: np.ndarray,
    caseworker_effect: np.ndarray,
    changed: np.ndarray,
    citizen_index: np.ndarray,
    rng: np.random.Generator,
) -> HazardPath:
    """Weekly hazards along the *scheduled* responses and the week each citizen starts.

    ``resp_index`` is the answers part of η per scheduled response, ``caseworker_effect`` the
    caseworker's c_k per response, ``changed`` whether the response came with a new caseworker,
    ``citizen_index`` the constant part α + x'β + u + j per citizen. Responses must be sorted by
    citizen and week.
    """
    n_cit = citizen_index.size
    starts = np.flatnonzero(np.r_[True, resp_citizen[1:] != resp_citizen[:-1]])
    has = np.zeros(n_cit, dtype=bool)
    has[resp_citizen[starts]] = True
    first_week = np.full(n_cit, n_weeks - 1, dtype=np.int64)
    first_week[resp_citizen[starts]] = resp_week[starts]
    length = n_weeks - 1 - first_week
    offset = np.cumsum(length) - length
    cit = np.repeat(np.arange(n_cit), length)
    week = first_week[cit] + 1 + (np.arange(cit.size) - offset[cit])
    # Latest response strictly before the week.
    latest = np.searchsorted(resp_citizen.astype(np.int64) * n_weeks + resp_week,
                             cit.astype(np.int64) * n_weeks + week, side="left") - 1
    eta_free = citizen_index[cit] + resp_index[latest] + P.CHANGE_LOG_HAZARD * changed[latest]
    eff = caseworker_effect[latest]
    hazard = np.exp(eta_free + eff)
    cum = np.concatenate([[0.0], np.cumsum(hazard)])
    threshold = cum[offset] + rng.exponential(1.0, n_cit)
    # First position where the citizen's cumulative hazard passes an Exp(1) draw.
    pos = np.searchsorted(cum[1:], threshold, side="left")
    start_week = np.full(n_cit, n_weeks, dtype=np.int64)
    inside = (pos < offset + length) & has
    start_week[inside] = first_week[inside] + 1 + (pos[inside] - offset[inside])
    return HazardPath(
        offset=offset, first_week=first_week, start_week=start_week, cum_hazard=cum,
        cum_no_caseworker=np.concatenate([[0.0], np.cumsum(np.exp(eta_free))]),
        cum_no_change=np.concatenate([[0.0], np.cumsum(
            hazard * np.exp(-P.CHANGE_LOG_HAZARD * changed[latest]))]),
    )


def window_sums(path: HazardPath, n_weeks: int, citizen: np.ndarray,
                week: np.ndarray) -> dict[str, np.ndarray]:
    """Σ over the follow-up window (t, min(t + 52, last week)] of each cumulative path."""
    end = np.minimum(week + P.FOLLOW_UP_WEEKS, n_weeks - 1)
    a = path.offset[citizen] + (week - path.first_week[citizen])
    b = path.offset[citizen] + (end - path.first_week[citizen])
    return {
        "hazard": path.cum_hazard[b] - path.cum_hazard[a],
        "no_caseworker": path.cum_no_caseworker[b] - path.cum_no_caseworker[a],
        "no_change": path.cum_no_change[b] - path.cum_no_change[a],
        "full_window": week + P.FOLLOW_UP_WEEKS <= n_weeks - 1,
    }


@dataclass(frozen=True)
class WeekRows:
    """The weeks rows of the BIP citizens, as arrays (see bipdask.data.contract.WEEKS)."""

    citizen: np.ndarray
    week: np.ndarray
    dream_code: np.ndarray        # float with NaN = null
    lab_type: np.ndarray          # object
    ordinary_hours: np.ndarray
    employed: np.ndarray
    su: np.ndarray


LAB_PRIORITY: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("company_internship", (13, 14)),
    ("wage_subsidy", (17,)),
    ("ordinary_education", (21,)),
    ("guidance_upskilling", (1, 2, 3, 5, 12, 18)),
)


def lab_type_of_boxes(s1: np.ndarray) -> np.ndarray:
    """The LAB intervention a response's S1 boxes imply (first match in ``LAB_PRIORITY``)."""
    out = np.full(s1.shape[0], "none", dtype=object)
    for name, boxes in reversed(LAB_PRIORITY):
        out[s1[:, np.array(boxes) - 1].any(axis=1)] = name
    return out


def build_weeks(
    n_weeks: int,
    first_week: np.ndarray,
    start_week: np.ndarray,
    age: np.ndarray,
    resp_citizen: np.ndarray,
    resp_week: np.ndarray,
    resp_lab: np.ndarray,
    rng: np.random.Generator,
) -> WeekRows:
    """Weekly register rows from 26 weeks before the first response to 52 weeks after the last.

    Before the start: cash benefit (a DREAM cash-benefit code), with the LAB intervention of the
    next response's S1 answer in a block of 4–13 weeks before it. From the start: a job
    (employed, 6–37 ordinary hours, no benefit code) or SU education (``su``, SU code), lasting
    a geometric number of weeks, then back on cash benefit.
    """
    n_cit = first_week.size
    last = np.full(n_cit, -1, dtype=np.int64)
    np.maximum.at(last, resp_citizen, resp_week)
    has = last >= 0
    lo = np.maximum(0, first_week - 26)
    hi = np.minimum(n_weeks - 1, last + P.FOLLOW_UP_WEEKS)
    length = np.where(has, hi - lo + 1, 0)
    offset = np.cumsum(length) - length
    cit = np.repeat(np.arange(n_cit), length)
    week = lo[cit] + (np.arange(cit.size) - offset[cit])

    is_su = rng.random(n_cit) < np.where(age < 35, P.SU_SHARE_YOUNG, P.SU_SHARE_OLD)
    spell_mean = np.where(is_su, P.SU_SPELL_MEAN_WEEKS, P.JOB_SPELL_MEAN_WEEKS)
    spell_end = start_week + rng.geometric(1.0 / spell_mean)
    hours = np.round(rng.uniform(6.0, 37.0, n_cit) * 4) / 4
    code = rng.choice(np.array(P.CASH_BENEFIT_CODES), n_cit)

    in_spell = (week >= start_week[cit]) & (week < spell_end[cit])
    employed = in_spell & ~is_su[cit]
    su = in_spell & is_su[cit]
    dream = np.where(employed, np.nan, np.where(su, float(P.SU_CODE), code[cit].astype(float)))

    lab = np.full(cit.size, "none", dtype=object)
    keys = resp_citizen.astype(np.int64) * n_weeks + resp_week
    nxt = np.searchsorted(keys, cit.astype(np.int64) * n_weeks + week, side="right")
    ok = nxt < keys.size
    nxt_c = np.where(ok, nxt, 0)
    block = rng.integers(4, P.LAB_WINDOW_WEEKS + 1, max(keys.size, 1))
    ahead = resp_week[nxt_c] - week
    on_lab = ok & (resp_citizen[nxt_c] == cit) & (ahead <= block[nxt_c]) & (week < start_week[cit])
    lab[on_lab] = resp_lab[nxt_c[on_lab]]
    return WeekRows(
        citizen=cit, week=week, dream_code=dream, lab_type=lab,
        ordinary_hours=np.where(employed, hours[cit], 0.0), employed=employed, su=su,
    )
