"""Benchmark: CPU of the person-level pairs bootstraps of HIR Tables 4/7 (Weibull) and Table 8 (LPMs).

With the spec's ``cluster = "person"`` and ``inference = "pairs"`` the reduces ``estimate_hir_durations``
(Tables A/4 and 7: 32 grouped-week Weibull fits, each with its pairs bootstrap over persons) and
``estimate_hir_exits`` (Table 8: 8 LPMs with person clusters) are the largest parts of a run at
B = 9,999. This script times the reduces' own calls on a run's model inputs, in one process per
code version, in the same invocation:

* ``table4`` / ``table7`` on the gathered ``gap_spells`` / ``first_lab_spells`` (what
  ``flows.tasks._spell_table`` does with person clusters), and
* ``table8_from_cells`` on the gathered ``course_exit_cells`` and ``course_exit_persons``
  (``flows.tasks.estimate_hir_exits_impl``),

each with B = ``--replicates`` (Table 8: ``--table8-replicates``; the first replicates of any run
of more: a replicate's weights are a pure function of seed, replicate number and person),
``seed`` and ``min_persons`` of the
run; and with B/2 and B = 0 replicates for the CPU per 1,000 replicates: the marginal cost
(B less B/2) and the cost with the bootstraps' set-up (B less B = 0, the point fits alone).
The baseline (``--baseline``, a git revision, exported with ``git archive``) and the working
tree run in child processes with one BLAS thread each; per table the CPU seconds (process time)
per 1,000 replicates, the ratio before/after, and the largest absolute and relative difference
between the two versions' replicates (and estimate rows) are written to
``benchmarks/results/person_pairs.json``.

Model inputs: a ``bipdask run`` with those spec overrides writes the per-person files the
reduces read; e.g. ::

    bipdask --no-progress run --input /tmp/s1/input --output /tmp/pp --seed 1 --workers 1 \\
        --bootstrap 19 --spec <hir.toml with cluster = "person" and inference = "pairs">
    python benchmarks/bench_person_pairs.py --run-root /tmp/pp --baseline 0da55ad

(the model inputs do not depend on B).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "person_pairs.json"
REPO = Path(__file__).resolve().parent.parent
KINDS = ("gap_spells", "first_lab_spells", "course_exit_cells", "course_exit_persons")


def model_input_files(run_root: Path) -> dict[str, list[str]]:
    """The committed run's per-unit model-input files of each kind, in the flow's order."""
    from bipdask.runtime import storage

    run = storage.open_run(str(run_root))
    base = Path(run.url) / "model_input"
    files = {kind: sorted((str(p) for p in (base / kind).glob("*.parquet")), key=lambda u: u.rsplit("/", 1)[-1])
             for kind in KINDS}  # the flow's order (flows.evaluate: unit order, whatever the batching)
    missing = [k for k, v in files.items() if not v]
    if missing:
        raise SystemExit(f"no {missing} under {base}: run with cluster = \"person\" and inference = \"pairs\"")
    return files


def measure(files: dict[str, list[str]], replicates: dict[str, int], seed: int, min_persons: int, out: str,
            tables: list[str]) -> dict:
    """Time the three reduces (this process's ``bipdask``); write their replicates and rows to ``out`` (npz)."""
    from bipdask.analyses.hir.durations import table4, table7
    from bipdask.analyses.hir.exits import table8_from_cells
    from bipdask.inference.config import Inference
    from bipdask.runtime import storage

    inference = Inference(replicates=1, seed=seed, cluster="person_id", method="pairs")
    inputs = {
        "hir_table4": lambda: (table4, (storage.read_parquet(files["gap_spells"]),), {"min_persons": min_persons}),
        "hir_table7": lambda: (table7, (storage.read_parquet(files["first_lab_spells"]),),
                               {"min_persons": min_persons}),
        "hir_table8": lambda: (table8_from_cells, (storage.read_parquet(files["course_exit_cells"]),
                                                   storage.read_parquet(files["course_exit_persons"])), {}),
    }
    calls = {name: inputs[name]() for name in tables}
    cpu, arrays = {}, {}
    for name, (fn, args, kw) in calls.items():
        cpu[name] = {}
        fn(*args, inference=inference.replace(replicates=0), **kw)  # warm-up (first-call costs), not timed
        for label, b in (("cpu_s_b0", 0), ("cpu_s_half", replicates[name] // 2), ("cpu_s", replicates[name])):
            t0 = time.process_time()
            est = fn(*args, inference=inference.replace(replicates=b), **kw)
            cpu[name][label] = time.process_time() - t0
        reps = est.replicates.drop(columns=[c for c in est.replicates.columns if c == "replicate"])
        arrays[f"{name}/replicates"] = reps.to_numpy(dtype=float)
        arrays[f"{name}/columns"] = np.array(list(reps.columns), dtype=str)
        rows = est.rows.select_dtypes("number")
        arrays[f"{name}/rows"] = rows.to_numpy(dtype=float)
    np.savez(out, **arrays)
    return cpu


def run_version(src: Path, files: dict, args: argparse.Namespace, out: str) -> dict:
    """:func:`measure` in a child process importing ``bipdask`` from ``src``, one BLAS thread."""
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", out, "--files", json.dumps(files),
           "--replicates", str(args.replicates), "--table8-replicates", str(args.table8_replicates),
           "--seed", str(args.seed), "--min-persons", str(args.min_persons),
           "--tables", *args.tables]
    done = subprocess.run(cmd, env=env, cwd=str(src), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{src}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def differences(before: dict, after: dict, name: str) -> dict:
    """Largest absolute and relative differences of ``name``'s replicates and estimate rows."""
    out = {}
    for part in ("replicates", "rows"):
        a, b = before[f"{name}/{part}"], after[f"{name}/{part}"]
        if a.shape != b.shape:
            out[part] = {"shape_before": list(a.shape), "shape_after": list(b.shape)}
            continue
        same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
        ok = ~np.isnan(a) & ~np.isnan(b)
        diff = np.abs(a[ok] - b[ok])
        rel = diff / np.maximum(np.abs(a[ok]), 1e-300)
        # relative to the column's scale (its largest |value|): a replicate near 0 (a DiD of 1e-8)
        # makes the elementwise ratio large for a last-bit difference
        scale = np.broadcast_to(np.nanmax(np.abs(a), axis=0, keepdims=True) if a.ndim == 2 else np.abs(a), a.shape)
        worst = int(np.argmax(rel)) if rel.size else 0
        out[part] = {"max_abs_diff": float(diff.max(initial=0.0)), "max_rel_diff": float(rel.max(initial=0.0)),
                     "value_at_max_rel_diff": float(a[ok][worst]) if rel.size else None,
                     "max_diff_relative_to_column_max": float((diff / np.maximum(scale[ok], 1e-300)).max(initial=0.0)),
                     "nan_pattern_equal": same_nan, "bit_identical": bool(same_nan and np.array_equal(a[ok], b[ok]))}
    out["columns_equal"] = bool(np.array_equal(before[f"{name}/columns"], after[f"{name}/columns"]))
    return out


def replicates_of(args: argparse.Namespace) -> dict[str, int]:
    return {"hir_table4": args.replicates, "hir_table7": args.replicates, "hir_table8": args.table8_replicates}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-root", type=Path, default=Path("/tmp/weibboot_out"),
                   help="output root of a committed person-pairs run (its model inputs)")
    p.add_argument("--baseline", default="0da55ad", help="git revision to compare against")
    p.add_argument("--replicates", type=int, default=1000, help="B of Tables 4 and 7")
    p.add_argument("--table8-replicates", type=int, default=4000,
                   help="B of Table 8 (its point fits on 2.2 M cells vary by seconds between calls on a loaded "
                        "machine: a larger B keeps the replicates' CPU above that noise)")
    p.add_argument("--seed", type=int, default=1, help="the run's seed")
    p.add_argument("--min-persons", type=int, default=5, help="the spec's disclosure_min_persons")
    p.add_argument("--tables", nargs="+", default=["hir_table4", "hir_table7", "hir_table8"],
                   choices=["hir_table4", "hir_table7", "hir_table8"])
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--files", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.files), replicates_of(args), args.seed, args.min_persons,
                                 args.child, args.tables)))
        return 0

    files = model_input_files(args.run_root)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    base = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "baseline"
        src.mkdir()
        archive = subprocess.run(["git", "archive", args.baseline], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        before = run_version(src, files, args, str(Path(tmp) / "before.npz"))
        after = run_version(REPO, files, args, str(Path(tmp) / "after.npz"))
        arrays_before, arrays_after = (dict(np.load(Path(tmp) / f"{v}.npz")) for v in ("before", "after"))
    tables = {}

    reps = replicates_of(args)

    def marginal(m: dict, b: int) -> float:  # CPU of B/2 more replicates: the calls with B and with B/2
        return max(m["cpu_s"] - m["cpu_s_half"], 1e-9) * 1000 / (b - b // 2)

    def whole(m: dict, b: int) -> float:  # the call with B less the same call with B = 0 (point fits only)
        return max(m["cpu_s"] - m["cpu_s_b0"], 1e-9) * 1000 / b

    for name in before:
        b = reps[name]
        tables[name] = {
            "n_replicates": b,
            "cpu_s_per_1000_replicates_before": round(marginal(before[name], b), 2),
            "cpu_s_per_1000_replicates_after": round(marginal(after[name], b), 2),
            "ratio_before_over_after": round(marginal(before[name], b) / marginal(after[name], b), 2),
            "cpu_s_per_1000_replicates_with_setup_before": round(whole(before[name], b), 2),
            "cpu_s_per_1000_replicates_with_setup_after": round(whole(after[name], b), 2),
            "cpu_s_calls_before": {k: round(v, 2) for k, v in before[name].items()},
            "cpu_s_calls_after": {k: round(v, 2) for k, v in after[name].items()},
            **differences(arrays_before, arrays_after, name),
        }
    durations = [t for t in ("hir_table4", "hir_table7") if t in tables]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "how": "each version in its own child process (one BLAS thread), one after the other; CPU = process time "
               "of the reduce's call (table4/table7 on the gathered spells, table8_from_cells on the gathered "
               "cells and persons), inputs read before timing, after an untimed warm-up call, each called with "
               "B = 0, B/2 and B replicates; "
               "cpu_s_per_1000_replicates: (CPU at B less CPU at B/2) x 1000 / (B - B/2), the marginal cost; "
               "..._with_setup: (CPU at B less CPU at B = 0) x 1000 / B, with the bootstraps' fixed set-up; "
               "differences: the replicates and estimate rows at B",
        "run_root": str(args.run_root), "seed": args.seed,
        "min_persons": args.min_persons, "baseline": base, "after": head.strip() + (
            "" if not subprocess.run(["git", "status", "--porcelain", "bipdask"], cwd=REPO, capture_output=True,
                                     text=True).stdout else "+uncommitted"),
        "tables": tables,
        "tables_4_and_7_cpu_s_per_1000_replicates": {
            k: round(sum(tables[t][f"cpu_s_per_1000_replicates_{k}"] for t in durations), 2)
            for k in ("before", "after")},
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
