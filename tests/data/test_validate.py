"""Tests of bipdask.data.validate.stage: a catalogue of bad deliveries, the staged layer, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from _deliveries import (
    PERSON_IDS,
    UNKNOWN_PERSON_ID,
    tiny_tables,
    to_arrow,
    write_delivery,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bipdask.cli import main
from bipdask.data.dream import long_to_dream_wide
from bipdask.data.validate import ValidationReport, validate_delivery
from bipdask.errors import InputError, Problem

PLANTED_IDS = [*PERSON_IDS, UNKNOWN_PERSON_ID]
Tables = dict[str, pd.DataFrame]


def set_cell(tables: Tables, name: str, row: int, column: str, value) -> None:
    df = tables[name]
    df[column] = df[column].astype(object)  # the planted value may be of another type
    df.at[row, column] = value


def cell(name: str, row: int, column: str, value) -> Callable[[Tables], None]:
    return lambda t: set_cell(t, name, row, column, value)


def append_copy(name: str, row: int, **changes) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        copy = t[name].iloc[[row]].copy()
        for k, v in changes.items():
            copy[k] = v
        t[name] = pd.concat([t[name], copy], ignore_index=True)
    return mutate


def as_strings(name: str, column: str, rows: dict[int, str]) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        t[name][column] = t[name][column].astype(str)
        for r, v in rows.items():
            t[name].at[r, column] = v
    return mutate


def no_ids(text: str) -> None:
    for pid in PLANTED_IDS:
        assert str(pid) not in text


def build(tmp_path: Path, mutate=None, after_write=None, fmt: str = "parquet") -> Path:
    tables = tiny_tables()
    if mutate is not None:
        mutate(tables)
    folder = write_delivery(tables, tmp_path / "delivery", fmt=fmt)
    if after_write is not None:
        after_write(folder)
    return folder


def assert_balanced(report: ValidationReport) -> None:
    for t, n in report.rows_in.items():
        assert n == report.rows_out[t] + report.n_quarantined(t), t


# --------------------------------------------------------------------------- valid deliveries


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_tiny_delivery_is_valid(tmp_path: Path, fmt: str) -> None:
    report = validate_delivery(build(tmp_path, fmt=fmt))
    assert report.problems == []
    assert report.rows_in == report.rows_out
    assert report.rows_in["weeks"] == 60 and report.rows_in["persons"] == 6
    assert not any(report.quarantined.values())
    assert report.jobcentre_ids == [101, 102]
    assert sum(report.weeks_rows_by_jobcentre.values()) == 60 and sorted(report.weeks_rows_by_jobcentre) == [101, 102]
    assert report.week_span == ("2018-01-01", "2018-03-05")
    assert sorted(report.input_hashes) == sorted(
        [f"{n}.{fmt}" for n in ("persons", "dream_codes", "jobcentres", "assignments", "caseload",
                                "belief_survey", "bip_responses")]
        + [f"weeks/part-0000{i}.{fmt}" for i in (1, 2)])
    assert all(len(h) == 64 for h in report.input_hashes.values())
    json.dumps(report.to_dict())
    assert "delivery valid" in report.describe()


def test_unknown_column_is_a_warning(tmp_path: Path) -> None:
    def extra(t: Tables) -> None:
        t["persons"]["nickname"] = "x"
    report = validate_delivery(build(tmp_path, extra))
    assert report.problems == [Problem("persons", "nickname", "unknown column ignored", 0)]
    assert report.rows_out == report.rows_in
    assert "persons.nickname: unknown column ignored" in report.describe()


# --------------------------------------------------------------------------- table-level catalogue


def _garbage(rel: str) -> Callable[[Path], None]:
    return lambda folder: (folder / rel).write_bytes(b"this is not a parquet file")


def _dup_header(folder: Path) -> None:
    p = folder / "persons.csv"
    lines = p.read_text().splitlines()
    lines[0] = lines[0].replace("origin", "sex")
    p.write_text("\n".join(lines) + "\n")


def _extra_csv_part(folder: Path) -> None:
    (folder / "weeks" / "part-00003.csv").write_text("person_id,week\n")


def _zero_rows(name: str) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        t[name] = t[name].iloc[0:0]
    return mutate


def _drop(name: str, column: str) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        t[name] = t[name].drop(columns=[column])
    return mutate


def _remove(name: str) -> Callable[[Tables], None]:
    return lambda t: t.pop(name)


def _shift_person_weeks(t: Tables) -> None:
    t["weeks"].loc[0:9, "week"] = [d + dt.timedelta(days=1) for d in t["weeks"]["week"][0:10]]


TABLE_LEVEL = [
    ("persons_missing", _remove("persons"), None, "parquet",
     ["persons: required table missing"]),
    ("jobcentres_missing", _remove("jobcentres"), None, "parquet",
     ["jobcentres: required table missing"]),
    ("column_missing", _drop("weeks", "lab_type"), None, "parquet",
     ["weeks.lab_type: required column missing: 2 of 2 files"]),
    ("column_missing_one_file", _drop("bip_responses", "b7"), None, "parquet",
     ["bip_responses.b7: required column missing: bip_responses.parquet"]),
    ("text_in_integer_column", as_strings("persons", "birth_year", {0: "unknown", 3: "19x0"}), None,
     "parquet", ["persons.birth_year: not an integer (int16) (2 rows)"]),
    ("csv_decimal_comma", cell("weeks", 3, "ordinary_hours", "7,5"), None, "csv",
     ["weeks.ordinary_hours: not a number (1 rows)"]),
    ("csv_bad_bool", cell("weeks", 4, "employed", "maybe"), None, "csv",
     ["weeks.employed: not a boolean (true/false/1/0) (1 rows)"]),
    ("csv_bad_date", cell("caseload", 2, "week", "2018-13-01"), None, "csv",
     ["caseload.week: not a date (ISO YYYY-MM-DD) (1 rows)"]),
    ("integer_overflow", cell("weeks", 0, "jobcentre_id", 2**40), None, "parquet",
     ["weeks.jobcentre_id: integer out of range for int32 (1 rows)"]),
    ("zero_rows", _zero_rows("caseload"), None, "parquet", ["caseload: table has zero rows"]),
    ("duplicate_column_names", None, _dup_header, "csv",
     ["persons.sex: duplicate column names: persons.csv"]),
    ("unreadable_file", None, _garbage("jobcentres.parquet"), "parquet",
     ["jobcentres: file unreadable: jobcentres.parquet (ArrowInvalid)"]),
    ("mixed_formats", None, _extra_csv_part, "parquet", ["weeks: mixes Parquet and CSV files"]),
    ("dream_overlap", cell("dream_codes", 2, "valid_to", dt.date(2018, 6, 30)), None, "parquet",
     ["dream_codes.valid_from: overlapping versions of one code (2 rows)"]),
    ("dream_status", cell("dream_codes", 0, "status", "pension"), None, "parquet",
     ["dream_codes.status: value not allowed (1 rows)"]),
    ("dream_valid_to_before_from", cell("dream_codes", 4, "valid_to", dt.date(2009, 6, 30)), None,
     "parquet", ["dream_codes.valid_to: valid_to before valid_from (1 rows)"]),
    ("jobcentre_municipality_twice", append_copy("jobcentres", 0), None, "parquet",
     ["jobcentres.municipality_code: duplicate key (2 rows)"]),
    ("jobcentre_two_names", cell("jobcentres", 2, "name", "Ishøj"), None, "parquet",
     ["jobcentres.name: one job centre with several names (2 rows)"]),
    ("jobcentre_null_name", cell("jobcentres", 0, "name", None), None, "parquet",
     ["jobcentres.name: missing values (1 rows)"]),
    ("too_many_bad_rows", _shift_person_weeks, None, "parquet",
     ["weeks: too many rows quarantined (10 rows): 16.7% of 60 rows, limit 5.0%; "
      "most often not_monday:week (10 rows)"]),
    ("too_many_bad_persons", cell("persons", 0, "sex", "X"), None, "parquet",
     ["persons: too many rows quarantined (1 rows): 16.7% of 6 rows, limit 5.0%; "
      "most often not_allowed:sex (1 rows)",
      "weeks: too many rows quarantined (10 rows): 16.7% of 60 rows, limit 5.0%; "
      "most often quarantined_reference:person_id (10 rows)",
      "assignments: too many rows quarantined (1 rows): 16.7% of 6 rows, limit 5.0%; "
      "most often quarantined_reference:person_id (1 rows)",
      "bip_responses: too many rows quarantined (1 rows): 16.7% of 6 rows, limit 5.0%; "
      "most often quarantined_reference:person_id (1 rows)"]),
]


@pytest.mark.parametrize("case", TABLE_LEVEL, ids=[c[0] for c in TABLE_LEVEL])
def test_table_level_problem(tmp_path: Path, case) -> None:
    _, mutate, after_write, fmt, expected = case
    folder = build(tmp_path, mutate, after_write, fmt)
    with pytest.raises(InputError) as info:
        validate_delivery(folder, out_url=str(tmp_path / "run"))
    assert sorted(str(info.value).splitlines()) == sorted(expected)
    no_ids(str(info.value))
    assert not (tmp_path / "run" / "staged").exists()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def several(t: Tables) -> None:
        _drop("persons", "married")(t)
        cell("dream_codes", 0, "status", "pension")(t)
        _zero_rows("belief_survey")(t)
        as_strings("bip_responses", "b2", {1: "often"})(t)
    with pytest.raises(InputError) as info:
        validate_delivery(build(tmp_path, several))
    assert sorted(str(info.value).splitlines()) == sorted([
        "persons.married: required column missing: persons.parquet",
        "dream_codes.status: value not allowed (1 rows)",
        "belief_survey: table has zero rows",
        "bip_responses.b2: not an integer (int8) (1 rows)",
    ])


def test_missing_folder() -> None:
    with pytest.raises(InputError, match="delivery folder not found"):
        validate_delivery("/nonexistent/delivery")


# --------------------------------------------------------------------------- row-level catalogue

P1 = {"weeks": {"quarantined_reference:person_id": 10},
      "assignments": {"quarantined_reference:person_id": 1},
      "bip_responses": {"quarantined_reference:person_id": 1}}

ROW_LEVEL = [
    ("sex", cell("persons", 0, "sex", "X"), {"persons": {"not_allowed:sex": 1}, **P1}),
    ("origin", cell("persons", 0, "origin", "martian"), {"persons": {"not_allowed:origin": 1}, **P1}),
    ("education", cell("persons", 0, "education", "phd"),
     {"persons": {"not_allowed:education": 1}, **P1}),
    ("history_range_first_rule_wins", cell("persons", 0, "emp_weeks_3y", 200),
     {"persons": {"out_of_range:emp_weeks_3y": 1}, **P1}),
    ("history_6y_range", cell("persons", 0, "sick_weeks_6y", 313),
     {"persons": {"out_of_range:sick_weeks_6y": 1}, **P1}),
    ("history_3y_above_6y", lambda t: (set_cell(t, "persons", 0, "cash_weeks_3y", 150),
                                       set_cell(t, "persons", 0, "cash_weeks_6y", 120)),
     {"persons": {"history_3y_exceeds_6y:cash_weeks_3y": 1}, **P1}),
    ("birth_year_too_young", cell("persons", 0, "birth_year", 2010),
     {"persons": {"out_of_range:birth_year": 1}, **P1}),
    ("birth_year_too_old", cell("persons", 0, "birth_year", 1850),
     {"persons": {"out_of_range:birth_year": 1}, **P1}),
    ("duplicate_person", append_copy("persons", 0), {"persons": {"duplicate_key:person_id": 2}, **P1}),
    ("null_sex", cell("persons", 0, "sex", None), {"persons": {"null:sex": 1}, **P1}),
    ("lab_type", cell("weeks", 0, "lab_type", "sabbatical"), {"weeks": {"not_allowed:lab_type": 1}}),
    ("negative_hours", cell("weeks", 0, "ordinary_hours", -1.0),
     {"weeks": {"out_of_range:ordinary_hours": 1}}),
    ("hours_above_week", cell("weeks", 0, "ordinary_hours", 200.0),
     {"weeks": {"out_of_range:ordinary_hours": 1}}),
    ("not_monday", cell("weeks", 0, "week", dt.date(2018, 1, 3)), {"weeks": {"not_monday:week": 1}}),
    ("duplicate_person_week_across_files", append_copy("weeks", 0, jobcentre_id=102,
                                                       municipality_code=187),
     {"weeks": {"duplicate_key:person_id+week": 2}}),
    ("unknown_person", cell("weeks", 0, "person_id", UNKNOWN_PERSON_ID),
     {"weeks": {"unknown_reference:person_id": 1}}),
    ("unknown_jobcentre", cell("weeks", 0, "jobcentre_id", 103),
     {"weeks": {"unknown_reference:jobcentre_id": 1}}),
    ("municipality_mismatch", cell("weeks", 0, "municipality_code", 187),
     {"weeks": {"municipality_mismatch:municipality_code": 1}}),
    ("unknown_dream_code", cell("weeks", 1, "dream_code", 999), {"weeks": {"unknown_code:dream_code": 1}}),
    ("expired_dream_code", cell("weeks", 1, "dream_code", 899),
     {"weeks": {"code_not_valid_in_week:dream_code": 1}}),
    ("dream_version_not_yet_valid", cell("weeks", 1, "dream_code", 652),
     {}),  # 652's second version starts 2018-01-01: valid, the catalogue's negative control
    ("null_employed", cell("weeks", 0, "employed", None), {"weeks": {"null:employed": 1}}),
    ("assignment_end_before_start", cell("assignments", 1, "end_date", dt.date(2017, 1, 1)),
     {"assignments": {"end_before_start:end_date": 1}}),
    ("assignment_after_span", cell("assignments", 0, "start_date", dt.date(2018, 6, 1)),
     {"assignments": {"outside_week_span:start_date": 1}}),
    ("hours_zero_with_cases", cell("caseload", 0, "weekly_hours", 0.0),
     {"caseload": {"hours_zero_with_cases:weekly_hours": 1}}),
    ("negative_cases", cell("caseload", 0, "n_cases", -1), {"caseload": {"out_of_range:n_cases": 1}}),
    ("fraction_in_integer", cell("caseload", 0, "n_cases", 2.5), {"caseload": {"not_integral:n_cases": 1}}),
    ("implausible_caseload", cell("caseload", 0, "n_cases", 2_000_000_000), {"caseload": {"out_of_range:n_cases": 1}}),
    ("implausible_belief_caseload", cell("belief_survey", 0, "n_caseload", 5_000),
     {"belief_survey": {"out_of_range:n_caseload": 1}}),
    ("hours_infinite", cell("weeks", 0, "ordinary_hours", float("inf")), {"weeks": {"out_of_range:ordinary_hours": 1}}),
    ("assignment_starts_in_1600", cell("assignments", 0, "start_date", dt.date(1600, 1, 1)),
     {"assignments": {"out_of_range:start_date": 1}}),
    ("assignment_ends_9999", cell("assignments", 0, "end_date", dt.date(9999, 12, 31)),
     {"assignments": {"out_of_range:end_date": 1}}),
    ("week_in_1600", append_copy("weeks", 0, week=dt.date(1600, 1, 3)), {"weeks": {"out_of_range:week": 1}}),
    ("week_years_ahead", append_copy("weeks", 0, week=dt.date(2090, 1, 2)), {"weeks": {"in_future:week": 1}}),
    ("caseload_week_years_ahead", cell("caseload", 0, "week", dt.date(2090, 1, 2)),
     {"caseload": {"in_future:week": 1}}),
    ("response_in_1600", cell("bip_responses", 0, "response_date", dt.date(1600, 1, 3)),
     {"bip_responses": {"out_of_range:response_date": 1}}),
    ("duplicate_caseworker_week", append_copy("caseload", 0),
     {"caseload": {"duplicate_key:caseworker_id+week": 2}}),
    ("caseload_outside_span", cell("caseload", 0, "week", dt.date(2019, 1, 7)),
     {"caseload": {"outside_week_span:week": 1}}),
    ("belief_above_caseload", cell("belief_survey", 0, "n_job_2y", 40),
     {"belief_survey": {"exceeds_caseload:n_job_2y": 1}}),
    ("duplicate_caseworker_wave", append_copy("belief_survey", 0),
     {"belief_survey": {"duplicate_key:caseworker_id+wave": 2}}),
    ("belief_wave", cell("belief_survey", 0, "wave", "mid"), {"belief_survey": {"not_allowed:wave": 1}}),
    ("bip_citizen_answer", cell("bip_responses", 0, "b3", 6), {"bip_responses": {"out_of_range:b3": 1}}),
    ("bip_caseworker_answer", cell("bip_responses", 1, "s5", 0),
     {"bip_responses": {"out_of_range:s5": 1}}),
    ("duplicate_response", cell("bip_responses", 1, "response_id", 1),
     {"bip_responses": {"duplicate_key:response_id": 2}}),
    ("response_outside_span", cell("bip_responses", 2, "response_date", dt.date(2017, 6, 1)),
     {"bip_responses": {"outside_week_span:response_date": 1}}),
    ("bip_unknown_person", cell("bip_responses", 2, "person_id", UNKNOWN_PERSON_ID),
     {"bip_responses": {"unknown_reference:person_id": 1}}),
    ("caseload_unknown_jobcentre", cell("caseload", 3, "jobcentre_id", 999),
     {"caseload": {"unknown_reference:jobcentre_id": 1}}),
]


@pytest.mark.parametrize("case", ROW_LEVEL, ids=[c[0] for c in ROW_LEVEL])
def test_row_level_quarantine(tmp_path: Path, case) -> None:
    _, mutate, expected = case
    folder = build(tmp_path, mutate)
    report = validate_delivery(folder, quarantine_dir=tmp_path / "q", max_quarantine_share=1.0)
    assert {t: r for t, r in report.quarantined.items() if r} == expected
    assert_balanced(report)
    no_ids(report.describe())
    no_ids(json.dumps(report.to_dict()))
    for table, reasons in expected.items():
        q = pq.read_table(tmp_path / "q" / f"{table}.parquet")
        assert q.column("reason").to_pylist().count(next(iter(reasons))) == next(iter(reasons.values()))
        assert q.num_rows == sum(reasons.values())
    written = sorted(p.stem for p in (tmp_path / "q").glob("*.parquet")) if expected else []
    assert written == sorted(expected)


def test_dream_wide_delivery(tmp_path: Path) -> None:
    """Weeks delivered as DREAM wide + weeks_activity validate like the long table."""
    tables = tiny_tables()
    weeks = tables.pop("weeks")
    folder = write_delivery(tables, tmp_path / "d")
    wide = long_to_dream_wide(weeks.assign(week=pd.to_datetime(weeks["week"])))
    pq.write_table(pa.Table.from_pandas(wide, preserve_index=False), folder / "dream_wide.parquet")
    activity = weeks.drop(columns=["dream_code"])
    activity.loc[0, "lab_type"] = "sabbatical"
    pq.write_table(to_arrow("weeks", activity), folder / "weeks_activity.parquet")
    report = validate_delivery(folder, out_url=str(tmp_path / "run"), max_quarantine_share=1.0)
    assert report.rows_in["weeks"] == 60
    assert report.quarantined["weeks"] == {"not_allowed:lab_type": 1}
    assert {"dream_wide.parquet", "weeks_activity.parquet"} <= set(report.input_hashes)
    assert ds.dataset(tmp_path / "run" / "staged" / "weeks", partitioning="hive").count_rows() == 59


def test_semicolon_csv(tmp_path: Path) -> None:
    folder = build(tmp_path, fmt="csv")
    p = folder / "caseload.csv"
    p.write_text(p.read_text().replace(",", ";"))
    report = validate_delivery(folder)
    assert report.rows_out["caseload"] == 30


def test_csv_delivery_quarantines_like_parquet(tmp_path: Path) -> None:
    report = validate_delivery(build(tmp_path, cell("weeks", 0, "week", dt.date(2018, 1, 3)), fmt="csv"),
                               max_quarantine_share=1.0)
    assert report.quarantined["weeks"] == {"not_monday:week": 1}


# --------------------------------------------------------------------------- staged layer


def _sorted(t: pa.Table, keys: list[str]) -> pd.DataFrame:
    return t.to_pandas().sort_values(keys).reset_index(drop=True)


def test_staged_hive_layout_reads_back(tmp_path: Path) -> None:
    folder = build(tmp_path, cell("weeks", 0, "lab_type", "sabbatical"))
    run = tmp_path / "run"
    report = validate_delivery(folder, out_url=str(run), max_quarantine_share=1.0)
    assert sorted(p.name for p in (run / "staged" / "weeks").iterdir()) == \
        ["jobcentre_id=101", "jobcentre_id=102"]
    part = pq.read_table(run / "staged" / "weeks" / "jobcentre_id=101" / "part-0.parquet")
    assert "jobcentre_id" not in part.column_names
    part_schema = ds.partitioning(pa.schema([("jobcentre_id", pa.int32())]), flavor="hive")
    staged = ds.dataset(run / "staged" / "weeks", partitioning=part_schema).to_table()
    assert ds.dataset(run / "staged" / "weeks", partitioning="hive").count_rows() == 59
    expected = to_arrow("weeks", tiny_tables()["weeks"].iloc[1:])
    cols = expected.column_names
    pd.testing.assert_frame_equal(_sorted(staged.select(cols), ["person_id", "week"]),
                                  _sorted(expected, ["person_id", "week"]), check_dtype=False)
    assert report.rows_out["weeks"] == 59
    # the staged rows per job centre (what the map side packs by) are the partitions' rows, the
    # quarantined row not counted
    assert report.weeks_rows_by_jobcentre == {
        jc: pq.ParquetDataset(run / "staged" / "weeks" / f"jobcentre_id={jc}").read().num_rows for jc in (101, 102)}
    q = pq.read_table(run / "quarantine" / "weeks.parquet")
    assert q.column("reason").to_pylist() == ["not_allowed:lab_type"]
    persons = pq.read_table(run / "staged" / "persons.parquet")
    assert persons.num_rows == 6
    # the staged layer is itself a valid delivery
    again = validate_delivery(run / "staged")
    assert again.rows_in == report.rows_out


def test_rerun_replaces_the_staged_layer(tmp_path: Path) -> None:
    run = tmp_path / "run"
    validate_delivery(build(tmp_path), out_url=str(run))
    fewer = tmp_path / "fewer"
    tables = tiny_tables()
    tables["weeks"] = tables["weeks"][tables["weeks"]["jobcentre_id"] == 101]
    write_delivery(tables, fewer)
    (fewer / "weeks" / "part-00002.parquet").unlink()
    report = validate_delivery(fewer, out_url=str(run), coverage_limits={"max_persons_without_weeks": 1.0})
    assert report.jobcentre_ids == [101]
    assert sorted(p.name for p in (run / "staged" / "weeks").iterdir()) == ["jobcentre_id=101"]


def test_fsspec_url(tmp_path: Path) -> None:
    url = f"memory://bipdask-test-{uuid.uuid4().hex}/runs/x"
    report = validate_delivery(build(tmp_path), out_url=url)
    fs = fsspec.filesystem("memory")
    root = url.removeprefix("memory://")
    assert fs.exists(f"{root}/staged/weeks/jobcentre_id=102/part-0.parquet")
    with fs.open(f"{root}/staged/persons.parquet", "rb") as fh:
        assert pq.read_table(fh).num_rows == 6
    assert report.staged_url.endswith("runs/x/staged")
    fs.rm(root.split("/")[0], recursive=True)


# --------------------------------------------------------------------------- invariants, CLI

CORRUPTIONS = {
    "not_monday:week": ("week", lambda v: v + dt.timedelta(days=2)),
    "out_of_range:ordinary_hours": ("ordinary_hours", lambda v: -3.0),
    "not_allowed:lab_type": ("lab_type", lambda v: "holiday"),
    "unknown_reference:jobcentre_id": ("jobcentre_id", lambda v: 777),
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.integers(0, 59), st.sampled_from(sorted(CORRUPTIONS)), max_size=12))
def test_rows_in_equal_rows_out_plus_quarantined(tmp_path_factory, corrupt: dict[int, str]) -> None:
    tmp = tmp_path_factory.mktemp("h")
    tables = tiny_tables()
    for row, reason in corrupt.items():
        column, change = CORRUPTIONS[reason]
        set_cell(tables, "weeks", row, column, change(tables["weeks"].at[row, column]))
    report = validate_delivery(write_delivery(tables, tmp / "d"), quarantine_dir=tmp / "q",
                               max_quarantine_share=1.0)
    assert_balanced(report)
    expected: dict[str, int] = {}
    for reason in corrupt.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert report.quarantined["weeks"] == expected
    if corrupt:
        q = pq.read_table(tmp / "q" / "weeks.parquet").to_pandas()
        assert sorted(q["reason"]) == sorted(corrupt.values())


def test_cli_validate(tmp_path: Path, capsys) -> None:
    good = build(tmp_path / "good")
    assert main(["validate", str(good)]) == 0
    assert "delivery valid" in capsys.readouterr().out
    bad = build(tmp_path / "bad", cell("weeks", 0, "person_id", UNKNOWN_PERSON_ID),
                after_write=_garbage("dream_codes.parquet"))
    assert main(["validate", str(bad), "--quarantine", str(tmp_path / "q")]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "dream_codes: file unreadable" in captured.err
    no_ids(captured.err + captured.out)


@pytest.mark.parametrize("seed", [1, 2])
def test_synthetic_delivery_validates(tmp_path: Path, seed: int) -> None:
    from bipdask.synth import generate

    generate(tmp_path / "synth", scale=0.05, seed=seed)
    report = validate_delivery(tmp_path / "synth")
    assert {t: r for t, r in report.quarantined.items() if r} == {}
    assert report.problems == []
    assert_balanced(report)


def test_cli_validate_reads_parts_in_a_linked_folder(tmp_path: Path, capsys) -> None:
    """The second weeks part lives in a linked folder: every weeks row is validated and hashed."""
    folder = build(tmp_path)
    archive = tmp_path / "archive"
    archive.mkdir()
    (folder / "weeks" / "part-00002.parquet").rename(archive / "part-00002.parquet")
    (folder / "weeks" / "more").symlink_to(archive, target_is_directory=True)
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    n = len(tiny_tables()["weeks"])
    assert re.search(rf"weeks\s+{n}\s+{n}\s+0", out), out
    report = validate_delivery(folder)
    assert "weeks/more/part-00002.parquet" in report.input_hashes


def test_cli_validate_two_sources_of_a_table(tmp_path: Path, capsys) -> None:
    """``weeks.parquet`` next to ``weeks/``: exit 2 naming both, not one of them read silently."""
    folder = build(tmp_path)
    pq.write_table(pq.read_table(folder / "weeks" / "part-00001.parquet"), folder / "weeks.parquet")
    assert main(["validate", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "weeks: table delivered twice: weeks.parquet, weeks/" in captured.err
    assert "Traceback" not in captured.err + captured.out
    no_ids(captured.err + captured.out)


ID_COLUMNS = ("person_id", "caseworker_id", "jobcentre_id", "municipality_code")


def _float_ids(fraction_rows: int = 0) -> Callable[[Path], None]:
    """Every id column rewritten as float64, as SAS and Excel exports write them; a fraction
    (``+ 0.5``) in the person id of the first ``fraction_rows`` weeks rows."""
    def rewrite(folder: Path) -> None:
        for path in sorted(folder.rglob("*.parquet")):
            t = pq.read_table(path)
            for c in ID_COLUMNS:
                if c in t.column_names:
                    values = t.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False).copy()
                    if c == "person_id" and path.parent.name == "weeks" and path.name.endswith("1.parquet"):
                        values[:fraction_rows] += 0.5
                    t = t.set_column(t.column_names.index(c), c, pa.array(values, pa.float64()))
            pq.write_table(t, path)
    return rewrite


def test_cli_validate_float_ids_are_cast(tmp_path: Path, capsys) -> None:
    """Whole-number float ids are cast to the contract's integers (they were 'file unreadable')."""
    folder = build(tmp_path, after_write=_float_ids())
    assert pq.read_schema(folder / "persons.parquet").field("person_id").type == pa.float64()
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    n = len(tiny_tables()["weeks"])
    assert re.search(rf"weeks\s+{n}\s+{n}\s+0", out), out
    report = validate_delivery(folder, out_url=str(tmp_path / "run"))
    staged = pq.read_table(tmp_path / "run" / "staged" / "persons.parquet")
    assert staged.schema.field("person_id").type == pa.int64()
    assert sorted(staged.column("person_id").to_pylist()) == PERSON_IDS
    assert report.n_quarantined("weeks") == 0


