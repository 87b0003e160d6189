"""email_ingest: SES stored a mail in S3 and told us through SNS; make it a ticket.

One SNS record carries one SES receipt notification. The raw MIME is read from S3,
parsed, and every resulting message goes through the shared intake pipeline. Input
that can never be processed (not a SES notification, not a mail, too large) is
quarantined with its reason and acknowledged; anything else that fails (S3 missing the
object, DynamoDB throttling) raises so Lambda retries, then dead-letters it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.blobs import BlobStore, ObjectRef
from functions.core.channels import email as email_channel
from functions.core.config import Config
from functions.core.errors import RejectedInput
from functions.core.models import Channel
from functions.core.pipeline import Intake, Outcome
from functions.core.timeutil import from_iso, utcnow

log = logging.getLogger("helpline.email_ingest")

VERDICTS = ("spam", "virus", "spf", "dkim", "dmarc")


@dataclass(frozen=True, slots=True)
class SesReceipt:
    """The parts of a SES "Received" notification we use."""

    ses_message_id: str
    bucket: str
    key: str
    recipients: tuple[str, ...]
    timestamp: datetime
    verdicts: tuple[tuple[str, str], ...]
    source: str  # the envelope sender
    notification: dict[str, Any]


def parse_receipt(text: str | Mapping[str, Any]) -> SesReceipt:
    """Read a SES receipt notification (the SNS message). RejectedInput if it is not one."""
    try:
        data = json.loads(text) if isinstance(text, str) else dict(text)
    except (TypeError, ValueError) as exc:
        raise RejectedInput("not_json", "the SNS message is not JSON") from exc
    if not isinstance(data, dict) or data.get("notificationType") != "Received":
        kind = data.get("notificationType") if isinstance(data, dict) else type(data).__name__
        raise RejectedInput("not_a_receipt", f"not a SES receipt notification ({kind!r})")
    receipt = data.get("receipt") or {}
    mail = data.get("mail") or {}
    action = receipt.get("action") or {}
    if action.get("type") != "S3" or not action.get("bucketName") or not action.get("objectKey"):
        raise RejectedInput("no_s3_action", "the receipt does not say where the mail was stored")
    verdicts = tuple(
        (name, str((receipt.get(f"{name}Verdict") or {}).get("status", "")).upper())
        for name in VERDICTS
        if receipt.get(f"{name}Verdict")
    )
    stamp = receipt.get("timestamp") or mail.get("timestamp")
    try:
        timestamp = from_iso(stamp) if stamp else utcnow()
    except ValueError:
        timestamp = utcnow()
    return SesReceipt(
        ses_message_id=str(mail.get("messageId") or action.get("objectKey")),
        bucket=str(action["bucketName"]),
        key=str(action["objectKey"]),
        recipients=tuple(
            str(r).lower() for r in receipt.get("recipients") or mail.get("destination") or ()
        ),
        timestamp=timestamp,
        verdicts=verdicts,
        source=str(mail.get("source") or ""),
        notification=data,
    )


class EmailIngestService:
    def __init__(self, *, config: Config, intake: Intake, blobs: BlobStore) -> None:
        self.config = config
        self.intake = intake
        self.blobs = blobs

    def handle_notification(self, text: str | Mapping[str, Any]) -> list[Outcome]:
        try:
            receipt = parse_receipt(text)
        except RejectedInput as exc:
            raw = text if isinstance(text, str) else json.dumps(text)
            return [
                self.intake.quarantine(
                    channel=Channel.EMAIL,
                    reason=exc.code,
                    detail=exc.reason,
                    received_at=utcnow(),
                    raw_ref=None,
                    event={"type": "ses", "notification_text": raw[:100_000]},
                    external_id=None,
                )
            ]
        return self.handle_receipt(receipt)

    def handle_receipt(self, receipt: SesReceipt) -> list[Outcome]:
        ref = ObjectRef(receipt.bucket, receipt.key)
        replay_event = {"type": "ses", "notification": receipt.notification}
        raw = self.blobs.get(ref)  # MissingObjectError is ours: retried
        limit = self.config.email.max_message_mb * 1024 * 1024
        if len(raw) > limit:
            return [
                self._quarantine(
                    receipt, "too_large", f"{len(raw)} bytes is over {limit}", replay_event
                )
            ]
        try:
            messages = email_channel.normalize(
                raw,
                account=self._account(receipt.recipients),
                received_at=receipt.timestamp,
                raw_ref=ref.uri(),
                verdicts=receipt.verdicts,
            )
        except RejectedInput as exc:
            return [
                self._quarantine(receipt, "unparseable", f"{exc.code}: {exc.reason}", replay_event)
            ]
        return [self.intake.process(message, replay_event=replay_event) for message in messages]

    def _account(self, recipients: Sequence[str]) -> str:
        ours = self.config.email.addresses
        for recipient in recipients:
            if recipient in ours:
                return recipient
        return self.config.brand.support_address

    def _quarantine(
        self, receipt: SesReceipt, reason: str, detail: str, event: dict[str, Any]
    ) -> Outcome:
        return self.intake.quarantine(
            channel=Channel.EMAIL,
            reason=reason,
            detail=detail,
            received_at=receipt.timestamp,
            raw_ref=ObjectRef(receipt.bucket, receipt.key).uri(),
            event=event,
            external_id=f"ses:{receipt.ses_message_id}",
        )
