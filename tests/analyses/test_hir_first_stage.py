"""The first-stage caseload table (HIR main report, Tabel 1): the FTE caseload rule on hand-made
records, the change and DiD with job-centre-level inference, and recovery of the caseloads the
synthetic generator plants."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from bipdask.analyses.hir.first_stage import (
    FIRST_STAGE_ANALYSIS,
    MONITORING_PERIODS,
    caseload_cells,
    caseload_table,
    first_stage_periods,
)
from bipdask.errors import InputError
from bipdask.inference.config import Inference
from bipdask.prepare.outcomes import treated_jobcentre_ids
from bipdask.spec import Period, load_spec
from bipdask.synth import generate
from bipdask.synth.hir import params as P

SPEC = load_spec("hir")
BASELINE, INTERVENTION = SPEC.caseload_baseline, SPEC.intervention
JAN = pd.Timestamp("2018-01-01")  # a Monday, in the baseline (Jan-Feb 2018)
MAR = pd.Timestamp("2018-03-05")  # the first Monday of the intervention period
WILD = Inference(replicates=199, seed=5, method="wild")


def records(*rows) -> pd.DataFrame:
    """Contract caseload rows from (caseworker, job centre, week Monday, n_cases, weekly_hours)."""
    return pd.DataFrame(rows, columns=["caseworker_id", "jobcentre_id", "week", "n_cases", "weekly_hours"]).astype(
        {"caseworker_id": "int64", "jobcentre_id": "int32", "n_cases": "int32", "weekly_hours": "float64"})


def table(caseload, treated, inference=WILD):
    est = caseload_table(caseload, treated_ids=treated, baseline=BASELINE, intervention=INTERVENTION,
                         inference=inference, plausible=SPEC.caseload_plausible)
    return est, est.rows.set_index(["estimand", "jobcentre_id", "period"], drop=False)


def test_fte_is_cases_times_37_over_hours_and_typing_errors_are_left_out():
    # 15 cases in 18.5 hours is a caseload of 30 (the HIR quantitative report's example); 1 case in 37
    # hours (FTE 1) and 140 cases (FTE 140) are typing errors outside the plausible range [5, 90].
    rec = records((1, 7, JAN, 15, 18.5), (2, 7, JAN, 40, 37.0), (2, 7, JAN + pd.Timedelta(weeks=1), 1, 37.0),
                  (1, 7, JAN + pd.Timedelta(weeks=1), 140, 37.0), (3, 7, JAN, 20, 0.0))  # no hours: undefined
    cells = caseload_cells(rec, {"baseline": BASELINE}, plausible=(5.0, 90.0))
    row = cells.iloc[0]
    assert row["mean"] == pytest.approx((30 + 40) / 2) and row["caseworkers"] == 2 and row["caseworker_weeks"] == 2


def test_a_week_counts_in_the_periods_holding_its_monday_and_the_average_is_the_mean_of_centre_means():
    sunday_feb = pd.Timestamp("2018-03-04")  # the week of Monday 2018-02-26: baseline, not intervention
    rec = records((1, 7, sunday_feb, 37, 37.0), (1, 7, MAR, 30, 37.0), (2, 8, JAN, 20, 37.0),
                  (3, 8, JAN, 20, 37.0), (4, 8, JAN, 20, 37.0), (2, 8, MAR, 25, 37.0),
                  (5, 7, pd.Timestamp("2018-06-04"), 33, 37.0))  # June: the 2nd monitoring period
    est, rows = table(rec, treated=[7, 8], inference=Inference())
    assert rows.loc[("caseload_fte", 7, "baseline"), "estimate"] == pytest.approx(37.0)
    assert rows.loc[("caseload_fte", 7, "mar_may_2018"), "estimate"] == pytest.approx(30.0)
    assert rows.loc[("caseload_fte", 7, "jun_aug_2018"), "estimate"] == pytest.approx(33.0)
    assert rows.loc[("caseload_fte", 7, "intervention"), "estimate"] == pytest.approx(31.5)
    # centre 8 has three caseworker-weeks at 20 in the baseline: the average is (37 + 20) / 2, not weighted
    pooled = est.rows[(est.rows["estimand"] == "caseload_fte") & est.rows["jobcentre_id"].isna()].set_index("period")
    assert pooled.loc["baseline", "estimate"] == pytest.approx((37.0 + 20.0) / 2)
    assert pooled.loc["baseline", "n_persons"] == 4 and pooled.loc["baseline", "n_obs"] == 4
    change = est.rows[est.rows["estimand"] == "change"].iloc[0]
    assert change["estimate"] == pytest.approx(((31.5 - 37.0) + (25.0 - 20.0)) / 2)
    assert change["inference"] == "analytic" and change["n_clusters"] == 2
    assert set(est.rows["analysis"]) == {FIRST_STAGE_ANALYSIS}


def test_monitoring_periods_outside_the_spec_intervention_are_not_reported():
    short = Period(dt.date(2018, 3, 1), dt.date(2018, 8, 31))
    assert list(first_stage_periods(BASELINE, short)) == ["baseline", "intervention", "mar_may_2018",
                                                          "jun_aug_2018"]
    assert set(first_stage_periods(BASELINE, INTERVENTION)) == {"baseline", "intervention", *MONITORING_PERIODS}


def _panel(treated_fall: float, comparison_fall: float, n_centres: int = 6, seed: int = 1) -> pd.DataFrame:
    """Caseload records: 2·n_centres centres (ids 1.. participating, 101.. comparison), 3 caseworkers
    each, 8 baseline and 8 intervention weeks; the centre means fall by the given amounts."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, fall in ((0, treated_fall), (100, comparison_fall)):
        for j in range(1, n_centres + 1):
            level = rng.normal(40, 5)
            shift = fall + rng.normal(0, 1.0)
            for k in range(3):
                cw = 1000 * (g + j) + k
                for w in range(8):
                    rows.append((cw, g + j, JAN + pd.Timedelta(weeks=w), round(level), 37.0))
                    rows.append((cw, g + j, MAR + pd.Timedelta(weeks=w), round(level - shift), 37.0))
    return records(*rows)


