"""flows/settings.py: a bad BIPDASK_MAX_UNIT_ROWS or BIPDASK_BIP_BLOCK_REPLICATES is a configuration
error naming the variable, its value and the rule; unset or empty is the default."""

from __future__ import annotations

import pytest

from bipdask.errors import EXIT_BAD_INPUT, InputError
from bipdask.prepare.partitions import MAX_UNIT_ROWS
from flows import settings
from flows.evaluate import bip_replicate_windows, max_unit_rows


@pytest.mark.parametrize("raw", ["0", "-3", "abc", "1.5", "4e5", "400 000"])
@pytest.mark.parametrize("name", settings.POSITIVE_INT_VARIABLES)
def test_a_bad_value_is_an_exit_2_error_naming_variable_value_and_rule(monkeypatch, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(InputError) as exc:
        settings.positive_int(name)
    assert exc.value.exit_code == EXIT_BAD_INPUT
    assert str(exc.value) == f"environment.{name}: must be a positive whole number: got {raw!r}"


def test_unset_or_empty_is_the_default_and_a_positive_value_is_used(monkeypatch):
    for name in settings.POSITIVE_INT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert max_unit_rows() == MAX_UNIT_ROWS and bip_replicate_windows(999, 2) == [(0, 500), (500, 999)]
    monkeypatch.setenv(settings.MAX_UNIT_ROWS_VARIABLE, "  ")
    assert max_unit_rows() == MAX_UNIT_ROWS
    monkeypatch.setenv(settings.MAX_UNIT_ROWS_VARIABLE, " 500 ")
    monkeypatch.setenv(settings.BIP_BLOCK_REPLICATES_VARIABLE, "400")
    assert max_unit_rows() == 500 and bip_replicate_windows(999, 2) == [(0, 400), (400, 800), (800, 999)]


def test_the_flow_helpers_raise_instead_of_falling_back(monkeypatch):
    monkeypatch.setenv(settings.MAX_UNIT_ROWS_VARIABLE, "0")
    monkeypatch.setenv(settings.BIP_BLOCK_REPLICATES_VARIABLE, "many")
    with pytest.raises(InputError, match="BIPDASK_MAX_UNIT_ROWS"):
        max_unit_rows()
    with pytest.raises(InputError, match="BIPDASK_BIP_BLOCK_REPLICATES"):
        bip_replicate_windows(999, 2)
    with pytest.raises(InputError) as exc:
        settings.check_settings()
    assert [p.column for p in exc.value.problems] == list(settings.POSITIVE_INT_VARIABLES)
