"""Kaplan–Meier and raw weekly hazards (HIR Figures 1–2) against R survfit fixtures."""


import numpy as np
import pandas as pd
import pytest

from bipdask.estimators.survival_curves import kaplan_meier, raw_weekly_hazard


def _hand():
    return pd.DataFrame({"t": [1, 1, 2, 3, 3, 3, 5], "d": [1, 0, 1, 1, 1, 0, 0], "g": list("aaabbbb")})


def test_km_hand_computed():
    km = kaplan_meier(_hand(), duration="t", event="d")
    # at risk 7, 5, 4, 1: S(1) = 6/7, S(2) = S(1)·4/5, S(3) = S(2)·2/4 (4 at risk, 2 events)
    assert km.loc[km.time == 1, "surv"].item() == pytest.approx(6 / 7)
    assert km.loc[km.time == 2, "surv"].item() == pytest.approx(6 / 7 * 4 / 5)
    assert km.loc[km.time == 3, "surv"].item() == pytest.approx(6 / 7 * 4 / 5 * 2 / 4)
    assert list(km.n_risk) == [7, 5, 4, 1]


def test_km_by_group_has_group_column_and_is_monotone():
    km = kaplan_meier(_hand(), duration="t", event="d", groups=["g"])
    assert list(km.columns[:2]) == ["g", "time"]
    for _, g in km.groupby("g"):
        assert np.all(np.diff(g["surv"]) <= 0)


def test_raw_weekly_hazard_hand_computed():
    h = raw_weekly_hazard(_hand(), duration="t", event="d")
    assert list(h.n_risk) == [7, 5, 4, 1, 1]
    assert list(h.n_event) == [1, 1, 2, 0, 0]
    assert h.hazard.iloc[2] == pytest.approx(0.5)
    assert np.all((h.lower <= h.hazard) & (h.hazard <= h.upper))


def test_km_origin_adds_week_zero_at_one_unless_there_are_times_at_zero():
    km = kaplan_meier(_hand(), duration="t", event="d", groups=["g"], origin=True)
    for _, g in km.groupby("g"):
        first = g.iloc[0]
        assert (first["time"], first["surv"], first["n_event"]) == (0, 1, 0)
        assert first["n_risk"] == len(_hand().query("g == @first.g"))
    plain = kaplan_meier(_hand(), duration="t", event="d")
    assert plain["time"].min() == 1  # R survfit's rows: no origin row by default
    at_zero = pd.DataFrame({"t": [0, 0, 1, 2], "d": [1, 0, 1, 0]})
    km0 = kaplan_meier(at_zero, duration="t", event="d", origin=True)
    assert list(km0["time"]) == [0, 1, 2] and km0["surv"].iloc[0] == pytest.approx(3 / 4)
