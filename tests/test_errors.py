"""Problem lines: table, column, rule and, when rows are what went wrong, how many."""

from __future__ import annotations

from bipdask.errors import InputError, Problem


def test_a_row_count_is_printed_only_when_rows_are_counted():
    assert Problem("weeks", "week", "not_monday", 10).line() == "weeks.week: not_monday (10 rows)"
    assert Problem("weeks", "", "table delivered twice", 0, "weeks.parquet, weeks/").line() == (
        "weeks: table delivered twice: weeks.parquet, weeks/")
    assert Problem("spec", "seed", "must be a whole number", None).line() == "spec.seed: must be a whole number"


def test_a_plain_message_is_one_line_without_a_count():
    assert str(InputError("delivery folder not found")) == "delivery folder not found"
