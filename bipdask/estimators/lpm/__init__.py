"""Linear (probability) models: the fit with absorbed fixed effects (:mod:`.model`), the
absorption itself (:mod:`.absorb`) and the cluster bootstrap from per-cluster moments
(:mod:`.replicates`)."""

from bipdask.estimators.lpm.model import CONS, LinearResult, lpm, refit_replicate

__all__ = ["CONS", "LinearResult", "lpm", "refit_replicate"]
