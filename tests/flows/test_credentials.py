"""S3 credentials from a Prefect Secret block: into the environment, never into logs or errors."""

from __future__ import annotations

import logging

import pytest

from bipdask.errors import InfrastructureError
from flows.credentials import BLOCK_VARIABLE, S3_VARIABLES, apply_s3_secret_block

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def clean_env(monkeypatch):
    for variable in (*S3_VARIABLES.values(), BLOCK_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.mark.prefect
def test_a_secret_block_fills_the_unset_s3_variables_and_logs_nothing(harness, clean_env, caplog):
    import os

    from prefect.blocks.system import Secret

    Secret(value={"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": SECRET,
                  "endpoint_url": "http://127.0.0.1:9"}).save("bipdask-s3-test", overwrite=True)
    clean_env.setenv("AWS_ENDPOINT_URL", "http://already-set:1")
    clean_env.setenv(BLOCK_VARIABLE, "bipdask-s3-test")
    with caplog.at_level(logging.DEBUG):
        applied = apply_s3_secret_block()
    assert applied == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == SECRET
    assert os.environ["AWS_ENDPOINT_URL"] == "http://already-set:1"  # the environment wins
    assert SECRET not in caplog.text


@pytest.mark.prefect
def test_a_missing_or_malformed_block_is_an_infrastructure_error_without_values(harness, clean_env):
    from prefect.blocks.system import Secret

    with pytest.raises(InfrastructureError, match="could not be loaded"):
        apply_s3_secret_block("no-such-block")
    Secret(value={"aws_secret_access_key": SECRET, "password": SECRET}).save("bipdask-s3-bad", overwrite=True)
    with pytest.raises(InfrastructureError, match="unknown keys: password") as err:
        apply_s3_secret_block("bipdask-s3-bad")
    assert SECRET not in str(err.value)
    Secret(value=SECRET).save("bipdask-s3-plain", overwrite=True)
    with pytest.raises(InfrastructureError, match="JSON object") as err:
        apply_s3_secret_block("bipdask-s3-plain")
    assert SECRET not in str(err.value)


def test_no_block_named_means_nothing_to_do(clean_env):
    assert apply_s3_secret_block() == []
