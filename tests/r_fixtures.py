"""Where the R reference numbers live (``fixtures/r/``: CSVs written by the R scripts next to
them, with ``survival`` and ``sandwich``; CI reads them and needs no R)."""

from pathlib import Path

R_FIXTURES = Path(__file__).parent / "fixtures" / "r"
