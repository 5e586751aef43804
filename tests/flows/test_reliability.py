"""Production reliability of the evaluate flow: retries on transient storage
errors, a Dask worker killed mid-run, two runs of one key at once, incremental monthly
refresh, the monthly deployment, and plain readers of the results.

Cheap fixtures of its own: the 4-job-centre delivery of ``test_flow`` with B = 10, one
2-worker ``LocalCluster`` and an S3 endpoint (moto) behind a loopback proxy that injects
faults. The environment (S3 endpoint, retry policy) is set before the cluster starts, so the
worker processes inherit it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from _deliveries import TINY_TREATED, write_spec, write_tiny_delivery
from distributed.diagnostics.plugin import WorkerPlugin

from bipdask.runtime import claims, storage

B = 10
STORAGE_ATTEMPTS, BOTOCORE_ATTEMPTS = 3, 2


# --------------------------------------------------------------------------- a faulty S3 endpoint


class FaultProxy:
    """A loopback HTTP proxy to an S3 endpoint that fails chosen requests.

    ``fail(method, fragment, n, how)`` makes the next ``n`` requests whose method matches and
    whose path contains ``fragment`` fail with ``how``: ``"500"`` (InternalError), ``"503"``
    (SlowDown, which s3fs also retries itself) or ``"drop"`` (the connection is closed without
    an answer). ``seen`` counts matching requests per rule.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.split("://", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.rules: list[dict] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                how = proxy._fault(self.command, self.path)
                if how == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if how in ("500", "503"):
                    code = b"InternalError" if how == "500" else b"SlowDown"
                    msg = b"<Error><Code>" + code + b"</Code><Message>injected</Message></Error>"
                    self.send_response(int(how))
                    self.send_header("Content-Length", str(len(msg)))
                    self.send_header("Content-Type", "application/xml")
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail(self, method: str, fragment: str, n: int, how: str = "503") -> dict:
        rule = {"method": method, "fragment": fragment, "left": n, "how": how, "seen": 0, "failed": 0}
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def _fault(self, method: str, path: str) -> str | None:
        with self.lock:
            for rule in self.rules:
                if rule["method"] == method and rule["fragment"] in path:
                    rule["seen"] += 1
                    if rule["left"] > 0:
                        rule["left"] -= 1
                        rule["failed"] += 1
                        return rule["how"]
        return None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def proxy():
    """moto on loopback behind a FaultProxy; the environment names the proxy as the endpoint."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    faults = FaultProxy(f"http://127.0.0.1:{port}")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": faults.url,
                            "AWS_MAX_ATTEMPTS": str(BOTOCORE_ATTEMPTS), "AWS_RETRY_MODE": "standard",
                            "BIPDASK_STORAGE_ATTEMPTS": str(STORAGE_ATTEMPTS),
                            "BIPDASK_STORAGE_BACKOFF_S": "0.05"}.items():
            mp.setenv(name, value)
        for name in ("FSSPEC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        yield faults
    faults.stop()
    server.stop()


def _bucket(name: str) -> str:
    fs, _ = storage.filesystem(f"s3://{name}")
    fs.mkdir(name)
    return f"s3://{name}/agency"


@pytest.fixture(scope="module", autouse=True)
def _pinned(pinned_code_version):
    """The run ids and cache keys must not change if the source moves mid-test (conftest)."""
    yield


@pytest.fixture(scope="module")
def cluster(proxy):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            Client(c.scheduler_address) as client:
        yield c.scheduler_address, client


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    return write_tiny_delivery(tmp_path_factory.mktemp("delivery"), n_persons=160)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> str:
    return str(write_spec(tmp_path_factory.mktemp("spec") / "hir_b10.toml", bootstrap=B, treated=TINY_TREATED))


@pytest.fixture(scope="module")
def clean(delivery, spec, tmp_path_factory, harness, cluster):
    """A clean run (local root); it also fills the root's model-input cache."""
    from flows.run import run_evaluation

    root = tmp_path_factory.mktemp("clean")
    result = run_evaluation(input_dir=delivery, output_url=str(root), spec=spec, dask_address=cluster[0],
                            batch_size=1)
    return root, result


def _estimates(root: Path | str, run_id: str) -> bytes:
    return storage.read_bytes(storage.join(str(root), "runs", run_id, "results", "estimates.parquet"))


# --------------------------------------------------------------------------- 1. retries


def test_transient_errors_are_told_from_permanent_ones():
    import botocore.exceptions as bx

    def client_error(status: int, code: str) -> bx.ClientError:
        return bx.ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")

    assert storage.is_transient(client_error(503, "SlowDown"))
    assert storage.is_transient(client_error(500, "InternalError"))
    assert not storage.is_transient(client_error(403, "AccessDenied"))
    assert storage.is_transient(bx.EndpointConnectionError(endpoint_url="http://x"))
    wrapped = OSError(5, "remote")
    wrapped.__cause__ = client_error(500, "InternalError")
    assert storage.is_transient(wrapped)
    assert not storage.is_transient(FileNotFoundError("gone"))
    assert not storage.is_transient(PermissionError("no"))
    assert not storage.is_transient(ValueError("bad"))


@pytest.mark.s3
def test_storage_retries_a_failing_then_succeeding_endpoint(proxy):
    root = _bucket("retry-unit")
    url = storage.join(root, "x", "a.json")
    # More failures than botocore's own attempts: the storage layer must retry on top.
    put = proxy.fail("PUT", "/retry-unit/agency/x/a.json", BOTOCORE_ATTEMPTS + 1, "500")
    get = proxy.fail("GET", "/retry-unit/agency/x/a.json", BOTOCORE_ATTEMPTS + 1, "drop")
    try:
        storage.write_json({"v": 1}, url)
        assert storage.read_json(url) == {"v": 1}
    finally:
        proxy.clear()
    assert put["failed"] == get["failed"] == BOTOCORE_ATTEMPTS + 1
    assert put["seen"] > BOTOCORE_ATTEMPTS + 1 and get["seen"] > BOTOCORE_ATTEMPTS + 1
    # Persistent failure: a one-line infrastructure error after the last attempt, no chain.
    proxy.fail("PUT", "/retry-unit/agency/y.json", 1000, "500")
    try:
        with pytest.raises(storage.InfrastructureError, match="storage: writing s3://retry-unit/agency/y.json") as err:
            storage.write_json({"v": 2}, storage.join(root, "y.json"))
    finally:
        proxy.clear()
    assert err.value.__cause__ is None


@pytest.mark.s3
@pytest.mark.prefect
@pytest.mark.dask
def test_flow_on_a_flaky_s3_endpoint_completes_with_the_clean_estimates(delivery, spec, clean, cluster, proxy):
    from flows.run import run_evaluation

    root = _bucket("flaky")
    # estimates.parquet: more failures than one write_results attempt makes (storage × botocore
    # attempts), so Prefect must retry the task; the rest are absorbed by the storage layer.
    estimates = proxy.fail("PUT", "/results/estimates.parquet", STORAGE_ATTEMPTS * BOTOCORE_ATTEMPTS + 1, "500")
    model_input = proxy.fail("PUT", "/model_input/", 3, "503")
    reads = proxy.fail("GET", "/flaky/agency/runs/", 3, "drop")
    try:
        result = run_evaluation(input_dir=delivery, output_url=root, spec=spec, dask_address=cluster[0],
                                batch_size=1)
    finally:
        proxy.clear()
    assert estimates["failed"] == STORAGE_ATTEMPTS * BOTOCORE_ATTEMPTS + 1
    assert estimates["seen"] > STORAGE_ATTEMPTS * BOTOCORE_ATTEMPTS + 1  # a second task attempt wrote it
    assert model_input["failed"] == 3 and reads["failed"] == 3
    clean_root, clean_result = clean
    assert result.run_id == clean_result.run_id and storage.list_runs(root) == [result.run_id]
    assert _estimates(root, result.run_id) == _estimates(clean_root, clean_result.run_id)


def test_io_tasks_retry_with_backoff_but_not_on_bad_input():
    from prefect.states import Failed

    from bipdask.errors import InfrastructureError, InputError, Problem
    from flows import tasks

    for t in (tasks.validate_and_stage, tasks.compute_model_inputs, tasks.write_results, tasks.commit_run):
        assert t.retries == 3 and t.retry_delay_seconds == [1, 4, 16]
        assert t.retry_condition_fn is tasks.retry_unless_input_error
    bad = InputError([Problem("weeks", "week", "not a Monday", 3)])
    assert not tasks.retry_unless_input_error(None, None, Failed(data=bad))
    assert tasks.retry_unless_input_error(None, None, Failed(data=InfrastructureError("storage: x")))


# --------------------------------------------------------------------------- 2. a worker dies


class KillOnModelInputWrite(WorkerPlugin):
    """Worker plugin: the first worker (of all) to write a model-input file dies at its third
    such write — inside ``compute_model_inputs``, after part of the batch is written."""

    name = "kill-on-model-input-write"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def setup(self, worker) -> None:
        from bipdask.runtime import storage as st

        self.original = st.write_bytes
        marker, original, count = self.marker, st.write_bytes, [0]

        def write_bytes(data, url):
            if "/model_input/" in url:
                count[0] += 1
                if count[0] == 3:
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    except FileExistsError:
                        pass
                    else:
                        os.kill(os.getpid(), signal.SIGKILL)
            return original(data, url)

        st.write_bytes = write_bytes

    def teardown(self, worker) -> None:
        from bipdask.runtime import storage as st

        st.write_bytes = self.original


@pytest.mark.prefect
@pytest.mark.dask
def test_a_worker_killed_mid_run_gives_byte_identical_estimates(delivery, spec, clean, cluster, tmp_path):
    import cloudpickle

    from flows.run import run_evaluation

    address, client = cluster
    cloudpickle.register_pickle_by_value(__import__(__name__))
    marker = tmp_path / "killed"
    before = set(client.run(os.getpid).values())
    client.register_plugin(KillOnModelInputWrite(str(marker)))
    try:
        result = run_evaluation(input_dir=delivery, output_url=str(tmp_path / "out"), spec=spec,
                                dask_address=address, batch_size=4)
    finally:
        client.unregister_worker_plugin(KillOnModelInputWrite.name)
        cloudpickle.unregister_pickle_by_value(__import__(__name__))
    assert marker.exists()  # a worker did die mid-task
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != before  # the nanny replaced it
    clean_root, clean_result = clean
    assert result.run_id == clean_result.run_id
    assert _estimates(tmp_path / "out", result.run_id) == _estimates(clean_root, clean_result.run_id)


# --------------------------------------------------------------------------- 3. one writer per run


@pytest.mark.s3
def test_claims_on_s3_use_a_conditional_put(proxy):
    run = storage.RunLayout.create(_bucket("claims"), "r1")
    first = claims.claim_run(run, stale_after=60.0)
    assert first is not None
    assert claims.claim_run(run, stale_after=60.0) is None  # If-None-Match: * refused the second PUT
    claims.release_claim(first)
    assert claims.claim_run(run, stale_after=60.0) is not None


@pytest.mark.prefect
@pytest.mark.dask
def test_two_runs_of_the_same_key_at_once_commit_once(delivery, spec, clean, cluster, tmp_path):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from flows.run import execute_run, plan_run

    root = str(tmp_path / "shared")
    name = FlowRunFilter(name=FlowRunFilterName(any_=[f"evaluate-{plan_run(delivery, root, spec)[0].run_id}"]))
    with get_client(sync_client=True) as client:
        flow_runs_before = len(client.read_flow_runs(flow_run_filter=name))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            layout, plan = plan_run(delivery, root, spec)
            barrier.wait()
            results.append(execute_run(layout, plan, dask_address=cluster[0], batch_size=4, poll_s=0.2))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.reused for r in results) == [False, True]
    run_id = results[0].run_id
    assert results[1].run_id == run_id and storage.list_runs(root) == [run_id]
    with get_client(sync_client=True) as client:
        flow_runs = len(client.read_flow_runs(flow_run_filter=name))
    assert flow_runs == flow_runs_before + 1  # the second caller waited and reported; it never ran the flow
    run_dir = Path(root) / "runs" / run_id
    assert not (run_dir / "_claim").exists()
    assert json.loads((run_dir / "_manifest.json").read_text())["run_id"] == run_id
    pd.testing.assert_frame_equal(results[0].estimates, results[1].estimates)
    assert _estimates(root, run_id) == _estimates(*[clean[0], clean[1].run_id])


