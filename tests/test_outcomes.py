"""Weekly outcome flags, resource-course weeks, periods and the Table 6 cell sums."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.errors import InputError
from bipdask.outcomes import (
    comparison_windows,
    in_internship_or_hours,
    in_period,
    in_resource_course,
    share_cell_sums,
    treated_jobcentre_ids,
)
from bipdask.spec import Period, load_spec

CODES = pd.DataFrame({
    "dream_code": [781, 781, 111],
    "valid_from": pd.to_datetime(["2010-01-01", "2018-01-01", "2010-01-01"]),
    "valid_to": pd.to_datetime(["2017-12-31", None, None]),
    "status": ["other", "resource_course", "cash_benefit"],
})


def test_outcome_is_internship_or_positive_hours():
    lab = pd.Series(["company_internship", "none", "wage_subsidy", "none", "company_internship"])
    hours = pd.Series([0.0, 3.5, 0.0, 0.0, np.nan])
    assert in_internship_or_hours(lab, hours).tolist() == [True, True, False, False, True]


def test_resource_course_uses_the_code_version_in_force_that_week():
    weeks = pd.to_datetime(["2017-12-25", "2018-01-01", "2019-06-03", "2018-01-01", "2018-01-01"])
    codes = pd.Series([781, 781, 781, 111, None], dtype="Int16")
    # 781 became a resource-course code on 2018-01-01; 111 never is; no code is no benefit.
    assert in_resource_course(pd.Series(weeks), codes, CODES).tolist() == [False, True, True, False, False]


def test_periods_are_closed_intervals_on_the_monday():
    p = Period(dt.date(2018, 3, 1), dt.date(2019, 3, 31))
    weeks = pd.Series(pd.to_datetime(["2018-02-26", "2018-03-05", "2019-03-25", "2019-04-01"]))
    assert in_period(weeks, p).tolist() == [False, True, True, False]


def test_hir_windows_and_treated_names():
    spec = load_spec("hir")
    w = comparison_windows(spec)
    assert list(w) == ["before", "intervention", "last_3_months"]
    assert w["last_3_months"] == Period(dt.date(2019, 1, 1), dt.date(2019, 3, 31))
    jc = pd.DataFrame({"jobcentre_id": [7, 8, 8, 9], "name": ["Favrskov", " vallensbæk-ishøj", "Vallensbæk-Ishøj", "Aarhus"],
                       "municipality_code": [710, 187, 183, 751]})
    ids, missing = treated_jobcentre_ids(jc, spec.treated_jobcentres)
    assert ids == (7, 8)
    assert "Faxe" in missing and "Favrskov" not in missing and len(missing) == 13
    with pytest.raises(InputError, match="jobcentres.name"):
        treated_jobcentre_ids(jc[jc["name"] == "Aarhus"], spec.treated_jobcentres)


def _weeks() -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": [1, 1, 1, 1, 2, 2, 2],
        "week": pd.to_datetime(["2017-06-05", "2017-06-12", "2018-06-04", "2019-02-04",
                                "2018-06-04", "2018-06-11", "2019-02-11"]),
        "jobcentre_id": [5, 5, 5, 5, 6, 6, 6],
        "dream_code": pd.array([781, 781, 781, 781, 781, 111, 781], dtype="Int16"),
        "lab_type": ["company_internship", "none", "none", "none", "none", "company_internship", "none"],
        "ordinary_hours": [0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 2.0],
    })


def test_cell_sums_by_hand():
    cells = share_cell_sums(_weeks(), CODES, treated_ids=[5], windows=comparison_windows(load_spec("hir")))
    got = {(r.person_id, r.period): (r.d, r.n_weeks, r.n_yes) for r in cells.itertuples()}
    # 2017 weeks: code 781 was not yet a resource-course code → no "before" cell for person 1.
    assert got == {
        (1, "intervention"): (1, 2, 1),
        (1, "last_3_months"): (1, 1, 0),
        (2, "intervention"): (0, 2, 1),   # the cash-benefit week does not count
        (2, "last_3_months"): (0, 1, 1),
    }
    assert list(cells.columns) == ["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_parts=st.integers(1, 4))
def test_cell_sums_add_up_over_any_split_of_the_weeks(seed, n_parts):
    rng = np.random.default_rng(seed)
    n = 300
    weeks = pd.DataFrame({
        "person_id": rng.integers(1, 20, n),
        "week": pd.Timestamp("2017-03-06") + pd.to_timedelta(7 * rng.integers(0, 108, n), unit="D"),
        "jobcentre_id": rng.integers(1, 4, n),
        "dream_code": pd.array(rng.choice([781, 111], n), dtype="Int16"),
        "lab_type": rng.choice(["none", "company_internship"], n),
        "ordinary_hours": rng.choice([0.0, 5.0], n),
    })
    windows = comparison_windows(load_spec("hir"))
    whole = share_cell_sums(weeks, CODES, [1], windows)
    part = rng.integers(0, n_parts, n)
    pieces = pd.concat([share_cell_sums(weeks[part == k], CODES, [1], windows) for k in range(n_parts)])
    key = ["jobcentre_id", "person_id", "period", "d"]
    summed = pieces.groupby(key, observed=True)[["n_weeks", "n_yes"]].sum().reset_index()
    pd.testing.assert_frame_equal(summed.sort_values(key).reset_index(drop=True),
                                  whole[key + ["n_weeks", "n_yes"]].sort_values(key).reset_index(drop=True),
                                  check_dtype=False)
    rc = in_resource_course(weeks["week"], weeks["dream_code"], CODES)
    assert whole.loc[whole["period"] == "before", "n_weeks"].sum() == (rc & in_period(weeks["week"], windows["before"])).sum()
