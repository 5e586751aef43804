"""Reading a delivery for validation: file headers, streamed batches, casting to the contract.

Part of :mod:`bipdask.data.validate.stage`. Every failure here is *table-level* (a broken file or column
stops the run) and is recorded as a :class:`~bipdask.errors.Problem` naming table, column, rule
and row count. Arrow's own error texts quote cell values, so they are never passed on: only
the exception class name and the file's path inside the delivery are.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from bipdask.data.contract import Table
from bipdask.data.delivery import NULL_TEXT, conform_column
from bipdask.errors import Problem

BATCH_ROWS = 500_000
CSV_BLOCK_BYTES = 32 << 20

# Table-level rules (Problem.rule); the tests assert these texts.
RULE_TABLE_MISSING = "required table missing"
RULE_MIXED_FORMATS = "mixes Parquet and CSV files"
RULE_UNREADABLE = "file unreadable"
RULE_DUPLICATE_COLUMNS = "duplicate column names"
RULE_COLUMN_MISSING = "required column missing"
RULE_ZERO_ROWS = "table has zero rows"
RULE_UNKNOWN_COLUMN = "unknown column ignored"  # a warning, not an error


class ProblemLog:
    """Collects problems, summing row counts of the same (table, column, rule, message)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str, str], int] = defaultdict(int)

    def add(self, table: str, column: str, rule: str, n_rows: int = 0, message: str = "") -> None:
        self._counts[(table, column, rule, message)] += int(n_rows)

    def problems(self) -> list[Problem]:
        return [Problem(t, c, r, n, m) for (t, c, r, m), n in self._counts.items()]

    def tables(self) -> set[str]:
        return {t for (t, _, _, _) in self._counts}

    def __bool__(self) -> bool:
        return bool(self._counts)


@dataclass(frozen=True)
class DeliveryFile:
    """One file of a table: where it is, its format, its columns and hive path values."""

    path: Path
    rel: str
    fmt: str
    columns: tuple[str, ...]
    path_values: tuple[tuple[str, str], ...] = ()
    delimiter: str = ","

    def present(self, table: Table) -> list[str]:
        """Contract columns this file provides (from its header or its hive path)."""
        have = set(self.columns) | {k for k, _ in self.path_values}
        return [c for c in table.column_names if c in have]


def printable(text: str) -> str:
    """A file name as it can be printed: bytes that are not UTF-8 shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (for the run manifest)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hive_values(rel_parts: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in rel_parts[:-1]:
        if "=" in part:
            key, value = part.split("=", 1)
            pairs.append((key, value))
    return tuple(pairs)


def open_file(root: Path, path: Path, table: Table, log: ProblemLog) -> DeliveryFile | None:
    """Read a file's header and check its columns; ``None`` if the file cannot be used."""
    rel = path.relative_to(root).as_posix()
    fmt = "csv" if path.suffix == ".csv" else "parquet"
    try:
        delimiter = ","
        if fmt == "csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                first = fh.readline()
            delimiter = ";" if first.count(";") > first.count(",") else ","  # as bipdask.data.delivery
            columns = next(csv.reader([first], delimiter=delimiter), [])
        else:
            columns = pq.read_schema(path).names
    except UnicodeEncodeError:  # Arrow takes paths as UTF-8: a name with other bytes cannot be opened
        log.add(table.name, "", RULE_UNREADABLE, 0, f"{printable(rel)} (file name not UTF-8: rename it)")
        return None
    except (OSError, ValueError, csv.Error, pa.ArrowException) as exc:
        log.add(table.name, "", RULE_UNREADABLE, 0, f"{printable(rel)} ({type(exc).__name__})")
        return None
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    for c in dupes:
        log.add(table.name, c, RULE_DUPLICATE_COLUMNS, 0, rel)
    if dupes:
        return None
    return DeliveryFile(path, rel, fmt, tuple(columns), _hive_values(path.relative_to(root).parts),
                        delimiter)


def check_columns(table: Table, files: list[DeliveryFile], log: ProblemLog, warn: ProblemLog) -> None:
    """Required columns present in every file (table-level); unknown extra columns (warning)."""
    for c in table.column_names:
        missing = [f.rel for f in files if c not in f.present(table)]
        if missing:
            where = missing[0] if len(missing) == 1 else f"{len(missing)} of {len(files)} files"
            log.add(table.name, c, RULE_COLUMN_MISSING, 0, where)
    extra = sorted({c for f in files for c in f.columns} - set(table.column_names))
    for c in extra:
        warn.add(table.name, c, RULE_UNKNOWN_COLUMN, 0)


