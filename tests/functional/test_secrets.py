"""Secrets by reference, read from SSM and Secrets Manager (moto) through Powertools."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from functions.core.errors import ConfigError
from functions.core.secrets import SecretRef, SecretResolver, SecretUnavailableError


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def test_an_ssm_secure_string_and_a_secrets_manager_secret_are_read(session):
    session.client("ssm").put_parameter(
        Name="/helpline/test/app-secret", Value="meta-secret", Type="SecureString"
    )
    session.client("secretsmanager").create_secret(Name="helpline-test-x", SecretString="x-secret")
    resolver = SecretResolver(client_factory=session.client)
    assert resolver.get(SecretRef.parse("ssm:/helpline/test/app-secret", "f")) == "meta-secret"
    assert resolver.get(SecretRef.parse("secretsmanager:helpline-test-x", "f")) == "x-secret"


def test_values_are_cached_so_a_webhook_does_not_pay_a_call_per_delivery(session):
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/helpline/test/token", Value="first", Type="SecureString")
    resolver = SecretResolver(client_factory=session.client)
    ref = SecretRef.parse("ssm:/helpline/test/token", "f")
    assert resolver.get(ref) == "first"
    ssm.put_parameter(
        Name="/helpline/test/token", Value="second", Type="SecureString", Overwrite=True
    )
    assert resolver.get(ref) == "first"  # within max_age the cached value is used
    assert SecretResolver(client_factory=session.client, max_age=0).get(ref) == "second"


def test_a_missing_secret_names_the_reference_but_never_a_value(session):
    resolver = SecretResolver(client_factory=session.client)
    with pytest.raises(SecretUnavailableError) as error:
        resolver.get(SecretRef.parse("ssm:/helpline/test/absent", "f"))
    assert "ssm:/helpline/test/absent" in str(error.value)


@pytest.mark.parametrize("value", ["hunter2", "vault:x", "ssm:", 42, None])
def test_a_bad_reference_fails_naming_the_field(value):
    with pytest.raises(ConfigError) as error:
        SecretRef.parse(value, "social.meta.app_secret")
    assert error.value.field == "social.meta.app_secret"