def test_did_against_comparison_centres_with_wild_inference_at_job_centre_level():
    rec = _panel(treated_fall=8.0, comparison_fall=0.0)
    est, rows = table(rec, treated=range(1, 7))
    did = rows.loc[("did", None, "intervention")]
    cells = caseload_cells(rec, {"baseline": BASELINE, "intervention": INTERVENTION})
    wide = cells.pivot(index="jobcentre_id", columns="period", values="mean")
    change = wide["intervention"] - wide["baseline"]
    assert did["estimate"] == pytest.approx(change[change.index < 100].mean() - change[change.index > 100].mean())
    assert did["inference"] == "wild" and did["cluster_level"] == "jobcentre" and did["n_clusters"] == 12
    assert did["p_value"] < 0.05 and did["ci_low"] < -8.0 + 2.5 and did["ci_high"] < 0
    assert did["n_replicates"] == 199
    others = rows.loc[("caseload_fte_others", None, "baseline")]
    assert others["n_clusters"] == 6 and abs(others["estimate"] - 40) < 5
    assert est.notes["comparison_centres_with_caseload"] == 6


def test_no_did_without_comparison_centres_and_a_null_did_is_not_significant():
    alone, _ = table(_panel(8.0, 0.0)[lambda f: f["jobcentre_id"] < 100], treated=range(1, 7))
    assert "did" not in set(alone.rows["estimand"]) and "not identified" in alone.notes["did"]
    _, nrows = table(_panel(5.0, 5.0, seed=3), treated=range(1, 7))
    assert nrows.loc[("did", None, "intervention"), "p_value"] > 0.05
    assert nrows.loc[("change", None, "intervention"), "p_value"] < 0.05  # both fell: the change is real


