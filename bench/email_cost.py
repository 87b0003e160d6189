"""AWS calls and DynamoDB write units per inbound mail, by scenario.

Runs email_ingest's real entry point under moto (in-process), with every client the
function uses metered (see aws_meter.py). Scenarios are measured one after another on
the same stack; each scenario is the median of `repeat` runs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from bench.aws_meter import Meter

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _mail(sender: str, subject: str, text: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@helpline.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="bench.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes()


def measure(repeat: int = 5) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from functions.core import aws as aws_clients
    from functions.email_ingest import wiring as email_wiring
    from functions.email_ingest.app import on_inbound_mail
    from infra.local import ses
    from infra.local.resources import DEMO_CONFIG, create_shared_stack, verify_sender_domain

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    no_reply_config = Path(tempfile.mkdtemp()) / "no-replies.yaml"
    no_reply_config.write_text(
        DEMO_CONFIG.read_text().replace("replies:\n  enabled: true", "replies:\n  enabled: false")
    )

    results: dict[str, Any] = {}
    with warnings.catch_warnings(), mock_aws():
        warnings.simplefilter("ignore")
        session = boto3.session.Session(region_name="us-east-1")
        resources = create_shared_stack(session, stage="bench")
        verify_sender_domain(session, "helpline.test")
        reader = session.client("dynamodb")
        s3 = session.client("s3")

        def run(config: Path, scenarios: list[tuple[str, Any]]) -> None:
            os.environ.update(resources.environment(config_path=config))
            aws_clients.reset_clients()
            email_wiring.use(None)
            meter = Meter()
            meter.attach(aws_clients.client(s) for s in ("dynamodb", "s3", "sqs", "sesv2"))
            for name, make in scenarios:
                samples = []
                for i in range(repeat):
                    raw, when = make(i)
                    key = f"raw/bench-{name}-{i}-{config.stem}"
                    s3.put_object(Bucket=resources.bucket, Key=key, Body=raw)
                    notification = ses.receipt_notification(
                        raw,
                        bucket=resources.bucket,
                        key=key,
                        topic_arn=resources.inbound_topic_arn,
                        envelope_from="b@bench.example",
                        recipients=["support@helpline.test"],
                        received_at=when,
                    )
                    meter.reset()
                    on_inbound_mail(
                        ses.sns_event(notification, topic_arn=resources.inbound_topic_arn),
                        ses.LambdaContext("email_ingest"),
                    )
                    meter.settle(reader)
                    samples.append((meter.total_calls, meter.write_units, Counter(meter.calls)))
                calls = statistics.median(s[0] for s in samples)
                units = statistics.median(s[1] for s in samples)
                breakdown = samples[len(samples) // 2][2]
                results[name] = {
                    "calls": calls,
                    "write_units": units,
                    "by_operation": dict(sorted(breakdown.items())),
                }

        first_ids: dict[int, str] = {}

        def new_customer(i: int) -> tuple[bytes, datetime]:
            return _mail(
                f"new{i}@customer.example",
                "Order question",
                "Hello, my order has not arrived yet. Could you tell me where it is?",
            ), TUESDAY

        def new_ticket_known_customer(i: int) -> tuple[bytes, datetime]:
            return _mail(
                f"new{i}@customer.example",
                "Another question",
                "Hello again, I also need a copy of last month's invoice, please.",
            ), TUESDAY + timedelta(hours=2)

        def follow_up(i: int) -> tuple[bytes, datetime]:
            raw = _mail(
                f"fu{i}@customer.example", "Delivery", "Hello, where is my parcel? It is late."
            )
            first_ids[i] = raw.split(b"Message-ID: ")[1].split(b"\n")[0].strip().decode()
            key = f"raw/bench-fu-first-{i}"
            s3.put_object(Bucket=resources.bucket, Key=key, Body=raw)
            notification = ses.receipt_notification(
                raw,
                bucket=resources.bucket,
                key=key,
                topic_arn=resources.inbound_topic_arn,
                envelope_from="b@bench.example",
                recipients=["support@helpline.test"],
                received_at=TUESDAY,
            )
            on_inbound_mail(
                ses.sns_event(notification, topic_arn=resources.inbound_topic_arn),
                ses.LambdaContext("email_ingest"),
            )
            return _mail(
                f"fu{i}@customer.example",
                "Re: Delivery",
                "It is order 1234.",
                In_Reply_To=first_ids[i],
            ), TUESDAY + timedelta(minutes=10)

        def duplicate(i: int) -> tuple[bytes, datetime]:
            raw = _mail(f"dup{i}@customer.example", "Twice", "This mail is delivered twice by SNS.")
            key = f"raw/bench-dup-first-{i}"
            s3.put_object(Bucket=resources.bucket, Key=key, Body=raw)
            notification = ses.receipt_notification(
                raw,
                bucket=resources.bucket,
                key=key,
                topic_arn=resources.inbound_topic_arn,
                envelope_from="b@bench.example",
                recipients=["support@helpline.test"],
                received_at=TUESDAY,
            )
            on_inbound_mail(
                ses.sns_event(notification, topic_arn=resources.inbound_topic_arn),
                ses.LambdaContext("email_ingest"),
            )
            return raw, TUESDAY

        run(
            no_reply_config,
            [
                ("new ticket, new customer, no reply", new_customer),
                ("new ticket, known customer, no reply", new_ticket_known_customer),
            ],
        )
        run(
            DEMO_CONFIG,
            [
                ("new ticket, new customer, with acknowledgement", lambda i: new_customer(i + 100)),
                ("follow-up (In-Reply-To), in hours", follow_up),
                ("duplicate delivery", duplicate),
            ],
        )
    return results