def iter_raw(f: DeliveryFile, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """Stream a file's ``columns`` (uncast) in batches; CSV cells arrive as strings."""
    from_file = [c for c in columns if c in f.columns]
    from_path = [(k, v) for k, v in f.path_values if k in columns and k not in f.columns]
    if f.fmt == "csv":
        reader = pcsv.open_csv(
            f.path,
            read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pcsv.ParseOptions(delimiter=f.delimiter),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in f.columns},
                include_columns=from_file,
                null_values=list(NULL_TEXT),
                strings_can_be_null=True,
            ),
        )
        batches = iter(reader)
    else:
        batches = pq.ParquetFile(f.path).iter_batches(batch_size=batch_rows, columns=from_file)
    for batch in batches:
        t = pa.Table.from_batches([batch])
        for key, value in from_path:
            t = t.append_column(key, pa.array([value] * t.num_rows, pa.string()))
        yield t


# ---------------------------------------------------------------------------------- casting


NOT_INTEGRAL = "__not_integral__"
"""Prefix of the boolean flag columns :func:`cast_batch` adds for integer columns delivered as
floats with a fraction (``__not_integral__person_id``); the row rules quarantine those rows."""


def not_integral_flag(column: str) -> str:
    return f"{NOT_INTEGRAL}{column}"


def cast_batch(raw: pa.Table, table: Table) -> tuple[pa.Table, list[Problem]]:
    """The contract columns of ``raw`` in contract order and types, and the typing problems.

    Typing is :func:`bipdask.data.delivery.conform_column`'s (the same rules as every reader: strict
    CSV text, lossless Parquet casts), after NaN in float columns is read as null. A column that
    cannot be typed comes back all null: its table is broken and is not row-checked.

    Integer columns delivered as floats (ids from SAS or Excel: ``90412001.0``) are cast; a value
    with a fraction is a bad *row*, not a broken column: its cell becomes null and a flag column
    (:func:`not_integral_flag`) marks the row for the quarantine (``not_integral:<column>``).
    """
    arrays, fields, problems, flags = [], [], [], []
    for col in table.columns:
        if col.name not in raw.column_names:
            continue
        arr = raw.column(col.name).combine_chunks()
        if pa.types.is_floating(arr.type):
            arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)
            if pa.types.is_integer(col.type):
                fraction = pc.fill_null(pc.not_equal(arr, pc.floor(arr)), False)
                if pc.any(fraction).as_py():
                    arr = pc.if_else(fraction, pa.scalar(None, arr.type), arr)
                    flags.append((not_integral_flag(col.name), fraction))
        arr, problem = conform_column(arr, col, table.name)
        if problem is not None:
            problems.append(problem)
            arr = pa.nulls(raw.num_rows, col.type)
        arrays.append(arr)
        fields.append(pa.field(col.name, col.type))
    for name, flag in flags:
        arrays.append(flag)
        fields.append(pa.field(name, pa.bool_()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), problems


def flag_columns(t: pa.Table) -> list[str]:
    return [c for c in t.column_names if c.startswith(NOT_INTEGRAL)]


def without_flags(t: pa.Table) -> pa.Table:
    return t.drop_columns(flag_columns(t))


def full_schema_table(t: pa.Table, table: Table, drop: tuple[str, ...] = (),
                      keep_flags: bool = False) -> pa.Table:
    """``t`` with every contract column (absent ones as nulls), in contract order; with
    ``keep_flags`` the :data:`NOT_INTEGRAL` flags of every integer column follow (false where absent)."""
    arrays, fields = [], []
    for col in table.columns:
        if col.name in drop:
            continue
        arrays.append(t.column(col.name) if col.name in t.column_names else pa.nulls(t.num_rows, col.type))
        fields.append(pa.field(col.name, col.type))
    if keep_flags:
        for col in table.columns:
            if pa.types.is_integer(col.type):
                name = not_integral_flag(col.name)
                arrays.append(t.column(name) if name in t.column_names
                              else pa.array(np.zeros(t.num_rows, bool)))
                fields.append(pa.field(name, pa.bool_()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def read_cast(
    f: DeliveryFile, table: Table, columns: list[str], log: ProblemLog
) -> Iterator[pa.Table]:
    """Stream ``f`` cast to the contract; cast failures and read errors go to ``log``."""
    try:
        for raw in iter_raw(f, columns):
            cast, problems = cast_batch(raw, table)
            for p in problems:
                log.add(p.table, p.column, p.rule, p.n_rows)
            yield cast
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.add(table.name, "", RULE_UNREADABLE, 0, f"{f.rel} ({type(exc).__name__})")


def read_whole(files: list[DeliveryFile], table: Table, log: ProblemLog) -> pa.Table:
    """A small table read in full, cast, with every contract column (absent ones null) and the
    :data:`NOT_INTEGRAL` flags (strip them with :func:`without_flags` before writing)."""
    parts = []
    for f in files:
        for t in read_cast(f, table, list(table.column_names), log):
            parts.append(full_schema_table(t, table, keep_flags=True))
    if not parts:
        return full_schema_table(pa.table({}), table, keep_flags=True)
    return pa.concat_tables(parts)
