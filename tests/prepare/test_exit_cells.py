"""Table 8's per-job-centre sufficient statistics (bipdask.prepare.exit_cells) — hand cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bipdask.data.weeks import week_ordinal
from bipdask.errors import InputError
from bipdask.prepare.exit_cells import (
    PERSON_COLUMNS,
    empty_exit_cells,
    empty_exit_persons,
    exit_cells,
    exit_persons,
    period_first_weeks,
)
from bipdask.prepare.spells import EXIT_DESTINATIONS

FLAGS = [f"exit_{d}" for d in EXIT_DESTINATIONS]
# before: Mondays from 2017-03-06; intervention: from 2018-03-05 (both periods start on a Wednesday)
PERIODS = ((dt.date(2017, 3, 1), dt.date(2017, 5, 31)), (dt.date(2018, 3, 1), dt.date(2018, 5, 31)))


def rows() -> pd.DataFrame:
    """Two job centres (11 participating), persons 1–4; person 1 moves from 11 to 21 in E=1.

    Nobody has a course in the intervention period's first week (2018-03-05): its τ starts at 1."""
    def weeks(person, jc, D, E, first, n, exit_to=None, unobserved_last=False):
        f = pd.DataFrame({"person_id": person, "jobcentre_id": jc, "D": D, "E": E,
                          "week": pd.date_range(first, periods=n, freq="7D"), "next_observed": 1})
        for c in FLAGS:
            f[c] = 0
        if exit_to:
            f.loc[f.index[-1], f"exit_{exit_to}"] = 1
        if unobserved_last:
            f.loc[f.index[-1], "next_observed"] = 0
        return f

    return pd.concat([
        weeks(1, 11, 1, 0, "2017-03-06", 3, "flex_job"),
        weeks(2, 11, 1, 0, "2017-03-13", 2),
        weeks(1, 11, 1, 1, "2018-03-12", 2), weeks(1, 21, 0, 1, "2018-03-26", 2, "disability_pension"),
        weeks(3, 21, 0, 0, "2017-03-06", 4, unobserved_last=True),
        weeks(4, 21, 0, 1, "2018-03-19", 3, "flex_job"),
    ], ignore_index=True)


def test_period_first_weeks_are_the_first_mondays_of_the_periods():
    first = period_first_weeks(*PERIODS)
    assert first == {0: int(week_ordinal(["2017-03-06"])[0]), 1: int(week_ordinal(["2018-03-05"])[0])}


def test_exit_cells_by_jobcentre_count_weeks_and_exits_per_tau_from_the_periods_first_week():
    cells = exit_cells(rows(), cluster="jobcentre_id", first_weeks=period_first_weeks(*PERIODS))
    c = cells.set_index(["jobcentre_id", "tau", "D", "E"])
    assert c.loc[(11, 0, 1, 0), "n_weeks"] == 1 and c.loc[(11, 1, 1, 0), "n_weeks"] == 2
    assert c.loc[(11, 2, 1, 0), "exit_flex_job"] == 1
    assert c.loc[(11, 1, 1, 1), "n_weeks"] == 1  # 2018-03-12 is the intervention period's τ = 1
    assert c.loc[(21, 3, 0, 0), "n_weeks"] == 0 and c.loc[(21, 3, 0, 0), "n_unobserved"] == 1
    assert c.loc[(21, 4, 0, 1), "exit_disability_pension"] == 1 and c.loc[(21, 4, 0, 1), "n_weeks"] == 2
    assert cells["n_weeks"].sum() + cells["n_unobserved"].sum() == len(rows())
    assert cells[FLAGS].sum().sum() == 3
    assert list(cells.dtypes) == list(empty_exit_cells().dtypes)
    # without the periods: τ counts from each period's first week in the rows (here one week later for E=1)
    shifted = exit_cells(rows(), cluster="jobcentre_id")
    assert shifted.loc[shifted["E"] == 1, "tau"].min() == 0
    assert (shifted.loc[shifted["E"] == 1, "tau"].to_numpy() == cells.loc[cells["E"] == 1, "tau"].to_numpy() - 1).all()


def test_exit_cells_by_person_are_one_row_per_person_week():
    r = rows()
    cells = exit_cells(r, cluster="person_id", first_weeks=period_first_weeks(*PERIODS))
    assert len(cells) == len(r) and "jobcentre_id" not in cells.columns
    assert (cells["n_weeks"] + cells["n_unobserved"] == 1).all()
    with pytest.raises(ValueError, match="cluster"):
        exit_cells(r, cluster="caseworker_id")


def test_exit_cells_reject_a_week_before_its_period():
    r = rows()
    r.loc[0, "week"] = pd.Timestamp("2017-02-27")
    with pytest.raises(InputError, match="before its period"):
        exit_cells(r, first_weeks=period_first_weeks(*PERIODS))


def test_exit_persons_are_one_row_per_person_period_and_jobcentre_of_observed_weeks():
    p = exit_persons(rows())
    assert list(p.columns) == list(PERSON_COLUMNS) and list(p.dtypes) == list(empty_exit_persons().dtypes)
    k = p.set_index(["person_id", "E", "jobcentre_id"])
    assert len(k) == 6  # person 1: before in 11, intervention in 11 and in 21
    assert k.loc[(1, 1, 11), "first_week"] == pd.Timestamp("2018-03-12") and k.loc[(1, 1, 11), FLAGS].sum() == 0
    assert k.loc[(1, 1, 21), "exit_disability_pension"] == 1 and k.loc[(1, 1, 21), "D"] == 0
    # person 3's last week has no observed next week: not counted; their first three weeks are
    assert k.loc[(3, 0, 21), "first_week"] == pd.Timestamp("2017-03-06")
    only_unobserved = rows().query("person_id == 3").tail(1)
    assert len(exit_persons(only_unobserved)) == 0
    assert np.array_equal(p["person_id"].to_numpy(), np.sort(p["person_id"].to_numpy()))
