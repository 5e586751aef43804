"""Table 6 bootstrap from per-person cell sums: exact replicates, partition invariance, SE sanity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.analyses.hir.shares import (
    share_did_replicates,
    share_did_table,
    with_bootstrap,
)
from bipdask.estimators.cell_did import cell_did
from bipdask.inference import bootstrap as bs
from bipdask.inference.config import Inference

TREATED = (3, 5)
WINDOWS = ("intervention", "last_3_months")


def _cells(n_persons: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(1000, 1000 + n_persons):
        jc = int(rng.choice([1, 2, 3, 4, 5]))
        d = int(jc in TREATED)
        p = 0.15 + 0.03 * d
        for period, bump in (("before", 0.0), ("intervention", 0.02), ("last_3_months", 0.03)):
            n = int(rng.integers(1, 30))
            rows.append((jc, pid, period, d, n, int(rng.binomial(n, min(1.0, p + bump * (1 + d))))))
    return pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"])


def _resampled_did(cells: pd.DataFrame, weights: pd.Series, window: str, jc: int | None) -> float:
    """cell_did on the resampled persons: a person drawn k times counts k times in every sum."""
    w = cells["person_id"].map(weights).to_numpy()
    sample = cells[cells["period"].isin(["before", window])].copy()
    ws = w[cells["period"].isin(["before", window]).to_numpy()]
    sample["n_weeks"] = sample["n_weeks"] * ws
    sample["n_yes"] = sample["n_yes"] * ws
    sample = sample[ws > 0].assign(e=lambda f: (f["period"] == window).astype("int8"))
    if jc is not None:
        sample = sample[(sample["d"] == 0) | (sample["jobcentre_id"] == jc)]
    return cell_did(sample).estimate


def test_each_replicate_equals_cell_did_on_the_resampled_persons():
    cells = _cells()
    reps = share_did_replicates(cells, treated_ids=TREATED, before="before", after=WINDOWS,
                                inference=Inference(replicates=4, seed=11))
    persons = np.unique(cells["person_id"])
    for b in range(4):
        weights = pd.Series(bs.replicate_weights(persons, [b], 11)[0], index=persons)
        for window in WINDOWS:
            for jc in (None, *TREATED):
                key = f"did|{'all' if jc is None else jc}|{window}"
                assert reps[key].iloc[b] == pytest.approx(_resampled_did(cells, weights, window, jc), abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_replicates_do_not_depend_on_row_order_or_on_how_a_persons_weeks_were_split(rnd):
    cells = _cells(120, seed=3)
    base = share_did_replicates(cells, treated_ids=TREATED, before="before", after=WINDOWS,
                                inference=Inference(replicates=20, seed=2))
    split = cells.copy()
    half = split.assign(n_weeks=split["n_weeks"] // 2, n_yes=np.minimum(split["n_yes"], split["n_weeks"] // 2))
    rest = split.assign(n_weeks=split["n_weeks"] - half["n_weeks"], n_yes=split["n_yes"] - half["n_yes"])
    shuffled = pd.concat([half, rest]).sample(frac=1.0, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
    again = share_did_replicates(shuffled, treated_ids=TREATED, before="before", after=WINDOWS,
                                 inference=Inference(replicates=20, seed=2))
    pd.testing.assert_frame_equal(base, again, check_exact=False, rtol=1e-12, atol=1e-15)


def test_bootstrap_se_agrees_with_the_cluster_robust_se_and_the_rows_take_it():
    cells = _cells(3000, seed=5)
    rows = share_did_table(cells, treated_ids=TREATED, before="before", after=WINDOWS)
    reps = share_did_replicates(cells, treated_ids=TREATED, before="before", after=WINDOWS,
                                inference=Inference(replicates=999, seed=7))
    boot = with_bootstrap(rows, reps)
    assert len(boot) == len(rows)
    for analytic, b in zip(rows, boot):
        assert b.estimate == analytic.estimate
        assert b.se == pytest.approx(analytic.se, rel=0.15)
        assert b.ci_low < b.estimate < b.ci_high
        if b.estimand == "did":
            assert 0 < b.p_value <= 1
        else:
            assert b.p_value is None
    assert set(reps.columns) - {"replicate"} >= {f"did|{j}|{w}" for j in ("all", *TREATED) for w in WINDOWS}
    again = share_did_replicates(cells, treated_ids=TREATED, before="before", after=WINDOWS,
                                 inference=Inference(replicates=999, seed=7))
    pd.testing.assert_frame_equal(reps, again)


def test_rows_whose_replicates_mostly_failed_lose_their_interval():
    from bipdask.analyses.estimates import Estimate

    rows = [Estimate("share_internship_or_hours", "did", None, "intervention", 0.01, 0.02, -0.03, 0.05, 0.6, 50, 500)]
    reps = pd.DataFrame({"replicate": range(10), "did|all|intervention": [0.01, np.nan, *[np.nan] * 8]})
    (row,) = with_bootstrap(rows, reps)
    assert row.estimate == 0.01 and row.se is None and row.ci_low is None and row.p_value is None


def _unit_moments(cells: pd.DataFrame, parts: int, rnd) -> pd.DataFrame:
    """The moments of each map unit (a job centre, or a random person part of one), concatenated."""
    from bipdask.estimators.cell_did import person_cell_moments

    part = {pid: rnd.randrange(parts) for pid in cells["person_id"].unique()}
    units = cells.groupby([cells["jobcentre_id"], cells["person_id"].map(part)], sort=False)
    return pd.concat([person_cell_moments(u) for _, u in units], ignore_index=True)


def _same_rows(a: list, b: list) -> None:
    fa, fb = pd.DataFrame([r.__dict__ for r in a]), pd.DataFrame([r.__dict__ for r in b])
    assert list(fa.columns) == list(fb.columns) and len(fa) == len(fb)
    for col in fa.columns:
        if pd.api.types.is_float_dtype(fa[col]) or col in ("se", "ci_low", "ci_high", "p_value"):
            x, y = fa[col].to_numpy(float), fb[col].to_numpy(float)
            np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-14, equal_nan=True, err_msg=col)
        else:
            assert fa[col].tolist() == fb[col].tolist(), col


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.randoms(use_true_random=False))
def test_table6_from_unit_moments_equals_table6_from_the_persons_rows(seed, parts, rnd):
    """Table 6's rows (CR1 and the job-centre-level wild, randomization and placebo rows) from the
    per-unit moments of any cut of the job centres into person parts equal those from the gathered
    per-person cell sums: estimates and counts exactly, SEs and intervals to 1e-10."""
    from bipdask.analyses.hir.shares import design_based_rows

    cells = _cells(300, seed)
    moments = _unit_moments(cells, parts, rnd)
    kw = dict(treated_ids=TREATED, before="before", after=WINDOWS)
    a = share_did_table(cells, **kw, min_persons=5)
    b = share_did_table(moments, **kw, min_persons=5)
    _same_rows(a, b)
    assert {r.n_persons for r in b if r.jobcentre_id is None and r.estimand == "did"} == {cells["person_id"].nunique()}
    inference = Inference(replicates=49, seed=seed, cluster="jobcentre_id", method="wild")
    _same_rows(design_based_rows(a, cells, **kw, inference=inference, min_persons=5),
               design_based_rows(b, moments, **kw, inference=inference, min_persons=5))


def test_table6_from_moments_without_one_units_rows_differs():
    """The comparison above can fail: a unit's moments left out change the counts and the DiD."""
    import random

    cells = _cells(300, 1)
    moments = _unit_moments(cells, 2, random.Random(0))
    kw = dict(treated_ids=TREATED, before="before", after=WINDOWS)
    whole = share_did_table(moments, **kw)
    cross = (moments["period"] != moments["period2"]) & (moments["jobcentre_id"] == 3)
    no_cross = share_did_table(moments[~cross], **kw)  # persons in both periods would count twice
    assert no_cross[0].n_persons > whole[0].n_persons and no_cross[0].se != whole[0].se
    one_period = (moments["period"] == moments["period2"]) & (moments["period"] == "before")
    dropped = share_did_table(moments.drop(index=moments.index[one_period][:1]), **kw)
    assert dropped[0].n_obs < whole[0].n_obs and dropped[0].estimate != whole[0].estimate
