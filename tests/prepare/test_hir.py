"""Per-job-centre model inputs on the hand-made delivery of tests/_deliveries.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from _deliveries import PERSON_IDS, tiny_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bipdask.prepare.exit_cells import exit_cells, exit_persons, period_first_weeks
from bipdask.prepare.hir import (
    KINDS,
    LINKAGE_COLUMNS,
    SPELL_COLUMNS,
    TIME_VARYING_COLUMNS,
    ModelInputConfig,
    caseworkers_rows,
    concat_inputs,
    empty_inputs,
    jobcentre_model_inputs,
    linkage_report_from_counts,
    linkage_report_table,
    persons_rows,
    unit_sums_suffice,
    written_kinds,
)
from bipdask.prepare.linkage import (
    add_caseload_change,
    combine_linkage_reports,
    link_caseload,
    linkage_report,
)
from bipdask.prepare.spell_counts import combine_counts, combine_persons, spell_counts, spell_persons
from bipdask.prepare.spells import (
    course_exits,
    first_lab_spells,
    gap_spells,
    time_varying_rows,
    with_course_status,
)
from bipdask.spec import load_spec

# The tiny panel runs ten Mondays from 2018-01-01: weeks 0–3 are the "before" period, 4–9 the
# "intervention" period, and Jan 2018 is the caseload baseline.
BEFORE = (dt.date(2018, 1, 1), dt.date(2018, 1, 28))
INTERVENTION = (dt.date(2018, 1, 29), dt.date(2018, 3, 11))
CONFIG = ModelInputConfig(treated_ids=(101,), before=BEFORE, intervention=INTERVENTION,
                          caseload_baseline=BEFORE, lookback_weeks=2, panel_start=dt.date(2018, 1, 1))


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return tiny_tables()


def one_jobcentre(tables, jc: int):
    weeks = tables["weeks"][tables["weeks"]["jobcentre_id"] == jc].reset_index(drop=True)
    a = persons_rows(tables["assignments"], weeks["person_id"].unique())
    return weeks, a, caseworkers_rows(tables["caseload"], a)


def inputs(tables, jc: int = 101, config: ModelInputConfig = CONFIG, linkage: bool = True):
    weeks, a, c = one_jobcentre(tables, jc)
    if not linkage:
        a = c = None
    return jobcentre_model_inputs(weeks, tables["dream_codes"], config, a, c)


def test_gap_and_first_lab_spells_are_the_spell_functions_results_in_compact_columns(tables):
    got = inputs(tables)
    weeks, _, _ = one_jobcentre(tables, 101)
    panel = with_course_status(weeks, tables["dream_codes"])
    want_gaps, want_first = [], []
    for E, (a, b) in ((0, BEFORE), (1, INTERVENTION)):
        kw = dict(period_start=a, period_end=b, treated_jobcentre_ids=[101], E=E)
        want_gaps.append(gap_spells(panel, **kw))
        want_first.append(first_lab_spells(panel, lookback_weeks=2, panel_start=dt.date(2018, 1, 1), **kw))
    for frame, want in ((got.gap_spells, want_gaps), (got.first_lab_spells, want_first)):
        want = pd.concat(want, ignore_index=True)
        assert list(frame.columns) == list(SPELL_COLUMNS)
        assert len(frame) == len(want) > 0
        for c in SPELL_COLUMNS:
            np.testing.assert_array_equal(frame[c].to_numpy(np.int64), want[c].to_numpy(np.int64))
    assert got.gap_spells["D"].eq(1).all() and set(got.gap_spells["E"]) == {0, 1}
    assert got.gap_spells["duration"].dtype == np.int32 and got.gap_spells["event"].dtype == np.int8


def test_spell_counts_are_the_counts_of_the_units_spells_and_only_person_clusters_write_the_spells(tables):
    got = inputs(tables)
    for kind, spells in (("gap", got.gap_spells), ("first_lab", got.first_lab_spells)):
        pd.testing.assert_frame_equal(combine_counts([got.spell_counts], kind), spell_counts(spells))
        pd.testing.assert_frame_equal(combine_persons([got.spell_persons], kind), spell_persons(spells))
    assert got.spell_counts["n_spells"].sum() == len(got.gap_spells) + len(got.first_lab_spells) > 0
    by_person, by_jobcentre = (dataclasses.replace(CONFIG, cluster=c) for c in ("person_id", "jobcentre_id"))
    assert set(written_kinds(by_person)) == set(KINDS)
    assert set(KINDS) - set(written_kinds(by_jobcentre)) == {"gap_spells", "first_lab_spells"}
    assert {"spell_counts", "spell_persons"} <= set(written_kinds(by_jobcentre))
    empty = empty_inputs()
    assert list(empty.spell_counts.columns) == list(got.spell_counts.columns)
    assert list(empty.spell_persons.columns) == list(got.spell_persons.columns)


def test_time_varying_rows_split_the_intervention_gaps_with_the_linked_caseload(tables):
    got = inputs(tables)
    weeks, a, c = one_jobcentre(tables, 101)
    panel = with_course_status(weeks, tables["dream_codes"])
    e1 = got.gap_spells[got.gap_spells["E"] == 1]
    tv = got.time_varying
    assert list(tv.columns) == list(TIME_VARYING_COLUMNS)
    assert len(tv) == int(e1["duration"].sum()) > 0
    assert int(tv["event"].sum()) == int(e1["event"].sum())
    course = panel.loc[panel["in_course"], ["person_id", "week", "jobcentre_id"]]
    linked = link_caseload(course, a, c, period_start=INTERVENTION[0], period_end=INTERVENTION[1])
    gaps = gap_spells(panel, period_start=INTERVENTION[0], period_end=INTERVENTION[1],
                      treated_jobcentre_ids=[101], E=1)
    from bipdask.prepare.linkage import caseload_baseline, caseload_fte

    base = caseload_baseline(caseload_fte(c), baseline_start=BEFORE[0], baseline_end=BEFORE[1])
    want = time_varying_rows(gaps, add_caseload_change(linked, base))
    for col in ("caseload", "casemiss", "caseload_change", "change_miss", "start", "stop"):
        np.testing.assert_allclose(tv[col].to_numpy(float), want[col].to_numpy(float))
    # caseworkers 501 and 502 carry 30 cases in 37 h and 31 in 36 h every week; no change from January
    linked_rows = tv[tv["casemiss"] == 0]
    assert len(linked_rows) and set(np.round(linked_rows["caseload"], 6)) <= {30.0, round(31 * 37 / 36, 6)}
    assert (linked_rows["caseload_change"].abs() < 1e-9).all()


def test_linkage_counts_cover_every_intervention_course_week_and_match_linkage_report(tables):
    got = inputs(tables)
    weeks, a, c = one_jobcentre(tables, 101)
    panel = with_course_status(weeks, tables["dream_codes"])
    course = panel.loc[panel["in_course"], ["person_id", "week", "jobcentre_id"]]
    direct = linkage_report(link_caseload(course, a, c, period_start=INTERVENTION[0], period_end=INTERVENTION[1]))
    counts = got.linkage_counts
    assert list(counts.columns) == list(LINKAGE_COLUMNS)
    assert "person_id" not in counts.columns
    rebuilt = linkage_report_from_counts(counts)
    assert rebuilt == direct  # counts compare; the per-week frames are checked below
    pd.testing.assert_frame_equal(rebuilt.by_week.reset_index(drop=True), direct.by_week.reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.parametrize("cluster", ["jobcentre_id", "person_id"])
def test_exit_kinds_are_the_cells_and_person_rows_of_course_exits_with_tau_from_the_period_start(tables, cluster):
    config = dataclasses.replace(CONFIG, cluster=cluster)
    got = inputs(tables, config=config)
    weeks, _, _ = one_jobcentre(tables, 101)
    panel = with_course_status(weeks, tables["dream_codes"])
    rows = pd.concat([course_exits(panel, period_start=a, period_end=b, treated_jobcentre_ids=[101], E=E)
                      for E, (a, b) in ((0, BEFORE), (1, INTERVENTION))], ignore_index=True)
    assert len(rows) > 0 and (rows["destination"] == "unobserved").any()  # the panel's last week
    want = exit_cells(rows, cluster=cluster, first_weeks=period_first_weeks(BEFORE, INTERVENTION))
    pd.testing.assert_frame_equal(got.course_exit_cells, want)
    assert got.course_exit_cells.columns[0] == cluster
    assert got.course_exit_cells[["n_weeks", "n_unobserved"]].sum().sum() == len(rows)
    if cluster == "jobcentre_id":
        assert len(got.course_exit_cells) < len(rows)
    pd.testing.assert_frame_equal(got.course_exit_persons, exit_persons(rows))
    assert list(empty_inputs(cluster).course_exit_cells.dtypes) == list(want.dtypes)
    empty = jobcentre_model_inputs(tables["weeks"].iloc[:0], tables["dream_codes"], config)
    assert list(empty.course_exit_cells.columns) == list(want.columns)


def test_non_participating_or_unlinkable_job_centre_has_spells_but_no_caseload_inputs(tables):
    other = ModelInputConfig(treated_ids=(102,), before=BEFORE, intervention=INTERVENTION, caseload_baseline=BEFORE)
    for got in (inputs(tables, 101, other), inputs(tables, 101, linkage=False)):
        assert len(got.gap_spells) > 0
        assert len(got.time_varying) == 0 and len(got.linkage_counts) == 0
    assert inputs(tables, 101, other).gap_spells["D"].eq(0).all()


def test_report_from_two_job_centres_equals_combining_their_reports(tables):
    config = ModelInputConfig(treated_ids=(101, 102), before=BEFORE, intervention=INTERVENTION,
                              caseload_baseline=BEFORE)
    parts = [inputs(tables, jc, config) for jc in (101, 102)]
    both = concat_inputs(parts)
    got = linkage_report_from_counts(both.linkage_counts)
    want = combine_linkage_reports([linkage_report_from_counts(p.linkage_counts) for p in parts])
    assert got == want and got.person_weeks > 0
    pd.testing.assert_frame_equal(got.by_jobcentre, want.by_jobcentre)
    table = linkage_report_table(got)
    assert set(table["level"]) == {"overall", "jobcentre", "week"}
    overall = table[table["level"] == "overall"].iloc[0]
    assert overall["person_weeks"] == got.person_weeks and overall["matched"] == got.matched
    assert overall["match_rate"] == pytest.approx(got.match_rate)
    assert table.loc[table["level"] == "jobcentre", "person_weeks"].sum() == got.person_weeks
    assert table.loc[table["level"] == "week", "person_weeks"].sum() == got.person_weeks
    text = table.to_csv()
    assert not any(str(p) in text for p in PERSON_IDS)


def test_config_round_trips_through_json_and_follows_the_spec():
    spec = load_spec("hir")
    cfg = ModelInputConfig.from_spec(spec, [7, 3], "2017-01-02")
    assert cfg.treated_ids == (3, 7)
    assert cfg.intervention == (spec.intervention.start, spec.intervention.end)
    assert cfg.caseload_baseline == (dt.date(2018, 1, 1), dt.date(2018, 2, 28))
    assert cfg.cluster == spec.inference().cluster == "jobcentre_id"
    by_person = ModelInputConfig.from_spec(dataclasses.replace(spec, cluster="person"), [7, 3])
    assert by_person.cluster == "person_id" and by_person.to_dict() != cfg.to_dict()  # enters the cache key
    assert ModelInputConfig.from_dict(json.loads(json.dumps(by_person.to_dict()))) == by_person
    assert ModelInputConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_per_unit_sums_suffice_only_for_disjoint_persons_without_a_person_bootstrap():
    assert unit_sums_suffice(True, False)
    assert not unit_sums_suffice(False, False)  # a person in two units would be counted twice
    assert not unit_sums_suffice(True, True)  # replicates resample the persons' own rows


@pytest.mark.parametrize("disjoint,person_bootstrap,written", [
    (True, False, set()),
    (True, True, {"share_cells", "new_course_share_cells"}),
    (False, False, {"share_cells", "new_course_share_cells", "lab_weeks"}),
    (False, True, {"share_cells", "new_course_share_cells", "lab_weeks"}),
])
def test_the_map_writes_the_per_person_rows_behind_the_sums_only_where_a_reduce_gathers_them(
        disjoint, person_bootstrap, written):
    cfg = dataclasses.replace(CONFIG, persons_disjoint=disjoint, person_bootstrap=person_bootstrap)
    summed = ("share_cells", "new_course_share_cells", "lab_weeks")
    kinds = ("share_moments", *summed, "time_varying", "descriptive_moments")
    kept = written_kinds(cfg, kinds)
    assert set(kept) & set(summed) == written
    assert {"share_moments", "time_varying", "descriptive_moments"} <= set(kept)
    assert list(kept) == [k for k in kinds if k in kept]  # in the given order


def test_the_spec_and_the_delivery_decide_which_rows_the_map_leaves_out():
    spec = load_spec("hir")
    assert not spec.inference().person_bootstrap  # job-centre clusters
    cfg = ModelInputConfig.from_spec(spec, [3], persons_disjoint=True)
    assert cfg.persons_disjoint and not cfg.person_bootstrap
    assert ModelInputConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    movers = ModelInputConfig.from_spec(spec, [3], persons_disjoint=False)
    assert movers.to_dict() != cfg.to_dict()  # enters the cache key: a cached unit without the rows is not reused
    by_person = ModelInputConfig.from_spec(dataclasses.replace(spec, cluster="person"), [3], persons_disjoint=True)
    assert by_person.person_bootstrap == (spec.bootstrap_replicates > 0)


def test_empty_weeks_give_typed_empty_frames_of_every_kind(tables):
    weeks = tables["weeks"].iloc[:0]
    got = jobcentre_model_inputs(weeks, tables["dream_codes"], CONFIG)
    assert set(got.frames()) == set(KINDS) and all(n == 0 for n in got.row_counts().values())
    assert got.gap_spells.dtypes.equals(empty_inputs().gap_spells.dtypes)


def test_new_course_share_cells_are_the_table6_sums_over_the_new_courses_of_first_lab_spells(tables):
    from bipdask.prepare.outcomes import CELL_COLUMNS, new_course_share_cell_sums
    from bipdask.spec import Period

    weeks, _, _ = one_jobcentre(tables, 101)
    panel = with_course_status(weeks, tables["dream_codes"])
    windows = {"before": Period(*BEFORE), "intervention": Period(*INTERVENTION)}
    got = inputs(tables).new_course_share_cells
    want = new_course_share_cell_sums(panel, [101], windows, lookback_weeks=2)
    assert list(got.columns) == list(CELL_COLUMNS) and len(got) > 0
    pd.testing.assert_frame_equal(got, want)
    # the persons and periods of Table 7's first-LAB spells, with the config's lookback
    firsts = inputs(tables).first_lab_spells
    assert set(zip(got["person_id"], got["period"].map({"before": 0, "intervention": 1}))) == set(
        zip(firsts["person_id"], firsts["E"]))
    # lookback 0: every course week after a missing one starts a new course → intervention cells too
    short = inputs(tables, config=dataclasses.replace(CONFIG, lookback_weeks=0)).new_course_share_cells
    assert "intervention" not in set(got["period"]) and "intervention" in set(short["period"])
    assert empty_inputs().new_course_share_cells.dtypes.equals(got.dtypes)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16))
def test_inputs_do_not_depend_on_the_row_order_of_the_weeks(tables, seed):
    weeks, a, c = one_jobcentre(tables, 101)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    shuffled = weeks.iloc[rng.permutation(len(weeks))].reset_index(drop=True)
    a2 = a.iloc[rng.permutation(len(a))]
    one = jobcentre_model_inputs(weeks, tables["dream_codes"], CONFIG, a, c)
    two = jobcentre_model_inputs(shuffled, tables["dream_codes"], CONFIG, a2, c)
    for kind in KINDS:
        pd.testing.assert_frame_equal(getattr(one, kind), getattr(two, kind))


# --------------------------------------------------------------------------- Tables 9–10 inputs


def test_time_varying_and_share_weeks_carry_the_linked_caseworker_and_the_weeks_share_outcome(tables):
    from bipdask.prepare.hir import SHARE_WEEK_COLUMNS
    from bipdask.prepare.outcomes import in_internship_or_hours

    got = inputs(tables)
    weeks, a, c = one_jobcentre(tables, 101)
    panel = with_course_status(weeks, tables["dream_codes"])
    course = panel.loc[panel["in_course"]]
    linked = link_caseload(course, a, c, period_start=INTERVENTION[0], period_end=INTERVENTION[1])
    sw = got.share_weeks
    assert list(sw.columns) == list(SHARE_WEEK_COLUMNS) and len(sw) == len(linked) > 0
    np.testing.assert_array_equal(sw["caseworker_id"].to_numpy(np.int64, na_value=-1),
                                  linked["caseworker_id"].to_numpy(np.int64, na_value=-1))
    np.testing.assert_array_equal(sw["casemiss"], linked["casemiss"])
    want = course.assign(y=in_internship_or_hours(course["lab_type"], course["ordinary_hours"]).to_numpy())
    want = want.set_index(["person_id", pd.to_datetime(want["week"])])["y"]
    got_y = sw.set_index(["person_id", "week"])["in_internship_or_hours"]
    np.testing.assert_array_equal(got_y.to_numpy(bool), want.reindex(got_y.index).to_numpy(bool))
    assert sw["caseworker_id"].isna().any() and sw["caseworker_id"].notna().any()

    tv = got.time_varying
    gaps = gap_spells(panel, period_start=INTERVENTION[0], period_end=INTERVENTION[1], treated_jobcentre_ids=[101], E=1)
    rows = time_varying_rows(gaps, linked)
    lookup = linked.set_index(["person_id", "week"])["caseworker_id"]
    want_cw = lookup.reindex(pd.MultiIndex.from_arrays([rows["person_id"], rows["week"]]))
    np.testing.assert_array_equal(tv["caseworker_id"].to_numpy(np.int64, na_value=-1),
                                  want_cw.to_numpy(np.int64, na_value=-1))
    # an unlinked week has no caseworker and is casemiss
    assert (tv.loc[tv["caseworker_id"].isna(), "casemiss"] == 1).all()


def test_pre_belief_is_percent_of_caseload_with_a_missing_indicator():
    from bipdask.prepare.hir import with_pre_belief

    survey = pd.DataFrame({
        "caseworker_id": [1, 1, 2, 3], "jobcentre_id": [9, 9, 9, 9], "wave": ["pre", "post", "post", "pre"],
        "n_caseload": [40, 40, 30, 0], "n_internship_3m": [10, 20, 3, 5],
        "n_ordinary_hours_1y": [4, 4, 3, 5], "n_job_2y": [None, 8, 3, 5]})
    weeks = pd.DataFrame({"person_id": [7, 7, 8, 8], "caseworker_id": pd.array([1, None, 2, 3], dtype="Int64")})
    got = with_pre_belief(weeks, survey)
    assert list(got.columns[:2]) == ["person_id", "caseworker_id"] and len(got) == 4
    np.testing.assert_allclose(got["belief_internship_3m"], [25.0, 0, 0, 0])
    np.testing.assert_array_equal(got["belief_internship_3m_miss"], [0, 1, 1, 1])  # none, post only, n_caseload 0
    np.testing.assert_allclose(got["belief_ordinary_hours_1y"], [10.0, 0, 0, 0])
    np.testing.assert_array_equal(got["belief_job_2y_miss"], [1, 1, 1, 1])  # caseworker 1 skipped the question
    assert got["belief_job_2y"].eq(0).all() and got["belief_job_2y_miss"].dtype == np.int8
