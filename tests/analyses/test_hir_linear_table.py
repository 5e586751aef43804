"""HIR Tables 3, 8, 9–10 as linear models (bipdask.analyses.hir.linear_table) — hand cases and planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bipdask.analyses.estimates import estimates_frame
from bipdask.analyses.hir.beliefs import belief_percentages, table3_belief
from bipdask.analyses.hir.exits import table8_exits
from bipdask.analyses.hir.linear_table import LinearTable
from bipdask.analyses.hir.mediators import table9_10_share
from bipdask.errors import InputError
from bipdask.inference.config import Inference
from bipdask.prepare.spells import EXIT_DESTINATIONS


def exit_weeks(effect: float, seed: int = 0, persons: int = 600, weeks: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    frames = []
    for e, start in ((0, "2017-03-06"), (1, "2018-03-05")):
        pid = np.repeat(np.arange(persons), weeks)
        wk = np.tile(pd.date_range(start, periods=weeks, freq="7D"), persons)
        f = pd.DataFrame({"person_id": pid, "jobcentre_id": 1 + pid % 5, "week": wk,
                          "D": (pid < persons // 3).astype(int), "E": e})
        tau = np.tile(np.arange(weeks), persons)
        for d in EXIT_DESTINATIONS:
            p = 0.02 + 0.002 * tau + (effect if d == "flex_job" else 0.0) * f["D"] * e
            f[f"exit_{d}"] = (rng.random(len(f)) < p).astype(np.int8)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def test_table8_matches_statsmodels_with_week_dummies_and_recovers_planted_effect():
    df = exit_weeks(0.03)
    rows = estimates_frame(table8_exits(df, inference=Inference(replicates=99, seed=1)))
    eff = rows[rows["estimand"].isin(EXIT_DESTINATIONS)].set_index("estimand")
    assert set(eff.index) == set(EXIT_DESTINATIONS) and (eff["period"] == "intervention").all()
    flex = eff.loc["flex_job"]
    assert flex["ci_low"] < 0.03 < flex["ci_high"] and flex["p_value"] < 0.05
    assert flex["n_persons"] == 600 and flex["n_obs"] == len(df)
    # β of eq. (3) = statsmodels OLS with τ dummies
    tau = pd.get_dummies(np.tile(np.arange(12), 2 * 600), prefix="tau", dtype=float)
    X = pd.concat([df[["D", "E"]].astype(float), (df["D"] * df["E"]).rename("DE").astype(float), tau], axis=1)
    ref = sm.OLS(df["exit_flex_job"].astype(float), X).fit()
    assert flex["estimate"] == pytest.approx(ref.params["DE"], abs=1e-12)
    means = rows[rows["estimand"] == "flex_job:mean_participating"].set_index("period")["estimate"]
    sub = df[df["D"] == 1]
    assert means["before"] == pytest.approx(sub.loc[sub["E"] == 0, "exit_flex_job"].mean())
    assert means["intervention"] == pytest.approx(sub.loc[sub["E"] == 1, "exit_flex_job"].mean())


def test_table8_without_a_group_is_an_input_error():
    df = exit_weeks(0.0, persons=30)
    with pytest.raises(InputError, match="D×E group"):
        table8_exits(df[df["D"] == 0], inference=Inference(replicates=0))


def survey(seed: int = 0, n: int = 60, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    cw = np.arange(n)
    jc = cw % 4
    base = rng.uniform(0.2, 0.6, n)
    pre = pd.DataFrame({"caseworker_id": cw, "jobcentre_id": jc, "wave": "pre", "n_caseload": 30})
    post = pre.assign(wave="post", n_caseload=40)
    for col in ("n_internship_3m", "n_ordinary_hours_1y", "n_job_2y"):
        pre[col] = np.round(base * 30).astype(int)
        post[col] = np.round(np.clip(base + shift + rng.normal(0, 0.02, n), 0, 1) * 40).astype(int)
    return pd.concat([pre, post], ignore_index=True)


def test_belief_percentages_hand_case():
    s = pd.DataFrame({"caseworker_id": [1, 2], "jobcentre_id": [1, 1], "wave": ["pre", "pre"], "n_caseload": [40, 0],
                      "n_internship_3m": [10, 1], "n_ordinary_hours_1y": [4, 1], "n_job_2y": [0, 1]})
    out = belief_percentages(s)
    assert len(out) == 1  # zero caseload dropped
    assert (out.loc[0, ["belief_internship_3m", "belief_ordinary_hours_1y", "belief_job_2y"]].tolist()
            == [25.0, 10.0, 0.0])


def test_table3_uses_caseworkers_in_both_waves_and_finds_planted_shift():
    s = survey(shift=0.10)
    s = pd.concat([s, pd.DataFrame({"caseworker_id": [999], "jobcentre_id": [0], "wave": ["pre"], "n_caseload": [10],
                                    "n_internship_3m": [10], "n_ordinary_hours_1y": [10], "n_job_2y": [10]})])
    rows = estimates_frame(table3_belief(s, pd.DataFrame({"jobcentre_id": range(4)}),
                                         inference=Inference(replicates=199, seed=2)))
    diff = rows[rows["period"] == "difference"].set_index("estimand")
    assert (diff["n_persons"] == 60).all() and (diff["n_obs"] == 120).all()
    assert ((diff["estimate"] > 7) & (diff["estimate"] < 13) & (diff["p_value"] < 0.05)).all()
    pre = rows[rows["period"] == "pre"].set_index("estimand")
    both = belief_percentages(s[s["caseworker_id"] != 999], wave="pre")
    assert pre.loc["internship_3m", "estimate"] == pytest.approx(both["belief_internship_3m"].mean())
    with pytest.raises(InputError, match="not in jobcentres"):
        table3_belief(s, pd.DataFrame({"jobcentre_id": [0]}), inference=Inference(replicates=0))


def test_table3_difference_controls_for_job_centre():
    # Same caseworkers, but job centre 1's answers rise by 20 pp and everyone else's are flat;
    # the FE estimate is the pooled within-caseworker change: (20·15)/60 = 5 pp.
    s = survey(shift=0.0, n=60)
    s.loc[(s["wave"] == "post") & (s["jobcentre_id"] == 1), "n_internship_3m"] += 8  # +20 % of 40
    rows = estimates_frame(table3_belief(s, inference=Inference(replicates=0)))
    diff = rows[(rows["period"] == "difference") & (rows["estimand"] == "internship_3m")]
    pre_post = s.pivot_table(index="caseworker_id", columns="wave", values="n_internship_3m")
    assert diff["estimate"].iloc[0] == pytest.approx(5.0, abs=1.0)
    assert pre_post.shape == (60, 2)


def test_table9_10_share_coefficients_and_skip_missing_models():
    rng = np.random.default_rng(4)
    n = 4000
    pw = pd.DataFrame({"person_id": np.repeat(np.arange(400), 10), "caseload": rng.normal(30, 5, n),
                       "casemiss": (rng.random(n) < 0.05).astype(int), "belief_internship_3m": rng.uniform(0, 80, n)})
    pw.loc[pw["casemiss"] == 1, "caseload"] = 0.0
    pw["in_internship_or_hours"] = (rng.random(n) < 0.1 + 0.004 * pw["caseload"]).astype(int)
    rows = estimates_frame(table9_10_share(pw, inference=Inference(replicates=99, seed=3)))
    assert set(zip(rows["analysis"], rows["estimand"])) == {("hir_table9", "caseload"),
                                                            ("hir_table10", "internship_3m")}
    X = sm.add_constant(pw[["caseload", "casemiss"]].astype(float))
    ref = sm.OLS(pw["in_internship_or_hours"].astype(float), X).fit()
    got = rows.set_index("estimand").loc["caseload", "estimate"]
    assert got == pytest.approx(ref.params["caseload"], abs=1e-12)
    assert rows["se"].notna().all() and (rows["n_persons"] == 400).all()


def test_return_fits_gives_the_same_rows_and_the_fits_replicates_without_refitting():
    df = exit_weeks(0.03, persons=300)
    plain = table8_exits(df, inference=Inference(replicates=49, seed=1))
    tab = table8_exits(df, return_fits=True, inference=Inference(replicates=49, seed=1))
    assert isinstance(tab, LinearTable) and tab.rows == plain
    assert [m.estimand for m in tab.fits] == list(EXIT_DESTINATIONS)
    by_row = {(r.analysis, r.estimand, r.jobcentre_id, r.period): r for r in plain}
    cols = tab.replicate_columns()
    assert set(cols) == {("hir_table8", d, None, "intervention") for d in EXIT_DESTINATIONS}
    for key, reps in cols.items():
        row = by_row[key]
        fit = next(m for m in tab.fits if m.estimand == key[1])
        assert fit.term == "DE" and fit.fit.params["DE"] == row.estimate and reps.shape == (49,)
        assert np.std(reps, ddof=1) == pytest.approx(row.se, rel=1e-12)
        assert fit.fit._state is None  # the O(n) fit state is not kept
    assert table8_exits(df, return_fits=True, inference=Inference(replicates=0)).replicate_columns() == {}


def test_return_fits_of_tables_3_and_9_10_cover_their_bootstrapped_rows():
    t3 = table3_belief(survey(shift=0.05), return_fits=True, inference=Inference(replicates=29, seed=2))
    assert [(m.estimand, m.period, m.term) for m in t3.fits] == [(b, "difference", "post") for b in
                                                                 ("internship_3m", "ordinary_hours_1y", "job_2y")]
    diff = {r.estimand: r for r in t3.rows if r.period == "difference"}
    for m in t3.fits:
        assert np.std(m.replicates, ddof=1) == pytest.approx(diff[m.estimand].se, rel=1e-12)
    rng = np.random.default_rng(5)
    n = 2000
    pw = pd.DataFrame({"person_id": np.repeat(np.arange(200), 10), "caseload": rng.normal(30, 5, n),
                       "casemiss": 0, "caseload_change": rng.normal(0, 3, n), "change_miss": 0,
                       "in_internship_or_hours": (rng.random(n) < 0.2).astype(int)})
    t9 = table9_10_share(pw, return_fits=True, inference=Inference(replicates=29, seed=3))
    assert [(m.analysis, m.estimand, m.term) for m in t9.fits] == [("hir_table9", "caseload", "caseload"),
                                                                   ("hir_table9", "caseload_change", "caseload_change")]
    assert [m.fit.params[m.term] for m in t9.fits] == [r.estimate for r in t9.rows]
