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
    spells = _spells()
    url = storage.write_parquet(spells, str(tmp_path / "gaps.parquet"))
    out = estimate_hir_durations_impl([url], [url], str(tmp_path / "results"), str(tmp_path / "replicates"),
                                      Inference(replicates=99, seed=7))
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
