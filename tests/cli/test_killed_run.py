"""A real ``bipdask run`` killed mid-run: SIGTERM is handled like Ctrl-C (exit 143, one line,
claim released, no process of its tree left), and after SIGKILL no process of its tree (its
Prefect API server, its Dask workers) outlives it and a rerun takes the dead run's claim over at
once instead of waiting for it to go stale.

Each run is a separate process on the flow tests' tiny delivery (B = 10), with its own
temporary Prefect API (PREFECT_API_URL unset). Everything waits by polling with generous
timeouts; nothing asserts on timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from _deliveries import TINY_TREATED, write_spec, write_tiny_delivery

REPO = Path(__file__).resolve().parents[2]
CLAIM_STALE_S = "3600"  # a takeover within the test can only be the dead-owner rule
TIMEOUT_S = 300.0

pytestmark = [pytest.mark.prefect, pytest.mark.dask]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    delivery = write_tiny_delivery(tmp_path_factory.mktemp("delivery"), n_persons=120)
    spec = write_spec(tmp_path_factory.mktemp("spec") / "hir_b10.toml", bootstrap=10, treated=TINY_TREATED)
    return delivery, spec


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_run_left_behind():
    """A failing test must not leave a run behind (stopped, waiting or computing)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _start(inputs: tuple[Path, Path], out: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "DASK_ADDRESS"))}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               BIPDASK_CLAIM_STALE_S=CLAIM_STALE_S, BIPDASK_WORKER_MEMORY="2GiB")
    delivery, spec = inputs
    argv = [sys.executable, "-c", "import sys; from bipdask.cli.main import main; sys.exit(main(sys.argv[1:]))",
            "--no-progress", "run", "--input", str(delivery), "--output", str(out), "--spec", str(spec),
            "--workers", "1"]
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=out.parent)
    _STARTED.append(proc)
    return proc


def _until(condition, what: str, proc: subprocess.Popen | None = None, timeout: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run exited ({proc.returncode}) before {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _mid_run(proc: subprocess.Popen, out: Path) -> list[psutil.Process]:
    """Wait until a worker has written model inputs (the cluster and the API are up and used),
    then the run's process tree below it."""
    _until(lambda: any((out / "runs").glob("r*/model_input/*/*.parquet")), "model inputs were written", proc)
    return psutil.Process(proc.pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(p.cmdline()[:6]))
        except psutil.NoSuchProcess:
            pass
    return alive


def _is_api_server(p: psutil.Process) -> bool:
    try:
        return "prefect.server.api.server:create_app" in p.cmdline()
    except psutil.NoSuchProcess:
        return False


def _claim(out: Path) -> dict | None:
    found = list((out / "runs").glob("r*/_claim"))
    return json.loads(found[0].read_text()) if found else None


def test_sigterm_exits_143_with_one_line_releases_the_claim_and_leaves_no_process(inputs, tmp_path):
    out = tmp_path / "out"
    first = _start(inputs, out, tmp_path / "first.err")
    tree = _mid_run(first, out)
    assert sum(_is_api_server(p) for p in tree) == 1  # the run's own API; its workers start none
    assert _claim(out)["pid"] == first.pid

    # A second run of the same inputs finds the live claim and says whose it is (the first run is
    # stopped meanwhile, so it cannot finish first; its process is alive, so its claim is live).
    first.send_signal(signal.SIGSTOP)
    second = _start(inputs, out, tmp_path / "second.err")
    _until(lambda: "is being computed by another process" in (tmp_path / "second.err").read_text(),
           "the second run's waiting line", second)
    said = (tmp_path / "second.err").read_text()
    assert f"held by pid {first.pid} on host " in said and "stale in " in said

    first.send_signal(signal.SIGTERM)  # delivered when it continues
    first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=TIMEOUT_S) == 143
    err = (tmp_path / "first.err").read_text().strip().splitlines()
    assert err[-1] == "bipdask run: terminated (SIGTERM)"
    assert [line for line in err if line.startswith("bipdask")] == err[-1:]  # our one line
    assert not any("Traceback" in line or "Error logging to API" in line for line in err), err
    assert _until(lambda: not _alive(tree), "the first run's processes to end", timeout=120)

    # The claim was released: the waiting run takes it over at once (SIGTERM it there too).
    _until(lambda: (_claim(out) or {}).get("pid") == second.pid, "the second run's claim", second)
    second_tree = psutil.Process(second.pid).children(recursive=True)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=TIMEOUT_S) == 143
    assert _claim(out) is None
    assert _until(lambda: not _alive(second_tree), "the second run's processes to end", timeout=120)


def test_after_sigkill_no_process_outlives_the_run_and_a_rerun_takes_over_at_once(inputs, tmp_path):
    out = tmp_path / "out"
    first = _start(inputs, out, tmp_path / "first.err")
    tree = _mid_run(first, out)
    assert sum(_is_api_server(p) for p in tree) == 1
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=TIMEOUT_S) == -signal.SIGKILL
    assert _until(lambda: not _alive(tree), "the killed run's API server and workers to end", timeout=120)
    dead = _claim(out)
    assert dead is not None and dead["pid"] == first.pid  # SIGKILL left its claim, heartbeat fresh

    rerun = _start(inputs, out, tmp_path / "rerun.err")
    assert rerun.wait(timeout=TIMEOUT_S) == 0, (tmp_path / "rerun.err").read_text()
    assert "is being computed by another process" not in (tmp_path / "rerun.err").read_text()
    run_dir = next((out / "runs").glob("r*"))
    assert json.loads((run_dir / "_manifest.json").read_text())["run_id"] == run_dir.name
    assert not (run_dir / "_claim").exists()
