"""Signed tokens: chat sessions, agent logins and survey links.

A token is `<payload>.<signature>`, both base64url without padding. The payload is
compact JSON carrying a purpose (`aud`), an expiry (`exp`, epoch seconds) and the
claims; the signature is HMAC-SHA256 over the encoded payload with a secret from
config. A token minted for one purpose is refused for another, so a survey link can
never open a chat session. Everything wrong with a token is the sender's fault:
`RejectedInput` with code `bad_token` or `expired_token`, never another exception,
whatever the input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from functions.core.errors import RejectedInput

MAX_TOKEN_CHARS = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign(
    purpose: str,
    claims: Mapping[str, Any],
    *,
    secret: bytes,
    now: datetime,
    ttl: timedelta,
) -> str:
    """Mint a token for `purpose` carrying `claims`, valid for `ttl` from `now`."""
    if not secret:
        raise ValueError("a token secret must not be empty")
    body = {**claims, "aud": purpose, "exp": int((now + ttl).timestamp())}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_signature(secret, payload)}"


def verify(token: Any, purpose: str, *, secret: bytes, now: datetime) -> dict[str, Any]:
    """The claims of a valid, unexpired token for `purpose`; RejectedInput otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise RejectedInput("bad_token", "the token is missing or malformed", status=401)
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature or not payload.isascii() or not signature.isascii():
        raise RejectedInput("bad_token", "the token is missing or malformed", status=401)
    expected = _signature(secret, payload)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise RejectedInput("bad_token", "the token's signature does not match", status=401)
    try:
        claims = json.loads(_unb64(payload).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise RejectedInput("bad_token", "the token is missing or malformed", status=401) from None
    if not isinstance(claims, dict) or claims.get("aud") != purpose:
        raise RejectedInput("bad_token", "the token is not valid here", status=401)
    expires = claims.get("exp")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise RejectedInput("bad_token", "the token has no expiry", status=401)
    if now.timestamp() >= expires:
        raise RejectedInput("expired_token", "the token has expired", status=401)
    return claims
