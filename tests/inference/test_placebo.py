"""Conley–Taber placebo intervals (with the Ferman–Pinto size adjustment) for Table 6's per-centre rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.cell_did import cell_did
from bipdask.inference.placebo import (
    PLACEBO_COLUMNS,
    PlaceboResult,
    ferman_pinto_variance,
    placebo_dids,
    placebo_table,
    share_did_placebo,
    weighted_did_placebo,
)


def delivery(seed: int, g: int = 12, treated=(2, 7)):
    """Per-person cell rows of g job centres and their job-centre × period sums."""
    rng = np.random.default_rng(seed)
    rows = []
    pid = 0
    for jc in range(1, g + 1):
        for _ in range(int(rng.integers(3, 9))):
            pid += 1
            for e in (0, 1):
                if jc == g and e == 1:  # the last comparison centre has no after-weeks
                    continue
                w = int(rng.integers(1, 25))
                rows.append((jc, pid, e, int(jc in treated), w, int(rng.binomial(w, 0.1 + 0.03 * (jc % 5)))))
    cells = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "e", "d", "n_weeks", "n_yes"])
    sums = cells.groupby(["jobcentre_id", "e"])[["n_weeks", "n_yes"]].sum().unstack("e", fill_value=0)
    ids = sums.index.to_numpy()
    return cells, ids, sums["n_weeks"].to_numpy(), sums["n_yes"].to_numpy()


def brute_placebos(cells: pd.DataFrame) -> pd.Series:
    """Each comparison centre pseudo-treated against the other comparison centres, by cell_did."""
    ctrl = cells[cells["d"] == 0]
    out = {}
    for jc in sorted(ctrl["jobcentre_id"].unique()):
        own = ctrl[ctrl["jobcentre_id"] == jc]
        if own["e"].nunique() < 2:
            continue
        out[int(jc)] = cell_did(ctrl.assign(d=(ctrl["jobcentre_id"] == jc).astype(int))).estimate
    return pd.Series(out)


def test_placebo_dids_equal_a_cell_did_loop():
    cells, ids, n, y = delivery(1)
    fast = placebo_dids(ids, n, y, [2, 7])
    slow = brute_placebos(cells)
    assert list(fast.index) == list(slow.index) and 12 not in fast.index
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=0, atol=1e-14)


def test_unadjusted_intervals_from_the_placebo_quantiles():
    cells, ids, n, y = delivery(2)
    slow = brute_placebos(cells).to_numpy()
    res = share_did_placebo(ids, n, y, [7, 2], adjust="none", alpha=0.1)
    assert [r.jobcentre_id for r in res] == [2, 7]
    for r in res:
        est = cell_did(cells[(cells["d"] == 0) | (cells["jobcentre_id"] == r.jobcentre_id)]).estimate
        q_lo, q_hi = np.quantile(slow, [0.05, 0.95])
        assert r.estimate == pytest.approx(est, abs=1e-14)
        assert (r.ci_low, r.ci_high) == pytest.approx((est - q_hi, est - q_lo), abs=1e-14)
        assert r.p_value == (1 + np.sum(np.abs(slow) >= abs(est))) / (slow.size + 1)
        assert r.n_placebos == slow.size == 9
        assert r.outside == (est < q_lo or est > q_hi)
        assert r.variance_intercept is None and r.adjust == "none"


def test_outside_flag_for_a_large_effect():
    cells, ids, n, y = delivery(3)
    y = y.copy()
    j = int(np.flatnonzero(ids == 7)[0])
    y[j, 1] = n[j, 1]  # every after-week of centre 7 in internship or ordinary hours
    res = {r.jobcentre_id: r for r in share_did_placebo(ids, n, y, [2, 7])}
    assert res[7].outside and res[7].ci_low > 0
    assert res[7].p_value == pytest.approx(1 / (res[7].n_placebos + 1))


def test_ferman_pinto_recovers_the_variance_function():
    rng = np.random.default_rng(5)
    v = rng.uniform(0.001, 0.05, 20_000)
    a, b = 0.002, 0.1
    eta = rng.normal(0, np.sqrt(a + b * v))
    a_hat, b_hat = ferman_pinto_variance(eta, v)
    assert a_hat == pytest.approx(a, rel=0.25) and b_hat == pytest.approx(b, rel=0.1)
    assert ferman_pinto_variance(np.zeros(5), v[:5]) == (0.0, 0.0)


def test_ferman_pinto_rescales_to_the_treated_size():
    cells, ids, n, y = delivery(4, g=30)
    pl = placebo_dids(ids, n, y, [2, 7])
    pos = np.searchsorted(ids, pl.index.to_numpy())
    with np.errstate(divide="ignore"):
        v = 1 / n[:, 0] + 1 / n[:, 1]
    a, b = ferman_pinto_variance(pl.to_numpy(), v[pos])
    res = {r.jobcentre_id: r for r in share_did_placebo(ids, n, y, [2, 7], alpha=0.2)}
    for jc, r in res.items():
        j = int(np.flatnonzero(ids == jc)[0])
        draws = pl.to_numpy() * np.sqrt((a + b * v[j]) / (a + b * v[pos]))
        q_lo, q_hi = np.quantile(draws, [0.1, 0.9])
        assert (r.q_low, r.q_high) == pytest.approx((q_lo, q_hi), abs=1e-14)
        assert (r.ci_low, r.ci_high) == pytest.approx((r.estimate - q_hi, r.estimate - q_lo), abs=1e-14)
        assert r.variance_intercept == pytest.approx(a) and r.variance_slope == pytest.approx(b)
    # with every centre the same size the adjustment changes nothing
    same = np.full_like(n, 50)
    adj = share_did_placebo(ids, n, y, [2, 7], size=same)
    plain = share_did_placebo(ids, n, y, [2, 7], adjust="none")
    for r1, r2 in zip(adj, plain):
        assert r1.ci_low == pytest.approx(r2.ci_low, abs=1e-14) and r1.p_value == r2.p_value


def test_weighted_version_and_table():
    _, ids, n, y = delivery(6)
    ok = (n > 0).all(axis=1)
    th = np.where(n > 0, y / np.where(n > 0, n, 1), 0.0)
    a = share_did_placebo(ids, n, y, [2, 7])
    b = weighted_did_placebo(ids, th, n, [2, 7])
    assert ok.sum() == 11
    for r1, r2 in zip(a, b):
        assert r1.estimate == pytest.approx(r2.estimate, abs=1e-14)
        assert r1.ci_high == pytest.approx(r2.ci_high, abs=1e-14) and r1.p_value == r2.p_value
    table = placebo_table(a)
    assert tuple(table.columns) == PLACEBO_COLUMNS and len(table) == 2
    assert table["outside"].dtype == bool
    assert placebo_table([]).empty


def test_treated_centre_without_both_periods_has_no_row():
    _, ids, n, y = delivery(7)
    n, y = n.copy(), y.copy()
    j = int(np.flatnonzero(ids == 2)[0])
    n[j, 0] = y[j, 0] = 0
    assert [r.jobcentre_id for r in share_did_placebo(ids, n, y, [2, 7])] == [7]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(3, 15), st.sampled_from(["none", "ferman_pinto"]),
       st.sampled_from([0.05, 0.1, 0.5]))
def test_properties(seed, g_ctrl, adjust, alpha):
    rng = np.random.default_rng(seed)
    g = g_ctrl + 2
    n = rng.integers(1, 300, (g, 2))
    y = rng.binomial(n, rng.uniform(0, 1, (g, 1)))
    ids = rng.choice(100_000, g, replace=False)
    treated = ids[:2]
    res = share_did_placebo(ids, n, y, treated, adjust=adjust, alpha=alpha)
    perm = rng.permutation(g)
    again = share_did_placebo(ids[perm], n[perm], y[perm], treated[::-1], adjust=adjust, alpha=alpha)
    assert res == again
    for r in res:
        assert isinstance(r, PlaceboResult)
        assert r.n_placebos == g_ctrl
        assert 1 / (r.n_placebos + 1) <= r.p_value <= 1
        assert r.ci_low <= r.ci_high
        assert r.outside == (not (r.ci_low <= 0 <= r.ci_high))
