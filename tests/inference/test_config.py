"""The one inference record (bipdask.inference.config): validation, immutability, the spec's record."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bipdask.inference.config import ANALYTIC, Inference
from bipdask.spec import load_spec


def test_defaults_are_no_replicates_person_clusters_95_percent():
    inf = Inference()
    assert (inf.replicates, inf.seed, inf.scheme, inf.cluster, inf.alpha, inf.method) == (
        0, 0, "multinomial", "person_id", 0.05, "pairs")
    assert not inf.bootstrap
    assert ANALYTIC.method == "analytic" and ANALYTIC.replicates == 0


@pytest.mark.parametrize("bad", [dict(replicates=-1), dict(replicates=1.5), dict(scheme="wild"),
                                 dict(method="bayes"), dict(alpha=0.0), dict(alpha=1.0),
                                 dict(method="analytic", replicates=99)])
def test_invalid_records_are_refused(bad):
    with pytest.raises(ValueError):
        Inference(**bad)


def test_record_is_frozen_and_replace_copies():
    inf = Inference(replicates=99, seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inf.seed = 4  # type: ignore[misc]
    other = inf.replace(seed=4)
    assert (inf.seed, other.seed, other.replicates) == (3, 4, 99)


@given(b=st.integers(0, 9999), seed=st.integers(0, 2**31), scheme=st.sampled_from(["multinomial", "poisson"]))
def test_estimator_kwargs_carry_exactly_the_bootstrap_settings(b, seed, scheme):
    kw = Inference(replicates=b, seed=seed, scheme=scheme, cluster="jobcentre_id").estimator_kwargs()
    assert kw == {"bootstrap": b, "seed": seed, "scheme": scheme}


def test_spec_builds_the_runs_record():
    spec = load_spec("hir")
    inf = spec.inference(seed=11)
    assert inf.replicates == spec.bootstrap_replicates and inf.scheme == spec.bootstrap_scheme
    assert inf.seed == 11 and spec.inference().seed == spec.seed
    # the built-in HIR spec tests at the level where the caseload cap was assigned
    assert (inf.cluster, inf.method) == ("jobcentre_id", "wild")
    pairs = dataclasses.replace(spec, cluster="person", inference_method="pairs").inference()
    assert (pairs.cluster, pairs.method, pairs.replicates) == ("person_id", "pairs", spec.bootstrap_replicates)
    assert dataclasses.replace(spec, inference_method="analytic").inference().replicates == 0


def test_an_unknown_inference_method_in_a_spec_is_an_input_error():
    import tomllib
    from importlib import resources

    from bipdask.errors import InputError
    from bipdask.spec import parse_spec

    raw = tomllib.loads(resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8"))
    with pytest.raises(InputError, match="inference"):
        parse_spec({**raw, "inference": "bayes"})
    assert parse_spec({k: v for k, v in raw.items() if k not in ("inference", "cluster")}).inference().method == "wild"


def test_a_design_fixed_unit_keeps_its_own_clusters_and_a_pairs_bootstrap():
    wild = Inference(method="wild", replicates=99, seed=4, cluster="jobcentre_id")
    assert wild.at_unit("person_id") == Inference(method="pairs", replicates=99, seed=4, cluster="person_id")
    assert ANALYTIC.at_unit("caseworker_id") == Inference(method="analytic", cluster="caseworker_id")


def test_an_unknown_bootstrap_scheme_in_a_spec_is_an_input_error_not_a_crash():
    import tomllib
    from importlib import resources

    from bipdask.errors import InputError
    from bipdask.spec import parse_spec

    raw = tomllib.loads(resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8"))
    with pytest.raises(InputError, match="spec.bootstrap_scheme"):
        parse_spec({**raw, "bootstrap_scheme": "jackknife"})
