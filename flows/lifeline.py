"""``python -m flows.lifeline PID COMMAND...``: run COMMAND so that it dies when its parent, PID, dies.

A process killed with SIGKILL cannot stop its children: a ``bipdask run`` killed that way left
its temporary Prefect API server running (an orphan of about 220 MB, see
``docs/architecture.md#signals-and-leftover-processes``). This wrapper sets Linux's
parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``, which is kept across ``exec``),
checks that its parent is still PID (the parent may have died before the ``prctl``), and then
replaces itself with COMMAND, so the kernel sends COMMAND a SIGTERM when the parent dies,
however it dies. Off Linux it runs COMMAND without that guarantee.

The parent in this sense is the *thread* that started the child: start it from a thread that
lives as long as the child is needed (the main thread).

Deliberately tiny (no Prefect, no pandas): it runs before the real command starts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def command(argv: list[str], parent: int | None = None) -> list[str]:
    """``argv`` wrapped so that it dies with ``parent`` (default: this process)."""
    return [sys.executable, "-m", "flows.lifeline", str(os.getpid() if parent is None else parent), *argv]


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux); True if set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        print("usage: python -m flows.lifeline PARENT_PID COMMAND [ARG...]", file=sys.stderr)
        return 2
    parent, cmd = int(argv[0]), argv[1:]
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the prctl: nobody needs COMMAND any more
        return 0
    os.execvp(cmd[0], cmd)
    return 127  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
