"""The tasks' plain implementations on small local inputs (no Prefect, no Dask): the reduces, and
the previous delivery's coverage for validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _deliveries import tiny_tables, write_delivery

from bipdask.analyses.estimates import replicate_key
from bipdask.analyses.hir.durations import DID_ESTIMANDS
from bipdask.data.validate import validate_delivery
from bipdask.data.validate.coverage import RULE_DROP_DELIVERY
from bipdask.errors import InputError
from bipdask.inference.config import Inference
from bipdask.prepare.spell_counts import SPELL_KINDS, unit_spell_counts, unit_spell_persons
from bipdask.runtime import storage
from flows.tasks import estimate_hir_durations_impl, previous_coverage

SMALL_JC = 14


def _spells(seed: int = 3) -> pd.DataFrame:
    """Weibull gap spells of 1,200 persons in three participating and four other centres, plus a
    participating centre whose intervention cell has 2 persons (a resample draws it empty ≈ e^−2)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1200):
        jc = int(rng.choice([11, 12, 13, 21, 22, 23, 24]))
        d = int(jc < 20)
        for e in (0, 1):
            t = (-np.log(rng.random()) / np.exp(-2.6 - 0.1 * d - 0.05 * e - 0.3 * d * e)) ** (1 / 0.75)
            rows.append((d, e, jc, 1_000_000 + i, int(np.clip(np.ceil(t), 1, 56)), int(t <= 56)))
    for i in range(32):
        rows.append((1, int(i >= 30), SMALL_JC, 3_000_000 + i, int(rng.integers(1, 40)), int(rng.random() < 0.8)))
    return pd.DataFrame(rows, columns=["D", "E", "jobcentre_id", "person_id", "duration", "event"])


def test_durations_reduce_applies_the_withholding_rule_of_every_table(tmp_path):
    """Person clusters (the pairs bootstrap of persons) gather the spells; the figures come from
    the counts either way."""
    spells = {kind: _spells() for kind in SPELL_KINDS}  # the same spells as gaps and as first-LAB spells
    counts = storage.write_parquet(unit_spell_counts(spells), str(tmp_path / "counts.parquet"))
    persons = storage.write_parquet(unit_spell_persons(spells), str(tmp_path / "persons.parquet"))
    url = storage.write_parquet(spells["gap"], str(tmp_path / "gaps.parquet"))
    out = estimate_hir_durations_impl([counts], [persons], str(tmp_path / "results"), str(tmp_path / "replicates"),
                                      Inference(replicates=99, seed=7), gap_urls=[url], first_lab_urls=[url])
    rows = pd.DataFrame(out.rows)
    small = rows[rows["jobcentre_id"] == SMALL_JC]
    assert set(small["analysis"]) == {"hir_table4", "hir_table7"} and len(small) == 2 * len(DID_ESTIMANDS)
    assert small[["se", "ci_low", "ci_high", "p_value"]].isna().all().all()
    assert (small["replicate_failure_share"] > 0.01).all() and (small["inference"] == "pairs").all()
    for analysis in ("hir_table4", "hir_table7"):
        withheld = out.notes[analysis]["intervals_withheld_failed_replicates"]
        assert replicate_key("did_weeks", SMALL_JC, "intervention") in withheld
        assert all(f"|{SMALL_JC}|" in k for k in withheld)
    national = rows[rows["jobcentre_id"].isna()]
    assert (national["se"] > 0).all() and (national["replicate_failure_share"] <= 0.01).all()
    assert {"figure1_raw_hazard", "figure2_km", "replicates_hir_table4", "replicates_hir_table7"} <= set(out.files)


def _commit(root: Path, run_id: str, coverage: dict | None) -> None:
    run = storage.RunLayout.create(str(root), run_id)
    validation = {"rows_in": {}} if coverage is None else {"rows_in": {}, "coverage": coverage}
    storage.commit(run, {"validation": validation})


