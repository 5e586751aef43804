"""The tidy estimates: replicate keys and withholding intervals whose bootstrap mostly failed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import (
    estimates_frame,
    replicate_key,
    withhold_unstable_intervals,
)


def _rows() -> pd.DataFrame:
    return estimates_frame(pd.DataFrame({
        "analysis": ["bip_x", "bip_x", "hir_y"], "estimand": ["actual", "increase", "actual"],
        "jobcentre_id": [None, 7, None], "period": ["all", "all", "all"], "estimate": [0.1, 0.2, 0.3],
        "se": [0.01] * 3, "ci_low": [0.0] * 3, "ci_high": [0.5] * 3, "p_value": [0.04] * 3,
        "n_persons": [100] * 3, "n_obs": [100] * 3}))


def test_replicate_keys_name_all_for_the_pooled_row():
    assert replicate_key("did", None, "intervention") == "did|all|intervention"
    assert replicate_key("did", 12, "last_3_months") == "did|12|last_3_months"
    assert replicate_key("did", pd.NA, "x") == "did|all|x"


def test_only_the_analysis_rows_with_mostly_failed_replicates_lose_se_ci_and_p():
    reps = pd.DataFrame({"replicate": range(20), "actual|all|all": [0.1] * 19 + [np.nan],
                         "increase|7|all": [0.2] * 2 + [np.nan] * 18})
    out, withheld = withhold_unstable_intervals(_rows(), reps, "bip_x")
    assert withheld == ["increase|7|all"]
    assert out["se"].isna().tolist() == [False, True, False]  # 95% usable is kept; hir_y untouched
    assert out["estimate"].tolist() == [0.1, 0.2, 0.3]
    same, none = withhold_unstable_intervals(_rows(), reps.iloc[:, :2], "bip_x")
    assert none == [] and same["se"].notna().all()
