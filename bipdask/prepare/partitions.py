"""Work units of the map side: job centres split by a person hash when large, packed into batches by rows.

The model inputs are built per job centre (:mod:`bipdask.prepare.hir`), but job centres differ
twentyfold in size: a Copenhagen-sized centre holds about 8 % of the national panel. Were a
job centre the smallest unit, the largest one would set every worker's memory floor. Every
model input is a function of one person's weeks (spells, cell sums, linked weeks) or a sum over
persons (linkage counts), so a job centre can be cut into parts by a hash of the person id and
the parts' inputs stacked, or summed, give the same inputs. :func:`plan_units` cuts each job
centre into ``ceil(rows / max_rows)`` parts; :func:`pack_batches` packs the units into batches of
about equal rows (longest first, each to the lightest batch).

Both are pure functions of the staged row counts and the limits, never of the cluster's size
beyond the number of batches, and the reduces read the units' files in unit order
(:func:`unit_name`), so a run's model inputs and estimates are the same on 1 worker or 16.
The method is described in ``docs/architecture.md`` (map side).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bipdask.inference.bootstrap import splitmix64

MAX_UNIT_ROWS = 400_000  # staged weeks rows per unit: ~0.5 GB of working memory on the map side


@dataclass(frozen=True, order=True)
class Unit:
    """One map task's share of one job centre: persons whose hash bucket is ``part`` of ``parts``.

    ``rows`` is the job centre's staged weeks rows divided by ``parts`` (an estimate, for packing).
    """

    jobcentre_id: int
    part: int = 0
    parts: int = 1
    rows: int = 0

    def key(self) -> list[int]:
        """The JSON form a task receives: ``[jobcentre_id, part, parts]``."""
        return [int(self.jobcentre_id), int(self.part), int(self.parts)]

    @classmethod
    def from_key(cls, key: Sequence[int] | int) -> Unit:
        """A unit from :meth:`key` (a bare job centre id: the whole job centre)."""
        if isinstance(key, (int, np.integer)):
            return cls(int(key))
        jc, part, parts = (int(v) for v in key)
        return cls(jc, part, parts)


def unit_name(unit: Unit) -> str:
    """The model-input file name of a unit: ``jc-00101.parquet``, or ``jc-00101-p01of03.parquet``
    for a part; names sort in job centre, then part order."""
    if unit.parts == 1:
        return f"jc-{unit.jobcentre_id:05d}.parquet"
    return f"jc-{unit.jobcentre_id:05d}-p{unit.part:02d}of{unit.parts:02d}.parquet"


def person_bucket(person_ids: np.ndarray, parts: int) -> np.ndarray:
    """Bucket ``0 … parts-1`` of each person id: the SplitMix64 finaliser of the id (the mixer the
    replicate weights use, :func:`bipdask.inference.bootstrap.splitmix64`) modulo ``parts``, the
    same on every machine and in every run; persons spread evenly whatever pattern their ids follow."""
    if parts <= 1:
        return np.zeros(len(person_ids), np.int64)
    z = splitmix64(np.asarray(person_ids).astype(np.int64).view(np.uint64))
    return (z % np.uint64(parts)).astype(np.int64)


def plan_units(rows_by_jobcentre: Mapping[int, int], max_rows: int = MAX_UNIT_ROWS) -> list[Unit]:
    """Every job centre as ``ceil(rows / max_rows)`` units (at least one), in job centre order."""
    if max_rows < 1:
        raise ValueError("max_rows must be positive")
    units = []
    for jc in sorted(int(j) for j in rows_by_jobcentre):
        rows = int(rows_by_jobcentre[jc])
        parts = max(1, math.ceil(rows / max_rows))
        units += [Unit(jc, k, parts, math.ceil(rows / parts)) for k in range(parts)]
    return units


def pack_batches(units: Sequence[Unit], n_batches: int) -> list[list[Unit]]:
    """``units`` in at most ``n_batches`` batches of about equal rows (longest processing time
    first: each unit, largest first, to the batch with the fewest rows so far, ties to the lower
    batch), each batch in unit order; empty batches dropped. The heaviest batch holds at most the
    mean load plus the largest unit."""
    n = max(1, min(int(n_batches), len(units)))
    loads = [0] * n
    batches: list[list[Unit]] = [[] for _ in range(n)]
    for u in sorted(units, key=lambda u: (-u.rows, u)):
        i = min(range(n), key=lambda b: (loads[b], b))
        batches[i].append(u)
        loads[i] += u.rows
    return [sorted(b) for b in sorted(batches, key=lambda b: b[0] if b else Unit(1 << 30)) if b]
