"""The run manifest as a pure function (:func:`flows.manifest.build_manifest`) of hand-made task
results, and the typed reduce outputs it is built from (:mod:`flows.outputs`). No Prefect run,
no Dask, no storage."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from bipdask.spec import load_spec
from flows.manifest import build_manifest, spec_dict
from flows.outputs import ReduceOutput, merge_outputs

RUN_URL = "/data/out/runs/r0123456789abcdef"
STARTED = dt.datetime(2026, 3, 2, 3, 0, 1, 400000, tzinfo=dt.timezone.utc)
COMMITTED = dt.datetime(2026, 3, 2, 3, 7, 9, tzinfo=dt.timezone.utc)

TOP_KEYS = {"run_id", "run_key", "flow", "code_version", "spec", "seed", "inputs", "validation", "row_counts",
            "linkage", "estimation", "jobcentres", "outputs", "incremental", "timings_s", "started_at",
            "committed_at", "dask", "packages", "prefect"}
SECTION_KEYS = {
    "spec": {"name", "source", "content"},
    "inputs": {"delivery", "sha256"},
    "validation": {"contract_version", "rows_in", "rows_out", "quarantined", "problems", "input_hashes",
                   "week_span", "coverage"},
    "row_counts": {"input", "staged", "quarantined", "weeks_read_by_model_inputs", "share_cell_rows",
                   "model_input", "linkage", "estimates", "estimates_by_analysis", "reduce_outputs"},
    "estimation": {"bootstrap_replicates", "bootstrap_scheme", "seed", "cluster", "inference", "se", "notes"},
    "jobcentres": {"staged", "batches", "units", "treated_ids", "treated_names_not_found"},
    "incremental": {"cache", "reused", "recomputed", "reused_jobcentres", "recomputed_jobcentres", "keys"},
}


def _row(analysis: str, estimand: str = "did", jobcentre_id: int | None = None) -> dict:
    return {"analysis": analysis, "estimand": estimand, "period": "intervention", "jobcentre_id": jobcentre_id,
            "estimate": 0.1, "se": 0.01, "ci_low": 0.08, "ci_high": 0.12, "p_value": 0.001, "n_persons": 100,
            "n_obs": 1000}


def _batch(ids: list[int], reused: list[int], weeks_rows: int, share_cells: int, gap_spells: int) -> dict:
    """A ``compute_model_inputs`` result as the task returns it."""
    return {"urls": {"share_cells": [f"{RUN_URL}/model_input/share_cells/jc-{j:05d}.parquet" for j in ids]},
            "rows": {"share_cells": share_cells, "gap_spells": gap_spells}, "jobcentres": len(ids),
            "weeks_rows": weeks_rows, "reused": reused, "recomputed": [j for j in ids if j not in reused],
            "keys": [f"k{j}" for j in ids], "seconds": 1.5}


@pytest.fixture
def inputs() -> dict:
    spec = load_spec("hir")
    share = ReduceOutput(rows=[_row("share_internship_or_hours"), _row("share_internship_or_hours", jobcentre_id=1)],
                         files={"replicates_share_internship_or_hours":
                                f"{RUN_URL}/replicates/share_internship_or_hours.parquet"},
                         counts={"share_internship_or_hours": {"estimates": 2, "replicates": 999,
                                                               "replicate_columns": 4}},
                         seconds=2.0)
    durations = ReduceOutput(rows=[_row("hir_table4", "did_weeks")],
                             files={"figure1_raw_hazard": f"{RUN_URL}/results/figure1_raw_hazard.parquet"},
                             notes={"hir_table4": {"spells": 40}}, seconds=3.0)
    skipped = ReduceOutput.skipped(["hir_table9"], "no assignments or caseload table in the delivery")
    return dict(
        run_id="r0123456789abcdef", run_key="0123456789abcdef" * 4, run_url=RUN_URL,
        code_version={"bipdask": "0.1.0", "source_sha256": "abc", "git_sha": None},
        spec=spec, spec_source="hir", seed=7, cluster="person_id",
        input_dir="/data/delivery", input_hashes={"persons.parquet": "h1", "weeks/part-1.parquet": "h2"},
        validation={"contract_version": "1", "rows_in": {"weeks": 120, "persons": 10},
                    "rows_out": {"weeks": 117, "persons": 10}, "quarantined": {"weeks": {"W001": 2, "W002": 1}},
                    "problems": [], "input_hashes": {"persons.parquet": "h1"},
                    "week_span": ["2017-03-06", "2019-03-25"],
                    "staged_url": f"{RUN_URL}/staged", "jobcentre_ids": [1, 2, 3], "seconds": 0.5},
        model_inputs=[_batch([1, 2], reused=[2], weeks_rows=80, share_cells=12, gap_spells=5),
                      _batch([3], reused=[], weeks_rows=37, share_cells=6, gap_spells=2)],
        jobcentre_ids=[1, 2, 3], treated_ids=(1,), treated_names_not_found=("Faxe",),
        linkage={"available": True, "url": f"{RUN_URL}/results/linkage_report.parquet", "person_weeks": 50,
                 "matched": 48, "linked": 47, "trimmed": 1, "no_caseworker": 2, "no_caseload_record": 0,
                 "match_rate": 0.96, "usable_rate": 0.94, "floor": 0.9, "seconds": 0.25},
        reduced=merge_outputs([share, durations, skipped]),
        timings={"validate_and_stage": 0.51234, "estimate_share_did": 2.0},
        started_at=STARTED, committed_at=COMMITTED,
    )


def test_the_manifest_has_the_committed_keys(inputs):
    m = build_manifest(**inputs)
    assert set(m) == TOP_KEYS
    for section, keys in SECTION_KEYS.items():
        assert set(m[section]) == keys, section
    assert json.loads(json.dumps(m)) == m  # JSON as it is: what storage.commit writes


def test_the_manifest_values_come_from_the_task_results(inputs):
    m = build_manifest(**inputs)
    assert (m["run_id"], m["flow"], m["seed"]) == ("r0123456789abcdef", "evaluate", 7)
    assert m["spec"] == {"name": "hir", "source": "hir", "content": spec_dict(inputs["spec"])}
    assert m["inputs"] == {"delivery": "/data/delivery", "sha256": inputs["input_hashes"]}
    assert "staged_url" not in m["validation"] and m["validation"]["week_span"] == ["2017-03-06", "2019-03-25"]
    rows = m["row_counts"]
    assert rows["input"] == {"weeks": 120, "persons": 10} and rows["staged"]["weeks"] == 117
    assert rows["quarantined"] == {"weeks": 3}
    assert rows["weeks_read_by_model_inputs"] == 117 and rows["share_cell_rows"] == 18
    assert rows["model_input"] == {"gap_spells": 7, "share_cells": 18}  # the kinds the map wrote, no others
    assert rows["estimates"] == 3
    assert rows["estimates_by_analysis"] == {"hir_table4": 1, "share_internship_or_hours": 2}
    assert rows["reduce_outputs"]["share_internship_or_hours"]["replicates"] == 999
    assert rows["linkage"] == {"person_weeks": 50, "matched": 48, "linked": 47, "trimmed": 1, "no_caseworker": 2,
                               "no_caseload_record": 0}
    assert "url" not in m["linkage"] and "seconds" not in m["linkage"] and m["linkage"]["match_rate"] == 0.96
    est = m["estimation"]
    assert (est["bootstrap_replicates"], est["bootstrap_scheme"], est["seed"], est["cluster"]) == (
        999, "multinomial", 7, "person_id")
    assert est["notes"] == {"hir_table4": {"spells": 40},
                            "hir_table9": {"skipped": "no assignments or caseload table in the delivery"}}
    assert m["jobcentres"] == {"staged": 3, "batches": 2, "units": 3, "treated_ids": [1],
                               "treated_names_not_found": ["Faxe"]}
    out = m["outputs"]
    assert out["estimates"] == "results/estimates.parquet" and out["staged"] == "staged/"
    assert out["gap_spells"] == "model_input/gap_spells/" and out["share_cells"] == "model_input/share_cells/"
    assert out["linkage_report"] == "results/linkage_report.parquet"  # relative to the run
    assert out["figure1_raw_hazard"] == "results/figure1_raw_hazard.parquet"
    assert out["replicates_share_internship_or_hours"] == "replicates/share_internship_or_hours.parquet"
    inc = m["incremental"]
    assert inc == {"cache": "cache/model_input/", "reused": 1, "recomputed": 2, "reused_jobcentres": [2],
                   "recomputed_jobcentres": [1, 3], "keys": ["k1", "k2", "k3"]}
    assert m["timings_s"] == {"validate_and_stage": 0.512, "estimate_share_did": 2.0}
    assert (m["started_at"], m["committed_at"]) == ("2026-03-02T03:00:01+00:00", "2026-03-02T03:07:09+00:00")


def test_a_delivery_without_linkage_tables_has_no_linkage_report_or_counts(inputs):
    inputs["linkage"] = {"available": False, "reason": "no assignments or caseload table in the delivery",
                         "seconds": 0.0}
    m = build_manifest(**inputs)
    assert "linkage_report" not in m["outputs"]
    assert m["row_counts"]["linkage"] == {}
    assert m["linkage"] == {"available": False, "reason": "no assignments or caseload table in the delivery"}


def test_building_the_manifest_changes_none_of_its_inputs(inputs):
    before = json.dumps({k: v for k, v in inputs.items() if k not in ("spec", "reduced", "started_at",
                                                                       "committed_at")}, sort_keys=True)
    build_manifest(**inputs)["outputs"]["report"] = ["report/report.html"]  # what the flow adds later
    after = json.dumps({k: v for k, v in inputs.items() if k not in ("spec", "reduced", "started_at",
                                                                      "committed_at")}, sort_keys=True)
    assert before == after
    assert build_manifest(**inputs) == build_manifest(**inputs)  # no clock, no I/O


def test_reduce_outputs_are_frozen_and_merge_in_order():
    a = ReduceOutput(rows=[_row("x", "a")], notes={"x": {"n": 1}}, files={"f": "u1"}, seconds=1.0)
    b = ReduceOutput(rows=[_row("y", "b"), _row("y", "c")], notes={"x": {"n": 2}}, counts={"y": {"estimates": 2}},
                     seconds=2.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.rows = ()  # type: ignore[misc]
    merged = merge_outputs([a, b])
    assert [r["estimand"] for r in merged.rows] == ["a", "b", "c"]
    assert merged.notes == {"x": {"n": 2}} and merged.files == {"f": "u1"} and merged.counts == {"y": {"estimates": 2}}
    assert merged.seconds == 3.5 and isinstance(merged.rows, tuple)
    skipped = ReduceOutput.skipped(["hir_table3", "bip"], "no belief_survey table in the delivery", seconds=0.1)
    assert skipped.rows == () and skipped.counts == {} and skipped.files == {}
    assert skipped.notes == {"hir_table3": {"skipped": "no belief_survey table in the delivery"},
                             "bip": {"skipped": "no belief_survey table in the delivery"}}



def test_package_versions_and_the_flow_run_are_recorded_as_given(inputs):
    run = {"flow_run_id": "0b7c1a2e", "api": "configured", "ui_url": "http://ui:4200",
           "flow_run_url": "http://ui:4200/runs/flow-run/0b7c1a2e"}
    m = build_manifest(**inputs, packages={"pandas": "2.3.0", "numpy": "2.3.1"}, prefect=run)
    assert m["packages"] == {"numpy": "2.3.1", "pandas": "2.3.0"} and list(m["packages"]) == ["numpy", "pandas"]
    assert m["prefect"] == run
    bare = build_manifest(**inputs)
    assert bare["packages"] == {} and bare["prefect"] is None


def test_package_versions_are_the_installed_ones():
    import numpy
    import pandas
    import pyarrow

    from flows.version import package_versions

    versions = package_versions()
    assert {k: versions[k] for k in ("numpy", "pandas", "pyarrow")} == {
        "numpy": numpy.__version__, "pandas": pandas.__version__, "pyarrow": pyarrow.__version__}
    assert {"dask", "prefect"} <= set(versions)
    assert package_versions(("no-such-package-bipdask",)) == {}


def test_flow_run_record_links_a_configured_ui_never_the_runs_own_server(monkeypatch):
    from flows import api_server

    assert api_server.flow_run_record() is None  # outside a flow run
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__ID", "0b7c1a2e-5f3d-4c1b-9a8e-123456789abc")  # Prefect's mock
    monkeypatch.setattr(api_server, "configured_api_url", lambda: "http://prefect.agency.example:4200/api")
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://prefect.agency.example:4200/api"}):
        rec = api_server.flow_run_record()
    assert rec["flow_run_id"] == "0b7c1a2e-5f3d-4c1b-9a8e-123456789abc" and rec["api"] == "configured"
    assert rec["flow_run_url"] == "http://prefect.agency.example:4200/runs/flow-run/0b7c1a2e-5f3d-4c1b-9a8e-123456789abc"
    monkeypatch.setattr(api_server, "_OWN_SERVERS", {"http://127.0.0.1:5555/api"})
    monkeypatch.setattr(api_server, "configured_api_url", lambda: "http://127.0.0.1:5555/api")
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:5555/api"}):
        own = api_server.flow_run_record()
    assert own["api"] == "temporary" and own["flow_run_url"] is None and own["flow_run_id"]
    monkeypatch.setattr(api_server, "configured_api_url", lambda: "https://u:secret@prefect.example/api")
    with temporary_settings(updates={PREFECT_UI_URL: "https://u:secret@prefect.example"}):
        assert api_server.flow_run_record()["flow_run_url"] is None  # credentials never reach a manifest
