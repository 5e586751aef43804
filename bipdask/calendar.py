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
