"""Run a command and report wall time and peak memory of its whole process tree.

Dask workers are child processes, so the peak is the sum of RSS over the tree, sampled every
0.1 s (psutil, a dependency of distributed).
"""

from __future__ import annotations

import subprocess
import threading
import time

import psutil


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> dict:
    """Run ``cmd``; return wall seconds, peak tree RSS in MiB and the exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak = max(peak, total)
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    done.set()
    t.join()
    return {
        "cmd": " ".join(cmd),
        "wall_s": round(time.perf_counter() - start, 2),
        "peak_rss_mib": round(peak / 2**20, 1),
        "returncode": proc.returncode,
        "output_tail": out[-2000:],
    }
