"""Validate a delivery against the data contract and stage it for a run.

:func:`validate_delivery` reads every contract table present (:mod:`bipdask.data.delivery`),
checks all of it, and reports every violated check at once.

What stops the run and what is quarantined
-------------------------------------------
*Table-level* problems raise :class:`~bipdask.errors.InputError` (CLI exit code 2) after all
of them are collected, one line each (table, column, rule, row count; never ids or values):

- a required table (persons, weeks, dream_codes, jobcentres) missing; a table mixing Parquet
  and CSV; a file that cannot be read; duplicate column names; a contract column missing;
  cells that cannot be typed by the contract (:func:`bipdask.data.delivery.conform_column`'s rules:
  ``not an integer (int16)``, ``not a date (ISO YYYY-MM-DD)``, ``integer out of range for
  int32`` …, the same as every reader); a table with zero rows;
- any bad row in a reference table (``jobcentres``: missing values, a municipality twice, a
  job centre with two names; ``dream_codes``: missing values, an unknown status, valid_to
  before valid_from, overlapping versions of one code), since every other check uses them;
- more than ``max_quarantine_share`` (default 5 %) of a table's rows quarantined: the
  delivery is then broken rather than dirty.

Tables with a schema-level problem are not row-checked (their rows would only echo it), and
checks that need them (references, code validity) are skipped.

*Row-level* problems quarantine the row, with one reason code ``rule:column`` (see
:mod:`bipdask.data.validate.rules` for the list and the order: a row is counted under its first
broken rule). Duplicated keys quarantine every copy, as there is no telling which is right;
rows of a quarantined person are quarantined too (``quarantined_reference:person_id``).
For each table rows in = rows out + rows quarantined.

Unknown extra columns are warnings (``ValidationReport.problems``) and are dropped.

Outputs
-------
With ``out_url`` the clean rows become the run's staged layer (``validate_write``); on a
table-level failure the staged layer is removed again. ``quarantine_dir`` (CLI
``bipdask validate DIR --quarantine Q``) receives ``<table>.parquet`` quarantine files, also
when the run stops, to help find what broke.

Weeks may come as DREAM wide (``dream_wide`` + ``weeks_activity``, see :mod:`bipdask.data.dream`);
it is then built one DREAM file at a time by :func:`bipdask.data.delivery.iter_table_files`.

Memory: the weeks table is streamed in batches, twice: first its keys only (person, week:
12 bytes a row, for duplicates across files and the week span), then in full; clean rows are
buffered per job centre up to ``validate_write.ROWS_PER_PART`` rows. Measured: 30.5 M weeks
rows in 85 files (scale-10 size, every file mixing all job centres) validate and stage in
21 s of CPU (40 s wall on a loaded 2-core machine) with a peak RSS of 1.8 GiB.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bipdask.data.contract import CONTRACT_VERSION, TABLES
from bipdask.data.delivery import iter_table_files, table_files, weeks_layout
from bipdask.data.dream import ACTIVITY_TABLE, WIDE_TABLE
from bipdask.data.validate.coverage import CoverageCounter, reconcile
from bipdask.data.validate.read import (
    RULE_MIXED_FORMATS,
    RULE_TABLE_MISSING,
    RULE_UNREADABLE,
    RULE_ZERO_ROWS,
    DeliveryFile,
    ProblemLog,
    cast_batch,
    check_columns,
    full_schema_table,
    open_file,
    printable,
    read_cast,
    read_whole,
    sha256_file,
    without_flags,
)
from bipdask.data.validate.rules import (
    FIRST_DATE,
    MIN_AGE_YEARS,
    Context,
    Frame,
    check_dream_codes,
    check_jobcentres,
    days,
    dream_versions,
    pair_key,
    row_reasons,
)
from bipdask.data.validate.write import (
    QUARANTINE,
    STAGED,
    Folder,
    PartitionedWriter,
    QuarantineSink,
)
from bipdask.errors import InputError, Problem

DEFAULT_MAX_QUARANTINE_SHARE = 0.05
RULE_TOO_MANY_BAD_ROWS = "too many rows quarantined"
SMALL_TABLES = ("jobcentres", "dream_codes", "persons", "assignments", "caseload",
                "belief_survey", "bip_responses")
WEEKS_KEY = ("person_id", "week")


@dataclass(frozen=True)
class ValidationReport:
    """What validation found and staged; ``to_dict()`` goes into the run manifest.

    ``problems`` holds warnings that did not stop the run; ``rows_in``, ``rows_out`` and
    ``quarantined`` (table → reason → rows) are per table; ``jobcentre_ids`` are the staged
    weeks partitions; ``input_hashes`` maps each input file's path in the delivery to SHA-256.
    """

    problems: list[Problem]
    rows_in: dict[str, int]
    rows_out: dict[str, int]
    quarantined: dict[str, dict[str, int]]
    jobcentre_ids: list[int]
    input_hashes: dict[str, str]
    week_span: tuple[str, str] | None = None
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE
    contract_version: str = CONTRACT_VERSION
    staged_url: str | None = None
    coverage: dict | None = None  # bipdask.data.validate.coverage: what the clean weeks rows cover
    weeks_rows_by_jobcentre: dict[int, int] = field(default_factory=dict)  # staged weeks rows per partition

    def n_quarantined(self, table: str) -> int:
        return sum(self.quarantined.get(table, {}).values())

    def describe(self) -> str:
        """A human summary: rows per table, quarantine reasons, warnings."""
        span = f", weeks {self.week_span[0]} to {self.week_span[1]}" if self.week_span else ""
        lines = [f"delivery valid (contract v{self.contract_version}): {len(self.rows_in)} tables, "
                 f"{len(self.input_hashes)} files, {len(self.jobcentre_ids)} job centres{span}",
                 f"  {'table':<15}{'rows in':>12}{'rows out':>12}{'quarantined':>13}"]
        for t, n in self.rows_in.items():
            lines.append(f"  {t:<15}{n:>12,}{self.rows_out.get(t, 0):>12,}{self.n_quarantined(t):>13,}")
        if any(self.quarantined.values()):
            lines.append("quarantined rows by reason:")
            for t, reasons in self.quarantined.items():
                lines += [f"  {t}: {r} ({n} rows)" for r, n in reasons.items()]
        if self.problems:
            lines.append("warnings:")
            lines += [f"  {p.line()}" for p in self.problems]
        if self.staged_url:
            lines.append(f"staged to {self.staged_url}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able form for the run manifest."""
        return {
            "contract_version": self.contract_version,
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "rows_in": dict(self.rows_in),
            "rows_out": dict(self.rows_out),
            "quarantined": {t: dict(r) for t, r in self.quarantined.items()},
            "jobcentre_ids": [int(i) for i in self.jobcentre_ids],
            "input_hashes": dict(self.input_hashes),
            "week_span": list(self.week_span) if self.week_span else None,
            "max_quarantine_share": self.max_quarantine_share,
            "staged_url": self.staged_url,
            "coverage": self.coverage,
            "weeks_rows_by_jobcentre": {str(k): int(v) for k, v in sorted(self.weeks_rows_by_jobcentre.items())},
        }


