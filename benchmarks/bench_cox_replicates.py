"""Benchmark: CPU of the Cox pairs replicates of HIR Tables 9 and 10 (person clusters), before and after.

The run's Cox bootstrap (``cluster = "person"``, ``inference = "pairs"``) solves every replicate by
weighted vectorised Newton on all person-week rows (:mod:`bipdask.estimators.cox.replicates`); the
flow deals windows of replicates to the workers (:func:`bipdask.analyses.hir.mediators.cox_replicate_window`).
This script computes one such window (default: replicates 0 … 499 of B = 9,999) of every Cox model of
Table 9 (caseload, caseload change) and Table 10 (one model per pre-survey belief) on a run's
``time_varying`` model input, in one process, exactly as a window task does
(``cox_replicate_window`` on the rows read and sorted as :func:`flows.distributed_cox.load_partition`
reads them), once with the code of a reference revision (``--baseline``, extracted with ``git archive``)
and once with this worktree's, each in its own subprocess, one after the other in the same run.

Reported per table: CPU seconds (``time.process_time`` of the window call: all threads of the process)
per 1,000 replicates for both codes and their ratio, and the largest absolute and relative difference
of the replicates (β, log hazard ratio scale) between the two codes. The point estimates the windows
start from are fitted in each subprocess by the same ``cox_fit``; they are compared too.

Usage::

    python benchmarks/bench_cox_replicates.py --run-dir /tmp/coxboot_out/runs/<id> [--baseline 0da55ad]
        [--replicates 9999] [--window 0:500] [--seed 1] [--threads 1] [--out <json>]

``--run-dir`` is a ``bipdask run`` output's run directory (``model_input/time_varying/*.parquet``,
``staged/belief_survey.parquet``). BLAS threads are pinned (``--threads``, default 1: a Dask worker
of the flow runs one task per core), and ``MALLOC_TRIM_THRESHOLD_`` is set as Dask's nanny sets it
for its workers (65536: freed memory goes back to the system at once, so every large temporary
array is page-faulted anew — that doubles the cost of an allocation-heavy Newton step). Each code
runs ``--repeat`` times, alternating, and the least CPU time is kept (the machine is shared).
Writes ``benchmarks/results/cox_replicates.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "cox_replicates.json"


def _worker(args: argparse.Namespace) -> None:
    """In a subprocess whose ``bipdask`` is the code under test: the windows of both tables."""
    import warnings

    import numpy as np
    import pandas as pd

    from bipdask.analyses.hir.beliefs import BELIEF_PREFIX, BELIEFS
    from bipdask.analyses.hir.mediators import TABLE9_MODELS, FrameRows, cox_replicate_window, sorted_rows
    from bipdask.estimators.cox.model import cox_fit
    from bipdask.inference.config import Inference
    from bipdask.prepare.hir import with_pre_belief

    run = Path(args.run_dir)
    files = sorted((run / "model_input" / "time_varying").glob("*.parquet"))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    survey = pd.read_parquet(run / "staged" / "belief_survey.parquet")
    b0, b1 = (int(x) for x in args.window.split(":"))
    inference = Inference(replicates=args.replicates, seed=args.seed, cluster="person_id", method="pairs")
    tables = {"hir_table9": (sorted_rows(frame), dict(TABLE9_MODELS))}
    t10 = sorted_rows(with_pre_belief(frame, survey))
    models10 = {}
    for name in BELIEFS:
        b = BELIEF_PREFIX + name
        if b in t10.columns:
            varies = t10[b + "_miss"].nunique() > 1
            models10[name] = (b, b + "_miss") if varies else (b,)
    tables["hir_table10"] = (t10, models10)
    out = {}
    arrays = {}
    for table, (rows, models) in tables.items():
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            fits = [(tuple(covs), cox_fit(FrameRows(rows).source(covs, "person_id"), list(covs),
                                          cluster="person_id").params) for covs in models.values()]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        reps = cox_replicate_window(rows, fits, inference, range(b0, b1))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out[table] = {"rows": len(rows), "models": {m: list(c) for m, c in models.items()},
                      "cpu_s": cpu, "wall_s": wall, "replicates": b1 - b0,
                      "failed": int(sum(np.isnan(r).any(axis=1).sum() for r in reps))}
        for (m, (covs, params)), r in zip(zip(models, fits), reps):
            arrays[f"{table}/{m}/replicates"] = r
            arrays[f"{table}/{m}/params"] = params.to_numpy()
    np.savez(args.save, **arrays)
    print(json.dumps(out))


def _extract(rev: str, into: Path) -> str:
    """``bipdask/`` of revision ``rev`` under ``into``; returns the full commit id."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], check=True, capture_output=True,
                            text=True).stdout.strip()
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "bipdask"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return commit


