"""bipdask: evaluation of employment programmes on register data.

Pure functions and small result objects over pandas/NumPy/Arrow; orchestration lives in
``flows/``. See ``docs/data-contract.md`` for the inputs and DESIGN.md for the estimands.
"""

__version__ = "0.1.0"
