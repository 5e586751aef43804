"""Planted truth recovered on the synthetic national panel (correctness of the estimators).

The generator (bipdask.synth) simulates LAB gaps as a discrete-week Weibull PH process with
per-job-centre linear predictors from Tabel 4 and a caseload hazard ratio of 0.955 per FTE
unit on within-job-centre deviations (truth.json → planted.gap_hazard / caseload_effect).
These tests run the library's own spells, linkage and estimators on one delivery: the fits equal
lifelines' on the same rows, the bootstrap intervals are the replicates' percentile intervals, and
the 30 per-job-centre contrasts show no excess spread around the planted values. Whether the
intervals cover what was planted is a property over many deliveries, measured in
``benchmarks/coverage.py`` (section ``recovery``; results in benchmarks/results/coverage.json).

Table 8 (exits from the course, eq. 3): the population truth is the β of eq. (3) computed from
the DGP's (D, E, week) cell sums at scale 20 (truth.json → population.exit, see
bipdask/synth/hir/truth.py ``aggregate_exits``); the delivery's own cell sums (realised.sample_exit)
must give the estimate exactly.

Table 7's share block (new courses): nothing is planted for it and the population truth has no
value; the delivery's own cell sums, counted from the generator's course spans
(``_truth/courses.parquet``, :func:`bipdask.synth.hir.truth.sample_new_course_share`), must give the
estimate exactly.
"""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from bipdask.analyses.estimates import estimates_frame
from bipdask.analyses.hir.exits import persons_exits, table8_exits, table8_persons
from bipdask.analyses.hir.shares import share_did_table
from bipdask.data import delivery
from bipdask.data.weeks import period_week_bounds, week_ordinal
from bipdask.estimators.cox import cox_ph
from bipdask.estimators.weibull import weibull_ph
from bipdask.inference.config import Inference
from bipdask.prepare import linkage, spells
from bipdask.prepare.outcomes import new_course_share_cell_sums
from bipdask.prepare.spells import EXIT_DESTINATIONS
from bipdask.spec import Period
from bipdask.synth import generate
from bipdask.synth.hir.geography import participating_jobcentre_ids
from bipdask.synth.hir.params import TABLE8_EXIT_PCT
from bipdask.synth.hir.truth import sample_new_course_share

BEFORE = ("2017-03-01", "2018-02-28")
INTERVENTION = ("2018-03-01", "2019-03-31")


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "delivery"
    # Person-level estimators against the planted parameters: without the job-centre × period
    # shocks, whose realised values move every job centre's x'b and share off the planted ones
    # (person-clustered intervals do not cover that; job-centre-level inference is for it).
    generate(out, scale=0.3, seed=5, workers=1, jobcentre_shocks=False)
    codes = delivery.read_table(out, "dream_codes")
    treated = list(participating_jobcentre_ids())
    gaps, tv, exits, new_cells = [], [], [], []
    windows = {k: Period(*(dt.date.fromisoformat(x) for x in v)) for k, v in (("before", BEFORE),
                                                                             ("intervention", INTERVENTION))}
    assignments = delivery.read_table(out, "assignments")
    caseload = delivery.read_table(out, "caseload")
    for part in sorted((out / "weeks").glob("*.parquet")):
        weeks = spells.with_course_status(pd.read_parquet(part), codes)
        new_cells.append(new_course_share_cell_sums(weeks, treated, windows))
        for e, (a, b) in enumerate((BEFORE, INTERVENTION)):
            g = spells.gap_spells(weeks, period_start=a, period_end=b, treated_jobcentre_ids=treated, E=e)
            gaps.append(g)
            x = spells.course_exits(weeks, period_start=a, period_end=b, treated_jobcentre_ids=treated, E=e)
            exits.append(x[x["destination"] != "unobserved"])  # the panel's last week: next week unseen
            jc = int(weeks["jobcentre_id"].iloc[0])
            if e == 1 and jc in treated:
                linked = linkage.link_caseload(weeks[weeks["in_course"]], assignments[assignments.jobcentre_id == jc],
                                               caseload[caseload.jobcentre_id == jc], period_start=a, period_end=b)
                tv.append(spells.time_varying_rows(g, linked))
    gaps = pd.concat(gaps, ignore_index=True)
    # A censored gap of d observed weeks survived d − 1 whole weeks: a start drawn in its last
    # week would only show the week after the period (or course) ended.
    gaps["t"] = np.where(gaps["event"] == 1, gaps["duration"], gaps["duration"] - 1)
    gaps["DE"] = gaps["D"] * gaps["E"]
    full = json.loads((out / "truth.json").read_text())
    truth = full["planted"]
    names = delivery.read_table(out, "jobcentres").drop_duplicates("jobcentre_id").set_index("jobcentre_id")["name"]
    return {"gaps": gaps, "tv": pd.concat(tv, ignore_index=True), "truth": truth, "names": names,
            "exits": pd.concat(exits, ignore_index=True), "sample_exit": full["realised"]["sample_exit"],
            "population": full["population"], "new_cells": pd.concat(new_cells, ignore_index=True),
            "courses": pd.read_parquet(out / "_truth" / "courses.parquet"),
            "last_week": pd.read_parquet(out / "weeks", columns=["week"])["week"].max(),
            "new_course_truth": sample_new_course_share(
                pd.read_parquet(out / "_truth" / "courses.parquet"),
                pd.read_parquet(out / "weeks", columns=["person_id", "week", "lab_type", "ordinary_hours"]),
                {"before": BEFORE, "intervention": INTERVENTION}, treated)}


