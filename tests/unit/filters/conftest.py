"""Fixtures for the filter tests: one `Context` around one `InboundMessage`.

The context carries the demo config, a real (seeded) language detector, a `Snapshot`
holding whatever stored records the test puts in it, and a small in-memory store for
the records the filters read past the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.config import Config, load_config
from functions.core.language import LanguageDetector
from functions.core.models import Channel, Customer, Identity, InboundMessage, Ticket
from functions.core.pipeline import Context
from functions.core.store import IntakeRecord, Lookup, Snapshot

# a Tuesday morning: the London, Madrid and Moscow desks are open
RECEIVED = datetime(2025, 11, 25, 10, 30, tzinfo=UTC)
OUR_ADDRESS = "support@helpline.test"


@dataclass
class FakeStore:
    """The reads a filter may make past the snapshot, from dicts."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    customers: dict[str, tuple[Customer, int]] = field(default_factory=dict)
    intakes: dict[str, IntakeRecord] = field(default_factory=dict)

    def get_intake(self, channel: Channel, external_id: str) -> IntakeRecord | None:
        return self.intakes.get(external_id)

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        return self.tickets.get(ticket_id)

    def get_customer(self, customer_id: str) -> tuple[Customer, int] | None:
        return self.customers.get(customer_id)


MakeMessage = Callable[..., InboundMessage]
MakeContext = Callable[..., Context]


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def detector(config: Config) -> LanguageDetector:
    languages = config.languages
    return LanguageDetector(
        languages.supported,
        languages.default,
        min_confidence=languages.min_confidence,
        min_length=languages.min_length,
    )


@pytest.fixture
def make_message() -> MakeMessage:
    """An email from Ana, as the email channel would normalize it; override any field."""

    def build(**overrides: Any) -> InboundMessage:
        fields: dict[str, Any] = {
            "channel": Channel.EMAIL,
            "external_id": "cafe01@mail.example.com",
            "received_at": RECEIVED,
            "sender": Identity.email("ana@example.com"),
            "sender_name": "Ana García",
            "account": OUR_ADDRESS,
            "subject": "Question about my order",
            "text": "Hello, my order has not arrived yet. Can you check where it is? Thanks.",
            "to": (OUR_ADDRESS,),
        }
        fields.update(overrides)
        return InboundMessage(**fields)

    return build


@pytest.fixture
def make_context(config: Config, detector: LanguageDetector) -> MakeContext:
    """A Context for `message`.

    `items` go into the snapshot (Lookup -> stored item, as a batch read returns them);
    `tickets` and `customers` are only in the fake store, read on a snapshot miss.
    """

    def build(
        message: InboundMessage,
        *,
        items: Mapping[Lookup, dict[str, Any]] | None = None,
        tickets: Iterable[Ticket] = (),
        customers: Iterable[tuple[Customer, int]] = (),
        intakes: Iterable[IntakeRecord] = (),
        config: Config = config,
        now: datetime | None = None,
    ) -> Context:
        store = FakeStore(
            tickets={t.id: t for t in tickets},
            customers={c.id: (c, version) for c, version in customers},
            intakes={r.external_id: r for r in intakes},
        )
        return Context(
            message=message,
            config=config,
            snapshot=Snapshot(dict(items or {})),
            store=store,  # type: ignore[arg-type]  # a fake with only the reads filters use
            detector=detector,
            now=now or message.received_at,
        )

    return build
