"""The `intake` fuzz target's world: social_dm and chat_ws as deployed, over moto.

The parsers' targets stop at a Delivery or an Action; a lone surrogate passed them and
failed only when DynamoDB was asked to store it. This target goes on: a signed
delivery through `SocialIntakeService` (decoded, kept in S3, normalized, every message
through the real intake into the table) and a chat frame through `ChatService.handle`
for a customer who has said hello, all in moto's DynamoDB, S3, SQS and SES
(`mock_aws`), built from infra/shared.yaml as the functional tests build it. The
platforms' send APIs and the WebSocket Management API are fakes that encode what they
are given as the real clients do (UTF-8), so nothing unencodable passes unnoticed.

Input: `<kind>\\n<body>`, kind `meta`, `telegram`, `x` or `chat` (anything else is read
as `meta`). The contract (`IntakeRig.delivery`, `IntakeRig.chat_frame`): no exception
escapes; a delivery is answered 200, 400 or 413, and each of its messages is stored (its
ticket exists) or quarantined (its record exists); a chat `message` is answered with
`ack` (and stored) or `error`, any other frame with events that are JSON.

`start()` takes a few seconds (the stack through CloudFormation): the harness calls it
before fuzzing, the tests once per module. `stop()` ends the mock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from functions.chat_ws import protocol
from functions.chat_ws import wiring as chat_wiring
from functions.chat_ws.service import ChatService
from functions.core import wiring
from functions.core.channels import signatures
from functions.core.errors import RejectedInput
from functions.core.models import Channel, Message
from functions.core.store import TicketStore
from functions.social_dm import wiring as social_wiring
from functions.social_dm.service import Secrets, SocialIntakeService, WebhookResult

REGION = "us-east-1"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday: the demo teams are at work
SECRET = "fuzzing-webhook-secret"
KINDS = ("meta", "telegram", "x", "chat")
STATUSES = {"created", "follow_up", "duplicate", "quarantined", "annotated", "ignored"}


class IntakeContractViolation(AssertionError):
    """The intake answered, but broke its contract (a message neither stored nor kept)."""


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise IntakeContractViolation(problem)


class _Platform:
    """Every platform's send API: what a send posts must encode as the real one does."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent = 0

    def send(self, message: Message) -> str:
        json.dumps({"text": message.text}, ensure_ascii=False).encode("utf-8")
        self.sent += 1
        return f"fuzz-{self.channel.value}-{self.sent}"

    def send_choices(self, message: Message, choices: Any) -> str:
        json.dumps([message.text, list(choices)], ensure_ascii=False).encode("utf-8")
        return self.send(message)

    def answer_callback_query(self, callback_id: str) -> None:
        callback_id.encode("utf-8")


class _ManagementApi:
    """API Gateway's PostToConnection: the frame arrives as UTF-8 bytes of JSON."""

    def __init__(self) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        frame = json.loads(Data.decode("utf-8"))
        _require(isinstance(frame, dict) and "type" in frame, "a pushed frame has no type")
        self.frames[ConnectionId].append(frame)
        return {}