def _percentiles(replicates: pd.DataFrame) -> pd.DataFrame:
    """The documented bootstrap interval with no failed replicate: the 2.5 and 97.5 % points of
    each column (numpy's linear quantile)."""
    assert np.isfinite(replicates.to_numpy()).all()
    return pd.DataFrame(np.quantile(replicates.to_numpy(), [0.025, 0.975], axis=0).T,
                        index=replicates.columns, columns=["lower", "upper"])


def test_weibull_comparison_fit_is_lifelines_and_its_interval_the_replicates_percentiles(panel):
    """Exact checks on this delivery: the comparison centres' grouped-week Weibull fit equals
    lifelines' interval-censored Weibull on the same spells (event in week t: T ∈ (t − 1, t];
    censored: T > t), and the bootstrap interval is the replicates' percentile interval. Whether
    the intervals cover the planted ``_cons``, ``gamma_E``, ``ln_p`` over many deliveries:
    ``benchmarks/coverage.py`` (section ``recovery``)."""
    from lifelines import WeibullAFTFitter

    others = panel["gaps"][panel["gaps"]["D"] == 0]
    fit = weibull_ph(others, duration="t", event="event", covariates=["E"], cluster="person_id", interval=True,
                     bootstrap=99, seed=11)
    cells = others.groupby(["t", "event", "E"]).size().rename("n").reset_index()
    cells = cells[(cells["t"] > 0) | (cells["event"] == 1)]  # censored at 0 weeks: likelihood factor 1
    cells = cells.assign(lower=np.where(cells["event"] == 1, cells["t"] - 1.0, cells["t"].astype(float)),
                         upper=np.where(cells["event"] == 1, cells["t"].astype(float), np.inf))
    aft = WeibullAFTFitter().fit_interval_censoring(cells[["lower", "upper", "E", "n"]], "lower", "upper",
                                                    weights_col="n")
    rho = np.exp(aft.params_.loc[("rho_", "Intercept")])
    assert fit.params["ln_p"] == pytest.approx(np.log(rho), rel=1e-4)
    assert fit.params["E"] == pytest.approx(-aft.params_.loc[("lambda_", "E")] * rho, rel=1e-4, abs=1e-5)
    assert fit.params["_cons"] == pytest.approx(-aft.params_.loc[("lambda_", "Intercept")] * rho, rel=1e-4)
    pd.testing.assert_frame_equal(fit.conf_int(kind="bootstrap"), _percentiles(fit.bootstrap.replicates),
                                  check_names=False, rtol=1e-12)


