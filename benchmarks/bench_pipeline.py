"""Benchmark: ``bipdask synth`` and ``bipdask run`` at scale 1 and scale 10.

Usage::

    python benchmarks/bench_pipeline.py --scales 1 10 --workers 2 --out /tmp/bipdask-bench

Prints and writes ``benchmarks/results/pipeline.json``: wall time and peak memory (whole process
tree, Dask workers included) per stage and scale, plus row counts from the run manifest.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import run_measured  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="/tmp/bipdask-bench")
    p.add_argument("--keep", action="store_true", help="keep the generated data")
    args = p.parse_args()
    out = Path(args.out)
    rows = []
    for scale in args.scales:
        data = out / f"scale{scale:g}" / "input"
        runs = out / f"scale{scale:g}" / "output"
        shutil.rmtree(out / f"scale{scale:g}", ignore_errors=True)
        synth = run_measured([sys.executable, "-m", "bipdask.cli.main", "synth", "--out", str(data),
                              "--scale", str(scale), "--seed", "42", "--workers", str(args.workers)])
        run = run_measured([sys.executable, "-m", "bipdask.cli.main", "run", "--input", str(data),
                            "--output", str(runs), "--seed", "1", "--workers", str(args.workers)])
        rerun = run_measured([sys.executable, "-m", "bipdask.cli.main", "run", "--input", str(data),
                              "--output", str(runs), "--seed", "1", "--workers", str(args.workers)])
        manifests = sorted(runs.glob("runs/*/_manifest.json"))
        manifest = json.loads(manifests[-1].read_text()) if manifests else {}
        for stage, m in (("synth", synth), ("run", run), ("rerun", rerun)):
            rows.append({"scale": scale, "stage": stage, **{k: m[k] for k in ("wall_s", "peak_rss_mib", "returncode")}})
            if m["returncode"] != 0:
                print(m["output_tail"], file=sys.stderr)
        rows.append({"scale": scale, "stage": "manifest", "row_counts": manifest.get("row_counts"),
                     "timings_s": manifest.get("timings_s")})
        if not args.keep:
            shutil.rmtree(out / f"scale{scale:g}", ignore_errors=True)
    result = {"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
              "workers": args.workers, "rows": rows}
    dest = Path(__file__).parent / "results" / "pipeline.json"
    dest.write_text(json.dumps(result, indent=2))
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
