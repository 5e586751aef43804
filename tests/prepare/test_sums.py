"""The combines of the map units' additive statistics: associative, so any tree gives one frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.cell_did import cell_did_moments, person_cell_moments
from bipdask.prepare.descriptives import MOMENT_KEYS
from bipdask.prepare.exit_cells import EXIT_FLAGS
from bipdask.prepare.hir import COUNT_COLUMNS as LINKAGE_COUNTS
from bipdask.prepare.hir import linkage_report_from_counts
from bipdask.prepare.spell_counts import combine_counts, combine_persons, unit_spell_counts, unit_spell_persons
from bipdask.prepare.sums import COMBINES, combine

PERIODS = ("before", "intervention", "last_3_months")


def _spells(rng: np.random.Generator, jc: int, persons: np.ndarray) -> pd.DataFrame:
    n = len(persons) * 2
    return pd.DataFrame({"D": np.full(n, jc % 2, np.int8), "E": rng.integers(0, 2, n).astype(np.int8),
                         "jobcentre_id": np.full(n, jc, np.int32), "person_id": np.repeat(persons, 2),
                         "duration": rng.integers(1, 6, n).astype(np.int32),
                         "event": rng.integers(0, 2, n).astype(np.int8)})


def _cells(rng: np.random.Generator, jc: int, persons: np.ndarray) -> pd.DataFrame:
    rows = []
    for pid in persons:
        for period in PERIODS:
            if rng.random() < 0.8:
                n = int(rng.integers(1, 20))
                rows.append((jc, int(pid), period, jc % 2, n, int(rng.binomial(n, 0.3))))
    return pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes"])


def unit_frames(kind: str, seed: int, n_units: int) -> list[pd.DataFrame]:
    """``n_units`` units' files of ``kind`` as the map writes them: job centres 1–4, each unit its own
    persons (a unit of a job centre may be one of its person-hash parts), some units empty."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_units):
        jc = int(rng.integers(1, 5))
        persons = np.arange(u * 100, u * 100 + int(rng.integers(0, 6)), dtype=np.int64)
        if kind in ("spell_counts", "spell_persons"):
            spells = {"gap": _spells(rng, jc, persons), "first_lab": _spells(rng, jc, persons[::2])}
            out.append((unit_spell_counts if kind == "spell_counts" else unit_spell_persons)(spells))
        elif kind in ("share_moments", "new_course_share_moments"):
            out.append(person_cell_moments(_cells(rng, jc, persons)))
        elif kind == "descriptive_moments":
            stats = np.array(["n_persons", "n_weeks", "age:sum", "age:sq", "male:n"], dtype=object)
            n = len(persons) * 2
            out.append(pd.DataFrame({"jobcentre_id": np.full(n, jc, np.int32),
                                     "d": np.full(n, jc % 2, np.int8),
                                     "period": pd.array(rng.choice(["before", "intervention"], n), dtype="string"),
                                     "stat": pd.array(rng.choice(stats, n), dtype="string"),
                                     "value": rng.integers(0, 5000, n).astype(np.float64)}))
        elif kind == "course_exit_cells":
            n = len(persons) * 3
            out.append(combine(kind, [pd.DataFrame({
                "jobcentre_id": np.full(n, jc, np.int32), "tau": rng.integers(0, 4, n).astype(np.int16),
                "D": np.full(n, jc % 2, np.int8), "E": rng.integers(0, 2, n).astype(np.int8),
                **{c: rng.integers(0, 30, n).astype(np.int32) for c in ("n_weeks", "n_unobserved", *EXIT_FLAGS)}})]))
        elif kind == "linkage_counts":
            n = len(persons)
            out.append(pd.DataFrame({"jobcentre_id": np.full(n, jc, np.int32),
                                     "week": (np.datetime64("2020-01-06") + 7 * rng.integers(0, 4, n)
                                              ).astype("datetime64[ns]"),
                                     **{c: rng.integers(0, 50, n).astype(np.int64) for c in LINKAGE_COUNTS}}))
        elif kind == "bip_first_hits":
            n = len(persons)
            out.append(pd.DataFrame({"response_id": rng.integers(0, 8, n).astype(np.int64),
                                     "first_start_week": (np.datetime64("2020-01-06") + 7 * rng.integers(0, 50, n)
                                                          ).astype("datetime64[ns]")}))
        else:
            raise AssertionError(kind)
    return out



