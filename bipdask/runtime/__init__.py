"""Storage and run bookkeeping: the run layout, atomic writes and the commit (:mod:`.storage`), one
writer per run (:mod:`.claims`) and the per-job-centre model-input cache (:mod:`.input_cache`)."""
