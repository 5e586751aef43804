"""The BIP analyses (DESIGN.md §2 items 8–10): caseworker effectiveness, progression, caseworker change.

Sources (``shared/seeds``): the BIP caseworker report (seed 000: sample rules, Tabel 1, Figures
1–19, Tabel A1), the progression report (seed 003: Tables 1–3, Figures 3–24) and the BIP slides
(seed 002: a change of caseworker lowers the job chance by 22 %).

Pipeline, each step a pure function over contract frames::

    sample = caseworker_sample(bip_responses, weeks)          # outcome_52w + the report's rules
    eff    = caseworker_effectiveness(sample, persons, ...)   # FE LPM, quartiles, Tabel 1
    change = caseworker_change(sample, persons, ...)          # slides: −22 %
    prog   = progression(bip_responses, ...)                  # seed 003 Tables 1, 3; Figs 3–24

or :func:`bip_estimates` for all of them as one tidy estimates frame
(:data:`bipdask.results.ESTIMATES_SCHEMA`). Linear fits come from :func:`bipdask.linear.lpm`;
the cluster bootstrap (citizens by default) from :mod:`bipdask.bootstrap` — one engine, one set
of replicate weights per run seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bipdask.bip_caseworkers import (CaseworkerChange, CaseworkerEffectiveness, caseworker_change,
                                     caseworker_effectiveness, lpm_inference, quartile_of)
from bipdask.bip_prepare import (COMBINATIONS, FOLLOW_UP_WEEKS, REGISTER_COVARIATES, CaseworkerSample,
                                 answer_covariates, caseworker_sample, combination_of_boxes, group_use,
                                 model_frame, outcome_52w, register_covariates, with_previous)
from bipdask.bip_progression import INDICATORS, Progression, change_pairs, progression, standardize
from bipdask.bootstrap import Scheme
from bipdask.linear import lpm
from bipdask.results import estimates_frame

__all__ = [
    "BipResults", "CaseworkerSample", "CaseworkerEffectiveness", "CaseworkerChange", "Progression",
    "outcome_52w", "with_previous", "combination_of_boxes", "group_use", "caseworker_sample",
    "register_covariates", "answer_covariates", "model_frame", "caseworker_effectiveness",
    "caseworker_change", "progression", "change_pairs", "standardize", "quartile_of",
    "lpm_inference", "bip_estimates", "lpm", "COMBINATIONS", "INDICATORS", "FOLLOW_UP_WEEKS",
    "REGISTER_COVARIATES",
]


@dataclass(frozen=True)
class BipResults:
    """Everything :func:`bip_estimates` computed, and the tidy union of their estimates."""

    sample: CaseworkerSample
    effectiveness: CaseworkerEffectiveness
    change: CaseworkerChange
    progression: Progression

    def tidy(self) -> pd.DataFrame:
        frames = [self.effectiveness.tidy(), self.change.tidy(), self.progression.tidy()]
        return estimates_frame(pd.concat(frames, ignore_index=True))


def bip_estimates(
    bip_responses: pd.DataFrame,
    persons: pd.DataFrame,
    weeks: pd.DataFrame,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    cluster: str = "person_id",
    scheme: Scheme = "multinomial",
    alpha: float = 0.05,
    min_caseworker_responses: int = 10,
    drop_incomplete_follow_up: bool = False,
    panel_end=None,
) -> BipResults:
    """Run the three BIP analyses on one delivery (all BIP job centres together).

    ``weeks`` needs only the BIP citizens' rows (``person_id`` in ``bip_responses``); pass
    ``panel_end`` when it is cut from a longer panel. See the step functions for the rules.
    """
    sample = caseworker_sample(bip_responses, weeks, min_caseworker_responses=min_caseworker_responses,
                               drop_incomplete_follow_up=drop_incomplete_follow_up, panel_end=panel_end)
    kw = dict(bootstrap=bootstrap, seed=seed, cluster=cluster, scheme=scheme, alpha=alpha)
    return BipResults(
        sample=sample,
        effectiveness=caseworker_effectiveness(sample, persons, **kw),
        change=caseworker_change(sample, persons, **kw),
        progression=progression(bip_responses, **kw),
    )
