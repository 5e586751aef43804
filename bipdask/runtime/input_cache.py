"""The per-job-centre model-input cache that makes a monthly refresh incremental
(``docs/architecture.md#incremental-refresh-the-model-input-cache``).

A month's delivery changes the rows of a few job centres; the rest are byte-for-byte what they
were. Each job centre's model inputs (Table 6 cell sums, spells, time-varying rows, …) are kept
under ``<root>/cache/model_input/`` by a content key: the digests of exactly what the
computation reads (its staged weeks, its own assignment and caseload rows) and how (config,
windows, treated ids, code version). A later run with the same key copies the files instead of
recomputing them.

Layout under the cache URL::

    <kind>/<key>.parquet        one file per model-input kind
    _complete/<key>.json        row counts per kind, written last: the entry exists only then

:func:`prune` keeps the entries the newest committed runs used (their manifests list the keys)
and removes the rest, so the cache does not grow by a month of partitions every month.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from bipdask.runtime import storage

CACHE_DIR = "cache/model_input"  # under the root
COMPLETE = "_complete"
DEFAULT_KEEP_RUNS = 3


def cache_url(root: str) -> str:
    """The cache's URL under a storage root."""
    return storage.join(storage.normalize_root(root), CACHE_DIR)


def frame_digest(frame: pd.DataFrame | None) -> str:
    """sha256 of a frame's content (column names, dtypes and row hashes, in row order).

    Independent of how a staged partition is split into part files; ``"none"`` for None.
    """
    if frame is None:
        return "none"
    h = hashlib.sha256()
    h.update(storage.canonical_json([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode("utf-8"))
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def entry_key(parts: Mapping[str, str], context: Mapping[str, Any]) -> str:
    """The cache key of one job centre's model inputs: what the computation reads (``parts``:
    content digests) and how (``context``: config, windows, treated ids, code version)."""
    return hashlib.sha256(storage.canonical_json({"inputs": dict(parts), **context}).encode("utf-8")).hexdigest()


def _marker(url: str, key: str) -> str:
    return storage.join(url, COMPLETE, f"{key}.json")


def lookup(url: str, key: str) -> dict[str, int] | None:
    """The row counts per kind of a complete entry, or None when the key is not cached."""
    marker = _marker(url, key)
    return storage.read_json(marker) if storage.exists(marker) else None


def copy_out(url: str, key: str, kinds: Mapping[str, int], destination: Mapping[str, str]) -> None:
    """Copy a cached entry's files to ``destination[kind]`` (the run's model-input files)."""
    for kind in kinds:
        storage.copy_file(storage.join(url, kind, f"{key}.parquet"), destination[kind])


def store(url: str, key: str, files: Mapping[str, bytes], counts: Mapping[str, int]) -> None:
    """Add an entry: the Parquet bytes per kind, then the marker with their row counts."""
    for kind, data in files.items():
        storage.write_bytes(data, storage.join(url, kind, f"{key}.parquet"))
    storage.write_json({k: int(counts[k]) for k in files}, _marker(url, key))


def keys_in_use(root: str, keep_runs: int = DEFAULT_KEEP_RUNS) -> set[str] | None:
    """The keys the ``keep_runs`` newest committed runs used (their manifests'
    ``incremental.keys``); None when one of those manifests predates key lists (keep all)."""
    root = storage.normalize_root(root)
    manifests = [storage.open_run(root, r).manifest for r in storage.list_runs(root)]
    manifests.sort(key=lambda m: (str(m.get("committed_at", "")), str(m.get("run_id", ""))))
    used: set[str] = set()
    for manifest in manifests[-max(1, int(keep_runs)):]:
        keys = (manifest.get("incremental") or {}).get("keys")
        if keys is None:
            return None
        used.update(str(k) for k in keys)
    return used


def prune(root: str, keep_runs: int = DEFAULT_KEEP_RUNS) -> dict[str, int]:
    """Remove the cache entries no run among the ``keep_runs`` newest committed ones used.

    Markers go first, so an entry being removed is never seen as complete. Returns counts of
    kept and removed entries. A no-op (everything kept) when a recent manifest lists no keys.
    """
    url = cache_url(root)
    used = keys_in_use(root, keep_runs)
    markers = storage.list_files(storage.join(url, COMPLETE), ".json")
    keys = sorted({m.rsplit("/", 1)[-1][: -len(".json")] for m in markers})
    if used is None:
        return {"kept": len(keys), "removed": 0}
    stale = [k for k in keys if k not in used]
    for key in stale:
        kinds = lookup(url, key) or {}
        storage.remove(_marker(url, key))
        for kind in kinds:
            storage.remove(storage.join(url, kind, f"{key}.parquet"))
    return {"kept": len(keys) - len(stale), "removed": len(stale)}
