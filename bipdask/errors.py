"""Errors a user can cause (exit code 2) and infrastructure failures (exit code 3).

Messages name the table, column, rule and row count; they never carry person ids or values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INFRASTRUCTURE = 3


@dataclass(frozen=True)
class Problem:
    """One violated check: which table, which column, which rule, how many rows."""

    table: str
    column: str
    rule: str
    n_rows: int | None  # None or 0: not a count of rows (a spec key, a file, a whole table); not printed
    message: str = ""

    def line(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: {self.rule}" if where else self.rule
        if self.n_rows:
            text = f"{text} ({self.n_rows} rows)"
        return f"{text}: {self.message}" if self.message else text


class BipdaskError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_INFRASTRUCTURE


class InputError(BipdaskError):
    """The delivery is broken: one or more table-level problems. Exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(table="", column="", rule=problems, n_rows=0)]
        self.problems = list(problems)
        super().__init__("\n".join(p.line() for p in self.problems))

    def __reduce__(self):
        # Keep the problems when pickled (errors raised on Dask workers travel back pickled).
        return (type(self), (self.problems,))


class InfrastructureError(BipdaskError):
    """Storage, cluster or orchestration failed. Exit code 3."""

    exit_code = EXIT_INFRASTRUCTURE


class FitError(RuntimeError):
    """A model could not be fitted (singular information, no ascent, no convergence).

    Raised by every estimator in :mod:`bipdask.estimators`; the message says what to try.
    Analyses catch it to skip one model and record why (counts only) instead of failing a run.
    """


def require_columns(data, columns: Iterable[str | None], table: str) -> None:
    """Raise an :class:`InputError` naming every column of ``columns`` (``None`` skipped) that the
    frame ``data`` lacks: one :class:`Problem` per column, rule ``"column missing"``, ``n_rows``
    the frame's rows. Used by the estimators (table = the estimator) and the data preparation
    and analyses (table = the contract table), so a missing column is always exit 2, never a
    ``KeyError``."""
    wanted = dict.fromkeys(c for c in columns if c)
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise InputError([Problem(table, c, "column missing", len(data)) for c in missing])
