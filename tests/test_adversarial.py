"""Adversarial deliveries: a catalogue of kinds of bad delivery and fault, each run through the
real CLI and held to the same six properties by one checker:

1. the exit code (0 ok, 2 bad delivery or spec, 3 infrastructure);
2. the message names the real cause (a substring of stdout + stderr);
3. no traceback;
4. no person id in anything printed (the tiny delivery's ids are distinctive 8-digit numbers);
5. rows in = rows staged + rows quarantined, table by table, counted in the files written
   (``validate_delivery(out_url=…)``; nothing staged when the delivery is refused);
6. no committed run where there should be none (``run`` kinds: a refused delivery or spec
   leaves no run under the output root).

A kind is one :class:`Kind` row: a name, how to break the tiny delivery of
``tests/_deliveries.py`` (a mutation of its tables before writing, and/or a change to the
written folder), the command, and what to expect. Add a kind by adding a row. ``run`` kinds
here are those refused before the evaluation flow starts (spec, layout, hashing), so the
catalogue needs no Prefect server; kinds refused inside the flow belong with the flow tests.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _deliveries import (
    PERSON_IDS,
    UNKNOWN_PERSON_ID,
    tiny_tables,
    write_delivery,
    write_spec,
)

from bipdask.cli import main
from bipdask.data.validate import validate_delivery
from bipdask.errors import InputError
from bipdask.runtime import storage

Tables = dict[str, pd.DataFrame]
Mutate = Callable[[Tables], None]
Damage = Callable[[Path], None]
PLANTED_IDS = [*PERSON_IDS, UNKNOWN_PERSON_ID]


@dataclass(frozen=True)
class Kind:
    """One kind of bad delivery or fault and what the CLI must do with it."""

    name: str
    exit_code: int
    message: str  # a substring of stdout + stderr naming the cause
    mutate: Mutate | None = None  # on the tables, before writing
    damage: Damage | None = None  # on the written delivery folder
    command: str = "validate"  # or "run" (refused before the flow starts)
    fmt: str = "parquet"
    spec: Callable[[Path], Path | str] | None = None  # run kinds: writes a spec (or names a built-in)
    output: str | None = None  # run kinds: an output root other than a local folder


# ----------------------------------------------------------------------------- table mutations


def cell(name: str, row: int, column: str, value) -> Mutate:
    def mutate(t: Tables) -> None:
        t[name][column] = t[name][column].astype(object)
        t[name].at[row, column] = value
    return mutate


def copy_row(name: str, row: int, **changes) -> Mutate:
    def mutate(t: Tables) -> None:
        extra = t[name].iloc[[row]].copy()
        for k, v in changes.items():
            extra[k] = extra[k].astype(object)
            extra[k] = [v]
        t[name] = pd.concat([t[name], extra], ignore_index=True)
    return mutate


def drop_column(name: str, column: str) -> Mutate:
    return lambda t: t.__setitem__(name, t[name].drop(columns=[column]))


def drop_table(name: str) -> Mutate:
    return lambda t: t.pop(name)


def zero_rows(name: str) -> Mutate:
    return lambda t: t.__setitem__(name, t[name].iloc[0:0])


def keep_rows(name: str, keep: Callable[[pd.DataFrame], pd.Series]) -> Mutate:
    return lambda t: t.__setitem__(name, t[name][keep(t[name])])


def both(*steps: Mutate) -> Mutate:
    def mutate(t: Tables) -> None:
        for step in steps:
            step(t)
    return mutate


def add_jobcentre(t: Tables) -> None:
    t["jobcentres"].loc[len(t["jobcentres"])] = [103, "Faxe", 320]


# ----------------------------------------------------------------------------- folder damage


def write_bytes(rel: str, data: bytes) -> Damage:
    def damage(folder: Path) -> None:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return damage


def remove(rel: str) -> Damage:
    def damage(folder: Path) -> None:
        path = folder / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return damage


def parquet_column_as(table: str, column: str, values: Callable[[pa.Table], pa.Array]) -> Damage:
    """Rewrite one column of a single-file table with other Arrow values (another type)."""
    def damage(folder: Path) -> None:
        path = folder / f"{table}.parquet"
        t = pq.read_table(path)
        pq.write_table(t.set_column(t.column_names.index(column), column, values(t)), path)
    return damage


def float_ids(fraction: bool = False) -> Damage:
    """Every id column as float64 (SAS/Excel exports); with ``fraction`` one weeks id gets + 0.5."""
    def damage(folder: Path) -> None:
        for path in sorted(folder.rglob("*.parquet")):
            t = pq.read_table(path)
            for c in ("person_id", "caseworker_id", "jobcentre_id", "municipality_code"):
                if c in t.column_names:
                    v = t.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False).copy()
                    if fraction and c == "person_id" and path.name == "part-00001.parquet":
                        v[0] += 0.5
                    t = t.set_column(t.column_names.index(c), c, pa.array(v, pa.float64()))
            pq.write_table(t, path)
    return damage


def linked_subfolder(folder: Path) -> None:
    """The second weeks part moved out of the delivery and linked back as a subfolder."""
    archive = folder.parent / "archive"
    archive.mkdir()
    (folder / "weeks" / "part-00002.parquet").rename(archive / "part-00002.parquet")
    (folder / "weeks" / "2018").symlink_to(archive, target_is_directory=True)


def link_loop(folder: Path) -> None:
    (folder / "weeks" / "again").symlink_to(folder / "weeks", target_is_directory=True)


def dangling_part(folder: Path) -> None:
    (folder / "weeks" / "part-00003.parquet").symlink_to(folder.parent / "nowhere.parquet")


def second_source(folder: Path) -> None:
    shutil.copy(folder / "weeks" / "part-00001.parquet", folder / "weeks.parquet")


def mixed_formats(folder: Path) -> None:
    pd.read_parquet(folder / "weeks" / "part-00002.parquet").to_csv(folder / "weeks" / "part-00002.csv", index=False)
    (folder / "weeks" / "part-00002.parquet").unlink()


def latin1_csv(folder: Path) -> None:
    path = folder / "jobcentres.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))


def non_utf8_file_name(folder: Path) -> None:
    src = folder / "weeks" / "part-00002.parquet"
    os.rename(os.fsencode(src), os.fsencode(folder / "weeks") + b"/part-\xe6.parquet")


def duplicate_csv_header(folder: Path) -> None:
    path = folder / "jobcentres.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("municipality_code", "name")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ragged_csv(folder: Path) -> None:
    with open(folder / "caseload.csv", "a", encoding="utf-8") as fh:
        fh.write("501,101\n")


def treated_as_a_string(tmp: Path) -> Path:
    path = write_spec(tmp / "spec.toml")
    text = path.read_text(encoding="utf-8")
    start = text.index("treated_jobcentres = [")
    end = text.index("]", start) + 1
    path.write_text(text[:start] + 'treated_jobcentres = "Favrskov"' + text[end:], encoding="utf-8")
    return path


def spec_edit(pattern: str, replacement: str) -> Callable[[Path], Path]:
    """The tiny delivery's spec with one line replaced (``pattern`` is a regular expression)."""
    def spec(tmp: Path) -> Path:
        path = write_spec(tmp / "spec.toml")
        text, n = re.subn(pattern, replacement, path.read_text(encoding="utf-8"), count=1, flags=re.MULTILINE)
        assert n == 1, pattern
        path.write_text(text, encoding="utf-8")
        return path
    return spec


