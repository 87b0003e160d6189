"""A chat_ws harness for functional tests: the real service under moto, its pushes
recorded by a fake Management API that behaves like the real one (GoneException for
a closed connection), and a settable clock shared by every part."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError


class FakeManagementApi:
    def __init__(self) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closed: set[str] = set()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.closed:
            raise ClientError(
                {
                    "Error": {"Code": "GoneException", "Message": ""},
                    "ResponseMetadata": {"HTTPStatusCode": 410},
                },
                "PostToConnection",
            )
        self.frames[ConnectionId].append(json.loads(Data))
        return {}


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Client:
    harness: ChatHarness
    connection_id: str
    role: str
    seen: int = 0

    def send(self, action: str, **fields: Any) -> list[dict[str, Any]]:
        """Send one frame; what this connection received because of it."""
        start = len(self.frames)
        self.harness.clock.advance(seconds=1)  # one action a second stays under the flood limit
        self.harness.service.handle(
            self.connection_id, json.dumps({"action": action, **fields}, ensure_ascii=False)
        )
        return self.frames[start:]

    def raw(self, body: Any) -> list[dict[str, Any]]:
        start = len(self.frames)
        self.harness.clock.advance(seconds=1)
        self.harness.service.handle(self.connection_id, body)
        return self.frames[start:]

    @property
    def frames(self) -> list[dict[str, Any]]:
        return self.harness.api.frames[self.connection_id]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def last(self, kind: str) -> dict[str, Any]:
        found = self.of(kind)
        assert found, (
            f"{self.connection_id} got no {kind!r}; got {[f['type'] for f in self.frames]}"
        )
        return found[-1]

    def disconnect(self) -> None:
        self.harness.api.closed.add(self.connection_id)
        self.harness.service.disconnect(self.connection_id)


@dataclass
class ChatHarness:
    service: Any
    api: FakeManagementApi
    clock: Clock
    components: Any
    aws: Any
    counter: int = 0
    tokens: dict[str, str] = field(default_factory=dict)

    def _connection(self) -> str:
        self.counter += 1
        return f"conn{self.counter:03d}="

    def customer(
        self, locale: str = "en-GB", *, hello: bool = True, token: str | None = None
    ) -> Client:
        if token is None:
            token = self.service.open_session({"locale": locale})["token"]
        connection_id = self._connection()
        assert self.service.connect(connection_id, {"token": token}) == 200
        client = Client(self, connection_id, "customer")
        self.tokens[connection_id] = token
        if hello:
            client.send("hello", locale=locale, page={"url": "https://shop.example/cart"})
        return client

    def agent(self, email: str, *, online: bool = True) -> Client:
        connection_id = self._connection()
        token = self.service.agent_token(email)
        assert self.service.connect(connection_id, {"agent_token": token}) == 200
        client = Client(self, connection_id, "agent")
        if online:
            client.send("status", status="online")
        return client

    def ticket(self, ticket_id: str) -> Any:
        return self.components.store.ticket_bundle(ticket_id)


def build(aws: Any, now: datetime) -> ChatHarness:
    from functions.chat_ws import wiring as chat_wiring
    from functions.core import wiring
    from infra.local.resources import create_demo_secrets

    api = FakeManagementApi()
    clock = Clock(now)
    settings = wiring.Settings.from_env()
    components = wiring.build(settings, clients={"apigatewaymanagementapi": api})
    create_demo_secrets(aws.session, components.config)
    components.intake.clock = clock
    components.tickets.clock = clock
    service = chat_wiring.build(components, ws_url="wss://chat.example/test")
    service.clock = clock
    return ChatHarness(service, api, clock, components, aws)