def test_previous_coverage_is_the_latest_committed_runs(tmp_path: Path) -> None:
    assert previous_coverage(str(tmp_path / "out")) is None  # no run yet
    _commit(tmp_path / "out", "r1", None)  # a run committed before coverage was recorded
    assert previous_coverage(str(tmp_path / "out")) is None
    _commit(tmp_path / "out", "r2", {"rows_per_week": {"101": {"2018-01": 30.0}}})
    assert previous_coverage(str(tmp_path / "out")) == {"rows_per_week": {"101": {"2018-01": 30.0}}}


def test_a_month_that_fell_against_the_previous_delivery_stops_validation(tmp_path: Path) -> None:
    """Last month's delivery had 30 rows a week in job centre 101 in January; this one has 3."""
    folder = write_delivery(tiny_tables(), tmp_path / "d")
    previous = {"rows_per_week": {"101": {"2018-01": 30.0}, "102": {"2018-01": 3.0}}}
    with pytest.raises(InputError) as err:
        validate_delivery(folder, previous_coverage=previous)
    assert str(err.value) == (
        f"weeks.jobcentre_id: {RULE_DROP_DELIVERY} (27 rows): job centre 101, 2018-01: 3 rows/week against the "
        "previous delivery (30 rows/week), a fall of 90%, limit 50%")
    assert validate_delivery(folder, previous_coverage=validate_delivery(folder).coverage).coverage


def test_sync_history_adds_the_committed_run_and_the_ones_an_earlier_append_missed(tmp_path: Path) -> None:
    from fake_runs import make_fake_run

    from flows.tasks import sync_history_impl

    make_fake_run(tmp_path, "r00000000000000c1", report=True)  # committed; its append never ran
    make_fake_run(tmp_path, "r00000000000000c2", committed_at="2026-11-01T06:00:00+00:00")
    out = sync_history_impl(str(tmp_path), "r00000000000000c2")
    assert out["in_table"] and out["added"] == ["r00000000000000c1", "r00000000000000c2"]
    again = sync_history_impl(str(tmp_path), "r00000000000000c2")
    assert again["in_table"] and again["added"] == [] and again["unchanged"] == 2


def _share_unit_files(tmp_path: Path, seed: int = 4) -> tuple[list[str], list[str]]:
    """Per-person share cell sums of 6 job centres (each cut into 2 person parts) and their
    moments, one file per unit as the map side writes them."""
    from bipdask.estimators.cell_did import person_cell_moments

    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(500):
        jc = int(rng.integers(1, 7))
        for period in ("before", "intervention", "last_3_months"):
            n = int(rng.integers(1, 25))
            rows.append((jc, pid, period, int(jc in (2, 5)), n, int(rng.binomial(n, 0.2 + 0.05 * (jc in (2, 5))))))
    cells = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"])
    cell_urls, moment_urls = [], []
    for (jc, part), unit in cells.groupby([cells["jobcentre_id"], cells["person_id"] % 2]):
        cell_urls.append(storage.write_parquet(unit, str(tmp_path / "cells" / f"{jc}-{part}.parquet")))
        moment_urls.append(storage.write_parquet(person_cell_moments(unit),
                                                 str(tmp_path / "mom" / f"{jc}-{part}.parquet")))
    return cell_urls, moment_urls


