"""Reduce-side HIR estimates (Tables A/4, 7, 9; Figures 1–2) on synthetic model inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bipdask.analyses.estimates import (
    COLUMNS,
    estimates_table,
    replicate_key,
    withhold_unstable_intervals,
)
from bipdask.analyses.hir.durations import (
    DID_ESTIMANDS,
    figure_curves,
    table4,
    table7,
    weekly_survival_time,
)
from bipdask.analyses.hir.mediators import table9
from bipdask.estimators.duration_did import duration_did_by_jobcentre
from bipdask.inference.config import Inference

B = 30
TREATED_JC = (11, 12, 13)
OTHER_JC = (21, 22, 23, 24)


def weibull_spells(n_persons: int = 1500, seed: int = 3, delta: float = -0.3) -> pd.DataFrame:
    """Gap spells in the layout of model_inputs: Weibull PH on D, E, D×E, censored at 56 weeks."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    jcs = np.array(TREATED_JC + OTHER_JC)
    jc = rng.choice(jcs, n_persons)
    rows = []
    for pid, j in zip(range(1_000_001, 1_000_001 + n_persons), jc):
        d = int(j in TREATED_JC)
        for E in (0, 1):
            for _ in range(rng.integers(1, 3)):
                xb = -2.6 - 0.1 * d - 0.05 * E + delta * d * E
                u = rng.random()
                t = (-np.log(u) / np.exp(xb)) ** (1 / 0.75)  # Weibull p = 0.75
                dur = int(np.clip(np.ceil(t), 1, 56))
                rows.append((d, E, j, pid, dur, int(t <= 56)))
    return pd.DataFrame(rows, columns=["D", "E", "jobcentre_id", "person_id", "duration", "event"]).astype(
        {"D": np.int8, "E": np.int8, "jobcentre_id": np.int32, "person_id": np.int64, "duration": np.int32,
         "event": np.int8})


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    return weibull_spells()


@pytest.fixture(scope="module")
def t4(spells):
    return table4(spells, inference=Inference(replicates=B, seed=7))


def test_table4_rows_national_and_per_participating_jobcentre(t4):
    rows = t4.rows
    assert list(rows.columns) == list(COLUMNS)
    assert set(rows["analysis"]) == {"hir_table4"} and set(rows["period"]) == {"intervention"}
    assert sorted(rows["jobcentre_id"].dropna().unique()) == list(TREATED_JC)
    assert rows["jobcentre_id"].isna().sum() == len(DID_ESTIMANDS)
    assert len(rows) == len(DID_ESTIMANDS) * (1 + len(TREATED_JC))
    assert (rows["se"] > 0).all() and (rows["ci_low"] <= rows["estimate"]).all()
    assert (rows["estimate"] <= rows["ci_high"]).all()
    nat = rows[rows["jobcentre_id"].isna()].set_index("estimand")
    assert nat.loc["did_weeks", "estimate"] == pytest.approx(
        nat.loc["participating_intervention", "estimate"] - nat.loc["participating_before", "estimate"]
        - nat.loc["other_intervention", "estimate"] + nat.loc["other_before", "estimate"])
    assert nat.loc["did_weeks", "p_value"] < 0.05  # planted δ = −0.3: longer gaps in D=1, E=1
    assert nat.loc["did_weeks", "estimate"] > 0
    estimates_table(rows)  # the rows fit the results schema


def test_table4_matches_duration_did_by_jobcentre(spells, t4):
    ordered = spells.sort_values(["jobcentre_id", "person_id", "E", "duration", "event"],
                                 kind="mergesort").reset_index(drop=True)
    want = duration_did_by_jobcentre(ordered.assign(weeks_survived=weekly_survival_time(ordered)),
                                     duration="weeks_survived", interval=True, bootstrap=B, seed=7)
    want = want.assign(jc=want["jobcentre_id"].astype("Int64").fillna(-1))
    got = t4.rows.assign(jc=t4.rows["jobcentre_id"].astype("Int64").fillna(-1))
    m = got.merge(want, left_on=["jc", "estimand"], right_on=["jc", "quantity"])
    assert len(m) == len(got)
    np.testing.assert_allclose(m["estimate_x"], m["estimate_y"], rtol=1e-10)
    np.testing.assert_allclose(m["se"], m["se_boot"], rtol=1e-10)


