"""DREAM, the national weekly benefit register, in its delivered wide layout.

STAR's DREAM (*Den Registerbaserede Evaluering af Arbejdsmarkedspolitikken*) is delivered
**wide**: one row per person, a ``person_id`` column and one column per ISO week named
``y_YYWW`` — two-digit ISO year and two-digit ISO week, e.g. ``y_1709`` is ISO 2017-W09 and
``y_1553`` is ISO 2015-W53. A cell holds the week's 3-digit benefit code (string or integer);
blank/null means no benefit that week. The HIR quantitative report (Metrica 2019) merges
DREAM with the caseworker assignments "for every citizen and every week of the intervention
period"; this module turns the wide layout into the contract's long ``weeks`` rows and back,
and looks codes up in the versioned code list (contract table ``dream_codes``).

Two-digit years pivot at 70: ``00``–``69`` are 2000–2069, ``70``–``99`` are 1970–1999
(DREAM starts in 1991). A week is the Monday of the ISO week (:func:`bipdask.data.weeks.monday_of_iso`).

The functions are vectorised over NumPy arrays (no per-row Python): 40,000 persons × 110
weeks converts in well under a second.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bipdask.data.contract import DREAM_CODES, WEEKS
from bipdask.data.weeks import iso_year_week, monday_of_iso
from bipdask.errors import InputError, Problem

WIDE_TABLE = "dream_wide"
"""Delivery name of the wide DREAM table (``DIR/dream_wide.parquet`` / ``.csv`` / folder)."""

ACTIVITY_TABLE = "weeks_activity"
"""Delivery name of the long companion table carrying the other ``weeks`` columns."""

YEAR_PIVOT = 70
"""Two-digit years below this are 20YY, the rest 19YY."""

CODE_MIN, CODE_MAX = 100, 999
"""DREAM codes are 3-digit numbers (first digit 1–9; the code list starts at 111)."""

ACTIVITY_COLUMNS = tuple(c for c in WEEKS.column_names if c not in ("person_id", "week", "dream_code"))

_WEEK_NAME = re.compile(r"^y_(\d{2})(\d{2})$")
_CODE_TEXT = re.compile(r"^\d{3}$")


# ---------------------------------------------------------------------------------------------
# week columns


def expand_two_digit_year(yy: np.ndarray | int) -> np.ndarray:
    """Four-digit ISO year of a two-digit DREAM year: 00–69 → 2000–2069, 70–99 → 1970–1999."""
    yy = np.asarray(yy, dtype=np.int64)
    return np.where(yy < YEAR_PIVOT, 2000 + yy, 1900 + yy)


def is_valid_iso_week(year: np.ndarray, week: np.ndarray) -> np.ndarray:
    """True where ISO ``year``-``week`` exists (week 1–52, or 53 in long years such as 2015, 2020)."""
    year = np.asarray(year, dtype=np.int64)
    week = np.asarray(week, dtype=np.int64)
    ok = (week >= 1) & (week <= 53)
    if not ok.any():
        return ok
    monday = monday_of_iso(year[ok], week[ok])
    back = iso_year_week(pd.Series(monday))
    ok[ok] = (back["year"].to_numpy() == year[ok]) & (back["week"].to_numpy() == week[ok])
    return ok


def week_column_mondays(columns, table: str = WIDE_TABLE) -> pd.Series:
    """Monday (``datetime64[ns]``) of each ``y_YYWW`` column name, indexed by the name.

    Raises
    ------
    InputError
        One problem per column that is not a valid ``y_YYWW`` name (not matching the pattern,
        week 00 or > 53, or week 53 in a year that has 52 ISO weeks) and per duplicate week.
    """
    names = [str(c) for c in columns]
    problems: list[Problem] = []
    seen: set[str] = set()
    for name in dict.fromkeys(n for n in names if n in seen or seen.add(n)):
        problems.append(Problem(table, name, "duplicate week column", 0))
    parsed: dict[str, tuple[int, int]] = {}
    for name in names:
        m = _WEEK_NAME.match(name)
        if not m:
            problems.append(Problem(table, name, "not a y_YYWW week column (y_ + 2-digit year + 2-digit week)", 0))
            continue
        parsed[name] = (int(m.group(1)), int(m.group(2)))
    if parsed:
        year = expand_two_digit_year(np.array([v[0] for v in parsed.values()]))
        week = np.array([v[1] for v in parsed.values()])
        valid = is_valid_iso_week(year, week)
        for name, y, w, ok in zip(parsed, year, week, valid):
            if not ok:
                problems.append(Problem(table, name, f"not an ISO week (ISO {y} has no week {w:02d})", 0))
    if problems:
        raise InputError(problems)
    mondays = pd.Series(monday_of_iso(year, week), index=list(parsed), name="week") if parsed else (
        pd.Series([], dtype="datetime64[ns]", name="week"))
    dup = mondays.duplicated(keep=False)
    if dup.any():
        raise InputError([Problem(table, n, "duplicate week column", 0) for n in mondays.index[dup]])
    return mondays


def week_column_name(mondays) -> list[str]:
    """``y_YYWW`` names of ISO-week Mondays (years 1970–2069 only; the pivot is ambiguous outside)."""
    iso = iso_year_week(pd.Series(pd.to_datetime(mondays)))
    year, week = iso["year"].to_numpy(), iso["week"].to_numpy()
    if ((year < 1900 + YEAR_PIVOT) | (year >= 2000 + YEAR_PIVOT)).any():
        n = int(((year < 1900 + YEAR_PIVOT) | (year >= 2000 + YEAR_PIVOT)).sum())
        raise InputError([Problem("weeks", "week", "outside 1970–2069, not expressible as y_YYWW", n)])
    return [f"y_{y % 100:02d}{w:02d}" for y, w in zip(year, week)]


# ---------------------------------------------------------------------------------------------
# codes


def parse_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """DREAM codes of one column as ``float64`` (NaN = no benefit) and a mask of bad cells.

    Accepts integers, integral floats (an int column with blanks read by pandas) and strings of
    exactly three digits (surrounding spaces ignored); blank strings and nulls mean no benefit.
    A code must lie in 100–999.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        notnull = values.notna().to_numpy()
        return np.full(len(values), np.nan), notnull
    if pd.api.types.is_numeric_dtype(values.dtype):
        num = values.astype("float64").to_numpy(na_value=np.nan)
        present = ~np.isnan(num)
        with np.errstate(invalid="ignore"):
            bad = present & ((num != np.floor(num)) | (num < CODE_MIN) | (num > CODE_MAX))
        return np.where(bad, np.nan, num), bad
    try:
        text = pa.array(values.astype("object"), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed ints and strings: render numbers as text
        text = pa.array(values.astype("object").map(_as_text, na_action="ignore"), type=pa.string(),
                        from_pandas=True)
    text = pc.utf8_trim_whitespace(text)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    ok = pc.fill_null(pc.match_substring_regex(text, _CODE_TEXT.pattern), False).to_numpy(zero_copy_only=False)
    num = pc.cast(pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string())), pa.float64())
    num = num.to_numpy(zero_copy_only=False)
    bad = present & (~ok | (num < CODE_MIN))
    return np.where(bad, np.nan, num), bad


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        return str(int(value))
    return repr(value)


