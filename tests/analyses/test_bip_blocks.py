"""BIP analyses in replicate blocks (bipdask.analyses.bip.blocks): blocks combined equal one call, bit for bit."""

import importlib
import io
from itertools import pairwise

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bipdask.analyses.bip.blocks import (
    bip_point,
    bip_replicate_block,
    bip_replicate_block_from_plans,
    combine_bip,
    dump_plan,
    load_plan,
)
from bipdask.analyses.bip.estimates import bip_estimates, bip_outputs
from bipdask.inference.config import Inference
from bipdask.synth.bip.delivery import generate_bip
from bipdask.synth.hir import geography
from bipdask.synth.hir import params as SP

B = 20
INFERENCE = Inference(replicates=B, seed=11)


@pytest.fixture(scope="module")
def part():
    return generate_bip(geography.jobcentres(), SP.panel_weeks(), scale=0.15, seed=7,
                        person_id_start=5_000_000, caseworker_id_start=900_000)


@pytest.fixture(scope="module")
def inputs(part):
    return part.bip_responses, part.persons, part.weeks[["person_id", "week", "employed", "ordinary_hours", "su"]]


@pytest.fixture(scope="module")
def whole(inputs):
    """The reference: one call with all B replicates."""
    return bip_outputs(bip_estimates(*inputs, inference=INFERENCE))


@pytest.fixture(scope="module")
def point(inputs):
    return bip_point(*inputs, inference=INFERENCE)


def _block(point, b0, b1):
    """A block task's work: the replicates of [b0, b1) from the point task's plans, pickled and read back."""
    plans = {a: (lambda data=_pickled(p): load_plan(io.BytesIO(data))) for a, p in point.plans.items()}
    return bip_replicate_block_from_plans(plans, INFERENCE.replace(window=(b0, b1)))


def _pickled(plan) -> bytes:
    buf = io.BytesIO()
    dump_plan(plan, buf)
    return buf.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


def _assert_same(combined, whole):
    rows, by = combined
    rows_w, by_w = whole
    pd.testing.assert_frame_equal(rows, rows_w, check_exact=True)
    assert sorted(by) == sorted(by_w)
    for analysis, est in by_w.items():
        pd.testing.assert_frame_equal(by[analysis].replicates, est.replicates, check_exact=True)
        assert _parquet(by[analysis].replicates) == _parquet(est.replicates), analysis
        pd.testing.assert_frame_equal(by[analysis].rows, est.rows, check_exact=True)
        assert by[analysis].notes == est.notes


def test_two_blocks_combined_equal_one_call_bit_for_bit(inputs, point, whole):
    rows_w, by_w = whole
    assert set(by_w) == {"bip_caseworker_effectiveness", "bip_caseworker_change", "bip_progression"}
    assert rows_w["se"].notna().sum() > 100                      # the comparison covers bootstrapped rows
    combined = combine_bip(point.rows, [_block(point, 0, 7), _block(point, 7, B)], INFERENCE.alpha)
    _assert_same(combined, whole)


def test_a_block_is_the_rows_of_the_whole_replicate_matrix(point, whole):
    _, by_w = whole
    block = _block(point, 7, 13)
    for analysis, frame in block.items():
        assert frame["replicate"].tolist() == list(range(7, 13))
        expected = by_w[analysis].replicates.iloc[7:13].reset_index(drop=True)
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)


def test_point_rows_are_the_estimates_of_the_bootstrapped_call(point, whole):
    rows_w, _ = whole
    pd.testing.assert_frame_equal(point.rows[["analysis", "estimand", "estimate", "n_persons", "n_obs"]],
                                  rows_w[["analysis", "estimand", "estimate", "n_persons", "n_obs"]], check_exact=True)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.sets(st.integers(1, B - 1), max_size=3))
def test_any_block_cut_gives_the_same_result(inputs, point, whole, cuts):
    edges = [0, *sorted(cuts), B]
    blocks = [_block(point, a, b) for a, b in pairwise(edges)]
    _assert_same(combine_bip(point.rows, blocks, INFERENCE.alpha), whole)


def test_blocks_out_of_order_or_with_a_gap_are_refused(point):
    a, b = _block(point, 0, 5), _block(point, 5, 9)
    with pytest.raises(ValueError, match="in order"):
        combine_bip(point.rows, [b, a])
    with pytest.raises(ValueError, match="in order"):
        combine_bip(point.rows, [b])


def test_a_window_lies_inside_the_run_and_needs_the_pairs_bootstrap():
    with pytest.raises(ValueError, match="pairs"):
        Inference(replicates=9, window=(3, 8), method="wild")
    for bad in ((-1, 3), (3, 3), (3, 10)):
        with pytest.raises(ValueError, match="window"):
            Inference(replicates=9, window=bad)
    assert Inference(replicates=9, window=(3, 8)).replicate_numbers == range(3, 8)
    assert Inference(replicates=9).replicate_numbers == range(9) and Inference(replicates=9).replicate_window is None


def test_a_block_from_plans_equals_the_windowed_single_call_bit_for_bit(inputs, point):
    """The plans' replicates are those of one call of bip_estimates with the windowed inference
    (how a block task computed them before it read plans), bit for bit."""
    window = INFERENCE.replace(window=(3, 16))
    _, by_old = bip_outputs(bip_estimates(*inputs, inference=window))
    new = _block(point, 3, 16)
    assert list(new) == list(by_old)
    for analysis, est in by_old.items():
        old = est.replicates.copy()
        old["replicate"] = old["replicate"] + 3
        pd.testing.assert_frame_equal(new[analysis], old, check_exact=True)
        assert _parquet(new[analysis]) == _parquet(old), analysis


def test_a_block_from_the_inputs_equals_the_one_from_plans(inputs, point):
    got = bip_replicate_block(*inputs, inference=INFERENCE.replace(window=(0, 4)))
    want = _block(point, 0, 4)
    assert list(got) == list(want)
    for analysis, frame in want.items():
        pd.testing.assert_frame_equal(got[analysis], frame, check_exact=True)


def test_a_block_from_plans_fits_no_model(point, monkeypatch):
    """The point fits are done once: a block computes its replicates from the plans alone."""
    def refit(*args, **kwargs):
        raise AssertionError("a replicate block refitted an LPM")

    for name in ("effectiveness", "change", "progression"):
        monkeypatch.setattr(importlib.import_module(f"bipdask.analyses.bip.{name}"), "lpm", refit)
    block = _block(point, 0, 5)
    assert set(block) == set(point.plans) and all(len(f) == 5 for f in block.values())


def test_plans_of_another_seed_are_refused(point):
    with pytest.raises(ValueError, match="seed"):
        bip_replicate_block_from_plans(point.plans, Inference(replicates=B, seed=12, window=(0, 5)))


def test_a_point_without_replicates_has_no_plans(inputs):
    assert bip_point(*inputs, inference=Inference(replicates=0, seed=11)).plans is None
