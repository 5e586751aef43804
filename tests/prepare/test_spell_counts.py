"""Spell pattern counts and persons per job centre: the per-unit model inputs of Tables A/4, 7."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.prepare.partitions import person_bucket
from bipdask.prepare.spell_counts import (
    COUNT_COLUMNS,
    PERSON_COLUMNS,
    combine_counts,
    combine_persons,
    spell_counts,
    spell_persons,
    unit_spell_counts,
    unit_spell_persons,
)

COLUMNS = ["D", "E", "jobcentre_id", "person_id", "duration", "event"]


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS).astype({"D": np.int8, "E": np.int8, "jobcentre_id": np.int32,
                                                       "person_id": np.int64, "duration": np.int32,
                                                       "event": np.int8})


HAND = frame([
    (1, 0, 5, 100, 3, 1), (1, 0, 5, 100, 3, 1), (1, 1, 5, 100, 3, 1),  # person 100: both periods
    (1, 0, 5, 101, 3, 1), (1, 0, 5, 101, 4, 0),
    (0, 1, 7, 200, 3, 1), (0, 1, 7, 201, 3, 1),
])


def test_spell_counts_count_spells_per_pattern():
    got = spell_counts(HAND)
    assert list(got.columns) == ["jobcentre_id", "D", "E", "duration", "event", "n_spells"]
    assert [tuple(int(v) for v in r) for r in got.itertuples(index=False)] == [
        (5, 1, 0, 3, 1, 3), (5, 1, 0, 4, 0, 1), (5, 1, 1, 3, 1, 1), (7, 0, 1, 3, 1, 2)]
    assert got["n_spells"].sum() == len(HAND)
    by_person = spell_counts(HAND, by_person=True)
    assert by_person.columns[0] == "person_id" and len(by_person) == 6


def test_spell_persons_count_a_person_in_both_periods_once_in_either():
    got = spell_persons(HAND).set_index("jobcentre_id")
    assert got.loc[5].tolist() == [2, 1, 2]  # before: 100, 101; intervention: 100; either: 100, 101
    assert got.loc[7].tolist() == [0, 2, 2]
    assert list(spell_persons(HAND.iloc[:0]).columns) == list(PERSON_COLUMNS[1:])


def test_unit_frames_stack_both_kinds_and_combine_picks_one():
    unit = {"gap": HAND, "first_lab": HAND.iloc[:2]}
    counts, persons = unit_spell_counts(unit), unit_spell_persons(unit)
    assert list(counts.columns) == list(COUNT_COLUMNS) and list(persons.columns) == list(PERSON_COLUMNS)
    assert combine_counts([counts], "first_lab")["n_spells"].tolist() == [2]
    pd.testing.assert_frame_equal(combine_counts([counts], "gap"), spell_counts(HAND))
    pd.testing.assert_frame_equal(combine_persons([persons], "gap"), spell_persons(HAND))
    empty = combine_counts([], "gap")
    assert len(empty) == 0 and list(empty.columns) == list(COUNT_COLUMNS[1:])


spell_rows = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 12), st.integers(1, 6),
                                st.integers(0, 1)), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(spell_rows, st.integers(1, 4))
def test_units_cut_by_person_hash_sum_to_the_counts_of_all_spells(rows, parts):
    # invariant: job centres cut into person-hash parts (the map side's units) give, summed, the
    # counts and the distinct persons of the gathered spells
    spells = frame([(int(jc < 2), e, 10 + jc, 1000 * jc + p, d, ev) for jc, e, p, d, ev in rows])
    units = []
    for jc, g in spells.groupby("jobcentre_id"):
        bucket = person_bucket(g["person_id"].to_numpy(), parts)
        for k in range(parts):
            part = g[bucket == k]
            units.append((unit_spell_counts({"gap": part, "first_lab": part.iloc[:0]}),
                          unit_spell_persons({"gap": part, "first_lab": part.iloc[:0]})))
    counts = combine_counts([u[0] for u in units], "gap")
    persons = combine_persons([u[1] for u in units], "gap")
    pd.testing.assert_frame_equal(counts, spell_counts(spells))
    pd.testing.assert_frame_equal(persons, spell_persons(spells))
    assert persons["n_persons"].sum() == spells["person_id"].nunique()
