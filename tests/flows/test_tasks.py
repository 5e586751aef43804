"""flows.tasks helpers that need no cluster: the previous delivery's coverage for validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from _deliveries import tiny_tables, write_delivery

from bipdask.data.validate import validate_delivery
from bipdask.data.validate.coverage import RULE_DROP_DELIVERY
from bipdask.errors import InputError
from bipdask.runtime import storage
from flows.tasks import previous_coverage


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
