"""The staged → model-input layer: per job centre, the caseload linkage, spells, weekly outcomes and
sufficient statistics of the HIR analyses; the BIP outcome, sample and covariates."""
