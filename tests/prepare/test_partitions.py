"""Work units of the map side: person-hash parts of large job centres, batches balanced by rows."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.prepare.partitions import Unit, pack_batches, person_bucket, plan_units, unit_name

rows_maps = st.dictionaries(st.integers(1, 99_999), st.integers(0, 3_000), min_size=1, max_size=40)


def test_a_large_job_centre_is_cut_into_parts_and_small_ones_stay_whole():
    units = plan_units({101: 2_500, 7: 900, 3: 0}, max_rows=1_000)
    assert [(u.jobcentre_id, u.part, u.parts, u.rows) for u in units] == [
        (3, 0, 1, 0), (7, 0, 1, 900), (101, 0, 3, 834), (101, 1, 3, 834), (101, 2, 3, 834)]
    assert [unit_name(u) for u in units[1:3]] == ["jc-00007.parquet", "jc-00101-p00of03.parquet"]
    assert Unit.from_key(units[3].key()) == Unit(101, 1, 3) and Unit.from_key(7) == Unit(7)


def test_person_buckets_are_fixed_and_even():
    ids = np.arange(1, 200_001, dtype=np.int64) * 7 + 90_000_000
    b = person_bucket(ids, 4)
    assert set(np.unique(b)) == {0, 1, 2, 3}
    shares = np.bincount(b) / len(b)
    assert np.all(np.abs(shares - 0.25) < 0.01)
    # pinned values: the hash must not change between releases (the parts' files and cache keys use it)
    assert person_bucket(np.array([90412001, 1, 2**40, 5, 6, 7, 8]), 3).tolist() == [1, 2, 0, 2, 2, 0, 1]
    assert np.all(np.abs(np.bincount(person_bucket(np.arange(1, 10_000), 3)) / 9_999 - 1 / 3) < 0.02)
    assert (person_bucket(ids, 1) == 0).all()


@settings(max_examples=200, deadline=None)
@given(rows_maps, st.integers(1, 5_000), st.integers(1, 12))
def test_every_unit_is_packed_once_and_the_heaviest_batch_is_bounded(rows, max_rows, n_batches):
    units = plan_units(rows, max_rows)
    assert all(u.rows <= max_rows for u in units)
    for jc, n in rows.items():  # the parts of a job centre cover its rows
        parts = [u for u in units if u.jobcentre_id == jc]
        assert len(parts) == parts[0].parts and sum(u.rows for u in parts) >= n
    batches = pack_batches(units, n_batches)
    packed = [u for b in batches for u in b]
    assert sorted(packed) == sorted(units) and len(packed) == len(units)
    assert len(batches) <= n_batches and all(b == sorted(b) for b in batches)
    loads = [sum(u.rows for u in b) for b in batches]
    assert max(loads) <= sum(loads) / len(batches) + max(u.rows for u in units)
    assert pack_batches(list(reversed(units)), n_batches) == batches  # input order does not matter
