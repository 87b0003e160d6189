"""Redaction for logs: enough to correlate, not enough to identify.

Email addresses keep their first letter and domain (`a***@example.com`); phone numbers
and platform ids keep their last three characters. Message text is never logged at
info level anywhere, so there is nothing here for it.
"""

from __future__ import annotations

import re

from functions.core.models import Identity

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")


def redact_email(address: str) -> str:
    local, _, domain = address.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def redact_identity(identity: Identity | None) -> str | None:
    if identity is None:
        return None
    if identity.kind == "email":
        return f"email:{redact_email(identity.value)}"
    return f"{identity.kind}:***{identity.value[-3:]}"


def redact_text(text: str) -> str:
    """Redact addresses and phone numbers inside free text (errors, diagnostics)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: "***" + m.group(0)[-3:], text)
