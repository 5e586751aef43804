"""HIR Tables 9–10 Cox rows on partitioned rows (bipdask.analyses.hir.mediators.PartitionedRows):
the same rows, to the last bit, as on one frame, whatever the partitioning."""

import numpy as np
import pandas as pd
import pytest

from bipdask.analyses.hir.mediators import (
    PartitionedRows,
    RowsSummary,
    cox_replicate_window,
    rows_summary,
    sorted_rows,
    table9,
    table10,
)
from bipdask.estimators.cox.source import LocalExecutor
from bipdask.inference.config import Inference


def _rows(n_persons=600, seed=0):
    """Person-weeks in 5 job centres: weekly hazard falls with the caseload, a job-centre baseline,
    a pre belief that is missing for a fifth of the weeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_persons):
        jc = 100 + pid % 5
        belief, bmiss = rng.uniform(10, 60), int(rng.random() < 0.2)
        for k in range(30):
            load, miss = rng.normal(30, 6), int(rng.random() < 0.1)
            ev = rng.random() < np.exp(-2.6 - 0.04 * (load - 30) + 0.15 * (jc - 100))
            rows.append((jc, pid, k, k + 1, int(ev), 0.0 if miss else load, miss, 0.0 if miss else load - 30, miss,
                         0.0 if bmiss else belief, bmiss))
            if ev:
                break
    df = pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "start", "stop", "event", "caseload", "casemiss",
                                     "caseload_change", "change_miss", "belief_internship_3m",
                                     "belief_internship_3m_miss"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # the fit sorts


def _partitioned(df, groups):
    return PartitionedRows([sorted_rows(df[df["jobcentre_id"].isin(g)]) for g in groups], LocalExecutor())


GROUPS = [[[100, 101], [102, 103, 104]], [[104], [100, 103], [101, 102]]]


@pytest.mark.parametrize("inference", [Inference(replicates=8, seed=3),
                                       Inference(method="wild", cluster="jobcentre_id", replicates=99, seed=3)],
                         ids=["pairs-person", "wild-jobcentre"])
@pytest.mark.parametrize("table", [table9, table10], ids=["table9", "table10"])
def test_partitioned_rows_give_the_one_frame_rows_exactly(table, inference):
    df = _rows()
    one = table(df, inference=inference)
    assert len(one.rows) >= 2
    for groups in GROUPS:
        got = table(_partitioned(df, groups), inference=inference)
        pd.testing.assert_frame_equal(got.rows, one.rows, check_exact=True)
        pd.testing.assert_frame_equal(got.replicates, one.replicates, check_exact=True)
        assert got.notes == one.notes


def test_rows_summary_merges_partitions_as_one_frame():
    df = sorted_rows(_rows(seed=1))
    parts = [rows_summary(df[df["jobcentre_id"] == jc]) for jc in (100, 101, 102, 103, 104)]
    merged, whole = RowsSummary.merge(parts), RowsSummary.merge([rows_summary(df)])
    assert merged == whole
    assert whole.n_persons == df["person_id"].nunique() and whole.n_rows == len(df)
    assert whole.distinct == {"change_miss": 2, "belief_internship_3m_miss": 2}  # the *_miss columns


@pytest.mark.parametrize("method", ["wild", "analytic"])
def test_share_rows_from_partitions_read_one_at_a_time_equal_the_gathered_rows(method):
    """Tables 9-10's share LPMs with job-centre clusters: per-partition moments give the gathered
    fit's rows (a generator of partitions, each job centre's rows spread over several)."""
    from test_hir_tables import belief_weeks

    from bipdask.analyses.hir.mediators import share_mediators, share_mediators_by_partition

    data = belief_weeks(n_caseworkers=48)
    data = data.assign(jobcentre_id=100 + data["caseworker_id"] % 8,
                       caseload=data["belief_internship_3m"] / 2 + 13 + data["caseworker_id"] % 3,
                       casemiss=data["belief_internship_3m_miss"])
    data = data.assign(caseload_change=data["caseload"] - 30, change_miss=data["casemiss"])
    inference = Inference(replicates=199 if method == "wild" else 0, seed=2, cluster="jobcentre_id", method=method)
    cut = np.random.default_rng(1).integers(0, 3, len(data))
    read: list[int] = []

    def parts():
        for k in range(3):
            read.append(k)
            yield data[cut == k]

    for analysis in ("hir_table9", "hir_table10"):
        gathered = share_mediators(data, analysis=analysis, inference=inference)
        streamed = share_mediators_by_partition(parts(), analysis=analysis, inference=inference)
        pd.testing.assert_frame_equal(streamed.rows, gathered.rows, rtol=1e-8)
        pd.testing.assert_frame_equal(streamed.replicates, gathered.replicates)
        assert set(streamed.rows["inference"]) == {method} and streamed.notes["rows"] == len(data)
    assert read == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("table", [table9, table10], ids=["table9", "table10"])
def test_replicates_from_a_runner_of_windows_equal_the_fits_own_replicates(table):
    """The flow's path: point fits through the partitions, the pairs replicates of all models from
    windows computed on all the rows (cox_replicate_window), concatenated in order."""
    df = _rows(n_persons=300, seed=5)
    inference = Inference(replicates=120, seed=3)
    one = table(df, inference=inference)
    calls = []

    def runner(models, inf):
        calls.append([covs for covs, _ in models])
        parts = [cox_replicate_window(df, models, inf, w) for w in (range(0, 50), range(50, 77), range(77, 120))]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(models))]

    rows = _partitioned(df, GROUPS[1])
    rows.replicate_runner = runner
    got = table(rows, inference=inference)
    assert len(calls) == 1 and len(calls[0]) >= 1  # one call for all the table's models
    pd.testing.assert_frame_equal(got.rows, one.rows, check_exact=True)
    pd.testing.assert_frame_equal(got.replicates, one.replicates, check_exact=True)
    assert got.notes == one.notes
