"""The published layer: disclosure control (:mod:`.disclosure`) and the report and command-line
views of a committed run (:mod:`.report`)."""
