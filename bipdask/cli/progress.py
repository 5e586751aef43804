"""The command line's progress bar: one bar per stage of a run (validate, model-input batches,
estimates, report) and the Dask dashboard link, drawn on stderr with ``rich`` (already
installed with Prefect).

The flow reports ``(stage, done, total)`` through :func:`flows.run.run_evaluation`'s
``progress`` argument; this module only draws. Drawn only on a terminal, so logs and pipes
stay clean.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


class StageBar:
    """A context manager whose instances are the ``progress`` callback of a run."""

    def __init__(self, stream: IO[str] | None = None, force: bool = False) -> None:
        stream = sys.stderr if stream is None else stream
        self.enabled = force or bool(getattr(stream, "isatty", lambda: False)())
        console = Console(file=stream, force_terminal=force or None, stderr=stream is sys.stderr)
        self._bar = Progress(TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=False)
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> StageBar:
        if self.enabled:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if total <= 0:  # a message (the dashboard link), not a stage
            self._bar.console.print(stage, highlight=False, markup=False, soft_wrap=True)
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=max(1, int(total)))
        self._bar.update(self._tasks[stage], completed=int(done), total=max(1, int(total)))
