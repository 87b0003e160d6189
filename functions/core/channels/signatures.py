"""Webhook authenticity: Meta's signature and handshake, Telegram's secret, X's CRC.

Every check compares in constant time and fails with `RejectedInput` (401 for a
signature, 403 for a refused handshake, 400 for a malformed challenge), so the handler
answers the sender without storing anything. An empty configured secret is our
mistake, not the sender's: it raises `ConfigError`, because an HMAC under an empty key
is something anyone can compute.

Meta (`X-Hub-Signature-256`): `sha256=` + lowercase hex HMAC-SHA256(app secret, raw
body), computed over the bytes exactly as received; a re-serialized body does not
match. Uppercase hex is refused: Meta only sends lowercase, and accepting one canonical
spelling means a header that differs from what Meta sends is never taken as Meta's.

X: the CRC answer and `x-twitter-webhooks-signature` are `sha256=` + standard base64
HMAC-SHA256(consumer secret, message); the base64 must match exactly too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

from functions.core.errors import ConfigError, RejectedInput

META_SIGNATURE_HEADER = "X-Hub-Signature-256"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
X_SIGNATURE_HEADER = "x-twitter-webhooks-signature"

_PREFIX = "sha256="
_LOWER_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_BASE64_SHA256 = re.compile(r"[A-Za-z0-9+/]{43}=")
_CHALLENGE = re.compile(r"[A-Za-z0-9_.-]{1,256}")
MAX_CRC_TOKEN_CHARS = 1024


def _bytes(value: str) -> bytes:
    # headers may carry anything; never let an encoding error escape as a 500
    return value.encode("utf-8", "replace")


def _require_secret(secret: bytes | str, name: str) -> bytes:
    value = _bytes(secret) if isinstance(secret, str) else secret
    if not value:
        raise ConfigError(name, "the secret is empty; every delivery would be refused or forgeable")
    return value


def _unsigned(reason: str) -> RejectedInput:
    return RejectedInput("bad_signature", reason, status=401)


def _header_digest(header: str | None, header_name: str) -> str:
    if header is None or not header.strip():
        raise _unsigned(f"the {header_name} header is missing")
    value = header.strip()
    if not value.startswith(_PREFIX):
        raise _unsigned(f"the {header_name} header must start with '{_PREFIX}'")
    return value[len(_PREFIX) :]


def meta_signature(raw_body: bytes, app_secret: bytes) -> str:
    """The header value Meta sends for this body (for tests and the local stack)."""
    secret = _require_secret(app_secret, "social.meta.app_secret")
    return _PREFIX + hmac.new(secret, raw_body, hashlib.sha256).hexdigest()


def verify_meta_signature(raw_body: bytes, header: str | None, app_secret: bytes) -> None:
    given = _header_digest(header, META_SIGNATURE_HEADER)
    if not _LOWER_HEX_SHA256.fullmatch(given):
        raise _unsigned(
            f"the {META_SIGNATURE_HEADER} digest must be 64 lowercase hex digits after '{_PREFIX}'"
        )
    expected = meta_signature(raw_body, app_secret)[len(_PREFIX) :]
    if not hmac.compare_digest(_bytes(expected), _bytes(given)):
        raise _unsigned(f"the {META_SIGNATURE_HEADER} signature does not match the body")


def meta_verification_challenge(params: Mapping[str, str], verify_token: str) -> str:
    """Meta's GET handshake: echo `hub.challenge` when the mode and token are right."""
    expected = _require_secret(verify_token, "social.meta.verify_token")
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    if mode != "subscribe":
        raise RejectedInput("verification_failed", "hub.mode must be 'subscribe'", status=403)
    if not isinstance(token, str) or not hmac.compare_digest(_bytes(token), expected):
        raise RejectedInput(
            "verification_failed",
            "hub.verify_token does not match the configured token",
            status=403,
        )
    challenge = params.get("hub.challenge")
    # echoed back verbatim: only the plain token Meta sends, never markup
    if not isinstance(challenge, str) or not _CHALLENGE.fullmatch(challenge):
        raise RejectedInput(
            "bad_challenge", "hub.challenge is missing or not a plain token", status=400
        )
    return challenge


def verify_telegram_secret(header: str | None, secret_token: str) -> None:
    expected = _require_secret(secret_token, "social.telegram.secret_token")
    if header is None or not header:
        raise _unsigned(f"the {TELEGRAM_SECRET_HEADER} header is missing")
    if not hmac.compare_digest(_bytes(header), expected):
        raise _unsigned(f"the {TELEGRAM_SECRET_HEADER} header does not match the configured token")


def _x_digest(message: bytes, consumer_secret: bytes) -> str:
    secret = _require_secret(consumer_secret, "social.x.consumer_secret")
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def x_crc_response(crc_token: str, consumer_secret: bytes) -> str:
    """The `response_token` X expects for a CRC check: `sha256=` + base64 HMAC."""
    if not isinstance(crc_token, str) or not crc_token or len(crc_token) > MAX_CRC_TOKEN_CHARS:
        raise RejectedInput(
            "bad_crc_token",
            f"crc_token must be a non-empty string of at most {MAX_CRC_TOKEN_CHARS} characters",
            status=400,
        )
    return _PREFIX + _x_digest(_bytes(crc_token), consumer_secret)


def x_signature(raw_body: bytes, consumer_secret: bytes) -> str:
    """The header value X sends for this body (for tests and the local stack)."""
    return _PREFIX + _x_digest(raw_body, consumer_secret)


def verify_x_signature(raw_body: bytes, header: str | None, consumer_secret: bytes) -> None:
    given = _header_digest(header, X_SIGNATURE_HEADER)
    if not _BASE64_SHA256.fullmatch(given):
        raise _unsigned(
            f"the {X_SIGNATURE_HEADER} digest must be base64 of 32 bytes after '{_PREFIX}'"
        )
    expected = _x_digest(raw_body, consumer_secret)
    if not hmac.compare_digest(_bytes(expected), _bytes(given)):
        raise _unsigned(f"the {X_SIGNATURE_HEADER} signature does not match the body")