# ---------------------------------------------------------------------------------------------
# wide <-> long


def dream_wide_to_long(wide: pd.DataFrame, drop_blank: bool = False, table: str = WIDE_TABLE) -> pd.DataFrame:
    """Unpivot DREAM's wide layout into long rows, one per person and week.

    Parameters
    ----------
    wide
        ``person_id`` plus ``y_YYWW`` columns of 3-digit codes (str or int; blank/null = none).
    drop_blank
        Drop person-weeks without a code (default: keep every cell, ``dream_code`` null).
    table
        Table name used in error messages.

    Returns
    -------
    DataFrame
        ``person_id`` (int64), ``week`` (Monday, ``datetime64[ns]``), ``dream_code`` (``Int16``,
        null = no benefit), sorted by person (in delivery order) and week.

    Raises
    ------
    InputError
        Naming the table, column, rule and count — never ids or values: a missing, null,
        non-integer or duplicate ``person_id``; invalid ``y_YYWW`` names; codes that are not
        3-digit numbers (one problem per week column, with the number of bad cells).
    """
    if "person_id" not in wide.columns:
        raise InputError([Problem(table, "person_id", "column missing", len(wide))])
    week_cols = [c for c in wide.columns if c != "person_id"]
    mondays = week_column_mondays(week_cols, table).sort_values(kind="stable")
    person_id = _person_ids(wide["person_id"], table)

    n_persons, n_weeks = len(wide), len(mondays)
    codes = np.empty((n_persons, n_weeks), dtype="float64")
    problems: list[Problem] = []
    for j, name in enumerate(mondays.index):
        codes[:, j], bad = parse_codes(wide[name])
        if bad.any():
            problems.append(Problem(table, name, "not a 3-digit DREAM code", int(bad.sum())))
    if problems:
        raise InputError(problems)

    flat = codes.ravel()
    pid = np.repeat(person_id, n_weeks)
    week = np.tile(mondays.to_numpy(dtype="datetime64[ns]"), n_persons)
    if drop_blank:
        keep = ~np.isnan(flat)
        flat, pid, week = flat[keep], pid[keep], week[keep]
    return pd.DataFrame({
        "person_id": pid,
        "week": week,
        "dream_code": _nullable_int16(flat),
    })


