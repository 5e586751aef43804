"""Caseload linkage: the four rules of Boks 1 (HIR quantitative report), FTE caseload, trimming, casemiss, report."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.data.weeks import period_week_bounds, week_ordinal
from bipdask.errors import InputError
from bipdask.prepare.linkage import (
    LINK_STATUSES,
    add_caseload_change,
    assignment_weeks,
    caseload_baseline,
    caseload_fte,
    check_match_rate,
    combine_linkage_reports,
    link_caseload,
    linkage_report,
)

W0 = dt.date(2018, 3, 5)  # a Monday: week 0 of the test period
PERIOD = dict(period_start=W0, period_end=W0 + dt.timedelta(weeks=12) - dt.timedelta(days=1))  # weeks 0..11


def day(week: int, weekday: int = 0) -> dt.date:
    """Date of ``weekday`` (0 = Monday … 6 = Sunday) in test week ``week``."""
    return W0 + dt.timedelta(weeks=week, days=weekday)


def assignments(*rows) -> pd.DataFrame:
    """rows: (person_id, caseworker_id, start_date, end_date or None)."""
    p, c, s, e = zip(*rows)
    return pd.DataFrame(
        {
            "person_id": np.array(p, np.int64),
            "caseworker_id": np.array(c, np.int64),
            "jobcentre_id": np.int32(7),
            "start_date": pd.to_datetime(list(s)),
            "end_date": pd.to_datetime(list(e)),
        }
    )


def caseworker_by_week(a: pd.DataFrame, person: int = 1, **period) -> list:
    """The caseworker of ``person`` in test weeks 0..11 (None = no caseworker)."""
    aw = assignment_weeks(a, **(period or PERIOD))
    aw = aw[aw["person_id"] == person]
    got = dict(zip(week_ordinal(aw["week"]) - week_ordinal([W0])[0], aw["caseworker_id"]))
    return [got.get(i) for i in range(12)]


# --------------------------------------------------------------------------- periods and weeks


def test_hir_intervention_period_has_the_reports_56_weeks():
    first, last = period_week_bounds("2018-03-01", "2019-03-31")
    assert last - first + 1 == 56
    first, last = period_week_bounds("2017-03-01", "2018-02-28")
    assert last - first + 1 == 52


# --------------------------------------------------------------------------- Boks 1, rule by rule


def test_rule_1a_open_end_runs_to_the_week_before_the_next_assignment():
    a = assignments((1, 10, day(0, 2), None), (1, 11, day(4, 3), day(8, 4)))
    assert caseworker_by_week(a) == [10] * 4 + [11] * 5 + [None] * 3


def test_rule_1b_open_end_without_a_next_assignment_runs_to_the_period_end():
    a = assignments((1, 10, day(2, 4), None))
    assert caseworker_by_week(a) == [None] * 2 + [10] * 10


def test_rule_1_open_end_is_not_resumed_after_a_later_closed_assignment():
    # the open assignment ends before the next starts (1a); the later one is not "nested"
    a = assignments((1, 10, day(0), None), (1, 11, day(3), day(5, 4)))
    assert caseworker_by_week(a) == [10] * 3 + [11] * 3 + [None] * 6


def test_rule_2_a_mid_week_change_counts_from_that_week():
    a = assignments((1, 10, day(0), day(3, 1)), (1, 11, day(3, 3), day(11, 4)))
    assert caseworker_by_week(a) == [10] * 3 + [11] * 9


def test_end_dates_are_inclusive_of_their_week():
    a = assignments((1, 10, day(1, 4), day(4, 0)))
    assert caseworker_by_week(a) == [None] + [10] * 4 + [None] * 7


def test_rule_3_nested_assignment_splits_the_outer_one():
    # outer 10: week 0 – week 10; inner 11: Wednesday week 3 – Friday week 6
    a = assignments((1, 10, day(0), day(10, 4)), (1, 11, day(3, 2), day(6, 4)))
    # 3a: outer to the week before start 2; 3b: inner to the week before end 2; 3c: outer from end 2
    assert caseworker_by_week(a) == [10] * 3 + [11] * 3 + [10] * 5 + [None]


def test_rule_3_nested_inside_one_week_leaves_the_outer_caseworker():
    a = assignments((1, 10, day(0), day(10, 4)), (1, 11, day(3, 1), day(3, 3)))
    assert caseworker_by_week(a) == [10] * 11 + [None]


def test_rule_4_partial_overlap_the_later_start_wins_in_either_row_order():
    a = assignments((1, 10, day(0), day(6, 4)), (1, 11, day(3), day(10, 4)))
    want = [10] * 3 + [11] * 8 + [None]
    assert caseworker_by_week(a) == want
    assert caseworker_by_week(a.iloc[::-1]) == want


def test_same_end_date_is_not_nested_so_rule_4_applies():
    a = assignments((1, 10, day(0), day(8, 4)), (1, 11, day(3), day(8, 4)))
    assert caseworker_by_week(a) == [10] * 3 + [11] * 6 + [None] * 3


def test_same_start_date_goes_to_the_larger_caseworker_id():
    a = assignments((1, 12, day(1), day(5, 4)), (1, 11, day(1), day(8, 4)))
    assert caseworker_by_week(a) == [None] + [12] * 5 + [11] * 3 + [None] * 3
    assert caseworker_by_week(a.iloc[::-1]) == caseworker_by_week(a)


def test_three_nested_assignments_apply_rule_3_recursively():
    a = assignments((1, 10, day(0), day(11, 4)), (1, 11, day(2), day(9, 4)), (1, 12, day(4), day(6, 4)))
    assert caseworker_by_week(a) == [10] * 2 + [11] * 2 + [12] * 2 + [11] * 3 + [10] * 3


def test_three_way_overlap_nested_pairs_lose_their_end_week_then_the_later_start_wins():
    # 11 and 12 are both nested in 10; 12 starts inside 11 and ends after it (partial overlap)
    a = assignments((1, 10, day(0), day(11, 4)), (1, 11, day(2), day(6, 4)), (1, 12, day(5), day(8, 4)))
    assert caseworker_by_week(a) == [10] * 2 + [11] * 3 + [12] * 3 + [10] * 4


def test_assignments_are_clipped_to_the_period():
    a = assignments((1, 10, dt.date(2017, 12, 1), dt.date(2018, 3, 20)), (2, 20, day(10), dt.date(2019, 1, 1)))
    assert caseworker_by_week(a) == [10] * 3 + [None] * 9
    assert caseworker_by_week(a, person=2) == [None] * 10 + [20] * 2


def test_assignment_ending_before_it_starts_covers_no_week():
    a = assignments((1, 10, day(5), day(2)))
    assert caseworker_by_week(a) == [None] * 12


# --------------------------------------------------------------------------- hypothesis: invariants

_assignment = st.tuples(
    st.integers(1, 3),                      # person
    st.integers(1, 5),                      # caseworker
    st.integers(-20, 100),                  # start, days after W0
    st.one_of(st.none(), st.integers(-5, 70)),  # length in days, None = open
)


def _frame(rows) -> pd.DataFrame:
    rows = {(p, c, s): (p, c, s, e) for p, c, s, e in rows}.values()  # the contract key is unique
    return assignments(*[(p, c, W0 + dt.timedelta(days=s), None if e is None else W0 + dt.timedelta(days=s + e))
                         for p, c, s, e in rows])


@settings(max_examples=150, deadline=None)
@given(st.lists(_assignment, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_one_caseworker_per_person_week_independent_of_row_order(rows, rnd):
    a = _frame(rows)
    out = assignment_weeks(a, **PERIOD)
    assert not out.duplicated(["person_id", "week"]).any()
    p0, p1 = period_week_bounds(**{k.replace("period_", ""): v for k, v in PERIOD.items()})
    wk = week_ordinal(out["week"]) if len(out) else np.array([], np.int64)
    assert ((wk >= p0) & (wk <= p1)).all()
    order = list(range(len(a)))
    rnd.shuffle(order)
    shuffled = assignment_weeks(a.iloc[order], **PERIOD)
    pd.testing.assert_frame_equal(out, shuffled)
    # every caseworker returned had an assignment for that person started by that week
    m = out.merge(a, on=["person_id", "caseworker_id"])
    started = week_ordinal(m["start_date"]) <= week_ordinal(m["week"])
    assert m.assign(ok=started).groupby(["person_id", "week"])["ok"].any().all()


@settings(max_examples=60, deadline=None)
@given(st.integers(-30, 100), st.integers(0, 80))
def test_a_single_closed_assignment_covers_exactly_its_weeks(start, length):
    s, e = W0 + dt.timedelta(days=start), W0 + dt.timedelta(days=start + length)
    got = [w for w, cw in enumerate(caseworker_by_week(assignments((1, 10, s, e)))) if cw is not None]
    first, last = week_ordinal([s, e]) - week_ordinal([W0])[0]
    assert got == [w for w in range(12) if first <= w <= last]


# --------------------------------------------------------------------------- FTE caseload and linkage


def caseload(*rows) -> pd.DataFrame:
    """rows: (caseworker_id, week number, n_cases, weekly_hours)."""
    c, w, n, h = zip(*rows)
    return pd.DataFrame(
        {
            "caseworker_id": np.array(c, np.int64),
            "jobcentre_id": np.int32(7),
            "week": pd.to_datetime([day(i, 2) for i in w]),  # mid-week dates are normalised
            "n_cases": np.array(n, np.int32),
            "weekly_hours": np.array(h, float),
        }
    )


def panel(person_weeks: dict[int, range]) -> pd.DataFrame:
    rows = [(p, day(w)) for p, ws in person_weeks.items() for w in ws]
    return pd.DataFrame({"person_id": np.array([r[0] for r in rows], np.int64),
                         "week": pd.to_datetime([r[1] for r in rows]), "jobcentre_id": np.int32(7)})


def test_fte_caseload_is_cases_times_37_over_hours():
    fte = caseload_fte(caseload((1, 0, 15, 18.5), (1, 1, 30, 37.0), (1, 2, 30, 0.0)))
    assert fte["caseload_fte"].iloc[0] == pytest.approx(30.0)
    assert fte["caseload_fte"].iloc[1] == pytest.approx(30.0)
    assert np.isnan(fte["caseload_fte"].iloc[2])
    assert (fte["week"].dt.weekday == 0).all()


def test_trim_keeps_exactly_13_and_50_and_sets_others_to_missing():
    a = assignments((1, 10, day(0), None))
    cl = caseload((10, 0, 13, 37.0), (10, 1, 50, 37.0), (10, 2, 12, 37.0), (10, 3, 51, 37.0),
                  (10, 4, 1, 37.0), (10, 5, 140, 37.0), (10, 6, 30, 0.0))
    out = link_caseload(panel({1: range(0, 8)}), a, cl, **PERIOD)
    assert out["link_status"].tolist() == ["linked", "linked"] + ["trimmed"] * 4 + ["no_caseload_record"] * 2
    assert out["caseload"].tolist() == [13.0, 50.0] + [0.0] * 6
    assert out["casemiss"].tolist() == [0, 0] + [1] * 6
    assert out["casemiss"].dtype == np.int8


def test_casemiss_where_no_caseworker_and_one_row_per_period_person_week():
    a = assignments((1, 10, day(3), day(5, 4)))
    cl = caseload(*[(10, w, 35, 37.0) for w in range(12)])
    weeks = panel({1: range(-2, 14), 2: range(0, 4)})  # weeks outside the period are dropped
    out = link_caseload(weeks, a, cl, **PERIOD)
    assert len(out) == 12 + 4
    assert not out.duplicated(["person_id", "week"]).any()
    p1 = out[out["person_id"] == 1]
    assert p1["link_status"].tolist() == ["no_caseworker"] * 3 + ["linked"] * 3 + ["no_caseworker"] * 6
    assert p1["caseworker_id"].isna().sum() == 9
    assert str(out["caseworker_id"].dtype) == "Int64"
    assert ((out["caseload"] == 0) == (out["casemiss"] == 1)).all()
    assert (out.loc[out["person_id"] == 2, "link_status"] == "no_caseworker").all()


def test_no_assignment_data_leaves_every_week_unlinked():
    out = link_caseload(panel({1: range(0, 5)}), None, None, **PERIOD)
    assert out["link_status"].eq("no_caseworker").all() and out["casemiss"].eq(1).all()


def test_duplicate_caseload_rows_are_an_input_error_without_ids():
    a = assignments((123456789, 10, day(0), None))
    cl = caseload((10, 0, 30, 37.0), (10, 0, 31, 37.0))
    with pytest.raises(InputError) as err:
        link_caseload(panel({123456789: range(0, 2)}), a, cl, **PERIOD)
    assert "caseload" in str(err.value) and "123456789" not in str(err.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(_assignment, min_size=0, max_size=10), st.randoms(use_true_random=False))
def test_linking_is_deterministic_and_covers_every_person_week_once(rows, rnd):
    a = _frame(rows) if rows else None
    cl = caseload(*[(c, w, 10 + 4 * c + w, 37.0) for c in range(1, 6) for w in range(-3, 14)])
    weeks = panel({1: range(-3, 14), 2: range(2, 9), 4: range(0, 12)})
    out = link_caseload(weeks, a, cl, **PERIOD)
    assert len(out) == 12 + 7 + 12 and not out.duplicated(["person_id", "week"]).any()
    assert set(out["link_status"]) <= set(LINK_STATUSES)
    again = link_caseload(weeks.sample(frac=1.0, random_state=rnd.randint(0, 999)),
                          None if a is None else a.sample(frac=1.0, random_state=1), cl, **PERIOD)
    pd.testing.assert_frame_equal(out, again)


# --------------------------------------------------------------------------- baseline and change


def test_baseline_is_the_trimmed_mean_over_jan_feb_and_change_follows_casemiss():
    fte = caseload_fte(pd.DataFrame({
        "caseworker_id": np.array([10, 10, 10, 10, 11, 10], np.int64),
        "jobcentre_id": np.int32(7),
        "week": pd.to_datetime(["2018-01-01", "2018-02-26", "2018-01-15", "2017-12-25", "2018-01-08",
                                "2018-03-05"]),
        "n_cases": np.array([40, 30, 90, 20, 5, 32], np.int32),
        "weekly_hours": 37.0,
    }))
    base = caseload_baseline(fte, baseline_start="2018-01-01", baseline_end="2018-02-28")
    # caseworker 10: 40 and 30 count, 90 is trimmed, Dec 2017 and March are outside; 11 only trimmed
    assert base["caseworker_id"].tolist() == [10]
    assert base["caseload_baseline"].iloc[0] == pytest.approx(35.0)
    assert base["baseline_weeks"].iloc[0] == 2
    linked = pd.DataFrame({
        "person_id": np.array([1, 1, 1], np.int64),
        "week": pd.to_datetime(["2018-03-05"] * 3),
        "caseworker_id": pd.array([10, 11, None], dtype="Int64"),
        "caseload": [32.0, 30.0, 0.0],
        "casemiss": np.array([0, 0, 1], np.int8),
    })
    out = add_caseload_change(linked, base)
    assert out["caseload_change"].tolist() == pytest.approx([-3.0, 0.0, 0.0])
    assert out["change_miss"].tolist() == [0, 1, 1]


# --------------------------------------------------------------------------- report


def _linked_frame(statuses_by_jc: dict[int, list[str]]) -> pd.DataFrame:
    rows = [(jc, s) for jc, ss in statuses_by_jc.items() for s in ss]
    return pd.DataFrame({
        "person_id": np.arange(len(rows), dtype=np.int64),
        "week": pd.to_datetime([day(i % 3) for i in range(len(rows))]),
        "jobcentre_id": np.array([r[0] for r in rows], np.int32),
        "link_status": [r[1] for r in rows],
    })


def test_report_counts_and_per_jobcentre_rates():
    linked = _linked_frame({1: ["linked"] * 8 + ["trimmed", "no_caseworker"], 2: ["no_caseload_record", "linked"]})
    rep = linkage_report(linked)
    assert (rep.person_weeks, rep.linked, rep.trimmed, rep.unlinked) == (12, 9, 1, 2)
    assert rep.match_rate == pytest.approx(10 / 12)
    jc = rep.by_jobcentre.set_index("jobcentre_id")
    assert jc.loc[1, "match_rate"] == pytest.approx(0.9) and jc.loc[2, "person_weeks"] == 2
    assert rep.by_week["person_weeks"].sum() == 12
    both = combine_linkage_reports([linkage_report(linked[linked.jobcentre_id == j]) for j in (1, 2)])
    assert both == rep
    pd.testing.assert_frame_equal(both.by_jobcentre, rep.by_jobcentre, check_dtype=False)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_report_frames_are_the_crosstab_of_key_and_status(seed):
    rng = np.random.default_rng(seed)
    statuses = ["linked", "trimmed", "no_caseworker", "no_caseload_record"]
    linked = _linked_frame({int(j): list(rng.choice(statuses, int(rng.integers(1, 40))))
                            for j in rng.permutation(4) + 1})
    linked = linked.iloc[rng.permutation(len(linked))].reset_index(drop=True)
    rep = linkage_report(linked)
    for frame, by in ((rep.by_jobcentre, "jobcentre_id"), (rep.by_week, "week")):
        want = pd.crosstab(linked[by], linked["link_status"]).reindex(columns=statuses, fill_value=0)
        assert frame[by].dtype == linked[by].dtype and frame[by].is_monotonic_increasing
        assert frame[statuses].to_numpy().tolist() == want.to_numpy().tolist()
        assert frame["person_weeks"].tolist() == want.sum(axis=1).tolist()
        assert frame["match_rate"].to_numpy() == pytest.approx(
            (want["linked"] + want["trimmed"]).to_numpy() / want.sum(axis=1).to_numpy())
    # a status outside LINK_STATUSES is counted nowhere (the crosstab path)
    odd = linked.assign(link_status=linked["link_status"].where(linked.index != 0, "unknown"))
    assert linkage_report(odd).by_jobcentre["person_weeks"].sum() == len(linked) - 1


def test_check_match_rate_raises_a_clear_message_below_the_floor():
    rep = linkage_report(_linked_frame({1: ["linked"] * 841 + ["no_caseworker"] * 159}))
    with pytest.raises(InputError) as err:
        check_match_rate(rep, floor=0.90)
    msg = str(err.value)
    assert msg.startswith("linkage: match rate 84.1% below the floor of 90% (1000 rows)")
    assert err.value.exit_code == 2
    check_match_rate(rep, floor=0.84)  # above the floor: no error


# --------------------------------------------------------------------------- against the generator's truth


def test_linkage_reproduces_the_synthetic_truth(tmp_path):
    from bipdask import synth
    from bipdask.data.delivery import read_table
    from bipdask.spec import load_spec

    synth.generate(tmp_path, scale=0.05, seed=7)
    truth_file = tmp_path / "_truth" / "caseworker_weeks.parquet"
    spec = load_spec("hir")
    truth = pd.read_parquet(truth_file)
    got = assignment_weeks(read_table(tmp_path, "assignments"), period_start=spec.intervention.start,
                           period_end=spec.intervention.end)
    t = pd.DataFrame({"person_id": truth["person_id"].to_numpy(np.int64), "wk": week_ordinal(truth["week"]),
                      "truth": pd.array(truth["caseworker_id"], dtype="Int64")})
    p0, p1 = period_week_bounds(spec.intervention.start, spec.intervention.end)
    t = t[(t["wk"] >= p0) & (t["wk"] <= p1)]
    g = pd.DataFrame({"person_id": got["person_id"].to_numpy(), "wk": week_ordinal(got["week"]),
                      "got": pd.array(got["caseworker_id"], dtype="Int64")})
    m = t.merge(g, on=["person_id", "wk"], how="left")
    assert len(m) > 0
    agree = (m["truth"].fillna(-1) == m["got"].fillna(-1)).mean()
    assert agree == 1.0, f"linkage agrees with the planted caseworker in {agree:.2%} of person-weeks"


def test_check_match_rate_names_the_cause():
    """No caseworker vs no caseload record, the job centre holding them, and the validation's
    quarantined assignments (an end date of 9999-12-31): the message says which it is."""
    rep = linkage_report(_linked_frame({1: ["linked"] * 50, 2: ["linked"] * 30 + ["no_caseworker"] * 20}))
    quarantined = {"assignments": {"out_of_range:end_date": 2}, "caseload": {}}
    with pytest.raises(InputError) as err:
        check_match_rate(rep, floor=0.90, quarantined=quarantined)
    assert str(err.value) == (
        "linkage: match rate 80.0% below the floor of 90% (100 rows): 80 of 100 person-weeks matched a "
        "caseworker's caseload record; 20 have no caseworker (no assignment covers the week); 0 no caseload "
        "record for their caseworker's week; job centre 2 holds 20 of the 20 unmatched; assignments: 2 rows "
        "quarantined by validation, most often out_of_range:end_date")
