"""The tidy estimates: replicate keys, failure shares, withholding intervals whose bootstrap failed too often."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import (
    describe_inference,
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


def _reps(failed_actual: int, failed_increase: int, b: int = 200) -> pd.DataFrame:
    def col(f, v):
        return [np.nan] * f + [v] * (b - f)

    return pd.DataFrame({"replicate": range(b), "actual|all|all": col(failed_actual, 0.1),
                         "increase|7|all": col(failed_increase, 0.2)})


def test_only_rows_with_more_than_one_percent_failed_replicates_lose_se_ci_and_p():
    reps = _reps(2, 3)  # 1.0 % and 1.5 % of 200
    out, withheld = withhold_unstable_intervals(_rows(), reps, "bip_x")
    assert withheld == ["increase|7|all"]
    assert out["se"].isna().tolist() == [False, True, False]  # 1 % is kept; hir_y untouched
    assert out.loc[1, ["ci_low", "ci_high", "p_value"]].isna().all()
    assert out["estimate"].tolist() == [0.1, 0.2, 0.3]
    same, none = withhold_unstable_intervals(_rows(), reps.iloc[:, :2], "bip_x")
    assert none == [] and same["se"].notna().all()


def test_rows_of_other_inference_are_not_withheld_by_the_pairs_replicates():
    rows = _rows().assign(inference=["pairs", "wild", None])
    out, withheld = withhold_unstable_intervals(rows, _reps(50, 50), "bip_x")
    assert withheld == ["actual|all|all"] and out["se"].isna().tolist() == [True, False, False]


def test_failure_share_is_filled_from_the_replicates_for_pairs_rows():
    rows = _rows().assign(inference=[None, "wild", None], n_replicates=[None, 999, None])
    out = describe_inference(rows, _reps(3, 10), cluster="person_id")
    assert out["replicate_failure_share"].iloc[0] == 3 / 200
    assert pd.isna(out["replicate_failure_share"].iloc[1])  # the wild row: not the pairs replicates
    assert out["inference"].tolist() == ["pairs", "wild", "pairs"]
    assert out["n_replicates"].tolist() == [197, 999, 197]  # hir_y shares the key of bip_x's actual
    table = estimates_frame(out)
    assert table["replicate_failure_share"].iloc[0] == 3 / 200
