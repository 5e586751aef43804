"""bipdask: evaluation of employment programmes on register data.

Pure functions and small result objects over pandas/NumPy/Arrow; orchestration lives in
``flows/``. See ``docs/architecture.md`` for the layers and the data flow of a run,
``docs/methods.md`` for the estimands, ``docs/results.md`` for the outputs and
``docs/data-contract.md`` for the inputs.
"""

__version__ = "0.1.0"
