"""Weeks as the registers count them: the Monday of the ISO week (DREAM's ``y_YYWW``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def week_monday(dates) -> pd.Series | pd.Timestamp:
    """The Monday of the ISO week containing each date (midnight, no time zone)."""
    if isinstance(dates, (pd.Series, pd.Index, np.ndarray, list)):
        s = pd.to_datetime(pd.Series(dates)).dt.normalize()
        return s - pd.to_timedelta(s.dt.weekday, unit="D")
    ts = pd.Timestamp(dates).normalize()
    return ts - pd.Timedelta(days=ts.weekday())


def weeks_between(first: str | dt.date, last: str | dt.date) -> pd.DatetimeIndex:
    """All ISO-week Mondays from the week containing ``first`` to the week containing ``last``."""
    return pd.date_range(week_monday(first), week_monday(last), freq="7D")


def iso_year_week(monday: pd.Series) -> pd.DataFrame:
    """ISO year and week number of each Monday (week 53 exists in 2015, 2020, 2026 …)."""
    iso = pd.to_datetime(monday).dt.isocalendar()
    return pd.DataFrame({"year": iso["year"].astype("int32"), "week": iso["week"].astype("int32")})


def monday_of_iso(year: np.ndarray, week: np.ndarray) -> pd.DatetimeIndex:
    """Monday of ISO ``year``-``week``; inverse of :func:`iso_year_week`."""
    jan4 = pd.to_datetime(pd.DataFrame({"year": np.asarray(year), "month": 1, "day": 4}))
    week1_monday = jan4 - pd.to_timedelta(jan4.dt.weekday, unit="D")
    return pd.DatetimeIndex(week1_monday + pd.to_timedelta((np.asarray(week) - 1) * 7, unit="D"))


_EPOCH_MONDAY = np.datetime64("1970-01-05", "D")


def as_datetime64(values) -> pd.Series:
    """Dates as a ``datetime64[ns]`` Series (index dropped), without ``pd.to_datetime``'s cache probe.

    Staged weeks arrive as ``datetime64[ms]``; ``pd.to_datetime`` on such a Series still boxes
    up to thousands of values into Timestamps to decide whether to cache (a quarter of the map
    side's time on a job centre). Datetime input is cast; anything else parsed with ``cache=False``.
    """
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series) and getattr(series.dt, "tz", None) is None:
        return series.astype("datetime64[ns]")
    return pd.to_datetime(series, errors="raise", cache=False)


def week_ordinal(dates) -> np.ndarray:
    """ISO-week ordinal of each date: whole weeks since Monday 1970-01-05 (int64).

    Any day of a week maps to the ordinal of its Monday. Missing dates are not allowed here;
    callers mask them first.
    """
    if isinstance(dates, (pd.Series, pd.Index, np.ndarray)) and dates.dtype.kind == "M":
        # naive datetime64 of any unit: numpy floors to the day (pandas' own cast costs ~3 ms a call)
        days = np.asarray(dates).astype("datetime64[D]")
        return ((days - _EPOCH_MONDAY).astype(np.int64)) // 7
    series = pd.Series(dates)
    if len(series) == 0:
        return np.array([], np.int64)
    if pd.api.types.is_datetime64_any_dtype(series):
        days = series.to_numpy("datetime64[D]")
    else:  # dates as objects (date32 from Arrow): cache=False is ~100× faster on unique-ish values
        days = pd.to_datetime(series, errors="raise", cache=False).to_numpy("datetime64[D]")
    return ((days - _EPOCH_MONDAY).astype(np.int64)) // 7


def ordinal_monday(ordinal) -> np.ndarray:
    """The Monday (``datetime64[ns]``) of each week ordinal; inverse of :func:`week_ordinal`."""
    days = _EPOCH_MONDAY + np.asarray(ordinal, dtype=np.int64) * 7
    return days.astype("datetime64[ns]")


def period_week_bounds(start: dt.date | str, end: dt.date | str) -> tuple[int, int]:
    """First and last week ordinal whose Monday lies in the closed period [start, end]."""
    s = pd.Timestamp(start)
    first = _scalar_ordinal(s) + (0 if s.weekday() == 0 else 1)
    last = _scalar_ordinal(pd.Timestamp(end))
    return first, last


def _scalar_ordinal(ts: pd.Timestamp) -> int:
    """:func:`week_ordinal` of one timestamp without building a Series (called per period per job centre)."""
    if getattr(ts, "tz", None) is not None:
        return int(week_ordinal([ts])[0])
    return int((ts.to_datetime64().astype("datetime64[D]") - _EPOCH_MONDAY).astype(np.int64) // 7)


def _dates_ns(values: pd.Series) -> np.ndarray:
    """Dates as int64 nanoseconds; NaT becomes the int64 minimum (callers mask it)."""
    return pd.to_datetime(values).to_numpy("datetime64[ns]").astype(np.int64)
