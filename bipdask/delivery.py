"""Reading a delivery folder: one table per file (``persons.parquet``) or per folder of parts
(``weeks/part-*.parquet``), Parquet or CSV, plus DREAM's wide layout (see :mod:`bipdask.dream`).

Layout of a delivery (what ``bipdask synth`` writes and what the agency delivers)::

    DIR/persons.parquet  DIR/jobcentres.parquet  DIR/dream_codes.parquet
    DIR/weeks/part-00001.parquet …  (or DIR/weeks.parquet, DIR/weeks.csv, DIR/dream_wide.parquet)
    DIR/assignments.parquet  DIR/caseload.parquet  DIR/belief_survey.parquet
    DIR/bip_responses.parquet
    DIR/truth.json, DIR/_truth/  (synthetic deliveries only: the planted truth)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from bipdask.contract import TABLES
from bipdask.errors import InputError, Problem


def table_files(root: str | Path, name: str) -> list[Path]:
    """The files that make up table ``name`` in the delivery at ``root`` (empty if absent)."""
    root = Path(root)
    for suffix in (".parquet", ".csv"):
        single = root / f"{name}{suffix}"
        if single.is_file():
            return [single]
    folder = root / name
    if folder.is_dir():
        parts = sorted(p for p in folder.rglob("*") if p.suffix in (".parquet", ".csv") and p.is_file())
        return parts
    return []


def table_format(files: list[Path]) -> str:
    """'parquet' or 'csv'; a table mixing both is a broken delivery."""
    kinds = {p.suffix for p in files}
    if len(kinds) > 1:
        raise InputError([Problem(files[0].stem, "", "mixes Parquet and CSV files", 0)])
    return "csv" if kinds == {".csv"} else "parquet"


def dataset(root: str | Path, name: str) -> ds.Dataset:
    """An Arrow dataset over table ``name`` (Parquet or CSV), for streaming reads."""
    files = table_files(root, name)
    if not files:
        raise InputError([Problem(name, "", "table missing from the delivery", 0)])
    fmt = table_format(files)
    return ds.dataset([str(f) for f in files], format=fmt)


def read_table(
    root: str | Path,
    name: str,
    columns: list[str] | None = None,
    filter: ds.Expression | None = None,
) -> pd.DataFrame:
    """Read table ``name`` into pandas, typed by the contract where columns are present."""
    table = dataset(root, name).to_table(columns=columns, filter=filter)
    return to_pandas(table)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with dates as ``datetime64[ns]`` and nullable ints kept as floats-free."""
    df = table.to_pandas(date_as_object=False)
    return df


def has_table(root: str | Path, name: str) -> bool:
    return bool(table_files(root, name))


def present_tables(root: str | Path) -> list[str]:
    return [n for n in TABLES if has_table(root, n)]
