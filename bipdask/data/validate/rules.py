"""The checks of :mod:`bipdask.data.validate.stage`: row rules (quarantine) and reference-table rules.

A row rule returns a boolean mask of offending rows; its *reason code* is ``rule:column``
(``out_of_range:b3``, ``duplicate_key:person_id+week``, ``unknown_reference:person_id``).
A row breaking several rules is quarantined once, under the first rule in the order below
(whole numbers, missing values, allowed values, ranges, dates, keys, references, codes), so the reason
counts of a table add up to its quarantined rows.

=====================================  ==========================================================
reason code                            rule
=====================================  ==========================================================
``not_integral:<column>``              an integer column delivered as floats (ids from SAS or
                                       Excel exports) with a fraction: ``90412001.5``
``null:<column>``                      a missing value in a column the contract requires
``not_allowed:<column>``               not in the code list (sex, origin, education, lab_type, wave)
``out_of_range:<column>``              BIP answers 1–5; ordinary_hours and weekly_hours 0–168;
                                       n_cases and belief counts 0–1,000; history weeks 0–156 (3 y)
                                       / 0–312 (6 y); birth_year 1900 … (last week's year − 15);
                                       dates from 1990-01-01, an assignment's end to 2099-12-31
                                       (9999-12-31 is a sentinel: leave the end null)
``in_future:<column>``                 a week or response date after the day of validation
``history_3y_exceeds_6y:<col>_3y``     more weeks in the last 3 years than in the last 6
``hours_zero_with_cases:weekly_hours`` cases but no working hours (the FTE caseload would divide
                                       by zero; Boks 1)
``exceeds_caseload:<column>``          a belief count above the caseworker's n_caseload
``not_monday:<column>``                a week that is not the Monday of its ISO week
``outside_week_span:<column>``         caseload week / response date outside the weeks table's span;
                                       an assignment starting after it
``end_before_start:end_date``          an assignment ending before it starts
``duplicate_key:<key columns>``        the table's key occurs more than once (every copy)
``unknown_reference:<column>``         person or job centre not in persons / jobcentres
``quarantined_reference:person_id``    the person's own row is quarantined
``municipality_mismatch:...``          (jobcentre_id, municipality_code) not a jobcentres row
``unknown_code:dream_code``            not in dream_codes
``code_not_valid_in_week:dream_code``  no version of the code covers any day of that week
=====================================  ==========================================================

The two reference tables (``jobcentres``, ``dream_codes``) are small, curated and used by every
other check; any bad row in them is a *table-level* problem, never a quarantine.

Dates are handled as days since 1970-01-01 (int64); 1970-01-01 was a Thursday, so a day ``d``
is a Monday when ``(d + 3) % 7 == 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bipdask.data.contract import (
    ANSWER_RANGE,
    BIP_CASEWORKER_QUESTIONS,
    BIP_CITIZEN_QUESTIONS,
    HISTORY_COLUMNS,
    TABLES,
    Table,
)
from bipdask.data.validate.read import (
    NOT_INTEGRAL,
    ProblemLog,
    flag_columns,
    not_integral_flag,
)

MAX_WEEKLY_HOURS = 168.0  # hours in a week
MAX_CASES = 1_000  # persons on one caseworker's caseload (HIR capped it at 35; typical 50–100)
FIRST_DATE = "1990-01-01"  # DREAM starts in 1991: no register date in scope lies before
LAST_END_DATE = "2099-12-31"  # a planned end beyond it is a sentinel (9999-12-31), not a date
DAY = np.datetime64("1970-01-01", "D")


def days(iso: str) -> int:
    """An ISO date as days since 1970-01-01 (the rules' unit for dates)."""
    return int((np.datetime64(iso, "D") - DAY).astype("int64"))
HISTORY_MAX_WEEKS = {"3y": 156, "6y": 312}
BIRTH_YEAR_MIN = 1900
MIN_AGE_YEARS = 15  # nobody younger takes part in an employment programme

# Table-level rules of the reference tables (Problem.rule texts).
RULE_REF_NULL = "missing values"
RULE_REF_NOT_INTEGRAL = "not a whole number"
RULE_REF_NOT_ALLOWED = "value not allowed"
RULE_REF_DUPLICATE = "duplicate key"
RULE_REF_NAMES = "one job centre with several names"
RULE_REF_VALID_TO = "valid_to before valid_from"
RULE_REF_OVERLAP = "overlapping versions of one code"


class Frame:
    """Columns of a cast Arrow table as NumPy arrays (nulls filled), with validity masks."""

    def __init__(self, t: pa.Table) -> None:
        self.t = t
        self.n = t.num_rows
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def has(self, *names: str) -> bool:
        return all(n in self.t.column_names for n in names)

    def valid(self, name: str) -> np.ndarray:
        key = ("valid", name)
        if key not in self._cache:
            self._cache[key] = pc.is_valid(self.t.column(name)).to_numpy(zero_copy_only=False)
        return self._cache[key]

    def values(self, name: str) -> np.ndarray:
        """Numbers (nulls as 0), dates as int64 days, bools (nulls False), strings (None)."""
        key = ("values", name)
        if key not in self._cache:
            col = self.t.column(name)
            if pa.types.is_date32(col.type):
                col = pc.cast(col, pa.int32())
            if pa.types.is_string(col.type):
                out = col.to_numpy(zero_copy_only=False)
            elif pa.types.is_boolean(col.type):
                out = pc.fill_null(col, False).to_numpy(zero_copy_only=False)
            else:
                out = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
                if pa.types.is_integer(col.type) or pa.types.is_date(self.t.schema.field(name).type):
                    out = out.astype("int64")
            self._cache[key] = out
        return self._cache[key]


@dataclass(frozen=True)
class Context:
    """What row rules need from other tables; ``None`` skips the check (that table is broken)."""

    span: tuple[int, int] | None = None  # first and last Monday of weeks, as days
    persons_clean: np.ndarray | None = None  # sorted person ids
    persons_quarantined: np.ndarray | None = None
    jobcentre_ids: np.ndarray | None = None
    jobcentre_municipalities: np.ndarray | None = None  # sorted keys of (jobcentre, municipality)
    dream_versions: pd.DataFrame | None = None  # dream_code, valid_from, valid_to (days), sorted
    weeks_duplicates: pd.MultiIndex | None = None  # (person_id, week days) occurring twice
    max_birth_year: int | None = None
    today: int | None = None  # the validation date as days: later weeks and dates are in the future


Rule = Callable[[Frame, Context], "np.ndarray | None"]


@dataclass(frozen=True)
class RowRule:
    reason: str
    columns: tuple[str, ...]
    mask: Rule


def pair_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 per pair, collision-free for int32 ``a`` and ``b`` (job centre, municipality;
    DREAM code, day). Not for person ids, which may need all 64 bits."""
    return (np.asarray(a, "int64") << 32) + (np.asarray(b, "int64") & 0xFFFFFFFF)


def is_monday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7 == 0


def _in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if len(sorted_set) == 0:
        return np.zeros(len(values), bool)
    i = np.searchsorted(sorted_set, values).clip(0, len(sorted_set) - 1)
    return sorted_set[i] == values


# ------------------------------------------------------------------------- rule builders


def _null(c: str) -> RowRule:
    return RowRule(f"null:{c}", (c,), lambda f, ctx: ~f.valid(c))


def _allowed(c: str, allowed: tuple[str, ...]) -> RowRule:
    return RowRule(f"not_allowed:{c}", (c,),
                   lambda f, ctx: f.valid(c) & ~np.isin(f.values(c), np.array(allowed, object)))


def _range(c: str, lo: float | None, hi: float | None, *, lo_open: bool = False) -> RowRule:
    def mask(f: Frame, ctx: Context) -> np.ndarray:
        v = f.values(c)
        bad = np.zeros(f.n, bool)
        if lo is not None:
            bad |= (v <= lo) if lo_open else (v < lo)
        if hi is not None:
            bad |= v > hi
        return f.valid(c) & bad
    return RowRule(f"out_of_range:{c}", (c,), mask)


def _birth_year(f: Frame, ctx: Context) -> np.ndarray:
    v = f.values("birth_year")
    hi = ctx.max_birth_year if ctx.max_birth_year is not None else np.iinfo("int64").max
    return f.valid("birth_year") & ((v < BIRTH_YEAR_MIN) | (v > hi))


def _history_order(kind: str) -> RowRule:
    c3, c6 = f"{kind}_weeks_3y", f"{kind}_weeks_6y"
    return RowRule(f"history_3y_exceeds_6y:{c3}", (c3, c6),
                   lambda f, ctx: f.valid(c3) & f.valid(c6) & (f.values(c3) > f.values(c6)))


def _monday(c: str) -> RowRule:
    return RowRule(f"not_monday:{c}", (c,), lambda f, ctx: f.valid(c) & ~is_monday(f.values(c)))


def _in_span(c: str, *, start_only: bool = False) -> RowRule:
    """Inside [first Monday, last Monday + 6 days]; ``start_only``: not after the end only."""
    def mask(f: Frame, ctx: Context) -> np.ndarray | None:
        if ctx.span is None:
            return None
        v = f.values(c)
        late = v > ctx.span[1] + 6
        return f.valid(c) & (late if start_only else (late | (v < ctx.span[0])))
    return RowRule(f"outside_week_span:{c}", (c,), mask)


def _plausible_date(c: str, last: str | None = None) -> RowRule:
    """Not before :data:`FIRST_DATE` (a typo year: 1600, 1018) nor after ``last``."""
    lo, hi = days(FIRST_DATE), (days(last) if last else None)

    def mask(f: Frame, ctx: Context) -> np.ndarray:
        v = f.values(c)
        bad = v < lo
        if hi is not None:
            bad |= v > hi
        return f.valid(c) & bad
    return RowRule(f"out_of_range:{c}", (c,), mask)


def _not_future(c: str) -> RowRule:
    """A register week or survey date after the day of validation cannot have been observed."""
    def mask(f: Frame, ctx: Context) -> np.ndarray | None:
        if ctx.today is None:
            return None
        return f.valid(c) & (f.values(c) > ctx.today)
    return RowRule(f"in_future:{c}", (c,), mask)


def _duplicates(key: tuple[str, ...]) -> RowRule:
    def mask(f: Frame, ctx: Context) -> np.ndarray:
        df = f.t.select(list(key)).to_pandas()
        complete = df.notna().all(axis=1).to_numpy()
        return complete & df.duplicated(keep=False).to_numpy()
    return RowRule(f"duplicate_key:{'+'.join(key)}", key, mask)


def _weeks_duplicates(f: Frame, ctx: Context) -> np.ndarray | None:
    if ctx.weeks_duplicates is None:
        return None
    if len(ctx.weeks_duplicates) == 0:
        return np.zeros(f.n, bool)
    keys = pd.MultiIndex.from_arrays([f.values("person_id"), f.values("week")])
    return f.valid("person_id") & f.valid("week") & keys.isin(ctx.weeks_duplicates)


def _person_refs() -> tuple[RowRule, RowRule]:
    def unknown(f: Frame, ctx: Context) -> np.ndarray | None:
        if ctx.persons_clean is None:
            return None
        v = f.values("person_id")
        known = _in_sorted(v, ctx.persons_clean) | _in_sorted(v, ctx.persons_quarantined)
        return f.valid("person_id") & ~known

    def quarantined(f: Frame, ctx: Context) -> np.ndarray | None:
        if ctx.persons_quarantined is None:
            return None
        return f.valid("person_id") & _in_sorted(f.values("person_id"), ctx.persons_quarantined)

    return (RowRule("unknown_reference:person_id", ("person_id",), unknown),
            RowRule("quarantined_reference:person_id", ("person_id",), quarantined))


def _jobcentre_ref(f: Frame, ctx: Context) -> np.ndarray | None:
    if ctx.jobcentre_ids is None:
        return None
    return f.valid("jobcentre_id") & ~np.isin(f.values("jobcentre_id"), ctx.jobcentre_ids)


def _municipality(f: Frame, ctx: Context) -> np.ndarray | None:
    if ctx.jobcentre_municipalities is None:
        return None
    keys = pair_key(f.values("jobcentre_id"), f.values("municipality_code"))
    return (f.valid("jobcentre_id") & f.valid("municipality_code")
            & ~_in_sorted(keys, ctx.jobcentre_municipalities))


def _dream_known(f: Frame, ctx: Context) -> np.ndarray | None:
    if ctx.dream_versions is None:
        return None
    codes = ctx.dream_versions["dream_code"].to_numpy()
    return f.valid("dream_code") & ~np.isin(f.values("dream_code"), codes)


def _dream_valid_in_week(f: Frame, ctx: Context) -> np.ndarray | None:
    """The code has a version whose [valid_from, valid_to] meets the week [Monday, Sunday]."""
    if ctx.dream_versions is None:
        return None
    dv = ctx.dream_versions
    vkeys = pair_key(dv["dream_code"].to_numpy(), dv["valid_from"].to_numpy())
    code, week = f.values("dream_code"), f.values("week")
    i = np.searchsorted(vkeys, pair_key(code, week + 6), side="right") - 1
    ok = i >= 0
    j = i.clip(0)
    ok &= dv["dream_code"].to_numpy()[j] == code
    ok &= dv["valid_to"].to_numpy()[j] >= week
    return f.valid("dream_code") & f.valid("week") & ~ok


# ------------------------------------------------------------------------- rules per table


def _not_integral(c: str) -> RowRule:
    flag = not_integral_flag(c)
    return RowRule(f"not_integral:{c}", (flag,), lambda f, ctx: f.values(flag))


def _generic(table: Table) -> list[RowRule]:
    rules = [_not_integral(c.name) for c in table.columns if pa.types.is_integer(c.type)]
    rules += [_null(c.name) for c in table.columns if not c.nullable]
    rules += [_allowed(c.name, c.allowed) for c in table.columns if c.allowed]
    return rules


def _rules(name: str) -> list[RowRule]:
    table = TABLES[name]
    rules = _generic(table)
    unknown_person, quarantined_person = _person_refs()
    jobcentre = RowRule("unknown_reference:jobcentre_id", ("jobcentre_id",), _jobcentre_ref)
    if name == "persons":
        rules.append(RowRule("out_of_range:birth_year", ("birth_year",), _birth_year))
        for c in HISTORY_COLUMNS:
            rules.append(_range(c, 0, HISTORY_MAX_WEEKS[c.rsplit("_", 1)[1]]))
        kinds = dict.fromkeys(c.split("_weeks_")[0] for c in HISTORY_COLUMNS)
        rules += [_history_order(k) for k in kinds]
        rules.append(_duplicates(table.key))
    elif name == "weeks":
        rules += [_range("ordinary_hours", 0, MAX_WEEKLY_HOURS), _plausible_date("week"), _not_future("week"),
                  _monday("week"),
                  RowRule("duplicate_key:person_id+week", ("person_id", "week"), _weeks_duplicates),
                  unknown_person, quarantined_person, jobcentre,
                  RowRule("municipality_mismatch:municipality_code",
                          ("jobcentre_id", "municipality_code"), _municipality),
                  RowRule("unknown_code:dream_code", ("dream_code",), _dream_known),
                  RowRule("code_not_valid_in_week:dream_code", ("dream_code", "week"),
                          _dream_valid_in_week)]
    elif name == "assignments":
        rules += [_plausible_date("start_date"), _plausible_date("end_date", LAST_END_DATE),
                  RowRule("end_before_start:end_date", ("start_date", "end_date"),
                          lambda f, ctx: f.valid("end_date") & f.valid("start_date")
                          & (f.values("end_date") < f.values("start_date"))),
                  _in_span("start_date", start_only=True),
                  _duplicates(table.key), unknown_person, quarantined_person, jobcentre]
    elif name == "caseload":
        rules += [_range("n_cases", 0, MAX_CASES), _range("weekly_hours", 0, MAX_WEEKLY_HOURS),
                  _plausible_date("week"), _not_future("week"),
                  RowRule("hours_zero_with_cases:weekly_hours", ("n_cases", "weekly_hours"),
                          lambda f, ctx: f.valid("n_cases") & f.valid("weekly_hours")
                          & (f.values("n_cases") > 0) & (f.values("weekly_hours") <= 0)),
                  _monday("week"), _in_span("week"), _duplicates(table.key), jobcentre]
    elif name == "belief_survey":
        counts = ("n_internship_3m", "n_ordinary_hours_1y", "n_job_2y")
        rules += [_range(c, 0, MAX_CASES) for c in ("n_caseload", *counts)]
        rules += [RowRule(f"exceeds_caseload:{c}", (c, "n_caseload"),
                          lambda f, ctx, c=c: f.valid(c) & f.valid("n_caseload")
                          & (f.values(c) > f.values("n_caseload"))) for c in counts]
        rules += [_duplicates(table.key), jobcentre]
    elif name == "bip_responses":
        lo, hi = ANSWER_RANGE
        rules += [_range(c, lo, hi) for c in (*BIP_CITIZEN_QUESTIONS, *BIP_CASEWORKER_QUESTIONS)]
        rules += [_plausible_date("response_date"), _not_future("response_date"), _in_span("response_date"),
                  _duplicates(table.key),
                  unknown_person, quarantined_person, jobcentre]
    return rules


ROW_RULES: dict[str, list[RowRule]] = {
    name: _rules(name) for name in ("persons", "weeks", "assignments", "caseload", "belief_survey",
                                    "bip_responses")
}


def row_reasons(t: pa.Table, name: str, ctx: Context) -> tuple[np.ndarray, list[str]]:
    """Index of the first broken rule per row (-1 = clean) and the reason codes it indexes.

    Rules whose columns are absent, or whose reference table is broken, are skipped.
    """
    f = Frame(t)
    first = np.full(f.n, -1, np.int16)
    reasons = []
    for rule in ROW_RULES[name]:
        if not f.has(*rule.columns):
            continue
        bad = rule.mask(f, ctx)
        if bad is None:
            continue
        reasons.append(rule.reason)
        first[(first < 0) & bad] = len(reasons) - 1
    return first, reasons


# ------------------------------------------------------------------------- reference tables


def _fractions(t: pa.Table, name: str, log: ProblemLog) -> None:
    """Integer columns of a reference table delivered as floats with a fraction."""
    for flag in flag_columns(t):
        if n := int(Frame(t).values(flag).sum()):
            log.add(name, flag.removeprefix(NOT_INTEGRAL), RULE_REF_NOT_INTEGRAL, n)


def _n_missing(f: Frame, c: str) -> int:
    """Missing cells, not counting those nulled for a fraction (reported as such)."""
    flag = not_integral_flag(c)
    fraction = f.values(flag) if f.has(flag) else False
    return int((~f.valid(c) & ~fraction).sum())


def check_jobcentres(t: pa.Table, log: ProblemLog) -> None:
    """Table-level: no missing values, one row per municipality, one name per job centre."""
    name = "jobcentres"
    f = Frame(t)
    _fractions(t, name, log)
    for c in TABLES[name].columns:
        if not c.nullable and (n := _n_missing(f, c.name)):
            log.add(name, c.name, RULE_REF_NULL, n)
    df = t.select(["jobcentre_id", "name", "municipality_code"]).to_pandas()
    dup = df["municipality_code"].notna() & df.duplicated("municipality_code", keep=False)
    if n := int(dup.sum()):
        log.add(name, "municipality_code", RULE_REF_DUPLICATE, n)
    names = df.dropna(subset=["jobcentre_id"]).groupby("jobcentre_id")["name"].transform("nunique")
    if n := int((names > 1).sum()):
        log.add(name, "name", RULE_REF_NAMES, n)


def check_dream_codes(t: pa.Table, log: ProblemLog) -> None:
    """Table-level: statuses allowed, valid_to ≥ valid_from, versions of a code do not overlap."""
    name = "dream_codes"
    f = Frame(t)
    _fractions(t, name, log)
    for c in TABLES[name].columns:
        if not c.nullable and (n := _n_missing(f, c.name)):
            log.add(name, c.name, RULE_REF_NULL, n)
        if c.allowed:
            bad = f.valid(c.name) & ~np.isin(f.values(c.name), np.array(c.allowed, object))
            if n := int(bad.sum()):
                log.add(name, c.name, RULE_REF_NOT_ALLOWED, n)
    versions = dream_versions(t)
    start, end = versions["valid_from"].to_numpy(), versions["valid_to"].to_numpy()
    if n := int((end < start).sum()):
        log.add(name, "valid_to", RULE_REF_VALID_TO, n)
    same = versions["dream_code"].to_numpy()[1:] == versions["dream_code"].to_numpy()[:-1]
    overlap = same & (start[1:] <= end[:-1])
    rows = np.zeros(len(versions), bool)
    rows[1:] |= overlap
    rows[:-1] |= overlap
    if n := int(rows.sum()):
        log.add(name, "valid_from", RULE_REF_OVERLAP, n)


def dream_versions(t: pa.Table) -> pd.DataFrame:
    """Code versions as days, sorted by (code, valid_from); open ends as the largest int64."""
    f = Frame(t)
    ok = f.valid("dream_code") & f.valid("valid_from")
    to = np.where(f.valid("valid_to"), f.values("valid_to"), np.iinfo("int64").max)
    df = pd.DataFrame({"dream_code": f.values("dream_code"), "valid_from": f.values("valid_from"),
                       "valid_to": to})[ok]
    return df.sort_values(["dream_code", "valid_from"], kind="stable").reset_index(drop=True)
