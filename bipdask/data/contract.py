"""The data contract v1: every input table, its columns, Arrow types, keys and code lists.

One place for the schemas; ``docs/data-contract.md`` explains each column with
its unit and the Danish register term. Readers, the validator, the synthetic generator and the
flows all take table and column names from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

CONTRACT_VERSION = "1"

SEX = ("M", "F")
ORIGIN = ("danish", "western", "non_western")
EDUCATION = ("none", "skilled", "higher")
LAB_TYPES = (
    "none",
    "guidance_upskilling",
    "ordinary_education",
    "wage_subsidy",
    "company_internship",
)
DREAM_STATUSES = (
    "resource_course",
    "cash_benefit",
    "sickness",
    "flex_job",
    "ledighedsydelse",
    "disability_pension",
    "su",
    "other",
)
BELIEF_WAVES = ("pre", "post")
HISTORY_COLUMNS = tuple(
    f"{kind}_weeks_{span}"
    for kind in ("emp", "cash", "selfsupp", "su", "sick", "rf")
    for span in ("3y", "6y")
)
BIP_CITIZEN_QUESTIONS = tuple(f"b{i}" for i in range(1, 12))
BIP_S1_BOXES = tuple(f"s1_{i}" for i in range(1, 24))
BIP_CASEWORKER_QUESTIONS = tuple(f"s{i}" for i in range(2, 13))
ANSWER_RANGE = (1, 5)

PERSON_ID = pa.int64()
CASEWORKER_ID = pa.int64()
JOBCENTRE_ID = pa.int32()
MUNICIPALITY_CODE = pa.int32()
DREAM_CODE = pa.int16()
DATE = pa.date32()


@dataclass(frozen=True)
class Column:
    """One column of the contract: name, Arrow type, nullability and allowed values."""

    name: str
    type: pa.DataType
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    unit: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """One input table: its columns, its key (unique per row) and its foreign references."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[tuple[str, str, str], ...] = field(default=())  # (column, table, column)
    required: bool = True
    doc: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])


def _answers(names: tuple[str, ...], doc: str) -> tuple[Column, ...]:
    return tuple(Column(n, pa.int8(), nullable=True, unit="1-5", doc=doc) for n in names)


PERSONS = Table(
    "persons",
    (
        Column("person_id", PERSON_ID, doc="pseudonymised person id"),
        Column("sex", pa.string(), allowed=SEX),
        Column("birth_year", pa.int16(), unit="year"),
        Column("origin", pa.string(), allowed=ORIGIN),
        Column("married", pa.bool_(), doc="married or registered partnership"),
        Column("education", pa.string(), nullable=True, allowed=EDUCATION),
        *(Column(c, pa.int16(), unit="weeks") for c in HISTORY_COLUMNS),
    ),
    key=("person_id",),
    doc="one row per person (BEF/DREAM background)",
)

WEEKS = Table(
    "weeks",
    (
        Column("person_id", PERSON_ID),
        Column("week", DATE, doc="Monday of the ISO week"),
        Column("jobcentre_id", JOBCENTRE_ID),
        Column("municipality_code", MUNICIPALITY_CODE),
        Column("dream_code", DREAM_CODE, nullable=True, doc="3-digit DREAM code; null = no benefit"),
        Column("lab_type", pa.string(), allowed=LAB_TYPES, doc="LAB intervention that week"),
        Column("ordinary_hours", pa.float64(), unit="hours/week", doc="paid ordinary hours (eIndkomst)"),
        Column("employed", pa.bool_()),
        Column("su", pa.bool_(), doc="in SU-funded education"),
    ),
    key=("person_id", "week"),
    references=(("person_id", "persons", "person_id"), ("jobcentre_id", "jobcentres", "jobcentre_id")),
    doc="the weekly person panel (DREAM + eIndkomst)",
)

DREAM_CODES = Table(
    "dream_codes",
    (
        Column("dream_code", DREAM_CODE),
        Column("valid_from", DATE),
        Column("valid_to", DATE, nullable=True, doc="null = still valid"),
        Column("status", pa.string(), allowed=DREAM_STATUSES),
    ),
    key=("dream_code", "valid_from"),
    doc="the versioned DREAM code list",
)

