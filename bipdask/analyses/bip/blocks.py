"""The BIP analyses in replicate blocks: point rows once, replicates in windows, one combine.

A BIP run with B = 9,999 replicates is one long computation (≈ 46 LPM fits with a pairs bootstrap,
the empirical-Bayes re-ranking per replicate) that no single task should hold. Replicate b
depends only on (seed, b, the cluster ids) (:mod:`bipdask.inference.bootstrap`), so:

* :func:`bip_point` — the tidy rows without replicates (estimates, counts, analytic values of the
  rows that have no replicates) and, per analysis, its replicate plan: what its replicates need
  once the point fits are done (the LPMs' per-citizen cross products' inputs,
  :class:`~bipdask.estimators.lpm.replicates.PairsState`; the per-(citizen, caseworker) sums of
  the effects and the EB ranking; the per-citizen sums of the means and rates), never the rows;
* :func:`bip_replicate_block_from_plans` — the replicates b0 … b1 − 1 of every analysis (an
  :class:`~bipdask.inference.config.Inference` of the run's B with ``window = (b0, b1)``) from
  those plans, on any worker, in any order, without refitting the ≈ 46 LPMs;
  :func:`bip_replicate_block` the same from the inputs (point fits, then the plans);
* :func:`combine_bip` — the point rows and the blocks concatenated in replicate order → the rows
  and replicate frames of :func:`bipdask.analyses.bip.estimates.bip_outputs` of one call with all
  B replicates, bit for bit: every bootstrapped row gets its SE, percentile CI, p-value and
  failure share by :func:`bipdask.inference.pairs.replicate_summary` (Tabel 1's top-quartile rows
  the normal interval, :func:`~bipdask.analyses.bip.effectiveness.normal_interval`), as the
  analyses do.

The block cut never changes a result (``docs/methods.md#replicate-blocks``); the flow's
``estimate_bip`` runs one task per block and one combine (``docs/architecture.md``).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pandas as pd

from bipdask.analyses.bip.change import CHANGE
from bipdask.analyses.bip.effectiveness import (
    EFFECTIVENESS,
    INTERVAL_ONLY_PREFIXES,
    NORMAL_INTERVAL_ESTIMANDS,
    normal_interval,
)
from bipdask.analyses.bip.estimates import bip_estimates, replicate_frame
from bipdask.analyses.bip.progression import PROGRESSION
from bipdask.analyses.estimates import HazardEstimates, estimates_frame, replicate_key
from bipdask.inference.bootstrap import shared_weights
from bipdask.inference.config import Inference
from bipdask.inference.pairs import replicate_summary


@dataclass(frozen=True)
class BipPoint:
    """The BIP point estimates: ``rows`` (tidy, bootstrapped rows without SE/CI/p yet), the
    number of responses in the caseworker sample and, when the run draws replicates, ``plans``:
    per analysis (in the order of the replicate files) what :func:`bip_replicate_block_from_plans`
    needs."""

    rows: pd.DataFrame
    sample_responses: int
    plans: dict[str, Any] | None = None


def bip_point(bip_responses: pd.DataFrame, persons: pd.DataFrame, weeks: pd.DataFrame | None = None, *,
              first_hits: pd.DataFrame | None = None, inference: Inference | None = None,
              plan_sink: Callable[[str, Any], None] | None = None, **rules) -> BipPoint:
    """The tidy rows of :func:`~bipdask.analyses.bip.estimates.bip_estimates` without replicates
    (``weeks`` or ``first_hits``: the outcome's source, as there; ``rules``: its sample and Tabel 1
    keywords) and, with ``inference.replicates`` > 0, the analyses' replicate plans. Rows that
    have replicates get their inference in :func:`combine_bip`; the others (R², combination
    shares, weeks between responses) are final. With ``plan_sink`` each plan goes to
    ``plan_sink(analysis, plan)`` as soon as it is made (in the replicate files' order) instead of
    :attr:`BipPoint.plans`: one plan in memory at a time."""
    plan = inference is not None and inference.replicates > 0
    point = Inference() if inference is None else inference.replace(replicates=0, window=None)
    res = bip_estimates(bip_responses, persons, weeks, first_hits=first_hits, inference=point,
                        replicate_plan=plan, plan_sink=plan_sink, **rules)
    plans = None
    if plan and plan_sink is None:
        plans = {EFFECTIVENESS: res.effectiveness.replicate_plan, CHANGE: res.change.replicate_plan,
                 PROGRESSION: res.progression.replicate_plan}
    return BipPoint(res.tidy(), int(res.effectiveness.n_obs), plans)


def plan_replicates(analysis: str, plan: Any, inference: Inference) -> pd.DataFrame:
    """Replicates ``inference.window`` of one analysis from its plan (:attr:`BipPoint.plans`):
    the frame of :func:`bip_replicate_block` for that analysis (``replicate`` = the absolute
    replicate number, one column per bootstrapped estimand), bit for bit."""
    if inference.replicates <= 0:
        raise ValueError("a replicate block needs replicates > 0")
    if (plan.seed, plan.scheme) != (inference.seed, inference.scheme):
        raise ValueError(f"{analysis}: the replicate plan was made for another seed or scheme")
    window, n_reps = inference.replicate_window, inference.replicates
    if analysis == PROGRESSION:
        table = plan.replicates(n_reps, window)
        reps = pd.DataFrame(table.to_numpy(np.float64), columns=table.columns)
    else:
        reps = pd.DataFrame(plan.replicates(n_reps, window), columns=pd.Index(plan.columns))
    return replicate_frame(analysis, reps, inference.replicate_numbers)


def dump_plan(plan: Any, file: IO[bytes]) -> None:
    """A replicate plan (:attr:`BipPoint.plans`) pickled to a binary file for the run's model input
    (numpy arrays, sparse matrices and small dataclasses of this package; written and read by the
    same run's tasks only): the arrays go out as they are (protocol 5 buffers), never as one more
    copy of the plan in memory."""
    pickle.dump(plan, file, protocol=pickle.HIGHEST_PROTOCOL)


def load_plan(file: IO[bytes]) -> Any:
    """The plan :func:`dump_plan` wrote, read from a binary file."""
    return pickle.load(file)  # noqa: S301 - the run's own model input


def bip_replicate_block_from_plans(plans: Mapping[str, Any | Callable[[], Any]], inference: Inference
                                   ) -> dict[str, pd.DataFrame]:
    """Replicates ``inference.window`` of every BIP analysis from the point task's plans
    (:attr:`BipPoint.plans`; a value may be a function returning the plan, called when its
    analysis is due, so that one plan is held at a time): per analysis the frame of
    :func:`bip_replicate_block`. The weight blocks drawn for one analysis are reused by the
    next on the same citizens (:func:`~bipdask.inference.bootstrap.shared_weights`)."""
    out = {}
    with shared_weights():
        for analysis, plan in plans.items():
            plan = plan() if callable(plan) else plan
            out[analysis] = plan_replicates(analysis, plan, inference)
            del plan
    return out


def bip_replicate_block(bip_responses: pd.DataFrame, persons: pd.DataFrame, weeks: pd.DataFrame | None = None, *,
                        first_hits: pd.DataFrame | None = None, inference: Inference,
                        **rules) -> dict[str, pd.DataFrame]:
    """Replicates ``inference.window`` of every BIP analysis: per analysis the frame of
    :func:`~bipdask.analyses.bip.estimates.bip_outputs` (``replicate`` = the absolute replicate
    number, one column per bootstrapped estimand), rows b0 … b1 − 1 of the whole run's. From
    the inputs: :func:`bip_point`'s plans, then :func:`bip_replicate_block_from_plans`."""
    if inference.replicates <= 0:
        raise ValueError("a replicate block needs replicates > 0")
    point = bip_point(bip_responses, persons, weeks, first_hits=first_hits, inference=inference, **rules)
    return bip_replicate_block_from_plans(point.plans, inference)


def combine_bip(point: pd.DataFrame, blocks: Sequence[Mapping[str, pd.DataFrame]], alpha: float = 0.05
                ) -> tuple[pd.DataFrame, dict[str, HazardEstimates]]:
    """The rows and per-analysis replicates of one call with all replicates, from the point rows
    (:attr:`BipPoint.rows`) and the blocks of :func:`bip_replicate_block` in replicate order
    (together replicates 0 … B − 1, each once). Without blocks: the point rows, no replicates."""
    if not blocks:
        return estimates_frame(point), {}
    rows = point.reset_index(drop=True).copy()
    keys = pd.Series([replicate_key(e, j, p) for e, j, p in zip(rows["estimand"], rows["jobcentre_id"],
                                                                 rows["period"])])
    out: dict[str, HazardEstimates] = {}
    for analysis in blocks[0]:
        frames = [b[analysis] for b in blocks]
        if any(list(f.columns) != list(frames[0].columns) for f in frames):
            raise ValueError(f"{analysis}: replicate blocks with different columns")
        reps = pd.concat(frames, ignore_index=True)
        numbers = reps["replicate"].to_numpy()
        if not np.array_equal(numbers, np.arange(len(reps))):
            raise ValueError(f"{analysis}: replicate blocks must cover replicates 0 … B − 1 once, in order")
        columns = [c for c in reps.columns if c != "replicate"]
        mine = (rows["analysis"] == analysis).to_numpy()
        at = {k: i for i, k in zip(np.flatnonzero(mine), keys[mine])}
        missing = [c for c in columns if c not in at]
        if missing:
            raise ValueError(f"{analysis}: {len(missing)} replicate columns without a point row")
        index = [at[c] for c in columns]
        values = reps[columns].to_numpy(np.float64)
        s = replicate_summary(values, rows["estimate"].to_numpy(np.float64)[index], alpha)
        rows.loc[index, ["se", "ci_low", "ci_high", "p_value"]] = s[["se", "ci_low", "ci_high", "p_value"]].to_numpy()
        rows.loc[index, "replicate_failure_share"] = s["failure_share"].to_numpy()
        if analysis == EFFECTIVENESS:  # the rows the analysis publishes otherwise
            for i, c in zip(index, columns):
                estimand = c.split("|", 1)[0]
                if estimand in NORMAL_INTERVAL_ESTIMANDS and np.isfinite(rows.at[i, "se"]):
                    rows.loc[i, ["ci_low", "ci_high", "p_value"]] = normal_interval(
                        float(rows.at[i, "estimate"]), float(rows.at[i, "se"]), alpha)
                if estimand.startswith(INTERVAL_ONLY_PREFIXES):
                    rows.loc[i, ["p_value", "replicate_failure_share"]] = np.nan
        failed = int(np.sum(~np.all(np.isfinite(values), axis=1)))
        out[analysis] = (reps, failed)
    tidy = estimates_frame(rows)
    result = {}
    for analysis, (reps, failed) in out.items():
        mine = tidy[tidy["analysis"] == analysis].reset_index(drop=True)
        result[analysis] = HazardEstimates(analysis, mine, reps, {"failed_replicates": failed})
    return tidy, result