def test_replicates_have_one_row_per_replicate_and_reproduce_the_ses(t4):
    reps = t4.replicates
    assert len(reps) == B and reps["replicate"].tolist() == list(range(B))
    for r in t4.rows.itertuples():
        key = replicate_key(r.estimand, None if pd.isna(r.jobcentre_id) else r.jobcentre_id, r.period)
        assert np.nanstd(reps[key], ddof=1) == pytest.approx(r.se, rel=1e-12)


def test_small_jobcentres_are_skipped_for_disclosure(spells):
    counts = spells[spells["D"] == 1].groupby("jobcentre_id")["person_id"].nunique()
    floor = int(counts.min()) + 1
    res = table4(spells, min_persons=floor, inference=Inference(replicates=0, seed=1))
    assert int(counts.idxmin()) in res.notes["jobcentres_skipped_small"]
    assert int(counts.idxmin()) not in set(res.rows["jobcentre_id"].dropna())
    assert res.rows["se"].isna().all()  # no bootstrap, no SE


def test_table7_keeps_courses_starting_with_a_lab_as_first_week_starts_and_counts_them(spells):
    zero = spells.iloc[:40].assign(duration=0, event=1)
    firsts = pd.concat([spells, zero], ignore_index=True)
    res = table7(firsts, inference=Inference(replicates=0, seed=1))
    assert res.notes["first_week_lab"] == 40
    assert sum(res.notes["first_week_lab_by_group"].values()) == 40
    assert set(res.rows["analysis"]) == {"hir_table7"}
    # kept, not dropped: the same fit as week-1 starts, and they are in the counts
    as_week1 = pd.concat([spells, zero.assign(duration=1)], ignore_index=True)
    same = table4(as_week1, inference=Inference(replicates=0, seed=1)).rows
    np.testing.assert_allclose(res.rows["estimate"], same["estimate"], rtol=1e-10)
    national = res.rows[res.rows["jobcentre_id"].isna() & (res.rows["estimand"] == "did_weeks")]
    assert national["n_obs"].item() == len(firsts)
    without = table7(spells, inference=Inference(replicates=0, seed=1)).rows
    assert not np.allclose(without["estimate"], res.rows["estimate"])  # the fastest starts move the fit


def test_rows_do_not_depend_on_input_row_order(spells, t4):
    shuffled = spells.sample(frac=1.0, random_state=5).reset_index(drop=True)
    again = table4(shuffled, inference=Inference(replicates=B, seed=7))
    pd.testing.assert_frame_equal(again.rows, t4.rows)
    pd.testing.assert_frame_equal(again.replicates, t4.replicates)


def test_figure_curves_by_group():
    s = pd.DataFrame({"D": [1, 1, 1, 0, 0], "E": [0, 0, 0, 1, 1], "duration": [1, 2, 2, 1, 3],
                      "event": [1, 1, 0, 0, 1]})
    raw, km = figure_curves(s)
    a = raw[raw["group"] == "participating_before"].set_index("week")
    # the censored gap of 2 observed weeks survived 1 whole week: not at risk in week 2
    assert a.loc[1, "n_risk"] == 3 and a.loc[1, "hazard"] == pytest.approx(1 / 3)
    assert a.loc[2, "n_risk"] == 1 and a.loc[2, "hazard"] == pytest.approx(1)
    k = km[km["group"] == "participating_before"].set_index("time")
    assert k.loc[1.0, "surv"] == pytest.approx(2 / 3)
    assert k.loc[2.0, "surv"] == pytest.approx(0)
    assert set(km["group"]) == {"participating_before", "other_intervention"}
    assert all((np.diff(g["surv"]) <= 0).all() for _, g in km.groupby("group"))


def test_figure2_starts_at_one_at_week_zero():
    """Every gap lasts ≥ 1 week, so the curve's first observed time is week 1; without a week-0
    row the plotted curve began at S(1) (here 90 %, as the run's began near 93 %)."""
    n = 50
    s = pd.DataFrame({"D": 1, "E": 0, "duration": np.r_[np.ones(5, int), np.full(n - 5, 8)],
                      "event": np.r_[np.ones(5, int), np.zeros(n - 5, int)]})
    _, km = figure_curves(s)
    first = km.sort_values("time").iloc[0]
    assert first["time"] == 0 and first["surv"] == 1 and first["n_risk"] == n and first["n_event"] == 0
    assert first["lower"] == first["upper"] == 1
    assert km.loc[km["time"] == 1, "surv"].item() == pytest.approx(0.9)


