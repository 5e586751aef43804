"""Weekly outcome flags, resource-course weeks, periods and the Table 6 cell sums."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.errors import InputError
from bipdask.prepare.outcomes import (
    comparison_windows,
    in_internship_or_hours,
    in_period,
    in_resource_course,
    new_course_share_cell_sums,
    person_period_sums,
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


def test_outcome_treats_any_missing_lab_type_as_no_internship():
    # None and NaN (object column), pd.NA (whose == is not a bool) and a string column
    hours = pd.Series([0.0, 0.0, 0.0, 1.0])
    for lab in (pd.Series(["company_internship", None, np.nan, None], dtype=object),
                pd.Series(["company_internship", pd.NA, None, pd.NA], dtype=object),
                pd.Series(["company_internship", None, None, None], dtype="string"),
                pd.Series(["company_internship", None, None, None], dtype="category")):
        assert in_internship_or_hours(lab, hours).tolist() == [True, False, False, True]


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
    jc = pd.DataFrame({"jobcentre_id": [7, 8, 8, 9],
                       "name": ["Favrskov", " vallensbæk-ishøj", "Vallensbæk-Ishøj", "Aarhus"],
                       "municipality_code": [710, 187, 183, 751]})
    ids, missing = treated_jobcentre_ids(jc, ["Favrskov", "Vallensbæk-Ishøj"])
    assert ids == (7, 8) and missing == ()
    # every treated name must resolve: 13 of the spec's 15 are not in this delivery
    with pytest.raises(InputError, match="jobcentres.name") as err:
        treated_jobcentre_ids(jc, spec.treated_jobcentres)
    assert len(err.value.problems) == 13 and "'Faxe' not found" in str(err.value)


def test_a_treated_name_that_matches_nothing_stops_the_run_and_names_the_nearest():
    jc = pd.DataFrame({"jobcentre_id": [1, 2, 3], "name": ["Jobcenter Herning", "Favrskov", "Aarhus"]})
    with pytest.raises(InputError) as err:
        treated_jobcentre_ids(jc, ["Herning", "Favrskov"])
    (problem,) = err.value.problems
    assert (problem.table, problem.column) == ("jobcentres", "name")
    assert "'Herning' not found" in problem.rule and "Jobcenter Herning" in problem.message


def test_names_match_after_unicode_normalisation_case_and_whitespace():
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Århus")  # "Å" as "A" + combining ring: another byte string
    assert decomposed != "Århus"
    jc = pd.DataFrame({"jobcentre_id": [1, 2], "name": [decomposed, "  lyngby-TAARBÆK "]})
    assert treated_jobcentre_ids(jc, ["Århus", "Lyngby-Taarbæk"])[0] == (1, 2)


def test_a_name_shared_by_two_job_centres_is_ambiguous():
    jc = pd.DataFrame({"jobcentre_id": [1, 2], "name": ["Favrskov", "favrskov"]})
    with pytest.raises(InputError, match="matches 2 job centres"):
        treated_jobcentre_ids(jc, ["Favrskov"])


@pytest.mark.parametrize("treated", ["Favrskov", [], [1, 2], ["Favrskov", ""]])
def test_treated_jobcentres_must_be_a_list_of_names(treated):
    import tomllib
    from importlib import resources

    from bipdask.spec import parse_spec

    raw = tomllib.loads(resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8"))
    with pytest.raises(InputError, match="treated_jobcentres"):
        parse_spec({**raw, "treated_jobcentres": treated})


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
    assert (whole.loc[whole["period"] == "before", "n_weeks"].sum()
            == (rc & in_period(weeks["week"], windows["before"])).sum())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_person_period_sums_are_the_sorted_groupby_sums_of_the_kept_rows(seed):
    # windows overlap, come in any order (the sort is by label text) and may keep no row
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    jc = rng.integers(1, 4 if seed % 2 else 2, n).astype("int32")  # even seeds: one job centre (a stable sort)
    pid = rng.integers(1, 30, n).astype("int64")
    d = (jc == 2).astype("int8")
    labels = list(rng.permutation(["last_3_months", "before", "intervention", "after"]))
    keeps = {label: rng.random(n) < rng.choice([0.0, 0.3, 0.8]) for label in labels}
    values = {"n_weeks": np.ones(n, np.int64), "n_yes": rng.integers(0, 2, n).astype("int64")}
    got = person_period_sums(jc, pid, d, keeps, values)
    parts = [pd.DataFrame({"jobcentre_id": jc[k], "person_id": pid[k], "period": label, "d": d[k],
                           **{c: v[k] for c, v in values.items()}}) for label, k in keeps.items() if k.any()]
    if not parts:
        assert got is None
        return
    want = (pd.concat(parts, ignore_index=True).groupby(["jobcentre_id", "person_id", "period", "d"], sort=True)
            [list(values)].sum().reset_index())
    pd.testing.assert_frame_equal(got, want)


# --------------------------------------------------------------------------- Table 7: new courses

NEW_WINDOWS = {"before": Period(dt.date(2017, 3, 1), dt.date(2018, 2, 28)),
               "intervention": Period(dt.date(2018, 3, 1), dt.date(2019, 3, 31))}


def _course(pid: int, jc: int, first: str, pattern: str) -> pd.DataFrame:
    """One person's weeks from Monday ``first``: ``I`` course week in an internship, ``H`` course
    week with ordinary hours, ``.`` course week with neither, ``X`` a week outside the course."""
    return pd.DataFrame({
        "person_id": np.int64(pid), "jobcentre_id": np.int32(jc),
        "week": pd.date_range(first, periods=len(pattern), freq="7D"),
        "in_course": [ch != "X" for ch in pattern],
        "lab_type": ["company_internship" if ch == "I" else "none" for ch in pattern],
        "ordinary_hours": [7.5 if ch in "HX" else 0.0 for ch in pattern],  # hours outside the course: no count
    })


def test_new_course_cell_sums_by_hand():
    weeks = pd.concat([
        _course(1, 5, "2018-02-12", "..I.H"),   # begun in the before period (Feb 12): E=0 weeks to Feb 26 only
        _course(2, 5, "2018-10-01", "XX.IXH."),  # begun mid-intervention (Oct 15); the X week is out
        _course(3, 9, "2017-01-02", "." * 10),   # running since January 2017 (before the before period): none
        _course(4, 9, "2017-01-02", "X" * 9 + "I.H"),  # new in the before period (Mar 6)
    ], ignore_index=True)
    cells = new_course_share_cell_sums(weeks, [5], NEW_WINDOWS)
    got = {(r.person_id, r.period): (r.jobcentre_id, r.d, r.n_weeks, r.n_yes) for r in cells.itertuples()}
    assert got == {
        (1, "before"): (5, 1, 3, 1),         # Feb 12, 19, 26; Mar 5 and 12 are not E=0 weeks …
        (2, "intervention"): (5, 1, 4, 2),
        (4, "before"): (9, 0, 3, 2),
    }                                        # … nor E=1 weeks: the course began before the intervention
    assert list(cells.columns) == ["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"]
    assert cells.dtypes.equals(share_cell_sums(weeks.assign(dream_code=pd.array([None] * len(weeks), "Int16")),
                                               CODES, [5], NEW_WINDOWS).dtypes)


def test_new_course_cell_sums_derive_course_weeks_from_the_dream_codes():
    weeks = _course(1, 5, "2018-03-05", "I..").drop(columns="in_course").assign(
        dream_code=pd.array([781, 781, 111], "Int16"))
    cells = new_course_share_cell_sums(weeks, [5], NEW_WINDOWS, dream_codes=CODES)
    assert cells[["period", "n_weeks", "n_yes"]].values.tolist() == [["intervention", 2, 1]]
    with pytest.raises(InputError, match="in_course"):
        new_course_share_cell_sums(weeks, [5], NEW_WINDOWS)
    assert new_course_share_cell_sums(weeks.iloc[:0].assign(in_course=[]), [5], NEW_WINDOWS).empty


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_new_course_cells_are_at_most_the_table6_cells_of_the_same_persons(seed):
    # invariant: a new course's weeks are resource-course weeks in the window, so per person and
    # window n_weeks and n_yes never exceed Table 6's cell sums on the same weeks
    rng = np.random.default_rng(seed)
    n = 400
    weeks = pd.DataFrame({
        "person_id": rng.integers(1, 15, n),
        "week": pd.Timestamp("2017-01-02") + pd.to_timedelta(7 * rng.integers(0, 117, n), unit="D"),
        "jobcentre_id": 1,
        "dream_code": pd.array(rng.choice([781, 111], n, p=[0.7, 0.3]), dtype="Int16"),
        "lab_type": rng.choice(["none", "company_internship"], n),
        "ordinary_hours": rng.choice([0.0, 5.0], n),
    }).drop_duplicates(["person_id", "week"])
    new = new_course_share_cell_sums(weeks, [1], NEW_WINDOWS, dream_codes=CODES, lookback_weeks=4)
    all_ = share_cell_sums(weeks, CODES, [1], NEW_WINDOWS)
    both = new.merge(all_, on=["jobcentre_id", "person_id", "period", "d"], how="left", suffixes=("", "_all"))
    assert both["n_weeks_all"].notna().all()
    assert (both["n_weeks"] >= 1).all() and (both["n_yes"] <= both["n_weeks"]).all()
    assert (both["n_weeks"] <= both["n_weeks_all"]).all() and (both["n_yes"] <= both["n_yes_all"]).all()
