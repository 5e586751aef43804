"""Input checks shared by the estimators.

A column an estimator is asked to use but the frame lacks is a user error, not a crash: every
model reports it the same way, as a :class:`bipdask.errors.InputError` with one
:class:`~bipdask.errors.Problem` per missing column (table = the estimator's name, rule
``"column missing"``), which the CLI turns into exit code 2 and a one-line message.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from bipdask.errors import InputError, Problem


def require_columns(data: pd.DataFrame, columns: Iterable[str | None], table: str) -> None:
    """Raise an :class:`InputError` naming every column of ``columns`` (``None`` skipped) that
    ``data`` lacks; ``n_rows`` is the number of rows of ``data``."""
    wanted = dict.fromkeys(c for c in columns if c)
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise InputError([Problem(table, c, "column missing", len(data)) for c in missing])
