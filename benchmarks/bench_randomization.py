"""Benchmark: randomization inference over job centres and placebo intervals for HIR Table 6.

A Table 6-sized problem: 97 job centres, 15 participating, ~28k persons with resource-course
weeks in both periods (before, intervention), as the per-person cell rows of
``bipdask.prepare.outcomes.share_cell_sums`` (~56k rows, ~2.7M person-weeks). Timed:

* ``jobcentre_cell_sums_s``: the per-person rows → job-centre × period sums (done once).
* ``ri_B9999_s``: ``share_did_randomization`` over 9,999 sampled assignments from the sums,
  with the studentised test and the inverted τ interval (target ≤ 1 s); ``ri_B9999_plain_s``
  without them.
* ``placebo_s``: ``share_did_placebo`` for the 15 per-centre rows (82 placebos, Ferman–Pinto).
* ``table6_design_inference_s``: both from the cell rows, end to end.
* the naive way in the same run: ``cell_did`` recomputed on the per-person cell rows with the
  job centres' D re-assigned, once per assignment, measured on ``--naive-reps`` assignments and
  extrapolated to 9,999 (``naive_estimated_s``, ``speedup_vs_naive`` = that / ``ri_B9999_s``);
  and the 82 placebo DiDs by ``cell_did`` in a loop (``naive_placebo_s``, measured in full).

The 2-core machine is shared: every timing is the best of ``--repeat`` runs, CPU seconds of the
same runs are reported, and the 1-minute load average is recorded at the start and end. The
script re-executes itself with one BLAS thread (the Dask workers' environment), as
``bench_linear.py`` does; ``--inherit-env`` keeps the caller's environment.

Usage: ``python benchmarks/bench_randomization.py [--repeat 5] [--naive-reps 20] [--inherit-env]``.
Writes benchmarks/results/randomization.json.
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bipdask.estimators.cell_did import cell_did  # noqa: E402
from bipdask.inference.placebo import share_did_placebo  # noqa: E402
from bipdask.inference.randomization import (  # noqa: E402
    jobcentre_cell_sums,
    share_did_randomization,
    table6_design_inference,
)

G, K, PERSONS, B = 97, 15, 28_000, 9_999


def table6_cells(seed: int = 1) -> tuple[pd.DataFrame, list[int]]:
    """Per-person cell rows: job centre sizes log-normal (as Danish municipalities), a centre
    share level, a centre × period shock (sd 1 pp), 1.7 pp planted effect in the participating
    centres."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0, 0.9, G)
    jc = rng.choice(np.arange(1, G + 1), PERSONS, p=size / size.sum())
    treated = sorted(rng.choice(np.arange(1, G + 1), K, replace=False).tolist())
    level = rng.uniform(0.10, 0.22, G + 1)
    rows = []
    for e, period in enumerate(("before", "intervention")):
        w = rng.integers(1, 53 + 4 * e, PERSONS)
        shock = rng.normal(0, 0.01, G + 1)
        p = level[jc] + shock[jc] + 0.02 * e + 0.017 * e * np.isin(jc, treated)
        rows.append(pd.DataFrame({"jobcentre_id": jc.astype("int32"), "person_id": np.arange(PERSONS, dtype="int64"),
                                  "period": period, "d": np.isin(jc, treated).astype("int8"),
                                  "n_weeks": w.astype("int64"), "n_yes": rng.binomial(w, p).astype("int64")}))
    cells = pd.concat(rows, ignore_index=True).astype({"period": "string"})
    return cells, treated




def naive_ri(cells: pd.DataFrame, ids: np.ndarray, reps: int, seed: int = 3) -> float:
    """Seconds per assignment: D re-assigned on the rows, cell_did refitted."""
    rng = np.random.default_rng(seed)
    sample = cells.assign(e=(cells["period"] == "intervention").astype("int8"))
    jc = sample["jobcentre_id"].to_numpy()
    t = time.perf_counter()
    for _ in range(reps):
        chosen = rng.choice(ids, K, replace=False)
        cell_did(sample.assign(d=np.isin(jc, chosen).astype("int8")))
    return (time.perf_counter() - t) / reps