class IntakeRig:
    def __init__(self) -> None:
        self._mock: Any = None
        self._environ: Any = None
        self.store: TicketStore
        self.social: SocialIntakeService
        self.chat: ChatService
        self.api = _ManagementApi()
        self.counter = 0
        self._clients: dict[str, Any] = {}
        self._purged = time.monotonic()
        self.resources: Any = None

    @property
    def started(self) -> bool:
        return self._mock is not None

    def start(self) -> None:
        from unittest import mock

        import boto3
        from moto import mock_aws

        from infra.local import moto_patches
        from infra.local.resources import (
            DEMO_CONFIG,
            create_demo_secrets,
            create_shared_stack,
            verify_sender_domain,
        )

        moto_patches.install()
        # moto answers only AWS's own addresses: a shell pointed at the local stack
        # must not send these calls there
        kept = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        kept.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        )
        self._environ = mock.patch.dict(os.environ, kept, clear=True)
        self._environ.start()
        self._mock = mock_aws()
        self._mock.start()
        session = boto3.session.Session(region_name=REGION)
        resources = create_shared_stack(session, stage="fuzz")
        verify_sender_domain(session, "helpline.test")
        clients = {
            name: session.client(name)
            for name in ("dynamodb", "s3", "sqs", "sesv2", "ssm", "secretsmanager")
        }
        self._clients = dict(clients)
        self.resources = resources
        clients["apigatewaymanagementapi"] = self.api
        settings = wiring.Settings(
            table=resources.table,
            bucket=resources.bucket,
            queue_urls=resources.queue_urls,
            config_path=str(DEMO_CONFIG),
        )
        components = wiring.build(settings, clients=clients)
        create_demo_secrets(session, components.config)
        for channel in (
            Channel.MESSENGER,
            Channel.INSTAGRAM,
            Channel.WHATSAPP,
            Channel.TELEGRAM,
            Channel.X,
        ):
            platform = _Platform(channel)
            components.intake.senders[channel] = platform
            components.tickets.senders[channel] = platform
        clock = lambda: NOW  # noqa: E731
        components.intake.clock = clock
        components.tickets.clock = clock
        self.store = components.store
        self.social = social_wiring.build(components)
        self.social.secrets = Secrets(lambda ref: SECRET)
        self.social.clock = clock
        self.chat = chat_wiring.build(components, ws_url="wss://chat.example/fuzz")
        self.chat.clock = clock

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._environ is not None:
            self._environ.stop()
            self._environ = None

    def forget(self) -> None:
        """Empty the table, the bucket and the queues: each input meets the same world,
        so a finding reproduces from its input alone, and a message an earlier input
        stored cannot hide a later one as a duplicate."""
        dynamodb, table = self._clients["dynamodb"], self.resources.table
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=table, ProjectionExpression="PK, SK"
        ):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key=item)
        s3, bucket = self._clients["s3"], self.resources.bucket
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for found in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=found["Key"])
        # routing messages are only ever written, never read back: emptying the queues
        # now and then keeps the memory bounded (SQS allows one purge a minute)
        if time.monotonic() - self._purged > 61:
            for url in self.resources.queue_urls.values():
                self._clients["sqs"].purge_queue(QueueUrl=url)
            self._purged = time.monotonic()

    # -- one input ------------------------------------------------------------------------

    def run(self, data: bytes) -> None:
        self.forget()
        kind, newline, body = data.partition(b"\n")
        name = kind.decode("latin-1") if newline else "meta"
        if not newline:
            body = data
        if name == "chat":
            self.chat_frame(body.decode("utf-8", "surrogateescape"))
        else:
            self.delivery(name if name in KINDS else "meta", body)

    def delivery(self, platform: str, body: bytes) -> WebhookResult:
        secret = SECRET.encode()
        if platform == "telegram":
            result = self.social.telegram_delivery(
                body, {signatures.TELEGRAM_SECRET_HEADER: SECRET}
            )
        elif platform == "x":
            digest = hmac.new(secret, body, hashlib.sha256).digest()
            header = "sha256=" + base64.b64encode(digest).decode()
            result = self.social.x_delivery(body, {signatures.X_SIGNATURE_HEADER: header})
        else:
            header = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            result = self.social.meta_delivery(body, {signatures.META_SIGNATURE_HEADER: header})
        _require(result.status in (200, 400, 413), f"a delivery answered {result.status}")
        if result.status == 200:
            received = result.body["received"] if isinstance(result.body, dict) else 0
            _require(len(result.outcomes) >= received, "a message of the delivery has no outcome")
        for outcome in result.outcomes:
            _require(outcome.status in STATUSES, f"an outcome {outcome.status!r}")
            if outcome.status == "quarantined":
                found = outcome.quarantine_id and self.store.get_quarantine(outcome.quarantine_id)
                _require(bool(found), "a quarantined message has no record")
            elif outcome.status in ("created", "follow_up"):
                ticket = outcome.ticket_id and self.store.get_ticket(outcome.ticket_id)
                _require(bool(ticket), "a message's ticket is not in the table")
        return result

    def chat_frame(self, frame: str) -> list[dict[str, Any]]:
        connection, session_id = self._customer()
        before = len(self.api.frames[connection])
        self.chat.handle(connection, frame)
        got = self.api.frames[connection][before:]
        kinds = [f["type"] for f in got]
        try:
            action = protocol.decode(frame, role="customer", max_chars=self.chat_limit)
        except RejectedInput as exc:
            _require(kinds == ["error"], f"a refused frame ({exc.code}) was answered {kinds}")
            return got
        if action.name == "message":
            _require("ack" in kinds or "error" in kinds, f"a message was answered {kinds}")
            if "ack" in kinds:
                client_id = next(f["client_id"] for f in got if f["type"] == "ack")
                record = self.store.get_intake(Channel.CHAT, f"{session_id}:{client_id}")
                _require(record is not None, "an acknowledged message is not stored")
        return got

    @property
    def chat_limit(self) -> int:
        return self.chat.settings.max_message_chars

    def _customer(self) -> tuple[str, str]:
        """A new chat, connected and past `hello`: every frame meets a fresh session."""
        self.counter += 1
        opened = self.chat.open_session({"locale": "en-GB"})
        connection = f"fuzz{self.counter:06d}="
        _require(self.chat.connect(connection, {"token": opened["token"]}) == 200, "no connect")
        self.chat.handle(connection, json.dumps({"action": "hello", "locale": "en-GB"}))
        return connection, str(opened["session_id"])


_lock = threading.Lock()
_rig: IntakeRig | None = None


def rig() -> IntakeRig:
    """The process's one rig, started on first use (the harness starts it before fuzzing)."""
    global _rig
    with _lock:
        if _rig is None:
            _rig = IntakeRig()
        if not _rig.started:
            _rig.start()
        return _rig


def stop() -> None:
    with _lock:
        if _rig is not None:
            _rig.stop()


def run_intake(data: bytes) -> None:
    rig().run(data)
