"""What a run leaves in Prefect for the data engineers: its log (stage messages, counts,
timings; never a person id) reaches the Prefect API but not the terminal, and the committed run
publishes a table artifact of its headline estimates and link artifacts to its report and
published estimates (flows/artifacts.py, flows/__init__.py's quiet_console)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _deliveries import TINY_TREATED, write_spec, write_tiny_delivery

from flows.artifacts import HEADLINE_KEY, PUBLISHED_KEY, REPORT_KEY, headline_rows

B = 19


def test_headline_rows_are_the_national_published_rows_with_intervals_and_method():
    published = pd.DataFrame({
        "analysis": ["hir_table6", "hir_table6", "hir_table6"], "estimand": ["did", "did", "treated_before"],
        "jobcentre_id": [None, 7, None], "period": ["intervention"] * 3, "estimate": [0.12, 0.5, np.nan],
        "ci_low": [0.02, 0.1, np.nan], "ci_high": [0.22, 0.9, np.nan], "p_value": [0.01, 0.2, np.nan],
        "inference": ["wild", "wild", None], "cluster_level": ["jobcentre", "jobcentre", None],
        "n_clusters": [15, 15, 15], "n_replicates": [999, 999, 0]})
    rows = headline_rows(published)
    assert [(r["estimand"], r["estimate"]) for r in rows] == [("did", 0.12), ("treated_before", None)]  # no job centre
    assert rows[0] == {"analysis": "hir_table6", "estimand": "did", "period": "intervention", "estimate": 0.12,
                       "ci_low": 0.02, "ci_high": 0.22, "p_value": 0.01, "inference": "wild",
                       "cluster_level": "jobcentre", "n_clusters": 15, "n_replicates": 999}
    json.dumps(rows)  # what the Prefect API stores


def _flow_run(client, run_id: str):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    (flow_run,) = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"evaluate-{run_id}"])))
    return flow_run


def _logs(client, flow_run_id) -> list:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    out: list = []
    while True:
        page = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                limit=200, offset=len(out))
        out += page
        if len(page) < 200:
            return out


@pytest.mark.prefect
@pytest.mark.dask
def test_a_run_logs_its_stages_to_the_prefect_api_not_the_terminal_and_publishes_artifacts(
        tmp_path, harness, capfd):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.run import run_evaluation

    delivery = write_tiny_delivery(tmp_path / "delivery", n_persons=160)
    spec = write_spec(tmp_path / "spec.toml", bootstrap=B, treated=TINY_TREATED)
    result = run_evaluation(input_dir=delivery, output_url=str(tmp_path / "out"), spec=str(spec), workers=1)
    terminal = capfd.readouterr()

    with get_client(sync_client=True) as client:
        flow_run = _flow_run(client, result.run_id)
        stages = ("validated and staged in", "model inputs of 4 job centres", "linkage: ",
                  "estimate_share_did:", "committed run " + result.run_id)
        deadline = time.monotonic() + 120  # the log handlers send in batches, the last after the commit

        def complete(logs) -> bool:
            return any(log.task_run_id for log in logs) and all(
                any(log.message.startswith(stage) for log in logs) for stage in stages)

        while True:
            logs = _logs(client, flow_run.id)
            if complete(logs) or time.monotonic() > deadline:
                break
            time.sleep(1)
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))

    # the run's log: stage messages with counts and timings from the flow, task states from the workers
    messages = [log.message for log in logs]
    for stage in stages:
        assert any(m.startswith(stage) for m in messages), stage
    assert any(log.task_run_id for log in logs)
    # never a person id
    pids = {str(p) for p in pd.read_parquet(delivery / "persons.parquet")["person_id"]}
    words = {w.strip(",.:;()[]'\"") for m in messages for w in m.split()}
    assert not pids & words
    # the terminal stays quiet: the CLI draws its own progress
    assert "validated and staged in" not in terminal.err + terminal.out
    assert "Finished in state" not in terminal.err + terminal.out

    by_key = {a.key: a for a in artifacts}
    assert {HEADLINE_KEY, REPORT_KEY, PUBLISHED_KEY} <= set(by_key)
    table = by_key[HEADLINE_KEY].data
    table = json.loads(table) if isinstance(table, str) else table
    published = result.published[result.published["jobcentre_id"].isna()]
    assert len(table) == len(published) > 0
    did = next(r for r in table if r["estimand"] == "did" and r["period"] == "intervention")
    assert {"ci_low", "ci_high", "inference", "n_replicates"} <= set(did) and did["inference"]
    run_uri = Path(result.url).resolve().as_uri()  # link artifacts are stored as markdown links
    assert f"]({run_uri}/report/report.html)" in by_key[REPORT_KEY].data
    assert f"]({run_uri}/report/published_estimates.csv)" in by_key[PUBLISHED_KEY].data

    # stage timings are the stages' own: validate_and_stage is the task's time, start-up apart
    timings = result.manifest["timings_s"]
    with get_client(sync_client=True) as client:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    (validate,) = [t for t in tasks if t.name.startswith("validate_and_stage")]
    assert timings["startup"] >= 0
    # the manifest's time is the task body's, within the task run's own (was: the wait for it,
    # cluster start-up included)
    assert timings["validate_and_stage"] <= validate.total_run_time.total_seconds() + 0.002
