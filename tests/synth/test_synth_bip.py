"""The synthetic BIP part: contract schemas, scaling, the reports' targets, determinism."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.data.contract import BIP_RESPONSES, BIP_S1_BOXES, PERSONS, WEEKS
from bipdask.errors import InputError
from bipdask.synth.bip import params as P
from bipdask.synth.bip.answers import COMBINATIONS, combination_of_boxes
from bipdask.synth.bip.delivery import generate_bip, progression_effects
from bipdask.synth.bip.schedule import report_sample_mask

NAMES = ["Faxe", "Horsens", "Rebild", "Silkeborg", "Sønderborg", "Thisted", "Vejen", "Viborg",
         "Vordingborg", "Aarhus", "Vallensbæk-Ishøj", "Vallensbæk-Ishøj", "Odense"]
JOBCENTRES = pd.DataFrame({
    "jobcentre_id": np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 12], dtype=np.int32),
    "name": NAMES,
    "municipality_code": np.arange(101, 101 + len(NAMES), dtype=np.int32),
})
WEEKS_INDEX = pd.date_range("2017-01-02", "2019-03-25", freq="7D")
PID0, CW0 = 5_000_000, 70_000


def make(scale: float, seed: int = 7):
    return generate_bip(JOBCENTRES, WEEKS_INDEX, scale=scale, seed=seed,
                        person_id_start=PID0, caseworker_id_start=CW0)


@pytest.fixture(scope="module")
def small():
    return make(0.3)


@pytest.fixture(scope="module")
def full():
    return make(1.0, seed=11)


def outcome_52w(part) -> pd.Series:
    """Job (employed with ordinary hours) or SU within 52 weeks after each response."""
    w = part.weeks
    hit = w[(w["employed"] & (w["ordinary_hours"] > 0)) | w["su"]][["person_id", "week"]]
    r = part.bip_responses[["response_id", "person_id", "response_date"]]
    m = r.merge(hit, on="person_id", how="left")
    days = (m["week"].astype("datetime64[ns]") - m["response_date"].astype("datetime64[ns]")).dt.days
    m["y"] = (days > 0) & (days <= 52 * 7)
    return m.groupby("response_id")["y"].any().reindex(r["response_id"])


@pytest.mark.parametrize("attr,table", [("persons", PERSONS), ("weeks", WEEKS),
                                        ("bip_responses", BIP_RESPONSES)])
def test_frames_have_exactly_the_contract_schema(small, attr, table):
    df = getattr(small, attr)
    assert tuple(df.columns) == table.column_names
    schema = pa.Table.from_pandas(df, preserve_index=False).schema
    assert [f.type for f in schema] == [f.type for f in table.schema()]
    for col in table.columns:
        if not col.nullable:
            assert not df[col.name].isna().any(), col.name
        if col.allowed:
            assert set(df[col.name].dropna().unique()) <= set(col.allowed), col.name
    assert not df.duplicated(list(table.key)).any()


def test_ids_start_where_asked_and_reference_each_other(small):
    pid = small.persons["person_id"].to_numpy()
    assert np.array_equal(pid, PID0 + np.arange(pid.size))
    cw = np.unique(small.bip_responses["caseworker_id"].to_numpy())
    assert np.array_equal(cw, CW0 + np.arange(cw.size))
    assert set(small.bip_responses["person_id"]) == set(pid)
    assert set(small.weeks["person_id"]) <= set(pid)
    bip_ids = set(JOBCENTRES["jobcentre_id"][JOBCENTRES["name"].isin(P.BIP_JOBCENTRES)])
    assert set(small.bip_responses["jobcentre_id"]) <= bip_ids
    assert set(small.weeks["jobcentre_id"]) <= bip_ids


def test_counts_scale_linearly(small):
    tiny = make(0.1)
    ratio = len(small.persons) / len(tiny.persons)
    assert ratio == pytest.approx(3.0, rel=0.02)
    assert len(small.bip_responses) / len(tiny.bip_responses) == pytest.approx(3.0, rel=0.15)
    assert len(small.bip_responses) == pytest.approx(0.3 * P.CITIZEN_RESPONSES, rel=0.1)
    assert make(0.05).truth["counts"]["main_caseworkers"] >= 10   # one per job centre at least


def test_answers_are_1_to_5_or_null_and_boxes_match_combinations(small):
    r = small.bip_responses
    for q in [f"b{i}" for i in range(1, 12)] + [f"s{i}" for i in range(2, 13)]:
        v = r[q].dropna().to_numpy()
        assert v.min() >= 1 and v.max() <= 5, q
        assert r[q].isna().mean() < 0.05, q
    boxes = r[list(BIP_S1_BOXES)].to_numpy(dtype=bool)
    combo = combination_of_boxes(boxes)
    answered = boxes.any(axis=1)
    assert answered.mean() > 0.97       # caseworker part missing in ≈1 % of responses
    none_or_dont_know = boxes[:, 21] | boxes[:, 22]
    assert np.array_equal(combo[answered] == 0, none_or_dont_know[answered])


def test_activity_combinations_have_table_3_frequencies(small):
    boxes = small.bip_responses[list(BIP_S1_BOXES)].to_numpy(dtype=bool)
    combo = combination_of_boxes(boxes[boxes.any(axis=1)])
    share = np.bincount(combo, minlength=16) / combo.size
    expected = np.array([P.COMBINATION_COUNTS[c] for c in COMBINATIONS], float)
    expected /= expected.sum()
    assert np.abs(share - expected).max() < 0.02
    assert share[0] == pytest.approx(0.23, abs=0.02) and share[8] == pytest.approx(0.24, abs=0.02)


def test_weeks_cover_each_response_and_its_follow_up(small):
    w, r = small.weeks, small.bip_responses
    span = w.groupby("person_id")["week"].agg(["min", "max"])
    last = r.groupby("person_id")["response_date"].agg(["min", "max"])
    panel_end = pd.Timestamp(WEEKS_INDEX[-1]).date()
    assert (span["min"].loc[last.index] <= last["min"]).all()
    need = (pd.to_datetime(last["max"].astype("datetime64[ns]")) + pd.Timedelta(weeks=52)).dt.date
    need = need.where(need < panel_end, panel_end)
    assert (span["max"].loc[last.index].to_numpy() >= need.to_numpy()).all()
    n_weeks = w.groupby("person_id").size()
    n_expected = ((pd.to_datetime(span["max"].astype("datetime64[ns]"))
                   - pd.to_datetime(span["min"].astype("datetime64[ns]"))).dt.days // 7 + 1)
    assert (n_weeks == n_expected).all()          # no gaps
    emp = w[w["employed"]]
    assert (emp["ordinary_hours"] > 0).all() and emp["dream_code"].isna().all() and not emp["su"].any()
    benefit = w[~w["employed"] & ~w["su"]]
    assert benefit["dream_code"].isin(P.CASH_BENEFIT_CODES).all()
    assert (benefit["ordinary_hours"] == 0).all()


def test_report_sample_rules_reproduce_the_reports_counts(full):
    r = full.bip_responses
    mask = report_sample_mask(r["person_id"].to_numpy(), r["caseworker_id"].to_numpy(),
                              r["response_date"].astype("datetime64[ns]").to_numpy())
    assert len(r) == pytest.approx(P.CITIZEN_RESPONSES, rel=0.08)
    assert len(full.persons) == P.CITIZENS
    assert mask.sum() == pytest.approx(6164, rel=0.12)
    assert r["caseworker_id"][mask].nunique() == pytest.approx(115, abs=8)
    assert r["person_id"][mask].nunique() == pytest.approx(2701, rel=0.15)
    assert full.truth["counts"]["sample_responses"] == mask.sum()
    assert full.truth["counts"]["mean_weeks_between_responses"] == pytest.approx(22, abs=2.5)
    assert full.truth["counts"]["share_citizens_with_change"] == pytest.approx(0.40, abs=0.05)


def test_outcome_rate_counterfactual_and_caseworker_change(full):
    r = full.bip_responses
    y = outcome_52w(full).to_numpy()
    mask = report_sample_mask(r["person_id"].to_numpy(), r["caseworker_id"].to_numpy(),
                              r["response_date"].astype("datetime64[ns]").to_numpy())
    assert y[mask].mean() == pytest.approx(0.1476, abs=0.035)
    t = full.truth
    assert t["outcome"]["realized_rate"] == pytest.approx(y[mask].mean(), abs=1e-12)
    assert t["outcome"]["expected_rate"] == pytest.approx(0.1476, abs=0.03)
    assert 0.05 < t["outcome"]["expected_increase"] < 0.2
    by_q = t["outcome"]["expected_rate_by_true_quartile"]
    assert by_q[3] > by_q[0]
    assert t["counts"]["quartile_sizes"] == sorted(t["counts"]["quartile_sizes"], reverse=True)
    assert t["caseworker_change"]["expected_relative_effect_on_changed"] == pytest.approx(-0.22, abs=0.06)
    eff = t["caseworkers"]["effect"]
    assert set(eff) == set(CW0 + np.arange(len(eff)))


def test_caseworkers_are_sorted_on_the_register_index_not_the_unobserved_frailty(small, monkeypatch):
    """The report sees its negative sorting through the covariates it controls (Figur 1 vs
    Figur 2) and its counterfactual presumes none on unobservables: with the same seed, a
    different frailty must leave every response's caseworker unchanged."""
    monkeypatch.setattr(P, "FRAILTY_SD", 2 * P.FRAILTY_SD)
    other = make(0.3)
    effect = {int(k): v for k, v in small.truth["caseworkers"]["effect"].items()}

    def caseworker_effect(part):
        r = part.bip_responses[["person_id", "response_date", "caseworker_id"]].astype(
            {"response_date": "datetime64[ns]"})
        eff = {int(k): v for k, v in part.truth["caseworkers"]["effect"].items()}
        return r.assign(effect=r["caseworker_id"].astype("int64").map(eff)).drop(columns="caseworker_id")

    both = caseworker_effect(small).merge(caseworker_effect(other), on=["person_id", "response_date"])
    assert len(both) > 0.8 * len(small.bip_responses) and effect
    np.testing.assert_array_equal(both["effect_x"].to_numpy(), both["effect_y"].to_numpy())
    # ... while the frailty does move the outcome (the starts, hence which responses are held).
    assert len(both) < len(small.bip_responses) or len(other.bip_responses) != len(small.bip_responses)


