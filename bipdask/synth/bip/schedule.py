"""Who answers BIP, when, and with which caseworker: persons, response schedule, caseworkers.

Building blocks of :func:`bipdask.synth.bip.delivery.generate_bip`. All functions are vectorised over
citizens/responses and take an explicit ``numpy.random.Generator``.

The caseworker design reproduces the sample of the BIP caseworker report ("Data og
metode"): a few main BIP caseworkers per job centre carry most citizens, while a long tail of
caseworkers with one or two BIP citizens fails the rule "at least 10 responses"; citizens change
caseworker between consecutive responses now and then (the BIP slides: 40 % experience a
change). Main caseworkers' effects are negatively sorted on their citizens' job chances (the BIP
caseworker report, Figure 2: the most effective caseworkers "ikke har haft de mest ressourcestærke borgere").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from bipdask.synth.bip import params as P

HISTORY_KINDS = ("emp", "cash", "selfsupp", "su", "sick", "rf")
WEEKS_3Y = 156


def draw_persons(n: int, reference_year: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Background of ``n`` BIP citizens (the BIP progression report's Tables 4–5), as plain
    arrays.

    Returns sex ("M"/"F"), birth_year, age (at ``reference_year``), origin, married, education
    (None = unknown) and the 12 history-week columns (weeks in each state over the last 3 and
    6 years; 6y = last 3y + the 3 years before).
    """
    age = np.clip(np.round(rng.normal(P.AGE_MEAN, P.AGE_SD, n)), P.AGE_MIN, P.AGE_MAX).astype(np.int16)
    sex = np.where(rng.random(n) < P.FEMALE_SHARE, "F", "M").astype(object)
    origin = rng.choice(np.array(list(P.ORIGIN_SHARE), dtype=object), n, p=list(P.ORIGIN_SHARE.values()))
    # Non-western citizens marry more often (the BIP progression report's Tabel 4, upskilling column).
    married = rng.random(n) < np.where(origin == "non_western", 0.35, P.MARRIED_SHARE * 0.85)
    edu_levels = np.array(list(P.EDUCATION_SHARE), dtype=object)
    education = rng.choice(edu_levels, n, p=list(P.EDUCATION_SHARE.values()))
    out: dict[str, np.ndarray] = {
        "sex": sex, "birth_year": (reference_year - age).astype(np.int16), "age": age,
        "origin": origin, "married": married, "education": education,
    }
    last = _dirichlet_shares(P.HISTORY_SHARE_3Y, n, rng)
    prior = _dirichlet_shares(P.HISTORY_SHARE_PRIOR_3Y, n, rng)
    for k, kind in enumerate(HISTORY_KINDS):
        w3 = np.round(last[:, k] * WEEKS_3Y).astype(np.int16)
        out[f"{kind}_weeks_3y"] = w3
        out[f"{kind}_weeks_6y"] = (w3 + np.round(prior[:, k] * WEEKS_3Y)).astype(np.int16)
    return out


