"""Spell pattern counts: the sufficient statistics of HIR Tables A/4 and 7 and Figures 1–2.

The Weibull DiD of eq. (1) (:mod:`bipdask.estimators.duration_did`) clustered by job centre, its
pairs and wild score bootstraps, the Conley–Taber placebos and the Kaplan–Meier and raw-hazard
curves are all functions of how many spells share a (job centre, D, E, duration, event) pattern:
the Weibull likelihood is a sum over such patterns (:mod:`bipdask.estimators.weibull`), and a
job-centre bootstrap re-weights whole job centres. So the map side writes, per work unit,
:func:`spell_counts` — a few hundred rows per job centre, whatever its number of spells — and
:func:`spell_persons`, the distinct persons per job centre and period that the rows' disclosure
counts (``n_persons``) need; the reduce sums the units' frames (:func:`combine_counts`,
:func:`combine_persons`) and fits on the sums, never on spells.

Summing is exact for every count: a job centre cut into parts is cut by a person hash
(:mod:`bipdask.prepare.partitions`), so each person's spells of one job centre are in one part.
Distinct persons of several job centres are the sum of the job centres' counts only when no
person has spells in two job centres (a person who moved between job centres counts once in
each; ``docs/methods.md#hir-table-4--weeks-between-lab-interventions``).

With persons as clusters (spec ``cluster = "person"``) the counts would have to be per person
and do not compress: that case gathers the spells (:func:`spell_counts` with ``by_person=True``
on the gathered rows).
Pure functions over frames; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

SPELL_KINDS = ("gap", "first_lab")  # gap_spells (Tables A/4, Figures 1–2), first_lab_spells (Table 7)
COUNT_KEYS = ("jobcentre_id", "D", "E", "duration", "event")
COUNT_COLUMNS = ("spells", *COUNT_KEYS, "n_spells")
PERSON_COLUMNS = ("spells", "jobcentre_id", "n_persons_before", "n_persons_intervention", "n_persons")
_TYPES = {"jobcentre_id": np.int32, "D": np.int8, "E": np.int8, "duration": np.int32, "event": np.int8,
          "person_id": np.int64}

__all__ = ["COUNT_COLUMNS", "COUNT_KEYS", "PERSON_COLUMNS", "SPELL_KINDS", "combine_counts", "combine_persons",
           "combine_unit_counts", "combine_unit_persons", "spell_counts", "spell_persons", "unit_spell_counts",
           "unit_spell_persons"]


def spell_counts(spells: pd.DataFrame, *, by_person: bool = False) -> pd.DataFrame:
    """Spells per (jobcentre_id, D, E, duration, event) pattern: :data:`COUNT_KEYS` and ``n_spells``.

    Parameters
    ----------
    spells : DataFrame
        ``gap_spells`` or ``first_lab_spells`` rows (D, E, jobcentre_id, person_id, duration in
        weeks, event), any number of job centres.
    by_person : bool
        Also key by ``person_id`` (first column): the input of person-clustered fits, which
        barely compresses.

    Returns
    -------
    DataFrame
        One row per distinct pattern, sorted by the keys; ``n_spells`` int64.
    """
    keys = (["person_id"] if by_person else []) + list(COUNT_KEYS)
    if not len(spells):
        return pd.DataFrame({**{k: np.array([], _TYPES[k]) for k in keys}, "n_spells": np.array([], np.int64)})
    grouped = spells.groupby(keys, sort=True, observed=True).size()
    out = grouped.reset_index(name="n_spells")
    return pd.DataFrame({**{k: out[k].to_numpy(_TYPES[k]) for k in keys},
                         "n_spells": out["n_spells"].to_numpy(np.int64)})


def spell_persons(spells: pd.DataFrame) -> pd.DataFrame:
    """Distinct persons with a spell per job centre: in the before period (E=0), the intervention
    period (E=1) and either (``n_persons``); one row per job centre with spells, int64 counts."""
    cols = {"jobcentre_id": np.array([], np.int32), **{c: np.array([], np.int64) for c in PERSON_COLUMNS[2:]}}
    if not len(spells):
        return pd.DataFrame(cols)
    pairs = spells[["jobcentre_id", "E", "person_id"]].drop_duplicates()
    by_e = pairs.groupby(["jobcentre_id", "E"], sort=True).size().unstack("E", fill_value=0)
    either = pairs.drop_duplicates(["jobcentre_id", "person_id"]).groupby("jobcentre_id", sort=True).size()
    return pd.DataFrame({
        "jobcentre_id": either.index.to_numpy(np.int32),
        "n_persons_before": by_e.reindex(columns=[0], fill_value=0)[0].reindex(either.index, fill_value=0)
        .to_numpy(np.int64),
        "n_persons_intervention": by_e.reindex(columns=[1], fill_value=0)[1].reindex(either.index, fill_value=0)
        .to_numpy(np.int64),
        "n_persons": either.to_numpy(np.int64),
    })


def unit_spell_counts(spells: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One work unit's :func:`spell_counts` of each kind of :data:`SPELL_KINDS`, stacked with the
    ``spells`` column naming the kind: the per-unit ``spell_counts`` model input."""
    return _stacked({k: spell_counts(spells[k]) for k in SPELL_KINDS})


