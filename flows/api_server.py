"""The run's temporary Prefect API: one server per run, started by bipdask so that it dies with
the run, and shared by the flow process and the Dask workers.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server (uvicorn) on first use — in
the flow's process, and again in each LocalCluster worker process. A ``bipdask run`` killed
with SIGTERM or SIGKILL left those servers running (about 220 MB each), and the workers' task
runs went to APIs nobody could see. :func:`run_api` instead:

- starts one server as a child of the run's process, on a socket the run's process binds to
  127.0.0.1 and hands over (``uvicorn --fd``: no race for a free port), through
  :mod:`flows.lifeline`, so the kernel stops the server when the run's process dies, however
  it dies;
- sets its URL as ``PREFECT_API_URL`` in the flow's Prefect settings, and :func:`worker_env`
  passes it to the LocalCluster's workers, so their task runs go to the same API and they start
  no server of their own;
- stops it when the run ends (also on Ctrl-C and SIGTERM, which the CLI turns into exceptions).

An API that is already configured (``PREFECT_API_URL``, a test harness, or the API of a flow
this run is a subflow of) is used as it is. See ``docs/architecture.md#orchestration``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from bipdask.errors import InfrastructureError
from flows import lifeline

MIN_STARTUP_TIMEOUT_S = 120.0  # a loaded machine takes longer than Prefect's default 20 s


def configured_api_url() -> str | None:
    """The Prefect API already in force: the enclosing flow run's, else ``PREFECT_API_URL``."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    context = FlowRunContext.get()
    if context is not None and getattr(context, "client", None) is not None:
        return str(context.client.api_url).rstrip("/")
    return PREFECT_API_URL.value() or None


class RunApiServer:
    """A Prefect API server (uvicorn, the app Prefect's own temporary server runs) owned by
    this process: :meth:`launch` returns at once; :meth:`wait_ready` waits for its health check."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def launch(self) -> None:
        import prefect
        from prefect.settings import get_current_settings

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            self.port = sock.getsockname()[1]
            argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
                    "prefect.server.api.server:create_app", "--fd", str(sock.fileno()), "--log-level", "error",
                    "--lifespan", "on"]
            env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                   "PREFECT__SERVER_FINAL": "1", **get_current_settings().to_environment_variables(exclude_unset=True)}
            env.pop("PREFECT_API_URL", None)
            self.process = subprocess.Popen(lifeline.command(argv), env=env, pass_fds=(sock.fileno(),),
                                            stdin=subprocess.DEVNULL)
        finally:
            sock.close()  # the server holds its own copy

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the API answers its health check; InfrastructureError if it does not."""
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        if timeout is None:
            timeout = max(MIN_STARTUP_TIMEOUT_S, float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    break
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        code = None if self.process is None else self.process.poll()
        raise InfrastructureError("the run's temporary Prefect API did not start"
                                  + (f" (exit code {code})" if code is not None else f" within {timeout:g} s"))

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@dataclass(frozen=True)
class RunApi:
    """The API a run reports to; ``server`` is set when the run started it (:func:`run_api`)."""

    url: str
    server: RunApiServer | None = None

    def wait_ready(self) -> None:
        """Wait for a server the run launched (a configured API: nothing to wait for)."""
        if self.server is not None:
            self.server.wait_ready()

    def worker_env(self) -> dict[str, str]:
        """The environment the run's Dask workers need to report to this API: the URL of a
        server the run started (a worker would otherwise start its own). A configured API
        reaches them as it did before: the user's environment, or the flow's settings, which
        travel with each task."""
        return {"PREFECT_API_URL": self.url} if self.server is not None else {}


_OWN_SERVERS: set[str] = set()  # API URLs of servers run_api started in this process (no UI, gone after the run)


def flow_run_record() -> dict[str, str | None] | None:
    """The current flow run for the manifest: its id, and its page in the Prefect UI
    (``PREFECT_UI_URL``, which Prefect derives from ``PREFECT_API_URL`` when unset) when the run
    reports to a configured API — not to the temporary server the run started itself, which has no
    UI and stops with the run. A URL with user-info is left out (credentials never reach a
    manifest). ``None`` outside a flow run."""
    from urllib.parse import urlsplit

    from prefect.runtime import flow_run
    from prefect.settings import get_current_settings
    from prefect.utilities.urls import url_for

    run_id = flow_run.id
    if not run_id:
        return None
    api = configured_api_url()
    own = api is not None and api.rstrip("/") in _OWN_SERVERS
    ui = None if own or api is None else (get_current_settings().ui_url or None)
    if ui and (urlsplit(ui).scheme not in ("http", "https") or "@" in urlsplit(ui).netloc):
        ui = None
    return {"flow_run_id": str(run_id), "api": "temporary" if own else ("configured" if api else None),
            "ui_url": ui, "flow_run_url": url_for("flow-run", obj_id=str(run_id), default_base_url=ui) if ui else None}


@contextlib.contextmanager
def run_api() -> Iterator[RunApi]:
    """The Prefect API for one run: the configured one, or a :class:`RunApiServer` launched now
    (not yet waited for: :meth:`RunApi.wait_ready`), set as ``PREFECT_API_URL`` in this
    process's Prefect settings while the block runs, and stopped after it."""
    url = configured_api_url()
    if url:
        yield RunApi(url)
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = RunApiServer()
    try:
        server.launch()
        _OWN_SERVERS.add(server.api_url.rstrip("/"))
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            try:
                yield RunApi(server.api_url, server)
            finally:
                drain_api_clients()
    finally:
        server.stop()


def drain_api_clients(timeout: float = 10.0) -> None:
    """Send what Prefect's background log and event workers still hold to the API, while it is
    up: they would otherwise try at exit, after the server stopped, and print a connection
    error on stderr."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout)
        except Exception:  # noqa: BLE001 - a failed flush of logs must not fail the run
            pass
