"""Bootstrap summaries and the rule for failed replicates (docs/methods.md#failed-bootstrap-replicates).

Hand-made replicate vectors: failures count as extreme in both tails, above 1 % the interval is
withheld, and with no success nothing is published (never p = 1/(0 + 1)).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.inference.pairs import (
    MAX_FAILURE_SHARE,
    BootstrapSummary,
    conservative_p_value,
    conservative_percentile_interval,
    failure_share,
    replicate_summary,
)


def test_without_failures_the_usual_percentile_interval_and_p_value():
    rng = np.random.default_rng(0)
    reps = rng.normal(1.0, 2.0, (999, 3))
    est = np.array([1.0, 0.5, -4.0])
    out = replicate_summary(reps, est)
    lo, hi = np.quantile(reps, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(out["ci_low"], lo, rtol=1e-14)
    np.testing.assert_allclose(out["ci_high"], hi, rtol=1e-14)
    far = (np.abs(reps - est) >= np.abs(est)).sum(axis=0)
    np.testing.assert_allclose(out["p_value"], (1 + far) / 1000)
    np.testing.assert_allclose(out["se"], reps.std(axis=0, ddof=1))
    assert (out["failure_share"] == 0).all() and not out["withheld"].any()


def test_failures_widen_the_interval_at_both_ends():
    """B = 401: the successes 1, …, 399 and 2 failures. Dropped, the interval is the quantiles of
    399 values: [10.95, 389.05]. Counted at −∞ and +∞, the ends sit at positions 400·0.025 − 2 = 8
    and 400·0.975 = 390 of the successes: [9, 391]."""
    reps = np.concatenate([np.arange(1.0, 400.0), [np.nan, np.nan]])[:, None]
    lo, hi = conservative_percentile_interval(reps, 0.05)
    assert (lo[0], hi[0]) == (9.0, 391.0)
    dropped = np.quantile(np.arange(1.0, 400.0), [0.025, 0.975])
    np.testing.assert_allclose(dropped, [10.95, 389.05])
    out = replicate_summary(reps, np.array([200.0]))
    assert out["failure_share"].iloc[0] == pytest.approx(2 / 401) and not out["withheld"].iloc[0]
    assert (out["ci_low"].iloc[0], out["ci_high"].iloc[0]) == (9.0, 391.0)


def test_failures_count_as_extreme_in_the_p_value():
    reps = np.array([5.1, 4.9, 12.0, -1.0, np.nan])[:, None]  # |θ* − 5| ≥ 5: 12 and −1, plus the failure
    assert conservative_p_value(reps, np.array([5.0]))[0] == pytest.approx((1 + 2 + 1) / 6)


def test_an_end_the_failures_reach_is_unbounded():
    reps = np.concatenate([np.arange(1.0, 91.0), np.full(9, np.nan)])[:, None]  # B = 99, F = 9 > 98·0.025
    lo, hi = conservative_percentile_interval(reps, 0.05)
    assert lo[0] == -np.inf and hi[0] == np.inf


def test_above_one_percent_failed_se_ci_and_p_are_withheld():
    b = 500
    reps = np.linspace(-1, 3, b)
    ok = replicate_summary(np.where(np.arange(b) < 5, np.nan, reps)[:, None], np.array([1.0])).iloc[0]  # 1.0 %
    bad = replicate_summary(np.where(np.arange(b) < 6, np.nan, reps)[:, None], np.array([1.0])).iloc[0]  # 1.2 %
    assert ok["failure_share"] == pytest.approx(MAX_FAILURE_SHARE) and not ok["withheld"]
    assert np.isfinite(ok[["se", "ci_low", "ci_high", "p_value"]].astype(float)).all()
    assert bad["withheld"] and bad[["se", "ci_low", "ci_high", "p_value"]].isna().all()
    assert bad["failure_share"] == pytest.approx(6 / b)


def test_no_successful_replicate_gives_nothing_not_p_one():
    reps = np.full((200, 2), np.nan)
    out = replicate_summary(reps, np.array([0.3, -0.1]))
    assert out[["se", "ci_low", "ci_high", "p_value"]].isna().all().all()
    assert (out["failure_share"] == 1.0).all()
    assert np.isnan(conservative_p_value(reps, np.array([0.3, -0.1]))).all()
    summary = BootstrapSummary(pd.DataFrame(reps, columns=["a", "b"]), pd.Series({"a": 0.3, "b": -0.1}), "x", 0, 200)
    assert summary.p_value.isna().all() and summary.se.isna().all()
    assert summary.conf_int().isna().all().all()


def test_failure_share_per_column():
    reps = np.array([[1.0, np.nan], [np.inf, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_allclose(failure_share(reps), [0.25, 0.25])
    assert np.isnan(failure_share(np.empty((0, 2)))).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=60),
       st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=5),
       st.floats(-50, 50), st.sampled_from([0.05, 0.1, 0.32]))
def test_conservative_rule_is_never_beaten_by_any_values_of_the_failures(ok, fill, estimate, alpha):
    """Whatever the failed replicates would have been, the interval they give is inside the
    conservative one and their p-value is no larger."""
    ok, fill = np.array(ok), np.array(fill)
    reps = np.concatenate([ok, np.full(fill.size, np.nan)])[:, None]
    full = np.concatenate([ok, fill])
    lo, hi = conservative_percentile_interval(reps, alpha)
    want_lo, want_hi = np.quantile(full, [alpha / 2, 1 - alpha / 2])
    assert lo[0] <= want_lo + 1e-9 * max(1.0, abs(want_lo))
    assert hi[0] >= want_hi - 1e-9 * max(1.0, abs(want_hi))
    p_full = (1 + np.sum(np.abs(full - estimate) >= abs(estimate))) / (full.size + 1)
    assert conservative_p_value(reps, np.array([estimate]))[0] >= p_full


def test_summaries_of_all_failed_or_single_replicate_columns_are_silent():
    """An estimate no replicate (or one) defines gives NaN without numpy's "All-NaN slice
    encountered" / "Degrees of freedom <= 0" RuntimeWarnings, which used to reach stderr in runs
    (BootstrapSummary.conf_int called np.nanquantile on every column)."""
    import warnings

    reps = np.full((200, 3), np.nan)
    reps[:, 0] = np.linspace(-1, 1, 200)
    reps[0, 2] = 0.5
    summary = BootstrapSummary(pd.DataFrame(reps, columns=["a", "b", "c"]), pd.Series({"a": 0.1, "b": 0.2, "c": 0.5}),
                               "multinomial", 0, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci, se, p = summary.conf_int(), summary.se, summary.p_value
        replicate_summary(reps, np.array([0.1, 0.2, 0.5]))
    assert ci.loc["b"].isna().all() and np.isnan(se["b"]) and np.isnan(p["b"])
    assert np.isnan(se["c"])  # one replicate: no SE
    assert ci.loc["a"].notna().all() and se["a"] > 0
