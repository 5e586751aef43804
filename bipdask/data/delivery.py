"""Reading a delivery folder: one table per file (``persons.parquet``) or per folder of parts
(``weeks/part-*.parquet``), Parquet or CSV, plus DREAM's wide layout (see :mod:`bipdask.data.dream`).

Layout of a delivery (what ``bipdask synth`` writes and what the agency delivers)::

    DIR/persons.parquet  DIR/jobcentres.parquet  DIR/dream_codes.parquet
    DIR/weeks/part-00001.parquet …  (or DIR/weeks.parquet, DIR/weeks.csv, DIR/dream_wide.parquet)
    DIR/assignments.parquet  DIR/caseload.parquet  DIR/belief_survey.parquet
    DIR/bip_responses.parquet
    DIR/truth.json, DIR/_truth/  (synthetic deliveries only: the planted truth)

Instead of ``weeks`` a delivery may carry DREAM wide (``DIR/dream_wide.{parquet,csv}`` or a
``dream_wide/`` folder) and, optionally, the long companion ``DIR/weeks_activity.*`` with the
other ``weeks`` columns; :func:`read_delivery_table` then builds ``weeks`` from them
(:func:`bipdask.data.dream.weeks_from_dream_wide`).

Typing. Every contract column is converted to its contract Arrow type
(:func:`conform_table`): CSV cells are parsed strictly — dates ISO ``YYYY-MM-DD``, booleans
``true/false/1/0`` (any case), integers as decimal digits in the type's range, numbers with a
decimal point; blank, ``NA``, ``NULL`` and ``NaN`` are null. Parquet columns are cast where no
value can change (integer widths in range, integer → float, integral float → integer, midnight
timestamps → dates, 0/1 → boolean, text → parsed as in CSV). Anything else is an
:class:`~bipdask.errors.InputError` naming table, column, rule and the count of bad rows —
never a pyarrow traceback, never a value or an id. Columns outside the contract pass through.

Memory: :func:`iter_table_files` and :func:`iter_table_batches` read one file (or one batch)
at a time, for the validator and the stager.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from bipdask.data.contract import PERSON_ID, TABLES, WEEKS, Column
from bipdask.data.dream import ACTIVITY_TABLE, WIDE_TABLE, weeks_from_dream_wide
from bipdask.errors import InputError, Problem

NULL_TEXT = ("", "NA", "NULL", "null", "NaN", "nan")
"""CSV cells read as null."""

_INT_TEXT = r"^[+-]?[0-9]{1,19}$"
_FLOAT_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TRUE, _FALSE = ("true", "1"), ("false", "0")


# ---------------------------------------------------------------------------------------------
# files of a table


def table_files(root: str | Path, name: str) -> list[Path]:
    """The files that make up table ``name`` in the delivery at ``root`` (empty if absent).

    A table is one file (``name.parquet`` or ``name.csv``) or one folder ``name/`` of part
    files, searched at any depth. Symbolic links are followed, to files and to folders, as a
    delivery is often assembled from links into the agency's archive (a folder link skipped
    would silently drop its parts).

    Raises
    ------
    InputError
        The table has more than one source (``weeks.parquet`` next to ``weeks/`` or
        ``weeks.csv``: which one is the delivery cannot be told); a folder links back to
        itself or to a folder above it (a symbolic link loop); a part file is a link to
        nothing.
    """
    root = Path(root)
    sources = [root / f"{name}{suffix}" for suffix in (".parquet", ".csv")]
    sources = [p for p in sources if p.is_file()]
    folder = root / name
    if folder.is_dir():
        sources.append(folder)
    if len(sources) > 1:
        found = ", ".join(p.name + ("/" if p.is_dir() else "") for p in sources)
        raise InputError([Problem(name, "", "table delivered twice", 0,
                                  f"{found}: keep one source of the table")])
    if not sources:
        return []
    if sources[0].is_file():
        return sources
    return _part_files(root, folder, name)


def _part_files(root: Path, folder: Path, name: str) -> list[Path]:
    """Every ``.parquet``/``.csv`` file below ``folder``, following symbolic links (with a check
    for link loops), sorted by path."""
    parts: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def walk(d: Path, ancestors: frozenset[tuple[int, int]]) -> None:
        st = d.stat()  # the folder a link points to
        here = (st.st_dev, st.st_ino)
        if here in ancestors:
            raise InputError([Problem(name, "", "symbolic link loop", 0,
                                      f"{d.relative_to(root).as_posix()} links to a folder above it")])
        if here in seen:
            return  # the same folder reached through a second link: its parts are already in
        seen.add(here)
        below = ancestors | {here}
        try:
            entries = sorted(d.iterdir())
        except OSError as exc:
            raise InputError([Problem(name, "", "folder unreadable", 0,
                                      f"{d.relative_to(root).as_posix()} ({type(exc).__name__})")]) from None
        for entry in entries:
            if entry.is_dir():
                walk(entry, below)
            elif entry.suffix in (".parquet", ".csv"):
                if not entry.is_file():
                    raise InputError([Problem(name, "", "file unreadable", 0,
                                              f"{entry.relative_to(root).as_posix()} (broken link)")])
                parts.append(entry)

    walk(folder, frozenset())
    return sorted(parts)


def table_format(files: list[Path]) -> str:
    """'parquet' or 'csv'; a table mixing both is a broken delivery."""
    kinds = {p.suffix for p in files}
    if len(kinds) > 1:
        raise InputError([Problem(files[0].stem, "", "mixes Parquet and CSV files", 0)])
    return "csv" if kinds == {".csv"} else "parquet"


def dataset(root: str | Path, name: str) -> ds.Dataset:
    """An Arrow dataset over table ``name`` (Parquet or CSV), for streaming reads.

    The raw files as Arrow sees them, *not* typed by the contract: use
    :func:`read_delivery_table` or :func:`iter_table_files` for contract types.
    """
    files = table_files(root, name)
    if not files:
        raise InputError([Problem(name, "", "table missing from the delivery", 0)])
    fmt = table_format(files)
    return ds.dataset([str(f) for f in files], format=fmt)


def has_table(root: str | Path, name: str) -> bool:
    return bool(table_files(root, name))


def present_tables(root: str | Path) -> list[str]:
    return [n for n in TABLES if has_table(root, n)]


def weeks_layout(root: str | Path) -> str | None:
    """How ``weeks`` is delivered: ``"long"`` (a weeks table), ``"dream_wide"``, or None."""
    if has_table(root, "weeks"):
        return "long"
    if has_table(root, WIDE_TABLE):
        return "dream_wide"
    return None


# ---------------------------------------------------------------------------------------------
# contract types


def contract_columns(name: str) -> dict[str, Column]:
    """Contract columns of delivery table ``name`` (also ``dream_wide`` and ``weeks_activity``)."""
    if name in TABLES:
        return {c.name: c for c in TABLES[name].columns}
    if name == WIDE_TABLE:
        return {"person_id": Column("person_id", PERSON_ID)}
    if name == ACTIVITY_TABLE:
        return {c.name: c for c in WEEKS.columns if c.name != "dream_code"}
    return {}


def _not_a(t: pa.DataType) -> str:
    """The rule a bad cell breaks: ``not a date (ISO YYYY-MM-DD)``, ``not an integer (int32)`` …"""
    if pa.types.is_date(t):
        return "not a date (ISO YYYY-MM-DD)"
    if pa.types.is_boolean(t):
        return "not a boolean (true/false/1/0)"
    if pa.types.is_integer(t):
        return f"not an integer ({t})"
    if pa.types.is_floating(t):
        return "not a number"
    return f"not a {t}"


def _count(mask: pa.Array) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def _null_of(t: pa.DataType) -> pa.Scalar:
    return pa.scalar(None, t)


def parse_text(text: pa.Array, target: pa.DataType) -> tuple[pa.Array, int]:
    """Parse a text column into ``target``; returns the array (bad cells null) and the bad count."""
    text = pc.utf8_trim_whitespace(pc.cast(text, pa.string()))
    text = pc.if_else(pc.is_in(text, value_set=pa.array(NULL_TEXT)), _null_of(pa.string()), text)
    present = pc.is_valid(text)
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return pc.cast(text, target), 0
    if pa.types.is_boolean(target):
        low = pc.utf8_lower(text)
        ok = pc.is_in(low, value_set=pa.array(_TRUE + _FALSE))
        out = pc.if_else(ok, pc.is_in(low, value_set=pa.array(_TRUE)), _null_of(pa.bool_()))
        return out, _count(pc.and_(present, pc.invert(ok)))
    if pa.types.is_integer(target):
        ok = pc.match_substring_regex(text, _INT_TEXT)
        wide = pc.cast(pc.if_else(ok, text, _null_of(pa.string())), pa.decimal128(20, 0))
        info_min, info_max = _int_range(target)
        fits = pc.and_(pc.greater_equal(wide, pa.scalar(info_min, pa.decimal128(20, 0))),
                       pc.less_equal(wide, pa.scalar(info_max, pa.decimal128(20, 0))))
        good = pc.fill_null(pc.and_(ok, fits), False)
        out = pc.cast(pc.if_else(good, wide, _null_of(pa.decimal128(20, 0))), target)
        return out, _count(pc.and_(present, pc.invert(good)))
    if pa.types.is_floating(target):
        ok = pc.fill_null(pc.match_substring_regex(text, _FLOAT_TEXT), False)
        out = pc.cast(pc.if_else(ok, text, _null_of(pa.string())), target)
        return out, _count(pc.and_(present, pc.invert(ok)))
    if pa.types.is_date(target):
        shaped = pc.fill_null(pc.match_substring_regex(text, _DATE_TEXT), False)
        ts = pc.strptime(pc.if_else(shaped, text, _null_of(pa.string())), format="%Y-%m-%d", unit="s",
                         error_is_null=True)
        # strptime rolls 2020-02-30 over to 2020-03-01: a real date formats back to its text
        real = pc.fill_null(pc.equal(pc.strftime(ts, format="%Y-%m-%d"), text), False)
        out = pc.cast(pc.if_else(real, ts, _null_of(ts.type)), target)
        return out, _count(pc.and_(present, pc.invert(real)))
    raise TypeError(f"no text parser for {target}")


def float_out_of_range(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Floats outside integer type ``target``'s range (±inf too; NaN counts as not integral)."""
    lo, hi = _int_range(target)
    # hi + 1 is a power of two, exact as a float: v > hi  <=>  v >= hi + 1 for whole numbers
    return pc.or_(pc.less(arr, pa.scalar(float(lo), arr.type)),
                  pc.greater_equal(arr, pa.scalar(float(hi + 1), arr.type)))


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def conform_column(values: pa.Array | pa.ChunkedArray, column: Column, table: str) -> tuple[pa.Array, Problem | None]:
    """Cast one column to its contract type where no value changes; else a :class:`Problem`."""
    target = column.type
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    src = arr.type
    if src.equals(target):
        return arr, None
    if pa.types.is_null(src):
        return pa.nulls(len(arr), target), None
    if pa.types.is_string(src) or pa.types.is_large_string(src):
        out, n_bad = parse_text(arr, target)
        return out, (Problem(table, column.name, _not_a(target), n_bad) if n_bad else None)
    n_bad = None
    if pa.types.is_integer(target) and pa.types.is_integer(src):
        lo, hi = _int_range(target)
        n_bad = _count(pc.or_(pc.less(arr, lo), pc.greater(arr, hi)))
        rule = f"integer out of range for {target}"
    elif pa.types.is_integer(target) and pa.types.is_floating(src):
        # whole-number floats (SAS and Excel exports write ids so) are cast; the type's bounds
        # are compared as floats, since Arrow will not cast 2**63 - 1 or -2**63 to a float
        n_bad = _count(pc.or_(pc.invert(pc.equal(arr, pc.floor(arr))), float_out_of_range(arr, target)))
        rule = _not_a(target)
    elif pa.types.is_floating(target) and (pa.types.is_integer(src) or pa.types.is_floating(src)):
        return pc.cast(arr, target, safe=False), None
    elif pa.types.is_date(target) and (pa.types.is_date(src) or pa.types.is_timestamp(src)):
        as_date = pc.cast(arr, target, safe=False)
        if pa.types.is_timestamp(src):
            n_bad = _count(pc.not_equal(pc.cast(as_date, pa.timestamp(src.unit, src.tz)), arr))
        else:
            n_bad = 0
        rule = f"{_not_a(target)}: has a time of day"
    elif pa.types.is_boolean(target) and pa.types.is_integer(src):
        n_bad = _count(pc.invert(pc.is_in(arr, value_set=pa.array([0, 1], src))))
        rule = _not_a(target)
        if not n_bad:
            return pc.not_equal(arr, pa.scalar(0, src)), None
    elif pa.types.is_string(target) and pa.types.is_large_string(src):
        return pc.cast(arr, target), None
    if n_bad is None:
        return arr, Problem(table, column.name, f"is {src}, not {target}", len(arr))
    if n_bad:
        return arr, Problem(table, column.name, rule, n_bad)
    return pc.cast(arr, target, safe=False), None