def test_a_caseload_without_a_column_is_an_input_error_naming_it():
    with pytest.raises(InputError, match="caseload.weekly_hours"):
        caseload_cells(records((1, 7, JAN, 15, 18.5)).drop(columns="weekly_hours"), {"baseline": BASELINE})


# --------------------------------------------------------------------------- planted caseloads

SUBPERIODS = ("baseline", *MONITORING_PERIODS)  # the order of params.TABLE1_CASELOAD_FTE's tuples


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, scale=0.2, seed=11, workers=1)
    jobcentres = pd.read_parquet(out / "jobcentres.parquet")
    treated, _ = treated_jobcentre_ids(jobcentres, SPEC.treated_jobcentres)
    names = jobcentres.drop_duplicates("jobcentre_id").set_index("jobcentre_id")["name"].to_dict()
    est, rows = table(pd.read_parquet(out / "caseload.parquet"), treated)
    return est, rows, names, json.loads((out / "truth.json").read_text())


def test_recovers_each_centres_realised_caseload_per_period(synthetic):
    # The generator's realised mean of the TRUE FTE caseloads per centre and sub-period; the records
    # differ only by the unreported weeks (0.8 %) and the typing errors (2 %) this table leaves out,
    # so a centre's mean moves by far less than 1 FTE (weekly noise SD 1.2 over ≥ 16 caseworker-weeks).
    _, rows, names, truth = synthetic
    realised = truth["realised"]["caseload_fte_true_mean_by_subperiod"]
    errors = [rows.loc[("caseload_fte", jc, p), "estimate"] - realised[name][i]
              for jc, name in names.items() if name in realised for i, p in enumerate(SUBPERIODS)]
    assert len(errors) == 15 * 6 and np.max(np.abs(errors)) < 1.0


def test_recovers_the_planted_caseloads_and_their_fall(synthetic):
    # Planted: the HIR main report's Tabel 1 per centre and sub-period. A centre's mean leaves it by the
    # caseworkers' persistent deviations (SD 3.5, centred within the centre but not for replaced
    # leavers), weekly noise and whole cases: measured SD 0.29 over the 90 centre-periods at this scale;
    # 2 FTE is about 7 SDs. The averages over 15 centres must be within 0.5 of 38.9 and 30.3.
    est, rows, names, _ = synthetic
    for jc, name in names.items():
        if name in P.TABLE1_CASELOAD_FTE:
            for i, p in enumerate(SUBPERIODS):
                assert abs(rows.loc[("caseload_fte", jc, p), "estimate"] - P.TABLE1_CASELOAD_FTE[name][i]) < 2.0
    assert abs(rows.loc[("caseload_fte", None, "baseline"), "estimate"] - 38.9) < 0.5
    assert abs(rows.loc[("caseload_fte", None, "intervention"), "estimate"] - 30.3) < 0.5
    change = rows.loc[("change", None, "intervention")]
    assert abs(change["estimate"] - (30.3 - 38.9)) < 0.7
    assert change["inference"] == "wild" and change["n_clusters"] == 15 and change["p_value"] < 0.05
    assert change["ci_low"] < change["estimate"] < change["ci_high"] < 0
    assert "did" not in set(est.rows["estimand"])  # the generator plants caseloads only where the cap was


def test_the_spec_reads_the_plausible_caseload_range():
    from bipdask.spec import parse_spec

    assert SPEC.caseload_plausible == (5.0, 90.0) and SPEC.caseload_trim == (13.0, 50.0)
    raw = {"name": "x", "treated_jobcentres": ["Faxe"], "caseload": {"plausible": [10, 60]},
           "periods": {"before": ["2017-03-01", "2018-02-28"], "intervention": ["2018-03-01", "2019-03-31"]}}
    assert parse_spec(raw).caseload_plausible == (10.0, 60.0)
