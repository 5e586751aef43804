"""Tables A/4, 7 and Figures 1–2 from spell pattern counts summed over work units: the rows of
the gathered spells, to rounding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bipdask.analyses.hir.durations import (
    figure_curves,
    figure_curves_from_counts,
    table4,
    table4_from_counts,
    table7,
    table7_from_counts,
    weekly_survival_time,
)
from bipdask.estimators.duration_did import duration_did
from bipdask.estimators.survival_curves import kaplan_meier
from bipdask.inference.config import Inference
from bipdask.prepare.partitions import person_bucket
from bipdask.prepare.spell_counts import (
    combine_counts,
    combine_persons,
    spell_counts,
    spell_persons,
    unit_spell_counts,
    unit_spell_persons,
)
from tests.analyses.test_hir_tables import weibull_spells

JC_PAIRS = Inference(replicates=19, seed=5, cluster="jobcentre_id")
JC_WILD = Inference(replicates=19, seed=5, cluster="jobcentre_id", method="wild")
KEY = ["analysis", "estimand", "jobcentre_id", "period"]


def units_of(spells: pd.DataFrame, parts: dict[int, int]) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """The map side: each job centre cut into ``parts[jc]`` person-hash parts, one unit's
    spell_counts and spell_persons frames each."""
    counts, persons = [], []
    for jc, g in spells.groupby("jobcentre_id", sort=True):
        n = parts.get(int(jc), 1)
        bucket = person_bucket(g["person_id"].to_numpy(), n)
        for k in range(n):
            unit = {"gap": g[bucket == k], "first_lab": g[bucket == k]}
            counts.append(unit_spell_counts(unit))
            persons.append(unit_spell_persons(unit))
    return counts, persons


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame, rtol: float = 1e-10) -> None:
    got = got.sort_values(KEY, kind="mergesort").reset_index(drop=True)
    want = want.sort_values(KEY, kind="mergesort").reset_index(drop=True)
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for c in ("n_persons", "n_obs", "n_clusters", "n_replicates", "inference", "analysis", "estimand"):
        if c in want:
            assert got[c].astype(str).tolist() == want[c].astype(str).tolist(), c
    for c in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(got[c].to_numpy(float, na_value=np.nan), want[c].to_numpy(float, na_value=np.nan),
                                   rtol=rtol, atol=0, equal_nan=True, err_msg=c)


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    return weibull_spells(900, seed=11)


@pytest.mark.parametrize("inference", [JC_PAIRS, JC_WILD], ids=["pairs", "wild"])
def test_table4_from_unit_counts_is_table4_of_the_gathered_spells(spells, inference):
    counts, persons = units_of(spells, {11: 3, 21: 2})
    got = table4_from_counts(combine_counts(counts, "gap"), combine_persons(persons, "gap"), inference=inference,
                             min_persons=5)
    want = table4(spells, inference=inference, min_persons=5)
    assert_same_rows(got.rows, want.rows)
    pd.testing.assert_frame_equal(got.replicates, want.replicates, rtol=1e-10)
    assert got.notes == want.notes


def test_the_counts_weigh_their_spells(spells):
    # the national fit on the counts is the row-level Weibull DiD; a count row taken as one spell
    # (weights dropped) is not
    rows = spells.assign(weeks_survived=weekly_survival_time(spells))
    direct = duration_did(rows, duration="weeks_survived", interval=True, cluster="jobcentre_id", bootstrap=0)
    got = table4(spells, inference=Inference(replicates=0, seed=1, cluster="jobcentre_id"))
    national = got.rows[got.rows["jobcentre_id"].isna()].set_index("estimand")
    want = direct.table.set_index("quantity")["estimate"]
    np.testing.assert_allclose(national["estimate"].loc[want.index].to_numpy(float), want.to_numpy(), rtol=1e-10)
    assert national.loc["did_weeks", "n_obs"] == len(spells)
    assert national.loc["did_weeks", "n_persons"] == spells["person_id"].nunique()
    c = spell_counts(spells)
    unweighted = duration_did(c.assign(weeks_survived=weekly_survival_time(c)), duration="weeks_survived",
                              interval=True, cluster="jobcentre_id", bootstrap=0)
    assert not np.allclose(unweighted.table["estimate"].to_numpy(), direct.table["estimate"].to_numpy(), rtol=1e-6)


def test_n_persons_and_n_obs_of_a_hand_made_case():
    # job centre 1 participates, 2 and 3 do not; person 10 has spells in both periods
    rows = [(1, 0, 1, 10, 2, 1), (1, 1, 1, 10, 3, 1), (1, 1, 1, 11, 1, 1), (1, 1, 1, 11, 5, 0),
            (0, 0, 2, 20, 4, 1), (0, 1, 2, 21, 2, 1), (0, 0, 3, 30, 1, 1), (0, 1, 3, 30, 6, 0), (0, 1, 3, 31, 2, 1)]
    spells = pd.DataFrame(rows, columns=["D", "E", "jobcentre_id", "person_id", "duration", "event"])
    counts, persons = spell_counts(spells), spell_persons(spells)
    got = table4_from_counts(counts, persons, inference=Inference(replicates=0, seed=1, cluster="jobcentre_id"))
    by = got.rows[got.rows["jobcentre_id"].isna()].set_index("estimand")
    assert by.loc["participating_before", ["n_persons", "n_obs"]].tolist() == [1, 1]
    assert by.loc["participating_intervention", ["n_persons", "n_obs"]].tolist() == [2, 3]
    assert by.loc["other_intervention", ["n_persons", "n_obs"]].tolist() == [3, 3]
    assert by.loc["did_weeks", ["n_persons", "n_obs", "n_clusters"]].tolist() == [6, 9, 3]
    assert got.notes["spells"] == 9


def test_table7_counts_first_week_labs_from_the_counts(spells):
    firsts = spells.assign(duration=np.where(spells["person_id"] % 5 == 0, 0, spells["duration"]).astype(np.int32))
    firsts = firsts.assign(event=np.where(firsts["duration"] == 0, 1, firsts["event"]).astype(np.int8))
    counts, persons = units_of(firsts, {12: 2})
    got = table7_from_counts(combine_counts(counts, "first_lab"), combine_persons(persons, "first_lab"),
                             inference=JC_PAIRS)
    want = table7(firsts, inference=JC_PAIRS)
    assert got.notes == want.notes and got.notes["first_week_lab"] == int((firsts["duration"] == 0).sum()) > 0
    assert_same_rows(got.rows, want.rows)


def test_figures_from_counts_are_the_row_curves(spells):
    counts, _ = units_of(spells, {11: 2, 22: 3})
    raw, km = figure_curves_from_counts(combine_counts(counts, "gap"))
    raw_rows, km_rows = figure_curves(spells)
    pd.testing.assert_frame_equal(raw, raw_rows)
    pd.testing.assert_frame_equal(km, km_rows)
    # the row curve without counts: Kaplan–Meier of each spell
    one = spells[(spells["D"] == 1) & (spells["E"] == 1)]
    want = kaplan_meier(one.assign(t=weekly_survival_time(one)), duration="t", event="event", origin=True)
    got = km[km["group"] == "participating_intervention"]
    np.testing.assert_allclose(got["surv"].to_numpy(), want["surv"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["n_risk"].to_numpy(), want["n_risk"].to_numpy(), rtol=0)


def test_person_clusters_need_person_keyed_counts(spells):
    with pytest.raises(ValueError, match="person_id"):
        table4_from_counts(spell_counts(spells), spell_persons(spells), inference=Inference(replicates=0, seed=1))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(250, 600),
       st.dictionaries(st.sampled_from([11, 12, 13, 21, 22, 23, 24]), st.integers(1, 4), max_size=4),
       st.sampled_from(["pairs", "wild"]))
def test_random_spells_in_random_units_give_the_gathered_rows(seed, n, parts, method):
    # invariant: whatever the cut into units, the summed counts give the gathered fit's rows
    spells = weibull_spells(n, seed=seed)
    inference = Inference(replicates=9, seed=seed, cluster="jobcentre_id", method=method)
    counts, persons = units_of(spells, parts)
    got = table4_from_counts(combine_counts(counts, "gap"), combine_persons(persons, "gap"), inference=inference,
                             min_persons=20)
    want = table4(spells, inference=inference, min_persons=20)
    assert_same_rows(got.rows, want.rows)
    pd.testing.assert_frame_equal(got.replicates, want.replicates, rtol=1e-10)
