"""The tree reductions of the map units' statistics (flows/tree.py): shape and result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.prepare.spell_counts import combine_counts, unit_spell_counts
from bipdask.prepare.sums import combine
from bipdask.runtime import storage
from flows.tree import FAN_IN, combine_statistics_impl, tree_reduce, tree_shape


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 5000), fan_in=st.integers(2, 20))
def test_the_tree_covers_each_node_of_the_level_below_once_in_order_up_to_one_root(n, fan_in):
    levels = tree_shape(n, fan_in)
    below = n
    for level in levels:
        assert [i for r in level for i in r] == list(range(below))  # consecutive, each once, in order
        assert all(1 <= len(r) <= fan_in for r in level)
        below = len(level)
    assert below == min(n, 1) or (n == 0 and not levels)
    assert (len(levels) == 0) == (n <= 1)


def test_the_tree_is_a_function_of_the_ordered_unit_list_alone():
    """The same units give the same combine calls (inputs, outputs, levels) however often and in
    whatever process the flow builds the tree: nothing of the cluster enters it."""
    urls = [f"mem://u/jc-{i:05d}-p00of01.parquet" for i in range(37)]

    def record() -> list[tuple]:
        calls: list[tuple] = []

        def submit(kind, inputs, out, level):
            calls.append((kind, tuple(inputs), out, level))
            return out

        root = tree_reduce("spell_counts", urls, "mem://tree", fan_in=4, submit=submit)
        return [*calls, tuple(root)]

    first = record()
    assert record() == first
    # 37 units, fan-in 4: 9 combines of 4 units (unit 36 passes up alone), 3 of those, one root
    assert [c[3] for c in first[:-1]] == [1] * 9 + [2] * 3 + [3]
    assert first[0][1] == tuple(urls[:4]) and first[0][2] == "mem://tree/spell_counts/level1-0000.parquet"
    assert first[11][1] == ("mem://tree/spell_counts/level1-0008.parquet", urls[36])
    assert first[-1] == ("mem://tree/spell_counts/level3-0000.parquet",)
    assert tree_reduce("spell_counts", urls[:1], "mem://tree", submit=_no_task) == urls[:1]
    assert tree_reduce("spell_counts", [], "mem://tree", submit=_no_task) == []


def _no_task(*args):
    raise AssertionError("no combine task for fewer than two inputs")


def _unit_counts(seed: int, n_units: int) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_units):
        n = int(rng.integers(0, 12))
        spells = pd.DataFrame({"D": np.full(n, u % 2, np.int8), "E": rng.integers(0, 2, n).astype(np.int8),
                               "jobcentre_id": np.full(n, 1 + u // 3, np.int32),
                               "person_id": np.arange(n, dtype=np.int64) + 1000 * u,
                               "duration": rng.integers(1, 5, n).astype(np.int32),
                               "event": rng.integers(0, 2, n).astype(np.int8)})
        out.append(unit_spell_counts({"gap": spells, "first_lab": spells.iloc[::2]}))
    return out


@pytest.mark.parametrize("fan_in", [2, 3, FAN_IN])
def test_the_root_file_holds_the_combine_of_all_units_in_bytes(tmp_path, fan_in):
    """Run with the task bodies in this process: the root's bytes are those of one combine over all
    units, whatever the fan-in, and the reduce's sums from it are those of the units stacked."""
    units = _unit_counts(5, 23)
    urls = [storage.write_parquet(f, str(tmp_path / "units" / f"jc-{i:05d}.parquet")) for i, f in enumerate(units)]

    def submit(kind, inputs, out, level):
        return combine_statistics_impl(kind, inputs, out, level)

    (root,) = tree_reduce("spell_counts", urls, str(tmp_path / f"tree{fan_in}"), fan_in=fan_in, submit=submit)
    one = storage.write_parquet(combine("spell_counts", units), str(tmp_path / "one.parquet"))
    assert storage.read_bytes(root) == storage.read_bytes(one)
    for kind in ("gap", "first_lab"):
        pd.testing.assert_frame_equal(combine_counts([storage.read_parquet(root)], kind),
                                      combine_counts([pd.concat(units, ignore_index=True)], kind), check_exact=True)