def naive_placebo(cells: pd.DataFrame) -> tuple[float, int]:
    sample = cells[cells["d"] == 0].assign(e=(cells["period"] == "intervention").astype("int8"))
    jc = sample["jobcentre_id"].to_numpy()
    t = time.perf_counter()
    n = 0
    for k in np.unique(jc):
        cell_did(sample.assign(d=(jc == k).astype("int8")))
        n += 1
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--naive-reps", type=int, default=20)
    ap.add_argument("--inherit-env", action="store_true")
    args = ap.parse_args()
    rep = args.repeat
    cells, treated = table6_cells()
    out: dict = {"load_start": load(), "job_centres": G, "participating": K, "cell_rows": len(cells),
                 "persons": PERSONS, "person_weeks": int(cells["n_weeks"].sum()), "assignments": B}

    sums, t_sums, c_sums = timed(lambda: jobcentre_cell_sums(cells, "before", "intervention"), rep)
    ids = sums["jobcentre_id"].to_numpy()
    n = sums[["n_weeks_before", "n_weeks_after"]].to_numpy()
    y = sums[["n_yes_before", "n_yes_after"]].to_numpy()
    res, t_ri, c_ri = timed(lambda: share_did_randomization(ids, n, y, treated, seed=7, assignments=B), rep)
    _, t_plain, c_plain = timed(lambda: share_did_randomization(ids, n, y, treated, seed=7, assignments=B,
                                                                 studentize=False, ci=False), rep)
    pl, t_pl, c_pl = timed(lambda: share_did_placebo(ids, n, y, treated), rep)
    _, t_all, c_all = timed(lambda: table6_design_inference(cells, treated, "before", "intervention", seed=7,
                                                            assignments=B), rep)
    t_naive = naive_ri(cells, ids, args.naive_reps)
    t_naive_pl, n_pl = naive_placebo(cells)
    out.update({
        "jobcentre_cell_sums_s": round(t_sums, 4), "jobcentre_cell_sums_cpu_s": round(c_sums, 4),
        "ri_B9999_s": round(t_ri, 4), "ri_B9999_cpu_s": round(c_ri, 4),
        "ri_B9999_plain_s": round(t_plain, 4), "ri_B9999_plain_cpu_s": round(c_plain, 4),
        "placebo_s": round(t_pl, 4), "placebo_cpu_s": round(c_pl, 4),
        "table6_design_inference_s": round(t_all, 4), "table6_design_inference_cpu_s": round(c_all, 4),
        "naive_cell_did_s_per_assignment": round(t_naive, 4), "naive_reps_measured": args.naive_reps,
        "naive_estimated_s": round(t_naive * B, 1),
        "speedup_vs_naive": round(t_naive * B / t_ri, 1),
        "naive_placebo_s": round(t_naive_pl, 3), "naive_placebo_fits": n_pl,
        "placebo_speedup_vs_naive": round(t_naive_pl / t_pl, 1),
        "result": {"estimate": res.estimate, "p_value": res.p_value, "p_value_studentized": res.p_value_studentized,
                   "ci": [res.ci_low, res.ci_high], "n_assignments": res.n_assignments,
                   "null_sd": res.distribution.sd,
                   "per_centre_outside": int(sum(r.outside for r in pl))},
        "target_ri_B9999_s": 1.0,
        "load_end": load(),
        "note": (f"best of {rep} runs per timing (CPU s = best process time of the same runs); the naive "
                 f"per-assignment time is the mean over {args.naive_reps} refits; the 2-core machine is shared "
                 "(load_start/load_end: 1-minute load average)"),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": machine(),
        "environment": {k: os.environ.get(k, "unset (library default)") for k in WORKER_ENV},
    })
    path = Path(__file__).parent / "results" / "randomization.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
