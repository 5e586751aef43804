"""What the BIP reduce needs from a staged delivery, and its results as tidy rows + replicates.

The BIP analyses (seeds 000, 002, 003; :func:`bipdask.bip.bip_estimates`) run on the survey
responses, ``persons`` and the BIP citizens' weeks. The flow reads only the staged weeks
partitions of the job centres that appear in ``bip_responses`` (:func:`bip_jobcentre_ids`) and
only :data:`BIP_WEEKS_COLUMNS`, keeps the responding citizens' rows (:func:`bip_weeks`), and
writes :func:`bip_outputs`: the tidy estimates and, per analysis, the bootstrap replicates that
:class:`bipdask.bip.BipResults` keeps. Pure functions; no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bipdask.bip import BipResults
from bipdask.bip_caseworkers import CHANGE, EFFECTIVENESS
from bipdask.bip_progression import PROGRESSION
from bipdask.bip_prepare import ANALYSIS_PERIOD
from bipdask.hir_hazards import HazardEstimates, replicate_key

BIP_WEEKS_COLUMNS = ("person_id", "week", "employed", "ordinary_hours", "su")
# BipResults' bootstrap columns whose tidy estimand has another name.
EFFECTIVENESS_ESTIMANDS = {"counterfactual": "counterfactual_top_quartile"}

__all__ = ["BIP_WEEKS_COLUMNS", "bip_jobcentre_ids", "bip_outputs", "bip_weeks"]


def bip_jobcentre_ids(bip_responses: pd.DataFrame) -> list[int]:
    """The job centres whose staged weeks the BIP analyses read (those in ``bip_responses``), sorted."""
    return sorted(int(j) for j in pd.unique(bip_responses["jobcentre_id"].dropna()))


def bip_weeks(weeks: pd.DataFrame, bip_responses: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``weeks`` of citizens who answered the survey, :data:`BIP_WEEKS_COLUMNS` only."""
    keep = weeks["person_id"].isin(pd.unique(bip_responses["person_id"])).to_numpy()
    return weeks.loc[keep, [c for c in BIP_WEEKS_COLUMNS if c in weeks.columns]].reset_index(drop=True)


def bip_outputs(results: BipResults) -> tuple[pd.DataFrame, dict[str, HazardEstimates]]:
    """The tidy BIP estimates and the replicates behind them, per analysis.

    Returns
    -------
    (DataFrame, dict)
        The rows of :meth:`bipdask.bip.BipResults.tidy` (analyses ``bip_caseworker_effectiveness``,
        ``bip_caseworker_change``, ``bip_progression``) and, for each analysis whose result keeps its
        bootstrap replicates, a :class:`~bipdask.hir_hazards.HazardEstimates` (its rows, replicate
        columns ``"<estimand>|all|all"``, notes); ``bip_progression``'s columns are its mean
        changes, effect sizes and weeks slopes (:attr:`bipdask.bip_progression.Progression.bootstrap`).
    """
    rows = results.tidy()
    out: dict[str, HazardEstimates] = {}
    for analysis, summary, rename in ((EFFECTIVENESS, results.effectiveness.bootstrap, EFFECTIVENESS_ESTIMANDS),
                                      (CHANGE, results.change.bootstrap, {}),
                                      (PROGRESSION, results.progression.bootstrap, {})):
        if summary is None:
            continue
        reps = summary.replicates
        columns = {replicate_key(rename.get(c, c), None, ANALYSIS_PERIOD): reps[c].to_numpy(np.float64)
                   for c in reps.columns}
        frame = pd.concat([pd.DataFrame({"replicate": np.arange(len(reps), dtype=np.int32)}),
                           pd.DataFrame(columns)], axis=1)
        mine = rows[rows["analysis"] == analysis].reset_index(drop=True)
        out[analysis] = HazardEstimates(analysis, mine, frame, {"failed_replicates": int(summary.n_failed)})
    return rows, out
