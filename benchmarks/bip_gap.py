"""Decompose the gap between the BIP Tabel 1 LPM's noise-free value and the generator's policy truth.

``benchmarks/coverage.py --bip`` shows that the empirical-Bayes top-quartile estimate is unbiased
for the fixed-effects LPM's own noise-free value (the LPM fitted on the exact expected outcomes,
top quartile by the true effects) but that this value lies more than a quarter below the generator's
policy truth (every caseworker's log-hazard effect moved to the true top quartile's mean over
the whole 52-week window). This benchmark switches the generator's mechanisms off one at a time
and together, on the same seeds (common random numbers), and records both quantities per
scenario:

* ``sorting_on_frailty`` — ``SORTING_FRAILTY_WEIGHT = 1``: the generator before it was aligned
  with the report, sorting also on the unobserved frailty (a confounder the report assumes away);
* ``no_sorting`` — ``NEGATIVE_SORTING = 0``: caseworkers are assigned without regard to the
  citizen's register index;
* ``no_change_effect`` — ``CHANGE_LOG_HAZARD = 0``: caseworkers still change, a change no longer
  lowers the hazard;
* ``no_changes`` — ``CHANGE_PROB = 0``: every citizen keeps the first caseworker, so the 52-week
  window after a response belongs to one caseworker;
* ``no_frailty`` — ``FRAILTY_SD = 0``: no unobserved citizen heterogeneity, so no selection on it
  among the citizens still in BIP at a later response;
* ``medium_effects`` / ``small_effects`` — ``CASEWORKER_EFFECT_SD`` 0.31 / 0.15 instead of 0.62:
  the hazard is closer to linear on the probability scale over the effects' range;
* combinations, down to ``all_off`` (effects 0.31, no sorting, no changes, no frailty, no
  job-centre effects).

Per scenario: mean policy truth, mean LPM value, their ratio, and the relative gap
1 − LPM/truth with its Monte Carlo SE (paired over draws); ``gap_share`` is the part of the
default scenario's relative gap that the scenario removes. Both quantities are exact
expectations given a draw (no outcome noise, no ranking noise), so a handful of draws suffices.
Method and the numbers: ``docs/methods.md#bip-tabel-1--caseworker-effectiveness``.

Usage: ``python benchmarks/bip_gap.py --draws 8`` (≈1 CPU-s per draw and scenario; 11
scenarios × 8 draws ≈ 3 min) →
``benchmarks/results/bip_gap.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

#: Scenario name → generator parameters overridden (bipdask.synth.bip.params).
SCENARIOS: dict[str, dict[str, float]] = {
    "default": {},
    "sorting_on_frailty": {"SORTING_FRAILTY_WEIGHT": 1.0},
    "no_sorting": {"NEGATIVE_SORTING": 0.0},
    "no_change_effect": {"CHANGE_LOG_HAZARD": 0.0},
    "no_changes": {"CHANGE_PROB": 0.0},
    "no_sorting_no_changes": {"NEGATIVE_SORTING": 0.0, "CHANGE_PROB": 0.0},
    "no_frailty": {"FRAILTY_SD": 0.0},
    "no_sorting_no_changes_no_frailty": {"NEGATIVE_SORTING": 0.0, "CHANGE_PROB": 0.0, "FRAILTY_SD": 0.0},
    "medium_effects": {"CASEWORKER_EFFECT_SD": 0.31},
    "small_effects": {"CASEWORKER_EFFECT_SD": 0.15},
    "all_off": {"CASEWORKER_EFFECT_SD": 0.31, "NEGATIVE_SORTING": 0.0, "CHANGE_PROB": 0.0,
                "FRAILTY_SD": 0.0, "JOBCENTRE_EFFECT_SD": 0.0},
}


@contextlib.contextmanager
def overridden(params: dict[str, float]) -> Iterator[None]:
    """Temporarily set attributes of :mod:`bipdask.synth.bip.params` (the generator reads them at
    call time)."""
    from bipdask.synth.bip import params as P

    old = {k: getattr(P, k) for k in params}
    try:
        for k, v in params.items():
            setattr(P, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(P, k, v)


def gap_draw(seed: int, params: dict[str, float] | None = None) -> dict[str, float]:
    """Policy truth and the LPM's noise-free value of the Tabel 1 increase for one draw at scale 1."""
    from bipdask.analyses.bip.effectiveness import caseworker_effectiveness
    from bipdask.prepare.bip import caseworker_sample
    from bipdask.synth.bip.delivery import generate_bip
    from bipdask.synth.hir import geography
    from bipdask.synth.hir import params as hir_params

    with overridden(params or {}):
        part = generate_bip(geography.jobcentres(), hir_params.panel_weeks(), scale=1.0, seed=seed,
                            person_id_start=5_000_000, caseworker_id_start=900_000)
    sample = caseworker_sample(part.bip_responses, part.weeks)
    noise_free = sample.frame.copy()
    noise_free["outcome"] = part.expected_outcome[noise_free["response_id"].to_numpy() - 1]
    cw = caseworker_effectiveness(noise_free, part.persons, top_quartile="raw").caseworkers
    true_q = cw["caseworker_id"].map(part.truth["caseworkers"]["sample_quartile"])
    by_q = part.truth["outcome"]["expected_rate_by_true_quartile"]
    return {"truth": part.truth["outcome"]["expected_increase"],
            "lpm_value": float(cw.loc[true_q == 4, "effect"].mean()),
            # The report's evidence of sorting: the raw outcome gap between the top and bottom
            # quartiles (Figur 1) against the gap of the fixed effects (Figur 2), true quartiles.
            "raw_gap": by_q[3] - by_q[0],
            "fe_gap": float(cw.loc[true_q == 4, "effect"].mean() - cw.loc[true_q == 1, "effect"].mean()),
            "actual": part.truth["outcome"]["expected_rate"],
            "share_changed": part.truth["caseworker_change"]["share_sample_responses_changed"]}


