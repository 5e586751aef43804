"""flows.distributed_cox: HIR Table 9/10 Cox rows fitted on partitions held by Dask workers
(a real LocalCluster, in-process workers) equal the one-frame rows to the last bit on 1 or 2
workers, and only per-job-centre and per-cluster sized results reach the reducing task."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from bipdask.analyses.hir.mediators import table9, table10
from bipdask.estimators.cox.replicates import REPLICATE_BLOCK
from bipdask.inference.config import Inference
from bipdask.runtime import storage
from flows.distributed_cox import DaskExecutor, on_every_worker, partition_urls, replicate_windows, time_varying_rows

N_PERSONS = 500


def _time_varying(seed=0):
    """Person-weeks in 6 job centres (a caseload, its change, a belief of the week's caseworker)."""
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(N_PERSONS):
        jc = 200 + pid % 6
        cw = 10 * jc + pid % 4
        for k in range(30):
            load, miss = rng.normal(30, 6), int(rng.random() < 0.1)
            ev = rng.random() < np.exp(-2.6 - 0.04 * (load - 30) + 0.1 * (jc - 200))
            rows.append((jc, pid, k, k + 1, int(ev), 0.0 if miss else load, miss, 0.0 if miss else load - 30, miss,
                         cw if pid % 9 else None))
            if ev:
                break
    return pd.DataFrame(rows, columns=["jobcentre_id", "person_id", "start", "stop", "event", "caseload", "casemiss",
                                       "caseload_change", "change_miss", "caseworker_id"]).astype(
        {"caseworker_id": "Int64"})


def _survey(tv):
    cws = sorted(tv["caseworker_id"].dropna().unique())
    rng = np.random.default_rng(1)
    return pd.DataFrame([{"caseworker_id": int(cw), "jobcentre_id": int(cw) // 10, "wave": "pre", "n_caseload": 40,
                          "n_internship_3m": int(rng.integers(0, 40)), "n_ordinary_hours_1y": int(rng.integers(0, 40)),
                          "n_job_2y": int(rng.integers(0, 40))} for cw in cws[:-3]])


def _files(tv, tmp_path):
    return [storage.write_parquet(g.reset_index(drop=True), str(tmp_path / f"jc-{jc:05d}.parquet"))
            for jc, g in tv.groupby("jobcentre_id")]


class _Recording(DaskExecutor):
    """A DaskExecutor that keeps every result it gathers (to check their sizes)."""

    gathered: ClassVar[list] = []

    def map(self, fn, parts, **kwargs):
        out = super().map(fn, parts, **kwargs)
        _Recording.gathered.append((fn.__name__, out))
        return out


def _on_worker(table, urls, inference, survey=None):
    with time_varying_rows(urls, survey, executor=_Recording) as rows:
        return table(rows, inference=inference)


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


INFERENCES = {"wild-jobcentre": Inference(method="wild", cluster="jobcentre_id", replicates=99, seed=3),
              "pairs-person": Inference(replicates=6, seed=3),
              "pairs-person-windows": Inference(replicates=130, seed=3)}  # 3 blocks of the Cox bootstrap


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def client(request):
    with LocalCluster(n_workers=request.param, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


@pytest.mark.parametrize("method", list(INFERENCES))
def test_table9_on_workers_equals_the_one_frame_rows_and_gathers_no_rows(client, tmp_path, method):
    tv = _time_varying()
    inference = INFERENCES[method]
    one = table9(tv, inference=inference)
    _Recording.gathered = []
    got = client.submit(_on_worker, table9, _files(tv, tmp_path), inference, pure=False).result()
    pd.testing.assert_frame_equal(got.rows, one.rows, check_exact=True)
    pd.testing.assert_frame_equal(got.replicates, one.replicates, check_exact=True)
    assert got.notes == one.notes and len(got.rows) == 4
    names = {name for name, _ in _Recording.gathered}
    assert {"rows_summary", "partition_summary", "partition_stats", "partition_scores"} <= names
    if inference.method == "pairs":  # the replicates come from window tasks, not Newton steps via the actors
        assert "partition_grad_hess" not in names
    for name, results in _Recording.gathered:
        for a in _arrays(results):  # k, k × k, per-cluster (persons at most) — never per row
            assert a.shape[0] <= N_PERSONS and a.size <= 2 * N_PERSONS < len(tv), (name, a.shape)


@pytest.mark.parametrize("name", ["wild-jobcentre", "pairs-person-windows"])
def test_table10_on_workers_equals_the_one_frame_rows_and_replicates(client, tmp_path, name):
    """Table 10 on the workers: the wild test through the actors, the pairs replicates from window
    tasks; rows and replicates as the one-frame fit's, bit for bit."""
    from bipdask.prepare.hir import with_pre_belief

    tv = _time_varying(seed=2)
    survey = _survey(tv)
    inference = INFERENCES[name]
    one = table10(with_pre_belief(tv, survey), inference=inference)
    got = client.submit(_on_worker, table10, _files(tv, tmp_path), inference, survey, pure=False).result()
    pd.testing.assert_frame_equal(got.rows, one.rows, check_exact=True)
    assert len(got.rows) >= 3
    if one.replicates is None:
        assert got.replicates is None
    else:
        pd.testing.assert_frame_equal(got.replicates, one.replicates, check_exact=True)


def test_outside_a_worker_the_partitions_are_fitted_in_process(tmp_path):
    tv = _time_varying(seed=4)
    inference = INFERENCES["pairs-person"]
    files = _files(tv[tv["jobcentre_id"] != 202], tmp_path)
    big = tv[tv["jobcentre_id"] == 202]  # a job centre the map side cut into two parts by person
    files += [storage.write_parquet(big[big["person_id"] % 2 == k].reset_index(drop=True),
                                    str(tmp_path / f"jc-00202-p{k:02d}of02.parquet")) for k in (0, 1)]
    with time_varying_rows(sorted(files), n_partitions=4) as rows:
        got = table9(rows, inference=inference)
    pd.testing.assert_frame_equal(got.rows, table9(tv, inference=inference).rows, check_exact=True)


@pytest.mark.parametrize("n_replicates", [1, 49, 50, 51, 130, 9999])
@pytest.mark.parametrize("n_windows", [1, 2, 4, 7])
def test_replicate_windows_cut_all_replicates_at_block_boundaries(n_replicates, n_windows):
    windows = replicate_windows(n_replicates, n_windows)
    assert windows[0].start == 0 and windows[-1].stop == n_replicates
    assert all(a.stop == b.start for a, b in zip(windows[:-1], windows[1:]))
    assert all(w.start % REPLICATE_BLOCK == 0 and len(w) > 0 for w in windows)
    assert len(windows) == min(n_windows, -(-n_replicates // REPLICATE_BLOCK))


def test_partition_urls_keeps_whole_job_centres_in_order():
    urls = [f"/m/jc-{i:05d}.parquet" for i in range(7)]
    assert partition_urls(urls, 3) == [urls[:3], urls[3:5], urls[5:]]
    assert partition_urls(urls, 20) == [[u] for u in urls]
    assert partition_urls([], 4) == []
    parts = ["/m/jc-00001.parquet", "/m/jc-00002-p00of03.parquet", "/m/jc-00002-p01of03.parquet",
             "/m/jc-00002-p02of03.parquet", "/m/jc-00003.parquet"]
    assert partition_urls(parts, 3) == [parts[:1], parts[1:4], parts[4:]]  # a job centre's parts: one stratum
    assert partition_urls(parts, 2) == [parts[:4], parts[4:]]


def test_partition_actor_replaces_a_derived_object_and_refuses_its_old_handle(tmp_path):
    from flows.distributed_cox import PartitionActor

    tv = _time_varying(seed=5)
    actor = PartitionActor(_files(tv, tmp_path)[:2])
    first = actor.derive(len, "", 0, {})
    assert actor.apply(lambda n: n, *first, {}) == (tv["jobcentre_id"] <= 201).sum()
    child = actor.derive(lambda n: n + 1, *first, {})
    second = actor.derive(len, "", 0, {})  # the next model's strata replace the last model's
    assert second[0] == first[0] and second[1] > child[1]
    with pytest.raises(RuntimeError, match="replaced"):
        actor.apply(len, *first, {})
    with pytest.raises(RuntimeError, match="replaced"):
        actor.apply(len, *child, {})  # derived from the replaced object: gone with it


def _where(i):
    import threading

    return i, threading.current_thread().name


def test_on_every_worker_returns_the_calls_results_in_order_from_every_worker(client):
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        got = on_every_worker(client, [(_where, (i,)) for i in range(5)])
    assert [i for i, _ in got] == list(range(5))
    assert all(name.startswith("bipdask-call") for _, name in got)  # a thread of its own, not the actor thread
    n_workers = len(client.scheduler_info()["workers"])
    assert sum("CallActor" in str(t["key"]) for t in stream.data) == n_workers
