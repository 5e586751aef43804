"""HIR quantitative report Tables 1, 2 and 5: the per-job-centre LAB weeks, the counting and
averaging rules on hand-made weeks, the LAB shares' clustered SE against statsmodels, and recovery
of the persons, background and LAB mix the synthetic generator plants."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.analyses.hir.descriptives import (
    BACKGROUND_ANALYSIS,
    background_values,
    table1_persons,
    table2_background,
    table5_lab_mix,
)
from bipdask.data.contract import LAB_TYPES
from bipdask.errors import InputError
from bipdask.prepare.descriptives import lab_week_sums
from bipdask.prepare.outcomes import comparison_windows, treated_jobcentre_ids
from bipdask.spec import load_spec
from bipdask.synth import generate
from bipdask.synth.hir import params as P

SPEC = load_spec("hir")
WINDOWS = comparison_windows(SPEC)
STARTS = {"before": SPEC.before.start, "intervention": SPEC.intervention.start}
RC, OTHER = 783, 130  # a resource-course and an "other" DREAM code of the synthetic code list
B0 = pd.Timestamp("2017-03-06")  # first Monday of the before period
E0 = pd.Timestamp("2018-03-05")  # first Monday of the intervention period


def weeks(*rows) -> pd.DataFrame:
    """(person, job centre, Monday, dream code, lab type) → contract weeks."""
    f = pd.DataFrame(rows, columns=["person_id", "jobcentre_id", "week", "dream_code", "lab_type"])
    return f.astype({"person_id": "int64", "jobcentre_id": "int32", "dream_code": "float64"})


def test_lab_weeks_count_resource_course_weeks_by_lab_type_per_person_and_period():
    w = weeks((1, 7, B0, RC, "company_internship"), (1, 7, B0 + pd.Timedelta(weeks=1), RC, None),
              (1, 7, B0 + pd.Timedelta(weeks=2), OTHER, "wage_subsidy"),  # not a course week
              (1, 7, E0, RC, "guidance_upskilling"), (2, 7, pd.Timestamp("2017-02-27"), RC, "none"),  # before March
              (2, 7, E0, RC, "none"))
    out = lab_week_sums(w, P.dream_code_list(), [7], WINDOWS).set_index(["person_id", "period"])
    assert sorted(out.index) == [(1, "before"), (1, "intervention"), (2, "intervention")]
    one = out.loc[(1, "before")]
    assert one["n_weeks"] == 2 and one["weeks_company_internship"] == 1 and one["weeks_none"] == 1
    assert one["weeks_wage_subsidy"] == 0 and one["d"] == 1
    assert out.loc[(1, "intervention"), "weeks_guidance_upskilling"] == 1


def lab_frame(rows) -> pd.DataFrame:
    """Hand-made lab_weeks rows from (job centre, person, period, d, {lab type: weeks})."""
    out = []
    for jc, pid, period, d, counts in rows:
        r = {"jobcentre_id": jc, "person_id": pid, "period": period, "d": d, "n_weeks": sum(counts.values())}
        r.update({f"weeks_{t}": counts.get(t, 0) for t in LAB_TYPES})
        out.append(r)
    return pd.DataFrame(out).astype({"jobcentre_id": "int32", "person_id": "int64", "period": "string", "d": "int8"})


HAND = lab_frame([
    (7, 1, "before", 1, {"none": 10, "company_internship": 2}),
    (7, 2, "before", 1, {"guidance_upskilling": 4}),
    (8, 3, "before", 1, {"none": 6}),
    (8, 1, "before", 1, {"none": 1}),  # person 1 also in centre 8: counted in both centres
    (9, 4, "before", 0, {"wage_subsidy": 5, "none": 5}),
    (9, 5, "intervention", 0, {"none": 3}),
    (7, 2, "intervention", 1, {"company_internship": 8}),
])


def test_table1_counts_persons_per_centre_and_the_total_is_their_sum():
    rows = table1_persons(HAND).rows.set_index(["estimand", "jobcentre_id", "period"])
    assert rows.loc[("persons_participating", 7, "before"), "estimate"] == 2
    assert rows.loc[("persons_participating", 8, "before"), "estimate"] == 2
    assert rows.loc[("persons_participating", None, "before"), "estimate"] == 4  # as the report's "I ALT"
    assert rows.loc[("persons_others", None, "before"), "n_persons"] == 1
    assert rows.loc[("persons_participating", None, "intervention"), "n_obs"] == 8
    assert set(rows["inference"]) == {"none"}


def test_table5_shares_add_up_to_one_and_count_persons_with_the_type():
    rows = table5_lab_mix(HAND).rows
    pooled = rows[rows["jobcentre_id"].isna() & (rows["period"] == "before")].set_index("estimand")
    part = pooled[pooled.index.str.endswith(":participating")]
    assert part["estimate"].sum() == pytest.approx(1.0)
    assert part.loc["none:participating", "estimate"] == pytest.approx(17 / 23)
    assert part.loc["none:participating", "n_persons"] == 2  # persons 1 and 3 (person 1 once)
    assert part.loc["company_internship:participating", "n_persons"] == 1
    assert pooled.loc["wage_subsidy:others", "estimate"] == pytest.approx(0.5)
    assert (part["n_obs"] == 23).all()


def test_table5_se_is_statsmodels_ols_on_a_constant_clustered_by_person():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(4)
    rows = []
    for pid in range(40):
        n = int(rng.integers(1, 20))
        k = int(rng.binomial(n, 0.3))
        rows.append((7, pid, "before", 1, {"company_internship": k, "none": n - k}))
    frame = lab_frame(rows)
    got = table5_lab_mix(frame).rows.set_index(["estimand", "jobcentre_id"]).loc[("company_internship:participating",
                                                                                  None)]
    y = np.concatenate([[1.0] * r["weeks_company_internship"] + [0.0] * r["weeks_none"]
                        for r in frame.to_dict("records")])
    g = np.repeat(frame["person_id"].to_numpy(), frame["n_weeks"].to_numpy())
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": g})
    assert got["estimate"] == pytest.approx(fit.params[0]) and got["se"] == pytest.approx(fit.bse[0], rel=1e-9)


def test_table2_background_by_group_with_age_from_the_periods_first_year():
    persons = pd.DataFrame({
        "person_id": [1, 2, 3, 4, 5], "sex": ["M", "F", "F", "M", None], "birth_year": [1977, 1987, 1967, 1990, 1980],
        "origin": ["danish", "non_western", "western", "danish", "danish"], "married": [True, False, None, False, True],
        **{c: [10, 20, 30, 40, 50] for c in ("emp_weeks_6y", "emp_weeks_3y", "cash_weeks_6y", "cash_weeks_3y",
                                             "selfsupp_weeks_6y", "selfsupp_weeks_3y", "su_weeks_6y", "su_weeks_3y",
                                             "sick_weeks_6y", "sick_weeks_3y", "rf_weeks_6y", "rf_weeks_3y")}})
    rows = table2_background(HAND, persons, STARTS).rows.set_index(["estimand", "jobcentre_id", "period"])
    assert set(rows["analysis"]) == {BACKGROUND_ANALYSIS}
    # participating, before: persons 1, 2, 3 (person 1 once although in two centres)
    assert rows.loc[("male:participating", None, "before"), "estimate"] == pytest.approx(1 / 3)
    assert rows.loc[("age:participating", None, "before"), "estimate"] == pytest.approx((40 + 30 + 50) / 3)
    assert rows.loc[("married:participating", None, "before"), "n_persons"] == 2  # person 3: unknown
    assert rows.loc[("western:participating", None, "before"), "estimate"] == pytest.approx(1 / 3)
    assert rows.loc[("age:participating", None, "intervention"), "estimate"] == 2018 - 1987
    assert rows.loc[("cash_weeks_6y:others", None, "before"), "estimate"] == 40
    assert rows.loc[("male:participating", 8, "before"), "estimate"] == pytest.approx(0.5)
    assert ("male:others", None, "intervention") not in rows.index  # person 5: sex unknown


def test_missing_persons_column_is_an_input_error():
    with pytest.raises(InputError, match="persons.origin"):
        background_values(pd.DataFrame({"person_id": [1]}), dt.date(2018, 3, 1))


# --------------------------------------------------------------------------- planted values


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, scale=0.2, seed=11, workers=1)
    jobcentres = pd.read_parquet(out / "jobcentres.parquet")
    treated, _ = treated_jobcentre_ids(jobcentres, SPEC.treated_jobcentres)
    dream = pd.read_parquet(out / "dream_codes.parquet")
    all_weeks = pd.read_parquet(out / "weeks")
    lab = pd.concat([lab_week_sums(w, dream, treated, WINDOWS) for _, w in all_weeks.groupby("jobcentre_id")],
                    ignore_index=True)
    names = jobcentres.drop_duplicates("jobcentre_id").set_index("jobcentre_id")["name"].to_dict()
    return lab, pd.read_parquet(out / "persons.parquet"), names, json.loads((out / "truth.json").read_text())


def test_table1_equals_the_planted_persons_per_job_centre(synthetic):
    lab, _, names, truth = synthetic
    planted = truth["realised"]["persons_per_jobcentre"]  # Tabel 1 × scale, exactly (course spans)
    rows = table1_persons(lab).rows.set_index(["estimand", "jobcentre_id", "period"])
    for period in ("before", "intervention"):
        for jc, name in names.items():
            if name in P.TABLE1_PERSONS:
                assert rows.loc[("persons_participating", jc, period), "estimate"] == planted[name][period]
        others = sum(v[period] for k, v in planted.items() if k not in P.TABLE1_PERSONS)
        assert rows.loc[("persons_others", None, period), "estimate"] == others


def test_table2_recovers_the_planted_background_shares(synthetic):
    # Planted per person by D (params.BACKGROUND): Bernoulli shares; each group-period holds n ≥ 800
    # persons, so 4 binomial SEs (≤ 0.07 for p = 0.36) bound the sampling error.
    lab, persons, _, _ = synthetic
    rows = table2_background(lab, persons, STARTS).rows
    pooled = rows[rows["jobcentre_id"].isna()].set_index(["estimand", "period"])
    for d, group in ((True, "participating"), (False, "others")):
        for var in ("male", "non_western", "western", "married"):
            for period in ("before", "intervention"):
                r = pooled.loc[(f"{var}:{group}", period)]
                p = P.BACKGROUND[d][var]
                assert abs(r["estimate"] - p) < 4 * np.sqrt(p * (1 - p) / r["n_persons"]), (var, group, period)
        # age: birth_year = 2018 - floor(age), age ~ N(41, 11) clipped to [18, 64], so the mean age in the
        # intervention period's first year is ≈ 40.5 (floor), one year less before; SE ≈ 11/√n ≤ 0.4
        assert abs(pooled.loc[(f"age:{group}", "intervention"), "estimate"] - 40.5) < 1.6
        assert abs(pooled.loc[(f"age:{group}", "before"), "estimate"] - 39.5) < 1.6


def test_table5_recovers_the_planted_split_of_other_lab_types(synthetic):
    # A LAB spell that is not an internship is guidance/education/wage subsidy with planted probabilities
    # 0.94/0.04/0.02 (params.OTHER_LAB_SPLIT) and mean lengths 26/36/26 weeks (LAB_MEAN_WEEKS), so
    # guidance holds 0.94·26 / (0.94·26 + 0.04·36 + 0.02·26) = 0.926 of those weeks. ≥ 2,000 such person-weeks
    # per group-period in ≥ 150 spells: a spell-level SE of about 0.02.
    lab, _, _, _ = synthetic
    split, length = P.OTHER_LAB_SPLIT, P.LAB_MEAN_WEEKS
    planted = split["guidance_upskilling"] * length["guidance_upskilling"] / sum(split[t] * length[t] for t in split)
    rows = table5_lab_mix(lab).rows
    pooled = rows[rows["jobcentre_id"].isna()].set_index(["estimand", "period"])["estimate"]
    for group in ("participating", "others"):
        for period in ("before", "intervention"):
            share = {t: pooled[(f"{t}:{group}", period)] for t in LAB_TYPES}
            assert sum(share.values()) == pytest.approx(1.0)
            other = share["guidance_upskilling"] + share["ordinary_education"] + share["wage_subsidy"]
            assert abs(share["guidance_upskilling"] / other - planted) < 0.06
            assert 0.5 < share["none"] < 0.75  # the report: 56-62 % without an intervention


# ---------------------------------------------------------------- the reduce from per-unit sums


def _persons_table(ids, seed: int = 0) -> pd.DataFrame:
    from bipdask.prepare.descriptives import HISTORY

    rng = np.random.default_rng(seed)
    n = len(ids)
    out = pd.DataFrame({"person_id": np.asarray(ids, np.int64),
                        "sex": pd.array(rng.choice(["M", "F", None], n, p=[0.45, 0.45, 0.1]), dtype="string"),
                        "birth_year": rng.integers(1955, 2000, n).astype("int32"),
                        "origin": pd.array(rng.choice(["danish", "western", "non_western"], n), dtype="string"),
                        "married": pd.array(rng.choice([True, False, None], n), dtype="boolean")})
    for col in HISTORY:
        out[col] = rng.integers(0, 157, n).astype("int16")
    return out


def _frames_equal(a, b) -> None:
    fa, fb = a.rows.reset_index(drop=True), b.rows.reset_index(drop=True)
    assert list(fa.columns) == list(fb.columns) and len(fa) == len(fb) and a.notes == b.notes
    for col in fa.columns:
        if col in ("se", "ci_low", "ci_high", "estimate"):
            np.testing.assert_allclose(fb[col].to_numpy(float), fa[col].to_numpy(float), rtol=1e-10, atol=1e-13,
                                       equal_nan=True, err_msg=col)
        else:
            pd.testing.assert_series_equal(fa[col], fb[col], check_names=False, obj=col)


def _from_units(lab: pd.DataFrame, persons: pd.DataFrame, parts: int, rnd) -> pd.DataFrame:
    from bipdask.prepare.descriptives import descriptive_moments

    part = {pid: rnd.randrange(parts) for pid in lab["person_id"].unique()}
    units = lab.groupby([lab["jobcentre_id"], lab["person_id"].map(part)], sort=False)
    return pd.concat([descriptive_moments(u, persons[persons["person_id"].isin(u["person_id"])], STARTS)
                      for _, u in units], ignore_index=True)


def test_tables_1_2_5_from_unit_sums_equal_the_gathered_tables_by_hand():
    import random

    from bipdask.analyses.hir.descriptives import descriptives_from_moments

    lab = HAND[~((HAND["jobcentre_id"] == 8) & (HAND["person_id"] == 1))]  # every person in one centre
    persons = _persons_table([1, 2, 3, 4, 5, 6])
    moments = _from_units(lab, persons, 2, random.Random(1))
    t1, t2, t5 = descriptives_from_moments(moments, STARTS)
    persons_rows = t1.rows.set_index(["estimand", "period", "jobcentre_id"], drop=False)
    assert persons_rows.loc[("persons_participating", "before", 7), "estimate"].item() == 2.0
    assert t1.rows.loc[t1.rows["jobcentre_id"].isna() & (t1.rows["period"] == "before"), "estimate"].tolist() == [
        3.0, 1.0]
    for gathered, reduced in zip((table1_persons(lab), table2_background(lab, persons, STARTS), table5_lab_mix(lab)),
                                 (t1, t2, t5)):
        _frames_equal(gathered, reduced)
    # A unit's sums left out (or one count of them dropped) changes the tables: the comparison can fail.
    fewer = descriptives_from_moments(moments.iloc[1:], STARTS)
    assert not fewer[0].rows["estimate"].equals(t1.rows["estimate"]) or len(fewer[0].rows) != len(t1.rows)
    nudged = moments.copy()
    nudged.loc[nudged.index[nudged["stat"] == "nn"][0], "value"] += 1
    with pytest.raises(AssertionError):
        _frames_equal(t5, descriptives_from_moments(nudged, STARTS)[2])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 30), st.sampled_from(["before", "intervention"]),
                          st.dictionaries(st.sampled_from(list(LAB_TYPES)), st.integers(0, 12), min_size=1)),
                min_size=1, max_size=60), st.integers(1, 4), st.integers(0, 99), st.randoms(use_true_random=False))
def test_tables_1_2_5_from_any_split_into_units_equal_the_gathered_tables(rows, parts, seed, rnd):
    """Persons (each in one job centre) cut into units at random: the tables from the units' sums
    equal the tables from the gathered rows (counts exactly, means and SEs to 1e-10)."""
    from bipdask.analyses.hir.descriptives import descriptives_from_moments

    lab = lab_frame([(jc, 100 * jc + p, period, int(jc <= 2), counts) for jc, p, period, counts in rows])
    lab = lab[lab["n_weeks"] > 0].groupby(["jobcentre_id", "person_id", "period", "d"], as_index=False).sum()
    if lab.empty:
        return
    persons = _persons_table(sorted(lab["person_id"].unique())[1:], seed)  # one person without a persons row
    moments = _from_units(lab, persons, parts, rnd)
    reduced = descriptives_from_moments(moments, STARTS)
    gathered = (table1_persons(lab), table2_background(lab, persons[persons["person_id"].isin(lab["person_id"])],
                                                       STARTS), table5_lab_mix(lab))
    for g, r in zip(gathered, reduced):
        _frames_equal(g, r)
