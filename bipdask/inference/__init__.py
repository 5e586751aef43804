"""Uncertainty: replicate weights and replicate sums (:mod:`.bootstrap`), bootstrap summaries
(:mod:`.pairs`) and the inference record every analysis takes (:mod:`.config`)."""
