"""Reading a delivery: contract types from CSV and Parquet, clear errors, DREAM wide → weeks."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bipdask.data.contract import CASELOAD, DREAM_CODES, TABLES, WEEKS
from bipdask.data.delivery import (
    conform_table,
    dataset,
    has_table,
    iter_table_batches,
    iter_table_files,
    present_tables,
    read_delivery_table,
    read_table,
    table_files,
    table_format,
    to_pandas,
    weeks_layout,
)
from bipdask.errors import InputError

SECRET_ID = 987654321012

CASELOAD_CSV = """caseworker_id,jobcentre_id,week,n_cases,weekly_hours
{cw},101,2018-03-05,40,37
{cw},101,2018-03-12,41,29.6
7,101,2018-03-05,,37.0
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _problem(err: pytest.ExceptionInfo) -> tuple:
    [p] = err.value.problems
    return p.table, p.column, p.rule, p.n_rows


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_read_with_contract_types(tmp_path):
    _write(tmp_path / "caseload.csv", CASELOAD_CSV.format(cw=SECRET_ID))
    df = read_delivery_table(tmp_path, "caseload")
    assert str(df["caseworker_id"].dtype) == "int64" and str(df["jobcentre_id"].dtype) == "int32"
    assert df["week"].dtype == "datetime64[ns]" and df["weekly_hours"].dtype == "float64"
    assert str(df["n_cases"].dtype) == "Int32" and df["n_cases"].isna().tolist() == [False, False, True]
    assert df["weekly_hours"].tolist() == [37.0, 29.6, 37.0]
    pd.testing.assert_frame_equal(read_table(tmp_path, "caseload"), df)


@pytest.mark.parametrize("cell, column, rule", [
    ("2018-02-30", "week", "not a date"),
    ("05-03-2018", "week", "not a date"),
    ("2018-03-05 ", None, None),
    ("x", "n_cases", "not an integer (int32)"),
    ("4.5", "n_cases", "not an integer (int32)"),
    ("3000000000", "n_cases", "not an integer (int32)"),
    ("37,5", "weekly_hours", "not a number"),
])
def test_csv_bad_cell_gives_table_column_rule_count(tmp_path, cell, column, rule):
    text = CASELOAD_CSV.format(cw=SECRET_ID)
    target = {"week": "2018-03-12", "n_cases": "41", "weekly_hours": "29.6"}[column or "week"]
    _write(tmp_path / "caseload.csv", text.replace(target, f'"{cell}"' if "," in cell else cell))
    if column is None:  # surrounding spaces are not an error
        assert read_delivery_table(tmp_path, "caseload")["week"].iloc[1] == pd.Timestamp("2018-03-05")
        return
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "caseload")
    table, col, got_rule, n = _problem(err)
    assert (table, col, n) == ("caseload", column, 1) and got_rule.startswith(rule)
    message = str(err.value)
    assert "caseload.csv" in message and str(SECRET_ID) not in message and cell.strip() not in message
    assert "Traceback" not in message and "\n" not in message


def test_csv_booleans_true_false_1_0(tmp_path):
    _write(tmp_path / "weeks_activity.csv",
           "person_id,week,employed,su\n1,2017-02-27,true,0\n1,2017-03-06,FALSE,1\n1,2017-03-13,1,\n")
    df = read_delivery_table(tmp_path, "weeks_activity")
    assert df["employed"].tolist() == [True, False, True]
    assert str(df["su"].dtype) == "boolean" and df["su"].tolist()[:2] == [False, True] and pd.isna(df["su"].iloc[2])
    _write(tmp_path / "weeks_activity.csv", "person_id,week,employed,su\n1,2017-02-27,yes,0\n1,2017-03-06,ja,2\n")
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "weeks_activity")
    lines = {(p.column, p.rule, p.n_rows) for p in err.value.problems}
    assert lines == {("employed", "not a boolean (true/false/1/0)", 2), ("su", "not a boolean (true/false/1/0)", 1)}


def test_csv_semicolon_delimiter_and_extra_columns_pass_through(tmp_path):
    _write(tmp_path / "caseload.csv", "caseworker_id;jobcentre_id;week;n_cases;weekly_hours;note\n"
                                      "5;101;2018-03-05;40;37;a;\n"[:-2] + "\n")
    df = read_delivery_table(tmp_path, "caseload")
    assert df["n_cases"].tolist() == [40] and df["note"].tolist() == ["a"]


def test_csv_ragged_row_gives_no_row_text(tmp_path):
    _write(tmp_path / "caseload.csv", CASELOAD_CSV.format(cw=SECRET_ID) + f"{SECRET_ID},101\n")
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "caseload")
    assert "cannot be parsed" in str(err.value) and str(SECRET_ID) not in str(err.value)