def long_to_dream_wide(long: pd.DataFrame, weeks=None, table: str = "weeks") -> pd.DataFrame:
    """Pivot long ``person_id, week, dream_code`` rows into DREAM's wide layout (inverse of
    :func:`dream_wide_to_long`).

    Parameters
    ----------
    long
        One row per person and week (``week`` a Monday); ``dream_code`` null = no benefit.
    weeks
        The Mondays to make columns for (default: every week present in ``long``). Weeks no
        row covers are blank.

    Returns
    -------
    DataFrame
        ``person_id`` (int64, first-appearance order) then ``y_YYWW`` columns in week order,
        values ``Int16`` with ``<NA>`` where there is no benefit.
    """
    for col in ("person_id", "week", "dream_code"):
        if col not in long.columns:
            raise InputError([Problem(table, col, "column missing", len(long))])
    week = pd.to_datetime(long["week"]).astype("datetime64[ns]")
    not_monday = (week.dt.weekday != 0) | week.isna()
    if not_monday.any():
        raise InputError([Problem(table, "week", "not the Monday of an ISO week", int(not_monday.sum()))])
    person_codes, persons = pd.factorize(long["person_id"], sort=False)
    if weeks is None:
        columns = np.sort(week.unique())
    else:
        columns = np.sort(pd.to_datetime(pd.Series(weeks)).astype("datetime64[ns]").unique())
    names = week_column_name(columns)
    col_idx = np.searchsorted(columns, week.to_numpy())
    inside = (col_idx < len(columns)) & (columns[np.minimum(col_idx, len(columns) - 1)] == week.to_numpy()) \
        if len(columns) else np.zeros(len(week), bool)
    code, bad = parse_codes(long["dream_code"].reset_index(drop=True))
    if bad.any():
        raise InputError([Problem(table, "dream_code", "not a 3-digit DREAM code", int(bad.sum()))])
    cell = np.sort(person_codes[inside].astype("int64") * len(columns) + col_idx[inside])
    n_dup = int((np.diff(cell) == 0).sum())
    if n_dup:
        raise InputError([Problem(table, "person_id, week", "duplicate person-week", n_dup)])
    grid = np.full((len(persons), len(columns)), np.nan)
    grid[person_codes[inside], col_idx[inside]] = code[inside]
    out = {"person_id": np.asarray(persons, dtype="int64")}
    for j, name in enumerate(names):
        out[name] = _nullable_int16(grid[:, j])
    return pd.DataFrame(out)


def _nullable_int16(values: np.ndarray) -> pd.arrays.IntegerArray:
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype("int16"), missing)


def _person_ids(values: pd.Series, table: str) -> np.ndarray:
    problems = []
    num = pd.to_numeric(values.astype("string").str.strip() if values.dtype == object
                        or pd.api.types.is_string_dtype(values.dtype) else values, errors="coerce")
    null = values.isna().to_numpy()
    bad = ~null & (num.isna().to_numpy() | (num.to_numpy(dtype="float64", na_value=np.nan) % 1 != 0))
    if null.any():
        problems.append(Problem(table, "person_id", "null", int(null.sum())))
    if bad.any():
        problems.append(Problem(table, "person_id", "not an integer", int(bad.sum())))
    if problems:
        raise InputError(problems)
    ids = num.to_numpy(dtype="int64") if len(num) else np.zeros(0, "int64")
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError([Problem(table, "person_id", "duplicate person (one row per person)", int(dup.sum()))])
    return ids


# ---------------------------------------------------------------------------------------------
# the versioned code list