@dataclass
class _State:
    """Mutable bookkeeping of one validation (internal)."""

    errors: ProblemLog = field(default_factory=ProblemLog)
    warnings: ProblemLog = field(default_factory=ProblemLog)
    files: dict[str, list[DeliveryFile]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    unusable: set[str] = field(default_factory=set)
    weeks_wide: bool = False
    coverage: CoverageCounter = field(default_factory=CoverageCounter)

    def count(self, name: str, first: np.ndarray, reasons: list[str]) -> None:
        self.rows_in[name] = self.rows_in.get(name, 0) + len(first)
        self.rows_out[name] = self.rows_out.get(name, 0) + int((first < 0).sum())
        per = self.quarantined.setdefault(name, {})
        for i, n in enumerate(np.bincount(first[first >= 0], minlength=len(reasons))):
            if n:
                per[reasons[i]] = per.get(reasons[i], 0) + int(n)


def validate_delivery(
    root: Path | str,
    *,
    out_url: str | None = None,
    quarantine_dir: Path | str | None = None,
    storage_options: dict | None = None,
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE,
    today: dt.date | None = None,
    coverage_limits: Mapping[str, float] | None = None,
    previous_coverage: Mapping | None = None,
) -> ValidationReport:
    """Check a delivery against the data contract v1; optionally stage its clean rows.

    Parameters
    ----------
    root
        The delivery folder (layout in :mod:`bipdask.data.delivery`).
    out_url
        The run's root (local path or fsspec URL): clean tables go to ``staged/``, offending
        rows to ``quarantine/``. Nothing is written when ``None``.
    quarantine_dir
        A folder for ``<table>.parquet`` quarantine files (written even when the run stops).
    storage_options
        fsspec options for ``out_url`` (e.g. an S3 endpoint); credentials stay in the environment.
    max_quarantine_share
        Largest share of a table's rows that may be quarantined before the table counts as broken.
    today
        The day of validation (default: today, UTC): weeks and dates after it are quarantined
        as ``in_future`` (a register cannot have observed them).
    coverage_limits
        ``max_persons_without_weeks`` and ``max_row_drop`` (the spec's ``[coverage]``; default
        :mod:`bipdask.data.validate.coverage`'s): beyond them missing coverage stops the run.
    previous_coverage
        The previous delivery's ``coverage`` (its run manifest), to compare months with.

    Raises
    ------
    InputError
        With every table-level problem, one line each.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError([Problem("delivery", "", "delivery folder not found", 0)])
    st = _State()
    _discover(root, st)
    _unknown_tables(root, st)
    data = {n: read_whole(st.files[n], TABLES[n], st.errors) for n in SMALL_TABLES if n in st.files}
    today_days = days((today or dt.datetime.now(dt.timezone.utc).date()).isoformat())
    span, duplicates, weeks_rows = (_weeks_keys(root, st, today_days) if "weeks" in st.files
                                    else (None, None, 0))
    st.unusable |= st.errors.tables()
    if "jobcentres" in data and "jobcentres" not in st.unusable:
        check_jobcentres(data["jobcentres"], st.errors)
    if "dream_codes" in data and "dream_codes" not in st.unusable:
        check_dream_codes(data["dream_codes"], st.errors)
    ctx = dataclasses.replace(_context(data, st, span, duplicates), today=today_days)

    out = Folder(out_url, storage_options) if out_url is not None else None
    qdir = Folder(str(quarantine_dir)) if quarantine_dir is not None else None
    _clear_outputs(out, qdir)
    checked, ctx = _check_small_tables(data, st, ctx)
    weeks_by_jobcentre = _check_weeks(root, st, ctx, out, qdir)

    st.unusable |= st.errors.tables()
    if "weeks" in st.unusable and "weeks" in st.files:
        st.rows_in["weeks"] = weeks_rows
    for name, n in st.rows_in.items():
        if n == 0 and name not in st.unusable:
            st.errors.add(name, "", RULE_ZERO_ROWS, 0)
    _check_shares(st, max_quarantine_share, skip=st.errors.tables())
    coverage = None
    if not ({"weeks", "persons", "jobcentres"} & st.unusable) and "weeks" in st.files:
        coverage = st.coverage.summary(ctx.persons_clean, ctx.jobcentre_ids)
        found = reconcile(coverage, previous_coverage, **dict(coverage_limits or {}))
        for p in found.warnings:
            st.warnings.add(p.table, p.column, p.rule, p.n_rows, p.message)
        for p in found.errors:
            st.errors.add(p.table, p.column, p.rule, p.n_rows, p.message)
    _write_small_tables(data, checked, out if not st.errors else None, qdir)

    if st.errors:
        _clear_outputs(out, None)
        raise InputError(st.errors.problems())
    order = [t for t in TABLES if t in st.rows_in]
    return ValidationReport(
        problems=st.warnings.problems(),
        rows_in={t: st.rows_in[t] for t in order},
        rows_out={t: st.rows_out.get(t, 0) for t in order},
        quarantined={t: st.quarantined.get(t, {}) for t in order},
        jobcentre_ids=sorted(weeks_by_jobcentre),
        input_hashes=st.hashes,
        week_span=_span_text(span),
        max_quarantine_share=max_quarantine_share,
        staged_url=(out.path(STAGED) if out is not None else None),
        coverage=coverage,
        weeks_rows_by_jobcentre=dict(sorted(weeks_by_jobcentre.items())),
    )


# ------------------------------------------------------------------------------ the steps


def _discover(root: Path, st: _State) -> None:
    """Find each table's files, hash them, read their headers (table-level checks).

    A delivery without ``weeks`` but with DREAM wide (``dream_wide`` + ``weeks_activity``) has
    its weeks built by :func:`bipdask.data.delivery.iter_table_files`, one DREAM file at a time.
    """
    for name, table in TABLES.items():
        try:
            paths = table_files(root, name)
            wide = not paths and name == "weeks" and weeks_layout(root) == "dream_wide"
            if wide:
                paths = table_files(root, WIDE_TABLE) + table_files(root, ACTIVITY_TABLE)
        except InputError as exc:  # two sources of one table, a link loop, a broken link
            for p in exc.problems:
                st.errors.add(p.table, p.column, p.rule, p.n_rows, p.message)
            continue
        if not paths:
            if table.required:
                st.errors.add(name, "", RULE_TABLE_MISSING, 0)
            continue
        paths = [p for p in paths if _hash(root, p, name, st)]
        if wide:
            st.files["weeks"] = []
            st.weeks_wide = True
            continue
        if len({p.suffix for p in paths}) > 1:
            st.errors.add(name, "", RULE_MIXED_FORMATS, 0)
            continue
        files = [f for p in paths if (f := open_file(root, p, table, st.errors)) is not None]
        check_columns(table, files, st.errors, st.warnings)
        st.files[name] = files


KNOWN_ENTRIES = {*TABLES, WIDE_TABLE, ACTIVITY_TABLE, "truth"}
RULE_UNKNOWN_TABLE = "unknown table ignored"  # a warning: a misspelt name is also a missing table


def _unknown_tables(root: Path, st: _State) -> None:
    """Files and folders of the delivery that are no contract table (``week.parquet``,
    ``extra/``): warnings, so a misspelt or unexpected table is seen, not silently skipped."""
    for entry in sorted(root.iterdir()):
        name = entry.name
        if name.startswith(("_", ".")):
            continue
        stem = entry.stem if entry.suffix in (".parquet", ".csv", ".json") else name
        if stem not in KNOWN_ENTRIES:
            st.warnings.add(printable(stem), "", RULE_UNKNOWN_TABLE, 0)


def _hash(root: Path, path: Path, name: str, st: _State) -> bool:
    """Record the file's SHA-256; a file that cannot be opened is a table-level problem."""
    rel = path.relative_to(root).as_posix()
    try:
        st.hashes[rel] = sha256_file(path)
    except OSError as exc:
        st.errors.add(name, "", RULE_UNREADABLE, 0, f"{rel} ({type(exc).__name__})")
        return False
    return True


def _weeks_batches(root: Path, st: _State, columns: list[str]) -> Iterator[pa.Table]:
    """The weeks table in contract-typed batches of ``columns``; problems go to ``st.errors``."""
    table = TABLES["weeks"]
    if not st.weeks_wide:
        for f in st.files["weeks"]:
            yield from read_cast(f, table, columns, st.errors)
        return
    try:
        for _, frame in iter_table_files(root, "weeks"):
            raw = pa.Table.from_pandas(frame[[c for c in columns if c in frame.columns]],
                                       preserve_index=False)
            t, problems = cast_batch(raw, table)
            for p in problems:
                st.errors.add(p.table, p.column, p.rule, p.n_rows)
            yield t
    except InputError as exc:
        for p in exc.problems:
            st.errors.add(p.table, p.column, p.rule, p.n_rows, p.message)


MAX_KEYS_IN_MEMORY = 20_000_000  # (person, week) keys the duplicate check sorts at once: ~0.6 GB with the sort


def _weeks_keys(root: Path, st: _State, today: int,
                max_keys: int | None = None) -> tuple[tuple[int, int] | None, pd.MultiIndex | None, int]:
    """Pass 1 over weeks: the week span, the (person, week) pairs that occur twice, rows.

    The span is that of the plausible weeks (from :data:`~bipdask.data.validate.rules.FIRST_DATE`
    to ``today``): one row dated 1600 or 2099 must not stretch it (and with it the window every
    other table's dates are checked against).

    Memory: at most ``max_keys`` keys are held and sorted at once. A larger delivery (a 100 M
    person-week panel has 1.2 GB of keys, three times that while sorting) is checked again in
    ``ceil(keys / max_keys)`` passes, each over the persons of one id residue class (a person's
    rows are all in the same pass, so every duplicate is found, once)."""
    max_keys = max_keys or MAX_KEYS_IN_MEMORY
    pids, weeks = [], []
    n_rows = n_keys = 0
    lo = hi = None
    for t in _weeks_batches(root, st, list(WEEKS_KEY)):
        n_rows += t.num_rows
        pid, week = _batch_keys(t)
        if pid is None or not len(pid):
            continue
        plausible = week[(week >= days(FIRST_DATE)) & (week <= today)]
        if len(plausible):
            lo = plausible.min() if lo is None else min(lo, plausible.min())
            hi = plausible.max() if hi is None else max(hi, plausible.max())
        n_keys += len(pid)
        if n_keys <= max_keys:
            pids.append(pid)
            weeks.append(week)
        else:
            pids, weeks = [], []  # too many to sort at once: checked in passes below
    if not n_keys:
        return None, None, n_rows
    span = (int(lo - (lo + 3) % 7), int(hi - (hi + 3) % 7)) if lo is not None else None
    if n_keys <= max_keys:
        return span, _duplicate_keys(np.concatenate(pids), np.concatenate(weeks)), n_rows
    passes = math.ceil(n_keys / max_keys)
    quiet = dataclasses.replace(st, errors=ProblemLog())  # the first pass reported the typing problems
    found = []
    for k in range(passes):
        pids, weeks = [], []
        for t in _weeks_batches(root, quiet, list(WEEKS_KEY)):
            pid, week = _batch_keys(t)
            if pid is not None and len(pid):
                mine = np.remainder(pid, passes) == k
                pids.append(pid[mine])
                weeks.append(week[mine])
        if pids:
            found.append(_duplicate_keys(np.concatenate(pids), np.concatenate(weeks)))
    dup = found[0].append(found[1:]) if len(found) > 1 else found[0]
    return span, dup.sort_values(), n_rows


def _batch_keys(t: pa.Table) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The valid (person id, week day) keys of a batch of weeks rows."""
    fr = Frame(t)
    if not fr.has(*WEEKS_KEY):
        return None, None
    ok = fr.valid("person_id") & fr.valid("week")
    return fr.values("person_id")[ok], fr.values("week")[ok].astype("int32")


def _duplicate_keys(pid: np.ndarray, week: np.ndarray) -> pd.MultiIndex:
    """The (person, week) pairs that occur more than once, sorted."""
    order = np.lexsort((week, pid))
    pid, week = pid[order], week[order]
    del order
    same = (pid[1:] == pid[:-1]) & (week[1:] == week[:-1])
    return pd.MultiIndex.from_arrays([pid[1:][same], week[1:][same]]).unique()


def _context(data: dict[str, pa.Table], st: _State, week_span: tuple[int, int] | None,
             duplicates: pd.MultiIndex | None) -> Context:
    """What the row rules need from the reference tables and from the weeks keys."""
    kw: dict = {"span": week_span, "weeks_duplicates": duplicates}
    if week_span is not None:
        last_year = pd.Timestamp(week_span[1] + 6, unit="D").year
        kw["max_birth_year"] = last_year - MIN_AGE_YEARS
    if "jobcentres" in data and "jobcentres" not in st.unusable:
        fr = Frame(data["jobcentres"])
        ok = fr.valid("jobcentre_id") & fr.valid("municipality_code")
        kw["jobcentre_ids"] = np.unique(fr.values("jobcentre_id")[fr.valid("jobcentre_id")])
        kw["jobcentre_municipalities"] = np.unique(
            pair_key(fr.values("jobcentre_id")[ok], fr.values("municipality_code")[ok]))
    if "dream_codes" in data and "dream_codes" not in st.unusable:
        kw["dream_versions"] = dream_versions(data["dream_codes"])
    return Context(**kw)


def _with_persons(ctx: Context, persons: pa.Table, first: np.ndarray) -> Context:
    fr = Frame(persons)
    ids, ok = fr.values("person_id"), fr.valid("person_id")
    quarantined = np.unique(ids[ok & (first >= 0)])
    clean = np.setdiff1d(np.unique(ids[ok & (first < 0)]), quarantined)
    return dataclasses.replace(ctx, persons_clean=clean, persons_quarantined=quarantined)


def _weeks_rows(root: Path, st: _State, ctx: Context, writer: PartitionedWriter | None,
                sink: QuarantineSink) -> dict[int, int]:
    """Pass 2 over weeks: row checks per batch; clean rows to the staged layer; their count per
    job centre (what the map side packs into batches, :mod:`bipdask.prepare.partitions`)."""
    table = TABLES["weeks"]
    jobcentres: dict[int, int] = {}
    try:
        for t in _weeks_batches(root, st, list(table.column_names)):
            if "weeks" in st.errors.tables():
                continue  # the table is broken: only look for further typing problems
            first, reasons = row_reasons(t, "weeks", ctx)
            st.count("weeks", first, reasons)
            clean = t.filter(pa.array(first < 0))
            if "jobcentre_id" in clean.column_names:
                ids, counts = np.unique(Frame(clean).values("jobcentre_id"), return_counts=True)
                for jc, n in zip(ids.tolist(), counts.tolist()):
                    jobcentres[int(jc)] = jobcentres.get(int(jc), 0) + int(n)
            _cover(st, t, ctx)
            if writer is not None and not st.errors:
                writer.write(full_schema_table(clean, table))
            bad = first >= 0
            if bad.any():
                sink.write("weeks", full_schema_table(t.filter(pa.array(bad)), table),
                           pa.array(np.array(reasons, object)[first[bad]], pa.string()))
        if writer is not None and not st.errors:
            writer.close()
    finally:
        sink.close()
    st.rows_in.setdefault("weeks", 0)
    return dict(sorted(jobcentres.items()))


def _cover(st: _State, t: pa.Table, ctx: Context) -> None:
    """Count what the delivered weeks rows cover (quarantined ones too: the quarantine is
    reported on its own; coverage asks what was delivered at all), inside the week span."""
    fr = Frame(t)
    if not fr.has("person_id", "week", "jobcentre_id") or ctx.span is None:
        return
    week = fr.values("week")
    ok = (fr.valid("person_id") & fr.valid("week") & fr.valid("jobcentre_id")
          & (week >= ctx.span[0]) & (week <= ctx.span[1] + 6))
    st.coverage.add(fr.values("jobcentre_id")[ok], fr.values("week")[ok], fr.values("person_id")[ok])


def _clear_outputs(out: Folder | None, qdir: Folder | None) -> None:
    """Remove what an earlier validation wrote there, so a rerun leaves no stale part files."""
    if out is not None:
        out.remove(STAGED)
        out.remove(QUARANTINE)
    if qdir is not None:
        for name in TABLES:
            qdir.remove(f"{name}.parquet")


def _check_small_tables(data: dict[str, pa.Table], st: _State,
                        ctx: Context) -> tuple[dict[str, tuple[np.ndarray, list[str]]], Context]:
    """Row rules of every table but weeks; persons first, as the others refer to them."""
    checked: dict[str, tuple[np.ndarray, list[str]]] = {}
    for name in ("persons", "assignments", "caseload", "belief_survey", "bip_responses"):
        if name in data and name not in st.unusable:
            checked[name] = row_reasons(data[name], name, ctx)
            st.count(name, *checked[name])
            if name == "persons":
                ctx = _with_persons(ctx, data["persons"], checked["persons"][0])
    for name, t in data.items():
        if name in ("jobcentres", "dream_codes") and name not in st.unusable:
            st.count(name, np.full(t.num_rows, -1, np.int16), [])
        elif name in st.unusable:
            st.rows_in[name] = t.num_rows
    return checked, ctx


def _check_weeks(root: Path, st: _State, ctx: Context, out: Folder | None,
                 qdir: Folder | None) -> dict[int, int]:
    """Pass 2 over weeks, staging clean rows if nothing is broken so far; clean rows per job centre."""
    if "weeks" not in st.files:
        return {}
    if "weeks" in st.unusable:
        others = [c for c in TABLES["weeks"].column_names if c not in WEEKS_KEY]
        for _ in _weeks_batches(root, st, others):
            pass  # the keys are broken: still report typing problems in the other columns
        return {}
    stage = out is not None and not st.errors
    targets = [(qdir, ())] if qdir is not None else []
    if stage:
        targets.append((out, (QUARANTINE,)))
    return _weeks_rows(root, st, ctx, PartitionedWriter(out) if stage else None,
                       QuarantineSink(targets))


def _write_small_tables(data: dict[str, pa.Table], checked: dict[str, tuple[np.ndarray, list[str]]],
                        out: Folder | None, qdir: Folder | None) -> None:
    """Clean rows to ``out/staged/<table>.parquet``; quarantined rows to the quarantine files."""
    sinks = [(qdir, ())] if qdir is not None else []
    if out is not None:
        sinks.append((out, (QUARANTINE,)))
        for name, t in data.items():
            first = checked.get(name, (np.full(t.num_rows, -1, np.int16), []))[0]
            out.write_table(without_flags(t).filter(pa.array(first < 0)), STAGED, f"{name}.parquet")
    sink = QuarantineSink(sinks)
    try:
        for name, (first, reasons) in checked.items():
            bad = first >= 0
            if bad.any():
                sink.write(name, without_flags(data[name]).filter(pa.array(bad)),
                           pa.array(np.array(reasons, object)[first[bad]], pa.string()))
    finally:
        sink.close()


def _check_shares(st: _State, limit: float, skip: set[str]) -> None:
    """A table with more than ``limit`` of its rows quarantined is broken (table-level).

    Tables in ``skip`` already have a schema-level problem, which their quarantine only echoes.
    """
    for name, reasons in st.quarantined.items():
        if name in skip:
            continue
        n, total = sum(reasons.values()), st.rows_in.get(name, 0)
        if total and n / total > limit:
            top, top_n = max(reasons.items(), key=lambda kv: (kv[1], kv[0]))
            st.errors.add(name, "", RULE_TOO_MANY_BAD_ROWS, n,
                          f"{n / total:.1%} of {total} rows, limit {limit:.1%}; "
                          f"most often {top} ({top_n} rows)")


def _span_text(span: tuple[int, int] | None) -> tuple[str, str] | None:
    if span is None:
        return None
    return tuple(str(np.datetime64(d, "D")) for d in span)  # type: ignore[return-value]