def conform_table(table: pa.Table, name: str, source: str = "") -> pa.Table:
    """Every contract column of ``table`` cast to its contract type (see :func:`conform_column`).

    Raises
    ------
    InputError
        All columns that cannot be typed at once, each with its count of bad rows; ``source``
        (a file name) goes into the message.
    """
    spec = contract_columns(name)
    problems: list[Problem] = []
    arrays, fields = [], []
    for field, values in zip(table.schema, table.columns):
        if field.name in spec:
            arr, problem = conform_column(values, spec[field.name], name)
            if problem is not None:
                problems.append(Problem(problem.table, problem.column, problem.rule, problem.n_rows,
                                        f"in {source}" if source else ""))
            arrays.append(arr)
            fields.append(pa.field(field.name, arr.type))
        else:
            arrays.append(values)
            fields.append(field)
    if problems:
        raise InputError(problems)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# ---------------------------------------------------------------------------------------------
# reading files


def _csv_header(path: Path) -> tuple[list[str], str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        first = fh.readline()
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return next(csv.reader([first], delimiter=delimiter), []), delimiter


def _csv_options(path: Path, name: str, columns: list[str] | None):
    header, delimiter = _csv_header(path)
    if not header:
        raise InputError([Problem(name, "", "empty CSV file (no header)", 0, f"in {path.name}")])
    seen = set()
    dups = [h for h in header if h in seen or seen.add(h)]
    if dups:
        raise InputError([Problem(name, h, "duplicate column", 0, f"in {path.name}") for h in dict.fromkeys(dups)])
    if columns is not None:
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputError([Problem(name, c, "column missing", 0, f"in {path.name}") for c in missing])
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in header}, null_values=list(NULL_TEXT),
        strings_can_be_null=True, quoted_strings_can_be_null=True, include_columns=columns)
    return pacsv.ReadOptions(encoding="utf8"), pacsv.ParseOptions(delimiter=delimiter), convert


