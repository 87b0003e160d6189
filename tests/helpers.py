"""Test helpers shared by functional and end-to-end tests."""

from __future__ import annotations

import email
import os
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _find_corpora() -> Path:
    """Third-party test data: $HELPLINE_CORPORA, else ../shared/corpora beside the
    checkout, else this workplace's /work/shared/corpora (CI clones live elsewhere)."""
    configured = os.environ.get("HELPLINE_CORPORA")
    if configured:
        return Path(configured)
    for candidate in (REPO.parent / "shared" / "corpora", Path("/work/shared/corpora")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "corpora"


CORPORA = _find_corpora()


def corpus(*parts: str) -> Path:
    """A path inside ../shared/corpora; the caller skips when it is absent."""
    return CORPORA.joinpath(*parts)


def make_mail(
    *,
    sender: str = "Ana García <ana@example.com>",
    to: str = "support@helpline.test",
    subject: str = "Question about my order",
    text: str = "Hello, my order has not arrived yet. Can you check where it is? Thank you very much.",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
) -> bytes:
    """A mail as a real client builds it (EmailMessage, as smtplib would send)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(date) if date else email.utils.formatdate(localtime=False)
    mail["Message-ID"] = message_id or make_msgid(domain="example.com")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    if html:
        mail.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes()


def parse(raw: bytes | str) -> Any:
    data = raw.encode() if isinstance(raw, str) else raw
    return email.message_from_bytes(data, policy=default_policy)


def body_text(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""
