"""HIR Table 8 as the report states it: the share of persons exiting to each destination."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bipdask.analyses.hir.exits import persons_exits, table8, table8_persons
from bipdask.errors import InputError
from bipdask.inference.config import Inference
from bipdask.prepare.spells import EXIT_DESTINATIONS

FLAGS = [f"exit_{d}" for d in EXIT_DESTINATIONS]


def _weeks(person, jc, D, E, first_week, n, exit_to=None):
    """``n`` course weeks of one person from ``first_week``; the last one exits to ``exit_to``."""
    weeks = pd.date_range(first_week, periods=n, freq="7D")
    rows = pd.DataFrame({"person_id": person, "jobcentre_id": jc, "D": D, "E": E, "week": weeks})
    for f in FLAGS:
        rows[f] = 0
    if exit_to is not None:
        rows.loc[rows.index[-1], f"exit_{exit_to}"] = 1
    return rows


def hand_case() -> pd.DataFrame:
    """Before (E=0) from 2017-03-06, intervention (E=1) from 2018-03-05.

    Participating: 4 persons before (1 to disability pension, 1 to flex job), 5 in the
    intervention period (2 to disability pension; person 1 is in both periods and moves to a
    comparison centre mid-period: counted once, at the centre of their first week).
    Others: 5 persons before (1 to disability pension), 4 in the intervention period (none).
    """
    b, i = "2017-03-06", "2018-03-05"
    parts = [
        _weeks(1, 11, 1, 0, b, 10, "disability_pension"),
        _weeks(2, 11, 1, 0, b, 52, "flex_job"),
        _weeks(3, 12, 1, 0, b, 30), _weeks(4, 12, 1, 0, b, 5),
        _weeks(1, 11, 1, 1, i, 3), _weeks(1, 21, 0, 1, "2018-03-26", 4, "disability_pension"),
        _weeks(5, 11, 1, 1, i, 8, "disability_pension"), _weeks(6, 11, 1, 1, i, 20),
        _weeks(7, 12, 1, 1, i, 20), _weeks(8, 12, 1, 1, i, 20),
        *[_weeks(p, 21, 0, 0, b, 10) for p in (20, 21, 22, 23)], _weeks(24, 22, 0, 0, b, 12, "disability_pension"),
        *[_weeks(p, 22, 0, 1, i, 10) for p in (30, 31, 32, 33)],
    ]
    return pd.concat(parts, ignore_index=True)


def test_persons_exits_is_one_row_per_person_and_period_with_any_exit():
    p = persons_exits(hand_case()).set_index(["person_id", "E"])
    assert len(p) == 4 + 5 + 5 + 4
    assert p.loc[(1, 0), "exit_disability_pension"] == 1 and p.loc[(1, 0), "exit_flex_job"] == 0
    # the mover: D and job centre of the first week in the period, the exit counted
    assert p.loc[(1, 1), "D"] == 1 and p.loc[(1, 1), "jobcentre_id"] == 11
    assert p.loc[(1, 1), "exit_disability_pension"] == 1
    assert p[FLAGS].sum().to_dict() == {"exit_ordinary_employment": 0, "exit_flex_job": 1,
                                        "exit_ledighedsydelse": 0, "exit_disability_pension": 4}


def test_table8_persons_shares_and_did_by_hand():
    rows = {(r.estimand, r.period): r for r in table8_persons(persons_exits(hand_case()), inference=Inference())}
    share = {k: rows[k].estimate for k in rows}
    dp = "disability_pension"
    assert share[(f"{dp}:persons_participating", "before")] == pytest.approx(1 / 4)
    assert share[(f"{dp}:persons_participating", "intervention")] == pytest.approx(2 / 5)
    assert share[(f"{dp}:persons_others", "before")] == pytest.approx(1 / 5)
    assert share[(f"{dp}:persons_others", "intervention")] == pytest.approx(0)
    assert share[(f"{dp}:persons_did", "intervention")] == pytest.approx((2 / 5 - 1 / 4) - (0 - 1 / 5))
    assert share[("flex_job:persons_did", "intervention")] == pytest.approx((0 - 1 / 4) - 0)
    assert rows[(f"{dp}:persons_participating", "intervention")].n_persons == 5
    assert rows[(f"{dp}:persons_did", "intervention")].n_persons == 17  # distinct persons, person 1 once


def test_table8_carries_the_persons_rows_beside_the_weekly_ones_with_replicates():
    rng = np.random.default_rng(3)
    parts = []
    for person in range(400):
        D, E = int(person % 2), int(person % 4 >= 2)
        jc = (11 if D else 21) + int(person % 3)
        first = "2018-03-05" if E else "2017-03-06"
        dest = rng.choice([None, *EXIT_DESTINATIONS], p=[0.6, 0.05, 0.1, 0.1, 0.15])
        parts.append(_weeks(person, jc, D, E, first, int(rng.integers(2, 40)), dest))
    weeks = pd.concat(parts, ignore_index=True).assign(next_observed=1)
    res = table8(weeks, inference=Inference(replicates=40, seed=2))
    est = res.rows.set_index(["estimand", "period"])
    for d in EXIT_DESTINATIONS:
        assert (d, "intervention") in est.index  # the weekly DiD stays, as the secondary estimand
        key = f"{d}:persons_did|all|intervention"
        assert key in res.replicates.columns
        assert est.loc[(f"{d}:persons_did", "intervention"), "se"] == pytest.approx(
            np.nanstd(res.replicates[key], ddof=1))
    assert res.notes["person_periods"] == 400


def test_table8_persons_needs_all_four_groups():
    p = persons_exits(hand_case())
    with pytest.raises(InputError, match="D, E"):
        table8_persons(p[p["E"] == 0], inference=Inference())
