"""boto3 clients, created once per container on first use.

Endpoints come from the standard AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>
variables (that is how the local stack and moto server are reached), so nothing here
passes `endpoint_url`. Services take clients through their constructors; this is only
the default factory the composition roots use.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config as BotoConfig

_lock = threading.Lock()
_clients: dict[str, Any] = {}

# Lambda gives a function seconds, not minutes: fail fast and let the platform retry.
_BOTO_CONFIG = BotoConfig(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


_session: Any = None
# callables run on each new shared session: the local stack and the fault-injection
# tests register botocore event handlers here; nothing in production does
_session_hooks: list[Any] = []


def add_session_hook(hook: Any) -> None:
    """Run `hook(session)` on the shared session (now, and after every reset)."""
    with _lock:
        _session_hooks.append(hook)
        if _session is not None:
            hook(_session)


def clear_session_hooks() -> None:
    with _lock:
        _session_hooks.clear()


def client(service: str) -> Any:
    """A shared client for `service`, built on first use.

    All clients come from one boto3 session, so botocore reads its endpoint and
    partition data once per container rather than once per client (a cold start cost).
    """
    existing = _clients.get(service)
    if existing is not None:
        return existing
    global _session
    with _lock:
        if service not in _clients:
            import boto3

            if _session is None:
                _session = boto3.session.Session()
                for hook in _session_hooks:
                    hook(_session)
            _clients[service] = _session.client(service, config=_BOTO_CONFIG)
        return _clients[service]


def endpoint_client(service: str, endpoint_url: str | None) -> Any:
    """A shared client for a service whose endpoint is per deployment (the WebSocket
    API's Management API); None lets AWS_ENDPOINT_URL_<SERVICE> decide."""
    if endpoint_url is None:
        return client(service)
    key = f"{service}@{endpoint_url}"
    existing = _clients.get(key)
    if existing is not None:
        return existing
    client(service)  # builds the shared session
    with _lock:
        if key not in _clients:
            _clients[key] = _session.client(service, endpoint_url=endpoint_url, config=_BOTO_CONFIG)
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between runs)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
