"""One writer per run (bipdask.runtime.claims): exclusive create, heartbeat, stale takeover, release."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from bipdask.runtime import claims, storage


def _contend(run: storage.RunLayout, n: int = 8, stale_after: float = 60.0) -> list[claims.Claim]:
    """``n`` threads try to claim ``run`` at the same instant; the claims they won."""
    barrier = threading.Barrier(n)
    won: list[claims.Claim] = []

    def contend() -> None:
        barrier.wait()
        claim = claims.claim_run(run, stale_after=stale_after)
        if claim is not None:
            won.append(claim)

    threads = [threading.Thread(target=contend) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won


def test_exactly_one_of_many_concurrent_claims_wins_and_a_stale_claim_is_broken_once(tmp_path):
    run = storage.RunLayout.create(tmp_path / "store", "r1")
    won = _contend(run)
    assert len(won) == 1 and claims.holds_claim(won[0])
    first = won.pop()
    assert claims.claim_run(run, stale_after=60.0) is None  # live: others wait
    assert claims.refresh_claim(first)

    # The holder died: its heartbeat ages past the timeout; exactly one contender takes over.
    body = json.loads(Path(first.url).read_text())
    body["heartbeat_at"] -= 3600
    Path(first.url).write_text(json.dumps(body))
    won = _contend(run)
    assert len(won) == 1 and claims.holds_claim(won[0])
    assert not claims.holds_claim(first) and not claims.refresh_claim(first)
    claims.release_claim(first)  # not ours any more: a no-op
    assert claims.holds_claim(won[0])
    claims.release_claim(won[0])
    assert claims.read_claim(run) is None
    assert [p.name for p in Path(run.url).iterdir()] == []  # no stale leftovers


def test_a_claim_records_no_person_data_and_a_refresh_moves_the_heartbeat(tmp_path):
    run = storage.RunLayout.create(tmp_path / "store", "r2")
    claim = claims.claim_run(run, stale_after=60.0)
    body = claims.read_claim(run)
    assert set(body) == {"token", "claimed_at", "heartbeat_at", "host", "pid", "pid_started_at", "pid_namespace"}
    assert body["pid"] == os.getpid() and body["host"] == socket.gethostname()
    assert abs(body["pid_started_at"] - psutil.Process().create_time()) < 1
    body["heartbeat_at"] -= 10
    Path(claim.url).write_text(json.dumps(body))
    before = claims.read_claim(run)["heartbeat_at"]
    assert claims.refresh_claim(claim)
    assert claims.read_claim(run)["heartbeat_at"] > before


def test_an_unreadable_claim_counts_as_stale_and_is_taken_over(tmp_path):
    run = storage.RunLayout.create(tmp_path / "store", "r3")
    Path(run.claim).parent.mkdir(parents=True)
    Path(run.claim).write_text("{torn")
    claim = claims.claim_run(run, stale_after=60.0)
    assert claim is not None and claims.holds_claim(claim)


def _claimed_by(run: storage.RunLayout, **owner) -> Path:
    """A live-looking claim (fresh heartbeat) of another owner, written by hand."""
    claim = claims.claim_run(run, stale_after=3600.0)
    body = {**claims.read_claim(run), "token": "someone-else", **owner}
    Path(claim.url).write_text(json.dumps(body))
    return Path(claim.url)


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_claim_whose_process_is_gone_is_taken_over_at_once(tmp_path):
    run = storage.RunLayout.create(tmp_path / "store", "r4")
    _claimed_by(run, pid=_exited_pid())  # same host, same namespace, heartbeat just now
    assert claims.owner_gone(claims.read_claim(run))
    claim = claims.claim_run(run, stale_after=3600.0)
    assert claim is not None and claims.holds_claim(claim)


def test_a_reused_pid_does_not_keep_a_dead_claim_alive(tmp_path):
    run = storage.RunLayout.create(tmp_path / "store", "r5")
    started = psutil.Process().create_time()
    _claimed_by(run, pid=os.getpid(), pid_started_at=started - 100)  # our pid, but not the process that claimed
    claim = claims.claim_run(run, stale_after=3600.0)
    assert claim is not None and claims.read_claim(run)["token"] == claim.token


def test_a_live_owner_or_one_on_another_machine_keeps_its_claim(tmp_path):
    run = storage.RunLayout.create(tmp_path / "store", "r6")
    _claimed_by(run, pid=os.getpid(), pid_started_at=psutil.Process().create_time())
    assert claims.claim_run(run, stale_after=3600.0) is None
    for other in ({"host": "another-host"}, {"pid_namespace": "another-boot/1"}, {"pid_namespace": None}):
        run = storage.RunLayout.create(tmp_path / "store", f"r6-{len(str(other))}")
        _claimed_by(run, pid=_exited_pid(), **other)  # the pid means nothing there: wait for the heartbeat
        assert not claims.owner_gone(claims.read_claim(run))
        assert claims.claim_run(run, stale_after=3600.0) is None


def test_describe_claim_names_the_owner_and_the_time_until_stale():
    body = {"token": "t", "claimed_at": 1_800_000_000.0, "heartbeat_at": 1_800_000_100.0, "host": "node-7",
            "pid": 4242, "pid_started_at": 1.0, "pid_namespace": "x/1"}
    text = claims.describe_claim(body, stale_after=900.0, now=1_800_000_130.0)
    assert "pid 4242 on host node-7 since 2027-01-15 08:00:00 UTC" in text
    assert "last heartbeat 30 s ago" in text and "stale in 14 min 30 s" in text
    assert "\n" not in text
    assert "stale in 0 s" in claims.describe_claim(body, stale_after=900.0, now=1_800_010_000.0)
