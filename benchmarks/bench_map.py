"""Benchmark: the map step (``compute_model_inputs_impl``) on a run's staged delivery, in one process.

Usage::

    python benchmarks/bench_map.py --run /tmp/s1/out/runs/<run_id> --out /tmp/bench_map [--largest 10]
        [--compare] [--profile /tmp/map.prof]

Rebuilds the flow's arguments (treated ids, windows, model-input config) from the run's manifest
and the ``hir`` spec, calls the map step on the job centres with the most staged rows (all with
``--largest 0``) without Prefect or Dask, and prints the CPU seconds (``time.process_time``) and
wall seconds it took. ``--compare`` checks that every ``model_input/<kind>/<unit>`` file it
wrote is byte-identical to the run's own or, with ``--reference``, to another run of this script
(e.g. on main: ``PYTHONPATH=<main checkout>``); any difference is listed and the exit code is 1. ``--profile``
writes a cProfile of the call.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import shutil
import sys
import time
from pathlib import Path

from bipdask.prepare.hir import ModelInputConfig
from bipdask.prepare.outcomes import comparison_windows, treated_jobcentre_ids
from bipdask.runtime import storage
from bipdask.spec import load_spec
from flows.tasks import compute_model_inputs_impl


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True, help="a committed run directory (runs/<run_id>)")
    p.add_argument("--out", required=True, help="scratch directory for the model inputs written")
    p.add_argument("--largest", type=int, default=10, help="job centres with the most rows (0: all)")
    p.add_argument("--compare", action="store_true", help="byte-compare with the run's model inputs")
    p.add_argument("--reference", default="", help="compare with this model_input directory instead (e.g. the "
                   "--out of a run of this script on other code)")
    p.add_argument("--profile", default="", help="write a cProfile of the call here")
    args = p.parse_args()
    run = Path(args.run)
    manifest = json.loads((run / "_manifest.json").read_text())
    spec = load_spec(manifest["spec"].get("name") or "hir")
    staged = str(run / "staged")
    jobcentres = storage.read_parquet(str(run / "staged" / "jobcentres.parquet"))
    treated, _ = treated_jobcentre_ids(jobcentres, spec.treated_jobcentres)
    windows = {k: (v.start.isoformat(), v.end.isoformat()) for k, v in comparison_windows(spec).items()}
    config = ModelInputConfig.from_spec(spec, treated, (manifest["validation"].get("week_span") or [None])[0]).to_dict()
    sizes = {int(d.name.split("=")[1]): sum(f.stat().st_size for f in d.glob("*.parquet"))
             for d in (run / "staged" / "weeks").iterdir()}
    ids = sorted(sizes, key=lambda i: (-sizes[i], i))
    ids = sorted(ids[: args.largest] if args.largest > 0 else ids)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    prof = cProfile.Profile(time.process_time) if args.profile else None  # CPU time: the machine is shared
    c0, w0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    info = compute_model_inputs_impl(ids, staged, str(out), list(treated), windows, config)
    if prof:
        prof.disable()
        prof.dump_stats(args.profile)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    print(json.dumps({"jobcentres": len(ids), "weeks_rows": info["weeks_rows"], "cpu_s": round(cpu, 2),
                      "wall_s": round(wall, 2)}))
    if not args.compare:
        return 0
    bad, n = [], 0
    for kind, urls in sorted(info["urls"].items()):
        for url in urls:
            n += 1
            ref = Path(args.reference or run / "model_input") / kind / Path(url).name
            if not ref.exists() or ref.read_bytes() != Path(url).read_bytes():
                bad.append(f"{kind}/{Path(url).name}")
    print(f"compared {n} files: {len(bad)} differ" + (": " + ", ".join(bad[:20]) if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
