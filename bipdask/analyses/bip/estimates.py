"""The BIP analyses: caseworker effectiveness, progression, caseworker change (``docs/methods.md``, BIP).

Sources: the BIP caseworker report (sample rules, Tabel 1, Figures 1–19, Tabel A1), the BIP
progression report (Tables 1–3, Figures 3–24) and the BIP slides (a change of caseworker lowers
the job chance by 22 %).

Pipeline, each step a pure function over contract frames::

    sample = caseworker_sample(bip_responses, weeks)          # outcome_52w + the report's rules
    # or caseworker_sample(bip_responses, first_hits=hits, panel_end=...): the map-side outcome
    eff    = caseworker_effectiveness(sample, persons, ...)   # FE LPM, quartiles, Tabel 1
    change = caseworker_change(sample, persons, ...)          # slides: −22 %
    prog   = progression(bip_responses, ...)                  # progression report Tables 1, 3; Figs 3–24

or :func:`bip_estimates` for all of them as one tidy estimates frame
(:data:`bipdask.analyses.estimates.ESTIMATES_SCHEMA`). Linear fits come from
:func:`bipdask.estimators.lpm.model.lpm`; the cluster bootstrap (citizens by default) from
:mod:`bipdask.inference.bootstrap` — one engine, one set of replicate weights per run seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bipdask.analyses.bip.change import CHANGE, CaseworkerChange, caseworker_change
from bipdask.analyses.bip.effectiveness import (
    EFFECTIVENESS,
    CaseworkerEffectiveness,
    caseworker_effectiveness,
)
from bipdask.analyses.bip.progression import PROGRESSION, Progression, progression
from bipdask.analyses.estimates import HazardEstimates, estimates_frame, replicate_key
from bipdask.inference.bootstrap import shared_weights
from bipdask.inference.config import Inference
from bipdask.prepare.bip import ANALYSIS_PERIOD, CaseworkerSample, caseworker_sample


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
    weeks: pd.DataFrame | None = None,
    *,
    first_hits: pd.DataFrame | None = None,
    inference: Inference = Inference(),
    min_caseworker_responses: int = 10,
    count_caseworker: str = "citizens",
    top_quartile: str = "eb",
    drop_incomplete_follow_up: bool = False,
    panel_end=None,
    replicate_plan: bool = False,
    plan_sink: Callable[[str, Any], None] | None = None,
) -> BipResults:
    """Run the three BIP analyses on one delivery (all BIP job centres together).

    ``weeks`` needs only the BIP citizens' rows (``person_id`` in ``bip_responses``); pass
    ``panel_end`` when it is cut from a longer panel. Instead of ``weeks``, ``first_hits`` (the
    :func:`~bipdask.prepare.bip.first_hits` of the panel's parts, with ``panel_end``) gives the
    same results from a frame sized by the responses (what the flow passes). ``count_caseworker`` and
    ``min_caseworker_responses``: the caseworker rule of :func:`~bipdask.prepare.bip.caseworker_sample`;
    ``top_quartile``: Tabel 1's estimator (:func:`~bipdask.analyses.bip.effectiveness.caseworker_effectiveness`).
    See the step functions for the rules. ``replicate_plan`` (with ``inference.replicates`` 0):
    each analysis keeps what its replicates need (its ``replicate_plan``) instead of drawing
    them, for :func:`bipdask.analyses.bip.blocks.plan_replicates`; with ``plan_sink`` each plan
    is handed to ``plan_sink(analysis, plan)`` as soon as its analysis is done and not kept (the
    point task writes it: one plan in memory at a time).
    """
    sample = caseworker_sample(bip_responses, weeks, first_hits=first_hits,
                               min_caseworker_responses=min_caseworker_responses,
                               count_caseworker=count_caseworker,
                               drop_incomplete_follow_up=drop_incomplete_follow_up, panel_end=panel_end)
    kw = dict(inference=inference, replicate_plan=replicate_plan)
    with shared_weights():  # ≈ 50 bootstraps on ≈ 25 cluster sets: each set's weights drawn once
        eff = _sunk(EFFECTIVENESS, caseworker_effectiveness(sample, persons, top_quartile=top_quartile, **kw),
                    plan_sink)
        change = _sunk(CHANGE, caseworker_change(sample, persons, **kw), plan_sink)
        prog = _sunk(PROGRESSION, progression(bip_responses, **kw), plan_sink)
        return BipResults(sample=sample, effectiveness=eff, change=change, progression=prog)


def _sunk(analysis: str, result, sink):
    """``result`` without its replicate plan once ``sink`` has it, and without its LPM's row
    state (the absorbed design: ~100 MB at scale 30, shared with the plan; the point task only
    needs the rows). Unchanged without a sink."""
    if sink is None or result.replicate_plan is None:
        return result
    sink(analysis, result.replicate_plan)
    fit = getattr(result, "fit", None)
    extra = {} if fit is None else {"fit": dataclasses.replace(fit, _state=None, pairs_state=None)}
    return dataclasses.replace(result, replicate_plan=None, **extra)


# BipResults' bootstrap columns whose tidy estimand has another name.
EFFECTIVENESS_ESTIMANDS = {"counterfactual": "counterfactual_top_quartile"}


def bip_outputs(results: BipResults) -> tuple[pd.DataFrame, dict[str, HazardEstimates]]:
    """The tidy BIP estimates and the replicates behind them, per analysis.

    Returns
    -------
    (DataFrame, dict)
        The rows of :meth:`bipdask.analyses.bip.estimates.BipResults.tidy` (analyses ``bip_caseworker_effectiveness``,
        ``bip_caseworker_change``, ``bip_progression``) and, for each analysis whose result keeps its
        bootstrap replicates, a :class:`~bipdask.analyses.estimates.HazardEstimates` (its rows, replicate
        columns ``"<estimand>|all|all"``, notes); ``bip_progression``'s columns are its mean
        changes, effect sizes and weeks slopes (:attr:`bipdask.analyses.bip.progression.Progression.bootstrap`).
    """
    rows = results.tidy()
    out: dict[str, HazardEstimates] = {}
    for analysis, summary in ((EFFECTIVENESS, results.effectiveness.bootstrap),
                              (CHANGE, results.change.bootstrap),
                              (PROGRESSION, results.progression.bootstrap)):
        if summary is None:
            continue
        reps = summary.replicates
        mine = rows[rows["analysis"] == analysis].reset_index(drop=True)
        out[analysis] = HazardEstimates(analysis, mine, replicate_frame(analysis, reps),
                                        {"failed_replicates": int(summary.n_failed)})
    return rows, out


def replicate_frame(analysis: str, replicates: pd.DataFrame, numbers=None) -> pd.DataFrame:
    """An analysis's bootstrap replicates (columns as its ``bootstrap``) as the replicate file
    of :func:`bip_outputs`: ``replicate`` (``numbers``, default 0 … B − 1) and one column per
    estimand, ``"<estimand>|all|all"``."""
    rename = EFFECTIVENESS_ESTIMANDS if analysis == EFFECTIVENESS else {}
    columns = {replicate_key(rename.get(c, c), None, ANALYSIS_PERIOD): replicates[c].to_numpy(np.float64)
               for c in replicates.columns}
    numbers = np.arange(len(replicates), dtype=np.int32) if numbers is None else np.asarray(numbers, dtype=np.int32)
    return pd.concat([pd.DataFrame({"replicate": numbers}), pd.DataFrame(columns)], axis=1)
