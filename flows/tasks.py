"""Thin Prefect tasks (verb_noun) over :mod:`bipdask`: they pass job centre ids and URLs,
never DataFrames, and turn any unexpected failure into a message without data values.

Each task body is a module-level ``*_impl`` function (pure bipdask calls plus storage I/O), so
it can be tested and run without Prefect.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from bipdask import storage
from bipdask.errors import BipdaskError, InfrastructureError
from bipdask.linear import share_did_table
from bipdask.outcomes import share_cell_sums
from bipdask.results import Estimate, estimates_table
from bipdask.spec import Period
from bipdask.validate import validate_delivery

WEEKS_COLUMNS = ["person_id", "week", "dream_code", "lab_type", "ordinary_hours"]
ESTIMATES_FILE = "estimates.parquet"


def _sanitized(name: str) -> Callable:
    """Re-raise non-bipdask exceptions as InfrastructureError naming only the task and type.

    pandas/pyarrow messages can quote cell values (a person id); ours never do.
    """

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BipdaskError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise InfrastructureError(f"{name} failed ({type(exc).__name__})") from None

        return inner

    return wrap


# --------------------------------------------------------------------------- validate and stage


def validate_and_stage_impl(input_dir: str, run_url: str) -> dict[str, Any]:
    """Validate the delivery and write the run's staged layer; the report as a dict."""
    t0 = time.perf_counter()
    report = validate_delivery(input_dir, out_url=run_url, storage_options=storage.storage_options(run_url))
    out = report.to_dict()
    out["staged_url"] = storage.join(run_url, "staged")
    out["seconds"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- per job centre


def staged_weeks_files(staged_url: str, jobcentre_id: int) -> list[str]:
    """The part files of one job centre in the staged weeks (hive: ``jobcentre_id=<id>``)."""
    return storage.list_files(storage.join(staged_url, "weeks", f"jobcentre_id={int(jobcentre_id)}"), ".parquet")


def read_staged_weeks(staged_url: str, jobcentre_id: int, columns: Sequence[str] = WEEKS_COLUMNS) -> pd.DataFrame:
    """One job centre's staged weeks, with ``jobcentre_id`` restored from the partition path."""
    files = staged_weeks_files(staged_url, jobcentre_id)
    if not files:
        return pd.DataFrame({c: [] for c in [*columns, "jobcentre_id"]})
    fs, path = storage.filesystem(files[0])
    names = pq.read_schema(path, filesystem=fs).names
    wanted = [c for c in columns if c in names]
    weeks = storage.read_parquet(files, columns=wanted)
    weeks["jobcentre_id"] = int(jobcentre_id)
    return weeks


def _windows(raw: dict[str, tuple[str, str]]) -> dict[str, Period]:
    return {k: Period(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for k, (a, b) in raw.items()}


def compute_cell_sums_impl(
    jobcentre_ids: Sequence[int],
    staged_url: str,
    out_url: str,
    treated_ids: Sequence[int],
    windows: dict[str, tuple[str, str]],
) -> dict[str, Any]:
    """Per-job-centre Table 6 sufficient statistics for a batch of job centres → one Parquet file."""
    t0 = time.perf_counter()
    dream_codes = storage.read_parquet(storage.join(staged_url, "dream_codes.parquet"))
    periods = _windows(windows)
    frames = []
    n_weeks = 0
    for jc in sorted(int(j) for j in jobcentre_ids):
        weeks = read_staged_weeks(staged_url, jc)
        n_weeks += len(weeks)
        if len(weeks):
            frames.append(share_cell_sums(weeks, dream_codes, treated_ids, periods))
    cells = pd.concat(frames, ignore_index=True) if frames else share_cell_sums(
        pd.DataFrame({c: [] for c in [*WEEKS_COLUMNS, "jobcentre_id"]}), dream_codes, treated_ids, periods)
    storage.write_parquet(cells, out_url)
    return {"url": out_url, "jobcentres": len(jobcentre_ids), "weeks_rows": n_weeks,
            "cell_rows": len(cells), "seconds": time.perf_counter() - t0}


# --------------------------------------------------------------------------- reduce and write


def estimate_share_did_impl(
    cell_urls: Sequence[str],
    treated_ids: Sequence[int],
    windows: Sequence[str],
    min_persons: int = 0,
) -> list[dict[str, Any]]:
    """Reduce: concatenate the batches' cell sums, fit Table 6; rows as plain dicts."""
    cells = storage.read_parquet(list(cell_urls))
    rows = share_did_table(cells, treated_ids=treated_ids, before=windows[0], after=windows[1:],
                           min_persons=min_persons)
    return [dataclasses.asdict(r) for r in rows]


def write_results_impl(rows: Sequence[dict[str, Any]], results_url: str) -> str:
    """The tidy estimates to ``results/estimates.parquet`` (atomic); returns its URL."""
    url = storage.join(results_url, ESTIMATES_FILE)
    storage.write_parquet(estimates_table([Estimate(**r) for r in rows]), url)
    return url


def commit_run_impl(root: str, run_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest (last) and the latest pointer."""
    committed = storage.commit(storage.RunLayout(root, run_id), manifest)
    return committed.manifest


# --------------------------------------------------------------------------- Prefect tasks

_TASK = dict(cache_policy=NO_CACHE, retries=0, log_prints=False)

validate_and_stage = task(name="validate_and_stage", **_TASK)(
    _sanitized("validate_and_stage")(validate_and_stage_impl))
compute_cell_sums = task(name="compute_cell_sums", **_TASK)(
    _sanitized("compute_cell_sums")(compute_cell_sums_impl))
estimate_share_did = task(name="estimate_share_did", **_TASK)(
    _sanitized("estimate_share_did")(estimate_share_did_impl))
write_results = task(name="write_results", **_TASK)(_sanitized("write_results")(write_results_impl))
commit_run = task(name="commit_run", **_TASK)(_sanitized("commit_run")(commit_run_impl))
