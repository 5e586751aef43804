"""Run storage: atomic writes, the commit protocol (manifest last), run ids, local and S3."""

from __future__ import annotations

import errno
import json
import socket

import pandas as pd
import pytest

from bipdask.analyses.estimates import ESTIMATES_SCHEMA, Estimate, estimates_table
from bipdask.runtime import storage


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"jobcentre_id": [3, 1, 2], "share": [0.1, 0.25, 0.5], "label": ["a", "b", None]})


def _roundtrip(root: str) -> None:
    run = storage.RunLayout.create(root, "r0001")
    url = storage.write_parquet(_frame(), storage.join(run.results, "x.parquet"))
    pd.testing.assert_frame_equal(storage.read_parquet(url), _frame())
    table = estimates_table([Estimate("a", "did", None, "intervention", 0.017, 0.004, 0.01, 0.02, 0.001, 10, 100)])
    storage.write_parquet(table, storage.join(run.results, "estimates.parquet"))
    assert storage.read_parquet(storage.join(run.results, "estimates.parquet"))["estimate"].tolist() == [0.017]
    assert storage.list_files(run.results, ".parquet") == sorted(
        [storage.join(run.results, "estimates.parquet"), storage.join(run.results, "x.parquet")])

    # Before the commit the run does not exist for readers.
    assert storage.list_runs(root) == []
    with pytest.raises(FileNotFoundError):
        storage.open_run(root)
    with pytest.raises(FileNotFoundError):
        storage.open_run(root, "r0001")

    committed = storage.commit(run, {"seed": 1, "committed_at": "2026-01-01T00:00:00+00:00"})
    assert committed.run_id == "r0001"
    assert storage.list_runs(root) == ["r0001"]
    assert storage.open_run(root).manifest["seed"] == 1
    assert storage.read_json(storage.join(root, "runs", "latest.json"))["run_id"] == "r0001"

    # A second committed run becomes latest; an uncommitted third stays invisible.
    storage.commit(storage.RunLayout.create(root, "r0002"), {"seed": 2})
    storage.write_parquet(_frame(), storage.join(storage.RunLayout.create(root, "r0003").results, "x.parquet"))
    assert storage.list_runs(root) == ["r0001", "r0002"]
    assert storage.open_run(root).run_id == "r0002"
    assert storage.open_run(root, "r0001").manifest["seed"] == 1

    storage.remove(storage.RunLayout.create(root, "r0003").url)
    assert not storage.exists(storage.join(root, "runs", "r0003", "results", "x.parquet"))


def _integrity(root: str) -> None:
    """The commit records every file's sha256; checked reads and verify_run detect an edit."""
    import hashlib

    run = storage.RunLayout.create(root, "r0009")
    est = storage.write_parquet(_frame(), storage.join(run.results, "estimates.parquet"))
    storage.write_bytes(b"a,b\n1,2\n", storage.join(run.report, "published_estimates.csv"))
    storage.write_bytes(b"{}", run.claim)  # the claim is not a file of the run
    committed = storage.commit(run, {"seed": 9})
    assert committed.manifest["files"] == {
        "results/estimates.parquet": hashlib.sha256(storage.read_bytes(est)).hexdigest(),
        "report/published_estimates.csv": hashlib.sha256(b"a,b\n1,2\n").hexdigest()}
    reopened = storage.open_run(root, "r0009")
    pd.testing.assert_frame_equal(reopened.read_parquet("results/estimates.parquet"), _frame())
    assert reopened.has("report/published_estimates.csv") and not reopened.has("results/none.parquet")
    assert storage.verify_run(reopened).problems == ()

    storage.write_bytes(b"a,b\n1,3\n", storage.join(run.report, "published_estimates.csv"))  # same size, edited
    with pytest.raises(storage.IntegrityError, match="report/published_estimates.csv does not match the sha256"):
        reopened.read_bytes("report/published_estimates.csv")
    assert reopened.read_parquet("results/estimates.parquet").shape == (3, 3)  # only what is read is checked
    storage.remove(est)
    with pytest.raises(storage.IntegrityError, match="results/estimates.parquet is missing"):
        reopened.read_parquet("results/estimates.parquet")
    assert [p.split(": ", 1)[1] for p in storage.verify_run(reopened).problems] == [
        "report/published_estimates.csv does not match the sha256 in its manifest",
        "results/estimates.parquet is missing"]
    assert storage.IntegrityError("x").exit_code == 3


def test_local_commit_records_and_checks_file_hashes(tmp_path):
    _integrity(str(tmp_path))


@pytest.mark.s3
def test_s3_commit_records_and_checks_file_hashes(s3_root):
    _integrity(s3_root)


def test_local_roundtrip_and_commit_protocol(tmp_path):
    _roundtrip(str(tmp_path / "store"))


def test_file_url_and_relative_path_normalize_to_the_same_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert storage.normalize_root("out/") == str(tmp_path / "out")
    assert storage.normalize_root(f"file://{tmp_path}/out") == str(tmp_path / "out")
    assert storage.normalize_root("s3://bucket/prefix/") == "s3://bucket/prefix"


