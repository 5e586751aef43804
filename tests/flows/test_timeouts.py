"""flows/timeouts.py: every task and the flow have a timeout derived from the spec's B and the
delivery's size; a hung task fails the run (exit 3) and the claim is released."""

from __future__ import annotations

import time

import pytest
from _deliveries import TINY_TREATED, write_spec, write_tiny_delivery

from bipdask.errors import InfrastructureError, InputError
from flows import timeouts


def test_task_timeouts_grow_with_the_delivery_and_the_replicates(monkeypatch):
    monkeypatch.delenv(timeouts.TASK_TIMEOUT_VARIABLE, raising=False)
    monkeypatch.delenv(timeouts.FLOW_TIMEOUT_VARIABLE, raising=False)
    scale1 = timeouts.task_timeout_s(6.0, 999)
    assert scale1 == timeouts.MARGIN * (timeouts.BASE_S + timeouts.S_PER_MB * 6.0)
    assert timeouts.task_timeout_s(60.0, 999) > scale1 > timeouts.task_timeout_s(0.1, 999)
    assert timeouts.task_timeout_s(6.0, 9_999) > scale1 == timeouts.task_timeout_s(6.0, 99)  # B below 999: as 999
    assert timeouts.flow_timeout_s(6.0, 999) > timeouts.FLOW_TASKS * scale1


def test_operators_override_the_timeouts_and_a_bad_override_is_bad_input(monkeypatch):
    monkeypatch.setenv(timeouts.TASK_TIMEOUT_VARIABLE, "7")
    monkeypatch.setenv(timeouts.FLOW_TIMEOUT_VARIABLE, "90")
    assert timeouts.task_timeout_s(600.0, 9_999) == 7.0 and timeouts.flow_timeout_s(600.0, 9_999) == 90.0
    monkeypatch.setenv(timeouts.TASK_TIMEOUT_VARIABLE, "soon")
    with pytest.raises(InputError, match=timeouts.TASK_TIMEOUT_VARIABLE):
        timeouts.task_timeout_s(1.0, 99)


def test_every_task_of_the_flow_is_given_the_timeout():
    import flows.evaluate  # noqa: F401 - the flow's tasks
    from flows.tasks import TASKS

    names = {t.name for t in TASKS}
    assert {"validate_and_stage", "compute_model_inputs", "check_linkage", "estimate_share_did", "write_report",
            "commit_run"} <= names
    before = {t.name: t.timeout_seconds for t in TASKS}
    try:
        timeouts.set_task_timeouts(TASKS, 12.5)
        assert {t.timeout_seconds for t in TASKS} == {12.5}
    finally:
        for t in TASKS:
            t.timeout_seconds = before[t.name]


@pytest.fixture(scope="module")
def threads_cluster():
    """An in-process cluster: its worker threads see this test's monkeypatches."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.mark.prefect
@pytest.mark.dask
def test_a_hung_task_fails_the_run_with_exit_3_and_releases_the_claim(tmp_path, monkeypatch, harness,
                                                                      threads_cluster):
    import flows.tasks
    from bipdask.runtime import storage
    from flows.run import plan_run, run_evaluation

    def hang(*_args, **_kwargs):
        for _ in range(3000):  # five minutes, unless the task's timeout interrupts it
            time.sleep(0.1)
        raise AssertionError("the task was not timed out")

    monkeypatch.setattr(flows.tasks, "share_did_table", hang)  # in estimate_share_did, which does not retry
    monkeypatch.setenv(timeouts.TASK_TIMEOUT_VARIABLE, "20")
    delivery = write_tiny_delivery(tmp_path / "delivery", n_persons=120)
    spec = str(write_spec(tmp_path / "spec.toml", bootstrap=9, treated=TINY_TREATED))
    out = str(tmp_path / "out")
    with pytest.raises(InfrastructureError) as failed:
        run_evaluation(input_dir=delivery, output_url=out, spec=spec, dask_address=threads_cluster)
    assert failed.value.exit_code == 3
    assert "Timeout" in str(failed.value)
    run, _ = plan_run(delivery, out, spec)
    assert not storage.exists(storage.join(run.url, "_claim"))  # released: the next attempt need not wait
    assert not run.is_committed()