@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(COMBINES)), seed=st.integers(0, 2**16), n_units=st.integers(0, 12),
       data=st.data())
def test_any_grouping_of_the_units_gives_the_frame_of_one_combine(kind, seed, n_units, data):
    """Combining consecutive groups of units, then groups of those partials (any fan-in, any
    number of levels), gives exactly the frame of one combine over all units, and so does any order."""
    units = unit_frames(kind, seed, n_units)
    whole = combine(kind, units)
    nodes = units
    for _ in range(data.draw(st.integers(1, 3))):
        size = data.draw(st.integers(1, max(1, len(nodes))))
        nodes = [combine(kind, nodes[i:i + size]) for i in range(0, len(nodes), size)]
        pd.testing.assert_frame_equal(combine(kind, nodes), whole, check_exact=True)
    order = data.draw(st.permutations(range(n_units)))
    pd.testing.assert_frame_equal(combine(kind, [units[i] for i in order]), whole, check_exact=True)
    # the form is kept: a partial has the columns and types of a unit's file
    if units:
        assert list(whole.columns) == list(units[0].columns)
        assert dict(whole.dtypes.astype(str)) == dict(units[0].dtypes.astype(str))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n_units=st.integers(1, 10), size=st.integers(1, 4))
def test_the_reduces_read_a_partial_as_they_read_the_units_stacked(seed, n_units, size):
    """What each reduce computes from the units' frames is what it computes from their partials."""
    counts = unit_frames("spell_counts", seed, n_units)
    persons = unit_frames("spell_persons", seed, n_units)
    parts = [combine("spell_counts", counts[i:i + size]) for i in range(0, n_units, size)]
    person_parts = [combine("spell_persons", persons[i:i + size]) for i in range(0, n_units, size)]
    for kind in ("gap", "first_lab"):
        pd.testing.assert_frame_equal(combine_counts(parts, kind), combine_counts(counts, kind), check_exact=True)
        pd.testing.assert_frame_equal(combine_persons(person_parts, kind), combine_persons(persons, kind),
                                      check_exact=True)
    links = unit_frames("linkage_counts", seed, n_units)
    got = linkage_report_from_counts(combine("linkage_counts", links))
    want = linkage_report_from_counts(pd.concat(links, ignore_index=True))
    assert got.person_weeks == want.person_weeks and got.matched == want.matched
    pd.testing.assert_frame_equal(got.by_jobcentre, want.by_jobcentre)
    pd.testing.assert_frame_equal(got.by_week, want.by_week)


def test_the_share_did_from_combined_moments_equals_the_units_stacked():
    rng = np.random.default_rng(3)
    units = [person_cell_moments(_cells(rng, jc, np.arange(100 * u, 100 * u + 40))) for u, jc in
             enumerate([1, 1, 2, 3, 3, 4])]
    stacked = pd.concat(units, ignore_index=True)
    combined = combine("share_moments", [combine("share_moments", units[:4]), combine("share_moments", units[4:])])
    assert len(combined) < len(stacked)

    def fit(m):
        m = m[m["period"].isin(["before", "intervention"]) & m["period2"].isin(["before", "intervention"])]
        m = m.assign(e=(m["period"] == "intervention").astype("int8"),
                     e2=(m["period2"] == "intervention").astype("int8"))
        return cell_did_moments(m)

    a, b = fit(stacked), fit(combined)
    assert a.estimate == b.estimate and a.se == b.se and a.n_clusters == b.n_clusters


def test_descriptive_sums_are_summed_per_key():
    one = pd.DataFrame({"jobcentre_id": np.array([1, 1], np.int32), "d": np.array([1, 1], np.int8),
                        "period": pd.array(["before", "before"], dtype="string"),
                        "stat": pd.array(["n_persons", "age:sum"], dtype="string"), "value": [3.0, 120.0]})
    two = one.assign(value=[2.0, 81.0])
    got = combine("descriptive_moments", [one, two])
    assert list(got.columns) == [*MOMENT_KEYS, "value"]
    assert got.set_index("stat")["value"].to_dict() == {"age:sum": 201.0, "n_persons": 5.0}


def test_an_unknown_kind_names_the_additive_kinds():
    with pytest.raises(ValueError, match="share_moments"):
        combine("share_cells", [])
