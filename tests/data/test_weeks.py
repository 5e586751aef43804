"""Weeks as the registers count them: dates → datetime64 without pandas' cache probe."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from bipdask.data.weeks import as_datetime64, week_ordinal

dates = st.lists(st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)), max_size=50)


@given(dates)
def test_as_datetime64_equals_pandas_parsing_for_every_input_type(values):
    expected = pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")
    ms = pd.Series(np.array(values, dtype="datetime64[D]").astype("datetime64[ms]"), index=np.arange(len(values)) * 3)
    for given_values in (values, pd.Series(values, dtype=object), ms, ms.to_numpy()):
        got = as_datetime64(given_values)
        assert got.dtype == np.dtype("datetime64[ns]")
        pd.testing.assert_series_equal(got, expected.reset_index(drop=True), check_names=False)
        assert (week_ordinal(got) == week_ordinal(expected)).all()


def test_as_datetime64_keeps_missing_weeks_and_parses_text():
    got = as_datetime64(pd.Series(["2018-03-05", None]))
    assert got.iloc[0] == pd.Timestamp("2018-03-05") and pd.isna(got.iloc[1])
    with_nat = as_datetime64(np.array(["2018-03-05", "NaT"], dtype="datetime64[ms]"))
    assert pd.isna(with_nat.iloc[1]) and with_nat.dtype == np.dtype("datetime64[ns]")