def _summary(rows: pd.DataFrame) -> dict[str, float]:
    gap = 1 - rows["lpm_value"] / rows["truth"]
    return {"mean_truth_pp": round(100 * float(rows["truth"].mean()), 2),
            "mean_lpm_value_pp": round(100 * float(rows["lpm_value"].mean()), 2),
            "mean_actual_rate_pct": round(100 * float(rows["actual"].mean()), 2),
            "share_responses_after_change": round(float(rows["share_changed"].mean()), 3),
            "figur1_raw_gap_q4_q1_pp": round(100 * float(rows["raw_gap"].mean()), 2),
            "figur2_fe_gap_q4_q1_pp": round(100 * float(rows["fe_gap"].mean()), 2),
            "relative_gap": round(float(gap.mean()), 4),
            "relative_gap_mc_se": round(float(gap.std(ddof=1) / math.sqrt(len(rows))), 4)}


def gap_run(draws: int, seed: int = 1, scenarios: dict[str, dict[str, float]] | None = None) -> dict:
    """Every scenario over the same ``draws`` seeds; gap shares relative to ``default``."""
    scenarios = SCENARIOS if scenarios is None else scenarios
    t0 = time.perf_counter()
    seeds = [seed * 1_000_003 + i for i in range(draws)]
    rows = {name: pd.DataFrame([gap_draw(s, p) for s in seeds]) for name, p in scenarios.items()}
    out = {name: {"params": p, **_summary(rows[name])} for name, p in scenarios.items()}
    if "default" in rows:
        base_gap = 1 - rows["default"]["lpm_value"] / rows["default"]["truth"]
        for name, r in rows.items():
            removed = base_gap - (1 - r["lpm_value"] / r["truth"])  # paired over draws
            out[name]["gap_removed"] = round(float(removed.mean()), 4)
            out[name]["gap_removed_mc_se"] = round(float(removed.std(ddof=1) / math.sqrt(draws)), 4)
            out[name]["gap_share"] = round(float(removed.mean() / base_gap.mean()), 3)
    return {"draws": draws, "scale": 1.0, "seeds": [seeds[0], seeds[-1]],
            "seconds": round(time.perf_counter() - t0, 1), "scenarios": out,
            "_about": ("relative_gap = mean over draws of 1 - lpm_value/truth; gap_share = the part of "
                       "the default scenario's relative gap the scenario removes (paired draws). "
                       "truth: generator policy increase (log-hazard effects to the true top-quartile "
                       "mean, whole window); lpm_value: the fixed-effects LPM on exact expected "
                       "outcomes, true top quartile.")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                    help="run only these (repeatable); default all")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bip_gap.json"))
    args = ap.parse_args(argv)
    chosen = {k: SCENARIOS[k] for k in (args.scenario or SCENARIOS)}
    if args.scenario and "default" not in chosen:
        chosen = {"default": {}, **chosen}
    report = gap_run(args.draws, args.seed, chosen)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
