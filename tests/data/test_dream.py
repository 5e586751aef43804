"""DREAM wide ↔ long, the two-digit-year pivot, the versioned code list, weeks from DREAM wide."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.data.contract import WEEKS
from bipdask.data.dream import (
    dream_status,
    dream_wide_to_long,
    expand_two_digit_year,
    in_resource_course,
    is_valid_iso_week,
    long_to_dream_wide,
    week_column_mondays,
    week_column_name,
    weeks_from_dream_wide,
)
from bipdask.errors import InputError

SECRET_ID = 987654321012


def _wide(columns: dict[str, list], ids=(SECRET_ID, 2)) -> pd.DataFrame:
    return pd.DataFrame({"person_id": list(ids), **columns})


# --- week columns -----------------------------------------------------------------------------


def test_two_digit_year_pivot():
    yy = np.array([0, 17, 69, 70, 91, 99])
    assert expand_two_digit_year(yy).tolist() == [2000, 2017, 2069, 1970, 1991, 1999]
    mondays = week_column_mondays(["y_6952", "y_7001", "y_9853", "y_0001"])
    assert mondays["y_6952"].isocalendar()[:2] == (2069, 52)
    assert mondays["y_7001"].isocalendar()[:2] == (1970, 1)
    assert mondays["y_9853"].isocalendar()[:2] == (1998, 53)
    assert mondays["y_0001"] == pd.Timestamp("2000-01-03")
    assert week_column_name(mondays) == ["y_6952", "y_7001", "y_9853", "y_0001"]


def test_week_column_names_map_to_iso_mondays():
    mondays = week_column_mondays(["y_1709", "y_1553", "y_2053", "y_2101", "y_1801"])
    assert mondays["y_1709"] == pd.Timestamp("2017-02-27")
    assert mondays["y_1553"] == pd.Timestamp("2015-12-28")
    assert mondays["y_2053"] == pd.Timestamp("2020-12-28")
    assert mondays["y_2101"] == pd.Timestamp("2021-01-04")
    assert mondays["y_1801"] == pd.Timestamp("2018-01-01")
    assert (mondays.dt.weekday == 0).all()


def test_week_53_only_in_long_iso_years():
    years = np.array([2015, 2016, 2018, 2020, 2026, 2004, 1998])
    assert is_valid_iso_week(years, np.full(7, 53)).tolist() == [True, False, False, True, True, True, True]
    assert not is_valid_iso_week(np.array([2017, 2017]), np.array([0, 54])).any()


@pytest.mark.parametrize("bad", ["y_1853", "y_1700", "y_17a9", "y_170", "y_17099", "x_1709", "week1", "y_1754"])
def test_bad_week_column_is_named(bad):
    wide = _wide({"y_1709": [111, None], bad: [111, 111]})
    with pytest.raises(InputError) as err:
        dream_wide_to_long(wide)
    [problem] = err.value.problems
    assert (problem.table, problem.column) == ("dream_wide", bad)
    assert str(SECRET_ID) not in str(err.value)


def test_duplicate_week_rejected():
    with pytest.raises(InputError, match="duplicate"):
        week_column_mondays(["y_1709", "y_1709"])


# --- codes ------------------------------------------------------------------------------------


def test_codes_as_text_ints_and_blanks_agree():
    as_text = _wide({"y_1709": ["111", " 720 "], "y_1710": ["", None]})
    as_int = _wide({"y_1709": [111, 720], "y_1710": [None, None]})
    as_float = _wide({"y_1709": [111.0, 720.0], "y_1710": [np.nan, np.nan]})
    mixed = _wide({"y_1709": [111, "720"], "y_1710": [None, ""]})
    expected = dream_wide_to_long(as_int)
    for wide in (as_text, as_float, mixed):
        pd.testing.assert_frame_equal(dream_wide_to_long(wide), expected)
    assert expected["dream_code"].dtype == "Int16"
    assert expected["dream_code"].isna().tolist() == [False, True, False, True]


@pytest.mark.parametrize("bad", ["12", "1111", "abc", "72O", 12, 1000, 111.5, "1e2", "-11"])
def test_bad_codes_give_column_and_count_without_values(bad):
    wide = _wide({"y_1709": [111, 111], "y_1710": [bad, bad], "y_1711": ["111", None]},)
    with pytest.raises(InputError) as err:
        dream_wide_to_long(wide)
    [problem] = err.value.problems
    assert (problem.table, problem.column, problem.n_rows) == ("dream_wide", "y_1710", 2)
    assert "3-digit" in problem.rule
    assert str(SECRET_ID) not in str(err.value) and str(bad) not in str(err.value).replace("y_1710", "")


def test_person_id_rules():
    with pytest.raises(InputError, match="duplicate person"):
        dream_wide_to_long(_wide({"y_1709": [111, 111]}, ids=(SECRET_ID, SECRET_ID)))
    with pytest.raises(InputError, match="person_id: null"):
        dream_wide_to_long(_wide({"y_1709": [111, 111]}, ids=(SECRET_ID, None)))
    with pytest.raises(InputError, match="column missing"):
        dream_wide_to_long(pd.DataFrame({"y_1709": [111]}))


def test_long_rows_sorted_by_person_then_week_whatever_the_column_order():
    wide = _wide({"y_2101": [111, None], "y_2053": [720, 111]})
    long = dream_wide_to_long(wide)
    assert long["week"].tolist() == [pd.Timestamp("2020-12-28"), pd.Timestamp("2021-01-04")] * 2
    assert long["dream_code"].tolist() == [720, 111, 111, pd.NA]
    sparse = dream_wide_to_long(wide, drop_blank=True)
    assert len(sparse) == 3 and sparse["dream_code"].notna().all()


# --- round trip -------------------------------------------------------------------------------

_CODE = st.one_of(st.none(), st.integers(100, 999))


@st.composite
def _panels(draw):
    start = draw(st.sampled_from(["2015-12-14", "2020-12-21", "2017-02-27", "1998-12-21", "2069-11-25"]))
    first = pd.Timestamp(start) - pd.Timedelta(days=pd.Timestamp(start).weekday())
    n_weeks = draw(st.integers(1, 8))
    all_weeks = pd.date_range(first, periods=n_weeks + 3, freq="7D")
    all_weeks = all_weeks[all_weeks.isocalendar().year.to_numpy() < 2070]
    keep = draw(st.lists(st.booleans(), min_size=len(all_weeks), max_size=len(all_weeks)))
    weeks = [w for w, k in zip(all_weeks, keep) if k] or [all_weeks[0]]
    ids = draw(st.lists(st.integers(1, 2**62), min_size=1, max_size=6, unique=True))
    codes = draw(st.lists(st.lists(_CODE, min_size=len(weeks), max_size=len(weeks)),
                          min_size=len(ids), max_size=len(ids)))
    as_text = draw(st.booleans())
    columns = {}
    for j, name in enumerate(week_column_name(weeks)):
        col = [row[j] for row in codes]
        columns[name] = [("" if c is None else str(c)) for c in col] if as_text else pd.array(col, dtype="Int16")
    return pd.DataFrame({"person_id": np.array(ids, dtype="int64"), **columns})


@settings(max_examples=60, deadline=None)
@given(_panels())
def test_wide_long_wide_round_trip_is_exact(wide):
    long = dream_wide_to_long(wide)
    assert len(long) == len(wide) * (wide.shape[1] - 1)
    back = long_to_dream_wide(long)
    expected = wide.copy()
    for c in expected.columns[1:]:
        expected[c] = dream_wide_to_long(wide[["person_id", c]])["dream_code"].array
    pd.testing.assert_frame_equal(back, expected)
    # and long → wide → long
    pd.testing.assert_frame_equal(dream_wide_to_long(back), long)


def test_round_trip_over_week_53_and_the_year_boundary():
    weeks = pd.date_range("2020-12-14", "2021-01-11", freq="7D")
    names = week_column_name(weeks)
    assert names == ["y_2051", "y_2052", "y_2053", "y_2101", "y_2102"]
    wide = _wide({n: [111 + i, None if i % 2 else 890] for i, n in enumerate(names)})
    wide[names] = wide[names].astype("Int16")
    pd.testing.assert_frame_equal(long_to_dream_wide(dream_wide_to_long(wide)), wide)


def test_long_to_wide_checks_its_input():
    long = pd.DataFrame({"person_id": [SECRET_ID, SECRET_ID], "week": pd.to_datetime(["2017-02-27", "2017-02-27"]),
                         "dream_code": [111, 720]})
    with pytest.raises(InputError, match="duplicate person-week") as err:
        long_to_dream_wide(long)
    assert str(SECRET_ID) not in str(err.value)
    with pytest.raises(InputError, match="not the Monday"):
        long_to_dream_wide(long.assign(week=pd.to_datetime(["2017-02-28", "2017-03-06"])))
    wide = long_to_dream_wide(long.iloc[:1], weeks=pd.date_range("2017-02-20", periods=3, freq="7D"))
    assert list(wide.columns) == ["person_id", "y_1708", "y_1709", "y_1710"]
    assert wide[["y_1708", "y_1710"]].isna().all().all() and wide["y_1709"].iloc[0] == 111


def test_forty_thousand_persons_by_110_weeks():
    rng = np.random.default_rng(np.random.SeedSequence([7, 2]))
    names = week_column_name(pd.date_range("2017-01-02", periods=110, freq="7D"))
    codes = rng.choice(np.array([np.nan, 111, 720, 890]), size=(40_000, 110))
    wide = pd.DataFrame(codes, columns=names)
    wide.insert(0, "person_id", np.arange(40_000, dtype="int64") * 7 + 3)
    long = dream_wide_to_long(wide)
    assert len(long) == 4_400_000
    back = long_to_dream_wide(long)
    np.testing.assert_array_equal(back[names].astype("float64").to_numpy(na_value=np.nan), codes)


# --- the versioned code list -----------------------------------------------------------------


def _code_list() -> pd.DataFrame:
    return pd.DataFrame({
        "dream_code": [111, 111, 720, 890],
        "valid_from": pd.to_datetime(["2010-01-01", "2018-03-01", "2000-01-01", "2000-01-01"]),
        "valid_to": pd.to_datetime(["2018-02-28", None, None, "2017-12-31"]),
        "status": ["other", "resource_course", "cash_benefit", "flex_job"],
    })


def test_status_uses_the_version_valid_that_week():
    weeks = pd.Series(pd.to_datetime(["2018-02-19", "2018-02-26", "2018-03-05", "2017-12-25",
                                      "2018-01-01", "2009-12-28", "2018-03-05", "2018-03-05"]),
                      index=[10, 11, 12, 13, 14, 15, 16, 17])
    codes = pd.Series([111, 111, 111, 890, 890, 111, 555, None], index=weeks.index, dtype="Int16")
    status = dream_status(codes, weeks, _code_list())
    assert status.index.tolist() == weeks.index.tolist()
    # 2018-02-26 holds the change (Wed → Thu): the later version wins; 2009-12-28 holds 2010-01-01
    assert status.tolist() == ["other", "resource_course", "resource_course", "flex_job", None, "other", None, None]
    rf = in_resource_course(codes, weeks, _code_list())
    assert rf.dtype == bool and rf.tolist() == [False, True, True, False, False, False, False, False]


def test_status_matches_a_row_by_row_lookup():
    rng = np.random.default_rng(np.random.SeedSequence([3, 1]))
    weeks = pd.Series(pd.date_range("2009-12-07", periods=500, freq="7D")).sample(400, replace=True, random_state=rng)
    codes = pd.Series(rng.choice([111, 720, 890, 999], size=400), index=weeks.index)
    got = dream_status(codes.reset_index(drop=True), weeks.reset_index(drop=True), _code_list())
    cl = _code_list()
    for code, week, status in zip(codes, weeks, got):
        sunday = week + pd.Timedelta(days=6)
        hit = cl[(cl.dream_code == code) & (cl.valid_from <= sunday) & (cl.valid_to.isna() | (week <= cl.valid_to))]
        assert status == (hit["status"].iloc[-1] if len(hit) else None)


# --- weeks from DREAM wide --------------------------------------------------------------------


def test_weeks_from_wide_with_and_without_a_companion():
    wide = _wide({"y_1709": [111, None], "y_1710": [None, None], "y_1711": ["720", "111"]})
    alone = weeks_from_dream_wide(wide)
    assert list(alone.columns) == list(WEEKS.column_names)
    assert len(alone) == 3 and alone["jobcentre_id"].isna().all()
    activity = pd.DataFrame({
        "person_id": [SECRET_ID, SECRET_ID, 5], "week": pd.to_datetime(["2017-02-27", "2017-03-06", "2017-02-27"]),
        "jobcentre_id": [1, 1, 2], "municipality_code": [101, 101, 147], "lab_type": ["none", "wage_subsidy", "none"],
        "ordinary_hours": [0.0, 3.5, 0.0], "employed": [False, True, False], "su": [False, False, False],
    })
    weeks = weeks_from_dream_wide(wide, activity)
    assert list(weeks.columns) == list(WEEKS.column_names)
    # DREAM-coded weeks ∪ companion rows: 3 coded cells, 2 companion rows not coded in DREAM
    assert len(weeks) == 5
    row = weeks[(weeks.person_id == SECRET_ID) & (weeks.week == dt.datetime(2017, 3, 6))].iloc[0]
    assert pd.isna(row["dream_code"]) and row["lab_type"] == "wage_subsidy"
    row = weeks[(weeks.person_id == 2) & (weeks.week == dt.datetime(2017, 3, 13))].iloc[0]
    assert row["dream_code"] == 111 and pd.isna(row["jobcentre_id"])
    with pytest.raises(InputError, match="weeks_activity.dream_code"):
        weeks_from_dream_wide(wide, activity.assign(dream_code=111))
