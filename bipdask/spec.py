"""Evaluation specs: what is compared, over which periods, with which inference settings.

A spec is a small TOML file (HIR ships built in as ``bipdask/specs/hir.toml``); an analyst
writes a new one for the next programme without touching code.

Every key a spec may hold is declared once, on its :class:`EvaluationSpec` field, with
:func:`key`: the TOML name, the kind of value, a constraint and the default. :func:`parse_spec`
checks a whole spec against that table before any work is done and reports every problem at
once (one line each, exit 2): unknown keys (with the nearest known key), wrong types, values out
of range, a disclosure threshold below the floor. The keys are listed in ``docs/spec.md``.
Adding a key is one line: a field with ``= key(default, check=..., doc=...)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bipdask.data.validate.coverage import MAX_PERSONS_WITHOUT_WEEKS, MAX_ROW_DROP
from bipdask.errors import InputError, Problem
from bipdask.inference.config import METHODS, SCHEMES, Inference

DISCLOSURE_FLOOR = 5
"""The least ``disclosure_min_persons`` any spec may set: Danmarks Statistik's rule for register
data (no published cell rests on fewer than 5 persons; ``docs/methods.md#disclosure-control``).
A deployment may raise it with ``BIPDASK_DISCLOSURE_FLOOR``, never lower it."""
FLOOR_VARIABLE = "BIPDASK_DISCLOSURE_FLOOR"
MAX_SEED = 2**63 - 1
MAX_REPLICATES = 9999


def disclosure_floor() -> int:
    """The disclosure floor in force: :data:`DISCLOSURE_FLOOR`, or ``$BIPDASK_DISCLOSURE_FLOOR``
    when that is higher. A value below 5 or not a whole number is an :class:`InputError`."""
    text = os.environ.get(FLOOR_VARIABLE, "").strip()
    if not text:
        return DISCLOSURE_FLOOR
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < DISCLOSURE_FLOOR:
        raise InputError([Problem("environment", FLOOR_VARIABLE, f"must be a whole number >= {DISCLOSURE_FLOOR} "
                                  "(the floor can only be raised)", None)])
    return value


# --------------------------------------------------------------------------- the key table

Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class SpecKey:
    """One spec key: its dotted TOML name, the kind of value, a constraint, and whether it must be given.

    ``kind``: ``str``, ``int`` (whole number), ``number`` (int or float, finite), ``bool``,
    ``names`` (a non-empty list of non-empty strings → tuple), ``dates`` (``[start, end]`` ISO
    dates → :class:`Period`), ``pair`` (``[low, high]`` numbers, low < high → tuple).
    ``choices``: the allowed strings. ``check``: value → problem text or ``None``.
    """

    toml: str
    kind: str
    doc: str = ""
    choices: tuple[str, ...] = ()
    check: Check | None = None
    required: bool = False


_KINDS_OF_DEFAULTS = {bool: "bool", int: "int", float: "number", str: "str"}


def key(default: Any = dataclasses.MISSING, *, toml: str | None = None, kind: str | None = None, doc: str = "",
        choices: tuple[str, ...] = (), check: Check | None = None) -> Any:
    """A spec field: ``default`` (none: the key is required), its TOML name (``toml``, default the
    field name; ``"periods.before"`` for a key in a table), ``kind`` (default: from the default's
    type), the allowed ``choices``, a ``check`` and a one-line ``doc``."""
    if kind is None:
        kind = "choice" if choices else _KINDS_OF_DEFAULTS[type(default)]
    meta = {"spec": SpecKey(toml or "", kind, doc, tuple(choices), check, default is dataclasses.MISSING)}
    return dataclasses.field(default=default, metadata=meta)


def between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be within {low}..{high}"


def above(low: float) -> Check:
    return lambda v: None if v > low else f"must be > {low}"


def _min_persons(value: int) -> str | None:
    floor = disclosure_floor()
    if value < floor:
        return (f"must be >= {floor}, the disclosure floor (no published cell may rest on fewer persons; "
                "a spec can only raise it)")
    return None


def _trim(pair: tuple[float, float]) -> str | None:
    return None if pair[0] >= 0 else "the lower bound must be >= 0"


@dataclass(frozen=True)
class Period:
    """A closed date interval [start, end]; weeks belong to it by their Monday."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError([Problem("spec", "periods", "period end before start", None)])


def last_months_of(end: dt.date, months: int) -> Period:
    """The last ``months`` calendar months of a period ending on ``end`` ("de sidste tre
    måneder" of the intervention period): from the first day of the earliest month to ``end``."""
    month = end.month - months + 1
    year = end.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return Period(dt.date(year, month, 1), end)


@dataclass(frozen=True)
class EvaluationSpec:
    """A frozen evaluation spec: treated job centres, periods, inference and disclosure settings
    (``docs/spec.md``, ``docs/methods.md#conventions``). Each field is one spec key (:func:`key`)."""

    name: str = key(kind="str", doc="short name of the evaluation (e.g. hir)")
    treated_jobcentres: tuple[str, ...] = key(kind="names", doc="the participating job centres (D = 1), by name")
    before: Period = key(toml="periods.before", kind="dates", doc="the before period [start, end]")
    intervention: Period = key(toml="periods.intervention", kind="dates", doc="the intervention period [start, end]")
    last_months: int = key(3, toml="periods.last_months", check=between(1, 120),
                           doc="the last months of the intervention period compared separately")
    caseload_baseline: Period | None = key(None, toml="periods.caseload_baseline", kind="dates",
                                           doc="weeks whose caseload is the job centre's baseline (optional)")
    cluster: str = key("jobcentre", choices=("jobcentre", "person"), doc="the bootstrap's cluster level")
    inference_method: str = key("wild", toml="inference", choices=METHODS, doc="how SEs, CIs and p-values are computed")
    bootstrap_replicates: int = key(999, check=between(0, MAX_REPLICATES), doc="bootstrap replicates B")
    bootstrap_scheme: str = key("multinomial", choices=SCHEMES, doc="pairs bootstrap weights")
    seed: int = key(0, check=between(0, MAX_SEED), doc="the bootstrap seed (--seed overrides it)")
    disclosure_min_persons: int = key(DISCLOSURE_FLOOR, check=_min_persons,
                                      doc="N: no published cell rests on fewer persons (>= the floor, 5)")
    match_rate_floor: float = key(0.90, check=between(0.0, 1.0),
                                  doc="least share of person-weeks linked to a caseworker for Tables 9-10")
    fte_hours_per_week: float = key(37.0, toml="caseload.fte_hours_per_week", check=between(1.0, 168.0),
                                    doc="hours of one full-time caseworker")
    caseload_trim: tuple[float, float] = key((13.0, 50.0), toml="caseload.trim", kind="pair", check=_trim,
                                             doc="[low, high] caseloads outside which person-weeks are trimmed")
    caseload_plausible: tuple[float, float] = key(
        (5.0, 90.0), toml="caseload.plausible", kind="pair", check=_trim,
        doc="[low, high] FTE caseloads the first-stage caseload table keeps (wider than the trim: real "
            "job-centre means reach 57; typing errors such as 1 and 140 fall out)")
    coverage_max_persons_without_weeks: float = key(
        MAX_PERSONS_WITHOUT_WEEKS, toml="coverage.max_persons_without_weeks", check=between(0.0, 1.0),
        doc="largest share of the persons table with no weeks row before the run stops")
    coverage_max_row_drop: float = key(
        MAX_ROW_DROP, toml="coverage.max_row_drop", check=between(0.0, 1.0),
        doc="largest fall of a job centre-month's weeks rows per week (against the month before "
            "and the previous delivery) before the run stops")
    title: str = key("", doc="the report's title")
    bip_top_quartile: str = key("eb", toml="bip.top_quartile", choices=("eb", "split", "raw"),
                                doc="BIP Tabel 1: how the top-quartile mean of caseworker effects is estimated")
    bip_count_caseworker: str = key("citizens", toml="bip.count_caseworker", choices=("citizens", "responses"),
                                    doc="BIP sample: what the >= 10 rule counts per caseworker")

    def inference(self, seed: int | None = None) -> Inference:
        """The run's one :class:`~bipdask.inference.config.Inference` record: the spec's bootstrap
        replicates and scheme, its cluster level as a column, and ``seed`` (the run's seed; the
        spec's when ``None``)."""
        return Inference(replicates=0 if self.inference_method == "analytic" else self.bootstrap_replicates,
                         seed=self.seed if seed is None else int(seed), scheme=self.bootstrap_scheme,
                         cluster="jobcentre_id" if self.cluster == "jobcentre" else "person_id",
                         method=self.inference_method)

    def coverage_limits(self) -> dict[str, float]:
        """The ``[coverage]`` thresholds as :func:`bipdask.data.validate.validate_delivery` takes them."""
        return {"max_persons_without_weeks": self.coverage_max_persons_without_weeks,
                "max_row_drop": self.coverage_max_row_drop}

    @property
    def last_months_period(self) -> Period:
        """The last ``last_months`` calendar months of the intervention period."""
        return last_months_of(self.intervention.end, self.last_months)

    def to_toml(self) -> dict[str, Any]:
        """The spec as the TOML mapping :func:`parse_spec` reads (dates ISO, tables nested):
        ``parse_spec(spec.to_toml()) == spec``."""
        out: dict[str, Any] = {}
        for f, sk in spec_keys():
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Period):
                value = [value.start.isoformat(), value.end.isoformat()]
            elif isinstance(value, tuple):
                value = list(value)
            table, _, leaf = sk.toml.rpartition(".")
            (out.setdefault(table, {}) if table else out)[leaf] = value
        return out


