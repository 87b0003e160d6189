"""The local stack's inbound mail server: what SES receiving does, on a laptop.

A mail accepted over SMTP is stored in the raw-mail bucket under `raw/<id>` and a SES
"Received" notification for it is handed to email_ingest through the async invoker,
exactly as SES -> S3 -> SNS -> Lambda does in AWS. Like a SES receipt rule, it only
accepts recipients in the domains we receive for.

Size, as SES receiving has it: a mail of up to 40 MB (headers included) is taken and
stored, whatever `email.max_message_mb` says; email_ingest quarantines one over that as
`too_large`. A bigger mail is refused during the SMTP conversation with 552 5.3.4, at
MAIL FROM when the sender declares its size (RFC 1870), else at the end of DATA, so the
sender's own server bounces it and nothing is stored.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from infra.local import ses

log = logging.getLogger("helpline.dev.smtp")
SES_MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # what SES receiving stores to S3, headers included
# aiosmtpd counts the bytes on the wire, dot-stuffing included, which the stored mail does
# not have: its own limit leaves room, and the exact limit is checked on the mail itself
TRANSPORT_MARGIN_BYTES = 4 * 1024 * 1024
TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"


class SesLikeHandler:
    def __init__(
        self,
        *,
        s3_client: Any,
        bucket: str,
        topic_arn: str,
        domains: Iterable[str],
        deliver: Callable[[dict[str, Any]], Any],
        max_bytes: int = SES_MAX_MESSAGE_BYTES,
    ) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.topic_arn = topic_arn
        self.domains = {d.lower() for d in domains}
        self.deliver = deliver
        self.max_bytes = max_bytes

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        declared = next((o[5:] for o in mail_options if o.upper().startswith("SIZE=")), "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return TOO_BIG  # the sender said how big it is: no need to take it first
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        domain = address.rsplit("@", 1)[-1].lower().rstrip(">")
        if domain not in self.domains:
            return "550 5.1.1 mailbox unavailable: we do not receive mail for that domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        if len(raw) > self.max_bytes:
            return TOO_BIG
        ses_id = uuid.uuid4().hex
        key = f"raw/{ses_id}"
        # the same order as SES: store first, then notify; if storing fails the client retries
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=raw)
        notification = ses.receipt_notification(
            raw,
            bucket=self.bucket,
            key=key,
            topic_arn=self.topic_arn,
            envelope_from=envelope.mail_from or "",
            recipients=[r.lower() for r in envelope.rcpt_tos],
            ses_message_id=ses_id,
        )
        self.deliver(ses.sns_event(notification, topic_arn=self.topic_arn))
        log.info("accepted mail %s (%d bytes)", ses_id, len(raw))
        return f"250 2.0.0 Ok: queued as {ses_id}"


def controller(handler: SesLikeHandler, *, hostname: str, port: int) -> Any:
    """The SMTP server for `handler`, taking as much as SES takes (aiosmtpd's own default
    is 32 MiB, which would refuse mail that SES takes)."""
    from aiosmtpd.controller import Controller

    return Controller(
        handler,
        hostname=hostname,
        port=port,
        server_hostname="helpline.local",
        data_size_limit=handler.max_bytes + TRANSPORT_MARGIN_BYTES,
    )
