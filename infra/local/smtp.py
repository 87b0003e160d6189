"""The local stack's inbound mail server: what SES receiving does, on a laptop.

A mail accepted over SMTP is stored in the raw-mail bucket under `raw/<id>` and a SES
"Received" notification for it is handed to email_ingest through the async invoker,
exactly as SES -> S3 -> SNS -> Lambda does in AWS. Like a SES receipt rule, it only
accepts recipients in the domains we receive for.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from infra.local import ses

log = logging.getLogger("helpline.dev.smtp")


class SesLikeHandler:
    def __init__(
        self,
        *,
        s3_client: Any,
        bucket: str,
        topic_arn: str,
        domains: Iterable[str],
        deliver: Callable[[dict[str, Any]], Any],
        max_bytes: int = 40 * 1024 * 1024,
    ) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.topic_arn = topic_arn
        self.domains = {d.lower() for d in domains}
        self.deliver = deliver
        self.max_bytes = max_bytes

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
            return "552 5.3.4 message too big"
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
