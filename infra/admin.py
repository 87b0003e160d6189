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
STREAM_PREFIX = "S-"


class Admin:
    def __init__(
        self,
        *,
        store: TicketStore,
        email: EmailIngestService | None,
        sqs_client: Any,
        mail_dlq_url: str | None,
        social: Any = None,  # SocialIntakeService: replays kept webhook deliveries
        survey: Any = None,  # SurveyService: replays table stream records that failed
        stream_dlq_url: str | None = None,
        blobs: Any = None,
    ) -> None:
        self.store = store
        self.email = email
        self.sqs = sqs_client
        self.mail_dlq_url = mail_dlq_url
        self.social = social
        self.survey = survey
        self.stream_dlq_url = stream_dlq_url
        self.blobs = blobs

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
        for message in self._peek(self.stream_dlq_url):
            body = json.loads(message["Body"])
            batch = body.get("DDBStreamBatchInfo") or {}
            records.append(
                {
                    "id": STREAM_PREFIX + message["MessageId"],
                    "source": "stream_dead_letter",
                    "channel": "-",
                    "reason": "retries_exhausted",
                    "detail": f"{batch.get('batchSize', '?')} table stream records "
                    f"{batch.get('startSequenceNumber', '')}..{batch.get('endSequenceNumber', '')}",
                    "received_at": None,
                    "sender": None,
                    "subject": None,
                    "raw_ref": None,
                    "replayed_at": None,
                    "replay_result": None,
                }
            )
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

    def _email(self) -> EmailIngestService:
        if self.email is None:
            raise LookupError("replaying mail needs the email intake (run `helpline replay`)")
        return self.email

    def _peek_dead_letters(self) -> list[dict[str, Any]]:
        return self._peek(self.mail_dlq_url)

    def _peek(self, queue_url: str | None) -> list[dict[str, Any]]:
        if not queue_url:
            return []
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(100):  # bounded: the queue is listed, not drained
            response = self.sqs.receive_message(
                QueueUrl=queue_url,
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
        if entry_id.startswith(STREAM_PREFIX):
            return self._replay_stream(entry_id[len(STREAM_PREFIX) :])
        record = self.store.get_quarantine(entry_id)
        if record is None:
            raise LookupError(f"nothing in quarantine with id {entry_id}")
        event = record.event or {}
        if "notification" in event or "notification_text" in event:
            outcomes = self._email().handle_notification(
                event.get("notification") or event["notification_text"]
            )
        elif event.get("type") == "social" and self.social is not None and event.get("raw_ref"):
            outcomes = self._replay_social(event)
        else:
            raise LookupError(f"{entry_id} holds no event that can be replayed")
        result = ", ".join(
            o.status if o.status != "quarantined" else f"quarantined ({o.reason})" for o in outcomes
        )
        self.store.mark_replayed(entry_id, result, utcnow())
        return {"id": entry_id, "outcomes": [asdict(o) for o in outcomes]}

    def _replay_social(self, event: dict[str, Any]) -> list[Any]:
        """Run a kept webhook delivery through the intake again: what it holds that is
        already on a ticket is a duplicate; what was refused gets another chance."""
        from functions.core.blobs import ObjectRef

        raw = self.blobs.get(ObjectRef.parse(str(event["raw_ref"])))
        result = self.social.process(
            str(event["platform"]),
            json.loads(raw),
            raw_ref=str(event["raw_ref"]),
            account=str(event.get("account") or ""),
            replay=event,
            now=utcnow(),
        )
        return list(result.outcomes)

    def _replay_stream(self, message_id: str) -> dict[str, Any]:
        """Feed table stream records the survey function gave up on to it again."""
        if self.survey is None or not self.stream_dlq_url:
            raise LookupError("no table stream dead-letter queue is configured")
        for _ in range(100):
            response = self.sqs.receive_message(
                QueueUrl=self.stream_dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60
            )
            batch = response.get("Messages", [])
            if not batch:
                break
            target = next((m for m in batch if m["MessageId"] == message_id), None)
            for other in batch:
                if other is not target:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.stream_dlq_url,
                        ReceiptHandle=other["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
            if target is None:
                continue
            done = [self.survey.on_record(r) for r in self._stream_records(target["Body"])]
            self.sqs.delete_message(
                QueueUrl=self.stream_dlq_url, ReceiptHandle=target["ReceiptHandle"]
            )
            return {
                "id": STREAM_PREFIX + message_id,
                "outcomes": [{"status": "replayed", "reason": d, "ticket_id": None} for d in done],
            }
        raise LookupError(f"no table stream dead-letter message {message_id}")

    def _stream_records(self, body: str) -> list[dict[str, Any]]:
        """The records an on-failure destination's message names: Lambda sends their
        shard and sequence range, and the stream still holds them for 24 hours."""
        from functions.core import aws
        from infra.local.streams import read_batch

        batch = json.loads(body).get("DDBStreamBatchInfo") or {}
        if not batch.get("shardId"):
            raise LookupError("the dead-letter message names no stream batch")
        records = read_batch(
            aws.client("dynamodbstreams"), batch, region=batch["streamArn"].split(":")[3]
        )
        if not records:
            raise LookupError("the stream no longer holds these records (it keeps them 24 hours)")
        return records

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
                    outcomes += self._email().handle_notification(record["Sns"]["Message"])
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
