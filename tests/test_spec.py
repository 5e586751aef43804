"""The evaluation spec (bipdask.spec): every key checked against the one key table before any
work, every problem reported at once (one line each, exit 2), the disclosure floor, the
nearest-key and nearest-spec suggestions; hypothesis: any valid spec round-trips, any
wrong-typed value is an InputError naming its key."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bipdask.errors import EXIT_BAD_INPUT, InputError
from bipdask.spec import (
    DISCLOSURE_FLOOR,
    FLOOR_VARIABLE,
    MAX_SEED,
    EvaluationSpec,
    Period,
    builtin_specs,
    load_spec,
    parse_spec,
    spec_keys,
)


def hir_raw() -> dict:
    return tomllib.loads(resources.files("bipdask.specs").joinpath("hir.toml").read_text(encoding="utf-8"))


def problems(raw: dict) -> list[str]:
    """The lines of the InputError ``parse_spec(raw)`` raises."""
    with pytest.raises(InputError) as err:
        parse_spec(raw)
    assert err.value.exit_code == EXIT_BAD_INPUT
    return str(err.value).splitlines()


def with_key(dotted: str, value) -> dict:
    raw = copy.deepcopy(hir_raw())
    table, _, leaf = dotted.rpartition(".")
    (raw.setdefault(table, {}) if table else raw)[leaf] = value
    return raw


def test_the_builtin_spec_parses_and_round_trips():
    spec = load_spec("hir")
    assert spec.bootstrap_replicates == 999 and spec.disclosure_min_persons == 5
    assert spec.caseload_trim == (13.0, 50.0) and spec.before == Period(dt.date(2017, 3, 1), dt.date(2018, 2, 28))
    assert parse_spec(spec.to_toml()) == spec


@pytest.mark.parametrize("dotted, value, expected", [
    ("bootstrap_replicates", "many", "spec.bootstrap_replicates: must be a whole number, got a string 'many'"),
    ("bootstrap_replicates", 49.0, "spec.bootstrap_replicates: must be a whole number, got a number 49.0"),
    ("seed", "x", "spec.seed: must be a whole number, got a string 'x'"),
    ("seed", True, "spec.seed: must be a whole number, got a boolean True"),
    ("caseload.trim", "13-50", "spec.caseload.trim: must be [low, high], two numbers, got a string '13-50'"),
    ("caseload.trim", [50, 13], "spec.caseload.trim: must be [low, high] with low < high, got [50, 13]"),
    ("caseload.trim", ["13", 50], "spec.caseload.trim: must be [low, high], two numbers"),
    ("bootstrap_scheme", "multinomal", ("spec.bootstrap_scheme: must be one of multinomial, poisson, "
                                        "got 'multinomal' (did you mean 'multinomial'?)")),
    ("inference", "bayes", "spec.inference: must be one of wild, pairs, analytic"),
    ("cluster", 1, "spec.cluster: must be a string, got an integer 1"),
    ("match_rate_floor", 1.5, "spec.match_rate_floor: must be within 0.0..1.0"),
    ("match_rate_floor", float("nan"), "spec.match_rate_floor: must be a finite number"),
    ("bootstrap_replicates", 10_000, "spec.bootstrap_replicates: must be within 0..9999"),
    ("seed", -1, "spec.seed: must be within 0.."),
    ("periods.before", ["2018-02-28", "2017-03-01"], "spec.periods.before: ends (2017-03-01) before it starts"),
    ("periods.intervention", "2018-03-01", "spec.periods.intervention: must be [start, end] ISO dates"),
    ("periods.last_months", "3", "spec.periods.last_months: must be a whole number"),
    ("name", "", "spec.name: must not be empty"),
])
def test_each_wrong_value_is_one_line_naming_the_key(dotted, value, expected):
    lines = problems(with_key(dotted, value))
    assert len(lines) == 1 and lines[0].startswith(expected), lines


def test_a_string_for_the_treated_list_names_the_real_cause():
    [line] = problems(with_key("treated_jobcentres", "Favrskov"))
    assert line == ('spec.treated_jobcentres: must be a list of job centre names, got a single string "Favrskov"; '
                    'write ["Favrskov"] for one job centre')
    [line] = problems(with_key("treated_jobcentres", ["Favrskov", 7]))
    assert "item 2 is an integer 7" in line


def test_a_misspelt_key_is_an_error_suggesting_the_nearest_key():
    raw = hir_raw()
    raw["bootstrap_replicate"] = 49
    assert problems(raw) == ["spec.bootstrap_replicate: unknown key: did you mean 'bootstrap_replicates'?"]
    # a key of a table written at the top level, and a misspelt key inside a table
    [line] = problems(with_key("trim", [1, 2]))
    assert line == "spec.trim: unknown key: did you mean 'caseload.trim'?"
    [line] = problems(with_key("periods.last_month", 3))
    assert line == "spec.periods.last_month: unknown key: did you mean 'periods.last_months'?"
    [line] = problems(with_key("zzzz", 1))
    assert line.startswith("spec.zzzz: unknown key: known keys: name, treated_jobcentres")


def test_every_problem_is_reported_at_once():
    raw = hir_raw()
    raw.update(bootstrap_replicates="many", seed="x", bootstrap_scheme="none", bootstrap_replicate=49,
               disclosure_min_persons=0)
    raw["caseload"]["trim"] = "13"
    del raw["periods"]["intervention"]
    lines = problems(raw)
    assert len(lines) == 7
    assert {line.split(":")[0] for line in lines} == {
        "spec.bootstrap_replicates", "spec.seed", "spec.bootstrap_scheme", "spec.bootstrap_replicate",
        "spec.disclosure_min_persons", "spec.caseload.trim", "spec.periods.intervention"}


def test_required_keys_and_tables():
    raw = hir_raw()
    del raw["name"], raw["periods"]
    assert sorted(line.split(":")[0] for line in problems(raw)) == [
        "spec.name", "spec.periods.before", "spec.periods.intervention"]
    # a table given as a value: one line for the table, not one per key in it
    assert problems(with_key("periods", 5)) == ["spec.periods: must be a table ([periods]), got an integer 5"]
    assert problems([1, 2]) == ["spec: must be a TOML table of keys"]


@pytest.mark.parametrize("value", [0, -1, DISCLOSURE_FLOOR - 1])
def test_disclosure_control_cannot_be_switched_off(value):
    [line] = problems(with_key("disclosure_min_persons", value))
    assert line.startswith("spec.disclosure_min_persons: must be >= 5, the disclosure floor")


def test_the_disclosure_floor_can_only_be_raised(monkeypatch):
    assert parse_spec(with_key("disclosure_min_persons", 11)).disclosure_min_persons == 11
    monkeypatch.setenv(FLOOR_VARIABLE, "10")
    [line] = problems(with_key("disclosure_min_persons", 8))
    assert line.startswith("spec.disclosure_min_persons: must be >= 10")
    monkeypatch.setenv(FLOOR_VARIABLE, "3")
    with pytest.raises(InputError, match=f"environment.{FLOOR_VARIABLE}: must be a whole number >= 5"):
        parse_spec(hir_raw())


def test_an_unknown_spec_name_lists_the_builtin_specs_and_the_nearest():
    assert "hir" in builtin_specs()
    with pytest.raises(InputError) as err:
        load_spec("hri")
    assert str(err.value) == ("spec: no built-in spec named 'hri': did you mean 'hir'? built-in specs: "
                              f"{', '.join(builtin_specs())}; or give a path to a .toml file")


def test_a_spec_file_with_a_toml_error_or_absent(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(InputError, match="spec file not found: none.toml"):
        load_spec(tmp_path / "none.toml")


def test_every_key_is_documented():
    doc = (Path(__file__).parents[1] / "docs" / "spec.md").read_text(encoding="utf-8")
    for _, sk in spec_keys():
        assert f"`{sk.toml}`" in doc, sk.toml


# --------------------------------------------------------------------------- invariants

DATES = st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31))


@st.composite
def valid_specs(draw) -> EvaluationSpec:
    def period():
        a, b = sorted([draw(DATES), draw(DATES)])
        return Period(a, b)

    low = draw(st.floats(0, 100, allow_nan=False))
    return EvaluationSpec(
        name=draw(st.text(min_size=1, max_size=8).filter(str.strip)),
        treated_jobcentres=tuple(draw(st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=1,
                                               max_size=5))),
        before=period(), intervention=period(),
        last_months=draw(st.integers(1, 120)),
        caseload_baseline=draw(st.none() | st.builds(lambda: period())),
        cluster=draw(st.sampled_from(["jobcentre", "person"])),
        inference_method=draw(st.sampled_from(["wild", "pairs", "analytic"])),
        bootstrap_replicates=draw(st.integers(0, 9999)),
        bootstrap_scheme=draw(st.sampled_from(["multinomial", "poisson"])),
        seed=draw(st.integers(0, MAX_SEED)),
        disclosure_min_persons=draw(st.integers(DISCLOSURE_FLOOR, 1000)),
        match_rate_floor=draw(st.floats(0, 1)),
        fte_hours_per_week=draw(st.floats(1, 168)),
        caseload_trim=(low, low + draw(st.floats(0.5, 100))),
        title=draw(st.text(max_size=20)),
    )


@settings(max_examples=60, deadline=None)
@given(valid_specs())
def test_any_valid_spec_round_trips(spec):
    assert parse_spec(spec.to_toml()) == spec
    assert parse_spec(tomllib.loads(_dump_toml(spec.to_toml()))) == spec


def _dump_toml(mapping: dict) -> str:
    """A minimal TOML writer for the spec's mappings (strings, numbers, lists, one level of tables)."""
    import json

    def value(v):
        if isinstance(v, float):
            return repr(v)
        text = json.dumps(v, ensure_ascii=False)  # TOML basic strings share JSON's escapes but not DEL
        return text.replace("\x7f", "\\u007f") if isinstance(v, str) else text

    def scalar_or_list(v):
        return "[" + ", ".join(value(x) for x in v) + "]" if isinstance(v, list) else value(v)

    top = [f"{k} = {scalar_or_list(v)}" for k, v in mapping.items() if not isinstance(v, dict)]
    for k, v in mapping.items():
        if isinstance(v, dict):
            top += [f"[{k}]", *(f"{kk} = {scalar_or_list(vv)}" for kk, vv in v.items())]
    return "\n".join(top) + "\n"


WRONG = st.one_of(st.text(max_size=5), st.booleans(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.lists(st.booleans(), max_size=3), st.floats(allow_nan=True, allow_infinity=True), st.integers())


def _is_of_kind(kind: str, v) -> bool:
    """Whether ``v`` has the type of a key of ``kind`` (so a wrong-typed draw can be recognised)."""
    if kind in ("str", "choice"):
        return isinstance(v, str)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, list) and kind in ("names", "dates", "pair")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([sk for _, sk in spec_keys()]), WRONG)
def test_any_wrong_typed_value_is_an_input_error_naming_its_key(sk, value):
    raw = with_key(sk.toml, value)
    try:
        spec = parse_spec(raw)
    except InputError as err:
        lines = str(err).splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"spec.{sk.toml}:"), lines
        return
    # accepted: only a value of the key's own type that meets its constraint
    assert _is_of_kind(sk.kind, value), (sk.toml, value)
    assert parse_spec(spec.to_toml()) == spec