def test_atomic_write_leaves_no_temporary_files_and_replaces_whole(tmp_path):
    url = str(tmp_path / "a" / "m.json")
    storage.write_json({"v": 1}, url)
    storage.write_json({"v": 2}, url)
    assert json.loads((tmp_path / "a" / "m.json").read_text()) == {"v": 2}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["m.json"]


def test_write_failure_is_an_infrastructure_error_without_a_traceback_chain(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(storage.InfrastructureError, match="storage: writing") as err:
        storage.write_json({}, str(tmp_path / "file" / "below.json"))  # a file is not a folder
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_parquet_bytes_are_deterministic():
    table = estimates_table([Estimate("a", "did", 5, "before", 0.1, n_persons=3, n_obs=9)])
    assert storage.parquet_bytes(table) == storage.parquet_bytes(table)
    assert table.schema.equals(ESTIMATES_SCHEMA)


def test_run_key_depends_on_inputs_code_spec_and_seed_only():
    base = dict(input_hashes={"a.parquet": "1", "b.parquet": "2"}, code_version="0.1.0", spec={"x": 1}, seed=7)
    key = storage.run_key(**base)
    assert storage.run_key(**{**base, "input_hashes": {"b.parquet": "2", "a.parquet": "1"}}) == key
    for change in ({"input_hashes": {"a.parquet": "1"}}, {"code_version": "0.2.0"}, {"spec": {"x": 2}},
                   {"seed": 8}):
        assert storage.run_key(**{**base, **change}) != key
    assert storage.run_id_from_key(key) == storage.run_id_from_key(storage.run_key(**base))


def test_hash_delivery_covers_table_files(tmp_path):
    (tmp_path / "weeks").mkdir()
    (tmp_path / "weeks" / "part-1.parquet").write_bytes(b"w")
    (tmp_path / "persons.csv").write_bytes(b"p")
    (tmp_path / "truth.json").write_text("{}")
    hashes = storage.hash_delivery(tmp_path, ["persons", "weeks", "jobcentres"])
    assert list(hashes) == ["persons.csv", "weeks/part-1.parquet"]
    assert hashes["persons.csv"] == storage.sha256_file(tmp_path / "persons.csv")


def test_safe_url_drops_credentials():
    assert storage._safe("s3://KEY:SECRET@bucket/p") == "s3://bucket/p"


# --------------------------------------------------------------------------- S3 on loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_root(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("FSSPEC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    fs, _ = storage.filesystem("s3://bipdask-test")
    bucket = f"bipdask-{_free_port()}"
    fs.mkdir(bucket)
    return f"s3://{bucket}/agency/prod"


@pytest.mark.s3
def test_s3_roundtrip_and_commit_protocol(s3_root):
    _roundtrip(s3_root)


@pytest.mark.s3
def test_s3_endpoint_comes_from_the_environment(s3_root, moto_endpoint):
    options = storage.storage_options(s3_root)
    assert options["client_kwargs"]["endpoint_url"] == moto_endpoint
    assert "key" not in options and "secret" not in options


def test_check_root_url_accepts_local_and_s3_and_names_any_other_scheme(tmp_path):
    from bipdask.errors import InputError

    assert storage.check_root_url(tmp_path) == str(tmp_path)
    assert storage.check_root_url(f"file://{tmp_path}/") == str(tmp_path)
    assert storage.check_root_url("s3://bucket/prefix") == "s3://bucket/prefix"
    for url in ("gs://bucket/x", "ftp://host/x", "memory://x"):
        with pytest.raises(InputError, match="unsupported URL scheme"):
            storage.check_root_url(url)
    with pytest.raises(InputError, match="names no bucket"):
        storage.check_root_url("s3://")


def _streamed(root: str) -> None:
    import pickle

    import numpy as np

    obj = {"weights": np.arange(100_000, dtype=np.float64), "name": "plan"}
    url = storage.join(root, "model_input", "bip", "plans", "a.pkl")
    storage.write_stream(lambda fh: pickle.dump(obj, fh, protocol=5), url)
    got = storage.read_stream(pickle.load, url)
    assert got["name"] == "plan" and np.array_equal(got["weights"], obj["weights"])
    assert storage.read_bytes(url) == pickle.dumps(obj, protocol=5)

    def broken(fh):
        fh.write(b"half")
        raise OSError(errno.ENOSPC, "no space left on device")

    with pytest.raises(storage.InfrastructureError):
        storage.write_stream(broken, url)
    assert storage.read_stream(pickle.load, url)["name"] == "plan"  # the old object, whole


def test_a_streamed_write_is_atomic_and_reads_back(tmp_path):
    _streamed(str(tmp_path))
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]  # no temporary left behind


@pytest.mark.s3
def test_s3_streamed_write_reads_back(s3_root):
    _streamed(s3_root)
