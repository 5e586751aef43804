"""One writer per run (bipdask.runtime.claims): exclusive create, heartbeat, stale takeover, release."""

from __future__ import annotations

import json
import threading
from pathlib import Path

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
    assert set(body) == {"token", "claimed_at", "heartbeat_at", "host", "pid"}
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
