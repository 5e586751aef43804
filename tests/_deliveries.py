"""A tiny, valid delivery built in code, for the validator's tests (owned by test_validate).

Six persons, ten weeks (Mondays from 2018-01-01), two job centres (one serving two
municipalities, like Vallensbæk-Ishøj), every contract table. Person ids are distinctive
eight-digit numbers so tests can assert that none of them leaks into a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bipdask.data.contract import (
    BIP_CASEWORKER_QUESTIONS,
    BIP_CITIZEN_QUESTIONS,
    BIP_S1_BOXES,
    HISTORY_COLUMNS,
    TABLES,
)

PERSON_IDS = [90412001, 90412002, 90412003, 90412004, 90412005, 90412006]
UNKNOWN_PERSON_ID = 90412999
FIRST_MONDAY = dt.date(2018, 1, 1)
N_WEEKS = 10
MONDAYS = [FIRST_MONDAY + dt.timedelta(weeks=i) for i in range(N_WEEKS)]
# person → (job centre, municipality)
HOME = {90412001: (101, 710), 90412002: (101, 710), 90412003: (101, 710),
        90412004: (102, 187), 90412005: (102, 187), 90412006: (102, 183)}
CASEWORKERS = [501, 502, 503]


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Every table of a small delivery that passes validation with zero problems."""
    persons = pd.DataFrame({
        "person_id": PERSON_IDS,
        "sex": ["M", "F", "F", "M", "F", "M"],
        "birth_year": [1970, 1982, 1991, 1965, 1988, 1975],
        "origin": ["danish", "western", "non_western", "danish", "danish", "non_western"],
        "married": [True, False, False, True, False, True],
        "education": ["none", "skilled", None, "higher", "skilled", "none"],
    })
    for i, c in enumerate(HISTORY_COLUMNS):
        persons[c] = [(7 * i + 3 * k) % 100 + (100 if c.endswith("6y") else 0) for k in range(6)]
    rows = []
    for k, pid in enumerate(PERSON_IDS):
        jc, mun = HOME[pid]
        for w, monday in enumerate(MONDAYS):
            rows.append({
                "person_id": pid, "week": monday, "jobcentre_id": jc, "municipality_code": mun,
                "dream_code": None if (k + w) % 7 == 0 else (652 if k == 5 and w >= 5 else 781),
                "lab_type": ["none", "guidance_upskilling", "company_internship", "none",
                             "wage_subsidy", "ordinary_education"][(k + w) % 6],
                "ordinary_hours": 0.0 if w % 3 else 7.5,
                "employed": w % 3 == 0,
                "su": False,
            })
    weeks = pd.DataFrame(rows)
    weeks["dream_code"] = weeks["dream_code"].astype("Int16")
    dream_codes = pd.DataFrame({
        "dream_code": [111, 781, 652, 652, 899],
        "valid_from": [dt.date(2010, 1, 1), dt.date(2013, 1, 1), dt.date(2010, 1, 1),
                       dt.date(2018, 1, 1), dt.date(2010, 1, 1)],
        "valid_to": [None, None, dt.date(2017, 12, 31), None, dt.date(2015, 12, 31)],
        "status": ["cash_benefit", "resource_course", "flex_job", "flex_job", "other"],
    })
    jobcentres = pd.DataFrame({
        "jobcentre_id": [101, 102, 102],
        "name": ["Favrskov", "Vallensbæk-Ishøj", "Vallensbæk-Ishøj"],
        "municipality_code": [710, 187, 183],
    })
    assignments = pd.DataFrame({
        "person_id": PERSON_IDS,
        "caseworker_id": [501, 501, 502, 503, 503, 503],
        "jobcentre_id": [HOME[p][0] for p in PERSON_IDS],
        "start_date": [dt.date(2017, 6, 1)] * 5 + [dt.date(2018, 1, 10)],
        "end_date": [None, dt.date(2018, 2, 14), None, None, None, None],
    })
    caseload = pd.DataFrame([
        {"caseworker_id": cw, "jobcentre_id": 101 if cw != 503 else 102, "week": m,
         "n_cases": 30 + i, "weekly_hours": 37.0 - i}
        for i, cw in enumerate(CASEWORKERS) for m in MONDAYS
    ])
    belief = pd.DataFrame([
        {"caseworker_id": cw, "jobcentre_id": 101 if cw != 503 else 102, "wave": wave,
         "n_caseload": 35, "n_internship_3m": 5 + i, "n_ordinary_hours_1y": 8, "n_job_2y": 3}
        for i, cw in enumerate(CASEWORKERS) for wave in ("pre", "post")
    ])
    bip = pd.DataFrame({
        "response_id": [1, 2, 3, 4, 5, 6],
        "person_id": PERSON_IDS,
        "caseworker_id": [501, 501, 502, 503, 503, 503],
        "jobcentre_id": [HOME[p][0] for p in PERSON_IDS],
        "response_date": [dt.date(2018, 1, 3 + k) for k in range(6)],
    })
    for j, c in enumerate(BIP_CITIZEN_QUESTIONS):
        bip[c] = pd.array([1 + (j + k) % 5 for k in range(6)], dtype="Int8")
    for j, c in enumerate(BIP_S1_BOXES):
        bip[c] = [(j + k) % 4 == 0 for k in range(6)]
    for j, c in enumerate(BIP_CASEWORKER_QUESTIONS):
        bip[c] = pd.array([None if k == j % 6 else 1 + (2 * j + k) % 5 for k in range(6)], dtype="Int8")
    return {"persons": persons, "weeks": weeks, "dream_codes": dream_codes, "jobcentres": jobcentres,
            "assignments": assignments, "caseload": caseload, "belief_survey": belief,
            "bip_responses": bip}


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """``df`` as Arrow, each contract column in its contract type where it casts safely."""
    t = pa.Table.from_pandas(df, preserve_index=False)
    for i, field in enumerate(t.schema):
        if name in TABLES and field.name in TABLES[name].column_names:
            target = TABLES[name].column(field.name).type
            try:
                t = t.set_column(i, field.name, t.column(i).cast(target))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass  # a test planted a value of another type: keep it as it is
    return t