def test_weibull_per_centre_contrasts_have_no_excess_spread_around_the_planted_hazards(panel):
    """The 30 planted contrasts (x'b of each participating centre before and during): the mean
    of z² is ≈ 1 for a correct fit and ≈ 5 if every contrast is 2 SEs off. Bound 2.5: a χ²₃₀ / 30
    exceeds it with probability 1e-5 (the two contrasts of a centre share data, which raises
    that to at most ~1e-3, the bound for 15 pairs of perfectly correlated z). Coverage of each
    contrast's interval over many deliveries: ``benchmarks/coverage.py`` (section ``recovery``)."""
    gaps = panel["gaps"]
    others = gaps[gaps["D"] == 0]
    planted = panel["truth"]["gap_hazard"]["jobcentre_xb"]
    z = []
    for jc in participating_jobcentre_ids():
        sub = pd.concat([gaps[(gaps["D"] == 1) & (gaps["jobcentre_id"] == jc)], others], ignore_index=True)
        fit = weibull_ph(sub, duration="t", event="event", covariates=["D", "E", "DE"], cluster="person_id",
                         interval=True)
        for contrast, want in zip((["_cons", "D"], ["_cons", "D", "E", "DE"]), planted[panel["names"][jc]]):
            c = fit.params.index.isin(contrast).astype(float)
            est, se = c @ fit.params.to_numpy(), np.sqrt(c @ fit.cov.to_numpy() @ c)
            z.append((est - want) / se)
    z = np.array(z)
    assert len(z) == 30 and np.mean(z ** 2) < 2.5, z


def test_cox_caseload_fit_is_lifelines_and_its_interval_the_replicates_percentiles(panel):
    """Exact checks on this delivery: the stratified Cox fit of the caseload hazard ratio equals
    lifelines' on the same counting-process rows, and the bootstrap interval is the replicates'
    percentile interval. Coverage of the planted log hazard ratio over many deliveries:
    ``benchmarks/coverage.py`` (section ``recovery``)."""
    from lifelines import CoxTimeVaryingFitter

    tv = panel["tv"]
    fit = cox_ph(tv, start="start", duration="stop", event="event", covariates=["caseload", "casemiss"],
                 strata="jobcentre_id", cluster="person_id", bootstrap=49, seed=3)
    ref = CoxTimeVaryingFitter().fit(tv[["jobcentre_id", "person_id", "start", "stop", "event", "caseload",
                                         "casemiss"]],
                                     id_col="person_id", event_col="event", start_col="start", stop_col="stop",
                                     strata=["jobcentre_id"])
    for term in ("caseload", "casemiss"):
        assert fit.params[term] == pytest.approx(ref.params_[term], rel=1e-5), term
    pd.testing.assert_frame_equal(fit.conf_int(kind="bootstrap"), _percentiles(fit.bootstrap.replicates),
                                  check_names=False, rtol=1e-12)


@pytest.fixture(scope="module")
def table8(panel):
    return estimates_frame(table8_exits(panel["exits"], inference=Inference(replicates=199, seed=8)))


def test_table8_estimate_is_the_generators_own_eq3_beta_exactly(panel, table8):
    # course_exits reads the same person-weeks and exits the generator counted from its arrays
    sample = panel["sample_exit"]
    for (d, e), cell in panel["exits"].groupby(["D", "E"]):
        who, per = ("participating" if d else "other"), ("before", "intervention")[e]
        assert len(cell) == sample["cell_person_weeks"][who][per]
        for dest, n in sample["cell_exits"].items():
            assert int(cell[f"exit_{dest}"].sum()) == n[who][per], (dest, who, per)
    did = table8.set_index("estimand")
    for dest, beta in sample["did_eq3"].items():
        assert did.loc[dest, "estimate"] == pytest.approx(beta, abs=1e-12), dest


