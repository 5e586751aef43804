"""The ``bipdask`` command line (:mod:`.main`) and its progress bar (:mod:`.progress`)."""

from bipdask.cli.main import main

__all__ = ["main"]
