"""The cell DiD (HIR eq. 2) against statsmodels OLS with person-clustered SEs on expanded rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.errors import InputError
from bipdask.linear import PARAM_NAMES, cell_did, headline, share_did_table
from bipdask.results import estimates_frame


def random_person_weeks(seed: int, n_persons: int = 60) -> pd.DataFrame:
    """Person-week rows; persons change D (move) and E across weeks; outcome depends on cell."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    rows = []
    for pid in range(n_persons):
        n_weeks = int(rng.integers(1, 30))
        d = rng.integers(0, 2, n_weeks) if rng.random() < 0.2 else np.full(n_weeks, rng.integers(0, 2))
        e = rng.integers(0, 2, n_weeks)
        p = 0.15 + 0.03 * d + 0.02 * e + 0.05 * d * e + rng.normal(0, 0.05)
        y = (rng.random(n_weeks) < np.clip(p, 0, 1)).astype(int)
        rows.append(pd.DataFrame({"person_id": 1000 + 7 * pid, "d": d, "e": e, "y": y}))
    return pd.concat(rows, ignore_index=True)


def to_cells(rows: pd.DataFrame) -> pd.DataFrame:
    return (rows.groupby(["person_id", "d", "e"])["y"].agg(n_weeks="size", n_yes="sum").reset_index())


def statsmodels_fit(rows: pd.DataFrame):
    x = np.column_stack([np.ones(len(rows)), rows["d"], rows["e"], rows["d"] * rows["e"]])
    return sm.OLS(rows["y"].to_numpy(float), x).fit(
        cov_type="cluster", cov_kwds={"groups": rows["person_id"].to_numpy()}, use_t=True
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_statsmodels_cluster_ols(seed):
    rows = random_person_weeks(seed)
    ref = statsmodels_fit(rows)
    fit = cell_did(to_cells(rows))
    np.testing.assert_allclose(fit.params, ref.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(fit.cov), ref.cov_params(), rtol=1e-10, atol=1e-14)
    assert fit.se == pytest.approx(ref.bse[3], rel=1e-10)
    assert fit.p_value == pytest.approx(ref.pvalues[3], rel=1e-8)
    lo, hi = ref.conf_int()[3]
    assert fit.ci_low == pytest.approx(lo, abs=1e-10) and fit.ci_high == pytest.approx(hi, abs=1e-10)
    assert fit.n_obs == len(rows) and fit.n_persons == rows["person_id"].nunique()
    cells = rows.groupby(["d", "e"])["y"].mean()
    np.testing.assert_allclose(fit.cell_means, [cells[0, 0], cells[0, 1], cells[1, 0], cells[1, 1]], atol=1e-15)
    assert list(fit.params_series().index) == list(PARAM_NAMES)


def test_hand_computed_did():
    # D0: 1/4 → 2/4; D1: 1/2 → 2/2: DiD = (1 - 0.5) - (0.5 - 0.25) = 0.25
    cells = pd.DataFrame({
        "person_id": [1, 1, 2, 2, 3, 4],
        "d": [0, 0, 0, 0, 1, 1],
        "e": [0, 1, 0, 1, 0, 1],
        "n_weeks": [2, 2, 2, 2, 2, 2],
        "n_yes": [1, 2, 0, 0, 1, 2],
    })
    fit = cell_did(cells)
    assert fit.cell_means == (0.25, 0.5, 0.5, 1.0)
    assert fit.estimate == pytest.approx(0.25)
    assert fit.n_obs == 12 and fit.n_persons == 4


def test_empty_cell_is_an_input_error_naming_the_cell():
    cells = pd.DataFrame({"person_id": [1, 2, 3], "d": [0, 0, 1], "e": [0, 1, 0],
                          "n_weeks": [3, 3, 3], "n_yes": [1, 1, 1]})
    with pytest.raises(InputError, match="D1_E1"):
        cell_did(cells)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000), n_parts=st.integers(1, 5))
def test_invariant_to_row_order_and_partitioning(seed, perm_seed, n_parts):
    rows = random_person_weeks(seed, n_persons=25)
    whole = cell_did(to_cells(rows))
    rng = np.random.default_rng(perm_seed)
    # Split the person-weeks at random into parts (batches / job centres), sum each part to
    # cells, concatenate in a shuffled order: the same person appears in several rows.
    part = rng.integers(0, n_parts, len(rows))
    pieces = [to_cells(rows[part == k]) for k in range(n_parts) if (part == k).any()]
    cells = pd.concat(pieces, ignore_index=True)
    cells = cells.iloc[rng.permutation(len(cells))]
    split = cell_did(cells)
    assert split.params == whole.params
    assert split.cov == whole.cov
    assert (split.n_obs, split.n_persons) == (whole.n_obs, whole.n_persons)


def planted_cells(effect: float, seed: int = 0, n_persons: int = 4000) -> tuple[pd.DataFrame, list[int]]:
    """Cell sums of a panel with 4 job centres (1, 2 participating) and a planted DiD effect."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    jc = rng.integers(1, 5, n_persons)
    d = np.isin(jc, [1, 2]).astype(int)
    frames = []
    for label, e in (("before", 0), ("intervention", 1), ("last_3_months", 1)):
        n = rng.integers(5, 40, n_persons) if label != "last_3_months" else rng.integers(1, 13, n_persons)
        p = 0.15 + 0.02 * d + 0.02 * e + effect * d * e
        frames.append(pd.DataFrame({"jobcentre_id": jc, "person_id": np.arange(n_persons), "period": label,
                                    "d": d, "n_weeks": n, "n_yes": rng.binomial(n, p)}))
    return pd.concat(frames, ignore_index=True), [1, 2]


def test_share_did_table_recovers_planted_effect_and_writes_tidy_rows():
    cells, treated = planted_cells(0.05)
    rows = share_did_table(cells, treated_ids=treated, after=("intervention", "last_3_months"))
    df = estimates_frame(rows)
    pooled = df[(df["estimand"] == "did") & df["jobcentre_id"].isna()].set_index("period")
    for period in ("intervention", "last_3_months"):
        assert pooled.loc[period, "ci_low"] < 0.05 < pooled.loc[period, "ci_high"]
        assert pooled.loc[period, "p_value"] < 0.05
    per_jc = df[(df["estimand"] == "did") & df["jobcentre_id"].notna()]
    assert sorted(per_jc["jobcentre_id"].unique()) == [1, 2]
    means = df[(df["estimand"] == "mean_others") & df["jobcentre_id"].isna()].set_index("period")
    assert set(means.index) == {"before", "intervention", "last_3_months"}
    text = headline(df)
    assert "Effect (DiD)" in text and "last 3 months" in text


def test_share_did_table_suppresses_small_job_centres():
    cells, treated = planted_cells(0.0, n_persons=400)
    rows = share_did_table(cells, treated_ids=treated, min_persons=10_000)
    assert all(r.jobcentre_id is None for r in rows)