def test_figure2_matches_lifelines_on_the_weeks_of_the_fit():
    lifelines = pytest.importorskip("lifelines")
    s = weibull_spells(n_persons=300, seed=11)
    _, km = figure_curves(s)
    for (d, e), cell in s.groupby(["D", "E"]):
        mine = km[(km["D"] == d) & (km["E"] == e)].set_index("time")["surv"]
        ref = lifelines.KaplanMeierFitter().fit(weekly_survival_time(cell), cell["event"]).survival_function_
        ref = ref.iloc[:, 0].reindex(mine.index)
        np.testing.assert_allclose(mine.to_numpy(), ref.to_numpy(), rtol=1e-12)


def time_varying(n_spells: int = 1500, seed: int = 9, log_hr: float = -0.05) -> pd.DataFrame:
    """Person-week rows: weekly hazard exp(a_jc + log_hr·caseload), job centre baselines differ a lot."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    base = {11: -3.0, 12: -1.5, 13: -2.2}
    rows = []
    for s in range(n_spells):
        jc = int(rng.choice(list(base)))
        pid = 2_000_000 + s // 2
        for k in range(40):
            miss = rng.random() < 0.1
            load = 0.0 if miss else rng.normal(30, 6)
            h = 1 - np.exp(-np.exp(base[jc] + log_hr * (load - 30) - 0.3 * miss))
            ev = rng.random() < h
            rows.append((jc, pid, k, k + 1, int(ev), load, int(miss), 0.0 if miss else load - 30, int(miss)))
            if ev:
                break
    return pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "start", "stop", "event", "caseload",
                                       "casemiss", "caseload_change", "change_miss"])


def test_table9_is_lifelines_stratified_cox_and_its_interval_the_replicates_percentiles():
    """Exact checks on one draw: the hazard ratios are those of lifelines' Cox model on the same
    counting-process rows, stratified by job centre (Efron ties), and the interval is the 2.5 and
    97.5 % points (numpy's linear quantile) of the replicates' exp(β*). Whether the interval covers
    the planted hazard ratio is a property over many draws: ``benchmarks/coverage.py`` (section
    ``table9``)."""
    from lifelines import CoxTimeVaryingFitter

    tv = time_varying()
    res = table9(tv, inference=Inference(replicates=B, seed=3))
    rows = res.rows.set_index("estimand")
    assert set(rows.index) == {"hr_caseload", "hr_casemiss", "hr_caseload_change", "hr_change_miss"}
    hr = rows.loc["hr_caseload"]
    ref = CoxTimeVaryingFitter().fit(tv[["jobcentre_id", "person_id", "start", "stop", "event", "caseload",
                                         "casemiss"]],
                                     id_col="person_id", event_col="event", start_col="start", stop_col="stop",
                                     strata=["jobcentre_id"])
    for term in ("caseload", "casemiss"):
        assert rows.loc[f"hr_{term}", "estimate"] == pytest.approx(np.exp(ref.params_[term]), rel=1e-6)
    reps = res.replicates[replicate_key("hr_caseload", None, "intervention")].to_numpy()
    assert np.isfinite(reps).all() and hr["se"] > 0
    np.testing.assert_allclose(hr[["ci_low", "ci_high"]].to_numpy(dtype=float), np.quantile(reps, [0.025, 0.975]),
                               rtol=1e-12)
    assert rows.loc["hr_caseload_change", "estimate"] == pytest.approx(hr["estimate"], rel=1e-8)
    assert (rows["n_obs"] == len(tv)).all() and (rows["n_persons"] == tv["person_id"].nunique()).all()
    key = replicate_key("hr_caseload", None, "intervention")
    assert len(res.replicates) == B
    assert np.nanstd(res.replicates[key], ddof=1) == pytest.approx(hr["se"], rel=1e-12)


def test_table9_without_bootstrap_uses_the_robust_variance_and_skips_without_events():
    tv = time_varying(n_spells=400)
    res = table9(tv, inference=Inference(replicates=0, seed=3))
    hr = res.rows.set_index("estimand").loc["hr_caseload"]
    assert hr["se"] > 0 and hr["ci_low"] < hr["estimate"] < hr["ci_high"]
    assert res.replicates.shape[1] == 1  # only the replicate number
    none = table9(tv.assign(event=0), inference=Inference(replicates=0, seed=3))
    assert len(none.rows) == 0 and none.notes["caseload"].startswith("skipped")


# --------------------------------------------------------------------------- Table 10 and the linear tables


def belief_weeks(n_caseworkers: int = 60, seed: int = 4, log_hr: float = 0.02) -> pd.DataFrame:
    """Time-varying rows with the caseworker's pre belief: weekly hazard exp(a_jc + log_hr·belief);
    a fifth of the caseworkers did not answer (belief 0, _miss 1); the share rises 0.003 per point."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    base = {11: -2.6, 12: -1.8}
    rows = []
    pid = 3_000_000
    for cw in range(n_caseworkers):
        jc = 11 + cw % 2
        belief = float(rng.uniform(10, 60))
        miss = rng.random() < 0.2
        for _ in range(25):
            pid += 1
            for k in range(30):
                h = 1 - np.exp(-np.exp(base[jc] + log_hr * (belief - 35)))
                ev = rng.random() < h
                y = rng.random() < 0.1 + 0.003 * belief
                rows.append((jc, pid, k, k + 1, int(ev), cw, 0.0 if miss else belief, int(miss), int(y)))
                if ev:
                    break
    out = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "start", "stop", "event", "caseworker_id",
                                      "belief_internship_3m", "belief_internship_3m_miss", "in_internship_or_hours"])
    return out.assign(belief_ordinary_hours_1y=out["belief_internship_3m"] / 2,
                      belief_ordinary_hours_1y_miss=out["belief_internship_3m_miss"])


