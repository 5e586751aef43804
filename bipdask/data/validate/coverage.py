"""Coverage of a delivery: is every person and every job centre-month that should be there there?

Row rules see one row at a time; they cannot see rows that are *missing*. A part file that is
never read (a folder link not followed, a file left out of an upload) drops whole job centres
or months, and what is left still validates. These checks count what the clean weeks rows
cover and compare it with the persons table, with the delivery's own earlier months and with
the previous delivery (the latest committed run under the same root):

- **persons without weeks**: clean persons of the persons table with no weeks row at all;
- **job centres without weeks**: job centres in ``jobcentres`` with no weeks row;
- **row drops**: a job centre's rows per week in a calendar month against its previous month
  in this delivery, and against the same month in the previous delivery. Rows per *week*, so a
  month of four Mondays is not a drop after one of five; only job centre-months with at least
  :data:`MIN_ROWS_PER_WEEK` rows per week in the reference are compared (a centre of three
  persons moves by a third when one leaves).

Every finding is a warning (``ValidationReport.problems`` / the manifest); beyond the spec's
thresholds (``[coverage]`` in the spec: ``max_persons_without_weeks``, ``max_row_drop``) it
stops the run (exit 2). Counts only: no person id leaves this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from bipdask.errors import InputError, Problem

MAX_PERSONS_WITHOUT_WEEKS = 0.02  # share of the persons table
MAX_ROW_DROP = 0.5  # share of a job centre-month's rows per week
MIN_ROWS_PER_WEEK = 20  # a job centre-month smaller than this is not compared
WARN_SHARE = 0.5  # a drop above this share of the threshold is a warning

RULE_PERSONS = "persons without weeks rows"
RULE_JOBCENTRES = "job centre without weeks rows"
RULE_DROP_MONTH = "rows per week fall against the previous month"
RULE_DROP_DELIVERY = "rows per week fall against the previous delivery"


@dataclass
class CoverageCounter:
    """Accumulates, batch by batch, what the delivered weeks rows cover (validation's pass 2;
    quarantined rows too: they were delivered, the quarantine reports them on its own)."""

    _keys: list[np.ndarray] = field(default_factory=list)  # (job centre, week day) packed in one int64
    _counts: list[np.ndarray] = field(default_factory=list)  # rows per key, per batch
    _persons: list[np.ndarray] = field(default_factory=list)
    _pairs: list[pd.DataFrame] = field(default_factory=list)  # distinct (person, job centre) per batch

    def add(self, jobcentre: np.ndarray, week_days: np.ndarray, person: np.ndarray) -> None:
        if not len(jobcentre):
            return
        # hash counting (pandas) on one packed key: np.unique(axis=0) sorted pairs, ~40 % of validation
        counts = pd.Series(_pack(jobcentre, week_days)).value_counts(sort=False)
        self._keys.append(counts.index.to_numpy(np.int64))
        self._counts.append(counts.to_numpy(np.int64))
        self._persons.append(pd.unique(np.asarray(person, np.int64)))
        self._pairs.append(pd.DataFrame({"person": np.asarray(person, np.int64),
                                         "jobcentre": np.asarray(jobcentre, np.int64)}).drop_duplicates())

    @property
    def persons_in_several_jobcentres(self) -> int:
        """Persons with weeks rows in more than one job centre (the map units, cut by job centre,
        then share persons: reduces that add per-unit counts of distinct persons need none)."""
        if not self._pairs:
            return 0
        pairs = pd.concat(self._pairs, ignore_index=True).drop_duplicates()
        return int((pairs.groupby("person", sort=False).size() > 1).sum())

    @property
    def cells(self) -> dict[tuple[int, int], int]:
        """(job centre, week as days since 1970-01-01) → delivered rows."""
        if not self._keys:
            return {}
        total = pd.Series(np.concatenate(self._counts)).groupby(np.concatenate(self._keys), sort=True).sum()
        jc, day = _unpack(total.index.to_numpy(np.int64))
        return {(int(j), int(d)): int(n) for j, d, n in zip(jc.tolist(), day.tolist(), total.to_numpy().tolist())}

    def summary(self, persons: np.ndarray | None, jobcentres: np.ndarray | None) -> dict[str, Any]:
        """JSON-able coverage: counts of persons and job centres without rows, of persons with rows
        in several job centres, rows per week by job centre and month (``{"101": {"2018-01": 24.0, …}}``)."""
        seen = np.unique(np.concatenate(self._persons)) if self._persons else np.array([], np.int64)
        out: dict[str, Any] = {}
        if persons is not None:
            out["persons"] = len(persons)
            out["persons_without_weeks"] = int((~np.isin(persons, seen)).sum())
        cells = self.cells
        covered = sorted({jc for jc, _ in cells})
        if jobcentres is not None:
            out["jobcentres_without_weeks"] = sorted(int(j) for j in np.setdiff1d(jobcentres, covered))
        out["persons_in_several_jobcentres"] = self.persons_in_several_jobcentres
        out["rows_per_week"] = rows_per_week(cells)
        return out


_DAY_OFFSET = 1 << 31  # week days (signed, since 1970) shifted into [0, 2**32)


def _pack(jobcentre: np.ndarray, week_days: np.ndarray) -> np.ndarray:
    return (np.asarray(jobcentre, np.int64) << 32) | (np.asarray(week_days, np.int64) + _DAY_OFFSET)


def _unpack(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return keys >> 32, (keys & 0xFFFFFFFF) - _DAY_OFFSET


def rows_per_week(cells: Mapping[tuple[int, int], int]) -> dict[str, dict[str, float]]:
    """Mean rows per week (Monday) of each job centre and calendar month."""
    if not cells:
        return {}
    frame = pd.DataFrame([(jc, d, n) for (jc, d), n in cells.items()], columns=["jc", "day", "rows"])
    frame["month"] = frame["day"].to_numpy().astype("datetime64[D]").astype("datetime64[M]").astype(str)
    means = frame.groupby(["jc", "month"], sort=True)["rows"].mean()
    out: dict[str, dict[str, float]] = {}
    for (jc, month), v in means.items():
        out.setdefault(str(int(jc)), {})[month] = round(float(v), 3)
    return out


@dataclass(frozen=True)
class Findings:
    """Coverage problems: ``warnings`` to report, ``errors`` that stop the run."""

    warnings: list[Problem]
    errors: list[Problem]


def reconcile(coverage: Mapping[str, Any] | None, previous: Mapping[str, Any] | None = None, *,
              max_persons_without_weeks: float = MAX_PERSONS_WITHOUT_WEEKS,
              max_row_drop: float = MAX_ROW_DROP) -> Findings:
    """Check a delivery's coverage (:meth:`CoverageCounter.summary`) and, if given, compare it
    with the previous delivery's. Warnings name what is flagged; errors what passes a threshold."""
    warnings: list[Problem] = []
    errors: list[Problem] = []
    if not coverage:
        return Findings(warnings, errors)
    n_persons, n_missing = coverage.get("persons", 0), coverage.get("persons_without_weeks", 0)
    if n_missing:
        share = n_missing / n_persons if n_persons else 1.0
        p = Problem("weeks", "person_id", RULE_PERSONS, n_missing,
                    f"{n_missing} of {n_persons} persons ({share:.1%}) have no weeks row, "
                    f"limit {max_persons_without_weeks:.1%}: are part files missing?")
        (errors if share > max_persons_without_weeks else warnings).append(p)
    for jc in coverage.get("jobcentres_without_weeks", []):
        warnings.append(Problem("weeks", "jobcentre_id", RULE_JOBCENTRES, 0, f"job centre {jc}"))
    current = coverage.get("rows_per_week") or {}
    for jc, months in sorted(current.items()):
        ordered = sorted(months)
        for before, month in pairwise(ordered):
            _drop(jc, month, months[month], months[before], f"{before} ({months[before]:g} rows/week)",
                  RULE_DROP_MONTH, max_row_drop, warnings, errors)
        gaps = _missing_months(ordered)
        for month in gaps:
            _drop(jc, month, 0.0, months[_month_before(month, ordered)], "the month before",
                  RULE_DROP_MONTH, max_row_drop, warnings, errors)
    old = (previous or {}).get("rows_per_week") or {}
    last_now = max((m for months in current.values() for m in months), default=None)
    for jc, months in sorted(old.items()):
        now = current.get(jc, {})  # a job centre gone from the delivery falls to 0
        for month, ref in sorted(months.items()):
            if last_now is None or month > last_now:
                continue  # beyond this delivery's last month: not comparable
            _drop(jc, month, now.get(month, 0.0), ref, f"the previous delivery ({ref:g} rows/week)",
                  RULE_DROP_DELIVERY, max_row_drop, warnings, errors)
    return Findings(warnings, errors)