def test_cli_validate_float_id_with_a_fraction_is_quarantined(tmp_path: Path, capsys) -> None:
    """A fraction in a float id is one bad row (quarantined with its reason), not a broken file."""
    folder = build(tmp_path, after_write=_float_ids(fraction_rows=2))
    assert main(["validate", str(folder), "--quarantine", str(tmp_path / "q")]) == 0
    captured = capsys.readouterr()
    assert "weeks: not_integral:person_id (2 rows)" in captured.out
    assert "Traceback" not in captured.err + captured.out
    no_ids(captured.err + captured.out)
    q = pq.read_table(tmp_path / "q" / "weeks.parquet")
    assert q.column("reason").to_pylist() == ["not_integral:person_id"] * 2
    assert q.column("person_id").null_count == 2


def test_float_with_a_fraction_in_a_reference_table_stops_the_run(tmp_path: Path) -> None:
    def rewrite(folder: Path) -> None:
        t = pq.read_table(folder / "jobcentres.parquet")
        values = [101.0, 102.5, 102.0]
        pq.write_table(t.set_column(0, "jobcentre_id", pa.array(values, pa.float64())), folder / "jobcentres.parquet")
    with pytest.raises(InputError) as err:
        validate_delivery(build(tmp_path, after_write=rewrite))
    assert "jobcentres.jobcentre_id: not a whole number (1 rows)" in str(err.value)
    assert "missing values" not in str(err.value)


