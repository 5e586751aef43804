"""``bipdask gc``: remove what failed and killed runs left under a storage root.

A run that fails, or is killed, leaves its folder ``runs/<run_id>/`` without ``_manifest.json``:
readers ignore it, but it holds person-level rows (``staged/``, ``quarantine/``,
``model_input/``) that nothing will read again. A process killed inside an atomic write leaves a
temporary file (``.<name>.tmp-<hex>``) beside the object it was writing. :func:`find_leftovers`
lists both; :func:`remove_leftovers` removes them:

- an incomplete run folder only while no live process holds its claim: the collector takes the
  claim itself (:func:`bipdask.runtime.claims.claim_run`, which breaks a dead one), so it never
  removes a run being computed and no run starts computing it meanwhile;
- a committed run's files never (only a temporary file left beside them);
- nothing younger than ``older_than`` seconds (temporary files: never younger than an hour,
  since a live writer's temporary file exists for the seconds of its write).

See ``docs/architecture.md#cleanup-bipdask-gc``.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from dataclasses import dataclass
from datetime import datetime

from bipdask.runtime import claims, storage

TEMPORARY = re.compile(r"^\..+\.tmp-[0-9a-f]{32}$")  # storage's atomic-write temporary names
MIN_TEMPORARY_AGE_S = 3600.0
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in an age like ``"2d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"1w"`` or ``"0"``.

    Raises ``ValueError`` for anything else.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
    if not match:
        raise ValueError(f"not an age: {text!r} (e.g. 2d, 12h, 30m, 0)")
    return float(match.group(1)) * AGE_UNITS[match.group(2) or "s"]


@dataclass(frozen=True)
class Leftover:
    """One thing :func:`remove_leftovers` may remove: an incomplete run folder or a temporary file."""

    kind: str  # "incomplete run" | "temporary file"
    url: str
    age_s: float  # since its newest file was written
    size: int  # bytes
    run_id: str | None = None
    holder: str | None = None  # an incomplete run's live claim, described: it is kept


def _mtime(info: dict) -> float:
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


def _walk(url: str) -> dict[str, dict]:
    fs, path = storage.filesystem(url)

    def find() -> dict[str, dict]:
        return fs.find(path, detail=True, withdirs=False) if fs.exists(path) else {}

    return storage.with_retries(find, "listing", url)


def find_leftovers(root: str, older_than_s: float = 0.0, now: float | None = None) -> list[Leftover]:
    """Incomplete run folders and temporary files under ``root`` older than ``older_than_s``
    seconds, oldest first. An incomplete run with a live claim is listed with its ``holder``."""
    root = storage.normalize_root(root)
    now = time.time() if now is None else now
    _, root_path = storage.filesystem(root)
    files = _walk(root)
    runs_path = posixpath.join(root_path.rstrip("/"), storage.RUNS)
    by_run: dict[str, list[tuple[str, dict]]] = {}
    temporary: list[Leftover] = []
    for path, info in files.items():
        rel = posixpath.relpath(path, runs_path)
        run_id = rel.split("/", 1)[0] if not rel.startswith("..") and "/" in rel else None
        if run_id is not None:
            by_run.setdefault(run_id, []).append((path, info))
        age = now - _mtime(info)
        if TEMPORARY.match(posixpath.basename(path)) and age > max(older_than_s, MIN_TEMPORARY_AGE_S):
            temporary.append(Leftover("temporary file", _url(root, root_path, path), age, int(info.get("size") or 0)))
    out: list[Leftover] = []
    for run_id, entries in sorted(by_run.items()):
        names = {posixpath.relpath(p, posixpath.join(runs_path, run_id)) for p, _ in entries}
        if storage.MANIFEST in names:
            continue  # committed: never touched (its temporary files are listed above)
        age = now - max(_mtime(info) for _, info in entries)
        if age <= older_than_s:
            continue
        run = storage.RunLayout(root, run_id)
        holder = claims.read_claim(run)
        live = holder is not None and not claims.is_dead(holder, claims.claim_stale_after(), now)
        out.append(Leftover("incomplete run", run.url, age, sum(int(i.get("size") or 0) for _, i in entries),
                            run_id, claims.describe_claim(holder, now=now) if live else None))
    inside_incomplete = {leftover.url + "/" for leftover in out if leftover.holder is None}
    out += [t for t in temporary if not any(t.url.startswith(prefix) for prefix in inside_incomplete)]
    return sorted(out, key=lambda leftover: (-leftover.age_s, leftover.url))


def _url(root: str, root_path: str, path: str) -> str:
    return storage.join(root, posixpath.relpath(path, root_path.rstrip("/")))


def remove_leftovers(root: str, older_than_s: float = 0.0, dry_run: bool = False,
                     now: float | None = None) -> tuple[list[Leftover], list[Leftover]]:
    """Remove (or, ``dry_run``, only list) :func:`find_leftovers`; returns (removed, kept).

    Kept: incomplete runs whose claim is live (being computed) or that could not be claimed
    or that were committed meanwhile.
    """
    removed: list[Leftover] = []
    kept: list[Leftover] = []
    for leftover in find_leftovers(root, older_than_s, now):
        if leftover.holder is not None:
            kept.append(leftover)
        elif dry_run:
            removed.append(leftover)
        elif leftover.kind == "temporary file":
            storage.remove(leftover.url)
            removed.append(leftover)
        elif _remove_run(storage.RunLayout(storage.normalize_root(root), leftover.run_id)):
            removed.append(leftover)
        else:
            kept.append(leftover)
    return removed, kept


def _remove_run(run: storage.RunLayout) -> bool:
    """Remove an incomplete run's folder while holding its claim; False if a live process holds it."""
    claim = claims.claim_run(run)
    if claim is None:
        return False
    try:
        if run.is_committed():
            return False
        fs, path = storage.filesystem(run.url)
        for entry in storage.with_retries(lambda: fs.ls(path, detail=False), "listing", run.url):
            if posixpath.basename(entry.rstrip("/")) != storage.CLAIM:
                storage.remove(storage.join(run.url, posixpath.basename(entry.rstrip("/"))))
    finally:
        claims.release_claim(claim)
    fs, path = storage.filesystem(run.url)
    if storage._is_local(fs):  # the folder itself, only if still empty (a new run may have claimed it)
        try:
            os.rmdir(path)
        except OSError:
            pass
    return True


def describe(removed: list[Leftover], kept: list[Leftover], dry_run: bool = False) -> str:
    """What :func:`remove_leftovers` did (or would do), one line per item and a total."""
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb:<12}  {r.kind:<14}  {_size(r.size):>9}  {_age(r.age_s):>8} old  {r.url}" for r in removed]
    lines += [f"{'kept':<12}  {k.kind:<14}  {_size(k.size):>9}  {_age(k.age_s):>8} old  {k.url}"
              f"  (being computed: claim {k.holder or 'held by a live process'})" for k in kept]
    runs = sum(r.kind == "incomplete run" for r in removed)
    temporary = len(removed) - runs
    total = f"{verb} {runs} incomplete run(s) and {temporary} temporary file(s), {_size(sum(r.size for r in removed))}"
    nothing = f"nothing to remove{'; ' + str(len(kept)) + ' kept' if kept else ''}"
    return "\n".join([*lines, total if removed else nothing])


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
