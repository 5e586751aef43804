"""The cross-run table ``<root>/published/run=<run_id>/estimates.parquet``: committed runs only,
each run's rows once, repaired by the next sync, on local and S3 roots, readable as one dataset."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.dataset as ds
import pytest
from fake_runs import make_fake_run

from bipdask.publish import history
from bipdask.publish.release import RELEASE_FILE, RELEASE_SCHEMA
from bipdask.runtime import storage

MONTHS = {"r000000000000a001": "2026-10-01T06:00:00+00:00", "r000000000000a002": "2026-11-01T06:00:00+00:00"}


def _runs(root) -> list[storage.CommittedRun]:
    return [make_fake_run(root, run_id, committed_at=when, shift=0.01 * i, report=True)
            for i, (run_id, when) in enumerate(MONTHS.items())]


def _uncommitted(root, run_id: str = "r000000000000dead") -> storage.RunLayout:
    """A run killed before its commit: release and claim written, no manifest."""
    run = storage.RunLayout.create(root, run_id)
    committed = storage.open_run(root, next(iter(MONTHS)))
    storage.write_bytes(committed.read_bytes(RELEASE_FILE), storage.join(run.url, RELEASE_FILE))
    storage.write_bytes(b'{"token": "t"}', run.claim)
    return run


def _release_rows(run: storage.CommittedRun) -> int:
    return len(run.read_parquet(RELEASE_FILE))


@pytest.fixture()
def root(tmp_path):
    _runs(tmp_path)
    return str(tmp_path)


def test_sync_adds_every_committed_run_with_its_run_columns(root):
    result = history.sync_history(root)
    assert result.added == tuple(MONTHS) and not result.removed and not result.problems
    table = history.read_history(root)
    assert list(table.columns) == history.HISTORY_SCHEMA.names
    runs = [storage.open_run(root, r) for r in MONTHS]
    assert table.groupby("run_id").size().to_dict() == {r.run_id: _release_rows(r) for r in runs}
    first = table[table.run_id == "r000000000000a001"].iloc[0]
    assert first.committed_at == pd.Timestamp("2026-10-01T06:00:00Z")
    assert first.spec_name == "hir" and first.seed == 7 and first.bootstrap_replicates == 199
    assert first.bipdask_version == "0.1.0"
    assert len(first.input_sha256) == 64
    # the release's own columns come through unchanged
    release = runs[0].read_parquet(RELEASE_FILE)
    mine = table[table.run_id == runs[0].run_id].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[[c for c in RELEASE_SCHEMA.names if c != "run_id"]],
                                  release[[c for c in RELEASE_SCHEMA.names if c != "run_id"]])


def test_an_uncommitted_run_never_enters_the_table(root):
    dead = _uncommitted(root)
    with pytest.raises(FileNotFoundError):
        history.append_run(root, dead.run_id)
    result = history.sync_history(root)
    assert dead.run_id not in result.added
    assert dead.run_id not in history.table_run_ids(root)
    assert dead.run_id not in set(history.read_history(root).run_id)


def test_a_file_of_a_run_that_is_not_committed_is_removed(root):
    history.sync_history(root)
    dead = _uncommitted(root)
    stray = history.partition_url(root, dead.run_id)  # planted by hand: no commit behind it
    storage.write_bytes(storage.read_bytes(history.partition_url(root, "r000000000000a001")), stray)
    assert history.sync_history(root, dry_run=True).removed == (dead.run_id,)
    assert storage.exists(stray)
    assert history.sync_history(root).removed == (dead.run_id,)
    assert not storage.exists(stray)
    assert dead.run_id not in history.table_run_ids(root)


def test_appending_the_same_run_twice_keeps_its_rows_once(root):
    run_id = "r000000000000a001"
    assert history.append_run(root, run_id) is True
    before = storage.read_bytes(history.partition_url(root, run_id))
    assert history.append_run(root, run_id) is False
    assert storage.read_bytes(history.partition_url(root, run_id)) == before
    second = history.sync_history(root)
    assert second.added == ("r000000000000a002",) and second.unchanged == 1
    third = history.sync_history(root)
    assert third.added == () and third.unchanged == 2
    table = history.read_history(root)
    assert (table.run_id == run_id).sum() == _release_rows(storage.open_run(root, run_id))


def test_a_committed_run_missing_from_the_table_is_repaired(root):
    """A crash between the commit and the append: the next sync adds the run; a stale file
    (cut short, or from an older schema) is rewritten."""
    history.sync_history(root)
    storage.remove(storage.join(history.history_url(root), "run=r000000000000a002"))
    assert history.table_run_ids(root) == ["r000000000000a001"]
    storage.write_bytes(b"not parquet", history.partition_url(root, "r000000000000a001"))
    repaired = history.sync_history(root)
    assert repaired.added == tuple(MONTHS)
    assert history.table_run_ids(root) == list(MONTHS)
    assert set(history.read_history(root).run_id) == set(MONTHS)


def test_a_later_run_repairs_the_table_with_its_own_append(tmp_path):
    first, = [make_fake_run(tmp_path, "r000000000000b001")]
    assert history.table_run_ids(str(tmp_path)) == []  # committed, its append never ran
    make_fake_run(tmp_path, "r000000000000b002", committed_at="2026-11-01T06:00:00+00:00")
    history.sync_history(str(tmp_path))  # what the next run's append step calls
    assert history.table_run_ids(str(tmp_path)) == [first.run_id, "r000000000000b002"]


def test_a_run_whose_release_fails_its_hash_is_reported_not_added(root):
    run = storage.open_run(root, "r000000000000a002")
    storage.write_bytes(b"changed after the commit", storage.join(run.url, RELEASE_FILE))
    result = history.sync_history(root)
    assert result.added == ("r000000000000a001",)
    assert len(result.problems) == 1 and "r000000000000a002" in result.problems[0]
    assert "sha256" in result.problems[0]


def test_run_values_from_a_full_manifest():
    values = history.run_values({"run_id": "r1", "committed_at": "2026-12-02T03:04:05+00:00", "run_key": "k" * 64,
                                 "seed": 20190101, "inputs": {"sha256": {"b.parquet": "2", "a.parquet": "1"}},
                                 "validation": {"week_span": ["2016-01-04", "2019-03-25"]},
                                 "spec": {"name": "hir"}, "estimation": {"bootstrap_replicates": 999},
                                 "code_version": {"bipdask": "0.1.0", "source_sha256": "s" * 64}})
    assert values["delivery_first_week"] == dt.date(2016, 1, 4)
    assert values["delivery_last_week"] == dt.date(2019, 3, 25)
    assert values["committed_at"] == dt.datetime(2026, 12, 2, 3, 4, 5, tzinfo=dt.UTC)
    same = history.run_values({"run_id": "r2", "inputs": {"sha256": {"a.parquet": "1", "b.parquet": "2"}}})
    assert values["input_sha256"] == same["input_sha256"]  # the same delivery, whatever the order
    other = history.run_values({"run_id": "r3", "inputs": {"sha256": {"a.parquet": "1", "b.parquet": "3"}}})
    assert other["input_sha256"] != values["input_sha256"]
    assert history.run_values({"run_id": "r4"})["delivery_last_week"] is None


def test_the_documented_query_reads_the_folder_as_one_table(root):
    """What the README's DuckDB and Polars examples do — read ``published/`` as a hive-partitioned
    Parquet dataset and compare a pooled estimate across runs — with pyarrow's dataset reader."""
    _uncommitted(root)  # a run killed before its commit: its release sits under runs/, not here
    history.sync_history(root)
    dataset = ds.dataset(history.history_url(root), format="parquet", partitioning="hive")
    table = dataset.to_table(filter=(ds.field("analysis") == "share_internship_or_hours")
                             & (ds.field("estimand") == "did") & (ds.field("period") == "intervention")
                             & ds.field("jobcentre_id").is_null())
    frame = table.select(["run", "run_id", "committed_at", "estimate", "ci_low", "ci_high"]).to_pandas()
    frame = frame.sort_values("committed_at")
    assert list(frame.run_id) == list(MONTHS) and list(frame.run) == list(MONTHS)
    assert frame.estimate.iloc[1] - frame.estimate.iloc[0] == pytest.approx(0.01)  # fake runs: shift 0.01


@pytest.mark.s3
def test_s3_root(s3_root):
    root = f"{s3_root}/history-{dt.datetime.now().strftime('%H%M%S%f')}"
    _runs(root)
    dead = _uncommitted(root)
    assert history.sync_history(root).added == tuple(MONTHS)
    assert history.append_run(root, "r000000000000a001") is False
    assert history.sync_history(root).unchanged == 2
    storage.remove(storage.join(history.history_url(root), "run=r000000000000a002"))
    assert history.sync_history(root).added == ("r000000000000a002",)
    table = history.read_history(root)
    assert set(table.run_id) == set(MONTHS) and dead.run_id not in history.table_run_ids(root)