def test_a_delivery_too_large_to_sort_its_keys_at_once_is_checked_in_passes(tmp_path: Path, monkeypatch) -> None:
    """The (person, week) duplicate check holds at most MAX_KEYS_IN_MEMORY keys: above it, one pass per
    person-id residue class finds the same duplicates, the same span, and reports problems once."""
    from bipdask.data.validate import stage

    def dup_and_typo(t: Tables) -> None:
        append_copy("weeks", 0, jobcentre_id=102, municipality_code=187)(t)
        append_copy("weeks", 7)(t)
        cell("weeks", 3, "lab_type", "sabbatical")(t)

    folder = build(tmp_path, dup_and_typo)
    whole = validate_delivery(folder, out_url=str(tmp_path / "whole"), max_quarantine_share=1.0)
    monkeypatch.setattr(stage, "MAX_KEYS_IN_MEMORY", 7)  # 60 weeks rows: 9 passes
    passes = validate_delivery(folder, out_url=str(tmp_path / "passes"), max_quarantine_share=1.0)
    assert whole.quarantined["weeks"] == {"duplicate_key:person_id+week": 4, "not_allowed:lab_type": 1}
    assert passes.to_dict() | {"staged_url": None} == whole.to_dict() | {"staged_url": None}
    for name in ("weeks.parquet",):
        assert pq.read_table(tmp_path / "passes" / "quarantine" / name).equals(
            pq.read_table(tmp_path / "whole" / "quarantine" / name))


def test_the_staging_writer_bounds_the_rows_it_buffers_and_writes_every_row_once(tmp_path: Path) -> None:
    from bipdask.data.validate.write import Folder, PartitionedWriter, loose_schema

    writer = PartitionedWriter(Folder(str(tmp_path)), rows_per_part=50, max_buffered=30)
    rng = np.random.default_rng(3)
    names = loose_schema("weeks").names
    written = []
    for b in range(12):
        n = 17
        t = pa.table({c: pa.nulls(n, type=loose_schema("weeks").field(c).type) for c in names})
        t = t.set_column(names.index("jobcentre_id"), "jobcentre_id", pa.array(rng.integers(1, 5, n), pa.int32()))
        t = t.set_column(names.index("person_id"), "person_id", pa.array(np.arange(n) + 100 * b, pa.int64()))
        writer.write(t)
        written.append(t)
        assert writer._buffered <= 30
    writer.close()
    back = ds.dataset(tmp_path / "staged" / "weeks", partitioning="hive").to_table()
    assert sorted(back.column("person_id").to_pylist()) == sorted(
        pa.concat_tables(written).column("person_id").to_pylist())
