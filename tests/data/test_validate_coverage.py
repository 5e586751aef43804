"""Coverage of a delivery (bipdask.data.validate.coverage): persons without weeks, job centres
without weeks, job centre-months whose rows fall against the month before or the previous delivery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _deliveries import PERSON_IDS, tiny_tables, write_delivery
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.cli import main
from bipdask.data.validate import validate_delivery
from bipdask.data.validate.coverage import (
    MIN_ROWS_PER_WEEK,
    RULE_DROP_DELIVERY,
    RULE_DROP_MONTH,
    RULE_JOBCENTRES,
    RULE_PERSONS,
    check_groups,
    reconcile,
)
from bipdask.errors import InputError
from bipdask.spec import load_spec


def _without_weeks_of(folder: Path, *person_ids: int) -> Path:
    tables = tiny_tables()
    tables["weeks"] = tables["weeks"][~tables["weeks"]["person_id"].isin(person_ids)]
    return write_delivery(tables, folder)


def test_tiny_delivery_is_fully_covered(tmp_path: Path) -> None:
    report = validate_delivery(write_delivery(tiny_tables(), tmp_path))
    assert report.coverage["persons"] == 6
    assert report.coverage["persons_without_weeks"] == 0
    assert report.coverage["jobcentres_without_weeks"] == []
    assert report.coverage["persons_in_several_jobcentres"] == 0
    assert report.coverage["rows_per_week"] == {"101": {"2018-01": 3.0, "2018-02": 3.0, "2018-03": 3.0},
                                                "102": {"2018-01": 3.0, "2018-02": 3.0, "2018-03": 3.0}}
    assert not report.problems
    assert report.to_dict()["coverage"] == report.coverage


def test_persons_without_weeks_stop_validation(tmp_path: Path, capsys) -> None:
    """A person in the persons table with no weeks row at all: a part file missing (exit 2)."""
    folder = _without_weeks_of(tmp_path / "d", PERSON_IDS[0])
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert ("weeks.person_id: persons without weeks rows (1 rows): 1 of 6 persons (16.7%) have no weeks row, "
            "limit 2.0%: are part files missing?") in err
    assert str(PERSON_IDS[0]) not in err


def test_persons_without_weeks_below_the_limit_are_a_warning(tmp_path: Path) -> None:
    folder = _without_weeks_of(tmp_path / "d", PERSON_IDS[0])
    report = validate_delivery(folder, coverage_limits={"max_persons_without_weeks": 0.2})
    assert [(p.rule, p.n_rows) for p in report.problems] == [(RULE_PERSONS, 1)]


def test_a_jobcentre_without_weeks_is_flagged(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["jobcentres"].loc[len(tables["jobcentres"])] = [103, "Faxe", 320]
    report = validate_delivery(write_delivery(tables, tmp_path))
    assert [(p.rule, p.message) for p in report.problems] == [(RULE_JOBCENTRES, "job centre 103")]


def _cov(months: dict[str, float], jc: str = "7") -> dict:
    return {"persons": 100, "persons_without_weeks": 0, "jobcentres_without_weeks": [],
            "rows_per_week": {jc: months}}


def test_a_month_falling_by_more_than_the_limit_stops_the_run() -> None:
    found = reconcile(_cov({"2018-01": 100.0, "2018-02": 40.0, "2018-03": 100.0}), max_row_drop=0.5)
    assert [(p.rule, p.message) for p in found.errors] == [
        (RULE_DROP_MONTH, ("job centre 7, 2018-02: 40 rows/week against 2018-01 (100 rows/week), a fall of 60%, "
                           "limit 50%"))]
    assert found.warnings == []


def test_a_smaller_fall_is_a_warning_and_a_small_one_nothing() -> None:
    found = reconcile(_cov({"2018-01": 100.0, "2018-02": 70.0, "2018-03": 65.0}), max_row_drop=0.5)
    assert found.errors == []
    assert [p.message for p in found.warnings] == [
        "job centre 7, 2018-02: 70 rows/week against 2018-01 (100 rows/week), a fall of 30%, limit 50%"]


def test_a_month_missing_inside_the_span_is_a_full_fall() -> None:
    found = reconcile(_cov({"2018-01": 100.0, "2018-04": 100.0}))
    assert sorted(p.message.split(":")[0] for p in found.errors) == ["job centre 7, 2018-02", "job centre 7, 2018-03"]


def test_small_jobcentres_are_not_compared() -> None:
    tiny = MIN_ROWS_PER_WEEK - 1
    assert reconcile(_cov({"2018-01": float(tiny), "2018-02": 0.5})) == reconcile(None)


def test_against_the_previous_delivery() -> None:
    """Months the previous delivery had must not fall; months after this delivery's last are not compared."""
    previous = _cov({"2018-01": 100.0, "2018-02": 100.0, "2018-03": 100.0, "2018-04": 100.0})
    now = _cov({"2018-01": 100.0, "2018-02": 30.0, "2018-03": 100.0})
    found = reconcile(now, previous)
    assert {(p.rule, p.message.split(":")[0]) for p in found.errors} == {
        (RULE_DROP_MONTH, "job centre 7, 2018-02"), (RULE_DROP_DELIVERY, "job centre 7, 2018-02")}
    gone = reconcile(_cov({"2018-01": 100.0}, jc="8"), previous)
    assert [p.message.split(":")[0] for p in gone.errors] == ["job centre 7, 2018-01"]


def test_spec_thresholds_reach_validation(tmp_path: Path) -> None:
    spec = load_spec("hir")
    assert spec.coverage_limits() == {"max_persons_without_weeks": 0.02, "max_row_drop": 0.5}
    folder = _without_weeks_of(tmp_path / "d", PERSON_IDS[0])
    with pytest.raises(InputError, match=RULE_PERSONS):
        validate_delivery(folder, coverage_limits=spec.coverage_limits())


def test_every_person_in_one_jobcentre_names_the_cause() -> None:
    """Every person in one (treated) job centre: no comparison group, said as such (it was only
    'match rate … below the floor')."""
    with pytest.raises(InputError) as err:
        check_groups([1], (1, 2))
    assert str(err.value) == ("weeks.jobcentre_id: no comparison job centre has weeks rows: all weeks rows "
                              "are in job centre 1, all of them treated: the DiD has no comparison group")
    with pytest.raises(InputError, match="no participating job centre has weeks rows: .*job centre 4, none of"):
        check_groups([4], (1, 2))
    check_groups([1, 4], (1, 2))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 2**31 - 1), st.integers(-40_000, 60_000), st.integers(1, 50)),
                         max_size=30), max_size=5))
def test_the_coverage_counter_counts_rows_per_jobcentre_week_and_persons_over_batches(batches):
    from collections import Counter

    from bipdask.data.validate.coverage import CoverageCounter

    counter = CoverageCounter()
    expected: Counter = Counter()
    for batch in batches:
        jc, day, person = (np.array([r[i] for r in batch], np.int64) for i in range(3))
        counter.add(jc, day, person)
        expected.update(zip(jc.tolist(), day.tolist()))
    assert counter.cells == dict(expected)
    people = {r[2] for b in batches for r in b}
    summary = counter.summary(np.array(sorted(people | {999}), np.int64), None)
    assert summary["persons_without_weeks"] == 1
    centres: dict = {}
    for b in batches:
        for jc, _, person in b:
            centres.setdefault(person, set()).add(jc)
    assert summary["persons_in_several_jobcentres"] == sum(len(v) > 1 for v in centres.values())
