"""The BIP tasks on a small synthetic delivery (no Prefect, no Dask): the map step's per-unit first
hits give the BIP rows and replicate files of the gathered path (every BIP job centre's weeks in
one frame), and the model-input cache sees the responses a unit's first hits depend on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bipdask.analyses.bip.blocks import bip_point, bip_replicate_block
from bipdask.analyses.estimates import estimates_table
from bipdask.inference.config import Inference
from bipdask.prepare.bip import BIP_WEEKS_COLUMNS, bip_jobcentre_ids, bip_weeks, combine_first_hits, first_hits
from bipdask.prepare.hir import ModelInputConfig
from bipdask.prepare.outcomes import comparison_windows, treated_jobcentre_ids
from bipdask.prepare.partitions import plan_units
from bipdask.runtime import storage
from bipdask.spec import load_spec
from flows.tasks import (
    BIP_FIRST_HITS,
    compute_model_inputs_impl,
    estimate_bip_block_impl,
    estimate_bip_point_impl,
    prepare_bip_impl,
    read_staged_weeks,
    staged_bip_jobcentre_ids,
    validate_and_stage_impl,
)

RULES = {"top_quartile": "eb", "count_caseworker": "citizens"}


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> dict:
    """A scale-0.03 synthetic delivery validated and staged, with the map step's arguments."""
    from bipdask.synth import generate

    root = tmp_path_factory.mktemp("bipmap")
    generate(root / "input", scale=0.03, seed=8)
    report = validate_and_stage_impl(str(root / "input"), str(root / "run"))
    spec = load_spec("hir")
    jobcentres = storage.read_parquet(storage.join(report["staged_url"], "jobcentres.parquet"))
    treated, _ = treated_jobcentre_ids(jobcentres, spec.treated_jobcentres)
    windows = {k: (p.start.isoformat(), p.end.isoformat()) for k, p in comparison_windows(spec).items()}
    config = ModelInputConfig.from_spec(spec, treated, report["week_span"][0]).to_dict()
    rows = {int(k): int(v) for k, v in report["weeks_rows_by_jobcentre"].items()}
    return {"root": root, "staged": report["staged_url"], "panel_end": report["week_span"][-1],
            "treated": list(treated), "windows": windows, "config": config, "rows": rows}


def _map(s: dict, units, out: Path, cache: str | None = None, bip_ids=None) -> dict:
    ids = staged_bip_jobcentre_ids(s["staged"]) if bip_ids is None else bip_ids
    return compute_model_inputs_impl([u.key() for u in units], s["staged"], str(out), s["treated"], s["windows"],
                                     s["config"], cache, "test", ids)