def test_the_share_reduces_use_unit_moments_only_where_they_give_the_same_rows(tmp_path):
    """Tables 6 and 7's share reduces read the units' moments under job-centre inference when no
    person is in two job centres — the rows equal those from the gathered per-person sums — and
    the per-person sums otherwise (a person bootstrap; a person in two job centres)."""
    from flows.tasks import estimate_new_course_share_impl, estimate_share_did_impl

    cells, moments = _share_unit_files(tmp_path)
    windows = ["before", "intervention", "last_3_months"]
    wild = Inference(replicates=19, seed=3, cluster="jobcentre_id", method="wild")
    gathered = estimate_share_did_impl(cells, [2, 5], windows, 5, str(tmp_path / "r0"), wild)
    reduced = estimate_share_did_impl(cells, [2, 5], windows, 5, str(tmp_path / "r1"), wild, moments, True)
    assert (gathered.notes["share_internship_or_hours"]["input"], reduced.notes["share_internship_or_hours"]["input"]
            ) == ("person cell sums", "unit moments")
    key = ["analysis", "estimand", "period", "jobcentre_id"]
    a, b = (pd.DataFrame(o.rows).sort_values(key, kind="mergesort").reset_index(drop=True) for o in (gathered, reduced))
    pd.testing.assert_frame_equal(a, b, rtol=1e-10)
    assert (pd.read_parquet(tmp_path / "r0" / "share_internship_or_hours.parquet").equals(
        pd.read_parquet(tmp_path / "r1" / "share_internship_or_hours.parquet")))
    for args in ((wild, moments, False), (Inference(replicates=19, seed=3), moments, True)):
        out = estimate_share_did_impl(cells, [2, 5], windows, 5, str(tmp_path / "r2"), *args)
        assert out.notes["share_internship_or_hours"]["input"] == "person cell sums"
    nc = [estimate_new_course_share_impl(cells, [2, 5], str(tmp_path / f"n{i}"), wild, *extra)
          for i, extra in enumerate(((), (moments, True)))]
    assert [n.notes[next(iter(n.notes))]["input"] for n in nc] == ["person cell sums", "unit moments"]
    assert {k: v for k, v in nc[0].notes[next(iter(nc[0].notes))].items() if k != "input"} == {
        k: v for k, v in nc[1].notes[next(iter(nc[1].notes))].items() if k != "input"}
    pd.testing.assert_frame_equal(pd.DataFrame(nc[0].rows), pd.DataFrame(nc[1].rows), rtol=1e-10)


def test_the_share_reduce_reads_the_root_of_a_tree_as_it_reads_the_units_files(tmp_path):
    """The share moments summed in a tree (flows/tree.py) give the rows and replicates of the units'
    files, bit for bit."""
    from bipdask.prepare.sums import combine
    from flows.tasks import estimate_share_did_impl

    cells, moments = _share_unit_files(tmp_path)
    halves = [combine("share_moments", [storage.read_parquet(u) for u in part]) for part in (moments[:5], moments[5:])]
    root = storage.write_parquet(combine("share_moments", halves), str(tmp_path / "root.parquet"))
    assert len(storage.read_parquet(root)) < sum(len(storage.read_parquet(u)) for u in moments)
    windows = ["before", "intervention", "last_3_months"]
    wild = Inference(replicates=19, seed=3, cluster="jobcentre_id", method="wild")
    units = estimate_share_did_impl(cells, [2, 5], windows, 5, str(tmp_path / "r1"), wild, moments, True)
    rooted = estimate_share_did_impl(cells, [2, 5], windows, 5, str(tmp_path / "r2"), wild, [root], True)
    assert rooted.notes == units.notes and rooted.rows == units.rows
    assert (tmp_path / "r1" / "share_internship_or_hours.parquet").read_bytes() == (
        tmp_path / "r2" / "share_internship_or_hours.parquet").read_bytes()


def test_one_rule_decides_between_the_units_sums_and_the_gathered_rows():
    from flows.tasks import from_unit_sums

    assert from_unit_sums() and from_unit_sums(True, persons_disjoint=True, per_person=False)
    assert not from_unit_sums(False)  # a unit without the sums (an older cache entry)
    assert not from_unit_sums(persons_disjoint=False)  # a person in two job centres
    assert not from_unit_sums(per_person=True)  # person clusters or a person bootstrap
    assert Inference(replicates=19, seed=3).person_bootstrap
    assert not Inference(replicates=19, seed=3, cluster="jobcentre_id", method="wild").person_bootstrap
    assert not Inference(replicates=0, method="analytic").person_bootstrap


