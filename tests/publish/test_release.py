"""The public release ``published/estimates.parquet``: columns, units, corrections, disclosure, hashing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fake_runs import SMALL_VALUE, fake_estimates, make_fake_run

from bipdask.publish.disclosure import COUNT_COLUMNS, SUPPRESSED, VALUE_COLUMNS
from bipdask.publish.release import (
    CI_LEVEL,
    CI_METHODS,
    HAZARD_RATIO,
    RELEASE_FILE,
    RELEASE_SCHEMA,
    SE_TYPES,
    UNITS,
    public_period,
    release_frame,
    unit_of,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_fake_run(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def release(run):
    return run.read_parquet(RELEASE_FILE)


def every_estimand(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["analysis"], frame["estimand"]))


def test_every_estimand_a_run_emits_has_one_unit(release):
    pairs = every_estimand(pd.DataFrame([e.__dict__ for e in fake_estimates()]))
    unmapped = sorted(p for p in pairs if unit_of(*p) not in UNITS)
    assert not unmapped
    assert set(release["unit"]) <= set(UNITS) and release["unit"].notna().all()


def test_an_estimand_without_a_unit_is_caught():
    assert unit_of("hir_table4", "did_weeks") == "weeks" and unit_of("hir_table9", "hr_casemiss") == HAZARD_RATIO
    assert unit_of("hir_table2_background", "shoe_size:participating") is None
    assert unit_of("no_such_analysis", "did") is None


def test_the_committed_run_holds_the_release_hashed_and_verified(run, release):
    assert RELEASE_FILE in run.hashes and run.manifest.get("outputs", {}).get("published", RELEASE_FILE)
    assert list(release.columns) == RELEASE_SCHEMA.names
    assert set(release["run_id"]) == {run.run_id}
    assert set(release[SUPPRESSED]) <= {"", "primary", "secondary", "previous"}
    ci = release["ci_low"].notna() & release["ci_high"].notna()
    assert (release.loc[ci, "ci_level"] == CI_LEVEL).all() and release.loc[~ci, "ci_level"].isna().all()
    assert set(release["ci_method"].dropna()) <= set(CI_METHODS.values())
    assert set(release["se_type"].dropna()) <= set(SE_TYPES.values())
    assert release.loc[release["se"].isna(), "se_type"].isna().all()


def test_the_release_holds_no_suppressed_cells_values(release):
    hidden = release[release[SUPPRESSED] != ""]
    assert len(hidden) > 0
    masked = [c for c in (*VALUE_COLUMNS, *COUNT_COLUMNS, "n_caseworkers")]
    assert hidden[masked].isna().all().all()
    assert not np.isclose(release["estimate"].dropna(), SMALL_VALUE).any()


def test_hazard_ratio_ses_are_on_the_log_scale(release):
    hr = release[release["unit"] == HAZARD_RATIO]
    assert {"hazard_ratio", "hr_casemiss", "hr_caseload"} <= set(hr["estimand"])
    assert (hr["se_type"].dropna() == SE_TYPES["ratio"]).all() and hr["se"].notna().any()
    z = 1.959963984540054
    expected = (np.log(hr["ci_high"]) - np.log(hr["ci_low"])) / (2 * z)
    assert np.allclose(hr["se"], expected, equal_nan=True)
    row = hr[hr["estimand"] == "hr_casemiss"].iloc[0]  # 0.8 in [0.6, 1.0]: ratio-scale se 0.1
    assert math.isclose(row["se"], (math.log(1.0) - math.log(0.6)) / (2 * z))
    other = release[(release["unit"] != HAZARD_RATIO) & release["se"].notna()]
    assert (other["se_type"] == SE_TYPES["plain"]).all()


def test_table4_before_groups_say_before(release):
    t4 = release[release["analysis"].isin(["hir_table4", "hir_table7"])].set_index("estimand")
    for estimand in ("other_before", "participating_before", "rmst52_other_before"):
        assert set(t4.loc[[estimand], "period"]) == {"before"}
    assert set(t4.loc[["other_intervention", "did_weeks"], "period"]) == {"intervention"}
    assert public_period("share_internship_or_hours", "mean_participating", "last_3_months") == "last_3_months"


def test_table3_counts_caseworkers_not_persons(release):
    t3 = release[release["analysis"] == "hir_table3"]
    shown = t3[t3[SUPPRESSED] == ""]
    assert len(shown) and (shown["n_caseworkers"] == 81).all() and shown["n_persons"].isna().all()
    t6 = release[(release["analysis"] == "share_internship_or_hours") & (release[SUPPRESSED] == "")]
    assert t6["n_persons"].notna().all() and t6["n_caseworkers"].isna().all()


def test_release_of_a_committed_run_reads_the_flags_of_its_release(run, release):
    from bipdask.publish.report.build import release_of

    basis = release_of(run)
    assert len(basis) == len(release) and basis["estimate"].notna().all()  # true values, the release's flags
    assert sorted(basis[SUPPRESSED]) == sorted(release[SUPPRESSED])


def test_a_placebo_ratio_gets_no_made_up_se_and_an_open_interval_keeps_its_level():
    from bipdask.analyses.estimates import estimates_frame

    rows = estimates_frame(fake_estimates())
    hr = rows.index[(rows["analysis"] == "hir_table4") & (rows["estimand"] == "hazard_ratio")
                    & rows["jobcentre_id"].isna()][0]
    belief = rows.index[rows["estimand"] == "hr_belief_job_2y"][0]
    rows.loc[hr, ["se", "inference"]] = [np.nan, "placebo"]
    rows.loc[belief, ["ci_high", "se", "inference"]] = [np.nan, np.nan, "wild"]
    out = release_frame(rows.assign(**{SUPPRESSED: ""}), "r0")
    assert np.isnan(out.loc[hr, "se"]) and out.loc[hr, "se_type"] is None
    assert out.loc[hr, "ci_method"] == CI_METHODS["placebo"]
    assert out.loc[belief, "ci_level"] == CI_LEVEL and out.loc[belief, "ci_method"] == CI_METHODS["wild"]


def test_release_frame_needs_protected_estimates():
    frame = pd.DataFrame([e.__dict__ for e in fake_estimates()])
    with pytest.raises(ValueError, match="disclosure-protected"):
        release_frame(frame, "r0")
