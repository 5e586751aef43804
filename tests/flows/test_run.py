"""flows.run around the claim: a run that finds another live claim says whose it is (once per
holder) and waits for that run's commit."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import flows.run
from bipdask.runtime import claims, storage


def test_a_waiting_run_says_once_whose_claim_it_waits_for_and_when_it_goes_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("BIPDASK_CLAIM_STALE_S", "900")
    run = storage.RunLayout.create(tmp_path / "store", "r1")
    claim = claims.claim_run(run)
    body = {**claims.read_claim(run), "host": "node-7", "pid": 4242}  # another machine's live run
    Path(claim.url).write_text(json.dumps(body))
    polls = threading.Semaphore(0)
    lines: list[str] = []

    def commit_after_some_polls() -> None:
        for _ in range(20):
            polls.acquire()
        storage.commit(run, {"run_id": run.run_id})

    committer = threading.Thread(target=commit_after_some_polls)
    committer.start()
    original = storage.RunLayout.is_committed

    def is_committed(self) -> bool:
        polls.release()
        return original(self)

    monkeypatch.setattr(storage.RunLayout, "is_committed", is_committed)
    assert flows.run._wait_for_claim(run, 0.01, lines.append) is None  # the other run committed
    committer.join()
    assert len(lines) == 1  # said once, not on every poll
    assert f"run {run.run_id} is being computed by another process" in lines[0]
    assert "pid 4242 on host node-7" in lines[0] and re.search(r"stale in 1[45] min", lines[0])
    assert claims.read_claim(run)["token"] == claim.token  # a live claim is left alone
