"""The bipdask stack natively on loopback: what ``infra/compose.yaml`` runs, without containers.

``infra/local-stack`` (this module's :func:`main`) starts, each on a free loopback port:

1. an S3 endpoint (``moto_server``; MinIO in compose, the agency's store on Kubernetes),
2. ``prefect server start`` (SQLite under the work folder instead of Postgres),
3. ``dask scheduler`` and two ``dask worker`` processes (one single-threaded process each),
4. the one-shot jobs: create the bucket, create the ``process`` work pool, ``prefect deploy``
   the deployments of ``prefect.yaml``,
5. ``prefect worker start --pool bipdask-process``;

then runs the monthly-refresh deployment through the Prefect API (``run_deployment``) on a
delivery (a synthetic one by default), waits for the flow run, reads the committed run back
from S3 with :func:`bipdask.runtime.storage.open_run`, prints a summary, and stops everything — also
when a step fails or on Ctrl-C/SIGTERM (children also get SIGTERM if this process dies, on
Linux). Command lines and environment names come from :mod:`infra.stack` (``stack.py``), the
one description shared with compose, Kubernetes and ``tests/test_infra.py``.

Usage::

    infra/local-stack --scale 0.05 --seed 1 --bootstrap 49       # synth + run, ~2 min on 2 cores
    infra/local-stack --input DIR --spec hir --keep-logs          # an existing delivery

Needs the test extra (``moto[server]``) for the S3 endpoint. Logs of every process go to
``<workdir>/logs/``; the work folder is a temporary one unless ``--workdir`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import stack  # noqa: E402  (infra/stack.py: the one description of the stack)

LOOPBACK = "127.0.0.1"
OUTPUT_URL = f"s3://{stack.BUCKET}/agency"  # = prefect.yaml's default output_url
DEV_KEY_ID, DEV_SECRET = "bipdask-dev", "bipdask-dev-secret"  # moto accepts any key pair
# Variables of the caller's shell that would point the stack somewhere else: never inherited.
SCRUBBED = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_HOME",
            "PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL",
            "DASK_ADDRESS", "DASK_SCHEDULER_ADDRESS", "AWS_PROFILE", "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_S3", "FSSPEC_S3_ENDPOINT_URL", *stack.S3_ENV)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def executable(program: str) -> str:
    """``program`` from this interpreter's bin folder (a venv's ``prefect``), else from PATH."""
    if program == "python":
        return sys.executable
    local = Path(sys.executable).parent / program
    if local.exists():
        return str(local)
    found = shutil.which(program)
    if not found:
        raise SystemExit(f"local-stack: {program!r} not found (install bipdask with its test extra)")
    return found


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the local stack dies (even by SIGKILL)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Proc:
    """A started process: its role, command line, log file and Popen handle."""

    name: str
    role: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen


@dataclass
class RunOutcome:
    """What one deployment run did, as read back from the Prefect API, the scheduler and S3."""

    flow_run_id: str
    state: str
    seconds: float
    run_id: str | None = None
    run_url: str | None = None
    manifest: dict = field(default_factory=dict)
    estimates_rows: int = 0
    tasks_by_worker: dict = field(default_factory=dict)
    summary: str = ""


class LocalStack:
    """Start the stack on loopback (``with LocalStack(workdir) as s:``), run, tear down."""

    def __init__(self, workdir: str | os.PathLike, workers: int = 2, memory_limit: str = "auto",
                 startup_timeout: float = 120.0, verbose: bool = False) -> None:
        self.workdir = Path(workdir).resolve()
        self.workers = int(workers)
        self.memory_limit = memory_limit
        self.startup_timeout = float(startup_timeout)
        self.verbose = verbose
        self.procs: list[Proc] = []
        self.startup_s = self.stop_s = 0.0
        self.stopped = False
        self.pids: set[int] = set()  # every process this stack started, with descendants seen
        self.logs = self.workdir / "logs"
        self.ports = {k: free_port() for k in ("s3", "prefect", "scheduler", "dashboard", "worker_health")}
        self.api_url = f"http://{LOOPBACK}:{self.ports['prefect']}/api"
        self.s3_url = f"http://{LOOPBACK}:{self.ports['s3']}"
        self.dask_address = f"tcp://{LOOPBACK}:{self.ports['scheduler']}"
        self.values: dict[str, dict[str, str]] = {}
        self.env = self._base_env()

    # ------------------------------------------------------------------ environment

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env.update({
            # the names of infra/stack.py, the values of this loopback stack
            "PREFECT_API_URL": self.api_url,
            "DASK_ADDRESS": self.dask_address,
            "AWS_ENDPOINT_URL": self.s3_url,
            "AWS_ACCESS_KEY_ID": DEV_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DEV_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.workdir / 'prefect.db'}",
            # local conveniences, not part of the stack's contract
            "PREFECT_HOME": str(self.workdir / "prefect-home"),
            **stack.OFFLINE_ENV,
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_WEBSERVER_HOST": LOOPBACK,
            "PREFECT_WORKER_WEBSERVER_PORT": str(self.ports["worker_health"]),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def role_env(self, role: str) -> dict[str, str]:
        """The environment for ``role``: every name :mod:`stack` says it needs must be set."""
        missing = [n for n in stack.ROLES[role].env if not self.env.get(n)]
        if missing:
            raise RuntimeError(f"{role}: environment lacks {missing}")
        return dict(self.env)

    @contextlib.contextmanager
    def s3_env(self) -> Iterator[None]:
        """This process's environment pointed at the stack's S3 endpoint (restored after)."""
        names = (*stack.S3_ENV, "AWS_ENDPOINT_URL_S3", "FSSPEC_S3_ENDPOINT_URL", "AWS_PROFILE")
        saved = {n: os.environ.get(n) for n in names}
        try:
            for n in names:
                os.environ.pop(n, None)
            os.environ.update({n: self.env[n] for n in stack.S3_ENV})
            yield
        finally:
            for n, v in saved.items():
                if v is None:
                    os.environ.pop(n, None)
                else:
                    os.environ[n] = v

    # ------------------------------------------------------------------ processes

    def command(self, role: str, **values: str) -> list[str]:
        argv = stack.ROLES[role].render(**values)
        return [executable(argv[0]), *argv[1:]]

    def spawn(self, name: str, role: str, argv: list[str], env: dict[str, str]) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with open(log, "ab") as fh:
            popen = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=self.workdir, preexec_fn=_die_with_parent)
        proc = Proc(name, role, argv, log, popen)
        self.procs.append(proc)
        self.pids.add(popen.pid)
        self._say(f"started {name}: {' '.join(argv)}")
        return proc

    def run_once(self, name: str, role: str, argv: list[str], timeout: float = 120.0) -> None:
        """A one-shot job (bucket, work pool, deploy): run to completion, fail loudly."""
        proc = self.spawn(name, role, argv, self.role_env(role))
        try:
            code = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{name} did not finish within {timeout:.0f} s; see {proc.log}") from None
        if code != 0:
            raise RuntimeError(f"{name} exited with {code}:\n{self.tail(proc)}")

    def tail(self, proc: Proc, lines: int = 25) -> str:
        try:
            return "\n".join(proc.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _say(self, msg: str) -> None:
        if self.verbose:
            print(f"[local-stack] {msg}", flush=True)

    def _wait(self, what: str, ready, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        while time.monotonic() < deadline:
            for p in self.procs:  # a service that died will not become ready
                one_shot = p.role in stack.ROLES and stack.ROLES[p.role].one_shot
                if not one_shot and p.popen.poll() is not None:
                    raise RuntimeError(f"{p.name} exited with {p.popen.returncode}:\n{self.tail(p)}")
            try:
                if ready():
                    self._say(f"{what} ready")
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{what} not ready within {timeout or self.startup_timeout:.0f} s")

    @staticmethod
    def _http_ok(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError):
            return False

    # ------------------------------------------------------------------ start / stop

    def start(self) -> LocalStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        # the S3 endpoint (the local stand-in for MinIO / the agency's store; not a stack role)
        self.spawn("s3", "s3", [executable("moto_server"), "-H", LOOPBACK, "-p", str(self.ports["s3"])],
                   self.env)
        self.values["prefect-server"] = {"host": LOOPBACK, "port": str(self.ports["prefect"])}
        self.spawn("prefect-server", "prefect-server",
                   self.command("prefect-server", **self.values["prefect-server"]), self.role_env("prefect-server"))
        self.values["dask-scheduler"] = {"host": LOOPBACK, "port": str(self.ports["scheduler"]),
                                         "dashboard": f"{LOOPBACK}:{self.ports['dashboard']}"}
        self.spawn("dask-scheduler", "dask-scheduler",
                   self.command("dask-scheduler", **self.values["dask-scheduler"]), self.role_env("dask-scheduler"))

        self._wait("s3 endpoint", lambda: self._http_ok(f"{self.s3_url}/"))
        self.values["create-bucket"] = {"stack_py": str(HERE / "stack.py")}
        self.run_once("create-bucket", "create-bucket", self.command("create-bucket", **self.values["create-bucket"]))

        self._wait("dask scheduler", lambda: self._http_ok(f"http://{LOOPBACK}:{self.ports['dashboard']}/health"))
        for i in range(1, self.workers + 1):
            values = {"scheduler": self.dask_address, "name": f"dask-worker-{i}", "memory_limit": self.memory_limit,
                      "dashboard": f"{LOOPBACK}:0"}
            self.values[f"dask-worker-{i}"] = values
            self.spawn(f"dask-worker-{i}", "dask-worker", self.command("dask-worker", **values),
                       self.role_env("dask-worker"))
        self._wait(f"{self.workers} dask workers", lambda: self._scheduler_info()["n_workers"] >= self.workers)

        self._wait("prefect server", lambda: self._http_ok(f"{self.api_url}/health"))
        self.run_once("work-pool", "work-pool", self.command("work-pool"))
        self.values["deploy"] = {"prefect_file": str(REPO / "prefect.yaml")}
        self.run_once("deploy", "deploy", self.command("deploy", **self.values["deploy"]))
        self.values["prefect-worker"] = {"name": "local-worker-1"}
        self.spawn("prefect-worker", "prefect-worker", self.command("prefect-worker", **self.values["prefect-worker"]),
                   self.role_env("prefect-worker"))
        self._wait("prefect worker", lambda: self._http_ok(f"http://{LOOPBACK}:{self.ports['worker_health']}/health"))
        self.startup_s = time.monotonic() - t0
        self._say(f"stack up in {self.startup_s:.1f} s")
        return self

    def _scheduler_info(self) -> dict:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.ports['dashboard']}/json/counts.json",
                                    timeout=2) as resp:
            counts = json.load(resp)
        return {"n_workers": int(counts.get("workers", 0))}

    def stop(self) -> None:
        """Terminate everything this stack started (workers first, the store last); idempotent."""
        if self.stopped:
            return
        self.stopped = True
        t0 = time.monotonic()
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil comes with distributed
            psutil = None
        order = ("prefect-worker", "deploy", "work-pool", "dask-worker", "dask-scheduler", "prefect-server",
                 "create-bucket", "s3")
        for role in order:
            group = [p for p in self.procs if p.role == role]
            victims: list = []
            for p in group:
                if psutil is not None:
                    with contextlib.suppress(psutil.Error):
                        kids = psutil.Process(p.popen.pid).children(recursive=True)
                        self.pids.update(k.pid for k in kids)
                        victims += kids
                if p.popen.poll() is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(p.popen.pid, signal.SIGTERM)
            for v in victims:
                with contextlib.suppress(Exception):
                    v.terminate()
            deadline = time.monotonic() + 10
            for p in group:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                if p.popen.poll() is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(p.popen.pid, signal.SIGKILL)
                    p.popen.wait(timeout=5)
            if psutil is not None:
                _, alive = psutil.wait_procs(victims, timeout=max(0.1, deadline - time.monotonic()))
                for v in alive:
                    with contextlib.suppress(Exception):
                        v.kill()
        self.stop_s = time.monotonic() - t0
        self._say(f"stack stopped in {self.stop_s:.1f} s")

    def alive(self) -> list[int]:
        """Pids this stack started (or saw as descendants) that still run; [] after stop()."""
        try:
            import psutil
        except ImportError:  # pragma: no cover
            return [p.popen.pid for p in self.procs if p.popen.poll() is None]
        out = []
        for pid in sorted(self.pids):
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
        return out

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the deployment run

    def run_deployment(self, input_dir: str | os.PathLike, spec: str = "hir", seed: int | None = None,
                       timeout: float = 900.0) -> RunOutcome:
        """Run the monthly-refresh deployment on ``input_dir`` through the Prefect API, wait for
        it, and read the committed run back from S3."""
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        parameters: dict[str, Any] = {"input_dir": str(Path(input_dir).resolve()), "output_url": OUTPUT_URL,
                                      "spec": str(spec)}
        if seed is not None:
            parameters["seed"] = int(seed)
        t0 = time.monotonic()
        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            flow_run = run_deployment(stack.DEPLOYMENT, parameters=parameters, timeout=timeout)
        outcome = RunOutcome(str(flow_run.id), flow_run.state.type.value if flow_run.state else "UNKNOWN",
                             round(time.monotonic() - t0, 1))
        outcome.tasks_by_worker = self.tasks_by_worker()
        if outcome.state != "COMPLETED":
            worker = next((p for p in self.procs if p.role == "prefect-worker"), None)
            raise RuntimeError(f"flow run {outcome.flow_run_id} ended {outcome.state}"
                               + (f"; prefect worker log:\n{self.tail(worker, 40)}" if worker else ""))
        from bipdask.runtime import storage
        from flows.run import load_result

        with self.s3_env():
            committed = storage.open_run(OUTPUT_URL)
            result = load_result(OUTPUT_URL, committed.run_id)
        outcome.run_id, outcome.run_url, outcome.manifest = committed.run_id, committed.url, committed.manifest
        outcome.estimates_rows = len(result.estimates)
        outcome.summary = result.describe()
        return outcome

    def tasks_by_worker(self) -> dict[str, int]:
        """Tasks each Dask worker executed since it started (proof the cluster did the work)."""
        from distributed import Client

        with Client(self.dask_address, timeout=30) as client:
            counts = client.run(lambda dask_worker: dask_worker.state.executed_count)
            names = {addr: info.get("name", addr) for addr, info in client.scheduler_info()["workers"].items()}
        return {str(names.get(addr, addr)): int(n) for addr, n in sorted(counts.items())}


# --------------------------------------------------------------------------- the CLI


def small_spec(path: Path, bootstrap: int) -> Path:
    """The built-in HIR spec with ``bootstrap`` replicates (for a quick run)."""
    from importlib import resources

    text = resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("bootstrap_replicates"))
    path.write_text(text.replace(line, f"bootstrap_replicates = {int(bootstrap)}"), encoding="utf-8")
    return path


def synth(out: Path, scale: float, seed: int) -> Path:
    subprocess.run([sys.executable, "-m", "bipdask.cli.main", "synth", "--out", str(out), "--scale", str(scale),
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/local-stack", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", help="a delivery folder (default: a synthetic one, see --scale)")
    parser.add_argument("--scale", type=float, default=0.05, help="synthetic delivery scale (default 0.05)")
    parser.add_argument("--synth-seed", type=int, default=1)
    parser.add_argument("--spec", default="hir", help="built-in spec name or TOML path (default hir)")
    parser.add_argument("--bootstrap", type=int, help="override the spec's bootstrap replicates B")
    parser.add_argument("--seed", type=int, help="the run's seed (default: the spec's)")
    parser.add_argument("--workers", type=int, default=2, help="dask worker processes (default 2)")
    parser.add_argument("--memory-limit", default="auto", help="per dask worker (default auto)")
    parser.add_argument("--workdir", help="keep logs, SQLite and the delivery here (default: a temp dir)")
    parser.add_argument("--summary-json", help="also write the run summary as JSON here")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the flow run")
    args = parser.parse_args(argv)

    temp = None if args.workdir else tempfile.TemporaryDirectory(prefix="bipdask-stack-")
    workdir = Path(args.workdir or temp.name).resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):  # SIGTERM like Ctrl-C: unwind through the teardown
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even if started with SIGINT ignored
    code = 0
    local = LocalStack(workdir, workers=args.workers, memory_limit=args.memory_limit, verbose=True)
    try:
        input_dir = Path(args.input) if args.input else synth(workdir / "delivery", args.scale, args.synth_seed)
        spec = str(small_spec(workdir / "spec.toml", args.bootstrap)) if args.bootstrap is not None else args.spec
        with local:
            outcome = local.run_deployment(input_dir, spec=spec, seed=args.seed, timeout=args.timeout)
        print()
        print(outcome.summary)
        print(f"flow run {outcome.flow_run_id}: {outcome.state} in {outcome.seconds:.1f} s "
              f"(stack start-up {local.startup_s:.1f} s)")
        print("tasks per dask worker: " + ", ".join(f"{k} {v}" for k, v in outcome.tasks_by_worker.items()))
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps({
                "flow_run_id": outcome.flow_run_id, "state": outcome.state, "seconds": outcome.seconds,
                "startup_s": round(local.startup_s, 1), "run_id": outcome.run_id, "run_url": outcome.run_url,
                "estimates_rows": outcome.estimates_rows, "tasks_by_worker": outcome.tasks_by_worker,
                "row_counts": outcome.manifest.get("row_counts"), "commands": {
                    p.name: [Path(p.argv[0]).name, *p.argv[1:]] for p in local.procs}}, indent=2) + "\n")
    except KeyboardInterrupt:
        print("local-stack: interrupted; stopped everything", file=sys.stderr)
        code = 130
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"local-stack: {exc}\n(logs: {local.logs})", file=sys.stderr)
        code = 1
    finally:
        local.stop()
        if temp is not None and code == 0:
            temp.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
