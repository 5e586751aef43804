"""Benchmark: one evaluation on 1 vs 2 Dask worker processes — speed-up and identical results.

Usage::

    python benchmarks/bench_workers.py --scale 10 --workers 1 2      # the scale-10 figure (long)
    python benchmarks/bench_workers.py --scale 3 --workers 1 2:1GiB  # 2 workers capped at 1 GiB each
    python benchmarks/bench_workers.py --scale 0.05 --results /tmp/workers.json   # a smoke run
    python benchmarks/bench_workers.py --scale 1 --workers 2 --bootstrap 9999 --cluster person --inference pairs

One synthetic delivery (``bipdask synth``, not timed) is evaluated once per worker count K with
``bipdask run --workers K``: a LocalCluster of K single-threaded worker *processes*, children of
the run, so the measured peak memory (sum of RSS over the whole process tree, sampled every
0.1 s; ``_measure.py``) includes every worker. Each K writes to its own output root; the run ids
are equal (same inputs, code, spec and seed) and the ``results/estimates.parquet`` files must be
byte-identical — replicate weights are a pure function of (seed, replicate, cluster id), so the
number of workers and the batching of job centres (4 batches per worker) cannot change a
number. The script exits 1 if they differ.

``K:LIMIT`` runs K workers with ``BIPDASK_WORKER_MEMORY=LIMIT`` (Dask pauses, spills and finally
restarts a worker above its limit: a run that completes under the limit fits it).

Writes ``benchmarks/results/workers.json`` (``--results``): per configuration the wall time (s),
the peak tree RSS (MiB), the largest worker's peak RSS (``peak_worker_rss_mib``) and each
process's peak, the flow's stage timings (s) and the manifest's ``dask`` section (bytes moved
between workers); the speed-ups of the whole run and of the estimation stage
(``estimates_wall``) against the first configuration; and whether the estimates are identical
(with their sha256).
On the 2-core reference machine a speed-up below 2 is expected: the flow process, the Prefect
server and the scheduler share the same two cores with the workers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import run_measured  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "workers.json"


def small_spec(path: Path, bootstrap: int | None = None, **keys: str) -> str:
    """The built-in HIR spec with B = ``bootstrap`` (None keeps the spec's 999) and the top-level
    string ``keys`` replaced (``cluster="person"``, ``inference="pairs"``)."""
    from importlib import resources

    text = resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8")
    values = {**({"bootstrap_replicates": str(int(bootstrap))} if bootstrap is not None else {}),
              **{k: f'"{v}"' for k, v in keys.items()}}
    for key, value in values.items():
        line = next(ln for ln in text.splitlines() if ln.split("=")[0].strip() == key)
        text = text.replace(line, f"{key} = {value}")
    path.write_text(text, encoding="utf-8")
    return str(path)


def committed(root: Path) -> tuple[str, dict, bytes]:
    """(run id, manifest, estimates bytes) of the run committed under ``root``."""
    from bipdask.runtime import storage

    run = storage.open_run(str(root))
    estimates = Path(run.url) / run.manifest["outputs"]["estimates"]
    return run.run_id, run.manifest, estimates.read_bytes()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=10.0)
    p.add_argument("--workers", nargs="+", default=["1", "2"],
                   help="worker counts, each optionally with a per-worker memory limit: 1 2:1GiB")
    p.add_argument("--synth-seed", type=int, default=42)
    p.add_argument("--seed", type=int, default=1, help="the run's seed")
    p.add_argument("--bootstrap", type=int, help="override the spec's B (default: hir's 999)")
    p.add_argument("--cluster", choices=("jobcentre", "person"), help="override the spec's cluster level")
    p.add_argument("--inference", choices=("wild", "pairs", "analytic"), help="override the spec's inference")
    p.add_argument("--out", default="/tmp/bipdask-bench-workers")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--keep", action="store_true", help="keep the delivery and the runs")
    p.add_argument("--input", help="an existing delivery (bipdask synth output) to evaluate instead of making one")
    args = p.parse_args()

    configs = [(int(w.split(":")[0]), w.split(":")[1] if ":" in w else "") for w in args.workers]
    out = Path(args.out) / f"scale{args.scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    data = Path(args.input) if args.input else out / "input"
    synth = {"wall_s": None, "peak_rss_mib": None, "returncode": 0} if args.input else run_measured(
        [sys.executable, "-m", "bipdask.cli.main", "synth", "--out", str(data), "--scale",
         str(args.scale), "--seed", str(args.synth_seed), "--workers", str(max(k for k, _ in configs))])
    if synth["returncode"] != 0:
        print(synth["output_tail"], file=sys.stderr)
        return 2
    keys = {k: v for k, v in (("cluster", args.cluster), ("inference", args.inference)) if v}
    spec = small_spec(out / "spec.toml", args.bootstrap, **keys) if args.bootstrap is not None or keys else "hir"

    rows, runs = [], {}
    for k, memory in configs:
        root = out / f"output_w{k}{'_' + memory if memory else ''}"
        env = {**os.environ, "DASK_ADDRESS": "", **({"BIPDASK_WORKER_MEMORY": memory} if memory else {})}
        m = run_measured([sys.executable, "-m", "bipdask.cli.main", "--no-progress", "run", "--input", str(data),
                          "--output", str(root), "--seed", str(args.seed), "--spec", spec, "--workers", str(k)],
                         env=env)
        row = {"workers": k, "worker_memory_limit": memory or "default (90 % of RAM)",
               **{key: m[key] for key in ("wall_s", "peak_rss_mib", "peak_worker_rss_mib",
                                          "peak_rss_mib_by_process", "returncode")}}
        if m["returncode"] != 0:
            print(m["output_tail"], file=sys.stderr)
        else:
            run_id, manifest, estimates = committed(root)
            runs[(k, memory)] = (run_id, estimates)
            row.update(run_id=run_id, estimates_sha256=hashlib.sha256(estimates).hexdigest(),
                       estimates_rows=manifest.get("row_counts", {}).get("estimates"),
                       batches=manifest.get("jobcentres", {}).get("batches"),
                       units=manifest.get("jobcentres", {}).get("units"), dask=manifest.get("dask"),
                       timings_s=manifest.get("timings_s"))
        rows.append(row)
        print(row, flush=True)

    ok = all(r["returncode"] == 0 for r in rows)
    identical = ok and len({e for _, e in runs.values()}) == 1
    same_run_id = ok and len({r for r, _ in runs.values()}) == 1
    base_wall = rows[0]["wall_s"]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "scale": args.scale, "synth_seed": args.synth_seed, "seed": args.seed,
        "bootstrap_replicates": args.bootstrap if args.bootstrap is not None else "spec (hir: 999)",
        "spec_overrides": keys,
        "how": "bipdask run --workers K (LocalCluster: K worker processes x 1 thread); wall time and peak RSS "
               "of the whole process tree",
        "synth": {k: synth[k] for k in ("wall_s", "peak_rss_mib")},
        "rows": rows,
        "speedup": {f"{r['workers']}:{r['worker_memory_limit']}": round(base_wall / r["wall_s"], 2)
                    for r in rows if ok},
        "estimation_speedup": {f"{r['workers']}:{r['worker_memory_limit']}":
                               round(rows[0]["timings_s"]["estimates_wall"] / r["timings_s"]["estimates_wall"], 2)
                               for r in rows if ok},
        "estimates_identical": identical,
        "run_ids_equal": same_run_id,
    }
    dest = Path(args.results)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("speedup", "estimation_speedup", "estimates_identical",
                                              "run_ids_equal")}))
    print(f"wrote {dest}")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    if not ok:
        return 2
    if not identical:
        print("estimates.parquet differs between worker counts", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