def test_missing_table_and_column(tmp_path):
    with pytest.raises(InputError, match="caseload: table missing"):
        read_delivery_table(tmp_path, "caseload")
    _write(tmp_path / "caseload.csv", CASELOAD_CSV.format(cw=1))
    with pytest.raises(InputError, match="caseload.n_kases: column missing"):
        read_delivery_table(tmp_path, "caseload", columns=["week", "n_kases"])


# --- Parquet ------------------------------------------------------------------------------------


def _caseload_arrow(**types) -> pa.Table:
    data = {"caseworker_id": [SECRET_ID, 7], "jobcentre_id": [101, 101],
            "week": [dt.datetime(2018, 3, 5), dt.datetime(2018, 3, 12)], "n_cases": [40, None],
            "weekly_hours": [37, 30]}
    if "week" not in types:
        data["week"] = [d.date() for d in data["week"]]
    return pa.table({c: pa.array(v, types.get(c, CASELOAD.column(c).type)) for c, v in data.items()})


def test_parquet_int_widths_and_compatible_types_are_cast(tmp_path):
    raw = _caseload_arrow(jobcentre_id=pa.int64(),
                          week=pa.timestamp("ns"), n_cases=pa.int16(), weekly_hours=pa.int64())
    pq.write_table(raw, tmp_path / "caseload.parquet")
    df = read_delivery_table(tmp_path, "caseload")
    assert str(df["caseworker_id"].dtype) == "int64"
    assert str(df["jobcentre_id"].dtype) == "int32" and str(df["n_cases"].dtype) == "Int32"
    assert df["week"].tolist() == [pd.Timestamp("2018-03-05"), pd.Timestamp("2018-03-12")]
    assert df["weekly_hours"].dtype == "float64"


def test_parquet_int_out_of_range_and_wrong_types_are_named(tmp_path):
    pq.write_table(_caseload_arrow(jobcentre_id=pa.int64()).set_column(
        1, "jobcentre_id", pa.array([101, 2**40], pa.int64())), tmp_path / "caseload.parquet")
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "caseload")
    assert _problem(err) == ("caseload", "jobcentre_id", "integer out of range for int32", 1)
    bad = _caseload_arrow(week=pa.timestamp("us")).set_column(
        2, "week", pa.array([dt.datetime(2018, 3, 5), dt.datetime(2018, 3, 12, 8)], pa.timestamp("us")))
    pq.write_table(bad, tmp_path / "caseload.parquet")
    with pytest.raises(InputError, match="time of day") as err:
        read_delivery_table(tmp_path, "caseload")
    assert _problem(err)[1:] == ("week", "not a date (ISO YYYY-MM-DD): has a time of day", 1)
    pq.write_table(_caseload_arrow().set_column(3, "n_cases", pa.array([1.0, 2.5])), tmp_path / "caseload.parquet")
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "caseload")
    assert _problem(err) == ("caseload", "n_cases", "not an integer (int32)", 1)
    pq.write_table(_caseload_arrow().set_column(2, "week", pa.array([1.0, 2.5])), tmp_path / "caseload.parquet")
    with pytest.raises(InputError, match="caseload.week: is double, not date32"):
        read_delivery_table(tmp_path, "caseload")
    assert str(SECRET_ID) not in str(err.value)


def test_parquet_text_dates_are_parsed_like_csv():
    raw = _caseload_arrow().set_column(2, "week", pa.array(["2018-03-05", "2018-13-01"]))
    with pytest.raises(InputError) as err:
        conform_table(raw, "caseload")
    assert _problem(err) == ("caseload", "week", "not a date (ISO YYYY-MM-DD)", 1)


def test_parquet_filter_and_columns(tmp_path):
    pq.write_table(_caseload_arrow(jobcentre_id=pa.int64()), tmp_path / "caseload.parquet")
    df = read_delivery_table(tmp_path, "caseload", columns=["caseworker_id", "week"],
                             filter=pc.field("caseworker_id") == 7)
    assert list(df.columns) == ["caseworker_id", "week"] and df["caseworker_id"].tolist() == [7]


# --- multi-file tables, iteration ---------------------------------------------------------------


def test_multi_file_table_reads_one_file_at_a_time(tmp_path):
    (tmp_path / "caseload").mkdir()
    for i in range(3):
        t = _caseload_arrow(jobcentre_id=pa.int64() if i == 1 else pa.int32())
        pq.write_table(t, tmp_path / "caseload" / f"part-{i:05d}.parquet")
    files = table_files(tmp_path, "caseload")
    assert [p.name for p in files] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert table_format(files) == "parquet" and has_table(tmp_path, "caseload")
    seen = [(p.name, len(df), str(df["jobcentre_id"].dtype)) for p, df in iter_table_files(tmp_path, "caseload")]
    assert seen == [(f.name, 2, "int32") for f in files]
    assert sum(len(b) for b in iter_table_batches(tmp_path, "caseload", batch_rows=1)) == 6
    assert len(read_delivery_table(tmp_path, "caseload")) == 6
    assert dataset(tmp_path, "caseload").count_rows() == 6
    assert present_tables(tmp_path) == ["caseload"]