def spec_text(text: str) -> Callable[[Path], Path]:
    def spec(tmp: Path) -> Path:
        (tmp / "spec.toml").write_text(text, encoding="utf-8")
        return tmp / "spec.toml"
    return spec


# ----------------------------------------------------------------------------- the catalogue

KINDS = [
    # --- layout and files -----------------------------------------------------------------
    Kind("missing_required_table", 2, "persons: required table missing", drop_table("persons")),
    Kind("missing_weeks", 2, "weeks: required table missing", drop_table("weeks")),
    Kind("empty_folder", 2, "jobcentres: required table missing",
         damage=lambda f: [p.unlink() if p.is_file() else shutil.rmtree(p) for p in list(f.iterdir())]),
    Kind("delivery_is_a_file", 2, "delivery folder not found",
         damage=lambda f: (shutil.rmtree(f), f.write_bytes(b"PAR1"))),
    Kind("unknown_extra_table", 0, "extra_table: unknown table ignored",
         damage=write_bytes("extra_table.parquet", b"not read")),
    Kind("misspelt_optional_table", 0, "caseloads: unknown table ignored",
         damage=lambda f: (f / "caseload.parquet").rename(f / "caseloads.parquet")),
    Kind("linked_subfolder", 0, "weeks 60 60 0", damage=linked_subfolder),
    Kind("link_loop", 2, "weeks: symbolic link loop", damage=link_loop),
    Kind("dangling_link_part", 2, "weeks/part-00003.parquet (broken link)", damage=dangling_part),
    Kind("two_sources", 2, "weeks: table delivered twice: weeks.parquet, weeks/", damage=second_source),
    Kind("mixed_formats", 2, "weeks: mixes Parquet and CSV files", damage=mixed_formats),
    Kind("corrupt_parquet", 2, "dream_codes: file unreadable: dream_codes.parquet",
         damage=write_bytes("dream_codes.parquet", b"PAR1 this is not parquet PAR1")),
    Kind("zero_byte_part", 2, "weeks: file unreadable: weeks/part-00003.parquet",
         damage=write_bytes("weeks/part-00003.parquet", b"")),
    Kind("non_utf8_file_name", 2, "weeks: file unreadable: weeks/part-\ufffd.parquet (file name not UTF-8",
         damage=non_utf8_file_name),
    Kind("non_utf8_text_in_csv", 2, "jobcentres: file unreadable", fmt="csv", damage=latin1_csv),
    # --- columns and types ----------------------------------------------------------------
    Kind("missing_column", 2, "weeks.lab_type: required column missing", drop_column("weeks", "lab_type")),
    Kind("wrong_dtype_text_in_integer", 2, "persons.birth_year: not an integer (int16) (1 rows)",
         damage=parquet_column_as("persons", "birth_year", lambda t: pa.array(
             ["nineteen-seventy", *map(str, t.column("birth_year").to_pylist()[1:])]))),
    Kind("integer_out_of_type_range", 2, "caseload.n_cases: integer out of range for int32",
         damage=parquet_column_as("caseload", "n_cases",
                                  lambda t: pa.array([3_000_000_000] * t.num_rows, pa.int64()))),
    Kind("boolean_as_2", 2, "persons.married: not a boolean",
         damage=parquet_column_as("persons", "married", lambda t: pa.array([2] * t.num_rows, pa.int8()))),
    Kind("date_with_time_of_day", 2, "caseload.week: not a date (ISO YYYY-MM-DD): has a time of day",
         damage=parquet_column_as("caseload", "week", lambda t: pa.compute.add(
             t.column("week").cast(pa.timestamp("s")), pa.scalar(3600, pa.duration("s"))))),
    Kind("list_where_number_expected", 2, "caseload.n_cases: is list<element: int64>, not int32",
         damage=parquet_column_as("caseload", "n_cases",
                                  lambda t: pa.array([[1, 2]] * t.num_rows, pa.list_(pa.int64())))),
    Kind("bad_date_text_in_csv", 2, "caseload.week: not a date (ISO YYYY-MM-DD) (1 rows)", fmt="csv",
         mutate=cell("caseload", 0, "week", "2018-02-30")),
    Kind("duplicate_csv_column", 2, "jobcentres.name: duplicate column names", fmt="csv",
         damage=duplicate_csv_header),
    Kind("ragged_csv_row", 2, "caseload: file unreadable", fmt="csv", damage=ragged_csv),
    Kind("empty_table", 2, "caseload: table has zero rows", zero_rows("caseload")),
    Kind("float_ids", 0, "weeks 60 60 0", damage=float_ids()),
    Kind("float_id_with_a_fraction", 0, "weeks: not_integral:person_id (1 rows)", damage=float_ids(fraction=True)),
    # --- rows -------------------------------------------------------------------------------
    Kind("duplicated_weeks_key", 0, "weeks: duplicate_key:person_id+week (2 rows)",
         copy_row("weeks", 0, jobcentre_id=102, municipality_code=187)),
    Kind("duplicated_persons_key", 2, "persons: too many rows quarantined", copy_row("persons", 0)),
    Kind("null_in_weeks_key", 0, "weeks: null:person_id (1 rows)", cell("weeks", 3, "person_id", None)),
    Kind("null_in_persons_key", 2, "most often null:person_id", cell("persons", 0, "person_id", None)),
    Kind("week_in_1600", 0, "weeks: out_of_range:week (1 rows)", copy_row("weeks", 0, week=dt.date(1600, 1, 3))),
    Kind("weeks_years_in_the_future", 0, "weeks: in_future:week (1 rows)",
         copy_row("weeks", 0, week=dt.date(2090, 1, 2))),
    Kind("not_a_monday", 0, "weeks: not_monday:week (1 rows)", cell("weeks", 0, "week", dt.date(2018, 1, 3))),
    Kind("assignment_starts_in_1600", 2, "most often out_of_range:start_date",
         cell("assignments", 0, "start_date", dt.date(1600, 1, 1))),
    Kind("assignment_ends_9999_12_31", 2, "most often out_of_range:end_date",
         cell("assignments", 0, "end_date", dt.date(9999, 12, 31))),
    Kind("implausible_caseload_2e9", 0, "caseload: out_of_range:n_cases (1 rows)",
         cell("caseload", 0, "n_cases", 2_000_000_000)),
    Kind("implausible_hours", 0, "caseload: out_of_range:weekly_hours (1 rows)",
         cell("caseload", 0, "weekly_hours", 500.0)),
    Kind("infinite_hours", 0, "weeks: out_of_range:ordinary_hours (1 rows)",
         cell("weeks", 0, "ordinary_hours", float("inf"))),
    Kind("nan_hours", 0, "weeks: null:ordinary_hours (1 rows)", cell("weeks", 0, "ordinary_hours", float("nan"))),
    Kind("unknown_person", 0, "weeks: unknown_reference:person_id (1 rows)",
         cell("weeks", 0, "person_id", UNKNOWN_PERSON_ID)),
    Kind("unknown_dream_code", 0, "weeks: unknown_code:dream_code (1 rows)", cell("weeks", 1, "dream_code", 999)),
    Kind("municipality_of_another_centre", 0, "weeks: municipality_mismatch:municipality_code (1 rows)",
         cell("weeks", 0, "municipality_code", 187)),
    Kind("code_list_value", 2, "most often not_allowed:sex", cell("persons", 0, "sex", "X")),
    Kind("reference_table_duplicate", 2, "jobcentres.municipality_code: duplicate key (2 rows)",
         copy_row("jobcentres", 0)),
    Kind("dream_versions_overlap", 2, "dream_codes.valid_from: overlapping versions of one code",
         cell("dream_codes", 2, "valid_to", dt.date(2018, 6, 30))),
    # --- coverage ---------------------------------------------------------------------------
    Kind("persons_without_weeks", 2, "1 of 6 persons (16.7%) have no weeks row",
         keep_rows("weeks", lambda w: w["person_id"] != PERSON_IDS[0])),
    Kind("centre_with_no_rows", 0, "weeks.jobcentre_id: job centre without weeks rows: job centre 103",
         add_jobcentre),
    # --- run: refused before the flow ---------------------------------------------------------
    Kind("run_two_sources", 2, "weeks: table delivered twice", damage=second_source, command="run"),
    Kind("run_link_loop", 2, "weeks: symbolic link loop", damage=link_loop, command="run"),
    Kind("run_missing_folder", 2, "delivery folder not found", damage=shutil.rmtree, command="run"),
    Kind("run_treated_as_a_string", 2, "treated_jobcentres", command="run", spec=treated_as_a_string),
    # --- run: a spec or output root refused before any work -----------------------------------
    Kind("spec_misspelt_key", 2, "spec.bootstrap_replicate: unknown key: did you mean 'bootstrap_replicates'",
         command="run",
         spec=spec_edit(r"^bootstrap_replicates = \d+", "bootstrap_replicate = 49")),
    Kind("spec_text_for_a_number", 2, "spec.bootstrap_replicates: must be a whole number", command="run",
         spec=spec_edit(r"^bootstrap_replicates = \d+", 'bootstrap_replicates = "many"')),
    Kind("spec_text_for_the_seed", 2, "spec.seed: must be a whole number", command="run",
         spec=spec_edit(r"^seed = \d+", 'seed = "x"')),
    Kind("spec_unknown_scheme", 2, "spec.bootstrap_scheme: must be one of", command="run",
         spec=spec_edit(r'^bootstrap_scheme = "\w+"', 'bootstrap_scheme = "jackknife"')),
    Kind("spec_trim_as_text", 2, "spec.caseload.trim: must be [low, high]", command="run",
         spec=spec_edit(r"^trim = \[.*?\]", 'trim = "13-50"')),
    Kind("spec_disclosure_off", 2, "spec.disclosure_min_persons: must be >= 5", command="run",
         spec=spec_edit(r"^disclosure_min_persons = \d+", "disclosure_min_persons = 0")),
    Kind("spec_disclosure_negative", 2, "spec.disclosure_min_persons: must be >= 5", command="run",
         spec=spec_edit(r"^disclosure_min_persons = \d+", "disclosure_min_persons = -1")),
    Kind("spec_not_toml", 2, "spec: not valid TOML", command="run", spec=spec_text("name = hir\n[[[")),
    Kind("spec_unknown_builtin_name", 2, "no built-in spec named 'hri': did you mean 'hir'", command="run",
         spec=lambda tmp: "hri"),
    Kind("output_gs_scheme", 2, "unsupported URL scheme 'gs://'", command="run", output="gs://bucket/bipdask"),
    Kind("output_ftp_scheme", 2, "unsupported URL scheme 'ftp://'", command="run", output="ftp://example.invalid/bipdask"),
]


