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


# --------------------------------------------------------------------------- --bootstrap B, a quick look


def test_a_bootstrap_override_is_part_of_the_run_key_and_checked_before_hashing(tmp_path, monkeypatch):
    import pytest
    from _deliveries import TINY_TREATED, write_spec, write_tiny_delivery

    from bipdask.errors import InputError

    delivery = write_tiny_delivery(tmp_path / "delivery", n_persons=40)
    spec = str(write_spec(tmp_path / "spec.toml", bootstrap=20, treated=TINY_TREATED))
    out = str(tmp_path / "out")
    run_spec, plan_spec = flows.run.plan_run(delivery, out, spec)
    run_none, _ = flows.run.plan_run(delivery, out, spec, bootstrap=None)
    run_20, _ = flows.run.plan_run(delivery, out, spec, bootstrap=20)  # the spec's own B: the same run
    run_9, plan_9 = flows.run.plan_run(delivery, out, spec, bootstrap=9)
    assert run_spec.run_id == run_none.run_id == run_20.run_id != run_9.run_id
    assert plan_spec["bootstrap"] is None and plan_9["bootstrap"] == 9

    def hashed(*a, **k):
        raise AssertionError("the delivery was hashed")

    monkeypatch.setattr(storage, "hash_delivery", hashed)
    for bad in (-1, 10**9):
        with pytest.raises(InputError, match="run.bootstrap: must be within"):
            flows.run.plan_run(delivery, out, spec, bootstrap=bad)


def test_run_with_bootstrap_b_publishes_b_replicates(tmp_path, harness, pinned_code_version):
    from _deliveries import TINY_TREATED, write_spec, write_tiny_delivery

    delivery = write_tiny_delivery(tmp_path / "delivery", n_persons=160)
    spec = write_spec(tmp_path / "spec.toml", bootstrap=20, inference="pairs", cluster="person",
                      treated=TINY_TREATED)
    result = flows.run.run_evaluation(input_dir=delivery, output_url=str(tmp_path / "out"), spec=str(spec),
                                      bootstrap=9, workers=1)
    manifest = storage.open_run(str(tmp_path / "out"), result.run_id).manifest
    assert manifest["spec"]["content"]["bootstrap_replicates"] == 9
    est = storage.open_run(str(tmp_path / "out"), result.run_id).read_parquet("results/estimates.parquet")
    boot = est[est["n_replicates"].fillna(0) > 0]
    assert len(boot) > 0 and set(boot["n_replicates"]) == {9}
