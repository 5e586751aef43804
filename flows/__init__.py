"""Prefect flows over :mod:`bipdask` (orchestration only: the math lives in bipdask/).

Importing this package sets quiet defaults for Prefect and Dask *before* Prefect is imported
(Prefect reads its settings once, at import, and hands them to its temporary server and to
Dask workers): Prefect logs at WARNING, task/flow failure tracebacks are left to the CLI's
one-line error, distributed logs at ERROR, and the local server sends no telemetry. Values
the user exported win; ``BIPDASK_DEBUG=1`` keeps Prefect's own defaults.
"""

import os

QUIET_ENV = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "CRITICAL",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DASK_LOGGING__DISTRIBUTED": "error",
}

if not os.environ.get("BIPDASK_DEBUG"):
    for _name, _value in QUIET_ENV.items():
        os.environ.setdefault(_name, _value)
