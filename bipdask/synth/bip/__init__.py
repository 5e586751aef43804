"""The BIP part of the synthetic delivery: parameters (:mod:`.params`), persons, response schedule and
caseworkers (:mod:`.schedule`), answers (:mod:`.answers`), the 52-week outcome (:mod:`.outcome`),
assembly (:mod:`.delivery`) and truth (:mod:`.truth`)."""
