"""Writing what :mod:`bipdask.data.validate.stage` produces: the staged layer and the quarantine tables.

Any fsspec URL works (a local path, ``file://…``, ``s3://bucket/prefix``); credentials come from
``storage_options`` or the environment, never from code. Layout under the run's root::

    staged/weeks/jobcentre_id=<id>/part-<n>.parquet   (hive; jobcentre_id not stored in files)
    staged/<table>.parquet                            (every other table, clean rows)
    quarantine/<table>.parquet                        (offending rows + ``reason``)
"""

from __future__ import annotations

import posixpath

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bipdask.data.contract import TABLES

STAGED = "staged"
QUARANTINE = "quarantine"
PARTITION_COLUMN = "jobcentre_id"
ROWS_PER_PART = 250_000  # rows buffered per job centre before a part file is written
MAX_BUFFERED_ROWS = 2_000_000  # rows buffered over all job centres: the largest buffer is written beyond it


def loose_schema(name: str, drop: tuple[str, ...] = ()) -> pa.Schema:
    """The contract schema of table ``name`` with every field nullable (as Arrow casts give)."""
    return pa.schema([pa.field(c.name, c.type) for c in TABLES[name].columns if c.name not in drop])


def quarantine_schema(name: str) -> pa.Schema:
    return loose_schema(name).append(pa.field("reason", pa.string()))


class Folder:
    """A folder on an fsspec filesystem; ``parts`` below it are joined with '/'."""

    def __init__(self, url: str, storage_options: dict | None = None) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(str(url), **(storage_options or {}))
        self.root = self.root.rstrip("/")

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def remove(self, *parts: str) -> None:
        p = self.path(*parts)
        if self.fs.exists(p):
            self.fs.rm(p, recursive=True)

    def open_writer(self, schema: pa.Schema, *parts: str) -> tuple[pq.ParquetWriter, object]:
        p = self.path(*parts)
        self.fs.makedirs(posixpath.dirname(p), exist_ok=True)
        fh = self.fs.open(p, "wb")
        return pq.ParquetWriter(fh, schema), fh

    def write_table(self, t: pa.Table, *parts: str) -> None:
        writer, fh = self.open_writer(t.schema, *parts)
        try:
            writer.write_table(t)
        finally:
            writer.close()
            fh.close()


class QuarantineSink:
    """Quarantine rows to one or more targets, one Parquet file per table, opened lazily."""

    def __init__(self, targets: list[tuple[Folder, tuple[str, ...]]]) -> None:
        self.targets = targets
        self._open: dict[tuple[int, str], tuple[pq.ParquetWriter, object]] = {}

    def write(self, name: str, rows: pa.Table, reasons: pa.Array) -> None:
        if rows.num_rows == 0:
            return
        t = rows.append_column("reason", reasons).cast(quarantine_schema(name))
        for i, (folder, prefix) in enumerate(self.targets):
            key = (i, name)
            if key not in self._open:
                self._open[key] = folder.open_writer(t.schema, *prefix, f"{name}.parquet")
            self._open[key][0].write_table(t)

    def close(self) -> None:
        for writer, fh in self._open.values():
            writer.close()
            fh.close()
        self._open.clear()


class PartitionedWriter:
    """Clean weeks rows to ``staged/weeks/jobcentre_id=<id>/part-<n>.parquet``.

    Rows are buffered per job centre and written ``ROWS_PER_PART`` at a time; beyond
    ``max_buffered`` rows over all job centres the largest buffer is written early, so memory
    stays bounded by ``max_buffered`` rows whatever the delivery's size or file layout (98 job
    centres × 250,000 rows would be 1 GB and more), and part numbers follow the input order (same
    delivery ⇒ same files).
    """

    def __init__(self, folder: Folder, name: str = "weeks", rows_per_part: int = ROWS_PER_PART,
                 max_buffered: int = MAX_BUFFERED_ROWS) -> None:
        self.folder = folder
        self.name = name
        self.rows_per_part = rows_per_part
        self.max_buffered = max_buffered
        self._buffered = 0
        self.schema = loose_schema(name, drop=(PARTITION_COLUMN,))
        self._buffers: dict[int, list[pa.Table]] = {}
        self._rows: dict[int, int] = {}
        self._parts: dict[int, int] = {}

    def write(self, t: pa.Table) -> None:
        ids = pc.fill_null(t.column(PARTITION_COLUMN), -1).to_numpy()
        order = np.argsort(ids, kind="stable")
        ids_sorted = ids[order]
        t = t.take(pa.array(order)).drop_columns([PARTITION_COLUMN]).cast(self.schema)
        cuts = np.flatnonzero(np.diff(ids_sorted)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ids_sorted)]):
            if hi > lo:
                self._add(int(ids_sorted[lo]), t.slice(lo, hi - lo))

    def _add(self, jobcentre: int, t: pa.Table) -> None:
        self._buffers.setdefault(jobcentre, []).append(t)
        self._rows[jobcentre] = self._rows.get(jobcentre, 0) + t.num_rows
        self._buffered += t.num_rows
        if self._rows[jobcentre] >= self.rows_per_part:
            self._flush(jobcentre)
        while self._buffered > self.max_buffered and self._rows:
            self._flush(max(self._rows, key=lambda j: (self._rows[j], -j)))  # the largest, ties: lowest id

    def _flush(self, jobcentre: int) -> None:
        parts = self._buffers.pop(jobcentre, [])
        self._buffered -= self._rows.pop(jobcentre, 0)
        if not parts:
            return
        n = self._parts.get(jobcentre, 0)
        self._parts[jobcentre] = n + 1
        self.folder.write_table(pa.concat_tables(parts).combine_chunks(), STAGED, self.name,
                                f"{PARTITION_COLUMN}={jobcentre}", f"part-{n}.parquet")

    def close(self) -> None:
        for jobcentre in sorted(self._buffers):
            self._flush(jobcentre)
