"""AWS failing while a mail is handled: the platform retries, nothing is doubled or lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from functions.core import aws as aws_clients
from functions.core.models import Direction
from infra.local.lambda_runtime.faults import FaultInjector
from tests.helpers import make_mail

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def inject() -> Iterator[object]:
    def install(*specs: str) -> FaultInjector:
        injector = FaultInjector.parse(list(specs))
        aws_clients.add_session_hook(injector.install)
        return injector

    yield install
    aws_clients.clear_session_hooks()


def _retry_until_done(aws, notification, attempts: int = 3):
    """What Lambda does with an async event: retry on an exception, up to `attempts`."""
    errors = []
    for _ in range(attempts):
        try:
            return aws.invoke(notification)[0], errors
        except Exception as exc:  # the platform sees any exception
            errors.append(exc)
    return None, errors


def test_a_throttled_commit_is_retried_into_exactly_one_ticket_and_reply(aws, inject):
    injector = inject("dynamodb.TransactWriteItems=1")
    outcome, errors = _retry_until_done(aws, aws.notification(make_mail(), received_at=TUESDAY))
    assert isinstance(errors[0], ClientError)
    assert errors[0].response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert outcome["status"] == "created" and injector.fired["dynamodb.TransactWriteItems"] == 1
    assert len(aws.store.list_tickets()) == 1
    assert len(aws.sent_mail()) == 1
    assert len(aws.queue_messages("english")) == 1


def test_a_throttled_send_is_retried_and_the_reply_goes_out_once(aws, inject):
    inject("sesv2.SendEmail=1")
    outcome, errors = _retry_until_done(aws, aws.notification(make_mail(), received_at=TUESDAY))
    assert len(errors) == 1
    assert outcome["status"] == "duplicate" and outcome["reply"] == "sent"  # the retry finished it
    assert len(aws.sent_mail()) == 1
    assert len(aws.store.list_tickets()) == 1
    assert len(aws.queue_messages("english")) == 1


def test_an_ambiguous_send_timeout_never_risks_a_second_reply(aws, inject):
    inject("sesv2.SendEmail=1:timeout")
    outcome, errors = _retry_until_done(aws, aws.notification(make_mail(), received_at=TUESDAY))
    assert isinstance(errors[0], ReadTimeoutError)
    assert outcome["status"] == "duplicate"
    assert len(aws.sent_mail()) == 0  # at most once: the timeout may have sent it
    bundle = aws.store.ticket_bundle(outcome["ticket_id"])
    [reply] = [m for m in bundle.messages if m.direction is Direction.OUTBOUND]
    assert reply.delivery.value == "unknown"
    assert "auto_reply_unknown" in [e.type for e in bundle.events]


def test_a_failed_routing_publish_is_published_by_the_retry(aws, inject):
    inject("sqs.SendMessage=1:server")
    outcome, errors = _retry_until_done(aws, aws.notification(make_mail(), received_at=TUESDAY))
    assert len(errors) == 1
    [routed] = aws.queue_messages("english")
    assert routed["ticket_id"] == outcome["ticket_id"]
    assert len(aws.sent_mail()) == 1


def test_exhausted_retries_land_in_the_dead_letter_queue_and_replay_recovers(aws, inject):
    from functions.core import wiring
    from functions.email_ingest.app import on_inbound_mail
    from functions.email_ingest.service import EmailIngestService
    from infra.admin import Admin
    from infra.local import ses
    from infra.local.invoker import AsyncInvoker

    inject("dynamodb.TransactWriteItems=3")
    invoker = AsyncInvoker(
        "email_ingest",
        on_inbound_mail,
        dlq_url=aws.resources.mail_dlq_url,
        sqs_client=aws.session.client("sqs"),
        retry_delays=(0.0,),
    )
    event = ses.sns_event(
        aws.notification(make_mail(), received_at=TUESDAY),
        topic_arn=aws.resources.inbound_topic_arn,
    )
    record = invoker.invoke(event)
    assert record.done.wait(30)
    invoker.shutdown()
    assert record.attempts == 3 and record.dead_lettered
    assert aws.store.list_tickets() == []

    components = wiring.build(wiring.Settings.from_env())
    admin = Admin(
        store=components.store,
        email=EmailIngestService(
            config=components.config, intake=components.intake, blobs=components.blobs
        ),
        sqs_client=aws.session.client("sqs"),
        mail_dlq_url=aws.resources.mail_dlq_url,
    )
    [entry] = [e for e in admin.entries() if e["source"] == "dead_letter"]
    assert "ProvisionedThroughputExceededException" in entry["detail"]
    result = admin.replay(entry["id"])
    assert [o["status"] for o in result["outcomes"]] == ["created"]
    assert len(aws.store.list_tickets()) == 1
    assert [e for e in admin.entries() if e["source"] == "dead_letter"] == []  # it left the queue
    assert json.loads(json.dumps(result))  # printable by the CLI