def _sanitised(exc: Exception, path: Path, name: str) -> InputError:
    """An Arrow parse error without the row text it quotes (it may carry ids)."""
    m = re.search(r"Expected \d+ columns, got \d+", str(exc))
    rule = f"CSV cannot be parsed: {m.group(0).lower()}" if m else "file cannot be parsed"
    kind = "CSV" if path.suffix == ".csv" else "Parquet"
    return InputError([Problem(name, "", rule if m else f"{kind} {rule}", 0, f"in {path.name}")])


def read_file(path: str | Path, name: str, columns: list[str] | None = None,
              filter: ds.Expression | None = None) -> pa.Table:
    """One file of table ``name`` as an Arrow table typed by the contract."""
    path = Path(path)
    try:
        if path.suffix == ".csv":
            read, parse, convert = _csv_options(path, name, columns)
            table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        else:
            schema_names = pq.read_schema(path).names
            if columns is not None:
                missing = [c for c in columns if c not in schema_names]
                if missing:
                    raise InputError([Problem(name, c, "column missing", 0, f"in {path.name}") for c in missing])
            if filter is not None:
                try:
                    raw = ds.dataset(str(path), format="parquet").to_table(columns=columns, filter=filter)
                    return conform_table(raw, name, path.name)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    pass  # the filter needs contract types: type the whole file first
            table = pq.read_table(path, columns=None if filter is not None else columns)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _sanitised(exc, path, name) from None
    table = conform_table(table, name, path.name)
    if filter is not None:
        table = table.filter(filter)
        if columns is not None:
            table = table.select(columns)
    return table