def spec_keys() -> list[tuple[dataclasses.Field, SpecKey]]:
    """(field, key) of every spec key, in declaration order."""
    out = []
    for f in dataclasses.fields(EvaluationSpec):
        sk = f.metadata["spec"]
        out.append((f, dataclasses.replace(sk, toml=sk.toml or f.name)))
    return out


# --------------------------------------------------------------------------- checking values


def _shown(value: Any) -> str:
    kind = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list",
            dict: "a table", dt.date: "a date", dt.datetime: "a date-time"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v
    if isinstance(v, str):
        return dt.date.fromisoformat(v)
    raise ValueError(_shown(v))


def convert(sk: SpecKey, value: Any) -> tuple[Any, str | None]:
    """(the field value, ``None``) for a valid TOML value of key ``sk``; (``None``, what is wrong) otherwise."""
    kind = sk.kind
    if kind in ("str", "choice"):
        if not isinstance(value, str):
            return None, f"must be a string, got {_shown(value)}"
        if kind == "choice" and value not in sk.choices:
            near = difflib.get_close_matches(value, sk.choices, n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            return None, f"must be one of {', '.join(sk.choices)}, got {value!r}{hint}"
        if kind == "str" and sk.required and not value.strip():
            return None, "must not be empty"
        return value, None
    if kind == "int":
        if not _is_int(value):
            return None, f"must be a whole number, got {_shown(value)}"
        return value, None
    if kind == "number":
        if not _is_number(value):
            return None, f"must be a {'finite ' if isinstance(value, float) else ''}number, got {_shown(value)}"
        return float(value), None
    if kind == "bool":
        if not isinstance(value, bool):
            return None, f"must be true or false, got {_shown(value)}"
        return value, None
    if kind == "names":
        example = '(e.g. ["Favrskov", "Faxe"])'
        if isinstance(value, str):
            return None, (f"must be a list of job centre names, got a single string {value!r}; "
                          f"write [{value!r}] for one job centre").replace("'", '"')
        if not isinstance(value, list) or not value:
            return None, f"must be a non-empty list of job centre names {example}, got {_shown(value)}"
        bad = [i for i, n in enumerate(value) if not isinstance(n, str) or not n.strip()]
        if bad:
            return None, (f"every job centre name must be a non-empty string; "
                          f"item {bad[0] + 1} is {_shown(value[bad[0]])}")
        return tuple(value), None
    if kind == "dates":
        if not isinstance(value, list) or len(value) != 2:
            return None, f'must be [start, end] ISO dates (e.g. ["2018-03-01", "2019-03-31"]), got {_shown(value)}'
        try:
            start, end = _date(value[0]), _date(value[1])
        except ValueError:
            return None, f'must be [start, end] ISO dates (e.g. ["2018-03-01", "2019-03-31"]), got {_shown(value)}'
        if end < start:
            return None, f"ends ({end}) before it starts ({start})"
        return Period(start, end), None
    if kind == "pair":
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
            return None, f"must be [low, high], two numbers, got {_shown(value)}"
        low, high = float(value[0]), float(value[1])
        if not low < high:
            return None, f"must be [low, high] with low < high, got [{value[0]}, {value[1]}]"
        return (low, high), None
    raise AssertionError(f"unknown spec key kind {kind!r}")  # pragma: no cover - a declaration error


# --------------------------------------------------------------------------- parsing


def _flatten(raw: dict, tables: set[str], prefix: str = "") -> dict[str, Any]:
    """TOML mapping → dotted key → value, descending into the known tables only."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name in tables:
            out.update(_flatten(v, tables, f"{name}."))
        else:
            out[name] = v
    return out


def _nearest(name: str, known: list[str]) -> str | None:
    """The known key nearest to ``name``: by the whole dotted name or by its last part."""
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if near:
        return near[0]
    by_leaf = {k.rpartition(".")[2]: k for k in known}
    near = difflib.get_close_matches(name.rpartition(".")[2], list(by_leaf), n=1, cutoff=0.6)
    return by_leaf[near[0]] if near else None


def check_spec(raw: Any) -> tuple[dict[str, Any], list[Problem]]:
    """Check a parsed TOML mapping against the key table: (field → value, every problem found)."""
    if not isinstance(raw, dict):
        return {}, [Problem("spec", "", "must be a TOML table of keys", None)]
    keys = spec_keys()
    tables = {sk.toml.rpartition(".")[0] for _, sk in keys} - {""}
    known = [sk.toml for _, sk in keys]
    problems: list[Problem] = []
    for table in sorted(tables):
        if table in raw and not isinstance(raw[table], dict):
            problems.append(Problem("spec", table, f"must be a table ([{table}]), got {_shown(raw[table])}", None))
    flat = _flatten(raw, tables)
    for name in flat:
        if name not in known and name not in tables:
            near = _nearest(name, known)
            problems.append(Problem("spec", name, "unknown key", None,
                                    f"did you mean {near!r}?" if near else "known keys: " + ", ".join(known)))
    values: dict[str, Any] = {}
    for f, sk in keys:
        if sk.toml not in flat:
            if sk.required and sk.toml.rpartition(".")[0] not in {p.column for p in problems}:
                problems.append(Problem("spec", sk.toml, "required key missing", None, sk.doc))
            continue
        value, wrong = convert(sk, flat[sk.toml])
        if wrong is None and sk.check is not None:
            wrong = sk.check(value)
        if wrong is not None:
            problems.append(Problem("spec", sk.toml, wrong, None))
        else:
            values[f.name] = value
    return values, problems


def parse_spec(raw: Any) -> EvaluationSpec:
    """Build a spec from the parsed TOML mapping; every problem at once as an :class:`InputError`
    (exit 2), one line each, before any work is done."""
    values, problems = check_spec(raw)
    if problems:
        raise InputError(problems)
    return EvaluationSpec(**values)


def with_replicates(spec: EvaluationSpec, replicates: int | None) -> EvaluationSpec:
    """``spec`` with ``bootstrap_replicates`` replaced (``None``: unchanged), checked by the key's
    own rule, so a quick look (``bipdask run --bootstrap 49``) is an ordinary spec: it enters the
    run key and the manifest like any other value."""
    if replicates is None:
        return spec
    field = {f.name: (f, sk) for f, sk in spec_keys()}["bootstrap_replicates"]
    problem = None if _is_int(replicates) else "must be a whole number"
    problem = problem or field[1].check(replicates)
    if problem:
        raise InputError([Problem("run", "bootstrap", problem, None)])
    return dataclasses.replace(spec, bootstrap_replicates=int(replicates))


def builtin_specs() -> list[str]:
    """The names of the built-in specs (``bipdask/specs/*.toml``)."""
    return sorted(p.name[:-5] for p in resources.files("bipdask.specs").iterdir() if p.name.endswith(".toml"))


def load_spec(name_or_path: str | Path = "hir") -> EvaluationSpec:
    """Load a built-in spec by name (``"hir"``) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.exists():
            raise InputError([Problem("spec", "", f"spec file not found: {path.name}", None)])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([Problem("spec", "", f"cannot read spec file {path.name} ({type(exc).__name__})",
                                      None)]) from None
    else:
        names = builtin_specs()
        if str(name_or_path) not in names:
            near = difflib.get_close_matches(str(name_or_path), names, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InputError([Problem("spec", "", f"no built-in spec named {str(name_or_path)!r}", None,
                                      f"{hint}built-in specs: {', '.join(names)}; or give a path to a .toml file")])
        text = resources.files("bipdask.specs").joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem("spec", "", f"not valid TOML ({exc})", None)]) from None
    return parse_spec(raw)
