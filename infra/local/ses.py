"""What Amazon SES hands to email_ingest, built from a raw mail.

When SES receives a mail with an S3 receipt action it stores the raw MIME in the bucket
and publishes a "Received" notification to the SNS topic; Lambda wraps that in an SNS
event. The local stack's SMTP listener and the tests build exactly those shapes here
(documented at docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def receipt_notification(
    raw: bytes,
    *,
    bucket: str,
    key: str,
    topic_arn: str,
    envelope_from: str,
    recipients: Sequence[str],
    ses_message_id: str | None = None,
    received_at: datetime | None = None,
    spam: str = "PASS",
    virus: str = "PASS",
    spf: str = "PASS",
    dkim: str = "PASS",
    dmarc: str = "PASS",
) -> dict[str, Any]:
    """The JSON SES publishes for one received mail stored by an S3 action."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    moment = received_at or datetime.now(UTC)
    message_id = ses_message_id or uuid.uuid4().hex
    common: dict[str, Any] = {"returnPath": envelope_from}
    for name, field_name in (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Reply-To", "replyTo")):
        values = headers.get_all(name)
        if values:
            common[field_name] = [str(v) for v in values]
    for name, field_name in (("Date", "date"), ("Message-ID", "messageId"), ("Subject", "subject")):
        value = headers.get(name)
        if value is not None:
            common[field_name] = str(value)
    header_list = [{"name": k, "value": str(v)} for k, v in headers.items()][:100]
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": _iso(moment),
            "source": envelope_from,
            "messageId": message_id,
            "destination": list(recipients),
            "headersTruncated": len(headers) > 100,
            "headers": header_list,
            "commonHeaders": common,
        },
        "receipt": {
            "timestamp": _iso(moment),
            "processingTimeMillis": 1,
            "recipients": list(recipients),
            "spamVerdict": {"status": spam},
            "virusVerdict": {"status": virus},
            "spfVerdict": {"status": spf},
            "dkimVerdict": {"status": dkim},
            "dmarcVerdict": {"status": dmarc},
            "action": {
                "type": "S3",
                "topicArn": topic_arn,
                "bucketName": bucket,
                "objectKeyPrefix": key.rsplit("/", 1)[0] + "/" if "/" in key else "",
                "objectKey": key,
            },
        },
    }


def sns_event(message: dict[str, Any] | str, *, topic_arn: str) -> dict[str, Any]:
    """The Lambda event SNS delivers for one published message."""
    body = message if isinstance(message, str) else json.dumps(message)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": "Amazon SES Email Receipt Notification",
                    "Message": body,
                    "Timestamp": _iso(datetime.now(UTC)),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


class LambdaContext:
    """Enough of the Lambda context object for Powertools and Chalice."""

    def __init__(self, function_name: str, timeout_ms: int = 60_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._deadline_ms
