"""The HIR part of the synthetic delivery: calibration targets (:mod:`.params`), per-job-centre plans
(:mod:`.plan`) and simulation (:mod:`.jobcentre`), caseworkers and assignment records
(:mod:`.caseworkers`), municipalities (:mod:`.geography`) and the population truth (:mod:`.truth`)."""
