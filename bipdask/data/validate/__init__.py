"""Validate a delivery against the data contract and stage it: reading (:mod:`.read`), the
row and reference rules (:mod:`.rules`), writing the staged and quarantine layers
(:mod:`.write`), and the pass that ties them together (:mod:`.stage`)."""

from bipdask.data.validate.stage import ValidationReport, validate_delivery

__all__ = ["ValidationReport", "validate_delivery"]