def test_table10_recovers_the_belief_hazard_ratio_and_its_replicates_give_the_se():
    from bipdask.analyses.hir.mediators import table10

    data = belief_weeks()
    res = table10(data, inference=Inference(replicates=B, seed=5))
    rows = res.rows.set_index("estimand")
    assert set(rows.index) == {"hr_belief_internship_3m", "hr_belief_internship_3m_miss",
                               "hr_belief_ordinary_hours_1y", "hr_belief_ordinary_hours_1y_miss"}
    assert (res.rows["analysis"] == "hir_table10").all()
    hr = rows.loc["hr_belief_internship_3m"]
    assert hr["ci_low"] < np.exp(0.02) < hr["ci_high"] and hr["ci_low"] > 1.0
    # half the belief scale: the hazard ratio per point is the square
    assert rows.loc["hr_belief_ordinary_hours_1y", "estimate"] == pytest.approx(hr["estimate"] ** 2, rel=1e-6)
    key = replicate_key("hr_belief_internship_3m", None, "intervention")
    assert len(res.replicates) == B
    assert np.nanstd(res.replicates[key], ddof=1) == pytest.approx(hr["se"], rel=1e-12)
    everyone = table10(data[data["belief_internship_3m_miss"] == 0], inference=Inference(replicates=0, seed=5))
    assert "hr_belief_internship_3m_miss" not in set(everyone.rows["estimand"])
    assert "belief_internship_3m_miss" in everyone.notes["constant_indicators_left_out"]


def test_share_mediators_are_hir_linear_rows_with_matching_replicates():
    from bipdask.analyses.hir.mediators import share_mediators, table9_10_share

    data = belief_weeks(n_caseworkers=30).assign(caseload=lambda d: d["belief_internship_3m"] / 2 + 13,
                                                 casemiss=lambda d: d["belief_internship_3m_miss"])
    data = data.assign(caseload_change=data["caseload"] - 30, change_miss=data["casemiss"])
    t10 = share_mediators(data, analysis="hir_table10", inference=Inference(replicates=B, seed=2))
    assert list(t10.rows["estimand"]) == ["internship_3m", "ordinary_hours_1y"]
    want = [r for r in table9_10_share(data.drop(columns=["caseload", "casemiss", "caseload_change", "change_miss"]),
                                       beliefs=["belief_internship_3m", "belief_ordinary_hours_1y"],
                                       inference=Inference(replicates=B, seed=2))]
    np.testing.assert_allclose(t10.rows["estimate"], [r.estimate for r in want], rtol=1e-12)
    np.testing.assert_allclose(t10.rows["se"], [r.se for r in want], rtol=1e-12)
    assert t10.rows.set_index("estimand").loc["internship_3m", "ci_low"] > 0  # planted +0.003 per point
    for name, se in zip(t10.rows["estimand"], t10.rows["se"]):
        assert np.nanstd(t10.replicates[replicate_key(name, None, "intervention")], ddof=1) == pytest.approx(se)
    t9 = share_mediators(data, analysis="hir_table9", inference=Inference(replicates=B, seed=2))
    assert set(t9.rows["estimand"]) == {"caseload", "caseload_change"} and t9.replicates.shape == (B, 3)
    assert "replicates_not_matching_rows" not in t9.notes


