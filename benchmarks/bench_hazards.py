"""Benchmark: the bootstrap engine against the naive way (a refit per replicate), same run.

Weibull DiD (HIR eq. 1) on ~190k gap spells with ~28k person clusters, and the Cox mediator
model on ~190k person-week rows with person-clustered SEs — the scale-1 sizes of the HIR
quantitative report (Tables 4 and 9).
The naive way refits lifelines on the resampled (duplicated) clusters; it is timed for a few
replicates and reported per replicate, next to the engine's time for B = 999 and 9,999.

Usage: ``python benchmarks/bench_hazards.py [--naive-reps 3] [--skip-lifelines-robust]``.
Writes ``benchmarks/results/hazards.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, WeibullAFTFitter

from bipdask.estimators.cox import cox_ph
from bipdask.estimators.weibull import weibull_ph
from bipdask.inference import bootstrap as bs


def gap_spells(n=190_000, persons=28_000, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    D = (rng.random(n) < 0.15).astype(int)
    E = rng.integers(0, 2, n)
    xb = -3.0 + 0.1 * D + 0.05 * E - 0.1 * D * E
    t = np.ceil((-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8))
    return pd.DataFrame({"duration": np.minimum(t, 56), "event": (t <= 56).astype(int), "D": D, "E": E,
                         "DE": D * E, "person_id": rng.integers(0, persons, n)})


def person_weeks(n=190_000, persons=28_000, seed=2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.sort(rng.integers(0, persons, n))
    k = np.arange(n) - np.searchsorted(pid, pid)
    df = pd.DataFrame({"person_id": pid, "start": k.astype(float), "stop": k + 1.0,
                       "caseload": rng.normal(30, 5, n), "casemiss": (rng.random(n) < 0.03).astype(float)})
    df = df[df["stop"] <= 56].reset_index(drop=True)
    df["event"] = (rng.random(len(df)) < np.exp(-3.5 - 0.045 * (df["caseload"] - 30))).astype(int)
    return df


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive-reps", type=int, default=3)
    ap.add_argument("--skip-lifelines-robust", action="store_true")
    args = ap.parse_args()
    res: dict = {}

    spells = gap_spells()
    kw = dict(duration="duration", event="event", covariates=["D", "E", "DE"], cluster="person_id")
    fit, t_fit = timed(lambda: weibull_ph(spells, **kw))
    _, t999 = timed(lambda: weibull_ph(spells, **kw, bootstrap=999, seed=1))
    _, t9999 = timed(lambda: weibull_ph(spells, **kw, bootstrap=9999, seed=1))
    ids = np.unique(spells["person_id"])
    w = bs.replicate_weights(ids, range(args.naive_reps), 1)
    t0 = time.perf_counter()
    for b in range(args.naive_reps):
        copies = w[b][np.searchsorted(ids, spells["person_id"])].astype(int)
        dup = spells.loc[spells.index.repeat(copies), ["duration", "event", "D", "E", "DE"]].reset_index(drop=True)
        WeibullAFTFitter().fit(dup, "duration", "event")
    naive_per_rep = (time.perf_counter() - t0) / args.naive_reps
    res["weibull_did"] = {
        "rows": len(spells), "clusters": int(ids.size), "fit_s": round(t_fit, 3),
        "engine_B999_s": round(t999, 2), "engine_B9999_s": round(t9999, 2),
        "naive_lifelines_per_replicate_s": round(naive_per_rep, 3),
        "naive_B999_extrapolated_s": round(999 * naive_per_rep, 1),
        "speedup_B999": round(999 * naive_per_rep / t999, 1),
    }

    pw = person_weeks()
    ckw = dict(start="start", duration="stop", event="event", covariates=["caseload", "casemiss"], cluster="person_id")
    _, t_cox = timed(lambda: cox_ph(pw, **ckw))
    _, t_cox_boot = timed(lambda: cox_ph(pw, **ckw, bootstrap=999, seed=1))
    entry = {"rows": len(pw), "events": int(pw["event"].sum()), "fit_robust_s": round(t_cox, 2),
             "engine_B999_s": round(t_cox_boot, 1)}
    if not args.skip_lifelines_robust:
        lf = pw[["start", "stop", "event", "caseload", "casemiss", "person_id"]]
        _, t_lf = timed(lambda: CoxPHFitter().fit(
            lf.assign(duration=lf["stop"] - lf["start"]).drop(columns=["start", "stop"]),
                                                  "duration", "event", robust=True, cluster_col="person_id"))
        entry["lifelines_robust_fit_s"] = round(t_lf, 1)
        entry["note"] = "lifelines fit on durations (no counting-process entry); timing comparison only"
    ids = np.unique(pw["person_id"])
    w = bs.replicate_weights(ids, range(args.naive_reps), 1)
    t0 = time.perf_counter()
    for b in range(args.naive_reps):
        copies = w[b][np.searchsorted(ids, pw["person_id"])].astype(int)
        cox_ph(pw.loc[pw.index.repeat(copies)], start="start", duration="stop", event="event",
               covariates=["caseload", "casemiss"])
    entry["naive_refit_per_replicate_s"] = round((time.perf_counter() - t0) / args.naive_reps, 3)
    entry["speedup_B999_vs_naive_bipdask_refit"] = round(999 * entry["naive_refit_per_replicate_s"] / t_cox_boot, 2)
    res["cox_time_varying"] = entry
    res["peak_rss_mib"] = round(peak_mib(), 1)
    out = Path(__file__).parent / "results" / "hazards.json"
    out.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