def _run(code: Path, save: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    if args.malloc_trim is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = str(args.malloc_trim)
    cmd = [sys.executable, __file__, "--worker", "--run-dir", args.run_dir, "--save", str(save),
           "--replicates", str(args.replicates), "--window", args.window, "--seed", str(args.seed)]
    proc = subprocess.run(cmd, env=env, cwd=str(code), check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--baseline", default="0da55ad", help="reference revision (git rev)")
    ap.add_argument("--replicates", type=int, default=9999)
    ap.add_argument("--window", default="0:500")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--malloc-trim", type=int, default=65536,
                    help="MALLOC_TRIM_THRESHOLD_ of the subprocesses (Dask's nanny sets 65536 for its workers; "
                         "-1: leave the environment's)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each code, alternating; the least CPU is kept")
    ap.add_argument("--out", default=str(OUT), help="result JSON")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return _worker(args)
    import numpy as np

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "bipdask"], check=True,
                                capture_output=True, text=True).stdout.strip())
    if args.malloc_trim is not None and args.malloc_trim < 0:
        args.malloc_trim = None
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(tmp) / "baseline"
        base_commit = _extract(args.baseline, base_dir)
        runs: dict = {}
        for _ in range(max(1, args.repeat)):  # alternating, so both see the same load
            for name, code in (("baseline", base_dir), ("current", ROOT)):
                save = Path(tmp) / f"{name}.npz"
                got = _run(code, save, args)
                if name not in runs:
                    runs[name] = (got, dict(np.load(save)))
                else:
                    for table, t in got.items():
                        runs[name][0][table]["cpu_s"] = min(runs[name][0][table]["cpu_s"], t["cpu_s"])
                        runs[name][0][table]["wall_s"] = min(runs[name][0][table]["wall_s"], t["wall_s"])
    (base, base_arr), (cur, cur_arr) = runs["baseline"], runs["current"]
    tables = {}
    for table in cur:
        per_model = {}
        for m in cur[table]["models"]:
            a, b = base_arr[f"{table}/{m}/replicates"], cur_arr[f"{table}/{m}/replicates"]
            both = np.isfinite(a) & np.isfinite(b)
            diff = np.abs(a - b)[both]
            per_model[m] = {
                "max_abs_diff": float(diff.max()) if diff.size else 0.0,
                "max_rel_diff": float((diff / np.maximum(np.abs(a[both]), 1e-300)).max()) if diff.size else 0.0,
                "nan_pattern_equal": bool(np.array_equal(np.isnan(a), np.isnan(b))),
                "params_equal": bool(np.array_equal(base_arr[f"{table}/{m}/params"], cur_arr[f"{table}/{m}/params"])),
            }
        n = cur[table]["replicates"]
        tables[table] = {
            "rows": cur[table]["rows"], "models": cur[table]["models"], "replicates_timed": n,
            "cpu_s_per_1000_replicates": {"baseline": round(1000 * base[table]["cpu_s"] / n, 2),
                                          "current": round(1000 * cur[table]["cpu_s"] / n, 2)},
            "wall_s": {"baseline": round(base[table]["wall_s"], 2), "current": round(cur[table]["wall_s"], 2)},
            "cpu_ratio_baseline_over_current": round(base[table]["cpu_s"] / cur[table]["cpu_s"], 2),
            "failed_replicates": {"baseline": base[table]["failed"], "current": cur[table]["failed"]},
            "difference": per_model,
        }
    result = {
        "what": "CPU of one window of the Cox pairs replicates (all models of the table, person clusters) "
                "as a flow window task computes it, baseline code vs this code, same run",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "run_dir": args.run_dir, "bootstrap_replicates": args.replicates, "window": args.window,
        "seed": args.seed, "blas_threads": args.threads, "malloc_trim_threshold": args.malloc_trim,
        "repeat": args.repeat, "cpu_and_wall": "the least of the repeats",
        "baseline_commit": base_commit, "current_commit": head, "current_has_uncommitted_changes": dirty,
        "load_average_at_end": os.getloadavg(),
        "tables": tables,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