def _dirichlet_shares(means: tuple[float, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """Shares of time in each state (plus a residual "other" state) with the given means."""
    alpha = np.array([*means, max(1e-3, 1.0 - sum(means))]) * P.HISTORY_CONCENTRATION * 4
    return rng.dirichlet(alpha, n)


@dataclass(frozen=True)
class Schedule:
    """Scheduled responses, sorted by citizen then week.

    ``citizen`` indexes the citizens, ``week`` the panel weeks (0 = first Monday), ``seq`` is
    the 0-based position of the response within its citizen.
    """

    citizen: np.ndarray
    week: np.ndarray
    seq: np.ndarray


def schedule_responses(n: int, n_weeks: int, rng: np.random.Generator) -> Schedule:
    """Response weeks: roughly every 3 months, gaps ~ Gamma with mean 22 weeks (the BIP progression
    report, p. 7).

    The first response is placed so the whole sequence fits before the last week with a full
    52-week follow-up where possible; responses with less than ``MIN_FOLLOW_UP_WEEKS`` of panel
    left are not held.
    """
    k = np.where(rng.random(n) < P.SINGLE_SHARE, 1, 2 + rng.poisson(P.EXTRA_MEAN, n))
    citizen = np.repeat(np.arange(n), k)
    starts = np.cumsum(k) - k
    seq = np.arange(citizen.size) - np.repeat(starts, k)
    gaps = np.maximum(P.GAP_MIN_WEEKS, np.round(
        rng.gamma(P.GAP_SHAPE, P.GAP_MEAN_WEEKS / P.GAP_SHAPE, citizen.size))).astype(np.int64)
    gaps[seq == 0] = 0
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[starts], k)
    span = offset[starts + k - 1]
    last_full = n_weeks - 1 - P.FOLLOW_UP_WEEKS
    first = np.floor(rng.random(n) * (np.maximum(0, last_full - span) + 1)).astype(np.int64)
    week = np.repeat(first, k) + offset
    keep = week <= n_weeks - 1 - P.MIN_FOLLOW_UP_WEEKS
    return Schedule(citizen[keep], week[keep], seq[keep])


@dataclass(frozen=True)
class Caseworkers:
    """The caseworker table (index = local caseworker number) and each response's caseworker."""

    jobcentre: np.ndarray      # index into the BIP job centres
    is_main: np.ndarray        # one of the job centre's main BIP caseworkers
    effect: np.ndarray         # effect on the log weekly job/SU-start hazard
    of_response: np.ndarray    # local caseworker number of each scheduled response


def main_caseworker_counts(scale: float) -> np.ndarray:
    """Main BIP caseworkers per job centre: 115 × scale split by citizen share, at least one."""
    share = np.asarray(P.JOBCENTRE_SHARE) / sum(P.JOBCENTRE_SHARE)
    return np.maximum(1, np.round(P.MAIN_CASEWORKERS * scale * share)).astype(np.int64)


def assign_caseworkers(
    schedule: Schedule,
    citizen_jobcentre: np.ndarray,
    citizen_strength: np.ndarray,
    n_main: np.ndarray,
    rng: np.random.Generator,
) -> Caseworkers:
    """Give every scheduled response a caseworker.

    A citizen keeps their caseworker unless a change happens (probability ``CHANGE_PROB`` per
    response after the first). A spell is served by a main caseworker (first spell with
    probability ``MAIN_FIRST_SHARE``, later ones ``MAIN_AFTER_CHANGE_SHARE``) chosen by caseload
    weight with negative sorting on ``citizen_strength``, or else by a "small" caseworker who
    has one or two BIP citizens.
    """
    n_jc = n_main.size
    main_jc = np.repeat(np.arange(n_jc), n_main)
    main_effect = rng.normal(0.0, P.CASEWORKER_EFFECT_SD, main_jc.size)
    weight = rng.gamma(P.MAIN_SIZE_SHAPE, 1.0, main_jc.size)
    # Within a job centre, order main caseworkers from most to least effective and lay their
    # caseload weights end to end on [jc, jc + 1); a citizen's sorting key picks the slot.
    order = np.lexsort((-main_effect, main_jc))
    w_sorted = weight[order]
    jc_tot = np.bincount(main_jc, weights=weight, minlength=n_jc)
    cum = np.cumsum(w_sorted)
    jc_start_cum = np.concatenate([[0.0], np.cumsum(jc_tot)])[main_jc[order]]
    edges = main_jc[order] + (cum - jc_start_cum) / jc_tot[main_jc[order]]

    seq = schedule.seq
    new_spell = (seq == 0) | (rng.random(seq.size) < P.CHANGE_PROB)
    spell = np.cumsum(new_spell) - 1
    spell_first = np.flatnonzero(new_spell)
    spell_citizen = schedule.citizen[spell_first]
    spell_jc = citizen_jobcentre[spell_citizen]
    p_main = np.where(seq[spell_first] == 0, P.MAIN_FIRST_SHARE, P.MAIN_AFTER_CHANGE_SHARE)
    spell_main = rng.random(spell_first.size) < p_main

    rho = P.NEGATIVE_SORTING
    key = ndtr(rho * citizen_strength[spell_citizen]
               + np.sqrt(1 - rho**2) * rng.standard_normal(spell_first.size))
    slot = np.searchsorted(edges, spell_jc + np.minimum(key, 1 - 1e-12), side="right")
    slot = np.minimum(slot, edges.size - 1)
    spell_cw = np.full(spell_first.size, -1, dtype=np.int64)
    spell_cw[spell_main] = order[slot[spell_main]]

    # Small caseworkers: shuffle the small spells within each job centre and cut them into
    # caseworkers of one, two (or rarely more) spells.
    small = np.flatnonzero(~spell_main)
    small = small[np.lexsort((rng.random(small.size), spell_jc[small]))]
    new_cw = rng.random(small.size) < P.SMALL_NEW_CASEWORKER_PROB
    if small.size:
        new_cw[0] = True
        new_cw[1:] |= spell_jc[small][1:] != spell_jc[small][:-1]
    small_number = np.cumsum(new_cw) - 1
    n_small = int(new_cw.sum())
    spell_cw[small] = main_jc.size + small_number
    small_jc = spell_jc[small][new_cw]

    return Caseworkers(
        jobcentre=np.concatenate([main_jc, small_jc]),
        is_main=np.concatenate([np.ones(main_jc.size, bool), np.zeros(n_small, bool)]),
        effect=np.concatenate([main_effect, rng.normal(0.0, P.CASEWORKER_EFFECT_SD, n_small)]),
        of_response=spell_cw[spell],
    )


def group_starts(groups: np.ndarray) -> np.ndarray:
    """True at the first element of each run of equal values in a sorted array."""
    first = np.ones(groups.size, dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return first


def report_sample_mask(person: np.ndarray, caseworker: np.ndarray, date: np.ndarray,
                       min_caseworker_count: int = 10, count: str = "citizens") -> np.ndarray:
    """The BIP caseworker report's sample rules ("Data og metode").

    Keep responses from caseworkers who answered for at least ``min_caseworker_count`` distinct
    citizens ("mindst 10 borgere"; ``count="responses"`` counts responses instead), counted over
    all responses, from citizens with more than one response, and drop each citizen's first
    response. Returns a boolean mask aligned with the inputs (any order).
    """
    person = np.asarray(person)
    caseworker = np.asarray(caseworker)
    if count not in ("citizens", "responses"):
        raise ValueError("count must be 'citizens' or 'responses'")
    _, cw_inv, cw_count = np.unique(caseworker, return_inverse=True, return_counts=True)
    _, p_inv, p_count = np.unique(person, return_inverse=True, return_counts=True)
    if count == "citizens":
        pairs = np.unique(np.column_stack([cw_inv, p_inv]), axis=0)
        cw_count = np.bincount(pairs[:, 0], minlength=cw_count.size)
    order = np.lexsort((np.asarray(date), person))
    first = np.zeros(person.size, dtype=bool)
    first[order] = group_starts(person[order])
    return (cw_count[cw_inv] >= min_caseworker_count) & (p_count[p_inv] > 1) & ~first