def test_csv_batches_are_typed(tmp_path):
    _write(tmp_path / "caseload" / "a.csv", CASELOAD_CSV.format(cw=1))
    _write(tmp_path / "caseload" / "b.csv", CASELOAD_CSV.format(cw=2))
    batches = list(iter_table_batches(tmp_path, "caseload"))
    assert len(batches) == 2 and all(b["week"].dtype == "datetime64[ns]" for b in batches)
    _write(tmp_path / "caseload" / "c.parquet", "")
    with pytest.raises(InputError, match="mixes Parquet and CSV"):
        list(iter_table_files(tmp_path, "caseload"))


def test_to_pandas_dates_ns_and_nullable_ints():
    t = pa.table({"d": pa.array([dt.date(2020, 1, 6), None], pa.date32()), "i": pa.array([1, None], pa.int16()),
                  "j": pa.array([1, 2], pa.int16()), "b": pa.array([True, None])})
    df = to_pandas(t)
    assert df["d"].dtype == "datetime64[ns]" and str(df["i"].dtype) == "Int16"
    assert str(df["j"].dtype) == "int16" and str(df["b"].dtype) == "boolean"


# --- weeks from DREAM wide -----------------------------------------------------------------------


def _dream_delivery(root: Path, fmt: str, with_activity: bool) -> None:
    wide = pd.DataFrame({"person_id": [SECRET_ID, 2, 3], "y_2052": ["111", "", "720"],
                         "y_2053": ["111", "111", ""], "y_2101": ["", "111", "720"]})
    if fmt == "csv":
        wide.to_csv(root / "dream_wide.csv", index=False)
    else:
        (root / "dream_wide").mkdir()
        pq.write_table(pa.Table.from_pandas(wide.iloc[:2], preserve_index=False), root / "dream_wide" / "p1.parquet")
        pq.write_table(pa.Table.from_pandas(wide.iloc[2:], preserve_index=False), root / "dream_wide" / "p2.parquet")
    if with_activity:
        _write(root / "weeks_activity.csv",
               "person_id,week,jobcentre_id,municipality_code,lab_type,ordinary_hours,employed,su\n"
               f"{SECRET_ID},2020-12-21,1,101,none,0,false,false\n"
               "3,2020-12-28,2,147,company_internship,2.5,1,0\n")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_weeks_built_from_dream_wide(tmp_path, fmt):
    _dream_delivery(tmp_path, fmt, with_activity=True)
    assert weeks_layout(tmp_path) == "dream_wide" and "weeks" not in present_tables(tmp_path)
    weeks = read_delivery_table(tmp_path, "weeks")
    assert list(weeks.columns) == list(WEEKS.column_names)
    assert len(weeks) == 7  # 6 coded DREAM cells + 1 companion row with no code
    assert str(weeks["dream_code"].dtype) == "Int16" and weeks["week"].dtype == "datetime64[ns]"
    row = weeks[(weeks.person_id == 3) & (weeks.week == pd.Timestamp("2020-12-28"))].iloc[0]
    assert pd.isna(row["dream_code"]) and row["lab_type"] == "company_internship" and row["employed"]
    assert weeks.loc[weeks.person_id == SECRET_ID, "dream_code"].tolist() == [111, 111]
    parts = list(iter_table_files(tmp_path, "weeks"))
    assert len(parts) == (1 if fmt == "csv" else 2) and sum(len(df) for _, df in parts) == 7
    only_three = read_delivery_table(tmp_path, "weeks", filter=pc.field("person_id") == 3)
    assert len(only_three) == 3


def test_bad_dream_code_in_a_csv_delivery(tmp_path):
    _write(tmp_path / "dream_wide.csv", f"person_id,y_1709,y_1853\n{SECRET_ID},111,111\n")
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "weeks")
    assert _problem(err)[:2] == ("dream_wide", "y_1853") and str(SECRET_ID) not in str(err.value)
    _write(tmp_path / "dream_wide.csv", f"person_id,y_1709,y_1710\n{SECRET_ID},111,72\n2,1111,\n")
    with pytest.raises(InputError) as err:
        read_delivery_table(tmp_path, "weeks")
    assert {(p.column, p.n_rows) for p in err.value.problems} == {("y_1709", 1), ("y_1710", 1)}


def test_dream_codes_table_reads_with_open_versions(tmp_path):
    _write(tmp_path / "dream_codes.csv",
           "dream_code,valid_from,valid_to,status\n111,2010-01-01,2018-02-28,other\n111,2018-03-01,,resource_course\n")
    df = read_delivery_table(tmp_path, "dream_codes")
    assert list(df.columns) == list(DREAM_CODES.column_names)
    assert df["valid_to"].isna().tolist() == [False, True] and df["dream_code"].dtype == np.int16