def test_progression_matches_table_1_and_planted_effects(full):
    r = full.bip_responses.sort_values(["person_id", "response_date"])
    boxes = r[list(BIP_S1_BOXES)].to_numpy(dtype=bool)
    b = r[[f"b{i}" for i in range(1, 10)]].astype("float64").to_numpy()
    prog = progression_effects(r["person_id"].to_numpy(), r["response_date"].astype("datetime64[ns]").to_numpy(),
                               b, combination_of_boxes(boxes))
    assert prog["mean_change_average"] == pytest.approx(0.024, abs=0.02)
    assert 0.06 < prog["share_no_change"] < 0.16
    assert prog["standardized_effect"]["0000"] == pytest.approx(-0.15, abs=0.07)
    expected = full.truth["progression"]["expected"]["citizen"]["standardized_effect"]
    assert expected["0000"] == pytest.approx(-0.15, abs=0.04)
    assert expected["1101"] == pytest.approx(0.45, abs=0.12)


def test_same_seed_same_frames_other_seed_differs(small):
    again = make(0.3)
    for attr in ("persons", "weeks", "bip_responses"):
        pd.testing.assert_frame_equal(getattr(small, attr), getattr(again, attr))
    other = make(0.3, seed=8)
    assert not small.bip_responses.equals(other.bip_responses)
    assert not small.persons.equals(other.persons)


