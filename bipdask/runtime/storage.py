"""Run storage under one root URL: a local folder, ``file://…`` or ``s3://bucket/prefix``.

A run writes everything under ``<root>/runs/<run_id>/`` (``docs/architecture.md#run-layout-on-storage``)::

    runs/<run_id>/staged/       validated input, hive-partitioned by jobcentre_id
    runs/<run_id>/model_input/  per-job-centre sufficient statistics (tiny frames)
    runs/<run_id>/results/      tidy estimates (Parquet)
    runs/<run_id>/replicates/   bootstrap replicates
    runs/<run_id>/report/       HTML + PNG
    runs/<run_id>/quarantine/   rows the validator set aside, with reasons
    runs/<run_id>/_manifest.json   written LAST: the commit
    runs/latest.json               pointer to the newest committed run, written after the manifest

A run directory without ``_manifest.json`` does not exist for readers (:func:`open_run`,
:func:`list_runs`). The run id is a hash of the run key (input hashes, code version, spec,
seed), so the same inputs give the same run id and a rerun is a no-op.

Transient storage errors (HTTP 5xx, throttling, dropped connections) are retried with
exponential backoff (:func:`with_retries`, ``BIPDASK_STORAGE_ATTEMPTS`` /
``BIPDASK_STORAGE_BACKOFF_S``) on top of botocore's and s3fs's own retries. A run being computed
holds ``runs/<run_id>/_claim`` (:func:`bipdask.runtime.claims.claim_run`), so two runs of the same key never both
commit.

Credentials and the S3 endpoint come from the environment only (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` or ``FSSPEC_S3_ENDPOINT_URL``, …); they are never
taken from code, written to a manifest or logged.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import posixpath
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bipdask.errors import InfrastructureError, InputError, Problem

RUNS = "runs"
MANIFEST = "_manifest.json"
LATEST = "latest.json"
RUN_LAYERS = ("staged", "model_input", "results", "replicates", "report", "quarantine")
CLAIM = "_claim"
ENDPOINT_VARIABLES = ("FSSPEC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_S = 0.5  # delays 0.5, 2, 8 s between the attempts (×4 each time)
T = TypeVar("T")


# --------------------------------------------------------------------------- URLs and filesystems


def normalize_root(root: str | os.PathLike) -> str:
    """A canonical root URL: absolute local path (no ``file://``) or ``protocol://…``, no trailing /."""
    text = os.fspath(root)
    if text.startswith("file://"):
        text = text[len("file://"):]
    if "://" not in text:
        text = os.path.abspath(os.path.expanduser(text))
    return text.rstrip("/") or "/"


ROOT_SCHEMES = ("file", "s3", "s3a")
"""The URL schemes a run root may use: a local path (or ``file://``) and S3 (``s3://bucket/prefix``,
any S3-compatible store via ``AWS_ENDPOINT_URL``). Runs need atomic single-object writes and
exclusive creation (:func:`create_exclusive`); other fsspec stores are not supported."""


def check_root_url(url: str | os.PathLike) -> str:
    """The normalized root URL, or an :class:`InputError` (exit 2) when its scheme is not one of
    :data:`ROOT_SCHEMES` — checked before any work (the delivery is not hashed for a root no run
    can be written to)."""
    text = os.fspath(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else "file"
    if scheme not in ROOT_SCHEMES:
        raise InputError([Problem("output", "", f"unsupported URL scheme {scheme + '://'!r}", None,
                                  "use a local folder, file://… or s3://bucket/prefix")])
    if "://" in text and not text.split("://", 1)[1].strip("/"):
        raise InputError([Problem("output", "", f"{scheme}:// URL names no bucket or folder", None)])
    return normalize_root(text)


def is_remote(url: str) -> bool:
    return "://" in url and not url.startswith("file://")


def join(url: str, *parts: str) -> str:
    """Join path parts onto a URL with ``/`` (works for local paths and object stores)."""
    base = url.rstrip("/")
    return posixpath.join(base, *(p.strip("/") for p in parts if p))


def storage_options(url: str) -> dict[str, Any]:
    """fsspec options for ``url`` taken from the environment (S3 endpoint), never from code.

    botocore reads ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_DEFAULT_REGION``
    itself; the endpoint is passed explicitly so every s3fs version honours it.
    """
    if not url.startswith(("s3://", "s3a://")):
        return {}
    # No listings cache: other processes write the same prefixes (claims, commits, partitions).
    base = {"skip_instance_cache": True, "use_listings_cache": False}
    for name in ENDPOINT_VARIABLES:
        endpoint = os.environ.get(name)
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}, **base}
    return base


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem and the protocol-less path for ``url``."""
    url = normalize_root(url) if "://" not in url or url.startswith("file://") else url
    options = storage_options(url)
    try:
        if not options:
            return fsspec.core.url_to_fs(url)
        # One client per process and endpoint/identity: a new S3 client per call costs ~0.1 s.
        # Keyed on the environment so a changed endpoint or key id gets a new client.
        key = (url.split("://", 1)[0], canonical_json(options), os.environ.get("AWS_ACCESS_KEY_ID", ""),
               os.getpid())
        fs = _FILESYSTEMS.get(key)
        if fs is None:
            fs = _FILESYSTEMS[key] = fsspec.core.url_to_fs(url, **options)[0]
        return fs, fs._strip_protocol(url)
    except (ImportError, ValueError) as exc:
        raise InfrastructureError(f"storage: cannot open {_safe(url)} ({type(exc).__name__})") from None


_FILESYSTEMS: dict[tuple, fsspec.AbstractFileSystem] = {}


def _safe(url: str) -> str:
    """A URL fit for messages: no user-info part (``s3://key:secret@bucket`` never leaks)."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        proto, rest = url.split("://", 1)
        return f"{proto}://{rest.split('@', 1)[1]}"
    return url


def _infra(action: str, url: str, exc: BaseException) -> InfrastructureError:
    return InfrastructureError(f"storage: {action} {_safe(url)} failed ({type(exc).__name__})")


# --------------------------------------------------------------------------- transient errors and retries

TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling",
                             "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
TRANSIENT_ERRNOS = frozenset({errno.EIO, getattr(errno, "EREMOTEIO", errno.EIO), errno.EBUSY, errno.ETIMEDOUT,
                              errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED, errno.EPIPE, errno.EAGAIN})
PERMANENT = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_transient(exc: BaseException) -> bool:
    """Whether a storage failure is worth retrying: HTTP 5xx / throttling, a dropped or refused
    connection, a timeout. Missing objects, permissions and bad requests are not.

    s3fs turns botocore errors into ``OSError`` (500 → EREMOTEIO, 503 → EBUSY) and keeps the
    botocore error as ``__cause__``, so both are inspected.
    """
    seen = 0
    while exc is not None and seen < 5:
        seen += 1
        if isinstance(exc, PERMANENT):
            return False
        try:
            import botocore.exceptions as bx
        except ImportError:  # pragma: no cover - botocore comes with s3fs
            bx = None
        if bx is not None and isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {}) or {}
            status = (exc.response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode") or 0
            return int(status) >= 500 or err.get("Code") in TRANSIENT_CODES or str(err.get("Code", "")).startswith("5")
        if bx is not None and isinstance(exc, (bx.HTTPClientError, bx.ConnectionError)):
            return True
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return True
        if isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS:
            return True
        exc = exc.__cause__
    return False


def retry_policy() -> tuple[int, float]:
    """(attempts, first backoff in seconds), from ``BIPDASK_STORAGE_ATTEMPTS`` and
    ``BIPDASK_STORAGE_BACKOFF_S`` (defaults 4 and 0.5 s)."""
    try:
        attempts = max(1, int(os.environ.get("BIPDASK_STORAGE_ATTEMPTS", DEFAULT_ATTEMPTS)))
        backoff = max(0.0, float(os.environ.get("BIPDASK_STORAGE_BACKOFF_S", DEFAULT_BACKOFF_S)))
    except ValueError:
        attempts, backoff = DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_S
    return attempts, backoff


def with_retries(fn: Callable[[], T], action: str, url: str) -> T:
    """Call ``fn``; retry transient failures with exponential backoff (×4), then raise an
    :class:`InfrastructureError` naming the action, the URL (no credentials) and the error type.

    ``FileNotFoundError`` passes through unchanged (callers decide what absent means).
    """
    attempts, backoff = retry_policy()
    for attempt in range(attempts):
        try:
            return fn()
        except FileNotFoundError:
            raise
        except InfrastructureError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            if attempt + 1 < attempts and is_transient(exc):
                time.sleep(backoff * 4 ** attempt)
                continue
            raise _infra(action, url, exc) from None
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- atomic writes and reads


def write_bytes(data: bytes, url: str) -> None:
    """Write ``data`` to ``url`` atomically: readers see the old object or the new one, whole.

    Local: a temporary file in the same folder, then ``os.replace``. Object stores: one PUT
    (or one completed multipart upload), which is atomic per object. Transient failures are
    retried (:func:`with_retries`); rewriting the same bytes is harmless.
    """
    fs, path = filesystem(url)

    def put() -> None:
        if _is_local(fs):
            _write_local(data, path)
        else:
            fs.pipe_file(path, data)

    with_retries(put, "writing", url)


def _write_local(data: bytes | Callable[[BinaryIO], None], path: str) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_stream(write: Callable[[BinaryIO], None], url: str) -> None:
    """Write what ``write`` writes into a binary file object to ``url``, atomically as
    :func:`write_bytes`, without holding the bytes whole (a large pickled object streamed to
    storage). Local: a temporary file, then ``os.replace``; object stores: one streamed
    (multipart) upload, which becomes visible whole when it completes."""
    fs, path = filesystem(url)

    def put() -> None:
        if _is_local(fs):
            _write_local(write, path)
            return
        fh = fs.open(path, "wb")
        try:
            write(fh)
        except BaseException:
            fh.discard()  # a multipart upload aborted: the object stays as it was
            fh.closed = True  # never committed, not even when the file object is collected
            raise
        fh.close()

    with_retries(put, "writing", url)


def read_stream(read: Callable[[BinaryIO], T], url: str) -> T:
    """``read`` applied to the object at ``url`` opened as a binary file object (streamed, never
    read into one bytes object first); transient failures retried as :func:`read_bytes`."""
    fs, path = filesystem(url)

    def get() -> T:
        with fs.open(path, "rb") as fh:
            return read(fh)

    return with_retries(get, "reading", url)


def create_exclusive(data: bytes, url: str) -> bool:
    """Write ``data`` to ``url`` only if nothing is there: True if this call created it.

    Local: ``os.open(O_CREAT | O_EXCL)`` on a fully written temporary file's name via
    ``os.link`` (atomic, and never exposes a half-written file). S3: a conditional PUT
    (``If-None-Match: *``, s3fs ``mode="create"``), which AWS S3 honours since 2024-08; an
    object store that ignores the header degrades to last-writer-wins (see
    :func:`bipdask.runtime.claims.claim_run`).
    """
    fs, path = filesystem(url)
    if _is_local(fs):
        def put_local() -> bool:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.link(tmp, path)  # fails with FileExistsError if the name is taken
                return True
            except FileExistsError:
                return False
            finally:
                os.remove(tmp)

        return with_retries(put_local, "creating", url)

    def put_remote() -> bool:
        try:
            fs.pipe_file(path, data, mode="create")
            return True
        except FileExistsError:
            return False

    return with_retries(put_remote, "creating", url)


def read_bytes(url: str) -> bytes:
    fs, path = filesystem(url)
    return with_retries(lambda: fs.cat_file(path), "reading", url)


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    return with_retries(lambda: fs.exists(path), "checking", url)


def copy_file(src: str, dst: str) -> str:
    """Copy one object to another URL (same store), atomically at the destination; returns dst.

    Local: a hard link to a temporary name then ``os.replace`` (no bytes copied; a plain copy
    across devices). Object stores: a server-side copy.
    """
    fs, spath = filesystem(src)
    _, dpath = filesystem(dst)
    if not _is_local(fs):
        with_retries(lambda: fs.copy(spath, dpath), "copying", dst)
        return dst

    def link() -> None:
        os.makedirs(os.path.dirname(dpath), exist_ok=True)
        tmp = os.path.join(os.path.dirname(dpath), f".{os.path.basename(dpath)}.tmp-{uuid.uuid4().hex}")
        try:
            os.link(spath, tmp)
        except FileNotFoundError:
            raise
        except OSError:  # another device, or no hard links on this filesystem
            with open(spath, "rb") as fh:
                _write_local(fh.read(), dpath)
            return
        try:
            os.replace(tmp, dpath)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    with_retries(link, "copying", dst)
    return dst


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def parquet_bytes(data: pd.DataFrame | pa.Table, schema: pa.Schema | None = None) -> bytes:
    """Serialize a frame to Parquet bytes, deterministically (same frame ⇒ same bytes)."""
    if isinstance(data, pd.DataFrame):
        table = pa.Table.from_pandas(data, schema=schema, preserve_index=False)
    else:
        table = data.cast(schema) if schema is not None else data
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue()


def write_parquet(data: pd.DataFrame | pa.Table, url: str, schema: pa.Schema | None = None) -> str:
    """Write a frame (or Arrow table) as one Parquet object at ``url``, atomically; returns url."""
    write_bytes(parquet_bytes(data, schema), url)
    return url


def read_parquet(url: str | list[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Read one Parquet object or a list of them (concatenated in the given order) into pandas."""
    urls = [url] if isinstance(url, str) else list(url)
    tables = []
    for u in urls:
        fs, path = filesystem(u)
        if _is_local(fs):
            tables.append(with_retries(lambda: pq.read_table(path, filesystem=fs, columns=columns), "reading", u))
        else:  # whole object in one checked GET: a dropped connection cannot leave a short read
            data = read_bytes(u)
            tables.append(with_retries(lambda: pq.read_table(pa.BufferReader(data), columns=columns), "reading", u))
    if not tables:
        return pd.DataFrame(columns=columns or [])
    return pa.concat_tables(tables, promote_options="default").to_pandas(date_as_object=False)


def parquet_columns(url: str) -> list[str]:
    """The column names of one Parquet object (its footer only)."""
    fs, path = filesystem(url)
    if not _is_local(fs):
        data = read_bytes(url)
        return with_retries(lambda: pq.read_schema(pa.BufferReader(data)).names, "reading", url)
    return with_retries(lambda: pq.read_schema(path, filesystem=fs).names, "reading", url)


def write_json(obj: Any, url: str) -> str:
    """Write ``obj`` as sorted, indented JSON, atomically; returns url."""
    write_bytes(json.dumps(obj, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n", url)
    return url


def read_json(url: str) -> Any:
    return json.loads(read_bytes(url).decode("utf-8"))


def list_files(url: str, suffix: str = "") -> list[str]:
    """Every file below ``url`` whose name ends with ``suffix``, as full URLs, sorted."""
    fs, path = filesystem(url)
    found = with_retries(lambda: fs.find(path) if fs.exists(path) else [], "listing", url)
    proto = "" if _is_local(fs) else url.split("://", 1)[0] + "://"
    return sorted(proto + f for f in found if f.endswith(suffix) and not posixpath.basename(f).startswith("."))


# --------------------------------------------------------------------------- hashing and the run key


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a local file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_delivery(root: str | os.PathLike, tables: list[str]) -> dict[str, str]:
    """sha256 of every file of the named tables in a local delivery folder, keyed by relative path."""
    from bipdask.data.delivery import (
        table_files,  # local import: delivery is the layout authority
    )

    root = Path(root)
    hashes: dict[str, str] = {}
    for name in tables:
        for f in table_files(root, name):
            rel = f.relative_to(root).as_posix()
            try:
                hashes[rel] = sha256_file(f)
            except OSError as exc:
                raise InputError([Problem(name, "", "file unreadable", 0, f"{rel} ({type(exc).__name__})")]) from None
    return dict(sorted(hashes.items()))


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_key(
    input_hashes: Mapping[str, str], code_version: str, spec: Mapping[str, Any], seed: int
) -> str:
    """The run key: sha256 over (input hashes, code version, spec, seed) — nothing random.

    Same key ⇒ same run id ⇒ a rerun finds the committed manifest and does nothing.
    """
    payload = {
        "inputs": dict(sorted(input_hashes.items())),
        "code_version": code_version,
        "spec": spec,
        "seed": int(seed),
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def run_id_from_key(key: str) -> str:
    """A short, filesystem-safe run id from a run key (64 bits of it)."""
    return f"r{key[:16]}"


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunLayout:
    """Where one run's layers live under a root URL."""

    root: str
    run_id: str

    @classmethod
    def create(cls, root: str | os.PathLike, run_id: str) -> RunLayout:
        return cls(normalize_root(root), run_id)

    @property
    def url(self) -> str:
        return join(self.root, RUNS, self.run_id)

    def layer(self, name: str) -> str:
        if name not in RUN_LAYERS:
            raise ValueError(f"unknown run layer {name!r}")
        return join(self.url, name)

    @property
    def staged(self) -> str:
        return self.layer("staged")

    @property
    def model_input(self) -> str:
        return self.layer("model_input")

    @property
    def results(self) -> str:
        return self.layer("results")

    @property
    def replicates(self) -> str:
        return self.layer("replicates")

    @property
    def report(self) -> str:
        return self.layer("report")

    @property
    def quarantine(self) -> str:
        return self.layer("quarantine")

    @property
    def manifest(self) -> str:
        return join(self.url, MANIFEST)

    @property
    def claim(self) -> str:
        return join(self.url, CLAIM)

    def is_committed(self) -> bool:
        return exists(self.manifest)


FILES = "files"  # the manifest key: run-relative path → sha256 of every file of the run


def sha256_url(url: str, chunk: int = 1 << 20) -> tuple[str, int]:
    """(sha256, bytes) of one stored object (local file or S3 object), streamed."""
    fs, path = filesystem(url)

    def digest() -> tuple[str, int]:
        h, n = hashlib.sha256(), 0
        with fs.open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
                n += len(block)
        return h.hexdigest(), n

    return with_retries(digest, "hashing", url)


def run_files(run_url: str) -> list[str]:
    """The run-relative paths of every file of a run: all its layers, not the manifest or the claim."""
    base = run_url.rstrip("/")
    out = []
    for url in list_files(base):
        rel = url[len(base):].lstrip("/")
        if rel not in (MANIFEST, CLAIM):
            out.append(rel)
    return sorted(out)


def hash_run(run_url: str) -> dict[str, str]:
    """sha256 of every file of a run (:func:`run_files`), by run-relative path: the manifest's
    ``files``, recorded at the commit so that later edits are detected (:class:`CommittedRun`)."""
    return {rel: sha256_url(join(run_url, rel))[0] for rel in run_files(run_url)}


class IntegrityError(InfrastructureError):
    """A committed run's file does not match the sha256 its manifest records (edited, truncated
    or removed after the commit). Exit code 3; the file's data are not used."""


@dataclass(frozen=True)
class CommittedRun:
    """A run a reader may see: its id, URL and manifest.

    Read a committed run's files through :meth:`read_bytes`, :meth:`read_parquet`,
    :meth:`read_csv_bytes` and :meth:`has`: each file is checked against the sha256 the manifest
    records for it (``files``) before its data are used, so only what is read is hashed; a
    mismatch raises :class:`IntegrityError` naming the file. :func:`verify_run` checks them all.
    A run committed before the manifest recorded hashes is read unchecked.
    """

    run_id: str
    url: str
    manifest: dict

    def layer(self, name: str) -> str:
        return join(self.url, name)

    @property
    def hashes(self) -> dict[str, str] | None:
        files = self.manifest.get(FILES)
        return dict(files) if isinstance(files, Mapping) else None

    def has(self, rel: str) -> bool:
        """Whether the run has the file ``rel`` (the manifest's list when it has one)."""
        hashes = self.hashes
        return rel in hashes if hashes is not None else exists(join(self.url, rel))

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of the run's file ``rel``, checked against the manifest's sha256."""
        url = join(self.url, rel)
        hashes = self.hashes
        if hashes is not None and rel not in hashes:
            raise IntegrityError(f"run {self.run_id}: {rel} is not a file of the committed run (not in its manifest)")
        try:
            data = read_bytes(url)
        except FileNotFoundError:
            if hashes is None:
                raise
            raise IntegrityError(f"run {self.run_id}: {rel} is missing (its manifest records it); "
                                 "run `bipdask verify` on the run") from None
        if hashes is not None and hashlib.sha256(data).hexdigest() != hashes[rel]:
            raise IntegrityError(f"run {self.run_id}: {rel} does not match the sha256 in its manifest (changed "
                                 "after the commit); not read — run `bipdask verify` on the run")
        return data

    def read_parquet(self, rel: str, columns: list[str] | Callable[[list[str]], list[str]] | None = None
                     ) -> pd.DataFrame:
        """One Parquet file of the run, checked (:meth:`read_bytes`), as pandas; ``columns``: the
        columns to read, or a function choosing them from the file's column names."""
        data = self.read_bytes(rel)

        def read() -> pa.Table:
            wanted = columns(pq.read_schema(pa.BufferReader(data)).names) if callable(columns) else columns
            return pq.read_table(pa.BufferReader(data), columns=wanted)

        return with_retries(read, "reading", join(self.url, rel)).to_pandas(date_as_object=False)


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_run` found: files checked, their bytes, and one line per problem."""

    run_id: str
    checked: int
    n_bytes: int
    problems: tuple[str, ...]

    def describe(self) -> str:
        if self.problems:
            return "\n".join(self.problems)
        return (f"run {self.run_id}: all {self.checked} files match their sha256 in the manifest "
                f"({self.n_bytes:,} bytes)")


def verify_run(run: CommittedRun) -> Verification:
    """Hash every file of a committed run and compare with its manifest: changed, missing and
    unlisted files, one line each (no data are parsed)."""
    hashes = run.hashes
    if hashes is None:
        why = f"run {run.run_id}: its manifest records no file hashes (committed before they were recorded)"
        return Verification(run.run_id, 0, 0, (f"{why}; cannot verify",))
    problems, n_bytes = [], 0
    present = set(run_files(run.url))
    for rel, expected in sorted(hashes.items()):
        if rel not in present:
            problems.append(f"run {run.run_id}: {rel} is missing")
            continue
        digest, size = sha256_url(join(run.url, rel))
        n_bytes += size
        if digest != expected:
            problems.append(f"run {run.run_id}: {rel} does not match the sha256 in its manifest")
    problems += [f"run {run.run_id}: {rel} is not in its manifest (added after the commit)"
                 for rel in sorted(present - set(hashes))]
    return Verification(run.run_id, len(hashes), n_bytes, tuple(problems))


def commit(run: RunLayout, manifest: Mapping[str, Any]) -> CommittedRun:
    """Commit a run: hash every file of the run into the manifest's ``files`` (:func:`hash_run`),
    write ``_manifest.json`` (last of the run's files), then ``runs/latest.json``.

    Everything the run wrote must be in place before this is called; after it returns, readers
    see the run. The pointer is written after the manifest, so it never names an uncommitted run.
    """
    body = dict(manifest)
    body.setdefault("run_id", run.run_id)
    body[FILES] = hash_run(run.url)
    write_json(body, run.manifest)
    write_json({"run_id": run.run_id, "manifest": f"{RUNS}/{run.run_id}/{MANIFEST}"},
               join(run.root, RUNS, LATEST))
    return CommittedRun(run.run_id, run.url, body)


def list_runs(root: str | os.PathLike) -> list[str]:
    """The committed run ids under ``root`` (those with a manifest), sorted."""
    root = normalize_root(root)
    base = join(root, RUNS)
    fs, path = filesystem(base)
    entries = with_retries(lambda: fs.ls(path, detail=True) if fs.exists(path) else [], "listing", base)
    ids = []
    for entry in entries:
        if entry.get("type") != "directory":
            continue
        run_id = posixpath.basename(entry["name"].rstrip("/"))
        if exists(join(base, run_id, MANIFEST)):
            ids.append(run_id)
    return sorted(ids)


def open_run(root: str | os.PathLike, run_id: str | None = None) -> CommittedRun:
    """Open a committed run: ``run_id``, or the one ``runs/latest.json`` names.

    Raises ``FileNotFoundError`` when the run has no manifest (it does not exist for readers)
    or when there is no committed run at all.
    """
    root = normalize_root(root)
    if run_id is None:
        pointer = join(root, RUNS, LATEST)
        if exists(pointer):
            run_id = str(read_json(pointer)["run_id"])
        else:
            ids = list_runs(root)
            if not ids:
                raise FileNotFoundError(f"no committed run under {_safe(root)}")
            run_id = max(ids, key=lambda r: (str(read_json(join(root, RUNS, r, MANIFEST)).get("committed_at", "")), r))
    layout = RunLayout(root, run_id)
    if not layout.is_committed():
        raise FileNotFoundError(f"run {run_id} under {_safe(root)} is not committed")
    return CommittedRun(run_id, layout.url, read_json(layout.manifest))


def remove(url: str) -> None:
    """Delete a file or a whole prefix (an uncommitted run's leftovers); absent is fine."""
    fs, path = filesystem(url)

    def rm() -> None:
        if fs.exists(path):
            fs.rm(path, recursive=True)

    try:
        with_retries(rm, "removing", url)
    except FileNotFoundError:
        return
