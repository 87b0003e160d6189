"""Admin operations on a running Helpline: what is quarantined, and replaying it.

Two places hold input that did not become a ticket: quarantine records in the table
(the sender's fault, with a reason: a virus, no sender, not a mail...) and the inbound
mail dead-letter queue (ours: every try failed, for example DynamoDB was throttling).
`entries()` lists both; `replay(id)` runs one through email_ingest again. A replayed
dead-letter message is deleted from the queue only when the run succeeds.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from functions.core.store import TicketStore
from functions.core.timeutil import to_iso, utcnow
from functions.email_ingest.service import EmailIngestService

DEAD_LETTER_PREFIX = "D-"


class Admin:
    def __init__(
        self,
        *,
        store: TicketStore,
        email: EmailIngestService,
        sqs_client: Any,
        mail_dlq_url: str | None,
    ) -> None:
        self.store = store
        self.email = email
        self.sqs = sqs_client
        self.mail_dlq_url = mail_dlq_url

    # -- listing ---------------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        records = [
            {
                "id": record.id,
                "source": "quarantine",
                "channel": record.channel.value,
                "reason": record.reason,
                "detail": record.detail,
                "received_at": to_iso(record.received_at),
                "sender": record.sender,
                "subject": record.subject,
                "raw_ref": record.raw_ref,
                "replayed_at": to_iso(record.replayed_at) if record.replayed_at else None,
                "replay_result": record.replay_result,
            }
            for record in self.store.list_quarantine(limit=500)
        ]
        for message in self._peek_dead_letters():
            attributes = message.get("MessageAttributes", {})
            records.append(
                {
                    "id": DEAD_LETTER_PREFIX + message["MessageId"],
                    "source": "dead_letter",
                    "channel": "email",
                    "reason": "retries_exhausted",
                    "detail": _attribute(attributes, "ErrorCode")
                    + ": "
                    + _attribute(attributes, "ErrorMessage"),
                    "received_at": None,
                    "sender": None,
                    "subject": None,
                    "raw_ref": _raw_ref(message["Body"]),
                    "replayed_at": None,
                    "replay_result": None,
                }
            )
        return records

    def _peek_dead_letters(self) -> list[dict[str, Any]]:
        if not self.mail_dlq_url:
            return []
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(100):  # bounded: the queue is listed, not drained
            response = self.sqs.receive_message(
                QueueUrl=self.mail_dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            batch = response.get("Messages", [])
            new = [m for m in batch if m["MessageId"] not in seen]
            if not new:
                break
            for message in new:
                seen[message["MessageId"]] = message
        return list(seen.values())

    # -- replaying ---------------------------------------------------------------------------

    def replay(self, entry_id: str) -> dict[str, Any]:
        if entry_id.startswith(DEAD_LETTER_PREFIX):
            return self._replay_dead_letter(entry_id[len(DEAD_LETTER_PREFIX) :])
        record = self.store.get_quarantine(entry_id)
        if record is None:
            raise LookupError(f"nothing in quarantine with id {entry_id}")
        event = record.event or {}
        if "notification" in event:
            outcomes = self.email.handle_notification(event["notification"])
        elif "notification_text" in event:
            outcomes = self.email.handle_notification(event["notification_text"])
        else:
            raise LookupError(f"{entry_id} holds no event that can be replayed")
        result = ", ".join(
            o.status if o.status != "quarantined" else f"quarantined ({o.reason})" for o in outcomes
        )
        self.store.mark_replayed(entry_id, result, utcnow())
        return {"id": entry_id, "outcomes": [asdict(o) for o in outcomes]}

    def _replay_dead_letter(self, message_id: str) -> dict[str, Any]:
        if not self.mail_dlq_url:
            raise LookupError("no dead-letter queue is configured")
        for _ in range(100):
            response = self.sqs.receive_message(
                QueueUrl=self.mail_dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                WaitTimeSeconds=0,
            )
            batch = response.get("Messages", [])
            if not batch:
                break
            target = next((m for m in batch if m["MessageId"] == message_id), None)
            for other in batch:
                if other is not target:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.mail_dlq_url,
                        ReceiptHandle=other["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
            if target is None:
                continue
            try:
                outcomes = []
                for record in json.loads(target["Body"]).get("Records", []):
                    outcomes += self.email.handle_notification(record["Sns"]["Message"])
            except Exception:
                self.sqs.change_message_visibility(
                    QueueUrl=self.mail_dlq_url,
                    ReceiptHandle=target["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
                raise
            self.sqs.delete_message(
                QueueUrl=self.mail_dlq_url, ReceiptHandle=target["ReceiptHandle"]
            )
            return {
                "id": DEAD_LETTER_PREFIX + message_id,
                "outcomes": [asdict(o) for o in outcomes],
            }
        raise LookupError(f"no dead-letter message {message_id}")


def _attribute(attributes: dict[str, Any], name: str) -> str:
    return str(attributes.get(name, {}).get("StringValue", ""))


def _raw_ref(body: str) -> str | None:
    try:
        for record in json.loads(body).get("Records", []):
            action = json.loads(record["Sns"]["Message"])["receipt"]["action"]
            return f"s3://{action['bucketName']}/{action['objectKey']}"
    except (ValueError, KeyError, TypeError):
        return None
    return None
