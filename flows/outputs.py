"""What the reduce tasks hand back to the flow: :class:`ReduceOutput`, and the run-layout file
name of the tidy estimates.

A reduce task (``estimate_*`` in :mod:`flows.tasks`) returns one frozen :class:`ReduceOutput`;
the flow merges them (:func:`merge_outputs`) into the rows of ``results/estimates.parquet``
and the manifest's notes, files and counts (:func:`flows.manifest.build_manifest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ESTIMATES_FILE = "estimates.parquet"  # results/<this>: the tidy estimates of a run


@dataclass(frozen=True)
class ReduceOutput:
    """The result of one reduce task.

    Attributes
    ----------
    rows : the tidy estimate rows, each a dict of :class:`bipdask.analyses.estimates.Estimate`
        fields with plain Python values.
    files : result files written by the task: name (``figure1_raw_hazard``,
        ``replicates_<analysis>``) → URL.
    notes : analysis → notes for the manifest (fits, skips, sample sizes).
    counts : analysis → counts for the manifest (estimates, replicates, replicate columns).
    seconds : wall time of the task.
    """

    rows: tuple[dict[str, Any], ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    notes: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))

    @classmethod
    def skipped(cls, analyses: Sequence[str], reason: str | None, seconds: float = 0.0) -> ReduceOutput:
        """No rows: each of ``analyses`` noted as skipped for ``reason``."""
        return cls(notes={a: {"skipped": reason} for a in analyses}, seconds=seconds)


def merge_outputs(outputs: Iterable[ReduceOutput]) -> ReduceOutput:
    """The reduces of a run as one: rows concatenated in the given order; files, notes and counts
    merged (a later key wins); seconds summed."""
    outputs = list(outputs)
    return ReduceOutput(
        rows=tuple(r for o in outputs for r in o.rows),
        files={k: v for o in outputs for k, v in o.files.items()},
        notes={k: v for o in outputs for k, v in o.notes.items()},
        counts={k: v for o in outputs for k, v in o.counts.items()},
        seconds=sum(o.seconds for o in outputs),
    )
