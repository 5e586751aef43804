"""The reduce side: the source reports' tables as tidy estimate rows — HIR (:mod:`.hir`), BIP
(:mod:`.bip`) and the estimates schema they share (:mod:`.estimates`). Methods: ``docs/methods.md``."""
