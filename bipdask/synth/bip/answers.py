"""BIP answers: the S1 activity boxes and the 1–5 answers B1–B11 and S2–S12.

The answers follow latent levels that move between consecutive responses. The move depends on
the J/O/S/H activity combination of the response (question S1, "activities in the last three
months"), so that regressing the standardised change of the citizen average B1–B9 (or the
caseworker average S2–S12) on the 16 combination dummies recovers the planted effect sizes of
the BIP progression report (Figures 3 and 13), while each question's mean change matches
its Table 1 and the combinations occur with the frequencies of its Table 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bipdask.data.contract import (
    BIP_CASEWORKER_QUESTIONS,
    BIP_CITIZEN_QUESTIONS,
    S1_DONT_KNOW_BOX,
    S1_GROUPS,
    S1_NONE_BOX,
)
from bipdask.synth.bip import params as P

GROUP_ORDER = ("J", "O", "S", "H")
COMBINATIONS = tuple(f"{c:04b}" for c in range(16))       # index = J*8 + O*4 + S*2 + H
#: Relative popularity of the boxes inside each group (job search and knowledge of the labour
#: market dominate the job-oriented group; the BIP caseworker report, Appendiks B).
BOX_WEIGHT = {3: 3, 5: 4, 7: 1, 12: 1.5, 13: 2, 14: 1, 17: 1, 19: 0.3, 20: 0.2,
              1: 2, 2: 1.5, 18: 0.6, 21: 0.4, 4: 2, 6: 1, 8: 1.5, 15: 1.2,
              9: 1, 10: 2, 11: 1.5, 16: 0.6}
CITIZEN_LEVEL = np.array([3.2, 3.3, 3.6, 3.1, 3.4, 2.9, 3.0, 3.0, 3.0, 2.8, 3.0])
CASEWORKER_LEVEL = np.array([3.0, 2.9, 2.9, 3.1, 3.4, 3.3, 3.1, 2.9, 3.1, 2.9, 2.5])
# The citizen average is of B1–B9 and the caseworker average of S2–S12 (BIP progression report, Tabel 1).
N_CITIZEN_AVERAGED = 9


def combination_weights() -> np.ndarray:
    """Probability of each of the 16 combinations (BIP progression report, Tabel 3), index = JOSH bits."""
    counts = np.array([P.COMBINATION_COUNTS[c] for c in COMBINATIONS], dtype=float)
    return counts / counts.sum()


def centred_effects(effects: dict[str, float]) -> np.ndarray:
    """Planted effect sizes per combination, centred to a Tabel-3-weighted mean of zero."""
    e = np.array([effects[c] for c in COMBINATIONS])
    return e - combination_weights() @ e


@dataclass(frozen=True)
class Answers:
    """Answers aligned with the scheduled responses; NaN = not answered."""

    combination: np.ndarray        # int 0..15, J*8 + O*4 + S*2 + H
    s1: np.ndarray                 # bool (n, 23): boxes s1_1 .. s1_23
    citizen: np.ndarray            # float (n, 11): b1 .. b11
    caseworker: np.ndarray         # float (n, 11): s2 .. s12


def draw_activity_boxes(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw each response's J/O/S/H combination and the S1 boxes that realise it.

    Every group in the combination gets one box drawn by popularity plus, each with
    probability ``EXTRA_BOX_PROB``, further boxes of the same group; combination 0000 ticks
    "ingen aktiviteter" (box 22) or "ved ikke" (box 23).
    """
    combo = rng.choice(16, n, p=combination_weights())
    boxes = np.zeros((n, 23), dtype=bool)
    for g, name in enumerate(GROUP_ORDER):
        on = ((combo >> (3 - g)) & 1).astype(bool)
        members = np.array(S1_GROUPS[name])
        w = np.array([BOX_WEIGHT[b] for b in members], dtype=float)
        first = rng.choice(members, n, p=w / w.sum())
        extra = rng.random((n, members.size)) < P.EXTRA_BOX_PROB
        chosen = extra | (members[None, :] == first[:, None])
        boxes[:, members - 1] = chosen & on[:, None]
    none = combo == 0
    use_none = rng.random(n) < P.NONE_BOX_SHARE
    boxes[:, S1_NONE_BOX - 1] = none & use_none
    boxes[:, S1_DONT_KNOW_BOX - 1] = none & ~use_none
    return combo, boxes


def combination_of_boxes(boxes: np.ndarray) -> np.ndarray:
    """The J/O/S/H combination index (0..15) of S1 box rows, per bipdask.data.contract.S1_GROUPS."""
    code = np.zeros(boxes.shape[0], dtype=np.int64)
    for g, name in enumerate(GROUP_ORDER):
        code |= boxes[:, np.array(S1_GROUPS[name]) - 1].any(axis=1).astype(np.int64) << (3 - g)
    return code


