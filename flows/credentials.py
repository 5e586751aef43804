"""S3 credentials from a Prefect ``Secret`` block, for sites that keep them in Prefect rather
than in the environment of the process (credentials never in code, files or logs: see
``docs/architecture.md``).

The block holds a JSON object with any of the keys of :data:`S3_VARIABLES`; its values are put
into this process's environment, where :func:`bipdask.runtime.storage.storage_options` and botocore
find them, before the LocalCluster starts (its workers inherit them). Variables already set in
the environment win. Workers of an external Dask cluster need the same variables in their own
environment (a Kubernetes Secret, see ``infra/``). Nothing here logs or returns a value.
"""

from __future__ import annotations

import os

from bipdask.errors import InfrastructureError

BLOCK_VARIABLE = "BIPDASK_S3_SECRET_BLOCK"  # the block's name, when not given as an argument
S3_VARIABLES = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "endpoint_url": "AWS_ENDPOINT_URL",
    "region_name": "AWS_DEFAULT_REGION",
}


def apply_s3_secret_block(name: str | None = None) -> list[str]:
    """Load the Secret block ``name`` (or ``$BIPDASK_S3_SECRET_BLOCK``) into the environment.

    Returns the names of the variables it set (not their values); ``[]`` when no block is named.
    Raises :class:`InfrastructureError` (exit 3) when the block cannot be loaded or is not a
    JSON object of the known keys — the message names the block and the keys, never a value.
    """
    name = name or os.environ.get(BLOCK_VARIABLE) or None
    if not name:
        return []
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()
    except Exception as exc:  # noqa: BLE001 - not found, API down: one line, no detail that could hold a value
        raise InfrastructureError(f"S3 secret block {name!r} could not be loaded ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise InfrastructureError(f"S3 secret block {name!r} must hold a JSON object with keys "
                                  f"{', '.join(sorted(S3_VARIABLES))}")
    unknown = sorted(set(value) - set(S3_VARIABLES))
    if unknown:
        raise InfrastructureError(f"S3 secret block {name!r} has unknown keys: {', '.join(unknown)}")
    applied = []
    for key, variable in S3_VARIABLES.items():
        if value.get(key) and not os.environ.get(variable):
            os.environ[variable] = str(value[key])
            applied.append(variable)
    return applied
