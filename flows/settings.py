"""Operator settings read from the environment by the flow: the staged rows per map unit
(``BIPDASK_MAX_UNIT_ROWS``) and the BIP replicates per task (``BIPDASK_BIP_BLOCK_REPLICATES``).

Unset or empty means the default; anything else must be a positive whole number, else the run
stops before any work with a configuration error (exit 2) naming the variable, its value and the
rule — a typo never silently falls back to the default.
"""

from __future__ import annotations

import os

from bipdask.errors import InputError, Problem

MAX_UNIT_ROWS_VARIABLE = "BIPDASK_MAX_UNIT_ROWS"
BIP_BLOCK_REPLICATES_VARIABLE = "BIPDASK_BIP_BLOCK_REPLICATES"
POSITIVE_INT_VARIABLES = (MAX_UNIT_ROWS_VARIABLE, BIP_BLOCK_REPLICATES_VARIABLE)


def positive_int(name: str) -> int | None:
    """``$name`` as a positive whole number, ``None`` when unset or empty; an
    :class:`~bipdask.errors.InputError` (exit 2) for anything else."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise InputError([Problem("environment", name, "must be a positive whole number", None,
                                  message=f"got {raw!r}")])
    return value


def check_settings() -> None:
    """Raise the configuration error of every bad setting of :data:`POSITIVE_INT_VARIABLES` at once."""
    problems = []
    for name in POSITIVE_INT_VARIABLES:
        try:
            positive_int(name)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
