"""Table 4 / Table A machinery: expected durations by group and the DiD, with bootstrap."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import gamma

from bipdask.estimators.duration_did import duration_did, duration_did_by_jobcentre


def _spells(n=30000, seed=0, delta=-0.3):
    rng = np.random.default_rng(seed)
    D = (rng.random(n) < 0.3).astype(int)
    E = rng.integers(0, 2, n)
    jc = np.where(D == 1, rng.integers(1, 4, n), 99)
    xb = -3.0 + 0.2 * D + 0.1 * E + delta * D * E
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / 0.8)
    return pd.DataFrame({"duration": np.minimum(t, 200), "event": (t <= 200).astype(int), "D": D, "E": E,
                         "person_id": rng.integers(0, n // 2, n), "jobcentre_id": jc})


def _truth(delta=-0.3):
    e = lambda xb: gamma(1 + 1 / 0.8) * np.exp(-xb / 0.8)  # noqa: E731
    vals = [e(-2.8), e(-2.7 + delta), e(-3.0), e(-2.9)]
    return vals, (vals[1] - vals[0]) - (vals[3] - vals[2])


def test_planted_did_in_weeks_inside_bootstrap_ci():
    res = duration_did(_spells(), bootstrap=300, seed=3)
    tab = res.table.set_index("quantity")
    groups, did = _truth()
    assert tab.loc["did_weeks", "ci_low"] < did < tab.loc["did_weeks", "ci_high"]
    for name, value in zip(["participating_before", "participating_intervention", "other_before",
                            "other_intervention"], groups):
        assert tab.loc[name, "ci_low"] < value < tab.loc[name, "ci_high"]
    assert tab.loc["did_pct", "estimate"] == pytest.approx(
        100 * tab.loc["did_weeks", "estimate"] / tab.loc["participating_before", "estimate"])


def test_display_caps_at_52_weeks():
    res = duration_did(_spells(), bootstrap=0)
    tab = res.table.set_index("quantity")
    assert all(tab.loc[q, "display"] == ">52" for q in tab.index[:4] if tab.loc[q, "estimate"] > 52)
    if (tab["estimate"].iloc[:4] > 52).any():
        assert tab.loc["did_weeks", "display"] in (">0", "<0")


def test_by_jobcentre_one_row_set_per_participating_centre():
    tab = duration_did_by_jobcentre(_spells(n=8000), bootstrap=50, seed=1)
    assert tab["jobcentre_id"].isna().sum() == 6
    assert sorted(tab["jobcentre_id"].dropna().unique()) == [1, 2, 3]
    assert tab["se_boot"].notna().all()