def _change_scale(n_averaged: int) -> float:
    """Sd of the change in a question average: latent step plus measurement and rounding noise."""
    per_item = 2 * (P.ANSWER_NOISE_SD**2 + 1 / 12)
    return float(np.sqrt(P.LATENT_STEP_SD**2 + per_item / n_averaged))


#: Raises the latent effects to offset the attenuation by clipping to 1–5 (measured by
#: simulation, see :func:`bipdask.synth.bip.delivery.population_progression`).
CLIP_ATTENUATION = 1.12


def draw_answers(
    citizen: np.ndarray,
    seq: np.ndarray,
    citizen_strength: np.ndarray,
    caseworker_optimism: np.ndarray,
    rng: np.random.Generator,
    *,
    with_nulls: bool = True,
) -> Answers:
    """Draw S1 boxes and the B1–B11 / S2–S12 answers for responses sorted by citizen and seq.

    ``citizen_strength`` (per citizen, standardised) correlates the answer levels with the
    citizen's register-based job chances; ``caseworker_optimism`` (per response) shifts the
    caseworker's ratings of realism, initiative, concentration and job chance (the BIP
    caseworker report, Figures 9, 11, 15, 19).
    """
    n = citizen.size
    combo, s1 = draw_activity_boxes(n, rng)
    first = seq == 0
    starts = np.flatnonzero(first)
    run = np.diff(np.append(starts, n))
    n_cit = int(citizen.max()) + 1 if n else 0

    def walk(effect: np.ndarray, shared: np.ndarray, own_weight: float, n_avg: int) -> np.ndarray:
        scale = _change_scale(n_avg) / P.LATENT_STEP_SD * CLIP_ATTENUATION
        step = P.LATENT_STEP_SD * (scale * effect[combo] + shared * np.sqrt(1 - own_weight**2)
                                   + own_weight * rng.standard_normal(n))
        step[first] = 0.0
        level = np.cumsum(step)
        return level - np.repeat(level[starts], run)

    shared = rng.standard_normal(n)
    base_b = P.ANSWER_LEVEL_SD * (0.5 * citizen_strength + np.sqrt(0.75) * rng.standard_normal(n_cit))
    base_s = 0.8 * base_b + 0.6 * P.ANSWER_LEVEL_SD * rng.standard_normal(n_cit)
    lat_b = base_b[citizen] + walk(centred_effects(P.COMBINATION_EFFECT_CITIZEN), shared, 0.0,
                                   N_CITIZEN_AVERAGED)
    lat_s = base_s[citizen] + walk(centred_effects(P.COMBINATION_EFFECT_CASEWORKER), shared, 0.6,
                                   len(BIP_CASEWORKER_QUESTIONS))

    def items(level: np.ndarray, latent: np.ndarray, names: tuple[str, ...],
              shift: np.ndarray | float = 0.0) -> np.ndarray:
        drift = P.DRIFT_INFLATION * np.array([P.MEAN_CHANGE[q] for q in names])
        item = rng.normal(0.0, P.ANSWER_ITEM_SD, (n_cit, len(names)))[citizen]
        raw = (level[None, :] + latent[:, None] + item + drift[None, :] * seq[:, None] + shift
               + rng.normal(0.0, P.ANSWER_NOISE_SD, (n, len(names))))
        return np.clip(np.round(raw), 1, 5)

    b = items(CITIZEN_LEVEL, lat_b, BIP_CITIZEN_QUESTIONS)
    opt = np.array([q in P.OPTIMISTIC_QUESTIONS for q in BIP_CASEWORKER_QUESTIONS], dtype=float)
    s = items(CASEWORKER_LEVEL, lat_s, BIP_CASEWORKER_QUESTIONS,
              P.CASEWORKER_OPTIMISM * caseworker_optimism[:, None] * opt[None, :])
    if with_nulls:
        null_b = np.full(len(BIP_CITIZEN_QUESTIONS), P.ITEM_NULL_SHARE)
        null_b[-2:] = P.ITEM_NULL_SHARE_B10_B11
        b[rng.random(b.shape) < null_b[None, :]] = np.nan
        s[rng.random(s.shape) < P.ITEM_NULL_SHARE] = np.nan
        no_caseworker_part = rng.random(n) >= P.CASEWORKER_RESPONSE_SHARE
        s[no_caseworker_part] = np.nan
        s1[no_caseworker_part] = False
    return Answers(combination=combo, s1=s1, citizen=b, caseworker=s)


def citizen_average(b: np.ndarray) -> np.ndarray:
    """Mean of the answered B1–B9 (NaN when none answered)."""
    part = b[:, :N_CITIZEN_AVERAGED]
    answered = (~np.isnan(part)).sum(axis=1)
    total = np.nansum(part, axis=1)
    return np.where(answered > 0, total / np.maximum(answered, 1), np.nan)
