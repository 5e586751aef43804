"""Spells and weekly outcomes on hand-made panels (HIR quantitative report, Tables 4, 7, 8, 9–10)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.data.weeks import week_ordinal
from bipdask.errors import InputError
from bipdask.prepare.spells import (
    course_exits,
    first_lab_spells,
    gap_spells,
    in_new_course,
    time_varying_rows,
    with_course_status,
)

W0 = dt.date(2018, 3, 5)  # Monday of test week 0 = the first week of the period
PERIOD = dict(period_start=dt.date(2018, 3, 1), period_end=W0 + dt.timedelta(weeks=10, days=2))  # weeks 0..10
TREATED = dict(treated_jobcentre_ids=[7])


def day(week: int) -> pd.Timestamp:
    return pd.Timestamp(W0 + dt.timedelta(weeks=week))


def person(pid: int, pattern: str, first_week: int = 0, jobcentre: int = 7) -> pd.DataFrame:
    """One person's panel from a pattern, one character per week from ``first_week``.

    ``L`` course week with a LAB (company internship), ``.`` course week without LAB, ``X`` a week
    outside the course (no benefit), ``_`` no panel row.
    """
    rows = [(first_week + i, ch) for i, ch in enumerate(pattern) if ch != "_"]
    return pd.DataFrame({
        "person_id": np.int64(pid),
        "week": [day(w) for w, _ in rows],
        "jobcentre_id": np.int32(jobcentre),
        "lab_type": ["company_internship" if ch == "L" else "none" for _, ch in rows],
        "in_course": [ch in "L." for _, ch in rows],
    })


def spells(*people, fn=gap_spells, E=1, **kw) -> pd.DataFrame:
    weeks = pd.concat(people, ignore_index=True)
    return fn(weeks, **PERIOD, **TREATED, E=E, **kw)


def as_tuples(s: pd.DataFrame) -> list[tuple]:
    wk = week_ordinal(s["start_week"]) - week_ordinal([W0])[0] if len(s) else []
    return list(zip(s["person_id"], wk, s["duration"], s["event"], s["end_reason"]))


# --------------------------------------------------------------------------- gap spells


def test_gap_ending_in_a_new_lab_is_an_event_with_duration_the_gap_weeks():
    s = spells(person(1, "LL...LL"))
    assert as_tuples(s) == [(1, 2, 3, 1, "lab")]
    assert (s["D"].tolist(), s["E"].tolist()) == ([1], [1])


def test_gap_open_at_the_period_end_is_censored_there():
    # weeks 0..10 are the period; the LAB restarts in week 12, after the period
    s = spells(person(1, "LLL.........LL"))
    assert as_tuples(s) == [(1, 3, 8, 0, "period_end")]


def test_gap_is_censored_when_the_course_ends_or_a_week_is_missing():
    s = spells(person(1, "L..X.L"), person(2, "L.._.L"), person(3, "L..."))
    assert as_tuples(s) == [(1, 1, 2, 0, "course_end"), (2, 1, 2, 0, "course_end"), (3, 1, 3, 0, "course_end")]


def test_gaps_begun_before_the_period_are_excluded():
    # person 1's gap starts in week -1; person 2's LAB ends in week -1 so the gap starts in week 0
    s = spells(person(1, "LL...L..L", first_week=-3), person(2, "LL...L", first_week=-2), fn=gap_spells)
    assert as_tuples(s) == [(1, 3, 2, 1, "lab"), (2, 0, 3, 1, "lab")]


def test_one_spell_per_gap_and_none_before_the_first_lab():
    s = spells(person(1, "...L.L..LL.", jobcentre=9), E=0)
    assert as_tuples(s) == [(1, 4, 1, 1, "lab"), (1, 6, 2, 1, "lab"), (1, 10, 1, 0, "period_end")]
    assert s["D"].tolist() == [0, 0, 0] and s["E"].tolist() == [0, 0, 0]


def test_status_column_is_accepted_instead_of_in_course():
    w = person(1, "L..L")
    w["status"] = np.where(w.pop("in_course"), "resource_course", "cash_benefit")
    assert as_tuples(gap_spells(w, **PERIOD, **TREATED, E=1)) == [(1, 1, 2, 1, "lab")]
    with pytest.raises(InputError, match="in_course"):
        gap_spells(w.drop(columns="status"), **PERIOD, **TREATED, E=1)


# --------------------------------------------------------------------------- first LAB of new courses


def test_new_course_in_the_period_time_to_first_lab():
    # 1: new in week 2 (no course week in the 52 before), LAB in week 5 → 3 weeks without LAB
    # 2: course already running before the period → not new
    # 3: new in week 1 after a course that ended 60 weeks earlier; starts with a LAB → duration 0
    # 4: new in week 6, no LAB by the period end → censored with the 5 weeks observed
    p3_old = person(3, "...", first_week=-62)
    s = spells(person(1, "__...L.", first_week=0), person(2, "....L", first_week=-2), p3_old,
               person(3, "_L..", first_week=0), person(4, "......LL", first_week=6), fn=first_lab_spells)
    assert as_tuples(s) == [(1, 2, 3, 1, "lab"), (3, 1, 0, 1, "lab"), (4, 6, 5, 0, "period_end")]
    assert s["lookback_complete"].tolist() == [True, True, True]  # the panel starts in week -62
    s = spells(person(1, "__...L.", first_week=0), fn=first_lab_spells)
    assert s["lookback_complete"].tolist() == [False]  # the panel starts in week 2: 52 weeks unseen


def test_new_course_lookback_is_configurable_and_course_end_censors():
    s = spells(person(1, "..X", first_week=-10), person(1, "..X", first_week=1), fn=first_lab_spells,
               lookback_weeks=8)
    assert as_tuples(s) == [(1, 1, 2, 0, "course_end")]


def new_course_weeks(*people, **kw) -> dict[int, list[int]]:
    """The test weeks ``in_new_course`` keeps, per person."""
    weeks = pd.concat(people, ignore_index=True).sample(frac=1.0, random_state=3)  # any row order
    keep = in_new_course(weeks, **PERIOD, **kw)
    wk = week_ordinal(weeks["week"]) - week_ordinal([W0])[0]
    out: dict[int, list[int]] = {}
    for pid, w in sorted(zip(weeks["person_id"][keep], wk[keep])):
        out.setdefault(int(pid), []).append(int(w))
    return out


def test_new_course_weeks_run_from_the_course_start_to_the_period_end():
    # 1: new in week 2 (mid-period) → weeks 2–6 count, not the panel weeks before it
    # 2: course begun before the period → no week counts, though it runs on in the period
    # 3: a week outside the course (X) and a missing week (_) do not count; the course resumes
    #    within the lookback, so it is the same course and its later weeks count
    # 4: new in week 8; weeks 11–13 lie after the period end
    got = new_course_weeks(person(1, "XX.L.L.", first_week=0), person(2, "....L.", first_week=-2),
                           person(3, ".X._.", first_week=1), person(4, "......", first_week=8))
    assert got == {1: [2, 3, 4, 5, 6], 3: [1, 3, 5], 4: [8, 9, 10]}


def test_new_course_weeks_use_the_first_lab_spells_rule():
    # a course that ended 60 weeks before is not "running": new again in week 1 (lookback 52);
    # with a 70-week lookback it is the same course, begun before the period
    old = person(1, "...", first_week=-62)
    assert new_course_weeks(old, person(1, "..", first_week=1)) == {1: [1, 2]}
    assert new_course_weeks(old, person(1, "..", first_week=1), lookback_weeks=70) == {}
    firsts = first_lab_spells(pd.concat([old, person(1, "..", first_week=1)]), **PERIOD, **TREATED, E=1)
    assert week_ordinal(firsts["start_week"]).tolist() == [week_ordinal([day(1)])[0]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="L.X_", min_size=1, max_size=30), min_size=1, max_size=4),
       st.integers(-20, 8), st.integers(1, 12))
def test_new_course_weeks_are_a_suffix_of_the_course_weeks_of_first_lab_spells_persons(patterns, first_week,
                                                                                        lookback):
    # invariant: the persons (and first weeks) of in_new_course are those of first_lab_spells,
    # and from its first week a person's every course week up to the period end counts
    people = [person(i + 1, p, first_week=first_week + 3 * i) for i, p in enumerate(patterns) if p.strip("_")]
    if not people:
        return
    weeks = pd.concat(people, ignore_index=True)
    keep = in_new_course(weeks, **PERIOD, lookback_weeks=lookback)
    firsts = first_lab_spells(weeks, **PERIOD, **TREATED, E=1, lookback_weeks=lookback)
    start = firsts.groupby("person_id")["start_week"].min()
    assert set(weeks.loc[keep, "person_id"]) == set(start.index)
    p1 = pd.Timestamp(PERIOD["period_end"])
    for pid, w in weeks.groupby("person_id"):
        first = start.get(pid)
        want = w["in_course"] & (w["week"] >= first) & (w["week"] <= p1) if first is not None else w["week"].isna()
        assert keep[w.index].tolist() == want.tolist()


# --------------------------------------------------------------------------- exits (Table 8)


def _dream_codes() -> pd.DataFrame:
    return pd.DataFrame({
        "dream_code": np.array([111, 222, 333, 444, 555, 555], np.int16),
        "valid_from": pd.to_datetime(["2000-01-01"] * 5 + ["2018-03-21"]),  # a Wednesday
        "valid_to": pd.to_datetime([None, None, None, None, "2018-03-20", None]),
        "status": ["resource_course", "flex_job", "ledighedsydelse", "disability_pension", "resource_course",
                   "cash_benefit"],
    })


def _coded(pid: int, codes: list, employed: list | None = None) -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": np.int64(pid),
        "week": [day(i) for i in range(len(codes))],
        "jobcentre_id": np.int32(7),
        "dream_code": pd.array(codes, dtype="Int16"),
        "lab_type": "none",
        "employed": employed if employed is not None else [False] * len(codes),
    })


def test_course_status_follows_the_code_version_valid_that_week():
    w = with_course_status(_coded(1, [555, 555, 555, 555, None, 999]), _dream_codes())
    # the new version of code 555 is valid from Wednesday of week 2, so from week 3's Monday
    assert w["status"].tolist() == ["resource_course"] * 3 + ["cash_benefit", None, "other"]
    assert w["in_course"].tolist() == [True] * 3 + [False] * 3


def test_exit_destination_is_the_status_of_the_first_week_after_the_course():
    weeks = pd.concat([
        _coded(1, [111, 111, 222, 222]),
        _coded(2, [111, 333]),
        _coded(3, [111, 444]),
        _coded(4, [111, None], employed=[False, True]),
        _coded(5, [111, None], employed=[False, False]),
        _coded(6, [111, 111]),
    ], ignore_index=True)
    out = course_exits(weeks, _dream_codes(), **PERIOD, **TREATED, E=1)
    dest = out.groupby("person_id")["destination"].apply(list).to_dict()
    assert dest == {1: ["none", "flex_job"], 2: ["ledighedsydelse"], 3: ["disability_pension"],
                    4: ["ordinary_employment"], 5: ["other"], 6: ["none", "unobserved"]}
    assert out["exit_flex_job"].sum() == 1 and out["exit_ordinary_employment"].sum() == 1
    assert out["exit_any"].tolist() == [0, 1, 1, 1, 1, 1, 0, 0]
    assert out["D"].eq(1).all()


# --------------------------------------------------------------------------- counting-process rows


def _linked_for(weeks: pd.DataFrame, miss_every: int = 4) -> pd.DataFrame:
    wk = week_ordinal(weeks["week"])
    miss = (wk % miss_every == 0).astype(np.int8)
    caseload = np.where(miss == 1, 0.0, 20.0 + (wk % 7))
    return pd.DataFrame({
        "person_id": weeks["person_id"].to_numpy(np.int64), "week": weeks["week"],
        "caseload": caseload, "casemiss": miss,
        "caseload_change": np.where(miss == 1, 0.0, -1.5), "change_miss": miss,
    })


def test_time_varying_rows_split_each_gap_into_its_weeks():
    weeks = pd.concat([person(1, "L...LL..X"), person(2, "LL........LL")], ignore_index=True)
    gaps = gap_spells(weeks, **PERIOD, **TREATED, E=1)
    linked = _linked_for(weeks[week_ordinal(weeks["week"]) != week_ordinal([day(2)])[0]])  # week 2 unlinked
    tv = time_varying_rows(gaps, linked)
    assert len(tv) == gaps["duration"].sum() == 3 + 2 + 8
    first = tv[tv["person_id"] == 1].iloc[:3]
    assert first["start"].tolist() == [0, 1, 2] and first["stop"].tolist() == [1, 2, 3]
    assert first["event"].tolist() == [0, 0, 1]
    assert first["casemiss"].iloc[1] == 1 and first["caseload"].iloc[1] == 0.0  # week 2 has no linked row
    assert first["change_miss"].iloc[1] == 1
    assert tv.groupby(["person_id", "spell_start"])["event"].sum().tolist() == [1, 0, 1]  # 2: LAB in week 10
    assert ((tv["caseload"] == 0) == (tv["casemiss"] == 1)).all()


# --------------------------------------------------------------------------- hypothesis: invariants


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="L.X_", min_size=1, max_size=20), min_size=1, max_size=4),
       st.integers(-5, 3))
def test_gap_spells_and_time_varying_rows_are_consistent(patterns, first_week):
    weeks = pd.concat([person(i + 1, p, first_week) for i, p in enumerate(patterns)], ignore_index=True)
    if weeks.empty:
        return
    gaps = gap_spells(weeks, **PERIOD, **TREATED, E=1)
    tv = time_varying_rows(gaps, _linked_for(weeks))
    assert len(tv) == gaps["duration"].sum()
    assert (gaps["duration"] >= 1).all()
    per_spell = tv.groupby(["person_id", "spell_start"])["event"].sum()
    assert per_spell.sum() == gaps["event"].sum() and (per_spell <= 1).all()
    # every row is a course week without LAB inside the period, and no week is in two spells
    lookup = weeks.assign(wk=week_ordinal(weeks["week"])).set_index(["person_id", "wk"])
    keys = list(zip(tv["person_id"], week_ordinal(tv["week"])))
    assert not pd.Index(keys).duplicated().any()
    if keys:
        rows = lookup.loc[keys]
        assert rows["in_course"].all() and (rows["lab_type"] == "none").all()
    w0 = week_ordinal([W0])[0]
    assert ((week_ordinal(tv["week"]) - w0 >= 0) & (week_ordinal(tv["week"]) - w0 <= 10)).all()
    # events: the week after the spell's last week is a LAB course week
    for _, g in gaps[gaps["event"] == 1].iterrows():
        nxt = (g["person_id"], week_ordinal([g["start_week"]])[0] + g["duration"])
        assert lookup.loc[nxt, "lab_type"] != "none" and lookup.loc[nxt, "in_course"]
    # order of the input rows does not matter
    again = gap_spells(weeks.iloc[::-1], **PERIOD, **TREATED, E=1)
    pd.testing.assert_frame_equal(gaps, again)


# --------------------------------------------------------------------------- against the generator's truth


def test_new_courses_match_the_synthetic_truth(tmp_path):
    from bipdask import synth
    from bipdask.data.delivery import read_table
    from bipdask.spec import load_spec

    synth.generate(tmp_path, scale=0.05, seed=11)
    truth_file = tmp_path / "_truth" / "courses.parquet"
    spec = load_spec("hir")
    weeks = with_course_status(read_table(tmp_path, "weeks"), read_table(tmp_path, "dream_codes"))
    truth = pd.read_parquet(truth_file)
    for E, period in ((0, spec.before), (1, spec.intervention)):
        got = first_lab_spells(weeks, period_start=period.start, period_end=period.end,
                               treated_jobcentre_ids=[], E=E)
        starts = pd.to_datetime(truth["course_start"])
        want = truth[(starts >= pd.Timestamp(period.start)) & (starts <= pd.Timestamp(period.end))]
        assert len(got) > 0
        assert set(zip(got["person_id"], pd.to_datetime(got["start_week"]))) == set(
            zip(want["person_id"], pd.to_datetime(want["course_start"])))
