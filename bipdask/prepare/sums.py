"""The map units' additive statistics by model-input kind, and the one combine of each.

Several reduces fit on sums over the map units (:mod:`bipdask.prepare.hir`, one job centre or a
person-hash part of one each): spell pattern counts and persons (Tables A/4, 7, Figures 1–2), the
moments of the share cell sums (Tables 6, 7), the descriptive tables' sums (Tables 1, 2, 5),
Table 8's exit cells, the linkage counts (Boks 1) and the BIP outcome's first hits.
:func:`combine` merges any number of partial statistics of one kind — units' frames or earlier
combines — into one frame of the same form, which the reduce reads as it reads the units' frames.
Each combine is associative and, but for the order of the output rows (sorted by the keys),
commutative: integer sums (a float sum only for fractional descriptive sums, exact below 2⁵³
for whole numbers) and a minimum for the first hits. So a reduce may sum its units in a tree of
any shape (``flows/tree.py``) and get the frame of one combine over all units; which kinds may be
summed for an analysis is its reduce's rule (``docs/architecture.md``, data flow). Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from bipdask.estimators.cell_did import combine_cell_moments
from bipdask.prepare.bip import combine_first_hits
from bipdask.prepare.descriptives import combine_descriptive_moments
from bipdask.prepare.exit_cells import combine_exit_cells
from bipdask.prepare.hir import combine_linkage_counts
from bipdask.prepare.spell_counts import combine_unit_counts, combine_unit_persons

__all__ = ["COMBINES", "combine"]


def _exit_cells(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """:func:`combine_exit_cells` at the frames' own cluster level (the spec's, as written by the map)."""
    person = any("person_id" in f.columns for f in frames)
    return combine_exit_cells(frames, cluster="person_id" if person else "jobcentre_id")


COMBINES: dict[str, Callable[[Sequence[pd.DataFrame]], pd.DataFrame]] = {
    "spell_counts": combine_unit_counts,
    "spell_persons": combine_unit_persons,
    "share_moments": combine_cell_moments,
    "new_course_share_moments": combine_cell_moments,
    "descriptive_moments": combine_descriptive_moments,
    "course_exit_cells": _exit_cells,
    "linkage_counts": combine_linkage_counts,
    "bip_first_hits": combine_first_hits,
}


def combine(kind: str, frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The partial statistics ``frames`` of model-input ``kind`` (a key of :data:`COMBINES`)
    merged into one frame of the same form."""
    try:
        fn = COMBINES[kind]
    except KeyError:
        raise ValueError(f"no combine for model-input kind {kind!r}; additive kinds: {sorted(COMBINES)}") from None
    return fn(list(frames))
