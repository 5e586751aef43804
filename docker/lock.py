"""Write the lock: every dependency pinned with its hashes, for CPython 3.11 on Linux x86_64 (the
image's ``python:3.11-slim`` and CI's machine), resolved once by ``uv pip compile``.

- ``requirements.lock`` (repository root): the runtime dependencies and the ``test`` extra. CI
  installs it (``.ci/run``: ``pip install --require-hashes -r requirements.lock``, then the
  package with ``--no-deps``), so CI tests exactly the versions the image ships.
- ``docker/requirements.lock``: the runtime part of that same resolution (compiled with the
  root lock as constraints: the same versions and hashes, no test packages). The image installs
  it (``pip install --no-deps --require-hashes``) and runs ``pip check``.

Usage, from the repository root, with uv installed (``pip install uv``)::

    python docker/lock.py              # re-resolve after editing pyproject.toml; current pins kept where they fit
    python docker/lock.py --upgrade    # the newest versions within pyproject's ranges
    python docker/lock.py --check      # only check that the runtime lock is the root lock's runtime part

uv reads an existing output file as its preferences, so a plain run changes only what
pyproject.toml's edit forces. Commit both files; ``tests/flows/test_infra.py`` checks them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FULL = "requirements.lock"
RUNTIME = "docker/requirements.lock"
TARGET = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28"]
COMMAND = "python docker/lock.py"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """{normalised name: (version, hashes)} of a ``--generate-hashes`` requirements file."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    name = None
    for line in text.splitlines():
        m = _PIN.match(line)
        if m:
            name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            if name in out:
                raise ValueError(f"{name} is pinned twice")
            out[name] = (m.group(2), frozenset())
        elif name and line.strip().startswith("--hash="):
            version, hashes = out[name]
            out[name] = (version, hashes | {line.strip().split("=", 1)[1].rstrip(" \\")})
        elif line and not line.startswith((" ", "#")):
            name = None
    return out


def disagreements(full_text: str, runtime_text: str) -> list[str]:
    """Where the runtime lock is not a part of the root lock (same versions, same hashes)."""
    full, runtime = pins(full_text), pins(runtime_text)
    problems = [f"{n}: not in {FULL}" for n in runtime if n not in full]
    problems += [f"{n}: {runtime[n][0]} here, {full[n][0]} in {FULL}" for n in runtime
                 if n in full and runtime[n][0] != full[n][0]]
    problems += [f"{n}: hashes differ from {FULL}" for n in runtime
                 if n in full and runtime[n][0] == full[n][0] and runtime[n][1] != full[n][1]]
    problems += [f"{n}: pinned without a hash" for n, (_, h) in {**full, **runtime}.items() if not h]
    return problems


def _uv() -> list[str]:
    exe = shutil.which("uv")
    if exe:
        return [exe]
    try:
        import uv  # noqa: F401 - the PyPI package ships the binary

        return [sys.executable, "-m", "uv"]
    except ImportError:
        raise SystemExit("uv is needed: pip install uv") from None


def compile_locks(upgrade: bool = False) -> None:
    base = [*_uv(), "pip", "compile", "pyproject.toml", "--generate-hashes", *TARGET, "--quiet",
            "--custom-compile-command", COMMAND]
    subprocess.run([*base, "--extra", "test", "-o", FULL, *(["--upgrade"] if upgrade else [])], cwd=REPO,
                   check=True)
    # the runtime part, constrained to the versions just resolved
    (REPO / RUNTIME).unlink(missing_ok=True)
    subprocess.run([*base, "-c", FULL, "-o", RUNTIME], cwd=REPO, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="newest versions within pyproject's ranges")
    parser.add_argument("--check", action="store_true", help="only check that the two locks agree")
    args = parser.parse_args(argv)
    if not args.check:
        compile_locks(args.upgrade)
    problems = disagreements((REPO / FULL).read_text(), (REPO / RUNTIME).read_text())
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
