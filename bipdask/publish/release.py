"""The public release of a run: ``published/estimates.parquet``, disclosure-protected and self-describing.

``results/estimates.parquet`` is internal (true estimates, cells on 1–4 persons). What may leave the
agency is :func:`release_table` of the protected frame (:func:`bipdask.publish.report.load_published`):
the same rows with values and counts masked where suppressed, and columns that say what each number is
— ``run_id``, ``unit`` (:func:`unit_of`, one mapping for every estimand), ``se_type``, ``ci_level``,
``ci_method``, ``inference``, ``n_replicates``, ``n_clusters``. Two corrections of the internal layer
are made here, in the public names: hazard-ratio SEs are given on the log scale (``se_type``), the
before-period rows of Tables 4 and 7 carry ``period = "before"`` (:func:`public_period`), and counts of
caseworkers (Table 3, the first stage) are in ``n_caseworkers``, not ``n_persons``.
Columns, units and estimands: ``docs/results.md#the-published-estimates``.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from bipdask.publish.disclosure import SUPPRESSED

RELEASE_FILE = "published/estimates.parquet"  # run-relative
CI_LEVEL = 0.95  # every interval of a run (Inference.alpha = 0.05)
COUNTS_CASEWORKERS = frozenset({"hir_table3", "hir_caseload"})  # n_persons of these rows counts caseworkers
BEFORE_ROWS = frozenset({"hir_table4", "hir_table7"})  # group rows fitted with the intervention-period DiD

# the unit vocabulary of the ``unit`` column (docs/results.md#units)
SHARE = "share"  # a fraction: 0.172 = 17.2 %
SHARE_DIFF = "share difference"  # a difference of fractions: 0.017 = 1.7 percentage points
SHARE_PER_UNIT = "share difference per covariate unit"  # LPM coefficient (per FTE case, per belief point)
PERCENT = "percent"  # did_pct: per cent of participating_before
PP_SCALE = "0-100 scale"  # caseworker beliefs: per cent of the caseload; differences in percentage points
WEEKS = "weeks"
HAZARD_RATIO = "hazard ratio"
PERSONS = "persons"
CASELOAD = "cases per full-time caseworker"
YEARS = "years"
ANSWER_POINTS = "answer points (1-5 scale)"
POINTS_PER_WEEK = "answer points per week"
STANDARD_DEVIATIONS = "standard deviations"
RELATIVE = "relative change"  # fraction of the comparison rate: -0.22 = -22 %
UNITS = (SHARE, SHARE_DIFF, SHARE_PER_UNIT, PERCENT, PP_SCALE, WEEKS, HAZARD_RATIO, PERSONS, CASELOAD, YEARS,
         ANSWER_POINTS, POINTS_PER_WEEK, STANDARD_DEVIATIONS, RELATIVE)

BACKGROUND_SHARES = frozenset({"male", "non_western", "western", "married"})
BIP_GROUP_USE = frozenset({"J", "O", "S", "H", "none"})  # profile/<v>/q<k>: share of caseworkers using group v

SE_TYPES = {"ratio": "log hazard ratio", "plain": "same unit as estimate"}
CI_METHODS = {"wild": "wild bootstrap test inversion", "pairs": "pairs bootstrap percentile",
              "analytic": "Wald (sandwich covariance)", "randomization": "randomization inference",
              "placebo": "Conley-Taber placebo"}

RELEASE_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("analysis", pa.string(), nullable=False),
    pa.field("estimand", pa.string(), nullable=False),
    pa.field("jobcentre_id", pa.int32()),
    pa.field("period", pa.string(), nullable=False),
    pa.field("unit", pa.string()),
    pa.field("estimate", pa.float64()),
    pa.field("se", pa.float64()),
    pa.field("se_type", pa.string()),
    pa.field("ci_low", pa.float64()),
    pa.field("ci_high", pa.float64()),
    pa.field("ci_level", pa.float64()),
    pa.field("ci_method", pa.string()),
    pa.field("p_value", pa.float64()),
    pa.field("n_persons", pa.int64()),
    pa.field("n_caseworkers", pa.int64()),
    pa.field("n_obs", pa.int64()),
    pa.field("inference", pa.string()),
    pa.field("cluster_level", pa.string()),
    pa.field("n_clusters", pa.int64()),
    pa.field("n_replicates", pa.int64()),
    pa.field("replicate_failure_share", pa.float64()),
    pa.field(SUPPRESSED, pa.string(), nullable=False),
])


def unit_of(analysis: str, estimand: str) -> str | None:
    """The unit of an estimand's ``estimate`` (one of :data:`UNITS`); ``None`` for one not mapped.

    The one mapping (analysis, estimand) → unit of the library; ``docs/results.md#units`` lists it.
    """
    head, _, rest = estimand.partition(":")
    if analysis == "hir_caseload":
        return CASELOAD
    if analysis == "hir_table1_persons":
        return PERSONS
    if analysis == "hir_table2_background" and rest:
        return SHARE if head in BACKGROUND_SHARES else YEARS if head == "age" else WEEKS if "_weeks_" in head else None
    if analysis == "hir_table5_lab_mix" and rest:
        return SHARE
    if analysis in ("hir_table4", "hir_table7"):
        return PERCENT if estimand == "did_pct" else HAZARD_RATIO if estimand == "hazard_ratio" else WEEKS
    if analysis in ("share_internship_or_hours", "share_internship_or_hours_new_courses"):
        return SHARE_DIFF if estimand in ("did", "did_randomization") else (
            SHARE if estimand in ("mean_participating", "mean_others") else None)
    if analysis == "hir_table3":
        return PP_SCALE
    if analysis == "hir_table8":
        return SHARE_DIFF if rest in ("", "persons_did") else SHARE
    if analysis in ("hir_table9", "hir_table10"):
        return HAZARD_RATIO if estimand.startswith("hr_") else SHARE_PER_UNIT
    if analysis == "bip_caseworker_effectiveness":
        if estimand in ("actual", "counterfactual_top_quartile") or estimand.startswith(("r2_", "outcome_rate/")):
            return SHARE
        if estimand == "increase" or estimand.startswith("mean_effect/"):
            return SHARE_DIFF
        if estimand.startswith("profile/"):
            return SHARE if estimand.split("/")[1] in BIP_GROUP_USE else ANSWER_POINTS
        return None
    if analysis == "bip_caseworker_change":
        return {"effect_pp": SHARE_DIFF, "relative_effect": RELATIVE}.get(
            estimand, SHARE if estimand.startswith("rate_") else None)
    if analysis == "bip_progression":
        kind = estimand.split("/")[0]
        return {"mean_change": ANSWER_POINTS, "combination_share": SHARE, "effect_size": STANDARD_DEVIATIONS,
                "weeks_between_responses": WEEKS, "weeks_slope": POINTS_PER_WEEK}.get(kind)
    return None


def public_period(analysis: str, estimand: str, period: str) -> str:
    """The period a row describes: Tables 4 and 7 fit the four D×E groups in one DiD labelled with
    its intervention period; the groups ``*_before`` describe the period before."""
    if analysis in BEFORE_ROWS and estimand.endswith("_before"):
        return "before"
    return period


def _is_ratio(analysis: str, estimand: str) -> bool:
    return unit_of(analysis, estimand) == HAZARD_RATIO


def release_frame(protected: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """The protected tidy estimates (with ``suppressed``) as the public release, :data:`RELEASE_SCHEMA` columns.

    Hazard ratios' ``se`` is that of log(ratio), the width of the interval on the log scale over
    2 z (exact for Wald and test-inversion intervals, the log-scale spread of a percentile
    interval); a ratio-scale SE is not a usable measure of a skewed ratio's uncertainty. A row
    without an SE (placebo intervals) or with an interval open on one side gets none.
    """
    if SUPPRESSED not in protected.columns:
        raise ValueError("estimates were not disclosure-protected (no 'suppressed' column)")
    f = protected.reset_index(drop=True)
    a, e = f["analysis"].astype(str), f["estimand"].astype(str)
    ratio = np.array([_is_ratio(x, y) for x, y in zip(a, e)], dtype=bool)
    z = stats.norm.ppf(1 - (1 - CI_LEVEL) / 2)
    lo, hi = f["ci_low"].astype(float).to_numpy(), f["ci_high"].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_se = (np.log(hi) - np.log(lo)) / (2 * z)
    log_se = np.where(np.isfinite(log_se), log_se, np.nan)
    given = f["se"].astype(float).to_numpy()
    se = np.where(ratio & ~np.isnan(given), log_se, given)  # no SE made up where the row has none (placebo)
    has_se = ~np.isnan(se)
    has_ci = ~(np.isnan(lo) & np.isnan(hi))  # a wild interval may be open on one side (null end)
    caseworkers = a.isin(COUNTS_CASEWORKERS).to_numpy()
    n = f["n_persons"].astype("Int64")
    inference = f["inference"] if "inference" in f.columns else pd.Series([None] * len(f))
    out = pd.DataFrame({
        "run_id": run_id,
        "analysis": a,
        "estimand": e,
        "jobcentre_id": f["jobcentre_id"].astype("Int32"),
        "period": [public_period(x, y, p) for x, y, p in zip(a, e, f["period"].astype(str))],
        "unit": [unit_of(x, y) for x, y in zip(a, e)],
        "estimate": f["estimate"].astype(float),
        "se": se,
        "se_type": [None if not h else SE_TYPES["ratio" if r else "plain"] for h, r in zip(has_se, ratio)],
        "ci_low": lo, "ci_high": hi,
        "ci_level": np.where(has_ci, CI_LEVEL, np.nan),
        "ci_method": [CI_METHODS.get(m) if c and isinstance(m, str) else None for m, c in zip(inference, has_ci)],
        "p_value": f["p_value"].astype(float),
        "n_persons": n.mask(caseworkers),
        "n_caseworkers": n.where(caseworkers),
        "n_obs": f["n_obs"].astype("Int64"),
    })
    for c in ("inference", "cluster_level", "n_clusters", "n_replicates", "replicate_failure_share"):
        out[c] = f[c] if c in f.columns else None
    out[SUPPRESSED] = f[SUPPRESSED].fillna("").astype(str)
    return out[RELEASE_SCHEMA.names]


def release_table(protected: pd.DataFrame, run_id: str) -> pa.Table:
    """:func:`release_frame` as an Arrow table with :data:`RELEASE_SCHEMA`."""
    frame = release_frame(protected, run_id)
    arrays = []
    for field in RELEASE_SCHEMA:
        values = frame[field.name].tolist()
        if pa.types.is_floating(field.type):
            values = [None if v is None or pd.isna(v) else float(v) for v in values]
        elif pa.types.is_integer(field.type):
            values = [None if v is None or pd.isna(v) else int(v) for v in values]
        else:
            values = [None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=RELEASE_SCHEMA)


def release_bytes(protected: pd.DataFrame, run_id: str) -> bytes:
    """The release as Parquet bytes (deterministic for the same rows and library versions)."""
    buf = io.BytesIO()
    pq.write_table(release_table(protected, run_id), buf, compression="zstd")
    return buf.getvalue()