def _drop(jc: str, month: str, value: float, ref: float, against: str, rule: str, limit: float,
          warnings: list[Problem], errors: list[Problem]) -> None:
    if ref < MIN_ROWS_PER_WEEK:
        return
    drop = 1.0 - value / ref
    if drop <= limit * WARN_SHARE:
        return
    p = Problem("weeks", "jobcentre_id", rule, round(ref - value),
                f"job centre {jc}, {month}: {value:g} rows/week against {against}, "
                f"a fall of {drop:.0%}, limit {limit:.0%}")
    (errors if drop > limit else warnings).append(p)


def _missing_months(ordered: list[str]) -> list[str]:
    """Calendar months inside ``[first, last]`` with no rows at all."""
    if len(ordered) < 2:
        return []
    every = pd.period_range(ordered[0], ordered[-1], freq="M").strftime("%Y-%m")
    return [m for m in every if m not in set(ordered)]


def _month_before(month: str, ordered: list[str]) -> str:
    return max(m for m in ordered if m < month)


def check_groups(jobcentres_with_weeks: list[int], treated_ids: tuple[int, ...] | list[int]) -> None:
    """A difference-in-differences needs weeks rows on both sides: participating job centres
    and comparison job centres. With every person in one job centre (or every job centre on
    one side) no contrast exists, whatever the linkage or the estimators would report.

    Raises
    ------
    InputError
        Naming the side without rows and where the rows are (job centre ids, counts only).
    """
    have = sorted({int(j) for j in jobcentres_with_weeks})
    treated = sorted({int(j) for j in treated_ids})
    with_rows = [j for j in have if j in treated]
    others = [j for j in have if j not in treated]
    where = (f"all weeks rows are in job centre {have[0]}" if len(have) == 1
             else f"weeks rows are in {len(have)} job centres")
    problems = []
    if not with_rows:
        problems.append(Problem("weeks", "jobcentre_id", "no participating job centre has weeks rows", 0,
                                f"{where}, none of the spec's {len(treated)} treated job centres"))
    if not others:
        problems.append(Problem("weeks", "jobcentre_id", "no comparison job centre has weeks rows", 0,
                                f"{where}, all of them treated: the DiD has no comparison group"))
    if problems:
        raise InputError(problems)
