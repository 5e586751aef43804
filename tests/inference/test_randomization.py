"""Randomization inference over job centres for the HIR Table 6 pooled share DiD."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.analyses.hir.shares import share_did_table
from bipdask.estimators.cell_did import cell_did
from bipdask.inference.randomization import (
    SUM_COLUMNS,
    RandomizationResult,
    assignment_count,
    did_from_sums,
    jobcentre_cell_sums,
    share_did_randomization,
    table6_design_inference,
    weighted_did_randomization,
)


def explicit_did(n: np.ndarray, y: np.ndarray, treated: np.ndarray) -> float:
    """(ȳ_T1 − ȳ_T0) − (ȳ_C1 − ȳ_C0) with cell means pooled over person-weeks, written out."""
    t, c = treated, ~treated
    return ((y[t, 1].sum() / n[t, 1].sum() - y[t, 0].sum() / n[t, 0].sum())
            - (y[c, 1].sum() / n[c, 1].sum() - y[c, 0].sum() / n[c, 0].sum()))


def small_case(seed: int = 1, g: int = 6):
    rng = np.random.default_rng(seed)
    n = rng.integers(5, 60, (g, 2))
    y = rng.binomial(n, 0.3)
    return np.arange(200, 200 + g), n, y


def sampled_cells(seed: int, g: int = 8, treated=(3, 6), persons=(4, 12), one_period=()) -> pd.DataFrame:
    """A small random delivery of share_cell_sums rows (some persons in two job centres)."""
    rng = np.random.default_rng(seed)
    rows = []
    pid = 0
    for jc in range(1, g + 1):
        for _ in range(int(rng.integers(*persons))):
            pid += 1
            person = pid if rng.random() > 0.1 or pid < 3 else int(rng.integers(1, pid))  # movers
            for period in ("before", "intervention", "last_3_months"):
                if jc in one_period and period != "before":
                    continue
                if rng.random() < 0.2 and period != "before":
                    continue
                w = int(rng.integers(1, 30))
                rows.append((jc, person, period, int(jc in treated), w, int(rng.binomial(w, 0.2 + 0.02 * jc))))
    cells = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"])
    return (cells.groupby(["jobcentre_id", "person_id", "period", "d"], as_index=False)[["n_weeks", "n_yes"]].sum()
            .astype({"jobcentre_id": "int32", "person_id": "int64", "period": "string", "d": "int8"}))


# ---------------------------------------------------------------------------------------------
# hand-made exact enumeration

def test_exact_enumeration_g6_k2_matches_itertools():
    ids, n, y = small_case()
    treated = [ids[1], ids[4]]
    res = share_did_randomization(ids, n, y, treated, keep_draws=True)
    combos = list(itertools.combinations(range(6), 2))
    dids = np.array([explicit_did(n, y, np.isin(np.arange(6), c)) for c in combos])
    observed = explicit_did(n, y, np.isin(ids, treated))
    assert res.enumerated and res.n_assignments == 15 == assignment_count(6, 2)
    assert res.estimate == pytest.approx(observed, abs=1e-15)
    assert res.p_value == np.sum(np.abs(dids) >= abs(observed) - 1e-12) / 15
    assert res.seed is None and res.n_centres == 6 and res.n_treated == 2 and res.n_fixed == 0
    np.testing.assert_allclose(np.sort(res.draws), np.sort(dids), rtol=0, atol=1e-14)
    assert res.distribution.mean == pytest.approx(dids.mean(), abs=1e-14)
    assert res.distribution.max == pytest.approx(dids.max(), abs=1e-14)
    # 1/15 > 0.05: no set of assignments can reject, so the inverted interval is the line
    assert (res.ci_low, res.ci_high) == (-math.inf, math.inf)


def test_studentized_pvalue_matches_explicit_cluster_t():
    ids, n, y = small_case(seed=4, g=7)
    treated = ids[[0, 3, 5]]

    def tstat(t):
        c = ~t
        m = {(d, e): y[a, e].sum() / n[a, e].sum() for d, a in ((1, t), (0, c)) for e in (0, 1)}
        N = {(d, e): n[a, e].sum() for d, a in ((1, t), (0, c)) for e in (0, 1)}
        u = [(y[g, 1] - n[g, 1] * m[int(t[g]), 1]) / N[int(t[g]), 1]
             - (y[g, 0] - n[g, 0] * m[int(t[g]), 0]) / N[int(t[g]), 0] for g in range(len(ids))]
        return explicit_did(n, y, t) / math.sqrt(sum(v * v for v in u))

    ts = np.array([tstat(np.isin(np.arange(7), c)) for c in itertools.combinations(range(7), 3)])
    t_obs = tstat(np.isin(ids, treated))
    res = share_did_randomization(ids, n, y, treated)
    assert res.p_value_studentized == np.sum(np.abs(ts) >= abs(t_obs) - 1e-12) / 35
    G, N = 7, n.sum()
    assert res.t_stat == pytest.approx(t_obs * math.sqrt(G / (G - 1) * (N - 1) / (N - 4)), rel=1e-12)


def test_did_from_sums_matches_cell_did_on_person_weeks():
    ids, n, y = small_case(seed=2)
    rows = []
    for g, jc in enumerate(ids):
        for e in (0, 1):
            for w in range(int(n[g, e])):
                rows.append((jc, 1000 * g + w % 7, e, int(w < y[g, e])))  # 7 persons per centre
    weeks = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "e", "yes"])
    combos = list(itertools.combinations(range(6), 2))
    a = np.zeros((len(combos), 6))
    for i, c in enumerate(combos):
        a[i, list(c)] = 1
    sums = np.column_stack([n[:, 0], y[:, 0], n[:, 1], y[:, 1]])
    fast = did_from_sums(a, sums)
    for i, c in enumerate(combos):
        d = weeks["jobcentre_id"].isin(ids[list(c)]).astype(int)
        fit = cell_did(weeks.assign(d=d, n_weeks=1, n_yes=weeks["yes"]))
        assert fast[i] == pytest.approx(fit.estimate, abs=1e-13)
    res = share_did_randomization(ids, n, y, ids[list(combos[7])])
    assert res.estimate == pytest.approx(fast[7], abs=1e-15)


def test_sampled_is_a_pure_function_of_the_seed_and_close_to_exact():
    rng = np.random.default_rng(7)
    g = 12
    n = rng.integers(20, 400, (g, 2))
    y = rng.binomial(n, 0.2)
    ids = np.arange(g) * 3 + 11
    treated = ids[[1, 2, 5, 9]]
    exact = share_did_randomization(ids, n, y, treated)
    assert exact.enumerated and exact.n_assignments == math.comb(12, 4)
    kw = dict(seed=42, assignments=20_000, max_enumerate=10)
    s1 = share_did_randomization(ids, n, y, treated, **kw)
    perm = rng.permutation(g)
    s2 = share_did_randomization(ids[perm], n[perm], y[perm], list(treated)[::-1], **kw)
    s3 = share_did_randomization(ids, n, y, treated, **{**kw, "seed": 43})
    assert not s1.enumerated and s1.n_assignments == 20_001 and s1.seed == 42
    assert s1 == s2  # same seed: identical record, whatever the row order
    assert s1.p_value != s3.p_value or s1.distribution != s3.distribution
    assert abs(s1.p_value - exact.p_value) < 0.015
    assert abs(s1.p_value_studentized - exact.p_value_studentized) < 0.015


def test_inverted_interval_matches_brute_force_shift():
    rng = np.random.default_rng(11)
    g = 10
    n = rng.integers(50, 400, (g, 2))
    ids = np.arange(g)
    treated = np.array([0, 2, 5, 7])
    p_true = rng.uniform(0.1, 0.3, g)[:, None] + np.where(np.isin(ids, treated), 0.05, 0.0)[:, None] * [0, 1]
    y = rng.binomial(n, p_true)
    res = share_did_randomization(ids, n, y, treated, alpha=0.1)
    assert np.isfinite(res.ci_low) and np.isfinite(res.ci_high)
    assert res.ci_low < res.estimate < res.ci_high
    combos = [np.isin(np.arange(g), c) for c in itertools.combinations(range(g), 4)]
    d_obs = np.isin(ids, treated)

    def p_of(tau):
        y0 = y.astype(float).copy()
        y0[d_obs, 1] -= tau * n[d_obs, 1]
        stat_obs = res.estimate - tau
        stats_ = np.array([explicit_did(n, y0, c) for c in combos])
        others = [not (c == d_obs).all() for c in combos]
        return (1 + np.sum(np.abs(stats_[others]) >= abs(stat_obs))) / len(combos)

    assert p_of(0.0) == pytest.approx(res.p_value)
    for tau in np.linspace(res.ci_low - 0.05, res.ci_high + 0.05, 41):
        if min(abs(tau - res.ci_low), abs(tau - res.ci_high)) < 1e-9:
            continue
        assert (p_of(tau) > 0.1) == (res.ci_low <= tau <= res.ci_high), tau
    # the end points are where p crosses α
    assert p_of(res.ci_low + 1e-9) > 0.1 and p_of(res.ci_low - 1e-6) <= 0.1


def test_ineligible_centres_fixed_or_dropped():
    ids, n, y = small_case(seed=3, g=8)
    n = n.copy()
    y = y.copy()
    n[2, 1] = y[2, 1] = 0  # a comparison centre without after-weeks
    n[5, 0] = y[5, 0] = 0  # a participating centre without before-weeks
    treated = ids[[0, 5, 6]]
    fixed = share_did_randomization(ids, n, y, treated, keep_draws=True)
    assert fixed.n_centres == 6 and fixed.n_treated == 2 and fixed.n_fixed == 2
    assert fixed.n_assignments == math.comb(6, 2)
    assert fixed.estimate == pytest.approx(explicit_did(n, y, np.isin(ids, treated)), abs=1e-15)
    elig = (n > 0).all(axis=1)
    pos = np.flatnonzero(elig)
    want = []
    for c in itertools.combinations(pos, 2):
        t = np.isin(np.arange(8), c) | (np.isin(ids, treated) & ~elig)
        want.append(explicit_did(n, y, t))
    np.testing.assert_allclose(np.sort(fixed.draws), np.sort(want), atol=1e-14)
    dropped = share_did_randomization(ids, n, y, treated, ineligible="drop")
    assert dropped.n_fixed == 0 and dropped.n_centres == 6
    assert dropped.estimate == pytest.approx(explicit_did(n[elig], y[elig], np.isin(ids[elig], treated)))


def test_weighted_version_equals_share_version():
    ids, n, y = small_case(seed=5, g=9)
    treated = ids[[1, 4, 8]]
    a = share_did_randomization(ids, n, y, treated)
    b = weighted_did_randomization(ids, y / n, n, treated)
    assert b.estimate == pytest.approx(a.estimate, abs=1e-14)
    assert b.p_value == a.p_value and b.p_value_studentized == a.p_value_studentized
    assert b.ci_low == pytest.approx(a.ci_low) and b.ci_high == pytest.approx(a.ci_high)


def test_rejects_degenerate_designs():
    ids, n, y = small_case()
    with pytest.raises(ValueError):
        share_did_randomization(ids, n, y, [])
    with pytest.raises(ValueError):
        share_did_randomization(ids, n, y, ids)
    with pytest.raises(ValueError):
        share_did_randomization(ids, n[:5], y[:5], ids[:2])


# ---------------------------------------------------------------------------------------------
# properties

designs = st.tuples(st.integers(4, 9), st.integers(0, 2**31 - 1)).flatmap(
    lambda gs: st.tuples(st.just(gs[0]), st.just(gs[1]), st.integers(1, gs[0] - 1)))


def _draw(g, seed, k):
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 40, (g, 2))
    y = rng.binomial(n, rng.uniform(0, 1, (g, 1)))
    ids = rng.choice(10_000, g, replace=False)
    treated = rng.choice(ids, k, replace=False)
    return rng, ids, n, y, treated


@settings(max_examples=40, deadline=None)
@given(designs, st.booleans())
def test_invariant_to_order_and_ids(design, sampled):
    rng, ids, n, y, treated = _draw(*design)
    kw = dict(seed=5, assignments=300, max_enumerate=0) if sampled else {}
    base = share_did_randomization(ids, n, y, treated, **kw)
    perm = rng.permutation(ids.size)
    again = share_did_randomization(ids[perm], n[perm], y[perm], treated, **kw)
    assert again == base
    if not sampled:  # enumeration does not depend on the ids at all
        new_ids = rng.choice(np.arange(50_000, 90_000), ids.size, replace=False)
        relabel = dict(zip(ids.tolist(), new_ids.tolist()))
        other = share_did_randomization(new_ids, n, y, [relabel[t] for t in treated.tolist()])
        assert other.p_value == base.p_value and other.estimate == base.estimate
        assert other.ci_low == base.ci_low and other.ci_high == base.ci_high


@settings(max_examples=60, deadline=None)
@given(designs, st.booleans(), st.sampled_from([0.05, 0.1, 0.3]))
def test_pvalue_range_and_ci_contains_estimate(design, sampled, alpha):
    _, ids, n, y, treated = _draw(*design)
    kw = dict(seed=1, assignments=199, max_enumerate=0) if sampled else {}
    res = share_did_randomization(ids, n, y, treated, alpha=alpha, **kw)
    assert isinstance(res, RandomizationResult)
    assert 1 / res.n_assignments <= res.p_value <= 1
    assert 1 / res.n_assignments <= res.p_value_studentized <= 1
    assert res.ci_low <= res.estimate <= res.ci_high
    if res.p_value <= alpha:  # a rejected τ = 0 lies outside the interval, and vice versa
        assert not (res.ci_low < 0 < res.ci_high)
    elif res.p_value > alpha + 1e-12:
        assert res.ci_low <= 0 <= res.ci_high or abs(res.estimate) < 1e-12


def test_pvalues_roughly_uniform_under_the_null():
    rng = np.random.default_rng(2024)
    g, k, reps = 8, 3, 300
    ps, pt = [], []
    for _ in range(reps):
        n = rng.integers(30, 300, (g, 2))
        share = rng.uniform(0.1, 0.3, (g, 1))  # centre effects, identical in distribution
        y = rng.binomial(n, share + rng.normal(0, 0.02, (g, 2)).clip(-0.09, 0.09))
        res = share_did_randomization(np.arange(g), n, y, rng.choice(g, k, replace=False), ci=False)
        ps.append(res.p_value)
        pt.append(res.p_value_studentized)
    for p in (np.array(ps), np.array(pt)):
        assert p.min() >= 1 / 56
        for level in (0.1, 0.25, 0.5, 0.75):
            assert abs(np.mean(p <= level) - level) < 0.09, (level, np.mean(p <= level))


# ---------------------------------------------------------------------------------------------
# Table 6 plumbing

def test_jobcentre_cell_sums_counts_weeks_and_persons():
    cells = sampled_cells(3, one_period=(5,))
    sums = jobcentre_cell_sums(cells, "before", "intervention")
    assert tuple(sums.columns) == SUM_COLUMNS
    assert sums["jobcentre_id"].is_monotonic_increasing
    for _, row in sums.iterrows():
        for label, period in (("before", "before"), ("after", "intervention")):
            part = cells[(cells["jobcentre_id"] == row["jobcentre_id"]) & (cells["period"] == period)]
            assert row[f"n_weeks_{label}"] == part["n_weeks"].sum()
            assert row[f"n_yes_{label}"] == part["n_yes"].sum()
            assert row[f"n_persons_{label}"] == part["person_id"].nunique()
    assert sums.loc[sums["jobcentre_id"] == 5, "n_weeks_after"].item() == 0
    assert set(sums.loc[sums["d"] == 1, "jobcentre_id"]) == {3, 6}


@pytest.mark.parametrize("window", ["intervention", "last_3_months"])
def test_table6_design_inference_matches_share_did_table(window):
    cells = sampled_cells(9, g=10, treated=(2, 5, 9), one_period=(7,))
    rows = share_did_table(cells, treated_ids=[2, 5, 9], before="before", after=[window])
    out = table6_design_inference(cells, [2, 5, 9], "before", window, seed=3)
    pooled = next(r for r in rows if r.estimand == "did" and r.jobcentre_id is None)
    assert out.pooled.estimate == pytest.approx(pooled.estimate, abs=1e-14)
    assert out.pooled.enumerated and out.pooled.n_fixed == 1  # centre 7 has no after-weeks
    per = {r.jobcentre_id: r.estimate for r in rows if r.estimand == "did" and r.jobcentre_id is not None}
    table = out.per_centre.set_index("jobcentre_id")
    assert set(table.index) == set(per)
    for jc, est in per.items():
        assert table.at[jc, "estimate"] == pytest.approx(est, abs=1e-14)
    assert list(out.per_centre.columns[:6]) == ["jobcentre_id", "estimate", "ci_low", "ci_high", "p_value", "outside"]
    pooled_again, per_centre = out  # a pair
    assert pooled_again is out.pooled and per_centre is out.per_centre


def test_table6_min_persons_leaves_out_the_same_rows():
    cells = sampled_cells(12, g=9, treated=(1, 4, 8), persons=(2, 9))
    for m in (0, 4, 6, 8):
        rows = share_did_table(cells, treated_ids=[1, 4, 8], before="before", after=["intervention"],
                               min_persons=m)
        kept = {r.jobcentre_id for r in rows if r.estimand == "did" and r.jobcentre_id is not None}
        out = table6_design_inference(cells, [1, 4, 8], "before", "intervention", seed=0, min_persons=m)
        assert set(out.per_centre["jobcentre_id"]) == kept


def test_table6_rejects_inconsistent_treatment():
    cells = sampled_cells(3)
    with pytest.raises(ValueError):
        table6_design_inference(cells, [3], "before", "intervention", seed=0)