def iter_table_files(root: str | Path, name: str,
                     columns: list[str] | None = None) -> Iterator[tuple[Path, pd.DataFrame]]:
    """Each file of table ``name`` in turn, typed by the contract: ``(path, frame)``.

    For ``weeks`` delivered as DREAM wide, each ``dream_wide`` file is turned into ``weeks``
    rows (joined with the rows of ``weeks_activity`` for that file's persons), so memory stays
    bounded by one file. Yields nothing if the table is absent.
    """
    if name == "weeks" and weeks_layout(root) == "dream_wide":
        for path in table_files(root, WIDE_TABLE):
            frame = _weeks_from_wide_file(root, path)
            yield path, (frame if columns is None else frame[columns])
        return
    files = table_files(root, name)
    if files:
        table_format(files)
    for path in files:
        yield path, to_pandas(read_file(path, name, columns))


def iter_table_batches(root: str | Path, name: str, batch_rows: int = 1_000_000,
                       columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """Table ``name`` in frames of at most about ``batch_rows`` rows, typed by the contract.

    Streams Parquet row groups and CSV blocks, so even one very large file is read in pieces.
    ``weeks`` from DREAM wide comes one ``dream_wide`` file at a time.
    """
    if name == "weeks" and weeks_layout(root) == "dream_wide":
        for _, frame in iter_table_files(root, name, columns):
            yield frame
        return
    files = table_files(root, name)
    if files:
        table_format(files)
    for path in files:
        try:
            if path.suffix == ".csv":
                read, parse, convert = _csv_options(path, name, columns)
                read = pacsv.ReadOptions(encoding="utf8", block_size=1 << 24)
                batches = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
            else:
                batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)
            for batch in batches:
                yield to_pandas(conform_table(pa.Table.from_batches([batch]), name, path.name))
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise _sanitised(exc, path, name) from None