def test_table8_and_table3_wrap_hir_linear_with_the_replicates_of_their_bootstrapped_rows():
    from bipdask.analyses.hir.beliefs import table3, table3_belief
    from bipdask.analyses.hir.exits import table8
    from bipdask.prepare.spells import EXIT_DESTINATIONS

    rng = np.random.default_rng(np.random.SeedSequence([6, 1]))
    n = 6000
    weeks = pd.Timestamp("2017-03-06") + pd.to_timedelta(rng.integers(0, 20, n) * 7, unit="D")
    E = rng.integers(0, 2, n)
    exits = pd.DataFrame({"D": rng.integers(0, 2, n).astype(np.int8), "E": E.astype(np.int8),
                          "jobcentre_id": np.int32(1), "person_id": rng.integers(0, 800, n),
                          "week": weeks + pd.to_timedelta(E * 364, unit="D"),
                          "next_observed": (rng.random(n) < 0.95).astype(np.int8)})
    for d in EXIT_DESTINATIONS:
        exits[f"exit_{d}"] = (rng.random(n) < 0.05).astype(np.int8)
    t8 = table8(exits, inference=Inference(replicates=B, seed=3))
    assert t8.notes["rows_next_week_unobserved"] == int((exits["next_observed"] == 0).sum())
    assert t8.replicates.shape == (B, 1 + 2 * len(EXIT_DESTINATIONS))  # weekly β and persons DiD per destination
    did = t8.rows[t8.rows["estimand"].isin(EXIT_DESTINATIONS)].set_index("estimand")
    for d in EXIT_DESTINATIONS:
        assert np.nanstd(t8.replicates[replicate_key(d, None, "intervention")], ddof=1) == pytest.approx(
            did.loc[d, "se"], rel=1e-9)

    cw = np.arange(1, 41)
    survey = pd.DataFrame({"caseworker_id": np.repeat(cw, 2), "jobcentre_id": np.repeat(cw % 3, 2),
                           "wave": np.tile(["pre", "post"], 40), "n_caseload": 35,
                           "n_internship_3m": rng.integers(5, 25, 80), "n_ordinary_hours_1y": rng.integers(2, 12, 80),
                           "n_job_2y": rng.integers(5, 20, 80)})
    t3 = table3(survey, inference=Inference(replicates=B, seed=3))
    want = table3_belief(survey, inference=Inference(replicates=B, seed=3))
    np.testing.assert_allclose(t3.rows["estimate"], [r.estimate for r in want], rtol=1e-12)
    assert set(t3.rows["period"]) == {"pre", "post", "difference"} and t3.replicates.shape == (B, 4)


def test_table4_wild_rows_carry_the_restricted_mean_and_hazard_ratio_with_placebo_intervals_per_centre():
    from bipdask.analyses.hir.durations import EFFECT_ESTIMANDS
    from bipdask.inference.placebo import placebo_interval

    s = weibull_spells(n_persons=1200, seed=21)
    # more comparison centres, so each per-centre row has placebos
    s["jobcentre_id"] = np.where(s["D"] == 1, s["jobcentre_id"], 30 + (s["person_id"] % 8))
    res = table4(s, inference=Inference(method="wild", replicates=99, seed=3, cluster="jobcentre_id"))
    rows = res.rows.set_index(["estimand", res.rows["jobcentre_id"].fillna(-1).astype(int)])
    for name in EFFECT_ESTIMANDS:
        national = rows.loc[(name, -1)]
        assert national["inference"] == "wild" and national["ci_low"] <= national["estimate"] <= national["ci_high"]
    hr = rows.loc[("hazard_ratio", TREATED_JC[0])]
    assert hr["inference"] == "placebo" and hr["ci_low"] < hr["ci_high"]
    # the placebo interval of exp(δ) is the exponentiated interval of δ from the log-scale placebos
    national_fit_rows = rows.loc[("rmst52_did_weeks", TREATED_JC[0])]
    assert national_fit_rows["inference"] == "placebo"
    from bipdask.analyses.hir.durations import _placebo_dids

    placebos = _placebo_dids(s.sort_values(["jobcentre_id", "person_id", "E", "duration", "event"], kind="mergesort")
                             .reset_index(drop=True)
                             .assign(weeks_survived=lambda d: weekly_survival_time(d)),
                             {"duration": "weeks_survived", "interval": True, "cluster": "jobcentre_id",
                              "bootstrap": 0})
    iv = placebo_interval(float(np.log(hr["estimate"])), placebos[:, -1])
    assert hr["ci_low"] == pytest.approx(np.exp(iv["ci_low"])) and hr["ci_high"] == pytest.approx(np.exp(iv["ci_high"]))


