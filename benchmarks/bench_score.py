"""Benchmark: the wild score bootstrap against the naive way (a refit per replicate), same run.

HIR assigned the caseload cap to 15 of 97 job centres, so the hazard DiDs are tested at
job-centre level with the wild score bootstrap (Kline–Santos; :mod:`bipdask.inference.score`).

* Weibull DiD (HIR eq. 1, Tables A/4/7) on ~190k synthetic gap spells (the scale-1 size of the
  HIR quantitative report) in 97 job centres, 15 treated, job-centre frailty: the wild score
  test of D, E and DE = 0 with CIs by test inversion, B = 999 Rademacher draws, timed after the
  point fit (target ≤ 2 s); the same with p-values only; the weeks DiD of
  :func:`bipdask.estimators.duration_did.duration_did` (its own test and inversion).
* Cox mediator model (Tables 9–10) on ~300k person-week rows with time-varying caseload,
  stratified and clustered by job centre: wild score test of both coefficients with CIs.
* The naive way: a refit per replicate — the model refitted on the spells of a resampled set
  of job centres (the pairs cluster bootstrap), with lifelines and with bipdask's own fit,
  timed on a few replicates and extrapolated to B = 999 (p-values only; a CI by inverting a
  refit-based test would multiply this by the number of hypothesised values).
* Size (``--size-draws``, 0 to skip): rejection rate at 5 % of the wild score test and of the
  analytic cluster-robust Wald test of DE = 0 under the null, for three designs.
* Coverage (``--coverage-draws``, 0 to skip): the G = 97 / 15 treated design with a planted DE
  log hazard ratio (−0.15): how often the wild score bootstrap's 95 % CI for DE (B =
  ``--coverage-B``, test inversion) covers the planted value, its rejection rate of DE = 0, and the
  coverage / rejection of the person-clustered (row-clustered) analytic Wald interval, with Monte
  Carlo standard errors. The planted value is the *conditional* (frailty-given) coefficient; the
  mean estimate across draws is recorded so any frailty attenuation of the fitted DE is visible.

Usage: ``python benchmarks/bench_score.py [--naive-reps 3] [--size-draws 1000] [--skip-cox]
[--coverage-draws 500] [--coverage-B 399] [--coverage-only]``.
Writes ``benchmarks/results/score.json`` (merged into the existing file: blocks not run are kept).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import WeibullAFTFitter

from bipdask.errors import FitError
from bipdask.estimators.cox import cox_ph
from bipdask.estimators.cox.model import _strata
from bipdask.estimators.cox.score import wild_cox
from bipdask.estimators.cox.source import source_from_strata
from bipdask.estimators.duration_did import duration_did
from bipdask.estimators.weibull import weibull_ph, wild_weibull
from bipdask.inference import wild

COVS = ["D", "E", "DE"]


def gap_spells(n=190_000, centres=97, treated=15, seed=1, delta=-0.1, frailty=0.2, shock=0.1) -> pd.DataFrame:
    """Weekly gap spells: Weibull PH (p = 0.8) with job-centre and job-centre×period frailty,
    censored at 56 weeks; the first ``treated`` job centres are participating (D = 1)."""
    rng = np.random.default_rng(seed)
    jc = rng.integers(0, centres, n)
    D = (jc < treated).astype(int)
    E = rng.integers(0, 2, n)
    u = rng.normal(0, frailty, centres)[jc] + rng.normal(0, shock, (centres, 2))[jc, E]
    xb = -3.0 + 0.1 * D + 0.05 * E + delta * D * E + u
    t = np.ceil((-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8))
    return pd.DataFrame({"duration": np.minimum(t, 56), "event": (t <= 56).astype(int), "D": D, "E": E,
                         "DE": D * E, "jobcentre_id": jc + 1})


def person_weeks(n=300_000, persons=45_000, centres=97, seed=2) -> pd.DataFrame:
    """Counting-process rows (k, k+1] of gaps at risk, time-varying caseload with a job-centre
    level, weekly events depending on caseload."""
    rng = np.random.default_rng(seed)
    pid = np.sort(rng.integers(0, persons, n))
    k = np.arange(n) - np.searchsorted(pid, pid)
    jc = pid % centres
    level = rng.normal(0, 3, centres)[jc]
    df = pd.DataFrame({"person_id": pid, "jobcentre_id": jc + 1, "start": k.astype(float), "stop": k + 1.0,
                       "caseload": rng.normal(30, 5, n) + level, "casemiss": (rng.random(n) < 0.03).astype(float)})
    df = df[df["stop"] <= 56].reset_index(drop=True)
    frail = rng.normal(0, 0.2, centres)[df["jobcentre_id"] - 1]
    df["event"] = (rng.random(len(df)) < np.exp(-3.5 - 0.03 * (df["caseload"] - 30) + frail)).astype(int)
    return df


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def resampled(data: pd.DataFrame, cluster: str, rng: np.random.Generator) -> pd.DataFrame:
    """The rows of G job centres drawn with replacement (a job centre drawn k times, k copies)."""
    ids = np.unique(data[cluster])
    counts = np.bincount(np.searchsorted(ids, rng.choice(ids, ids.size)), minlength=ids.size)
    copies = counts[np.searchsorted(ids, data[cluster])]
    return data.loc[data.index.repeat(copies)].reset_index(drop=True)


def weibull_bench(naive_reps: int) -> dict:
    spells = gap_spells()
    kw = dict(duration="duration", event="event", covariates=COVS, cluster="jobcentre_id", interval=True)
    fit, t_fit = timed(lambda: weibull_ph(spells, **kw))
    test, t_wild = timed(lambda: wild_weibull(fit, bootstrap=999, seed=1))
    _, t_p = timed(lambda: wild_weibull(fit, bootstrap=999, seed=1, ci=False))
    _, t_api = timed(lambda: weibull_ph(spells, **kw, inference="wild", bootstrap=999, seed=1))
    did, t_did = timed(lambda: duration_did(spells, cluster="jobcentre_id", bootstrap=999, seed=1, interval=True,
                                            inference="wild"))
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(naive_reps):
        dup = resampled(spells, "jobcentre_id", rng)
        WeibullAFTFitter().fit(dup[["duration", "event", *COVS]], "duration", "event")
    naive_lifelines = (time.perf_counter() - t0) / naive_reps
    t0 = time.perf_counter()
    for _ in range(naive_reps):
        weibull_ph(resampled(spells, "jobcentre_id", rng), **kw)
    naive_refit = (time.perf_counter() - t0) / naive_reps
    table = test.table.loc[COVS]
    did_tab = did.table.set_index("quantity")
    return {
        "rows": len(spells), "clusters": int(fit.n_clusters), "patterns": int(fit._patterns.X.shape[0]),
        "B": 999, "weights": "rademacher", "terms": COVS,
        "point_fit_s": round(t_fit, 3),
        "wild_after_fit_with_ci_s": round(t_wild, 3),
        "wild_after_fit_p_values_only_s": round(t_p, 3),
        "weibull_ph_inference_wild_total_s": round(t_api, 3),
        "duration_did_inference_wild_total_s": round(t_did, 3),
        "naive_lifelines_refit_per_replicate_s": round(naive_lifelines, 3),
        "naive_bipdask_refit_per_replicate_s": round(naive_refit, 3),
        "naive_lifelines_B999_extrapolated_s": round(999 * naive_lifelines, 1),
        "naive_bipdask_B999_extrapolated_s": round(999 * naive_refit, 1),
        "speedup_vs_naive_lifelines": round(999 * naive_lifelines / t_wild, 1),
        "speedup_vs_naive_bipdask_refit": round(999 * naive_refit / t_wild, 1),
        "DE": {"estimate": round(float(fit.params["DE"]), 4), "p_value": float(table.loc["DE", "p_value"]),
               "ci": [round(float(table.loc["DE", "ci_low"]), 4), round(float(table.loc["DE", "ci_high"]), 4)],
               "analytic_ci": [round(float(v), 4) for v in fit.conf_int().loc["DE"]]},
        "did_weeks": {"estimate": round(float(did_tab.loc["did_weeks", "estimate"]), 3),
                      "p_value": float(did_tab.loc["did_weeks", "p_value"]),
                      "ci": [round(float(did_tab.loc["did_weeks", "ci_low"]), 3),
                             round(float(did_tab.loc["did_weeks", "ci_high"]), 3)]},
    }


def cox_bench(naive_reps: int) -> dict:
    pw = person_weeks()
    kw = dict(start="start", duration="stop", event="event", covariates=["caseload", "casemiss"],
              cluster="jobcentre_id", strata="jobcentre_id")
    fit, t_fit = timed(lambda: cox_ph(pw, **kw))
    X = pw[["caseload", "casemiss"]].to_numpy(dtype=np.float64)
    strata = _strata(pw, "start", "stop", "event", X, np.ones(len(pw)), "jobcentre_id")
    source = source_from_strata(strata, pw["jobcentre_id"].to_numpy())
    test, t_wild = timed(lambda: wild_cox(fit, source, bootstrap=999, seed=1))
    _, t_p = timed(lambda: wild_cox(fit, source, bootstrap=999, seed=1,
                                    ci=False))
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(naive_reps):
        cox_ph(resampled(pw, "jobcentre_id", rng), **{**kw, "cluster": None})
    naive_refit = (time.perf_counter() - t0) / naive_reps
    return {
        "rows": len(pw), "events": int(pw["event"].sum()), "clusters": int(fit.n_clusters), "B": 999,
        "point_fit_s": round(t_fit, 3),
        "wild_after_fit_with_ci_s": round(t_wild, 2),
        "wild_after_fit_p_values_only_s": round(t_p, 2),
        "naive_bipdask_refit_per_replicate_s": round(naive_refit, 3),
        "naive_bipdask_B999_extrapolated_s": round(999 * naive_refit, 1),
        "speedup_vs_naive_bipdask_refit": round(999 * naive_refit / t_wild, 1),
        "caseload": {"estimate": round(float(fit.params["caseload"]), 5),
                     "p_value": float(test.table.loc["caseload", "p_value"]),
                     "ci": [round(float(v), 5) for v in test.table.loc["caseload", ["ci_low", "ci_high"]]],
                     "analytic_ci": [round(float(v), 5) for v in fit.conf_int().loc["caseload"]]},
    }


def size_study(draws: int) -> dict:
    """Null rejection rates at 5 % (DE = 0 true): wild score test (B = 199) and the analytic
    cluster-robust Wald test, for three designs of job centres × treated."""
    designs = {"G20_treated10": (20, 10, 1200), "G20_treated3": (20, 3, 1200), "G97_treated15": (97, 15, 6000)}
    out = {}
    for name, (centres, treated, n) in designs.items():
        wild = wald = failed = 0
        t0 = time.perf_counter()
        for draw in range(draws):
            df = gap_spells(n=n, centres=centres, treated=treated, seed=10_000 + draw, delta=0.0, frailty=0.3,
                            shock=0.15)
            try:
                fit = weibull_ph(df, duration="duration", event="event", covariates=COVS, cluster="jobcentre_id",
                                 interval=True)
            except FitError:  # the point fit's spurious "no ascent" at convergence (absolute slack)
                failed += 1
                continue
            wild += wild_weibull(fit, ["DE"], bootstrap=199, seed=draw, ci=False).table.loc["DE", "p_value"] < 0.05
            wald += fit.p_values["DE"] < 0.05
        done = draws - failed
        out[name] = {"draws": done, "point_fits_failed": failed, "spells_per_draw": n,
                     "wild_score_rejection": round(wild / done, 4), "analytic_wald_rejection": round(wald / done, 4),
                     "mc_se": round(float(np.sqrt(0.05 * 0.95 / draws)), 4),
                     "seconds": round(time.perf_counter() - t0, 1)}
    return out


def coverage_study(draws: int, B: int = 399, delta: float = -0.15, centres: int = 97, treated: int = 15,
                   n: int = 6000, seconds_cap: float | None = None) -> dict:
    """Coverage of a planted DE log hazard ratio (``delta``) by the wild score bootstrap's CI
    (clustered by job centre, B replicates, test inversion) and by the person-clustered analytic
    Wald CI; rejection rates of DE = 0; Monte Carlo standard errors. Same frailty design as
    :func:`size_study` (job-centre sd 0.3, job-centre×period sd 0.15). Stops early after
    ``seconds_cap`` seconds (the draws done are reported)."""
    kw = {"duration": "duration", "event": "event", "covariates": COVS, "interval": True}
    wild_cover = wild_reject = wald_cover = wald_reject = jc_wald_cover = failed = done = 0
    est, wild_len, wald_len = [], [], []
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for draw in range(draws):
        if seconds_cap is not None and time.perf_counter() - t0 > seconds_cap:
            break
        df = gap_spells(n=n, centres=centres, treated=treated, seed=20_000 + draw, delta=delta, frailty=0.3,
                        shock=0.15)
        df["person_id"] = np.arange(len(df))
        try:
            fit = weibull_ph(df, **kw, cluster="jobcentre_id", inference="wild", bootstrap=B, seed=draw,
                             wild_terms=["DE"])
            pfit = weibull_ph(df, **kw, cluster="person_id")
        except FitError:  # the point fit's spurious "no ascent" at convergence (absolute slack)
            failed += 1
            continue
        done += 1
        lo, hi = (float(v) for v in fit.wild.table.loc["DE", ["ci_low", "ci_high"]])
        wild_cover += lo <= delta <= hi
        wild_reject += fit.wild.table.loc["DE", "p_value"] < 0.05
        wild_len.append(hi - lo)
        plo, phi = (float(v) for v in pfit.conf_int().loc["DE"])
        wald_cover += plo <= delta <= phi
        wald_reject += pfit.p_values["DE"] < 0.05
        wald_len.append(phi - plo)
        jlo, jhi = (float(v) for v in fit.conf_int().loc["DE"])
        jc_wald_cover += jlo <= delta <= jhi
        est.append(float(fit.params["DE"]))

    def rate(k: int) -> dict:
        r = int(k) / done
        return {"rate": round(r, 4), "mc_se": round(float(np.sqrt(r * (1 - r) / done)), 4)}

    est_a = np.asarray(est)
    return {
        "design": f"G{centres}_treated{treated}", "planted_DE": delta, "spells_per_draw": n,
        "frailty_sd": 0.3, "jobcentre_period_shock_sd": 0.15, "B": B, "weights": "rademacher", "level": 0.95,
        "draws_requested": draws, "draws": done, "point_fits_failed": failed,
        "wild_score_jobcentre": {"coverage": rate(wild_cover), "rejection_DE0": rate(wild_reject),
                                 "median_ci_length": round(float(np.median(wild_len)), 4)},
        "analytic_wald_person_clustered": {"coverage": rate(wald_cover), "rejection_DE0": rate(wald_reject),
                                           "median_ci_length": round(float(np.median(wald_len)), 4)},
        "analytic_wald_jobcentre_clustered_coverage": rate(jc_wald_cover),
        "DE_estimate": {"mean": round(float(est_a.mean()), 4), "sd": round(float(est_a.std(ddof=1)), 4),
                        "mc_se_of_mean": round(float(est_a.std(ddof=1) / np.sqrt(done)), 4)},
        "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(time.process_time() - cpu0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive-reps", type=int, default=3)
    ap.add_argument("--size-draws", type=int, default=1000)
    ap.add_argument("--skip-cox", action="store_true")
    ap.add_argument("--coverage-draws", type=int, default=500)
    ap.add_argument("--coverage-B", type=int, default=399)
    ap.add_argument("--coverage-seconds", type=float, default=None,
                    help="stop the coverage study after this many seconds (draws done are reported)")
    ap.add_argument("--coverage-only", action="store_true",
                    help="run only the coverage study; the other blocks of score.json are kept as they are")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    out = Path(__file__).parent / "results" / "score.json"
    res: dict = json.loads(out.read_text()) if out.exists() else {}
    res["method"] = "wild score bootstrap (Kline-Santos 2012, restricted), boottest definitions"
    res["enumeration_threshold_G_for_B999"] = max(g for g in range(1, 30) if wild.enumerates(g, 999))
    if not args.coverage_only:
        res["weibull_did"] = weibull_bench(args.naive_reps)
        print(json.dumps(res["weibull_did"], indent=2), flush=True)
        if not args.skip_cox:
            res["cox_time_varying"] = cox_bench(args.naive_reps)
            print(json.dumps(res["cox_time_varying"], indent=2), flush=True)
        if args.size_draws:
            res["size"] = size_study(args.size_draws)
            print(json.dumps(res["size"], indent=2), flush=True)
    if args.coverage_draws:
        res["coverage"] = coverage_study(args.coverage_draws, B=args.coverage_B, seconds_cap=args.coverage_seconds)
        print(json.dumps(res["coverage"], indent=2), flush=True)
    if not args.coverage_only:
        res["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