def write_delivery(tables: dict[str, pd.DataFrame], folder: Path, fmt: str = "parquet") -> Path:
    """Write ``tables`` as a delivery; weeks as two part files split by job centre."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if name == "weeks":
            (folder / "weeks").mkdir(exist_ok=True)
            first = df["jobcentre_id"].astype(str) == "101"
            for i, part in enumerate((df[first], df[~first]), start=1):
                _write(name, part, folder / "weeks" / f"part-{i:05d}.{fmt}", fmt)
        else:
            _write(name, df, folder / f"{name}.{fmt}", fmt)
    return folder


def _write(name: str, df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        pq.write_table(to_arrow(name, df), path)


SMALL_B = 20


def write_spec(path: Path, bootstrap: int = SMALL_B, *, inference: str | None = None,
               cluster: str | None = None, treated: Sequence[str] | None = None) -> Path:
    """The built-in HIR spec with a small B (fast bootstrap in tests), optionally another
    inference method and cluster level."""
    import re
    from importlib import resources

    text = resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^bootstrap_replicates = \d+", f"bootstrap_replicates = {bootstrap}", text)
    assert f"bootstrap_replicates = {bootstrap}" in text
    if inference is not None:
        text = re.sub(r'(?m)^inference = "\w+"', f'inference = "{inference}"', text)
    if cluster is not None:
        text = re.sub(r'(?m)^cluster = "\w+"', f'cluster = "{cluster}"', text)
    if treated is not None:  # the tiny deliveries have only some of the 15 participating job centres
        names = ", ".join(f'"{n}"' for n in treated)
        text = re.sub(r"(?ms)^treated_jobcentres = \[.*?\]", f"treated_jobcentres = [{names}]", text)
        assert f"treated_jobcentres = [{names}]" in text
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the flow tests' tiny delivery

JOBCENTRES = pd.DataFrame({
    "jobcentre_id": [1, 2, 3, 4, 5],
    "name": ["Favrskov", "Vallensbæk-Ishøj", "Vallensbæk-Ishøj", "Aarhus", "Odense"],
    "municipality_code": [710, 187, 183, 751, 461],
})
JOBCENTRES.loc[2, "jobcentre_id"] = 2  # Vallensbæk and Ishøj share one job centre
TREATED = {1, 2}
TINY_TREATED = ("Favrskov", "Vallensbæk-Ishøj")  # the treated names of the tiny flow delivery
RC_CODE, CASH_CODE = 781, 111
PLANTED_EFFECT = 0.12


def _cast(df: pd.DataFrame, name: str) -> pa.Table:
    return pa.Table.from_pandas(df[list(TABLES[name].column_names)], schema=TABLES[name].schema(),
                                preserve_index=False)


def write_tiny_delivery(root: Path, n_persons: int = 240, seed: int = 5, effect: float = PLANTED_EFFECT) -> Path:
    """A valid contract-v1 delivery: 4 job centres (2 in the HIR spec), weeks Mar 2017–Mar 2019.

    Outcome probability 0.15 + 0.03·D + 0.02·E + effect·D·E per resource-course week; one week
    in ten has a cash-benefit code (not a resource-course week).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    root.mkdir(parents=True, exist_ok=True)
    pids = np.arange(1, n_persons + 1, dtype="int64") * 13 + 100_000
    persons = pd.DataFrame({
        "person_id": pids,
        "sex": rng.choice(["M", "F"], n_persons),
        "birth_year": rng.integers(1960, 1995, n_persons).astype("int16"),
        "origin": rng.choice(["danish", "western", "non_western"], n_persons),
        "married": rng.random(n_persons) < 0.4,
        "education": rng.choice(["none", "skilled", "higher"], n_persons),
    })
    for c in TABLES["persons"].column_names[6::2]:
        persons[c] = rng.integers(0, 100, n_persons).astype("int16")
        persons[c.replace("3y", "6y")] = persons[c] + rng.integers(0, 100, n_persons).astype("int16")
    pq.write_table(_cast(persons, "persons"), root / "persons.parquet")
    pq.write_table(_cast(JOBCENTRES, "jobcentres"), root / "jobcentres.parquet")
    codes = pd.DataFrame({"dream_code": [RC_CODE, CASH_CODE], "valid_from": [dt.date(2010, 1, 1)] * 2,
                          "valid_to": [None, None], "status": ["resource_course", "cash_benefit"]})
    pq.write_table(_cast(codes, "dream_codes"), root / "dream_codes.parquet")

    mondays = pd.date_range("2017-03-06", "2019-03-25", freq="7D")
    jc_rows = JOBCENTRES.drop_duplicates("jobcentre_id").reset_index(drop=True)
    home = rng.integers(0, len(jc_rows), n_persons)
    n = n_persons * len(mondays)
    pid = np.repeat(pids, len(mondays))
    week = np.tile(mondays.values, n_persons)
    jc = np.repeat(jc_rows["jobcentre_id"].to_numpy(), 1)[np.repeat(home, len(mondays))]
    muni = jc_rows["municipality_code"].to_numpy()[np.repeat(home, len(mondays))]
    d = np.isin(jc, list(TREATED)).astype(float)
    e = (week >= np.datetime64("2018-03-01")).astype(float)
    p = 0.15 + 0.03 * d + 0.02 * e + effect * d * e
    yes = rng.random(n) < p
    internship = yes & (rng.random(n) < 0.5)
    weeks = pd.DataFrame({
        "person_id": pid, "week": week, "jobcentre_id": jc.astype("int32"), "municipality_code": muni.astype("int32"),
        "dream_code": np.where(rng.random(n) < 0.1, CASH_CODE, RC_CODE).astype("int16"),
        "lab_type": np.where(internship, "company_internship",
                             np.where(rng.random(n) < 0.3, "guidance_upskilling", "none")),
        "ordinary_hours": np.where(yes & ~internship, rng.integers(1, 20, n), 0).astype(float),
        "employed": False, "su": False,
    })
    weeks["week"] = weeks["week"].dt.date
    (root / "weeks").mkdir(exist_ok=True)
    half = len(weeks) // 2
    pq.write_table(_cast(weeks.iloc[:half], "weeks"), root / "weeks" / "part-00001.parquet")
    pq.write_table(_cast(weeks.iloc[half:], "weeks"), root / "weeks" / "part-00002.parquet")
    return root
