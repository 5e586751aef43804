"""The cross-run table: every committed run's public release in one Parquet dataset, to compare months.

``<root>/published/run=<run_id>/estimates.parquet`` holds one committed run's
``published/estimates.parquet`` (:data:`bipdask.publish.release.RELEASE_SCHEMA`) with columns
that say which run and delivery each row comes from (:data:`RUN_COLUMNS`: ``committed_at``, the
delivery's weeks and input digest, the spec, the code version). DuckDB, Polars, pandas and Spark
read the folder as one table (a hive-partitioned Parquet dataset; ``docs/results.md#the-cross-run-table``).

Why it never shows an uncommitted run: a run's file is written only from a *committed* run
(:func:`bipdask.runtime.storage.open_run`, the manifest is the commit point), after its commit,
and each file appears whole (an atomic write: a renamed temporary file locally, one PUT on S3;
a temporary name starts with ``.`` and does not match ``estimates.parquet``). Why rows are never
duplicated: a run has exactly one file, named by its run id, and its bytes are a deterministic
function of the committed run, so appending a run twice rewrites the same object. Why it is
repairable: :func:`sync_history` makes the folder equal to the set of committed runs with a
release — it adds a committed run whose file is missing or stale (a crash between the commit and
the append, a failed append task) and removes a file whose run is not committed — and runs after
every commit (the ``evaluate`` flow) and in ``bipdask gc``.

A plain Parquet dataset rather than a Delta Lake table: no new dependency (``deltalake`` ships a
Rust binary, and a Delta writer on S3 needs a lock provider or ``AWS_S3_ALLOW_UNSAFE_RENAME``
for concurrent writers), any Parquet reader reads it without an extension, and the one property
Delta's log would add — readers never see an uncommitted run — holds already because a file is
written only after its run's commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bipdask.publish.release import RELEASE_FILE, RELEASE_SCHEMA
from bipdask.runtime import storage

HISTORY = "published"  # root-relative folder of the cross-run table
PARTITION = "run"  # hive partition key: published/run=<run_id>/
HISTORY_FILE = "estimates.parquet"

RUN_COLUMNS = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("committed_at", pa.timestamp("s", tz="UTC")),
    pa.field("delivery_first_week", pa.date32()),  # the delivery's week span (validation)
    pa.field("delivery_last_week", pa.date32()),  # the month the delivery describes ends here
    pa.field("input_sha256", pa.string()),  # digest of the delivery's file hashes: the same delivery, the same digest
    pa.field("run_key", pa.string()),
    pa.field("spec_name", pa.string()),
    pa.field("seed", pa.int64()),
    pa.field("bootstrap_replicates", pa.int64()),
    pa.field("bipdask_version", pa.string()),
    pa.field("source_sha256", pa.string()),
])
HISTORY_SCHEMA = pa.schema([*RUN_COLUMNS, *(f for f in RELEASE_SCHEMA if f.name != "run_id")])


def history_url(root: str) -> str:
    """``<root>/published``: the folder DuckDB or Polars read as one table."""
    return storage.join(storage.normalize_root(root), HISTORY)


def partition_url(root: str, run_id: str) -> str:
    """``<root>/published/run=<run_id>/estimates.parquet``: one committed run's rows."""
    return storage.join(history_url(root), f"{PARTITION}={run_id}", HISTORY_FILE)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_values(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`RUN_COLUMNS` of a committed run, from its manifest (null where it lacks them)."""
    inputs = (manifest.get("inputs") or {}).get("sha256") or {}
    span = (manifest.get("validation") or {}).get("week_span") or [None, None]
    code = manifest.get("code_version") or {}
    estimation = manifest.get("estimation") or {}
    return {
        "run_id": str(manifest["run_id"]),
        "committed_at": _timestamp(manifest.get("committed_at")),
        "delivery_first_week": _date(span[0]),
        "delivery_last_week": _date(span[-1]),
        "input_sha256": hashlib.sha256(storage.canonical_json(inputs).encode()).hexdigest() if inputs else None,
        "run_key": manifest.get("run_key"),
        "spec_name": (manifest.get("spec") or {}).get("name"),
        "seed": _int(manifest.get("seed")),
        "bootstrap_replicates": _int(estimation.get("bootstrap_replicates")),
        "bipdask_version": code.get("bipdask"),
        "source_sha256": code.get("source_sha256"),
    }


def history_table(run: storage.CommittedRun) -> pa.Table:
    """One committed run's rows of the cross-run table (:data:`HISTORY_SCHEMA`): its release,
    read checked against the manifest's sha256, with the run's columns. A release written before
    a column existed gets that column as nulls."""
    release = pq.read_table(pa.BufferReader(run.read_bytes(RELEASE_FILE)))
    values = run_values({**run.manifest, "run_id": run.run_id})
    n = release.num_rows
    arrays = []
    for f in HISTORY_SCHEMA:
        if f.name in values:
            arrays.append(pa.array([values[f.name]] * n, type=f.type))
        elif f.name in release.column_names:
            arrays.append(release.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(n, type=f.type))
    return pa.Table.from_arrays(arrays, schema=HISTORY_SCHEMA)


def history_bytes(run: storage.CommittedRun) -> bytes:
    """:func:`history_table` as Parquet bytes; the same committed run gives the same bytes."""
    return storage.parquet_bytes(history_table(run))


@dataclass(frozen=True)
class HistorySync:
    """What :func:`sync_history` did (or, ``dry_run``, would do): run ids, and one line per problem."""

    added: tuple[str, ...] = ()  # committed runs written (missing or stale)
    removed: tuple[str, ...] = ()  # files whose run is not committed
    unchanged: int = 0
    without_release: tuple[str, ...] = ()  # committed runs that have no published/estimates.parquet
    problems: tuple[str, ...] = ()

    def describe(self, dry_run: bool = False) -> str:
        verb = ("would add", "would remove") if dry_run else ("added", "removed")
        head = (f"cross-run table {HISTORY}/: {len(self.added)} runs {verb[0]}, {len(self.removed)} {verb[1]}, "
                f"{self.unchanged} unchanged")
        parts = [head]
        parts += [f"  {verb[0]} run {r}" for r in self.added] + [f"  {verb[1]} run {r}" for r in self.removed]
        if self.without_release:
            parts.append(f"  {len(self.without_release)} committed runs without a release (not in the table)")
        return "\n".join([*parts, *(f"  {p}" for p in self.problems)])


def append_run(root: str, run_id: str) -> bool:
    """Write one committed run's file of the cross-run table; True if written, False if it
    already held the same bytes. Raises ``FileNotFoundError`` for a run that is not committed
    or has no release: only a committed run may enter the table."""
    run = storage.open_run(root, run_id)
    if not run.has(RELEASE_FILE):
        raise FileNotFoundError(f"run {run_id} has no {RELEASE_FILE}")
    data, url = history_bytes(run), partition_url(root, run_id)
    try:
        if storage.read_bytes(url) == data:
            return False
    except FileNotFoundError:
        pass
    storage.write_bytes(data, url)
    return True


def table_run_ids(root: str) -> list[str]:
    """The run ids that have a file in the cross-run table (committed or not), sorted."""
    base = history_url(root)
    prefix = f"{PARTITION}="
    ids = set()
    for url in storage.list_files(base, suffix=f"/{HISTORY_FILE}"):
        folder = posixpath.basename(posixpath.dirname(url))
        if folder.startswith(prefix) and posixpath.basename(url) == HISTORY_FILE:
            ids.add(folder[len(prefix):])
    return sorted(ids)


def sync_history(root: str, dry_run: bool = False) -> HistorySync:
    """Make the cross-run table equal the committed runs' releases: add or rewrite the file of
    every committed run whose file is missing or differs, remove the file of any run that is not
    committed. Idempotent; ``dry_run`` changes nothing. A run whose release cannot be read (it
    fails its sha256) is left as it is and named in ``problems`` (run ids and file names only)."""
    root = storage.normalize_root(root)
    committed = storage.list_runs(root)
    added, unchanged, without, problems = [], 0, [], []
    for run_id in committed:
        try:
            run = storage.open_run(root, run_id)
            if not run.has(RELEASE_FILE):
                without.append(run_id)
                continue
            data, url = history_bytes(run), partition_url(root, run_id)
            try:
                same = storage.read_bytes(url) == data
            except FileNotFoundError:
                same = False
            if same:
                unchanged += 1
                continue
            if not dry_run:
                storage.write_bytes(data, url)
            added.append(run_id)
        except (storage.IntegrityError, FileNotFoundError) as exc:
            problems.append(f"run {run_id}: not added ({exc})" if isinstance(exc, storage.IntegrityError)
                            else f"run {run_id}: not added (its release could not be read)")
    removed = []
    for run_id in sorted(set(table_run_ids(root)) - set(committed)):
        if storage.RunLayout(root, run_id).is_committed():  # committed since we listed
            continue
        if not dry_run:
            storage.remove(storage.join(history_url(root), f"{PARTITION}={run_id}"))
        removed.append(run_id)
    return HistorySync(tuple(added), tuple(removed), unchanged, tuple(without), tuple(problems))


def read_history(root: str) -> pd.DataFrame:
    """The cross-run table as pandas, :data:`HISTORY_SCHEMA` columns, rows of committed runs
    only, ordered by (committed_at, run_id) and each run's release order."""
    root = storage.normalize_root(root)
    committed = set(storage.list_runs(root))
    tables = [pq.read_table(pa.BufferReader(storage.read_bytes(partition_url(root, r))), schema=HISTORY_SCHEMA)
              for r in table_run_ids(root) if r in committed]
    if not tables:
        return HISTORY_SCHEMA.empty_table().to_pandas()
    table = pa.concat_tables(tables)
    order = pd.DataFrame({"t": table.column("committed_at").to_pandas(), "r": table.column("run_id").to_pandas()})
    idx = order.sort_values(["t", "r"], kind="stable", na_position="first").index.to_numpy()
    return table.take(idx).to_pandas()
