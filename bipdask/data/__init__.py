"""The raw → staged layer: the data contract, reading a delivery (DREAM wide or long), ISO weeks,
and validating and staging a delivery (:mod:`.validate`). See ``docs/data-contract.md``."""