def test_the_descriptives_reduce_uses_unit_sums_only_when_persons_are_disjoint(tmp_path):
    """Tables 1, 2 and 5 from the units' sums equal the tables from the gathered lab_weeks and
    persons; a delivery with a person in two job centres (or no sums) takes the gathered path."""
    import datetime as dt

    from bipdask.prepare.descriptives import HISTORY, WEEK_COLUMNS, descriptive_moments
    from flows.tasks import estimate_hir_descriptives_impl

    rng = np.random.default_rng(5)
    rows = []
    for pid in range(300):
        jc = int(rng.integers(1, 6))
        for period in ("before", "intervention"):
            counts = rng.integers(0, 6, len(WEEK_COLUMNS))
            if counts.sum():
                rows.append((jc, pid, period, int(jc in (2, 4)), int(counts.sum()), *counts.tolist()))
    lab = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "period", "d", "n_weeks", *WEEK_COLUMNS]).astype(
        {"jobcentre_id": "int32", "person_id": "int64", "period": "string", "d": "int8"})
    persons = pd.DataFrame({"person_id": np.arange(300, dtype=np.int64), "sex": rng.choice(["M", "F"], 300),
                            "birth_year": rng.integers(1960, 1999, 300),
                            "origin": rng.choice(["danish", "western"], 300),
                            "married": rng.choice([True, False], 300),
                            **{c: rng.integers(0, 150, 300) for c in HISTORY}})
    staged = tmp_path / "staged"
    storage.write_parquet(persons, str(staged / "persons.parquet"))
    windows = {"before": ("2017-03-01", "2018-02-28"), "intervention": ("2018-03-01", "2019-03-31")}
    starts = {"before": dt.date(2017, 3, 1), "intervention": dt.date(2018, 3, 1)}
    lab_urls, moment_urls = [], []
    for jc, unit in lab.groupby("jobcentre_id"):
        lab_urls.append(storage.write_parquet(unit, str(tmp_path / "lab" / f"{jc}.parquet")))
        own = persons[persons["person_id"].isin(unit["person_id"])]
        moment_urls.append(storage.write_parquet(descriptive_moments(unit, own, starts),
                                                 str(tmp_path / "mom" / f"{jc}.parquet")))
    gathered = estimate_hir_descriptives_impl(lab_urls, str(staged), windows, str(tmp_path / "r0"))
    reduced = estimate_hir_descriptives_impl(lab_urls, str(staged), windows, str(tmp_path / "r1"), moment_urls, True)
    fallback = estimate_hir_descriptives_impl(lab_urls, str(staged), windows, str(tmp_path / "r2"), moment_urls, False)
    assert [o.notes["hir_table1_persons"]["input"] for o in (gathered, reduced, fallback)] == [
        "persons' rows", "unit moments", "persons' rows"]
    a, b = pd.DataFrame(gathered.rows), pd.DataFrame(reduced.rows)
    assert len(a) == len(b) > 100
    pd.testing.assert_frame_equal(a, b, rtol=1e-10)


def test_durations_reduce_on_a_worker_runs_tables_4_and_7_on_both_workers_with_the_same_rows(tmp_path):
    """With person clusters the reduce hands Tables 4 and 7 to an actor on each worker (both work on the
    person bootstraps); the rows and replicate files equal the in-process reduce's."""
    from distributed import Client, LocalCluster, get_task_stream

    spells = {kind: _spells(seed=5) for kind in SPELL_KINDS}
    counts = storage.write_parquet(unit_spell_counts(spells), str(tmp_path / "counts.parquet"))
    persons = storage.write_parquet(unit_spell_persons(spells), str(tmp_path / "persons.parquet"))
    url = storage.write_parquet(spells["gap"], str(tmp_path / "gaps.parquet"))
    inference = Inference(replicates=30, seed=7)

    def reduce(where):
        return estimate_hir_durations_impl([counts], [persons], str(tmp_path / where / "results"),
                                           str(tmp_path / where / "replicates"), inference, gap_urls=[url],
                                           first_lab_urls=[url])

    here = reduce("here")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        there = client.submit(reduce, "there", pure=False).result()
    assert sum("CallActor" in str(t["key"]) for t in stream.data) == 2  # one per worker ran the tables
    assert there.rows == here.rows and there.notes == here.notes
    for name, file in here.files.items():
        pd.testing.assert_frame_equal(storage.read_parquet(there.files[name]), storage.read_parquet(file),
                                      check_exact=True)