def read_delivery_table(root: str | Path, name: str, columns: list[str] | None = None,
                        filter: ds.Expression | None = None) -> pd.DataFrame:
    """Table ``name`` of the delivery at ``root`` in pandas, typed by the contract.

    ``weeks`` is built from DREAM wide (+ ``weeks_activity``) when the delivery has no weeks
    table. ``columns`` selects columns; ``filter`` is an Arrow expression on contract-typed
    columns (for Parquet it is pushed down to the row groups where the file's types allow).

    Raises
    ------
    InputError
        The table is missing, mixes formats, cannot be parsed, or a column cannot be typed.
    """
    if name == "weeks" and weeks_layout(root) == "dream_wide":
        frames = [frame for _, frame in iter_table_files(root, name)]
        weeks = pd.concat(frames, ignore_index=True) if frames else None
        if weeks is not None and filter is not None:
            weeks = to_pandas(pa.Table.from_pandas(weeks, preserve_index=False).filter(filter))
        return weeks if columns is None else weeks[columns]
    files = table_files(root, name)
    if not files:
        raise InputError([Problem(name, "", "table missing from the delivery", 0)])
    table_format(files)
    tables = [read_file(p, name, columns, filter) for p in files]
    return to_pandas(pa.concat_tables(tables, promote_options="permissive"))


def read_table(
    root: str | Path,
    name: str,
    columns: list[str] | None = None,
    filter: ds.Expression | None = None,
) -> pd.DataFrame:
    """Read table ``name`` into pandas, typed by the contract where columns are present.

    Same as :func:`read_delivery_table` (kept as the short name the flows use).
    """
    return read_delivery_table(root, name, columns=columns, filter=filter)


_NULLABLE = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with dates as ``datetime64[ns]`` and nullable ints kept as floats-free.

    Integer and boolean columns that hold nulls become pandas nullable dtypes (``Int16``,
    ``boolean`` …) instead of float/object; without nulls they stay NumPy dtypes.
    """
    df = table.to_pandas(date_as_object=False)
    for field, values in zip(table.schema, table.columns):
        if pa.types.is_date(field.type) or (pa.types.is_timestamp(field.type) and field.type.tz is None):
            try:
                df[field.name] = df[field.name].astype("datetime64[ns]")
            except (pd.errors.OutOfBoundsDatetime, OverflowError):
                raise InputError([Problem("", field.name, "date outside 1677–2262", 0)]) from None
        elif values.null_count and field.type in _NULLABLE:
            df[field.name] = values.to_pandas(types_mapper=_NULLABLE.get)
    return df


# ---------------------------------------------------------------------------------------------
# DREAM wide → weeks


def read_dream_wide(path: str | Path) -> pd.DataFrame:
    """One DREAM wide file as pandas: ``person_id`` typed, ``y_YYWW`` cells as delivered
    (CSV cells as text) for :func:`bipdask.data.dream.dream_wide_to_long` to check."""
    return to_pandas(read_file(path, WIDE_TABLE))


def _weeks_from_wide_file(root: str | Path, path: Path) -> pd.DataFrame:
    wide = read_dream_wide(path)
    activity = None
    if has_table(root, ACTIVITY_TABLE):
        ids = pa.array(wide["person_id"].to_numpy(), pa.int64())
        parts = [to_pandas(read_file(p, ACTIVITY_TABLE, filter=pc.field("person_id").isin(ids)))
                 for p in table_files(root, ACTIVITY_TABLE)]
        activity = pd.concat(parts, ignore_index=True) if parts else None
    return weeks_from_dream_wide(wide, activity)
