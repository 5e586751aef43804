"""Run a command and report wall time and peak memory of its whole process tree.

Dask workers are child processes, so the peak is the sum of RSS over the tree, sampled every
0.1 s (psutil, a dependency of distributed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psutil


def role(p: psutil.Process) -> str:
    """What a process of a run's tree is: a Dask ``worker`` (a multiprocessing child of the
    LocalCluster's nanny), the ``prefect_server``, or the ``flow`` itself (and anything else)."""
    try:
        cmd = " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "other"
    if "multiprocessing" in cmd and ("spawn_main" in cmd or "forkserver" in cmd):
        return "worker"
    if "prefect" in cmd and ("server" in cmd or "uvicorn" in cmd):
        return "prefect_server"
    return "flow" if p.pid == os.getpid() else "other"


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> dict:
    """Run ``cmd``; return wall seconds, peak tree RSS in MiB, the exit code and the peak RSS of
    each process of the tree by role (``peak_worker_rss_mib``: the largest Dask worker's)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    by_pid: dict[int, tuple[str, int]] = {}
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
                    rss = p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                total += rss
                kind = "flow" if p.pid == proc.pid else by_pid.get(p.pid, (None, 0))[0] or role(p)
                by_pid[p.pid] = (kind, max(rss, by_pid.get(p.pid, (kind, 0))[1]))
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
        "peak_worker_rss_mib": round(max((r for k, r in by_pid.values() if k == "worker"), default=0) / 2**20, 1),
        "peak_rss_mib_by_process": sorted(([k, round(r / 2**20, 1)] for k, r in by_pid.values()),
                                          key=lambda x: -x[1])[:8],
        "output_tail": out[-2000:],
    }


# A Dask worker's environment (distributed's nanny ``pre-spawn-environ``): one BLAS thread and
# glibc's malloc trimming, which is where the flows run the estimators.
WORKER_ENV = {"MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


def in_worker_environment() -> None:
    """Re-execute the running benchmark script in :data:`WORKER_ENV` (before numpy is imported:
    BLAS reads its thread count when loaded), unless ``--inherit-env`` is on its command line."""
    if "--inherit-env" not in sys.argv and any(os.environ.get(k) != v for k, v in WORKER_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **WORKER_ENV})


def timed(fn, repeat: int):
    """(result, best wall s, best CPU s) of ``repeat`` runs of ``fn()``: minima, since the
    machine is shared and other work only ever adds time."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return out, best, cpu


def load() -> float:
    """The 1-minute load average, recorded at the start and end of a benchmark."""
    return round(os.getloadavg()[0], 2)


def machine() -> str:
    """Cores and RAM of this machine, as the result files record it ("2 cores, 24 GiB")."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {ram:.0f} GiB"
