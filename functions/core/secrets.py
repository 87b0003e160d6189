"""Secrets by reference: the config names where a secret lives, never the secret.

A reference is `ssm:/path/name` (an SSM SecureString) or `secretsmanager:name` (a
Secrets Manager secret). Values are fetched through Powertools Parameters, which
caches them per container (`max_age`), so a webhook does not pay an SSM call per
delivery. The local stack writes its demo secrets into the embedded AWS's SSM, so the
same code path runs on a laptop as in an account.

Secret values never appear in logs, reprs or errors: `SecretRef` prints its name only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.core.errors import ConfigError, HelplineError

SCHEMES = ("ssm", "secretsmanager")
DEFAULT_MAX_AGE_SECONDS = 300


class SecretUnavailableError(HelplineError):
    """The referenced secret could not be read (missing, or no permission): ours, retried."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    scheme: str  # ssm | secretsmanager
    name: str

    @classmethod
    def parse(cls, value: Any, path: str) -> SecretRef:
        """Read `ssm:/x/y` or `secretsmanager:x`; ConfigError naming the field otherwise."""
        if not isinstance(value, str) or ":" not in value:
            raise ConfigError(
                path,
                "must be a secret reference like 'ssm:/helpline/prod/name' or "
                "'secretsmanager:name' (secrets are never written in the config)",
            )
        scheme, _, name = value.partition(":")
        if scheme not in SCHEMES or not name.strip():
            raise ConfigError(
                path, f"unknown secret reference {value!r} (use ssm: or secretsmanager:)"
            )
        return cls(scheme, name.strip())

    def __str__(self) -> str:
        return f"{self.scheme}:{self.name}"


class SecretResolver:
    """Reads secrets through Powertools' cached providers; clients are injected or lazy."""

    def __init__(
        self,
        *,
        client_factory: Callable[[str], Any] | None = None,
        max_age: int = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._client_factory = client_factory
        self._max_age = max_age
        self._providers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _provider(self, scheme: str) -> Any:
        with self._lock:
            if scheme not in self._providers:
                from aws_lambda_powertools.utilities import parameters

                client = (
                    self._client_factory(scheme_service(scheme)) if self._client_factory else None
                )
                if scheme == "ssm":
                    self._providers[scheme] = parameters.SSMProvider(boto3_client=client)
                else:
                    self._providers[scheme] = parameters.SecretsProvider(boto3_client=client)
            return self._providers[scheme]

    def get(self, ref: SecretRef) -> str:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        provider = self._provider(ref.scheme)
        try:
            if ref.scheme == "ssm":
                value = provider.get(ref.name, max_age=self._max_age, decrypt=True)
            else:
                value = provider.get(ref.name, max_age=self._max_age)
        except GetParameterError as exc:
            # the exception text may quote the request, never the value: keep only the name
            raise SecretUnavailableError(f"cannot read secret {ref}") from exc
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str) or not value:
            raise SecretUnavailableError(f"secret {ref} is empty")
        return value

    def get_bytes(self, ref: SecretRef) -> bytes:
        return self.get(ref).encode("utf-8")


def scheme_service(scheme: str) -> str:
    return "ssm" if scheme == "ssm" else "secretsmanager"


class StaticSecrets:
    """Secrets given directly, by reference: for unit tests and offline tools only."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = dict(values)

    def get(self, ref: SecretRef) -> str:
        try:
            return self._values[str(ref)]
        except KeyError:
            raise SecretUnavailableError(f"cannot read secret {ref}") from None

    def get_bytes(self, ref: SecretRef) -> bytes:
        return self.get(ref).encode("utf-8")
