"""The evaluate flow end to end: Prefect (test harness) on a Dask LocalCluster, tiny delivery."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _deliveries import (
    PLANTED_EFFECT,
    SMALL_B,
    TINY_TREATED,
    write_spec,
    write_tiny_delivery,
)

from bipdask.analyses.estimates import ESTIMATES_SCHEMA
from bipdask.publish import history
from bipdask.runtime import storage

pytestmark = pytest.mark.usefixtures("pinned_code_version")

@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    return write_tiny_delivery(tmp_path_factory.mktemp("delivery"))


@pytest.fixture(scope="module")
def pairs_spec(tmp_path_factory) -> str:
    """The person-level pairs bootstrap (B = 999): the labelled option these tests check on a
    delivery of 4 job centres, too few for a job-centre-level test."""
    return str(write_spec(tmp_path_factory.mktemp("spec") / "pairs.toml", bootstrap=999, inference="pairs",
                          cluster="person", treated=TINY_TREATED))


@pytest.fixture(scope="module")
def clusters(s3_root):
    """Scheduler addresses of a 1-worker and a 2-worker LocalCluster, shared by the tests
    (a cold worker spends most of a tiny run importing Prefect)."""
    from distributed import LocalCluster

    kw = dict(threads_per_worker=1, processes=True, dashboard_address=":0")
    with LocalCluster(n_workers=1, **kw) as one, LocalCluster(n_workers=2, **kw) as two:
        yield {1: one.scheduler_address, 2: two.scheduler_address}


@pytest.mark.prefect
@pytest.mark.dask
def test_flow_writes_tidy_estimates_and_manifest_and_recovers_planted_effect(delivery, pairs_spec, tmp_path, harness,
                                                                              caplog):
    from flows.run import run_evaluation

    with caplog.at_level(logging.DEBUG):
        result = run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=str(tmp_path / "out"), workers=2)
    run_dir = tmp_path / "out" / "runs" / result.run_id
    table = pq.read_table(run_dir / "results" / "estimates.parquet")
    assert table.schema.equals(ESTIMATES_SCHEMA, check_metadata=False)
    pooled = result.estimates[(result.estimates["estimand"] == "did") & result.estimates["jobcentre_id"].isna()]
    whole = pooled.set_index("period").loc["intervention"]
    assert whole["ci_low"] < PLANTED_EFFECT < whole["ci_high"]
    assert whole["p_value"] < 0.05
    reps = pd.read_parquet(run_dir / "replicates" / "share_internship_or_hours.parquet")  # person bootstrap
    assert len(reps) == 999 and whole["se"] == pytest.approx(reps["did|all|intervention"].std(ddof=1))
    assert {"intervention", "last_3_months"} <= set(pooled["period"])
    manifest = json.loads((run_dir / "_manifest.json").read_text())
    assert manifest["run_id"] == result.run_id
    assert manifest["code_version"]["bipdask"]
    assert set(manifest["inputs"]["sha256"]) >= {"persons.parquet", "weeks/part-00001.parquet"}
    assert manifest["row_counts"]["input"]["weeks"] == manifest["row_counts"]["staged"]["weeks"] > 0
    assert set(manifest["timings_s"]) >= {"validate_and_stage", "compute_model_inputs", "estimate_share_did"}
    assert manifest["jobcentres"]["treated_ids"] == [1, 2]
    # the cluster's own counters: one entry per worker, bytes between workers counted (URLs travel, not frames)
    assert manifest["dask"]["workers"] == len(manifest["dask"]["worker_rss_mib_at_end"]) >= 1
    assert 0 <= manifest["dask"]["bytes_between_workers"] < 50 * 2**20
    assert manifest["validation"]["input_hashes"] == manifest["inputs"]["sha256"]  # run key = what was read
    assert json.loads((tmp_path / "out" / "runs" / "latest.json").read_text())["run_id"] == result.run_id
    assert history.table_run_ids(str(tmp_path / "out")) == [result.run_id]  # appended after the commit
    assert manifest["packages"]["numpy"] == np.__version__ and "prefect" in manifest["packages"]
    assert manifest["prefect"]["flow_run_id"]  # the report links it when the API has a UI
    assert "Effect (DiD)" in result.describe()
    # Privacy: no person id in any log record of the run.
    pids = {str(p) for p in pd.read_parquet(delivery / "persons.parquet")["person_id"]}
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert not any(p in logged for p in pids)

    # Same inputs ⇒ same run id ⇒ the rerun is a no-op reporting the committed run.
    again = run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=str(tmp_path / "out"), workers=1, dask_address="tcp://0.0.0.0:1")
    assert again.reused and again.run_id == result.run_id
    assert "already committed" in again.describe()


@pytest.mark.prefect
@pytest.mark.dask
def test_estimates_are_byte_identical_on_one_and_two_workers(delivery, pairs_spec, tmp_path, harness, clusters):
    from flows.run import run_evaluation

    one = run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=str(tmp_path / "w1"), dask_address=clusters[1],
                         batch_size=4)
    two = run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=str(tmp_path / "w2"), dask_address=clusters[2],
                         batch_size=1)
    assert one.run_id == two.run_id
    assert (one.manifest["jobcentres"]["batches"], two.manifest["jobcentres"]["batches"]) == (1, 4)
    rel = Path("runs") / one.run_id / "results" / "estimates.parquet"
    assert (tmp_path / "w1" / rel).read_bytes() == (tmp_path / "w2" / rel).read_bytes()


@pytest.mark.prefect
@pytest.mark.dask
def test_crash_before_commit_leaves_run_invisible_and_rerun_commits(delivery, pairs_spec, tmp_path, harness, clusters,
                                                                    monkeypatch, caplog):
    import flows.evaluate
    from bipdask.errors import InfrastructureError
    from flows.run import run_evaluation

    root = str(tmp_path / "crash")

    class CrashingCommit:  # the process dies after results are written, before the manifest
        def submit(self, *args, **kwargs):
            raise OSError("killed")

    monkeypatch.setattr(flows.evaluate, "commit_run", CrashingCommit())
    with pytest.raises(InfrastructureError, match="OSError"):
        run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=root, dask_address=clusters[2])
    leftovers = list((tmp_path / "crash" / "runs").glob("*/results/estimates.parquet"))
    assert len(leftovers) == 1  # written, but not committed
    assert storage.list_runs(root) == []
    with pytest.raises(FileNotFoundError):
        storage.open_run(root)
    assert history.table_run_ids(root) == []  # the cross-run table never shows the uncommitted run
    monkeypatch.undo()

    class CrashingSync:  # the process dies between the commit and the cross-run append
        def submit(self, *args, **kwargs):
            raise OSError("killed")

    monkeypatch.setattr(flows.evaluate, "sync_history", CrashingSync())
    with caplog.at_level(logging.WARNING):
        result = run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=root, dask_address=clusters[2])
    assert storage.list_runs(root) == [result.run_id] and not result.reused  # the append's failure fails nothing
    assert history.table_run_ids(root) == []
    assert any("not added to the cross-run table" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    from bipdask.cli.main import main

    assert main(["gc", root]) == 0  # the repair
    assert history.table_run_ids(root) == [result.run_id]
    table = history.read_history(root)
    assert len(table) == len(storage.open_run(root).read_parquet("published/estimates.parquet"))
    assert table.delivery_last_week.notna().all() and table.input_sha256.notna().all()
    assert (table.spec_name == result.manifest["spec"]["name"]).all()


@pytest.mark.prefect
@pytest.mark.dask
def test_broken_delivery_is_an_input_error(tmp_path, harness, clusters):
    from bipdask.errors import InputError
    from flows.run import run_evaluation

    root = write_tiny_delivery(tmp_path / "broken", n_persons=20)
    (root / "jobcentres.parquet").unlink()
    with pytest.raises(InputError, match="jobcentres"):
        run_evaluation(input_dir=root, output_url=str(tmp_path / "out"), dask_address=clusters[1])
    assert storage.list_runs(tmp_path / "out") == []


@pytest.mark.prefect
@pytest.mark.dask
@pytest.mark.s3
def test_flow_writes_and_commits_on_s3(delivery, pairs_spec, tmp_path, harness, clusters, s3_root):
    from flows.run import load_result, run_evaluation

    result = run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=s3_root, dask_address=clusters[2])
    assert storage.list_runs(s3_root) == [result.run_id]
    assert storage.list_files(storage.join(result.url, "staged", "weeks"), ".parquet")
    again = load_result(s3_root)
    assert again.run_id == result.run_id
    pd.testing.assert_frame_equal(again.estimates, result.estimates)
    run_evaluation(input_dir=delivery, spec=pairs_spec, output_url=str(tmp_path / "local"), dask_address=clusters[1])
    rel = f"runs/{result.run_id}/results/estimates.parquet"
    assert storage.read_bytes(storage.join(s3_root, rel)) == (tmp_path / "local" / rel).read_bytes()


# --------------------------------------------------------------------------- HIR hazards in the flow

@pytest.fixture(scope="module")
def synth_delivery(tmp_path_factory) -> Path:
    from bipdask.synth import generate

    root = tmp_path_factory.mktemp("synth") / "input"
    generate(root, scale=0.03, seed=8)
    return root


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory) -> Path:
    """B = 20 with the person-level pairs bootstrap, whose replicate files these tests read."""
    return write_spec(tmp_path_factory.mktemp("spec") / "hir_b20.toml", inference="pairs", cluster="person")


PROGRESS_EVENTS: list[tuple[str, int, int]] = []


@pytest.fixture(scope="module")
def synth_runs(synth_delivery, small_spec, tmp_path_factory, harness, clusters):
    """The synthetic delivery evaluated on 2 workers (1 job centre per task) and on 1 worker."""
    from flows.run import run_evaluation

    out = tmp_path_factory.mktemp("synth_out")
    events = PROGRESS_EVENTS
    two = run_evaluation(input_dir=synth_delivery, output_url=str(out / "w2"), spec=str(small_spec),
                         dask_address=clusters[2], batch_size=7, progress=lambda *e: events.append(e))
    one = run_evaluation(input_dir=synth_delivery, output_url=str(out / "w1"), spec=str(small_spec),
                         dask_address=clusters[1], batch_size=40)
    return out, one, two


@pytest.mark.prefect
@pytest.mark.dask
def test_flow_writes_hazard_estimates_figures_linkage_and_replicates(synth_runs, synth_delivery):
    out, _, result = synth_runs
    run_dir = out / "w2" / "runs" / result.run_id
    est = result.estimates
    assert {"hir_table4", "hir_table7", "hir_table9"} <= set(est["analysis"])
    t4 = est[(est["analysis"] == "hir_table4") & est["jobcentre_id"].isna()].set_index("estimand")
    groups = {"participating_before", "participating_intervention", "other_before", "other_intervention"}
    assert set(t4.index) == groups | {"did_weeks", "did_pct", "rmst52_did_weeks", "hazard_ratio"} | {
        f"rmst52_{g}" for g in groups}
    assert (t4["se"] > 0).all() and (t4["n_obs"] > 0).all()
    assert est.loc[est["analysis"] == "hir_table4", "jobcentre_id"].notna().any()
    t9 = est[est["analysis"] == "hir_table9"].set_index("estimand")
    assert {"hr_caseload", "hr_casemiss", "hr_caseload_change", "hr_change_miss",
            "caseload", "caseload_change"} == set(t9.index)  # Cox hazard ratios and share LPMs
    assert 0.5 < t9.loc["hr_caseload", "estimate"] < 1.5
    assert (t9.loc[["caseload", "caseload_change"], "se"] > 0).all()
    t10 = est[est["analysis"] == "hir_table10"].set_index("estimand")
    beliefs = {"internship_3m", "ordinary_hours_1y", "job_2y"}
    assert beliefs | {f"hr_belief_{b}" for b in beliefs} <= set(t10.index)
    assert (t10.loc[list(beliefs), "se"] > 0).all()
    t8 = est[est["analysis"] == "hir_table8"].set_index("estimand")
    assert {"ordinary_employment", "flex_job", "ledighedsydelse", "disability_pension"} <= set(t8.index)
    assert {f"{d}:persons_did" for d in ("ordinary_employment", "flex_job", "ledighedsydelse",
                                         "disability_pension")} <= set(t8.index)
    t3 = est[est["analysis"] == "hir_table3"]
    assert set(t3["estimand"]) == beliefs and set(t3["period"]) == {"pre", "post", "difference"}
    bip = est[est["analysis"].str.startswith("bip_")]
    assert {"bip_caseworker_effectiveness", "bip_caseworker_change", "bip_progression"} == set(bip["analysis"])
    # A tiny delivery: BIP resamples can leave too few caseworkers; above 1 % failed the interval
    # is withheld, and every bootstrap row reports its failure share.
    failed = pd.read_parquet(run_dir / "replicates" / "bip_caseworker_effectiveness.parquet")[
        "increase|all|all"].isna().mean()
    increase = bip[bip["estimand"] == "increase"]
    assert increase["se"].notna().all() == (failed <= 0.01)
    assert increase["replicate_failure_share"].tolist() == [failed]
    pairs = est[est["inference"] == "pairs"]
    assert len(pairs) and pairs["replicate_failure_share"].between(0, 1).all()
    assert pairs.loc[pairs["replicate_failure_share"] > 0.01, ["se", "ci_low", "ci_high", "p_value"]].isna().all().all()

    for name in ("figure1_raw_hazard", "figure2_km", "linkage_report"):
        assert (run_dir / "results" / f"{name}.parquet").is_file()
    # every estimand the run emits has a unit, and the release says it
    from bipdask.publish.release import RELEASE_FILE, UNITS, unit_of
    unmapped = sorted({(a, e) for a, e in zip(est["analysis"], est["estimand"]) if unit_of(a, e) not in UNITS})
    assert not unmapped
    release = pd.read_parquet(run_dir / RELEASE_FILE)
    assert len(release) == len(est) and release["unit"].notna().all() and RELEASE_FILE in result.manifest["files"]
    assert set(release["inference"].dropna()) <= {"wild", "pairs", "analytic", "randomization", "placebo", "none"}
    km = pd.read_parquet(run_dir / "results" / "figure2_km.parquet")
    assert set(km["group"]) == {"participating_before", "participating_intervention", "other_before",
                                "other_intervention"}
    for analysis in ("hir_table3", "hir_table4", "hir_table7", "hir_table8", "hir_table9", "hir_table10",
                     "bip_caseworker_effectiveness", "bip_caseworker_change"):
        reps = pd.read_parquet(run_dir / "replicates" / f"{analysis}.parquet")
        assert len(reps) == SMALL_B and reps.shape[1] > 1
    reps9 = pd.read_parquet(run_dir / "replicates" / "hir_table9.parquet")
    assert {"hr_caseload|all|intervention", "caseload|all|intervention"} <= set(reps9.columns)
    for kind in ("gap_spells", "first_lab_spells", "spell_counts", "spell_persons", "course_exit_cells",
                 "course_exit_persons", "time_varying", "share_weeks", "linkage_counts", "share_cells",
                 "new_course_share_cells"):
        assert list((run_dir / "model_input" / kind).glob("jc-*.parquet"))
    # Table 7's share block: pooled Table 6 rows over the new courses of hir_table7's spells
    new = est[est["analysis"] == "share_internship_or_hours_new_courses"]
    assert set(zip(new["estimand"], new["period"])) == {
        ("did", "intervention"), ("mean_participating", "before"), ("mean_participating", "intervention"),
        ("mean_others", "before"), ("mean_others", "intervention")} and new["jobcentre_id"].isna().all()
    assert (new["se"] > 0).all() and new["estimate"].between(-1, 1).all()
    assert len(pd.read_parquet(run_dir / "replicates" / "share_internship_or_hours_new_courses.parquet")) == SMALL_B
    new_cells = pd.read_parquet(run_dir / "model_input" / "new_course_share_cells")
    firsts = pd.read_parquet(run_dir / "model_input" / "first_lab_spells")
    assert set(zip(new_cells["person_id"], new_cells["period"].map({"before": 0, "intervention": 1}))) == set(
        zip(firsts["person_id"], firsts["E"]))
    gaps = pd.read_parquet(run_dir / "model_input" / "gap_spells")
    assert set(gaps.columns) >= {"D", "E", "jobcentre_id", "person_id", "duration", "event"} and len(gaps.columns) <= 7

    # the data and first-stage tables: Table 1 counts the planted persons; the caseload recovers the realised means
    truth = json.loads((synth_delivery / "truth.json").read_text())["realised"]
    persons = est[(est["analysis"] == "hir_table1_persons") & est["jobcentre_id"].isna()].set_index(
        ["estimand", "period"])["estimate"]
    treated_names = set(truth["caseload_fte_true_mean_by_subperiod"])
    for period in ("before", "intervention"):
        planted = [v[period] for k, v in truth["persons_per_jobcentre"].items() if k in treated_names]
        others = [v[period] for k, v in truth["persons_per_jobcentre"].items() if k not in treated_names]
        assert persons[("persons_participating", period)] == sum(planted)
        assert persons[("persons_others", period)] == sum(others)
    assert {"hir_table2_background", "hir_table5_lab_mix"} <= set(est["analysis"])
    # persons in one job centre each: the tables come from the units' sums, the LAB weeks are not written
    assert list((run_dir / "model_input" / "descriptive_moments").glob("jc-*.parquet"))
    assert not (run_dir / "model_input" / "lab_weeks").exists()
    caseload = est[(est["analysis"] == "hir_caseload") & est["jobcentre_id"].isna()].set_index(["estimand", "period"])
    realised_baseline = np.mean([v[0] for v in truth["caseload_fte_true_mean_by_subperiod"].values()])
    assert abs(caseload.loc[("caseload_fte", "baseline"), "estimate"] - realised_baseline) < 1.0
    change = caseload.loc[("change", "intervention")]
    assert change["inference"] == "wild" and change["cluster_level"] == "jobcentre" and change["n_clusters"] == 15

    shares = pd.read_parquet(run_dir / "model_input" / "share_weeks")
    assert len(shares.columns) == 9 and {"caseworker_id", "in_internship_or_hours"} <= set(shares.columns)
    assert "caseworker_id" in pd.read_parquet(run_dir / "model_input" / "time_varying").columns

    html = (run_dir / "report" / "report.html").read_text(encoding="utf-8")
    assert "Table A" in html and "data:image/png;base64," in html
    for key in ("caseload_table", "table1_persons", "table2_background", "table5_lab_mix"):
        assert f'id="{key}"' in html, key
    assert "new courses (the second block" not in html  # Table 7's share block is filled
    assert (run_dir / "report" / "report.da.html").is_file()
    assert not list((run_dir / "report").rglob("*.parquet"))  # no replicates or microdata in the report

    report = pd.read_parquet(run_dir / "results" / "linkage_report.parquet")
    assert "person_id" not in report.columns
    m = result.manifest
    overall = report[report["level"] == "overall"].iloc[0]
    assert m["linkage"]["person_weeks"] == overall["person_weeks"] > 0
    assert 0.93 < m["linkage"]["match_rate"] < 1.0  # the generator plants ≈97 %
    planted = json.loads((synth_delivery / "truth.json").read_text())["realised"]["linkage"]
    assert m["linkage"]["person_weeks"] == planted["rc_weeks_intervention"]
    assert m["linkage"]["matched"] == planted["linked"]  # Boks 1 linkage finds exactly the planted links
    rows = m["row_counts"]
    assert rows["model_input"]["gap_spells"] == len(gaps)
    assert rows["model_input"]["time_varying"] > 0 and rows["linkage"]["matched"] == overall["matched"]
    assert rows["model_input"]["share_weeks"] == len(shares) == overall["person_weeks"]
    assert set(m["timings_s"]) >= {"compute_model_inputs", "check_linkage", "estimate_hir_durations",
                                   "estimate_hir_mediators", "estimate_hir_beliefs", "estimate_hir_exits",
                                   "estimate_hir_belief_change", "estimate_bip", "estimate_hir_descriptives",
                                   "estimate_hir_first_stage", "write_results"}
    assert rows["estimates_by_analysis"]["hir_table10"] == len(t10) and sum(rows["estimates_by_analysis"].values()) \
        == rows["estimates"] == len(est)
    assert rows["reduce_outputs"]["hir_table8"]["replicates"] == SMALL_B
    assert m["estimation"]["bootstrap_replicates"] == SMALL_B


@pytest.mark.prefect
@pytest.mark.dask
def test_the_flow_reports_every_stage_to_the_progress_callback_until_done(synth_runs):
    messages = [stage for stage, _, total in PROGRESS_EVENTS if total == 0]
    assert len(messages) == 1 and messages[0].startswith("Dask dashboard: http")
    stages = list(dict.fromkeys(stage for stage, _, total in PROGRESS_EVENTS if total > 0))
    assert stages == ["validate and stage", "model inputs (job centre batches)", "estimates and bootstrap",
                      "report and commit"]
    for stage in stages:
        counts = [(done, total) for s, done, total in PROGRESS_EVENTS if s == stage]
        assert counts[0][0] == 0 and counts[-1][0] == counts[-1][1] > 0
        assert [d for d, _ in counts] == sorted(d for d, _ in counts)
    batches = [total for s, _, total in PROGRESS_EVENTS if s.startswith("model inputs")]
    assert batches[-1] == synth_runs[2].manifest["jobcentres"]["batches"] > 1


@pytest.mark.prefect
@pytest.mark.dask
def test_hazard_results_are_byte_identical_on_one_and_two_workers(synth_runs):
    out, one, two = synth_runs
    assert one.run_id == two.run_id
    assert one.manifest["jobcentres"]["batches"] < two.manifest["jobcentres"]["batches"]
    base = Path("runs") / one.run_id
    files = ["results/estimates.parquet", "results/figure1_raw_hazard.parquet", "results/figure2_km.parquet",
             "results/linkage_report.parquet", "replicates/hir_table4.parquet", "replicates/hir_table9.parquet",
             "replicates/hir_table3.parquet", "replicates/hir_table8.parquet", "replicates/hir_table10.parquet",
             "replicates/bip_caseworker_effectiveness.parquet", "replicates/bip_caseworker_change.parquet",
             "replicates/bip_progression.parquet", "replicates/share_internship_or_hours.parquet",
             "replicates/share_internship_or_hours_new_courses.parquet"]
    for f in files:
        assert (out / "w1" / base / f).read_bytes() == (out / "w2" / base / f).read_bytes(), f


BIP_FILES = ["results/estimates.parquet", "replicates/bip_caseworker_effectiveness.parquet",
             "replicates/bip_caseworker_change.parquet", "replicates/bip_progression.parquet"]


@pytest.mark.prefect
@pytest.mark.dask
def test_bip_replicate_blocks_of_any_size_give_byte_identical_results(synth_runs, synth_delivery, small_spec,
                                                                      tmp_path, clusters, monkeypatch):
    """The BIP replicates in blocks of 7 (three block tasks, cut inside the bootstraps' own blocks)
    and in one block: the same estimates and replicate files, byte for byte."""
    from flows.run import run_evaluation

    out, _, two = synth_runs
    monkeypatch.setenv("BIPDASK_BIP_BLOCK_REPLICATES", "7")
    cut = run_evaluation(input_dir=synth_delivery, output_url=str(tmp_path / "blocks"), spec=str(small_spec),
                         dask_address=clusters[2], batch_size=7)
    notes = cut.manifest["estimation"]["notes"]["bip"], two.manifest["estimation"]["notes"]["bip"]
    assert (notes[0]["replicate_blocks"], notes[1]["replicate_blocks"]) == (3, 1)
    base = Path("runs") / two.run_id
    for f in BIP_FILES:
        assert (tmp_path / "blocks" / base / f).read_bytes() == (out / "w2" / base / f).read_bytes(), f


def test_bip_replicate_windows_cover_the_run_once_in_order(monkeypatch):
    from flows.evaluate import bip_replicate_windows

    monkeypatch.delenv("BIPDASK_BIP_BLOCK_REPLICATES", raising=False)
    assert bip_replicate_windows(0, 2) == []
    assert bip_replicate_windows(20, 2) == [(0, 20)]                       # one bootstrap block: one task
    assert bip_replicate_windows(999, 2) == [(0, 500), (500, 999)]          # a block per worker
    windows = bip_replicate_windows(9999, 2)
    assert len(windows) == 10 and all(b0 % 500 == 0 for b0, _ in windows)
    assert [b for w in windows for b in range(*w)] == list(range(9999))
    monkeypatch.setenv("BIPDASK_BIP_BLOCK_REPLICATES", "7")
    assert bip_replicate_windows(20, 1) == [(0, 7), (7, 14), (14, 20)]


@pytest.mark.prefect
@pytest.mark.dask
def test_job_centres_cut_into_person_hash_parts_give_the_same_estimates(synth_runs, synth_delivery, small_spec,
                                                                         tmp_path, clusters, monkeypatch):
    """Every model input is per person or a sum over persons, so cutting each job centre into parts
    (the map side's memory bound) must not change an estimate beyond rounding."""
    from flows.run import run_evaluation

    out, whole, _ = synth_runs
    monkeypatch.setenv("BIPDASK_MAX_UNIT_ROWS", "500")
    cut = run_evaluation(input_dir=synth_delivery, output_url=str(tmp_path / "cut"), spec=str(small_spec),
                         dask_address=clusters[2], batch_size=7)
    assert cut.manifest["jobcentres"]["units"] > 2 * whole.manifest["jobcentres"]["units"]
    names = [p.name for p in (tmp_path / "cut" / "runs" / cut.run_id / "model_input" / "gap_spells").iterdir()]
    assert any("-p01of" in n for n in names)
    # sums over persons have a row per part (summed by the reduce): linkage counts, spell counts, moments
    per_part = ("linkage_counts", "spell_counts", "spell_persons", "share_moments", "new_course_share_moments",
                "descriptive_moments")
    assert cut.manifest["row_counts"]["model_input"] == whole.manifest["row_counts"]["model_input"] | {
        k: cut.manifest["row_counts"]["model_input"][k] for k in per_part}
    assert cut.manifest["row_counts"]["linkage"] == whole.manifest["row_counts"]["linkage"]
    key = ["analysis", "estimand", "period", "jobcentre_id"]
    a = whole.estimates.sort_values(key, kind="mergesort").reset_index(drop=True)
    b = cut.estimates.sort_values(key, kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(a[key], b[key])
    for col in ("estimate", "se", "ci_low", "ci_high", "p_value", "n_obs", "n_persons"):
        np.testing.assert_allclose(b[col].to_numpy(float), a[col].to_numpy(float), rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=col)


@pytest.mark.prefect
@pytest.mark.dask
def test_statistics_summed_in_trees_give_the_estimates_of_the_gathered_unit_files(synth_delivery, tmp_path, harness,
                                                                                  clusters, monkeypatch):
    """The reduces that sum the units' statistics (spell counts and persons, share and descriptive
    moments, exit cells, linkage counts, BIP first hits) read the root of a tree of combine tasks (flows/tree.py):
    the same estimates and replicates as reading every unit's file, byte for byte, and the same
    bytes on 1 and 2 workers (the tree's shape is fixed by the unit list)."""
    import flows.evaluate
    import flows.tree
    from flows.run import run_evaluation

    spec = write_spec(tmp_path / "wild.toml", bootstrap=19, inference="wild", cluster="jobcentre")
    monkeypatch.setenv("BIPDASK_MAX_UNIT_ROWS", "3000")  # more units than job centres
    monkeypatch.setattr(flows.tree, "FAN_IN", 3)  # several levels on a small delivery
    runs = {}
    for name, address, batch in (("tree2", clusters[2], 7), ("tree1", clusters[1], 40)):
        runs[name] = run_evaluation(input_dir=synth_delivery, output_url=str(tmp_path / name), spec=str(spec),
                                    dask_address=address, batch_size=batch)
    with monkeypatch.context() as m:  # the previous wiring: every reduce reads all its units' files
        m.setattr(flows.evaluate, "tree_reduce", lambda kind, urls, out_url: list(urls))
        runs["gathered"] = run_evaluation(input_dir=synth_delivery, output_url=str(tmp_path / "gathered"),
                                          spec=str(spec), dask_address=clusters[2], batch_size=7)
    run_id = runs["tree2"].run_id
    assert runs["tree2"].manifest["jobcentres"]["units"] > 9  # more than FAN_IN**2 / 2: at least two levels
    tree = tmp_path / "tree2" / "runs" / run_id / "model_input" / "_tree"
    for kind in ("spell_counts", "spell_persons", "share_moments", "new_course_share_moments", "descriptive_moments",
                 "course_exit_cells", "linkage_counts"):
        assert list((tree / kind).glob("level2-*.parquet")), kind
    assert list((tree / "bip_first_hits").glob("level1-*.parquet"))  # the BIP job centres' units
    assert not (tmp_path / "gathered" / "runs" / run_id / "model_input" / "_tree").exists()
    assert runs["tree2"].manifest["estimation"]["notes"]["share_internship_or_hours"]["input"] == "unit moments"

    def files(name: str) -> dict[str, bytes]:
        run = tmp_path / name / "runs" / run_id
        paths = [run / "results" / "estimates.parquet", run / "results" / "linkage_report.parquet",
                 *sorted((run / "replicates").glob("*.parquet"))]
        return {p.relative_to(run).as_posix(): p.read_bytes() for p in paths}

    gathered = files("gathered")
    assert len(gathered) > 4
    assert files("tree2") == gathered
    assert files("tree1") == gathered


@pytest.mark.prefect
@pytest.mark.dask
def test_match_rate_below_the_floor_stops_the_run_with_an_input_error(synth_delivery, small_spec, tmp_path,
                                                                      harness, clusters):
    import shutil

    from bipdask.errors import EXIT_BAD_INPUT, InputError
    from flows.run import run_evaluation

    broken = tmp_path / "few_assignments"
    shutil.copytree(synth_delivery, broken)
    a = pq.read_table(broken / "assignments.parquet")
    keep = np.random.default_rng(np.random.SeedSequence([1, 2])).random(a.num_rows) < 0.3
    pq.write_table(a.filter(pa.array(keep)), broken / "assignments.parquet")
    with pytest.raises(InputError, match="match rate") as err:
        run_evaluation(input_dir=broken, output_url=str(tmp_path / "out"), spec=str(small_spec),
                       dask_address=clusters[2])
    assert err.value.exit_code == EXIT_BAD_INPUT == 2
    # Counts only: "linkage: match rate x% below the floor of 90% (N rows): M of N …; the causes".
    import re

    assert re.fullmatch(r"linkage: match rate \d+\.\d% below the floor of 90% \(\d+ rows\): "
                        r"\d+ of \d+ person-weeks matched a caseworker's caseload record; "
                        r"\d+ have no caseworker \(no assignment covers the week\); "
                        r"\d+ no caseload record for their caseworker's week; "
                        r"job centre \d+ holds \d+ of the \d+ unmatched", str(err.value))
    assert "below the floor of 90%" in str(err.value)
    assert storage.list_runs(tmp_path / "out") == []


def test_the_source_digest_follows_source_edits_not_caches_and_decides_the_version_key(tmp_path, monkeypatch):
    import sys

    import flows.version as ev

    pkg = tmp_path / "digestpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "spec.toml").write_text("a = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(ev, "SOURCE_PACKAGES", ("digestpkg",))
    first = ev.source_digest()
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (pkg / "notes.txt").write_text("not source")
    assert ev.source_digest() == first
    (pkg / "spec.toml").write_text("a = 2\n")
    assert ev.source_digest() != first
    sys.modules.pop("digestpkg", None)
    same = {"bipdask": "0.1.0", "source_sha256": "abc", "git_sha": "one"}
    assert ev.version_key(same) == ev.version_key({**same, "git_sha": "two"})
    assert ev.version_key(same) != ev.version_key({**same, "source_sha256": "abd"})


def test_unit_batches_follow_batch_size_then_worker_count_and_balance_rows():
    from bipdask.prepare.partitions import Unit
    from flows.evaluate import DEFAULT_BATCH_SIZE, unit_batches

    units = [Unit(j, rows=100) for j in range(1, 11)]
    assert [len(b) for b in unit_batches(units, batch_size=4)] == [4, 3, 3]
    assert len(unit_batches(units, n_batches=3)) == 3
    assert len(unit_batches(units, n_batches=3, batch_size=5)) == 2
    assert len(unit_batches(units)) == 2 and DEFAULT_BATCH_SIZE == 8
    assert unit_batches([]) == []
    # one large job centre among small ones: it gets a batch of its own, the rest share the others
    skewed = [Unit(1, rows=1000), *(Unit(j, rows=100) for j in range(2, 12))]
    batches = unit_batches(skewed, n_batches=2)
    assert [sum(u.rows for u in b) for b in batches] == [1000, 1000]


def test_a_failing_progress_display_never_fails_the_run_and_never_travels_to_workers():
    import pickle

    from bipdask.cli.progress import StageBar
    from flows.evaluate import StageProgress

    seen = []

    def display(stage, done, total):
        seen.append((stage, done, total))
        raise RuntimeError("terminal closed")

    StageProgress(display)("validate and stage", 0, 1)
    StageProgress()("validate and stage", 1, 1)
    assert seen == [("validate and stage", 0, 1)]
    shipped = pickle.loads(pickle.dumps(StageProgress(StageBar())))  # as Prefect ships flow parameters
    assert shipped.callback is None
    shipped("validate and stage", 1, 1)


# --------------------------------------------------------------------------- job-centre-level inference


@pytest.mark.prefect
@pytest.mark.dask
def test_wild_inference_at_jobcentre_level_end_to_end(synth_delivery, tmp_path, harness, clusters):
    """spec inference = "wild", cluster = "jobcentre": every HIR DiD is tested at the level where the
    caseload cap was assigned, the run says so row by row, and the units fixed by design stay."""
    from flows.run import run_evaluation

    spec = write_spec(tmp_path / "wild.toml", bootstrap=99, inference="wild", cluster="jobcentre")
    result = run_evaluation(input_dir=synth_delivery, output_url=str(tmp_path / "out"), spec=str(spec),
                            dask_address=clusters[2], batch_size=20)
    est = result.estimates
    assert result.manifest["estimation"]["inference"] == "wild"
    share = est[est["analysis"] == "share_internship_or_hours"]
    pooled = share[(share["estimand"] == "did") & share["jobcentre_id"].isna()]
    assert set(pooled["inference"]) == {"wild"} and set(pooled["cluster_level"]) == {"jobcentre"}
    assert (pooled["n_clusters"] > 15).all() and (pooled["n_replicates"] == 99).all()  # G job centres, B draws
    assert (pooled["ci_low"] < pooled["estimate"]).all() and (pooled["estimate"] < pooled["ci_high"]).all()
    ri = share[share["estimand"] == "did_randomization"]
    assert set(ri["period"]) == set(pooled["period"]) and set(ri["inference"]) == {"randomization"}
    assert (ri["estimate"].to_numpy() == pooled.set_index("period").loc[ri["period"], "estimate"].to_numpy()).all()
    per_centre = share[(share["estimand"] == "did") & share["jobcentre_id"].notna()]
    assert len(per_centre) and set(per_centre["inference"]) == {"placebo"} and per_centre["se"].isna().all()
    for analysis, estimand in (("hir_table4", "did_weeks"), ("hir_table8", "ordinary_employment"),
                               ("hir_table9", "hr_caseload"), ("hir_table9", "caseload")):
        row = est[(est["analysis"] == analysis) & (est["estimand"] == estimand) & est["jobcentre_id"].isna()]
        assert len(row) == 1, (analysis, estimand)
        assert row["inference"].iloc[0] == "wild" and row["cluster_level"].iloc[0] == "jobcentre", (analysis, row)
        # n_clusters ≥ 15: Table 9's Cox is fitted on the participating centres only
        assert row["n_replicates"].iloc[0] == 99 and row["n_clusters"].iloc[0] >= 15, (analysis, row)
        k = row["p_value"].iloc[0] * 99  # a share of the 99 wild draws, not an analytic p-value
        assert abs(k - round(k)) < 1e-9, (analysis, k)  # (an end the test cannot bound at B = 99 is null)
    # a row clustered by job centre never counts more clusters than there are job centres
    n_centres = result.manifest["jobcentres"]["staged"]
    at_centres = est[est["cluster_level"] == "jobcentre"]
    assert (at_centres["n_clusters"].dropna() <= n_centres).all(), at_centres.nlargest(3, "n_clusters")
    # units fixed by design: BIP resamples citizens, Table 3 caseworkers
    assert set(est.loc[est["analysis"].str.startswith("bip_"), "cluster_level"].dropna()) == {"person"}
    assert set(est.loc[est["analysis"] == "hir_table3", "cluster_level"]) == {"caseworker"}
    # Tables A/4 and 7 are fitted on the units' spell pattern counts: the spell rows are not written
    model_input = tmp_path / "out" / "runs" / result.run_id / "model_input"
    assert list((model_input / "spell_counts").glob("jc-*.parquet"))
    assert not (model_input / "gap_spells").exists() and not (model_input / "first_lab_spells").exists()
    assert result.manifest["row_counts"]["model_input"]["spell_counts"] > 0
    # no person in two job centres and no person bootstrap: Tables 1, 2, 5, 6 and 7's share block are
    # fitted on the units' sums, and the per-person rows behind them are not written either
    assert result.manifest["validation"]["coverage"]["persons_in_several_jobcentres"] == 0
    for kind in ("share_cells", "new_course_share_cells", "lab_weeks"):
        assert not (model_input / kind).exists() and kind not in result.manifest["row_counts"]["model_input"], kind
    for kind in ("share_moments", "new_course_share_moments", "descriptive_moments"):
        assert list((model_input / kind).glob("jc-*.parquet")), kind
    inputs = {a: n.get("input") for a, n in result.manifest["estimation"]["notes"].items() if isinstance(n, dict)}
    assert inputs["share_internship_or_hours"] == inputs["hir_table1_persons"] == "unit moments", inputs


@pytest.mark.prefect
@pytest.mark.dask
def test_a_treated_name_missing_from_the_delivery_stops_the_run_with_exit_2(delivery, tmp_path, harness, clusters,
                                                                             capsys):
    """The built-in spec names 15 participating centres; this delivery has 2 of them. Before, the
    13 others silently counted as missing and the run published a DiD with exit 0."""
    from bipdask.cli import main

    out = tmp_path / "out"
    code = main(["--no-progress", "run", "--input", str(delivery), "--output", str(out),
                 "--dask-address", clusters[1]])
    err = capsys.readouterr().err
    assert code == 2
    assert "treated job centre 'Faxe' not found" in err and "Traceback" not in err
    assert storage.list_runs(str(out)) == []


def test_every_person_in_one_jobcentre_stops_the_run_naming_the_cause(delivery, pairs_spec, tmp_path, harness,
                                                                     clusters, capsys):
    """Every weeks row moved to one participating job centre: there is no comparison group. The
    run said only 'match rate … below the floor' (or published); it must say why."""
    import shutil

    from bipdask.cli import main

    one = tmp_path / "one"
    shutil.copytree(delivery, one)
    for part in sorted((one / "weeks").glob("*.parquet")):
        t = pq.read_table(part)
        t = t.set_column(t.column_names.index("jobcentre_id"), "jobcentre_id",
                         pa.array(np.full(t.num_rows, 1, np.int32)))
        t = t.set_column(t.column_names.index("municipality_code"), "municipality_code",
                         pa.array(np.full(t.num_rows, 710, np.int32)))
        pq.write_table(t, part)
    out = tmp_path / "out"
    code = main(["--no-progress", "run", "--input", str(one), "--output", str(out), "--spec", pairs_spec,
                 "--dask-address", clusters[1]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert ("weeks.jobcentre_id: no comparison job centre has weeks rows: all weeks rows are in job "
            "centre 1, all of them treated: the DiD has no comparison group") in err
    assert "Traceback" not in err
    assert storage.list_runs(str(out)) == []


def test_a_run_reads_the_parts_in_a_linked_subfolder(delivery, pairs_spec, tmp_path, harness, clusters, capsys):
    """Half the weeks parts live in a linked subfolder: the run reads, hashes and stages every
    row and gives the DiD of the whole delivery (a walk not following folder links validated and
    ran with exit 0 on the other half only)."""
    import shutil

    from bipdask.cli import main

    linked = tmp_path / "linked"
    shutil.copytree(delivery, linked)
    archive = tmp_path / "archive"
    archive.mkdir()
    (linked / "weeks" / "part-00002.parquet").rename(archive / "part-00002.parquet")
    (linked / "weeks" / "2018").symlink_to(archive, target_is_directory=True)
    n_weeks = sum(pq.read_metadata(p).num_rows for p in sorted((delivery / "weeks").glob("*.parquet")))
    out = tmp_path / "out"
    code = main(["--no-progress", "run", "--input", str(linked), "--output", str(out), "--spec", pairs_spec,
                 "--dask-address", clusters[1]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"weeks rows: {n_weeks:,} in, {n_weeks:,} staged, 0 quarantined" in captured.out
    manifest = storage.open_run(str(out)).manifest
    assert "weeks/2018/part-00002.parquet" in manifest["inputs"]["sha256"]
    assert manifest["row_counts"]["input"]["weeks"] == manifest["row_counts"]["staged"]["weeks"] == n_weeks


@pytest.mark.prefect
@pytest.mark.dask
def test_a_successful_run_prints_no_runtime_warning(synth_delivery, tmp_path, harness, capfd):
    """A successful run's stderr carries no numpy RuntimeWarning ("All-NaN slice encountered" used to
    appear in every run): this process's warnings are recorded, and the fresh LocalCluster's worker
    processes write theirs to the stderr captured here."""
    import warnings

    from bipdask.cli import main

    spec = write_spec(tmp_path / "wild.toml", bootstrap=SMALL_B)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        code = main(["run", "--input", str(synth_delivery), "--output", str(tmp_path / "out"), "--spec", str(spec),
                     "--workers", "1", "--no-progress"])
    err = capfd.readouterr().err
    assert code == 0, err
    assert "RuntimeWarning" not in err and "All-NaN" not in err, err
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
