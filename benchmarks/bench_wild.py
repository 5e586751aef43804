"""Benchmark: the wild cluster restricted bootstrap (WCR) from per-cluster sufficient statistics
against the naive way (a refit on the rows per replicate).

The HIR share DiD (Table 6 as a person-week LPM, eq. 2) at job-centre level: ~2.7M synthetic
person-weeks of ~28k persons in 97 job centres, 15 of them participating, two periods;
covariates D, E, D×E; cluster = job centre; B = 9,999 Rademacher draws (2^97 sign vectors are
not enumerable). Timed, each the best of ``--repeat`` runs:

* ``fit_s``: the point fit (``lpm`` with CR1, no replicates);
* ``fit_plus_wild_s`` / ``wild_after_fit_s``: ``lpm(..., inference="wild", bootstrap=9999)``
  (all three terms: replicates, p-values and inverted intervals) and its difference to the fit;
* ``wild_step``: the same step run directly on the fitted state — per-cluster moments (one pass
  over the rows), the replicates of D×E, its p-value and test inversion — and the three terms
  together (target: ≤ 0.5 s after the point fit);
* ``naive``: statsmodels OLS with CR1 on y* = Xβ̃ + v_g·ũ_g for ``--naive-reps`` replicates of the
  D×E test, extrapolated to B = 9,999 (p-value only: test inversion would refit many times more);
  ``speedup_vs_naive`` = naive estimate / the direct D×E step (moments + replicates + p-value +
  inversion), printed;
* ``cell_did_wild_s``: the same test from the 97 × 4 job-centre × cell sums
  (:func:`bipdask.estimators.cell_did.cell_did_wild`).

The machine is shared (2 cores): timings are minima of repeated runs, CPU seconds beside wall
seconds, the 1-minute load average at start and end. Like bench_linear.py the script re-executes
itself in a Dask worker's environment (one BLAS thread) unless ``--inherit-env``.

Usage: ``python benchmarks/bench_wild.py [--repeat 3] [--naive-reps 3] [--inherit-env]``.
Writes benchmarks/results/wild.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from _measure import WORKER_ENV, in_worker_environment, load, machine, timed  # noqa: E402

if __name__ == "__main__":
    in_worker_environment()

import numpy as np  # noqa: E402  (after the environment is fixed: BLAS reads it when loaded)
import pandas as pd  # noqa: E402

from bipdask.estimators.cell_did import cell_did_wild  # noqa: E402
from bipdask.estimators.lpm import lpm  # noqa: E402
from bipdask.inference.wild import wcr_draws, wcr_linear, wild_weights  # noqa: E402

B = 9_999
N_JC, N_TREATED = 97, 15


def share_panel(n=2_700_000, persons=28_000, seed=1) -> pd.DataFrame:
    """Person-weeks: persons spread over 97 job centres (15 participating), E = second period,
    y ~ Bernoulli(0.15 + 0.02·D + 0.02·E + 0.017·D·E + job-centre × period shock)."""
    rng = np.random.default_rng(seed)
    pid = np.sort(rng.integers(0, persons, n))
    jc_of_person = rng.integers(1, N_JC + 1, persons)
    jc = jc_of_person[pid]
    treated = np.linspace(1, N_JC, N_TREATED).round().astype(np.int64)
    D = np.isin(jc, treated).astype(np.int8)
    E = rng.integers(0, 2, n).astype(np.int8)
    shock = rng.normal(0, 0.02, (N_JC + 1, 2))[jc, E]
    p = np.clip(0.15 + 0.02 * D + 0.02 * E + 0.017 * D * E + shock, 0, 1)
    y = (rng.random(n) < p).astype(np.int8)
    return pd.DataFrame({"person_id": pid, "jobcentre_id": jc, "D": D, "E": E, "DE": D * E, "y": y})




def naive(df: pd.DataFrame, reps: int) -> tuple[float, np.ndarray]:
    """s per replicate of the naive WCR for D×E: restricted fit once, then per replicate
    statsmodels OLS with CR1 on the rows' y* = Xβ̃ + v_g·ũ_g; and the replicates' t*."""
    import statsmodels.api as sm

    X = sm.add_constant(df[["D", "E", "DE"]].astype(float), prepend=False).to_numpy()
    y = df["y"].to_numpy(float)
    ids, codes = np.unique(df["jobcentre_id"].to_numpy(), return_inverse=True)
    restricted = sm.OLS(y, X[:, [0, 1, 3]]).fit()  # H0: β_DE = 0
    u = restricted.resid
    fitted = y - u
    V = wild_weights(ids.astype(np.int64), range(reps), 7)
    t_star = np.empty(reps)
    t = time.perf_counter()
    for b in range(reps):
        fit = sm.OLS(fitted + V[b][codes] * u, X).fit(cov_type="cluster", cov_kwds={"groups": codes})
        t_star[b] = fit.params[2] / fit.bse[2]
    return (time.perf_counter() - t) / reps, t_star


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-reps", type=int, default=3)
    ap.add_argument("--inherit-env", action="store_true", help="do not switch to the Dask worker environment")
    args = ap.parse_args()
    rep = args.repeat
    df = share_panel()
    kw = {"y": "y", "covariates": ["D", "E", "DE"], "cluster": "jobcentre_id"}
    out: dict = {"load_start": load(), "rows": len(df), "persons": int(df["person_id"].nunique()),
                 "job_centres": int(df["jobcentre_id"].nunique()), "participating": N_TREATED, "B": B}

    fit, t_fit, c_fit = timed(lambda: lpm(df, **kw), rep)
    wild, t_wild, c_wild = timed(lambda: lpm(df, **kw, inference="wild", bootstrap=B, seed=7), rep)
    out.update({"fit_s": round(t_fit, 3), "fit_cpu_s": round(c_fit, 3), "fit_plus_wild_s": round(t_wild, 3),
                "fit_plus_wild_cpu_s": round(c_wild, 3), "wild_after_fit_s": round(t_wild - t_fit, 3)})

    moments, t_mom, c_mom = timed(fit.cluster_moments, rep)
    e_de = [0.0, 0.0, 1.0]
    draws, t_draw, c_draw = timed(lambda: wcr_draws(moments, {"DE": e_de}, bootstrap=B, seed=7)["DE"], rep)
    (p_de, ci_de), t_inv, c_inv = timed(lambda: (draws.p_value(), draws.conf_int(0.05)), rep)
    _, t_all, c_all = timed(lambda: wcr_linear(fit.cluster_moments(), bootstrap=B, seed=7), rep)
    step_de = t_mom + t_draw + t_inv
    out["wild_step"] = {
        "moments_s": round(t_mom, 3), "moments_cpu_s": round(c_mom, 3),
        "replicates_DE_s": round(t_draw, 4), "replicates_DE_cpu_s": round(c_draw, 4),
        "p_value_and_inversion_DE_s": round(t_inv, 4), "p_value_and_inversion_DE_cpu_s": round(c_inv, 4),
        "DE_total_s": round(step_de, 3),
        "three_terms_total_s": round(t_all, 3), "three_terms_total_cpu_s": round(c_all, 3),
        "target_s": 0.5,
    }
    out["estimates"] = {"DE": float(fit.params["DE"]), "se_CR1_jobcentre": float(fit.se["DE"]),
                        "p_CR1_t96": float(fit.pvalues["DE"]), "p_wcr": p_de, "ci_wcr": list(ci_de),
                        "se_person_CR1": float(lpm(df, **{**kw, "cluster": "person_id"}).se["DE"]),
                        "wild_table": wild.wild.table.reset_index().to_dict(orient="records")}

    t_naive, t_star_naive = naive(df, args.naive_reps)
    agree = float(np.max(np.abs(t_star_naive - draws.t_boot[:args.naive_reps])))
    out["naive"] = {"statsmodels_refit_s_per_replicate": round(t_naive, 3), "replicates_timed": args.naive_reps,
                    "estimated_s_B9999": round(t_naive * B, 1),
                    "max_abs_t_star_difference_first_replicates": agree}
    out["speedup_vs_naive"] = round(t_naive * B / step_de, 1)

    cells = (df.groupby(["jobcentre_id", "D", "E"])["y"].agg(n_weeks="size", n_yes="sum").reset_index()
             .rename(columns={"D": "d", "E": "e"}))
    cw, t_cell, c_cell = timed(lambda: cell_did_wild(cells, bootstrap=B, seed=7), rep)
    out["cell_did_wild_s"] = round(t_cell, 4)
    out["cell_did_wild_cpu_s"] = round(c_cell, 4)
    out["cell_did_wild_equals_lpm"] = {"p_value": [float(cw.wild.table.loc["D_E", "p_value"]), p_de],
                                       "ci_low": [float(cw.wild.table.loc["D_E", "ci_low"]), ci_de[0]]}
    out["load_end"] = load()
    out["note"] = (f"best of {rep} runs per timing (CPU s = best process time of the same runs); the 2-core "
                   "machine is shared with other jobs: see load_start/load_end (1-minute load average)")
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["machine"] = machine()
    out["environment"] = {k: os.environ.get(k, "unset (library default)") for k in WORKER_ENV}
    path = Path(__file__).parent / "results" / "wild.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"WCR B={B:,} at G={N_JC}: {step_de:.3f} s after the point fit (D×E; all three terms "
          f"{t_all:.3f} s); naive ≈ {t_naive * B:,.0f} s; ratio {t_naive * B / step_de:,.0f}×")


if __name__ == "__main__":
    main()
