"""The per-job-centre model-input cache: content keys, complete entries, pruning by recent runs."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.runtime import input_cache, storage


def _commit(root, run_id: str, keys, when: str) -> None:
    incremental = {} if keys is None else {"keys": list(keys)}
    storage.commit(storage.RunLayout.create(root, run_id), {"committed_at": when, "incremental": incremental})


def _entry(url: str, key: str) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    input_cache.store(url, key,
                      {"gap_spells": storage.parquet_bytes(frame), "share_cells": storage.parquet_bytes(frame)},
                      {"gap_spells": 3, "share_cells": 3})


def test_an_entry_is_found_only_once_complete_and_copies_out_byte_identical(tmp_path):
    url = input_cache.cache_url(tmp_path)
    assert input_cache.lookup(url, "k1") is None
    _entry(url, "k1")
    counts = input_cache.lookup(url, "k1")
    assert counts == {"gap_spells": 3, "share_cells": 3}
    dest = {k: str(tmp_path / "run" / k / "jc-00001.parquet") for k in counts}
    input_cache.copy_out(url, "k1", counts, dest)
    for kind, path in dest.items():
        assert open(path, "rb").read() == open(storage.join(url, kind, "k1.parquet"), "rb").read()


def test_prune_keeps_what_the_newest_runs_used_and_removes_the_rest(tmp_path):
    url = input_cache.cache_url(tmp_path)
    for key in ("a", "b", "c", "d"):
        _entry(url, key)
    _commit(tmp_path, "r1", ["a"], "2026-01-02T03:00:00")
    _commit(tmp_path, "r2", ["b"], "2026-02-02T03:00:00")
    _commit(tmp_path, "r3", ["b", "c"], "2026-03-02T03:00:00")
    assert input_cache.prune(tmp_path, keep_runs=2) == {"kept": 2, "removed": 2}
    assert input_cache.lookup(url, "a") is None and input_cache.lookup(url, "d") is None
    assert input_cache.lookup(url, "b") and input_cache.lookup(url, "c")
    assert storage.list_files(url, ".parquet") == sorted(
        storage.join(url, kind, f"{k}.parquet") for kind in ("gap_spells", "share_cells") for k in ("b", "c"))


def test_prune_keeps_everything_when_a_recent_manifest_lists_no_keys(tmp_path):
    url = input_cache.cache_url(tmp_path)
    _entry(url, "a")
    _commit(tmp_path, "r1", None, "2026-01-02T03:00:00")
    assert input_cache.prune(tmp_path, keep_runs=3) == {"kept": 1, "removed": 0}
    assert input_cache.lookup(url, "a")


def test_frame_digest_sees_values_order_and_dtypes():
    base = pd.DataFrame({"person_id": [1, 2], "hours": [0.0, 3.5]})
    assert input_cache.frame_digest(base) == input_cache.frame_digest(base.copy())
    assert input_cache.frame_digest(base) != input_cache.frame_digest(base.iloc[::-1])
    assert input_cache.frame_digest(base) != input_cache.frame_digest(base.astype({"hours": "float32"}))
    assert input_cache.frame_digest(None) == "none"


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from(["weeks", "assignments", "caseload", "jobcentre_id"]),
                       st.text(min_size=1, max_size=8), min_size=1),
       st.dictionaries(st.sampled_from(["config", "windows", "code_version"]), st.integers(), min_size=1))
def test_entry_keys_ignore_dict_order_but_see_every_value(parts, context):
    key = input_cache.entry_key(parts, context)
    assert key == input_cache.entry_key(dict(reversed(list(parts.items()))), dict(reversed(list(context.items()))))
    first = next(iter(parts))
    assert key != input_cache.entry_key({**parts, first: parts[first] + "x"}, context)