def test_table8_exit_did_has_no_gross_bias_against_the_population_truth(panel, table8):
    # Planted (Tabel 8's percent of persons → weekly rates): −0.6, +0.6, +1.2, −0.9 per 10,000
    # person-weeks, i.e. 0.2–0.6 bootstrap SEs at this scale. That the estimate is the sample's
    # own eq. (3) β is checked exactly above; whether 95 % intervals cover 95 % of the time is a
    # property over many draws, not of this one delivery (benchmarks/coverage.py draws the DiD
    # designs of Tables 6 and A/4; Table 8 has none yet). Here only a
    # bound no correct estimator misses by chance: |z| < 3.5 (probability 5e-4 per estimate).
    pop = panel["population"]["exit"]
    did = table8[table8["period"] == "intervention"].set_index("estimand")
    z = []
    for dest, planted in pop["did_eq3_planned"].items():
        r = did.loc[dest]
        assert planted != 0.0 and abs(planted - pop["did_eq3"][dest]) < 0.2 * r["se"], dest
        z.append(abs(r["estimate"] - planted) / r["se"])
    assert max(z) < 3.5, z
    # the weekly exit rates of the 16 D × period × destination cells: Wald z against the population
    z = []
    for dest, rates in pop["cell_rate"].items():
        for who, label in (("participating", "mean_participating"), ("other", "mean_others")):
            rows = table8[table8["estimand"] == f"{dest}:{label}"].set_index("period")
            for per, want in rates[who].items():
                r = rows.loc[per]
                z.append((r["estimate"] - want) / r["se"])
    z = np.abs(np.array(z))
    assert len(z) == 16 and np.all(z < 3.5)


@pytest.fixture(scope="module")
def table8_persons_rows(panel):
    return estimates_frame(table8_persons(persons_exits(panel["exits"]), inference=Inference())).set_index(
        ["estimand", "period"])


def test_table8_persons_shares_are_the_generators_own_course_ends_exactly(panel, table8_persons_rows):
    """The share of persons exiting to d: persons whose course (the generator's span) overlaps the
    period's weeks with an observable next week, and of them those whose course ends there to d."""
    c = panel["courses"]
    start, end = week_ordinal(c["course_start"]), week_ordinal(c["course_end"])
    last = int(week_ordinal([panel["last_week"]])[0])
    participating = np.isin(c["jobcentre_id"].to_numpy(), list(participating_jobcentre_ids()))
    for e, (a, b) in enumerate((BEFORE, INTERVENTION)):
        p0, p1 = period_week_bounds(a, b)
        p1 = min(p1, last - 1)  # the panel's last week: where it went is not observed
        present = (start <= p1) & (end >= p0)
        for dest in EXIT_DESTINATIONS:
            exits = present & (end <= p1) & (c["destination"].to_numpy() == dest)
            for d, side in ((True, "persons_participating"), (False, "persons_others")):
                who = participating == d
                got = table8_persons_rows.loc[(f"{dest}:{side}", ("before", "intervention")[e]), "estimate"]
                assert got == pytest.approx(exits[who].sum() / present[who].sum(), abs=1e-15), (dest, side, e)


def test_table8_persons_shares_cover_the_planted_percentages(table8_persons_rows):
    """The generator plants the report's Tabel 8 percentages as the expected share of a period's
    persons exiting to each destination (synth params TABLE8_EXIT_PCT): Wald z of the 16 cells."""
    z = []
    for dest, planted in TABLE8_EXIT_PCT.items():
        for d, side in ((True, "persons_participating"), (False, "persons_others")):
            for e, per in enumerate(("before", "intervention")):
                r = table8_persons_rows.loc[(f"{dest}:{side}", per)]
                z.append((r["estimate"] - planted[d][e] / 100) / r["se"])
    z = np.abs(np.array(z))
    assert len(z) == 16 and np.mean(z < 1.96) >= 14 / 16 and np.all(z < 3.5), z


def test_table7_new_course_share_is_the_generators_own_count_exactly(panel):
    # nothing planted (no population value): the library's new-course rule (52-week lookback on
    # DREAM codes) must find the generator's course starts, and its weeks and outcomes
    truth, cells = panel["new_course_truth"], panel["new_cells"]
    for (d, per), cell in cells.groupby(["d", "period"]):
        who = "participating" if d else "other"
        assert len(cell) == truth["cell_persons"][who][per] > 0, (who, per)
        assert int(cell["n_weeks"].sum()) == truth["cell_weeks"][who][per], (who, per)
        assert int(cell["n_yes"].sum()) == truth["cell_yes"][who][per], (who, per)
    rows = {(r.estimand, r.period): r.estimate
            for r in share_did_table(cells, treated_ids=(), before="before", after=["intervention"])}
    assert rows[("did", "intervention")] == pytest.approx(truth["did_share"], abs=1e-12)
    assert rows[("mean_others", "before")] == pytest.approx(truth["cell_share"]["other"]["before"], abs=1e-12)
