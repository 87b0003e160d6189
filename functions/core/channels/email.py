"""The email channel: raw MIME in, raw MIME out.

`normalize` turns one received mail into one `InboundMessage`. `EmailSender` sends our
replies through SESv2 as raw MIME, with a Message-ID we can recognise, the threading
headers mail clients use (In-Reply-To, References) and, on automatic mail,
`Auto-Submitted: auto-replied` so other robots do not answer us.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from functions.core.errors import DeliveryError
from functions.core.mime import ParsedMail, parse_mail
from functions.core.models import Channel, Identity, InboundMessage, Message

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
# our outbound Message-IDs: hl.<ticket>.<message>@<domain>
OWN_MESSAGE_ID = re.compile(r"^hl\.([0-9A-Z]{10})\.([0-9A-Z]+)@(.+)$", re.IGNORECASE)
MAX_REFERENCES = 20


def valid_address(address: str | None) -> bool:
    return bool(address) and bool(_EMAIL.match(address or ""))


def _identity(address: str | None) -> Identity | None:
    if address and valid_address(address.strip()):
        return Identity.email(address)
    return None


def external_id_for(parsed: ParsedMail, raw: bytes) -> str:
    """The dedupe key: the sender's Message-ID, or a hash of the bytes without one."""
    if parsed.message_id:
        return parsed.message_id.strip().lower()[:500]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def normalize(
    raw: bytes,
    *,
    account: str,
    received_at: datetime,
    raw_ref: str | None = None,
    verdicts: Sequence[tuple[str, str]] = (),
    parsed: ParsedMail | None = None,
) -> list[InboundMessage]:
    """One mail -> one InboundMessage. Raises RejectedInput if it is not a mail at all."""
    mail = parsed or parse_mail(raw)
    sender = _identity(mail.from_.email if mail.from_ else None)
    alternates = tuple(
        identity
        for identity in (
            _identity(a.email) for a in (*mail.reply_to, *((mail.sender,) if mail.sender else ()))
        )
        if identity is not None and identity != sender
    )
    extra: list[tuple[str, str]] = [("content_type", mail.content_type)]
    if mail.bounce is not None:
        bounce = mail.bounce
        extra += [
            ("dsn.original_message_id", (bounce.original_message_id or "").lower()),
            ("dsn.failed_recipients", ",".join(bounce.failed_recipients)),
            ("dsn.action", bounce.action),
            ("dsn.status", bounce.status),
            ("dsn.diagnostic", bounce.diagnostic[:500]),
            ("dsn.permanent", "yes" if bounce.permanent else "no"),
        ]
    if mail.defects:
        extra.append(("defects", ",".join(mail.defects[:20])))
    language_header = mail.header("Content-Language")
    return [
        InboundMessage(
            channel=Channel.EMAIL,
            external_id=external_id_for(mail, raw),
            received_at=received_at,
            sender=sender,
            sender_name=(mail.from_.name if mail.from_ else "") or "",
            account=account,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            attachments=mail.attachments,
            headers=mail.headers,
            to=tuple(a.formatted() for a in mail.to),
            cc=tuple(a.formatted() for a in mail.cc),
            alternates=alternates,
            in_reply_to=tuple(m.lower() for m in mail.in_reply_to),
            references=tuple(m.lower() for m in mail.references[-MAX_REFERENCES:]),
            locale_hint=language_header.split(",")[0].strip() if language_header else None,
            raw_ref=raw_ref,
            verdicts=tuple(verdicts),
            extra=tuple(extra),
        )
    ]


def outbound_message_id(ticket_id: str, message_id: str, domain: str) -> str:
    return f"hl.{ticket_id}.{message_id}@{domain}".lower()


def ticket_from_own_message_id(message_id: str, domain: str) -> str | None:
    match = OWN_MESSAGE_ID.match(message_id)
    if match and match.group(3).lower() == domain.lower():
        return match.group(1).upper()
    return None


def build_mime(message: Message, *, from_name: str) -> bytes:
    """The raw MIME of a stored outbound message. Deterministic for the same message."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr((from_name, message.sender))
    mail["To"] = ", ".join(r for r in message.recipients if r not in message.cc)
    copied = [r for r in message.cc if r in message.recipients]
    if copied:
        mail["Cc"] = ", ".join(copied)
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    if message.external_id:
        mail["Message-ID"] = f"<{message.external_id}>"
    if message.in_reply_to:
        mail["In-Reply-To"] = f"<{message.in_reply_to[-1]}>"
    if message.references:
        mail["References"] = " ".join(f"<{ref}>" for ref in message.references[-MAX_REFERENCES:])
    mail.set_content(message.text or "")
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    # after the body: set_content() clears every Content-* header, Content-Language too
    for name, value in message.headers.items():
        if name.lower() not in (
            "from",
            "to",
            "cc",
            "subject",
            "date",
            "message-id",
            "in-reply-to",
            "references",
        ):
            mail[name] = value
    return mail.as_bytes()


# SES errors that will not succeed on a retry
_PERMANENT_SES_ERRORS = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
    "NotFoundException",
}


class EmailSender:
    """Sends stored outbound messages through SESv2 as raw MIME."""

    channel = Channel.EMAIL

    def __init__(
        self,
        *,
        from_name: str,
        client: SESV2Client | None = None,
        client_factory: Callable[[], SESV2Client] | None = None,
        configuration_set: str | None = None,
    ) -> None:
        self.from_name = from_name
        self.configuration_set = configuration_set
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> SESV2Client:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3

                self._client = boto3.client("sesv2")
        return self._client

    def send(self, message: Message) -> str:
        raw = build_mime(message, from_name=self.from_name)
        kwargs: dict[str, object] = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": list(message.recipients)},
            "Content": {"Raw": {"Data": raw}},
        }
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**kwargs)  # type: ignore[arg-type]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            detail = exc.response.get("Error", {}).get("Message", code)
            permanent = code in _PERMANENT_SES_ERRORS or (
                400 <= status < 500
                and status != 429
                and "Throttl" not in code
                and "TooMany" not in code
            )
            raise DeliveryError(f"SES {code}: {detail}", permanent=permanent) from exc
        return str(response.get("MessageId", ""))
