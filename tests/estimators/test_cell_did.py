"""bipdask/estimators/cell_did.py: the person-clustered 2×2 DiD from per-unit moments of the
per-person cell sums equals the fit on the persons' rows (units holding disjoint persons)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.errors import InputError
from bipdask.estimators.cell_did import ALL_PERIODS, cell_did, cell_did_moments, person_cell_moments

COLUMNS = ["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"]


def _window(frame: pd.DataFrame, window: str = "after") -> pd.DataFrame:
    out = frame[frame["period"].isin(["before", window])]
    if "period2" in out:
        out = out[out["period2"].isin(["before", window])].assign(e2=lambda f: (f["period2"] == window).astype("int8"))
    return out.assign(e=lambda f: (f["period"] == window).astype("int8"))


def _assert_same_fit(a, b) -> None:
    assert (a.n_persons, a.n_obs, a.cell_persons, a.cell_obs) == (b.n_persons, b.n_obs, b.cell_persons, b.cell_obs)
    np.testing.assert_array_equal(a.params.to_numpy(), b.params.to_numpy())
    # Variances of shares; a cell whose persons all have its mean is 0 here, rounding on the rows.
    np.testing.assert_allclose(b.cov.to_numpy(), a.cov.to_numpy(), rtol=1e-10, atol=1e-24)
    np.testing.assert_allclose(b.cell_se, a.cell_se, rtol=1e-10, atol=1e-12)
    if a.se > 1e-12:
        assert b.p_value == pytest.approx(a.p_value, rel=1e-8, abs=1e-12)


HAND = pd.DataFrame([  # person 11 in both periods; 12 only before; 21, 22 (participating) both; 23 after only
    (1, 11, "before", 0, 10, 2), (1, 11, "after", 0, 8, 5), (1, 12, "before", 0, 4, 0),
    (2, 21, "before", 1, 6, 1), (2, 21, "after", 1, 9, 6), (2, 22, "before", 1, 5, 5), (2, 22, "after", 1, 7, 0),
    (2, 23, "after", 1, 3, 3), (2, 24, "other", 1, 2, 1),
], columns=COLUMNS)


def test_hand_made_moments_count_each_person_once_and_keep_the_cross_period_terms():
    moments = person_cell_moments(HAND)
    one = moments[(moments["jobcentre_id"] == 1) & (moments["period"] == "before") & (moments["period2"] == "after")]
    assert one[["n_persons", "nn", "ny", "yn", "yy"]].to_numpy().tolist() == [[1, 80, 50, 16, 10]]
    diag = moments[(moments["jobcentre_id"] == 2) & (moments["period"] == "after") & (moments["period2"] == "after")]
    assert diag[["n_persons", "n_weeks", "n_yes", "nn", "ny", "yy"]].to_numpy().tolist() == [
        [3, 19, 9, 81 + 49 + 9, 54 + 0 + 9, 36 + 0 + 9]]
    every = moments[moments["period"] == ALL_PERIODS].set_index("jobcentre_id")
    assert every["n_persons"].to_dict() == {1: 2, 2: 4} and every["n_weeks"].to_dict() == {1: 22, 2: 32}
    fit = cell_did_moments(_window(moments))
    assert fit.n_persons == 5 and fit.cell_persons == (2, 1, 2, 3)  # 11, 12, 21, 22, 23: each once
    _assert_same_fit(cell_did(_window(HAND)), fit)
    # Without the cross-period rows, persons in both periods count twice and their scores' covariance is lost.
    lost = cell_did_moments(_window(moments[moments["period"] == moments["period2"]]))
    assert lost.n_persons == 8 and not np.allclose(lost.cov.loc["D_E", "D_E"], fit.cov.loc["D_E", "D_E"])


def test_moments_of_an_empty_cell_raise_as_the_rows_do():
    rows = HAND[HAND["d"] == 0]
    with pytest.raises(InputError, match="DiD cell D1_E0 has no observations"):
        cell_did(_window(rows))
    with pytest.raises(InputError, match="DiD cell D1_E0 has no observations"):
        cell_did_moments(_window(person_cell_moments(rows)))
    assert person_cell_moments(rows.iloc[:0]).empty


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 40), st.sampled_from(["before", "after", "late"]),
                          st.integers(1, 30), st.floats(0, 1)), min_size=1, max_size=120),
       st.integers(1, 5), st.randoms(use_true_random=False))
def test_moments_over_any_split_of_the_persons_into_units_equal_the_fit_on_the_rows(rows, n_parts, rnd):
    """Persons (each in one job centre) cut into parts at random, each part's moments written on
    its own: the fit from the concatenated moments is the fit on the rows (<= 1e-10, counts exact).
    Rows have weeks, as :func:`bipdask.prepare.outcomes.share_cell_sums` writes them."""
    frame = pd.DataFrame([(jc, 100 * jc + p, per, int(jc <= 2), n, int(round(n * s))) for jc, p, per, n, s in rows],
                         columns=COLUMNS)
    part = {pid: rnd.randrange(n_parts) for pid in frame["person_id"].unique()}
    units = frame.groupby([frame["jobcentre_id"], frame["person_id"].map(part)], sort=False)
    moments = pd.concat([person_cell_moments(u) for _, u in units], ignore_index=True)
    every = moments[moments["period"] == ALL_PERIODS]
    assert int(every["n_persons"].sum()) == frame["person_id"].nunique()
    assert int(every["n_weeks"].sum()) == int(frame["n_weeks"].sum())
    for window in ("after", "late"):
        try:
            expected = cell_did(_window(frame, window))
        except InputError as exc:
            with pytest.raises(InputError) as again:
                cell_did_moments(_window(moments, window))
            assert str(again.value) == str(exc)
            continue
        _assert_same_fit(expected, cell_did_moments(_window(moments, window)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 20), st.sampled_from(["before", "after", "late", "a"]),
                          st.integers(0, 1), st.integers(1, 9), st.integers(0, 9)), min_size=1, max_size=80))
def test_moments_of_integer_cell_sums_equal_the_groupby_form(rows):
    """Integer keys and counts with weeks in every row (the map's cell sums) take the sorted-array
    path; float counts the groupby/unstack form: the same frame, row for row (the files the map
    writes must not change)."""
    frame = pd.DataFrame(rows, columns=COLUMNS).astype({"jobcentre_id": "int32", "d": "int8"})
    frame["period"] = frame["period"].astype("string")
    frame["n_yes"] = np.minimum(frame["n_yes"], frame["n_weeks"])
    pd.testing.assert_frame_equal(person_cell_moments(frame), person_cell_moments(frame.astype({"n_weeks": float})))


def test_a_unit_without_rows_has_the_moment_column_types_of_a_unit_with_rows(tmp_path):
    """The reduce concatenates the units' Parquet files: an empty unit (a small job centre with no
    new course) must not carry other types (Arrow cannot merge int8 and int64)."""
    from bipdask.runtime import storage

    full, empty = person_cell_moments(HAND), person_cell_moments(HAND.iloc[:0])
    assert dict(empty.dtypes) == dict(full.dtypes)
    urls = [storage.write_parquet(f, str(tmp_path / f"{i}.parquet")) for i, f in enumerate((full, empty))]
    assert len(storage.read_parquet(urls)) == len(full)
