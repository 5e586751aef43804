"""bipdask.runtime.cleanup (``bipdask gc``): incomplete runs and stale temporary files go, committed
runs and runs being computed stay, nothing younger than the age limit is touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bipdask.runtime import claims, cleanup, storage

DAY = 86400.0


def _age(path: Path, seconds: float) -> None:
    """Make every file under ``path`` (or the file) look ``seconds`` old."""
    when = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (when, when))


def _run(root: Path, run_id: str, *, committed: bool, age: float) -> storage.RunLayout:
    run = storage.RunLayout.create(root, run_id)
    for rel in ("staged/persons.parquet", "staged/weeks/jobcentre_id=1/part-0.parquet", "quarantine/weeks.parquet",
                "model_input/share_cells/jc-1.parquet"):
        storage.write_bytes(b"person-level rows", storage.join(run.url, rel))
    if committed:
        storage.commit(run, {"run_id": run_id})
    _age(Path(run.url), age)
    return run


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "store"
    _run(root, "rcommitted", committed=True, age=10 * DAY)
    _run(root, "rfailed", committed=False, age=3 * DAY)
    _run(root, "ryoung", committed=False, age=3600)
    return root


def test_parse_age():
    assert cleanup.parse_age("2d") == 2 * DAY and cleanup.parse_age("12h") == 12 * 3600
    assert cleanup.parse_age("30m") == 1800 and cleanup.parse_age("0") == 0
    assert cleanup.parse_age("1.5w") == 1.5 * 7 * DAY
    for bad in ("", "2 days", "-1d", "d", "2y"):
        with pytest.raises(ValueError):
            cleanup.parse_age(bad)


def test_a_dry_run_lists_the_old_incomplete_run_and_removes_nothing(root):
    before = sorted(p for p in root.rglob("*"))
    removed, kept = cleanup.remove_leftovers(str(root), 2 * DAY, dry_run=True)
    assert [(r.kind, r.run_id) for r in removed] == [("incomplete run", "rfailed")] and kept == []
    assert removed[0].size == 4 * len(b"person-level rows")
    assert sorted(p for p in root.rglob("*")) == before
    text = cleanup.describe(removed, kept, dry_run=True)
    assert "would remove" in text and "rfailed" in text and "ryoung" not in text


def test_gc_removes_incomplete_runs_older_than_the_limit_and_never_a_committed_run(root):
    removed, _ = cleanup.remove_leftovers(str(root), 2 * DAY)
    assert [r.run_id for r in removed] == ["rfailed"]
    assert not (root / "runs" / "rfailed").exists()
    assert (root / "runs" / "ryoung" / "staged" / "persons.parquet").exists()  # younger than 2 d
    removed, _ = cleanup.remove_leftovers(str(root), 0)
    assert [r.run_id for r in removed] == ["ryoung"] and not (root / "runs" / "ryoung").exists()
    assert storage.list_runs(root) == ["rcommitted"]
    assert (root / "runs" / "rcommitted" / "staged" / "persons.parquet").exists()
    assert cleanup.remove_leftovers(str(root), 0) == ([], [])


def test_a_run_being_computed_is_kept_and_a_dead_runs_claim_does_not_protect_it(root):
    live = storage.RunLayout.create(root, "rfailed")
    claim = claims.claim_run(live)  # this process is computing it (heartbeat fresh)
    removed, kept = cleanup.remove_leftovers(str(root), 0)
    assert [r.run_id for r in removed] == ["ryoung"] and [k.run_id for k in kept] == ["rfailed"]
    assert f"pid {os.getpid()}" in kept[0].holder and "being computed" in cleanup.describe(removed, kept)
    assert claims.holds_claim(claim) and (root / "runs" / "rfailed" / "staged").exists()

    body = {**claims.read_claim(live), "pid": _exited_pid()}  # its owner was killed (SIGKILL)
    Path(claim.url).write_text(json.dumps(body))
    removed, kept = cleanup.remove_leftovers(str(root), 0)
    assert [r.run_id for r in removed] == ["rfailed"] and kept == []
    assert not (root / "runs" / "rfailed").exists()


def test_stale_temporary_files_go_and_fresh_ones_stay(root):
    committed = root / "runs" / "rcommitted" / "results"
    stale = committed / f".estimates.parquet.tmp-{'a' * 32}"
    fresh = root / "cache" / "model_input" / "share_cells" / f".k1.parquet.tmp-{'b' * 32}"
    for path, age in ((stale, 2 * 3600), (fresh, 60)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a write")
        _age(path, age)
    removed, _ = cleanup.remove_leftovers(str(root), 0)
    assert sorted(r.kind for r in removed) == ["incomplete run", "incomplete run", "temporary file"]
    assert not stale.exists() and fresh.exists()  # a live writer's temporary file is never an hour old
    assert (committed.parent / "_manifest.json").exists() and storage.list_runs(root) == ["rcommitted"]


@pytest.mark.s3
def test_gc_on_s3(s3_root):
    root = f"{s3_root}/gc"
    _ = [storage.write_bytes(b"rows", storage.join(root, "runs", rid, "staged", "persons.parquet"))
         for rid in ("rfailed", "rdone")]
    storage.commit(storage.RunLayout.create(root, "rdone"), {"run_id": "rdone"})
    removed, _ = cleanup.remove_leftovers(root, 0)
    assert [r.run_id for r in removed] == ["rfailed"]
    assert not storage.exists(storage.join(root, "runs", "rfailed", "staged", "persons.parquet"))
    assert storage.list_runs(root) == ["rdone"]
