"""Functional tests: whole handlers under moto, resources from infra/shared.yaml."""

from __future__ import annotations

import json
import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.core import aws as aws_clients
from functions.core.store import TicketStore
from functions.email_ingest import wiring as email_wiring
from infra.local import moto_patches, ses
from infra.local.resources import (
    DEMO_CONFIG,
    SharedResources,
    create_shared_stack,
    verify_sender_domain,
)

REGION = "us-east-1"


@dataclass
class Harness:
    session: Any
    resources: SharedResources

    @property
    def store(self) -> TicketStore:
        return TicketStore(self.resources.table, self.session.client("dynamodb"))

    def put_raw(self, raw: bytes, key: str | None = None) -> str:
        key = key or f"raw/{uuid.uuid4().hex}"
        self.session.client("s3").put_object(Bucket=self.resources.bucket, Key=key, Body=raw)
        return key

    def notification(
        self,
        raw: bytes,
        *,
        key: str | None = None,
        recipients: tuple[str, ...] = ("support@helpline.test",),
        received_at: datetime | None = None,
        **verdicts: str,
    ) -> dict[str, Any]:
        key = self.put_raw(raw, key)
        return ses.receipt_notification(
            raw,
            bucket=self.resources.bucket,
            key=key,
            topic_arn=self.resources.inbound_topic_arn,
            envelope_from="bounce@example.com",
            recipients=recipients,
            received_at=received_at,
            **verdicts,
        )

    def invoke(self, notification: dict[str, Any]) -> list[dict[str, Any]]:
        """Call the deployed entry point the way Lambda does for an SNS event."""
        from functions.email_ingest.app import on_inbound_mail

        event = ses.sns_event(notification, topic_arn=self.resources.inbound_topic_arn)
        return on_inbound_mail(event, ses.LambdaContext("email_ingest"))

    def deliver(self, raw: bytes, **kwargs: Any) -> dict[str, Any]:
        outcomes = self.invoke(self.notification(raw, **kwargs))
        assert len(outcomes) == 1
        return outcomes[0]

    def sent_mail(self) -> list[Any]:
        """Everything SES (moto) sent, as parsed messages with `.destinations`."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        from tests.helpers import parse

        sent = []
        for raw in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
            message = parse(raw.raw_data)
            message.destinations = raw.destinations  # type: ignore[attr-defined]
            sent.append(message)
        return sent

    def queue_messages(self, queue: str) -> list[dict[str, Any]]:
        sqs = self.session.client("sqs")
        url = self.resources.queue_urls.get(queue) or queue
        bodies = []
        while True:
            response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = response.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    moto_patches.install()  # DynamoDB's atomicity, and transactions that do not copy the table
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name.startswith("HELPLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # botocore sends stream calls to <account>.streams-ddb..., which moto's mock does not route
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Helpline")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mock_aws():
            session = boto3.session.Session(region_name=REGION)
            resources = create_shared_stack(session, stage="test")
            verify_sender_domain(session, "helpline.test")
            for name, value in resources.environment(config_path=DEMO_CONFIG).items():
                monkeypatch.setenv(name, value)
            aws_clients.reset_clients()
            email_wiring.use(None)
            yield Harness(session, resources)
            email_wiring.use(None)
            aws_clients.reset_clients()