def dream_status(codes: pd.Series, weeks: pd.Series, code_list: pd.DataFrame) -> pd.Series:
    """Status of each DREAM code in its week, from the versioned code list.

    A version applies to a week when ``[valid_from, valid_to]`` (both inclusive, ``valid_to``
    null = open) meets the week ``[Monday, Sunday]``; when a code changes mid-week the later
    version wins, so a change counts from the week it happens in (as a mid-week caseworker
    change does, HIR Boks 1 rule 2). This is the version with the latest ``valid_from`` on or
    before the Sunday, provided it has not ended before the Monday — the same rule the
    validator applies (``dream_code`` valid in its week). A code with no version that week (not
    in the list, before its first version, after a closed last version) and a null code give
    null.

    Parameters
    ----------
    codes
        DREAM codes (int, nullable).
    weeks
        The Monday of each code's week, aligned with ``codes``.
    code_list
        Contract table ``dream_codes``: ``dream_code, valid_from, valid_to, status``.

    Returns
    -------
    Series
        ``status`` (object: one of ``contract.DREAM_STATUSES`` or None), index of ``codes``.
    """
    if len(codes) != len(weeks):
        raise ValueError("codes and weeks must have the same length")
    missing = [c for c in DREAM_CODES.column_names if c not in code_list.columns]
    if missing:
        raise InputError([Problem(DREAM_CODES.name, c, "column missing", len(code_list)) for c in missing])
    left = pd.DataFrame({
        "dream_code": pd.to_numeric(pd.Series(codes).reset_index(drop=True), errors="coerce"),
        "week": pd.to_datetime(pd.Series(weeks).reset_index(drop=True)).astype("datetime64[ns]"),
    })
    left["_pos"] = np.arange(len(left))
    left = left[left["dream_code"].notna() & left["week"].notna()]
    left = left.astype({"dream_code": "int64"})
    left["sunday"] = left["week"] + pd.Timedelta(days=6)
    left = left.sort_values("sunday", kind="stable")
    right = pd.DataFrame({
        "dream_code": pd.to_numeric(code_list["dream_code"]).astype("int64"),
        "valid_from": pd.to_datetime(code_list["valid_from"]).astype("datetime64[ns]"),
        "valid_to": pd.to_datetime(code_list["valid_to"]).astype("datetime64[ns]"),
        "status": code_list["status"].astype("object"),
    }).sort_values(["valid_from", "dream_code"], kind="stable")
    merged = pd.merge_asof(left, right, left_on="sunday", right_on="valid_from", by="dream_code",
                           direction="backward", allow_exact_matches=True)
    expired = merged["valid_to"].notna() & (merged["week"] > merged["valid_to"])
    status = merged["status"].where(~expired & merged["status"].notna(), None)
    out = np.full(len(codes), None, dtype=object)
    out[merged["_pos"].to_numpy()] = status.to_numpy(dtype=object)
    out[pd.isna(out)] = None
    return pd.Series(out, index=pd.Series(codes).index, name="status", dtype=object)


def in_resource_course(codes: pd.Series, weeks: pd.Series, code_list: pd.DataFrame) -> pd.Series:
    """True where the week's code means *ressourceforløb* (status ``resource_course``) that week.

    The HIR panel counts only these weeks (HIR quantitative report, Metrica 2019). Unknown codes and weeks
    without a code are False.
    """
    status = dream_status(codes, weeks, code_list)
    return (status == "resource_course").astype(bool).rename("in_resource_course")


# ---------------------------------------------------------------------------------------------
# building the contract ``weeks`` table


def weeks_from_dream_wide(wide: pd.DataFrame, other_columns: pd.DataFrame | None = None,
                          table: str = WIDE_TABLE) -> pd.DataFrame:
    """The contract ``weeks`` rows from a wide DREAM delivery and an optional long companion.

    A delivery may carry ``DIR/dream_wide.{parquet,csv}`` (or a ``dream_wide/`` folder of parts)
    instead of ``weeks``; the other ``weeks`` columns (``jobcentre_id``, ``municipality_code``,
    ``lab_type``, ``ordinary_hours``, ``employed``, ``su``) then come from the long companion
    table ``DIR/weeks_activity.*`` (``person_id``, ``week`` and any of those columns).

    The rows are the person-weeks that DREAM gives a code **or** the companion has a row for
    (an outer join on ``person_id, week``): a companion row without a DREAM code gets
    ``dream_code`` null (no benefit); a coded DREAM week without a companion row gets nulls in
    the companion's columns, which the validator reports as nulls in required columns. Blank
    DREAM cells without a companion row carry no information and are left out.

    Returns
    -------
    DataFrame
        Every ``weeks`` column in contract order (absent ones all null), sorted by person, week.
    """
    long = dream_wide_to_long(wide, drop_blank=True, table=table)
    if other_columns is None:
        out = long
    else:
        if "dream_code" in other_columns.columns:
            raise InputError([Problem(ACTIVITY_TABLE, "dream_code", "must not be delivered with dream_wide", 0)])
        for col in ("person_id", "week"):
            if col not in other_columns.columns:
                raise InputError([Problem(ACTIVITY_TABLE, col, "column missing", len(other_columns))])
        extra = other_columns[[c for c in other_columns.columns if c in ("person_id", "week", *ACTIVITY_COLUMNS)]]
        extra = extra.assign(week=pd.to_datetime(extra["week"]).astype("datetime64[ns]"),
                             person_id=extra["person_id"].astype("int64"))
        out = long.merge(extra, on=["person_id", "week"], how="outer", sort=False)
    out = out.sort_values(["person_id", "week"], kind="stable").reset_index(drop=True)
    for col in WEEKS.column_names:
        if col not in out.columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype=_null_dtype(col))
    out["dream_code"] = out["dream_code"].astype("Int16")
    return out[list(WEEKS.column_names)]


def _null_dtype(column: str) -> str:
    typ = str(WEEKS.column(column).type)
    return {"int32": "Int32", "int64": "Int64", "int16": "Int16", "double": "Float64",
            "bool": "boolean"}.get(typ, "object")
