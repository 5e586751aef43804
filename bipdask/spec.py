"""Evaluation specs: what is compared, over which periods, with which inference settings.

A spec is a small TOML file (HIR ships built in as ``bipdask/specs/hir.toml``); an analyst
writes a new one for the next programme without touching code.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bipdask.errors import InputError, Problem
from bipdask.inference.config import METHODS, SCHEMES, Inference


@dataclass(frozen=True)
class Period:
    """A closed date interval [start, end]; weeks belong to it by their Monday."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError([Problem("spec", "periods", "period end before start", 0)])


@dataclass(frozen=True)
class EvaluationSpec:
    """A frozen evaluation spec: treated job centres, periods, inference and disclosure settings
    (``docs/methods.md#conventions``)."""

    name: str
    treated_jobcentres: tuple[str, ...]
    before: Period
    intervention: Period
    last_months: int = 3
    caseload_baseline: Period | None = None
    cluster: str = "jobcentre"
    inference_method: str = "wild"  # TOML key ``inference``
    bootstrap_replicates: int = 999
    bootstrap_scheme: str = "multinomial"
    seed: int = 0
    disclosure_min_persons: int = 5
    match_rate_floor: float = 0.90
    fte_hours_per_week: float = 37.0
    caseload_trim: tuple[float, float] = (13.0, 50.0)
    title: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def inference(self, seed: int | None = None) -> Inference:
        """The run's one :class:`~bipdask.inference.config.Inference` record: the spec's bootstrap
        replicates and scheme, its cluster level as a column, and ``seed`` (the run's seed; the
        spec's when ``None``)."""
        return Inference(replicates=0 if self.inference_method == "analytic" else self.bootstrap_replicates,
                         seed=self.seed if seed is None else int(seed), scheme=self.bootstrap_scheme,
                         cluster="jobcentre_id" if self.cluster == "jobcentre" else "person_id",
                         method=self.inference_method)

    @property
    def last_months_period(self) -> Period:
        """The last ``last_months`` calendar months of the intervention period."""
        end = self.intervention.end
        month = end.month - self.last_months + 1
        year = end.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        return Period(dt.date(year, month, 1), end)


def _period(raw, key: str) -> Period:
    try:
        start, end = raw
        return Period(dt.date.fromisoformat(str(start)), dt.date.fromisoformat(str(end)))
    except (TypeError, ValueError) as exc:
        raise InputError([Problem("spec", key, f"needs [start, end] ISO dates ({exc})", 0)]) from None


def parse_spec(raw: dict) -> EvaluationSpec:
    """Build a spec from the parsed TOML mapping, with clear errors for missing keys."""
    missing = [k for k in ("name", "treated_jobcentres", "periods") if k not in raw]
    if missing:
        raise InputError([Problem("spec", k, "required key missing", 0) for k in missing])
    periods = raw["periods"]
    caseload = raw.get("caseload", {})
    cluster = raw.get("cluster", "jobcentre")
    if cluster not in ("person", "jobcentre"):
        raise InputError([Problem("spec", "cluster", "must be 'person' or 'jobcentre'", 0)])
    treated = raw["treated_jobcentres"]
    if not isinstance(treated, list) or not treated or not all(isinstance(n, str) and n.strip() for n in treated):
        raise InputError([Problem("spec", "treated_jobcentres", "must be a non-empty list of job centre names "
                                  '(e.g. ["Favrskov", "Faxe"])', 0)])
    scheme = str(raw.get("bootstrap_scheme", "multinomial"))
    if scheme not in SCHEMES:
        raise InputError([Problem("spec", "bootstrap_scheme", f"must be one of {', '.join(SCHEMES)}", 0)])
    inference = raw.get("inference", "wild")
    if inference not in METHODS:
        raise InputError([Problem("spec", "inference", f"must be one of {', '.join(METHODS)}", 0)])
    b = int(raw.get("bootstrap_replicates", 999))
    if not 0 <= b <= 9999:
        raise InputError([Problem("spec", "bootstrap_replicates", "must be within 0..9999", 0)])
    return EvaluationSpec(
        name=str(raw["name"]),
        title=str(raw.get("title", "")),
        treated_jobcentres=tuple(treated),
        before=_period(periods.get("before"), "periods.before"),
        intervention=_period(periods.get("intervention"), "periods.intervention"),
        last_months=int(periods.get("last_months", 3)),
        caseload_baseline=(
            _period(periods["caseload_baseline"], "periods.caseload_baseline")
            if "caseload_baseline" in periods
            else None
        ),
        cluster=cluster,
        inference_method=inference,
        bootstrap_replicates=b,
        bootstrap_scheme=scheme,
        seed=int(raw.get("seed", 0)),
        disclosure_min_persons=int(raw.get("disclosure_min_persons", 5)),
        match_rate_floor=float(raw.get("match_rate_floor", 0.90)),
        fte_hours_per_week=float(caseload.get("fte_hours_per_week", 37.0)),
        caseload_trim=tuple(float(x) for x in caseload.get("trim", (13.0, 50.0))),
        extra={k: v for k, v in raw.items() if k not in EvaluationSpec.__dataclass_fields__ and k != "inference"},
    )


def load_spec(name_or_path: str | Path = "hir") -> EvaluationSpec:
    """Load a built-in spec by name (``"hir"``) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.exists():
            raise InputError([Problem("spec", "", f"spec file not found: {path.name}", 0)])
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("bipdask.specs").joinpath(f"{name_or_path}.toml")
        if not res.is_file():
            raise InputError([Problem("spec", "", f"no built-in spec named {str(name_or_path)!r}", 0)])
        text = res.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem("spec", "", f"not valid TOML ({exc})", 0)]) from None
    return parse_spec(raw)