# --- the written contract -------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def _documented_columns() -> dict[str, dict[str, tuple[str, str]]]:
    """``{table: {column: (arrow type, null)}}`` from the doc's per-table column tables."""
    tables: dict[str, dict[str, tuple[str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#+ Table `(\w+)`", line)
        if m:
            current = tables.setdefault(m.group(1), {})
        elif line.startswith("#"):
            current = None
        elif current is not None and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            current[cells[0].strip("`")] = (cells[1].strip("`"), cells[2])
    return tables


def test_every_contract_column_is_documented_with_its_type():
    documented = _documented_columns()
    assert set(documented) == set(TABLES)
    for table in TABLES.values():
        assert list(documented[table.name]) == list(table.column_names), table.name
        for col in table.columns:
            assert documented[table.name][col.name] == (str(col.type), "yes" if col.nullable else "no"), \
                f"{table.name}.{col.name}"


def test_doc_lists_every_code_list_value():
    text = DOC.read_text(encoding="utf-8")
    for table in TABLES.values():
        for col in table.columns:
            for value in col.allowed or ():
                assert f"`{value}`" in text, f"{table.name}.{col.name} = {value}"


# --------------------------------------------------------------------------- layout: links, two sources


def _parts(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pq.write_table(pa.table({"person_id": pa.array([i], pa.int64())}), folder / f"part-{i}.parquet")


def test_parts_in_a_linked_folder_are_found(tmp_path):
    """A delivery assembled from links: the parts in a linked subfolder are part of the table
    (a walk that does not follow folder links drops them, and half the weeks with them)."""
    archive = tmp_path / "archive" / "2018"
    _parts(archive, 2)
    root = tmp_path / "delivery"
    _parts(root / "weeks" / "2017", 2)
    (root / "weeks" / "2018").symlink_to(archive, target_is_directory=True)
    (root / "weeks" / "part-x.parquet").symlink_to(archive / "part-0.parquet")
    files = [p.relative_to(root).as_posix() for p in table_files(root, "weeks")]
    assert files == ["weeks/2017/part-0.parquet", "weeks/2017/part-1.parquet", "weeks/2018/part-0.parquet",
                     "weeks/2018/part-1.parquet", "weeks/part-x.parquet"]
    assert len(read_table(root, "weeks")) == 5


def test_a_linked_table_folder_is_found(tmp_path):
    _parts(tmp_path / "elsewhere", 3)
    root = tmp_path / "delivery"
    root.mkdir()
    (root / "weeks").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert len(table_files(root, "weeks")) == 3


def test_a_folder_linked_twice_is_read_once(tmp_path):
    _parts(tmp_path / "elsewhere", 2)
    root = tmp_path / "delivery"
    (root / "weeks").mkdir(parents=True)
    (root / "weeks" / "a").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "weeks" / "b").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert [p.relative_to(root).as_posix() for p in table_files(root, "weeks")] == [
        "weeks/a/part-0.parquet", "weeks/a/part-1.parquet"]


def test_a_link_loop_is_a_delivery_error(tmp_path):
    root = tmp_path / "delivery"
    _parts(root / "weeks" / "x", 1)
    (root / "weeks" / "x" / "back").symlink_to(root / "weeks", target_is_directory=True)
    with pytest.raises(InputError, match=r"weeks: symbolic link loop: weeks/x/back links to a folder"):
        table_files(root, "weeks")


def test_a_broken_link_part_is_a_delivery_error(tmp_path):
    root = tmp_path / "delivery"
    _parts(root / "weeks", 1)
    (root / "weeks" / "part-9.parquet").symlink_to(tmp_path / "gone.parquet")
    with pytest.raises(InputError, match=r"weeks: file unreadable: weeks/part-9.parquet \(broken link\)"):
        table_files(root, "weeks")


@pytest.mark.parametrize("sources", [("weeks.parquet", "weeks/"), ("weeks.parquet", "weeks.csv"),
                                     ("weeks.csv", "weeks/")])
def test_two_sources_of_one_table_is_a_delivery_error(tmp_path, sources):
    """``weeks.parquet`` next to ``weeks/``: reading one would hide (and not hash) the other."""
    for s in sources:
        if s.endswith("/"):
            _parts(tmp_path / s.rstrip("/"), 1)
        elif s.endswith(".csv"):
            (tmp_path / s).write_text("person_id\n1\n")
        else:
            pq.write_table(pa.table({"person_id": [1]}), tmp_path / s)
    with pytest.raises(InputError, match="weeks: table delivered twice") as err:
        table_files(tmp_path, "weeks")
    for s in sources:
        assert s in str(err.value)
