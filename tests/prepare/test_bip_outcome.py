"""The BIP 52-week outcome split into a map part and a reduce part (bipdask.prepare.bip):
``first_hits`` per part of the panel, ``outcome_from_first_hits`` over the parts, equal to
``outcome_52w`` on all rows."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.prepare import bip

START = pd.Timestamp("2017-01-02")  # a Monday


def _weeks(person, offset, employed, hours, su) -> pd.DataFrame:
    return pd.DataFrame({"person_id": np.asarray(person, dtype="int64"),
                         "week": (START + pd.to_timedelta(np.asarray(offset, dtype="int64") * 7, unit="D")).date,
                         "employed": np.asarray(employed, dtype=bool),
                         "ordinary_hours": np.asarray(hours, dtype=float), "su": np.asarray(su, dtype=bool)})


def _responses(person, offset, weekday) -> pd.DataFrame:
    days = np.asarray(offset, dtype="int64") * 7 + np.asarray(weekday, dtype="int64")
    return pd.DataFrame({"response_id": np.arange(100, 100 + len(person), dtype="int64"),
                         "person_id": np.asarray(person, dtype="int64"),
                         "response_date": (START + pd.to_timedelta(days, unit="D")).date})


def test_first_hits_are_the_first_qualifying_week_strictly_after_the_response_week():
    weeks = _weeks([1, 1, 1, 1, 2, 2, 3], [3, 5, 6, 9, 4, 2, 8],
                   [False, True, False, False, False, False, True],
                   [0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0],
                   [False, False, False, True, False, False, False])
    # person 1 answers in week 5 (a hit that week does not count) and week 20; person 2 has no hit;
    # person 4 has no weeks in this part
    resp = _responses([1, 1, 2, 4], [5, 20, 1, 1], [2, 0, 3, 1])
    hits = bip.first_hits(resp, weeks)
    assert hits["response_id"].tolist() == [100]
    assert hits["first_start_week"].tolist() == [START + pd.Timedelta(weeks=6)]
    assert list(hits.dtypes.astype(str)) == ["int64", "datetime64[ns]"]
    assert bip.first_hits(resp, weeks.iloc[:0]).empty


def test_the_earliest_hit_of_the_parts_wins_and_the_window_is_applied_after():
    resp = _responses([1, 1], [0, 20], [0, 0])
    part_a = _weeks([1], [70], [True], [0.0], [False])   # week 70: outside the first response's window
    part_b = _weeks([1], [40], [False], [0.0], [True])   # week 40: inside both windows
    out = bip.outcome_from_first_hits(resp, [bip.first_hits(resp, part_a), bip.first_hits(resp, part_b)],
                                      panel_end=START + pd.Timedelta(weeks=100))
    assert out["outcome"].tolist() == [1, 1]
    assert out["first_start_week"].tolist() == [START + pd.Timedelta(weeks=40)] * 2
    only_a = bip.outcome_from_first_hits(resp, bip.first_hits(resp, part_a),
                                         panel_end=START + pd.Timedelta(weeks=100))
    assert only_a["outcome"].tolist() == [0, 1] and only_a["first_start_week"].isna().tolist() == [True, False]


def test_the_reduce_needs_the_panel_end_and_exactly_one_outcome_source():
    resp = _responses([1], [0], [0])
    with pytest.raises(ValueError, match="panel_end"):
        bip.outcome_from_first_hits(resp, [], panel_end=None)
    with pytest.raises(ValueError, match="exactly one"):
        bip.outcome_of(resp, _weeks([1], [3], [True], [0.0], [False]), first_hits=bip.first_hits(resp, _weeks(
            [1], [3], [True], [0.0], [False])), panel_end=dt.date(2018, 1, 1))


@st.composite
def panels(draw):
    n_weeks = draw(st.integers(0, 60))
    person = draw(st.lists(st.integers(1, 4), min_size=n_weeks, max_size=n_weeks))
    offset = draw(st.lists(st.integers(0, 80), min_size=n_weeks, max_size=n_weeks))
    kind = draw(st.lists(st.integers(0, 4), min_size=n_weeks, max_size=n_weeks))  # 0, 1: no hit
    weeks = _weeks(person, offset, [k == 2 for k in kind], [7.5 if k == 3 else 0.0 for k in kind],
                   [k == 4 for k in kind])
    weeks = weeks.drop_duplicates(["person_id", "week"]).reset_index(drop=True)  # the contract key
    n_resp = draw(st.integers(1, 8))
    resp = _responses(draw(st.lists(st.integers(1, 5), min_size=n_resp, max_size=n_resp)),
                      draw(st.lists(st.integers(0, 80), min_size=n_resp, max_size=n_resp)),
                      draw(st.lists(st.integers(0, 6), min_size=n_resp, max_size=n_resp)))
    parts = draw(st.integers(1, 5))
    part_of = np.asarray(draw(st.lists(st.integers(0, parts - 1), min_size=len(weeks), max_size=len(weeks))),
                         dtype="int64")
    panel_end = draw(st.one_of(st.none(), st.integers(0, 90)))
    return weeks, resp, parts, part_of, panel_end


@settings(max_examples=150, deadline=None)
@given(panels())
def test_the_minimum_of_the_parts_first_hits_is_outcome_52w_on_all_rows(panel):
    """Random weeks cut into random disjoint parts (by row, so one citizen's weeks fall in several
    parts): the reduce of the parts' first hits is outcome_52w on all the rows, frame for frame."""
    weeks, resp, parts, part_of, end = panel
    panel_end = None if end is None else START + pd.Timedelta(weeks=end)
    expected = bip.outcome_52w(resp, weeks, panel_end=panel_end)
    if panel_end is None:
        panel_end = pd.to_datetime(weeks["week"]).max() if len(weeks) else expected["response_week"].max()
    pieces = [bip.first_hits(resp, weeks[part_of == p].reset_index(drop=True)) for p in range(parts)]
    assert all(len(p) <= len(resp) for p in pieces)
    pd.testing.assert_frame_equal(bip.outcome_from_first_hits(resp, pieces, panel_end=panel_end), expected)
    pd.testing.assert_frame_equal(
        bip.outcome_from_first_hits(resp, bip.combine_first_hits(pieces), panel_end=panel_end), expected)