def unit_spell_persons(spells: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One work unit's :func:`spell_persons` of each kind, stacked like :func:`unit_spell_counts`."""
    return _stacked({k: spell_persons(spells[k]) for k in SPELL_KINDS})


def _stacked(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [f.assign(spells=k) for k, f in frames.items()]
    out = pd.concat(parts, ignore_index=True)
    out["spells"] = out["spells"].astype(object).astype("string")  # a string column even when empty (Parquet)
    return out[["spells", *[c for c in out.columns if c != "spells"]]]


def _summed(frames: Iterable[pd.DataFrame], kind: str, keys: list[str], value_cols: list[str],
            empty: pd.DataFrame) -> pd.DataFrame:
    parts = [f.loc[f["spells"] == kind, [*keys, *value_cols]] for f in frames]
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty
    both = pd.concat(parts, ignore_index=True)
    out = both.groupby(keys, sort=True).sum().reset_index()
    return pd.DataFrame({**{k: out[k].to_numpy(empty[k].dtype) for k in keys},
                         **{c: out[c].to_numpy(np.int64) for c in value_cols}})


def combine_counts(frames: Iterable[pd.DataFrame], kind: str) -> pd.DataFrame:
    """The :func:`spell_counts` of all spells of ``kind`` from the units' ``spell_counts`` frames:
    the counts of equal patterns summed (exact: integer sums)."""
    return _summed(frames, kind, list(COUNT_KEYS), ["n_spells"], spell_counts(pd.DataFrame()))


def combine_persons(frames: Iterable[pd.DataFrame], kind: str) -> pd.DataFrame:
    """The :func:`spell_persons` of ``kind`` from the units' ``spell_persons`` frames: the parts of a
    job centre summed (persons are split between parts by a hash, so the sums are exact)."""
    return _summed(frames, kind, ["jobcentre_id"], list(PERSON_COLUMNS[2:]), spell_persons(pd.DataFrame()))


def combine_unit_counts(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several units' ``spell_counts`` frames (:func:`unit_spell_counts`) as one of the same form:
    :func:`combine_counts` of each kind, stacked. Integer sums, so any grouping of the units gives
    the same frame, and :func:`combine_counts` of it is that of the units' frames."""
    frames = list(frames)
    return _stacked({k: combine_counts(frames, k) for k in SPELL_KINDS})


def combine_unit_persons(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several units' ``spell_persons`` frames (:func:`unit_spell_persons`) as one of the same form:
    :func:`combine_persons` of each kind, stacked (exact, as :func:`combine_unit_counts`)."""
    frames = list(frames)
    return _stacked({k: combine_persons(frames, k) for k in SPELL_KINDS})