# --------------------------------------------------------------------------- 4. incremental refresh


def _change_one_jobcentre(src: Path, dst: Path, jobcentre_id: int) -> None:
    """A copy of the delivery where every other week with ordinary hours of one job centre
    has none (a corrected register delivery for that job centre)."""
    import numpy as np
    import pyarrow.compute as pc

    shutil.copytree(src, dst)
    for part in sorted((dst / "weeks").glob("*.parquet")):
        t = pq.read_table(part)
        every_other = pa.array(np.arange(t.num_rows) % 2 == 0)
        mask = pc.and_(pc.and_(pc.equal(t["jobcentre_id"], jobcentre_id), pc.greater(t["ordinary_hours"], 0)),
                       every_other)
        hours = pc.if_else(mask, pa.scalar(0.0, t.schema.field("ordinary_hours").type), t["ordinary_hours"])
        pq.write_table(t.set_column(t.schema.get_field_index("ordinary_hours"), "ordinary_hours", hours), part)


@pytest.mark.prefect
@pytest.mark.dask
def test_a_changed_delivery_recomputes_only_the_changed_jobcentre(delivery, spec, clean, cluster, tmp_path):
    from flows.run import run_evaluation

    root, first = clean
    assert first.manifest["incremental"]["reused"] == 0
    staged = first.manifest["jobcentres"]["staged"]
    changed = tmp_path / "changed"
    _change_one_jobcentre(delivery, changed, 4)
    refreshed = run_evaluation(input_dir=changed, output_url=str(root), spec=spec, dask_address=cluster[0],
                               batch_size=2)
    assert refreshed.run_id != first.run_id and not refreshed.reused
    inc = refreshed.manifest["incremental"]
    assert inc["recomputed_jobcentres"] == [4]
    assert inc["reused"] == staged - 1 and 4 not in inc["reused_jobcentres"]
    scratch = run_evaluation(input_dir=changed, output_url=str(tmp_path / "scratch"), spec=spec,
                             dask_address=cluster[0], batch_size=4)
    assert scratch.manifest["incremental"]["recomputed"] == staged
    assert _estimates(root, refreshed.run_id) == _estimates(tmp_path / "scratch", scratch.run_id)
    assert _estimates(root, refreshed.run_id) != _estimates(root, first.run_id)
    for kind in ("share_cells", "spell_counts"):
        a = sorted((root / "runs" / refreshed.run_id / "model_input" / kind).glob("*.parquet"))
        b = sorted((tmp_path / "scratch" / "runs" / scratch.run_id / "model_input" / kind).glob("*.parquet"))
        assert [p.name for p in a] == [p.name for p in b] and [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


# --------------------------------------------------------------------------- 5. the monthly deployment


def test_prefect_yaml_schedules_the_monthly_refresh_flow():
    import importlib

    import yaml
    from prefect.client.schemas.schedules import CronSchedule

    config = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    path, name = deployment["entrypoint"].split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    flow_obj = getattr(module, name)
    from flows.deploy import monthly_refresh

    assert flow_obj is monthly_refresh and deployment["work_pool"]["name"]
    (schedule,) = deployment["schedules"]
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert cron.timezone == "Europe/Copenhagen" and schedule["cron"] == "0 3 2 * *"
    assert set(deployment["parameters"]) <= set(monthly_refresh.parameters.properties)


@pytest.mark.prefect
@pytest.mark.dask
def test_monthly_refresh_runs_once_and_a_second_call_is_a_no_op(delivery, spec, clean, cluster, tmp_path,
                                                                 monkeypatch):
    from flows.deploy import monthly_refresh

    monkeypatch.setenv("DASK_ADDRESS", cluster[0])
    out = str(tmp_path / "monthly")
    failed = tmp_path / "monthly" / "runs" / "rfailedlastmonth" / "staged" / "persons.parquet"
    failed.parent.mkdir(parents=True)
    failed.write_bytes(b"person-level rows of a run that never committed")
    two_days_ago = time.time() - 2 * 86400
    for path in (failed, failed.parent, failed.parent.parent):
        os.utime(path, (two_days_ago, two_days_ago))
    run_id = monthly_refresh(input_dir=str(delivery), output_url=out, spec=spec)
    assert run_id == clean[1].run_id and storage.list_runs(out) == [run_id]
    assert not failed.parent.parent.exists()  # the monthly gc removed the failed run's folder
    stamp = (tmp_path / "monthly" / "runs" / run_id / "_manifest.json").stat().st_mtime_ns
    assert monthly_refresh(input_dir=str(delivery), output_url=out, spec=spec) == run_id
    assert (tmp_path / "monthly" / "runs" / run_id / "_manifest.json").stat().st_mtime_ns == stamp


# --------------------------------------------------------------------------- 6. plain readers


def test_results_read_with_pyarrow_dataset_and_pandas_as_they_are(clean):
    from bipdask.analyses.estimates import ESTIMATES_SCHEMA

    root, result = clean
    run_dir = root / "runs" / result.run_id
    table = ds.dataset(run_dir / "results" / "estimates.parquet", format="parquet").to_table()
    assert table.schema.equals(ESTIMATES_SCHEMA, check_metadata=False) and table.num_rows == len(result.estimates)
    frame = pd.read_parquet(run_dir / "results" / "estimates.parquet")
    assert len(frame) == len(result.estimates) and {"analysis", "estimand", "estimate", "se"} <= set(frame.columns)
    replicates = sorted((run_dir / "replicates").glob("*.parquet"))
    assert replicates
    for path in replicates:
        reps = ds.dataset(path, format="parquet").to_table().to_pandas()
        assert len(reps) == B and len(pd.read_parquet(path)) == B
    whole = ds.dataset(run_dir / "model_input" / "share_moments", format="parquet").to_table()
    assert whole.num_rows == result.manifest["row_counts"]["model_input"]["share_moments"] > 0


def test_a_rerun_of_an_edited_committed_run_is_exit_3_naming_the_file(tmp_path):
    """The no-op rerun reads the committed estimates back: an edit after the commit is caught
    (exit 3, the file named) instead of being reported as the run's result."""
    from fake_runs import make_fake_run

    from bipdask.runtime import storage
    from flows.run import execute_run

    run = make_fake_run(tmp_path, report=False)
    path = tmp_path / "runs" / run.run_id / "results" / "estimates.parquet"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(storage.IntegrityError, match="results/estimates.parquet does not match") as err:
        execute_run(storage.RunLayout.create(tmp_path, run.run_id), {})
    assert err.value.exit_code == 3