JOBCENTRES = Table(
    "jobcentres",
    (
        Column("jobcentre_id", JOBCENTRE_ID),
        Column("name", pa.string(), doc="job centre name (Vallensbæk-Ishøj is one job centre)"),
        Column("municipality_code", MUNICIPALITY_CODE),
    ),
    key=("municipality_code",),
    doc="one row per municipality",
)

ASSIGNMENTS = Table(
    "assignments",
    (
        Column("person_id", PERSON_ID),
        Column("caseworker_id", CASEWORKER_ID),
        Column("jobcentre_id", JOBCENTRE_ID),
        Column("start_date", DATE),
        Column("end_date", DATE, nullable=True, doc="null = open-ended (Boks 1, rule 1)"),
    ),
    key=("person_id", "caseworker_id", "start_date"),
    references=(("person_id", "persons", "person_id"), ("jobcentre_id", "jobcentres", "jobcentre_id")),
    required=False,
    doc="person → coordinating caseworker (sagsbehandler) periods",
)

CASELOAD = Table(
    "caseload",
    (
        Column("caseworker_id", CASEWORKER_ID),
        Column("jobcentre_id", JOBCENTRE_ID),
        Column("week", DATE),
        Column("n_cases", pa.int32(), unit="cases"),
        Column("weekly_hours", pa.float64(), unit="hours/week"),
    ),
    key=("caseworker_id", "week"),
    references=(("jobcentre_id", "jobcentres", "jobcentre_id"),),
    required=False,
    doc="caseworker × week cases and working hours (Epinion/Sharepoint)",
)

BELIEF_SURVEY = Table(
    "belief_survey",
    (
        Column("caseworker_id", CASEWORKER_ID),
        Column("jobcentre_id", JOBCENTRE_ID),
        Column("wave", pa.string(), allowed=BELIEF_WAVES),
        Column("n_caseload", pa.int32(), unit="persons"),
        Column("n_internship_3m", pa.int32(), unit="persons"),
        Column("n_ordinary_hours_1y", pa.int32(), unit="persons"),
        Column("n_job_2y", pa.int32(), unit="persons"),
    ),
    key=("caseworker_id", "wave"),
    references=(("jobcentre_id", "jobcentres", "jobcentre_id"),),
    required=False,
    doc="caseworker belief in the citizen (tro på borgeren), before and after",
)

BIP_RESPONSES = Table(
    "bip_responses",
    (
        Column("response_id", pa.int64()),
        Column("person_id", PERSON_ID),
        Column("caseworker_id", CASEWORKER_ID),
        Column("jobcentre_id", JOBCENTRE_ID),
        Column("response_date", DATE),
        *_answers(BIP_CITIZEN_QUESTIONS, "citizen question"),
        *(Column(n, pa.bool_(), doc="S1 activity box") for n in BIP_S1_BOXES),
        *_answers(BIP_CASEWORKER_QUESTIONS, "caseworker question"),
    ),
    key=("response_id",),
    references=(("person_id", "persons", "person_id"), ("jobcentre_id", "jobcentres", "jobcentre_id")),
    required=False,
    doc="BIP survey responses (citizen B1–B11, caseworker S1–S12)",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (PERSONS, WEEKS, DREAM_CODES, JOBCENTRES, ASSIGNMENTS, CASELOAD, BELIEF_SURVEY, BIP_RESPONSES)
}

# BIP activity groups of question S1 (BIP report Tabel A1; progression report Tabel 2).
S1_GROUPS: dict[str, tuple[int, ...]] = {
    "J": (3, 5, 7, 12, 13, 14, 17, 19, 20),
    "O": (1, 2, 18, 21),
    "S": (4, 6, 8, 15),
    "H": (9, 10, 11, 16),
}
S1_NONE_BOX = 22
S1_DONT_KNOW_BOX = 23

FTE_HOURS_PER_WEEK = 37.0
