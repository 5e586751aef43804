"""Peak memory and seconds of the BIP flow tasks' bodies (point, one replicate block) on a
delivery's BIP inputs, each phase in its own process (peak RSS = ``ru_maxrss`` of that process).

The inputs are what ``prepare_bip`` writes: the responses, their citizens' persons rows and the
first hits of the BIP job centres' weeks only (:func:`bipdask.prepare.bip.first_hits` per job
centre file, :func:`~bipdask.prepare.bip.combine_first_hits`), so the ~10^8 weeks rows of the
other job centres are never read. Usage::

    python benchmarks/bench_bip_memory.py inputs /tmp/s30/input /tmp/bipmem_s30
    python benchmarks/bench_bip_memory.py run /tmp/bipmem_s30 --replicates 500 --window 0 500 \\
        --label after --out benchmarks/results/bip_memory.json

``run`` measures ``point`` (the point task: fits and the replicate state it writes) and
``block`` (one replicate-block task reading that state) in separate processes; ``--path old``
measures the single-call path (``bip_estimates`` with a windowed inference) of earlier versions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

SEED = 20240601


def build_inputs(delivery: Path, out: Path) -> None:
    from bipdask.prepare.bip import BIP_WEEKS_COLUMNS, bip_jobcentre_ids, combine_first_hits, first_hits

    out.mkdir(parents=True, exist_ok=True)
    responses = pd.read_parquet(delivery / "bip_responses.parquet")
    persons = pd.read_parquet(delivery / "persons.parquet")
    persons = persons[persons["person_id"].isin(pd.unique(responses["person_id"]))].reset_index(drop=True)
    parts, panel_end = [], None
    for jc in bip_jobcentre_ids(responses):
        f = delivery / "weeks" / f"part-{jc:05d}.parquet"
        weeks = pq.read_table(f, columns=list(BIP_WEEKS_COLUMNS)).to_pandas()
        end = pd.Timestamp(weeks["week"].max())
        panel_end = end if panel_end is None else max(panel_end, end)
        parts.append(first_hits(responses[responses["jobcentre_id"] == jc], weeks))
        del weeks
    responses.to_parquet(out / "responses.parquet")
    persons.to_parquet(out / "persons.parquet")
    combine_first_hits(parts).to_parquet(out / "first_hits.parquet")
    (out / "meta.json").write_text(json.dumps({"panel_end": panel_end.date().isoformat(),
                                               "responses": len(responses), "persons": len(persons),
                                               "citizens": int(responses["person_id"].nunique())}))


def phase(inputs: Path, which: str, replicates: int, window: tuple[int, int], path: str) -> dict:
    """One task body in this process; returns its seconds and the process's peak RSS."""
    from bipdask.analyses.bip import blocks
    from bipdask.inference.config import Inference

    meta = json.loads((inputs / "meta.json").read_text())
    responses = pd.read_parquet(inputs / "responses.parquet")
    persons = pd.read_parquet(inputs / "persons.parquet")
    hits = pd.read_parquet(inputs / "first_hits.parquet")
    inference = Inference(replicates=replicates, seed=SEED)
    rules = {"panel_end": meta["panel_end"]}
    state_file = inputs / "plans"
    t0 = time.perf_counter()
    if which == "point":
        if path == "old":
            blocks.bip_point(responses, persons, first_hits=hits, inference=inference, **rules)
        else:  # as estimate_bip_point: the rows, and each plan written as soon as it is made
            state_file.mkdir(exist_ok=True)

            def sink(analysis, plan):
                with open(state_file / f"{analysis}.pkl", "wb") as fh:
                    blocks.dump_plan(plan, fh)

            blocks.bip_point(responses, persons, first_hits=hits, inference=inference, plan_sink=sink, **rules)
    else:
        windowed = inference.replace(window=window)
        if path == "old":
            blocks.bip_replicate_block(responses, persons, first_hits=hits, inference=windowed, **rules)
        else:  # as estimate_bip_block: one plan read at a time
            names = ("bip_caseworker_effectiveness", "bip_caseworker_change", "bip_progression")
            def loader(a):
                with open(state_file / f"{a}.pkl", "rb") as fh:
                    return blocks.load_plan(fh)

            loaders = {a: (lambda a=a: loader(a)) for a in names}
            blocks.bip_replicate_block_from_plans(loaders, windowed)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"phase": which, "path": path, "seconds": round(seconds, 2), "peak_rss_mib": round(peak, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("inputs")
    a.add_argument("delivery", type=Path)
    a.add_argument("out", type=Path)
    for name in ("phase", "run"):
        p = sub.add_parser(name)
        p.add_argument("inputs", type=Path)
        p.add_argument("--replicates", type=int, default=500)
        p.add_argument("--window", type=int, nargs=2, default=(0, 500))
        p.add_argument("--path", choices=("old", "new"), default="new")
        if name == "phase":
            p.add_argument("which", choices=("point", "block"))
        else:
            p.add_argument("--label", required=True)
            p.add_argument("--out", type=Path, default=Path("benchmarks/results/bip_memory.json"))
    args = ap.parse_args()
    if args.cmd == "inputs":
        build_inputs(args.delivery, args.out)
    elif args.cmd == "phase":
        print(json.dumps(phase(args.inputs, args.which, args.replicates, tuple(args.window), args.path)))
    else:
        results = []
        for which in ("point", "block"):
            cmd = [sys.executable, __file__, "phase", str(args.inputs), which, "--replicates", str(args.replicates),
                   "--window", *map(str, args.window), "--path", args.path]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(results[-1], flush=True)
        meta = json.loads((args.inputs / "meta.json").read_text())
        record = {"label": args.label, "inputs": meta, "replicates": args.replicates, "window": list(args.window),
                  "seed": SEED, "phases": results}
        old = json.loads(args.out.read_text()) if args.out.exists() else {"runs": []}
        old["runs"] = [r for r in old["runs"] if r["label"] != args.label] + [record]
        args.out.write_text(json.dumps(old, indent=2) + "\n")


if __name__ == "__main__":
    main()