def test_missing_bip_jobcentre_is_a_clear_input_error():
    jc = JOBCENTRES[JOBCENTRES["name"] != "Rebild"]
    with pytest.raises(InputError, match=r"jobcentres\.name: BIP job centre not found \(1 rows\)"):
        generate_bip(jc, WEEKS_INDEX, scale=0.05, seed=1, person_id_start=1, caseworker_id_start=1)


def test_report_sample_mask_by_hand():
    # caseworker 1 has 10 responses from 4 citizens, caseworker 2 has 2 from 1; person 9 has a
    # single response.
    person = np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 4, 9])
    cw = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1])
    date = np.array([5, 1, 2, 3, 4, 1, 2, 3, 4, 1, 1, 2, 1])
    kept = [True, False, True, True, True, False, True, True, True, False, False, False, False]
    assert report_sample_mask(person, cw, date, count="responses").tolist() == kept
    # The report's rule counts citizens ("mindst 10 borgere"): caseworker 1 has only 4.
    assert not report_sample_mask(person, cw, date).any()
    assert report_sample_mask(person, cw, date, min_caseworker_count=4).tolist() == kept
    assert not report_sample_mask(person, cw, date, min_caseworker_count=5).any()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(0, 1000)),
                min_size=1, max_size=80, unique_by=lambda t: (t[0], t[2])))
def test_report_sample_mask_invariants(rows):
    person, cw, date = (np.array(x) for x in zip(*rows))
    keep = report_sample_mask(person, cw, date, count="responses")
    for p in np.unique(person):
        mine = person == p
        first = np.flatnonzero(mine)[np.argmin(date[mine])]
        assert not keep[first]
        if mine.sum() == 1:
            assert not keep[mine].any()
    counts = {c: (cw == c).sum() for c in np.unique(cw)}
    assert all(counts[c] >= 10 for c in cw[keep])
    # The citizens rule (threshold 3 here: at most 7 persons) keeps exactly the responses the
    # responses rule keeps among caseworkers with >= 3 distinct citizens.
    by_citizens = report_sample_mask(person, cw, date, min_caseworker_count=3)
    citizens = {c: np.unique(person[cw == c]).size for c in np.unique(cw)}
    base = report_sample_mask(person, cw, date, min_caseworker_count=0, count="responses")
    assert by_citizens.tolist() == [b and citizens[c] >= 3 for b, c in zip(base, cw)]