def test_table9_share_is_within_job_centres_like_the_stratified_cox():
    """Job centres with higher caseloads have a higher share level, but within a centre the share
    does not depend on caseload (planted 0): the pooled LPM finds the between-centre slope, the
    job-centre fixed effects (the share rows' model, matching the Cox strata) find about 0, and
    equal OLS with job-centre dummies (statsmodels) to machine precision."""
    sm = pytest.importorskip("statsmodels.formula.api")
    from bipdask.analyses.hir.mediators import table9_10_share

    rng = np.random.default_rng(np.random.SeedSequence([12, 3]))
    jc = rng.integers(0, 6, 6000)
    caseload = 20 + 4 * jc + rng.normal(0, 3, jc.size)
    y = (rng.random(jc.size) < 0.05 + 0.03 * jc).astype(np.int8)  # share rises with the centre, not caseload
    weeks = pd.DataFrame({"person_id": np.arange(jc.size) // 4, "jobcentre_id": jc, "in_internship_or_hours": y,
                          "caseload": caseload, "casemiss": 0, "caseload_change": caseload - 30, "change_miss": 0})
    within = {r.estimand: r for r in table9_10_share(weeks, inference=Inference())}
    pooled = {r.estimand: r for r in table9_10_share(weeks, fixed_effects=None, inference=Inference())}
    assert pooled["caseload"].estimate > 0.005 and pooled["caseload"].p_value < 0.001  # confounded
    assert abs(within["caseload"].estimate) < 2 * within["caseload"].se
    ref = sm.ols("in_internship_or_hours ~ caseload + C(jobcentre_id)", data=weeks).fit()  # casemiss is all 0
    assert within["caseload"].estimate == pytest.approx(ref.params["caseload"], rel=1e-9)


# --------------------------------------------------------------------------- failed replicates, Tables 4 and 7

SMALL_JC = 14


def _with_a_small_cell(spells: pd.DataFrame) -> pd.DataFrame:
    """A participating centre with 30 persons before and 2 in the intervention period: most
    resamples of persons draw its D=1, E=1 cell, about e^−2 ≈ 14 % draw it empty (singular)."""
    rng = np.random.default_rng(21)
    rows = []
    for i in range(32):
        e = int(i >= 30)
        for _ in range(2):
            rows.append((1, e, SMALL_JC, 3_000_000 + i, int(rng.integers(1, 40)), int(rng.random() < 0.8)))
    small = pd.DataFrame(rows, columns=spells.columns).astype(spells.dtypes.to_dict())
    return pd.concat([spells, small], ignore_index=True)


@pytest.mark.parametrize("table", [table4, table7])
def test_a_small_cell_with_failed_replicates_is_withheld_in_tables_4_and_7(spells, table):
    res = table(_with_a_small_cell(spells), inference=Inference(replicates=99, seed=7))
    rows = res.rows.assign(jc=res.rows["jobcentre_id"].astype("Int64").fillna(-1)).set_index(["jc", "estimand"])
    small, national = rows.loc[SMALL_JC], rows.loc[-1]
    # the small centre's fit fails in the resamples that draw its cell empty, and only there
    assert (small["replicate_failure_share"] > 0.05).all() and np.isfinite(small["estimate"]).all()
    assert small[["se", "ci_low", "ci_high", "p_value"]].isna().all().all()  # withheld, never dropped
    assert res.notes["bootstrap_failed_replicates_by_fit"][str(SMALL_JC)] > 5
    assert (national["replicate_failure_share"] <= 0.01).all() and (national["se"] > 0).all()
    # the flow's check on the replicates file withholds the same rows
    _, withheld = withhold_unstable_intervals(res.rows, res.replicates, res.rows["analysis"].iloc[0])
    assert withheld == sorted(replicate_key(e, SMALL_JC, "intervention") for e in DID_ESTIMANDS)