# ----------------------------------------------------------------------------- the checker


def build(tmp: Path, kind: Kind) -> Path:
    tables = tiny_tables()
    if kind.mutate is not None:
        kind.mutate(tables)
    folder = write_delivery(tables, tmp / "delivery", fmt=kind.fmt)
    if kind.damage is not None:
        kind.damage(folder)
    return folder


def parquet_rows(path: Path) -> int:
    if path.is_dir():
        return sum(pq.read_metadata(p).num_rows for p in path.rglob("*.parquet"))
    return pq.read_metadata(path).num_rows if path.exists() else 0


def check_rows_balance(folder: Path, out: Path, refused: bool) -> None:
    """Rows in = rows staged + rows quarantined, in the files written; nothing staged if refused."""
    try:
        report = validate_delivery(folder, out_url=str(out))
    except InputError:
        assert refused, "validate_delivery refused a delivery the CLI accepted"
        assert not (out / "staged").exists()
        return
    assert not refused, "validate_delivery accepted a delivery the CLI refused"
    for table, n_in in report.rows_in.items():
        staged = parquet_rows(out / "staged" / table if table == "weeks" else out / "staged" / f"{table}.parquet")
        quarantined = parquet_rows(out / "quarantine" / f"{table}.parquet")
        assert staged == report.rows_out[table], table
        assert quarantined == report.n_quarantined(table), table
        assert n_in == staged + quarantined, table


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_adversarial_delivery(kind: Kind, tmp_path: Path, capsys) -> None:
    folder = build(tmp_path, kind)
    out = tmp_path / "out"
    if kind.command == "validate":
        argv = ["validate", str(folder)]
    else:
        spec = kind.spec(tmp_path) if kind.spec else write_spec(tmp_path / "spec.toml")
        argv = ["run", "--input", str(folder), "--output", kind.output or str(out), "--spec", str(spec),
                "--workers", "1"]
    code = main(argv)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == kind.exit_code, text
    assert " ".join(kind.message.split()) in " ".join(text.split()), text
    assert "Traceback" not in text
    for pid in PLANTED_IDS:
        assert str(pid) not in text
    if kind.command == "validate":
        if folder.is_dir():
            check_rows_balance(folder, tmp_path / "run", refused=kind.exit_code != 0)
    else:
        assert kind.exit_code != 0, "run kinds here are refused before the flow"
        assert storage.list_runs(str(out)) == [] if out.exists() else True


def test_the_catalogue_is_broad() -> None:
    """At least 40 kinds, distinct names, each exit code one the CLI documents."""
    assert len(KINDS) >= 40
    assert len({k.name for k in KINDS}) == len(KINDS)
    assert {k.exit_code for k in KINDS} <= {0, 2, 3}
