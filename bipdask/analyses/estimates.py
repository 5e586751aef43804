"""The tidy estimates schema: one row per (analysis, estimand, job centre, period).

Every estimator's ``tidy()`` yields :class:`Estimate` rows; the flows write them as
``runs/<run_id>/results/estimates.parquet`` with :data:`ESTIMATES_SCHEMA`, which DuckDB, Polars,
Spark and pandas read as they are. Shares are fractions (0.172 = 17.2 %), effects on shares are
differences of fractions (0.017 = 1.7 percentage points). Columns, units, analyses and
estimands: ``docs/results.md#the-tidy-estimates``; the replicate files' column names:
:func:`replicate_key`; withheld intervals: ``docs/methods.md#failed-bootstrap-replicates``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field, fields

import numpy as np
import pandas as pd
import pyarrow as pa

from bipdask.inference.pairs import MAX_FAILURE_SHARE, failure_share

ESTIMATES_SCHEMA = pa.schema(
    [
        pa.field("analysis", pa.string(), nullable=False),
        pa.field("estimand", pa.string(), nullable=False),
        pa.field("jobcentre_id", pa.int32(), nullable=True),  # null = all participating job centres
        pa.field("period", pa.string(), nullable=False),
        pa.field("estimate", pa.float64(), nullable=False),
        pa.field("se", pa.float64(), nullable=True),
        pa.field("ci_low", pa.float64(), nullable=True),
        pa.field("ci_high", pa.float64(), nullable=True),
        pa.field("p_value", pa.float64(), nullable=True),
        pa.field("n_persons", pa.int64(), nullable=False),
        pa.field("n_obs", pa.int64(), nullable=False),
        # how se/ci/p were computed: "wild" (wild cluster bootstrap test), "pairs" (pairs cluster
        # bootstrap replicates), "randomization", "placebo" or "analytic" (sandwich covariance)
        pa.field("inference", pa.string(), nullable=True),
        pa.field("cluster_level", pa.string(), nullable=True),  # person, jobcentre, caseworker
        pa.field("n_clusters", pa.int64(), nullable=True),
        pa.field("n_replicates", pa.int64(), nullable=True),  # usable replicates (0 = analytic)
        # share of the drawn bootstrap replicates that failed (could not be fitted); null without
        # replicates. Failures count as extreme in the CI and p-value; above 1 % those are withheld
        pa.field("replicate_failure_share", pa.float64(), nullable=True),
    ]
)


@dataclass(frozen=True)
class Estimate:
    """One row of the tidy estimates table (see :data:`ESTIMATES_SCHEMA`)."""

    analysis: str
    estimand: str
    jobcentre_id: int | None
    period: str
    estimate: float
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    n_persons: int = 0
    n_obs: int = 0
    inference: str | None = None
    cluster_level: str | None = None
    n_clusters: int | None = None
    n_replicates: int | None = None
    replicate_failure_share: float | None = None


COLUMNS = tuple(f.name for f in fields(Estimate))
assert COLUMNS == tuple(ESTIMATES_SCHEMA.names)


CLUSTER_LEVELS = {"person_id": "person", "jobcentre_id": "jobcentre", "caseworker_id": "caseworker"}
INFERENCE_COLUMNS = ("inference", "cluster_level", "n_clusters", "n_replicates", "replicate_failure_share")


def cluster_level(column: str | None) -> str | None:
    """The published name of a cluster column: ``jobcentre_id`` → ``"jobcentre"``."""
    return None if column is None else CLUSTER_LEVELS.get(column, column.removesuffix("_id"))


def describe_inference(rows: pd.DataFrame, replicates: pd.DataFrame | Iterable[pd.DataFrame] | None, *,
                       cluster: str | None) -> pd.DataFrame:
    """Fill the inference columns an analysis left empty.

    ``n_replicates`` is the number of usable (finite) replicates behind a row, read from the
    analysis' replicates file (column :func:`replicate_key`), ``replicate_failure_share`` the
    share of that column's replicates that are not (unless the analysis set them); a row with replicates and no
    ``inference`` of its own is ``"pairs"``, one without is ``"analytic"``; ``cluster_level`` is
    the run's cluster column (``cluster``) unless the analysis set its own (HIR Table 3 clusters
    by caseworker whatever the run says).
    """
    if len(rows) == 0:
        return rows
    out = rows.copy()
    for col in INFERENCE_COLUMNS:
        if col not in out.columns:
            out[col] = None
    keys = [replicate_key(e, j, p) for e, j, p in zip(out["estimand"], out["jobcentre_id"], out["period"])]
    frames = [] if replicates is None else [replicates] if isinstance(replicates, pd.DataFrame) else list(replicates)
    usable: dict[str, int] = {}
    failed: dict[str, float] = {}
    for frame in frames:
        if frame is not None and not frame.empty:
            finite = np.isfinite(frame.drop(columns=["replicate"], errors="ignore").astype(float))
            usable.update(finite.sum().to_dict())
            failed.update((~finite).mean().to_dict())
    n_reps = [int(usable.get(k, 0)) for k in keys]
    given = [None if pd.isna(v) else v for v in out["n_replicates"]]
    out["n_replicates"] = pd.array([n if g is None else int(g) for g, n in zip(given, n_reps)], dtype="Int64")
    out["inference"] = [("pairs" if n else "analytic") if pd.isna(m) else m for m, n in zip(out["inference"], n_reps)]
    own = [None if pd.isna(v) else float(v) for v in out["replicate_failure_share"]]
    out["replicate_failure_share"] = [f if f is not None else failed.get(k) if m == "pairs" else None
                                      for f, k, m in zip(own, keys, out["inference"])]
    level = cluster_level(cluster)
    out["cluster_level"] = [level if pd.isna(c) else c for c in out["cluster_level"]]
    return out


def _none_if_nan(x: float | None) -> float | None:
    """Missing and non-finite values are null: an interval end a wild test could not bound (few
    clusters) is published as null, not as ±inf."""
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def estimates_table(rows: Iterable[Estimate] | pd.DataFrame) -> pa.Table:
    """Rows (or a frame with the tidy columns) → an Arrow table with the schema, sorted.

    Sorting by (analysis, estimand, period, jobcentre_id; the all-job-centres row first) makes
    the file independent of the order the estimates were computed in.
    """
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in COLUMNS if c not in rows.columns and c not in INFERENCE_COLUMNS]
        if missing:
            raise ValueError(f"estimates frame lacks columns {missing}")
        records = [Estimate(**{c: (None if pd.isna(r.get(c)) else r[c]) for c in COLUMNS})
                   for r in rows.to_dict("records")]
    else:
        records = list(rows)
    records.sort(key=lambda r: (r.analysis, r.estimand, r.period,
                                -1 if r.jobcentre_id is None else int(r.jobcentre_id)))
    columns = list(zip(*(astuple(r) for r in records))) if records else [[] for _ in COLUMNS]
    arrays = []
    for column, values in zip(ESTIMATES_SCHEMA, columns):
        if pa.types.is_floating(column.type):
            values = [_none_if_nan(v) for v in values]
        elif pa.types.is_integer(column.type):
            values = [None if v is None else int(v) for v in values]
        arrays.append(pa.array(values, type=column.type))
    return pa.Table.from_arrays(arrays, schema=ESTIMATES_SCHEMA)


def estimates_frame(rows: Iterable[Estimate] | pd.DataFrame) -> pd.DataFrame:
    """The tidy table as pandas (``jobcentre_id`` as nullable ``Int32``)."""
    return estimates_table(rows).to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)


def replicate_key(estimand: str, jobcentre_id: int | None, period: str) -> str:
    """The column name of an estimand in a replicates file: ``estimand|jobcentre|period``."""
    return f"{estimand}|{'all' if jobcentre_id is None or pd.isna(jobcentre_id) else int(jobcentre_id)}|{period}"


def withhold_unstable_intervals(rows: pd.DataFrame, replicates: pd.DataFrame, analysis: str,
                                max_failure_share: float = MAX_FAILURE_SHARE) -> tuple[pd.DataFrame, list[str]]:
    """Blank the SE, CI and p-value of ``analysis`` rows whose bootstrap failed too often.

    A replicate fails when the resampled data cannot be fitted (a resample that leaves a cell
    empty or without events, a caseworker with too few responses, a Cox stratum without
    events). Those are the tail draws, so the survivors' SE and percentile interval would be too
    narrow. Rows whose replicate column has more than ``max_failure_share`` (1 %,
    :data:`bipdask.inference.pairs.MAX_FAILURE_SHARE`) non-finite values keep their estimate and
    lose se/ci_low/ci_high/p_value — the rule :func:`bipdask.inference.pairs.replicate_summary`
    applies to every bootstrap summary, enforced here once more on what the run publishes.
    Rows whose inference is not the pairs bootstrap (wild, placebo, randomization) are left
    alone. Returns the rows and the replicate keys withheld.
    """
    if replicates is None or replicates.empty or len(rows) == 0:
        return rows, []
    reps = replicates.drop(columns=["replicate"], errors="ignore")
    share = pd.Series(failure_share(reps.to_numpy(dtype=float)), index=reps.columns)
    unstable = set(share.index[~(share <= max_failure_share)])
    if not unstable:
        return rows, []
    keys = [replicate_key(e, j, p) for e, j, p in zip(rows["estimand"], rows["jobcentre_id"], rows["period"])]
    method = rows["inference"] if "inference" in rows.columns else pd.Series(None, index=rows.index, dtype=object)
    pairs = (method.isna() | (method == "pairs")).to_numpy()
    hit = (rows["analysis"] == analysis).to_numpy() & pd.Series(keys).isin(unstable).to_numpy() & pairs
    out = rows.copy()
    out.loc[hit, ["se", "ci_low", "ci_high", "p_value"]] = None
    return out, sorted(k for k, h in zip(keys, hit) if h)


@dataclass(frozen=True)
class HazardEstimates:
    """Tidy rows (:data:`bipdask.analyses.estimates.COLUMNS`), bootstrap replicates and notes of one analysis."""

    analysis: str
    rows: pd.DataFrame
    replicates: pd.DataFrame
    notes: dict = field(default_factory=dict)


def _replicates_frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    out = pd.DataFrame({"replicate": np.arange(n, dtype=np.int32)})
    if columns:
        out = pd.concat([out, pd.DataFrame(columns)], axis=1)
    return out


def combine_estimates(analysis: str, *parts: HazardEstimates) -> HazardEstimates:
    """One analysis from several: rows stacked, replicate columns side by side (same B), notes merged."""
    frames = [p.rows for p in parts if len(p.rows)]
    rows = pd.concat(frames, ignore_index=True) if frames else rows_frame([])
    reps = {c: p.replicates[c].to_numpy() for p in parts for c in p.replicates.columns if c != "replicate"}
    n = max((len(p.replicates) for p in parts if p.replicates.shape[1] > 1), default=0)
    return HazardEstimates(analysis, rows, _replicates_frame(reps, n),
                           {k: v for p in parts for k, v in p.notes.items()})


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """Tidy rows (dicts in :data:`COLUMNS`) as a frame with a nullable job-centre id."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"jobcentre_id": "Int32"}) if len(frame) else frame