def _gathered(s: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The inputs the BIP tasks read before the map step made first hits: every BIP job centre's
    weeks of the BIP citizens in one frame."""
    responses = storage.read_parquet(storage.join(s["staged"], "bip_responses.parquet"))
    persons = storage.read_parquet(storage.join(s["staged"], "persons.parquet"))
    persons = persons[persons["person_id"].isin(pd.unique(responses["person_id"]))].reset_index(drop=True)
    weeks = pd.concat([bip_weeks(read_staged_weeks(s["staged"], jc, BIP_WEEKS_COLUMNS), responses)
                       for jc in bip_jobcentre_ids(responses)], ignore_index=True)
    return responses, persons, weeks


def test_bip_rows_and_replicates_from_the_map_steps_first_hits_equal_the_gathered_path(staged, tmp_path):
    bip_ids = staged_bip_jobcentre_ids(staged["staged"])
    assert bip_ids
    # the BIP job centres cut into person-hash parts (one citizen's weeks in one part), the others whole
    units = plan_units({jc: n for jc, n in staged["rows"].items() if jc in bip_ids}, 2_000) + \
        plan_units({jc: n for jc, n in staged["rows"].items() if jc not in bip_ids}, 10**9)
    assert any(u.parts > 1 for u in units)
    half = len(units) // 2
    infos = [_map(staged, units[:half], tmp_path / "mi"), _map(staged, units[half:], tmp_path / "mi")]
    hit_urls = sorted(u for i in infos for u in i["urls"].get(BIP_FIRST_HITS, []))
    assert len(hit_urls) == sum(u.jobcentre_id in bip_ids for u in units)  # every BIP unit, no other
    prepared = prepare_bip_impl(staged["staged"], str(tmp_path / "mi"), hit_urls)
    assert prepared["counts"]["first_hits"] <= prepared["counts"]["responses"]
    assert "weeks" not in prepared

    inference = Inference(replicates=12, seed=3)
    responses, persons, weeks = _gathered(staged)
    expected = bip_point(responses, persons, weeks, inference=inference, panel_end=staged["panel_end"], **RULES)
    point = estimate_bip_point_impl(prepared, inference, staged["panel_end"], **RULES)
    assert point["sample_responses"] == expected.sample_responses > 0
    assert storage.read_bytes(point["url"]) == storage.read_bytes(
        storage.write_parquet(estimates_table(expected.rows), str(tmp_path / "expected_point.parquet")))

    blocks = bip_replicate_block(responses, persons, weeks, inference=inference.replace(window=(5, 12)),
                                 panel_end=staged["panel_end"], **RULES)
    got = estimate_bip_block_impl(point, inference, [5, 12])
    assert set(got["urls"]) == set(blocks) and blocks
    for analysis, frame in blocks.items():
        pd.testing.assert_frame_equal(storage.read_parquet(got["urls"][analysis]), frame)


def test_a_changed_bip_responses_table_recomputes_the_bip_units_from_the_cache(staged, tmp_path):
    """The cache key of a BIP job centre's unit holds the responses its first hits read: with other
    responses it is recomputed (and its first hits follow), the other job centres are reused."""
    bip_ids = staged_bip_jobcentre_ids(staged["staged"])
    others = sorted(set(staged["rows"]) - set(bip_ids))[:2]
    units = plan_units({jc: staged["rows"][jc] for jc in [*bip_ids, *others]}, 10**9)
    cache = str(tmp_path / "cache")
    first = _map(staged, units, tmp_path / "one", cache)
    assert sorted(first["recomputed"]) == sorted([*bip_ids, *others]) and not first["reused"]

    url = storage.join(staged["staged"], "bip_responses.parquet")
    original = storage.read_bytes(url)
    responses = storage.read_parquet(url)
    moved = responses.copy()
    moved["response_date"] = (pd.to_datetime(moved["response_date"]) + pd.Timedelta(weeks=20)).dt.date
    try:
        storage.write_parquet(moved, url)
        again = _map(staged, units, tmp_path / "two", cache)
    finally:
        storage.write_bytes(original, url)
    assert sorted(again["recomputed"]) == bip_ids and sorted(again["reused"]) == others
    before = combine_first_hits(storage.read_parquet(sorted(first["urls"][BIP_FIRST_HITS])))
    after = combine_first_hits(storage.read_parquet(sorted(again["urls"][BIP_FIRST_HITS])))
    weeks = _gathered(staged)[2]
    pd.testing.assert_frame_equal(after, first_hits(moved, weeks))  # the moved responses' hits, not stale ones
    pd.testing.assert_frame_equal(before, first_hits(responses, weeks))
    assert not before.equals(after)

    same = _map(staged, units, tmp_path / "three", cache)  # the original responses: all reused
    assert sorted(same["reused"]) == sorted([*bip_ids, *others]) and not same["recomputed"]


def test_the_map_step_reads_bip_responses_only_for_a_batch_with_a_bip_jobcentre(staged, tmp_path, monkeypatch):
    bip_ids = staged_bip_jobcentre_ids(staged["staged"])
    others = [u for u in plan_units(staged["rows"], 10**9) if u.jobcentre_id not in bip_ids]
    read = []
    real = storage.read_parquet
    monkeypatch.setattr(storage, "read_parquet", lambda url, *a, **k: (read.append(str(url)), real(url, *a, **k))[1])
    info = _map(staged, others, tmp_path / "mi", bip_ids=bip_ids)
    assert BIP_FIRST_HITS not in info["urls"]
    assert not [u for u in read if "bip_responses" in u]
