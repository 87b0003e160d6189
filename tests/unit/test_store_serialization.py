"""What the store writes is what it reads back: every record survives a trip through
DynamoDB's attribute format unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.core.models import (
    Channel,
    Customer,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from functions.core.routing import routing_message
from functions.core.store import (
    IntakeRecord,
    QuarantineRecord,
    customer_from_item,
    customer_to_item,
    deserialize,
    event_from_item,
    event_to_item,
    intake_from_item,
    intake_to_item,
    message_from_item,
    message_to_item,
    quarantine_from_item,
    quarantine_to_item,
    serialize,
    ticket_from_item,
    ticket_to_item,
)

AT = datetime(2025, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _through_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    """As a PutItem and a later GetItem would carry it."""
    wire = serialize(item)
    for value in wire.values():  # every value is one DynamoDB attribute value
        assert len(value) == 1 and next(iter(value)) in {"S", "N", "BOOL", "L", "M", "NULL"}
    return deserialize(wire)


# -- tickets ----------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
words = st.text(max_size=40)
tickets = st.builds(
    Ticket,
    id=st.text(CROCKFORD, min_size=10, max_size=10),
    channel=st.sampled_from(Channel),
    subject=st.text(max_size=300),
    customer_id=st.text(CROCKFORD, min_size=12, max_size=12).map("C".__add__),
    status=st.sampled_from(TicketStatus),
    priority=st.sampled_from(["low", "normal", "high", "urgent"]),
    language=st.one_of(st.none(), st.sampled_from(["en", "es", "pt-br", "ar"])),
    queue=st.one_of(st.none(), st.sampled_from(["english", "spanish"])),
    tags=st.lists(words, max_size=5),
    participants=st.lists(st.emails().map(lambda a: f"email:{a.lower()}"), max_size=4),
    account=words,
    conversation_key=st.one_of(st.none(), words),
    created_at=moments,
    updated_at=moments,
    last_inbound_at=st.one_of(st.none(), moments),
    last_outbound_at=st.one_of(st.none(), moments),
    first_response_at=st.one_of(st.none(), moments),
    solved_at=st.one_of(st.none(), moments),
    message_count=st.integers(0, 10**6),
    version=st.integers(0, 10**6),
)


@given(tickets)
def test_a_ticket_round_trips(ticket: Ticket) -> None:
    assert ticket_from_item(_through_dynamodb(ticket_to_item(ticket))) == ticket


def test_ticket_times_in_another_zone_come_back_as_the_same_instant() -> None:
    madrid_winter = timezone(timedelta(hours=1))
    ticket = Ticket(
        id="K7Q2M4XD01",
        channel=Channel.EMAIL,
        subject="Pedido",
        customer_id="C0000000000AA",
        created_at=AT.astimezone(madrid_winter),
        updated_at=AT.astimezone(madrid_winter),
    )

    back = ticket_from_item(_through_dynamodb(ticket_to_item(ticket)))

    assert back == ticket
    assert back.created_at is not None and back.created_at.tzinfo == UTC


# -- messages -----------------------------------------------------------------------------


def _message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "id": "0123456789ABCDEF",
        "ticket_id": "K7Q2M4XD01",
        "direction": Direction.INBOUND,
        "channel": Channel.EMAIL,
        "created_at": AT,
    }
    fields.update(changes)
    return Message(**fields)


@pytest.mark.parametrize(
    "message",
    [
        _message(),
        _message(
            automatic=True,
            author="C0000000000AA",
            sender="ana@example.com",
            recipients=["support@helpline.test", "Bob <bob@example.com>"],
            subject="Re: Pedido [#K7Q2M4XD01]",
            text="Hola,\n\nsigo esperando. 🙂\n\n> cita",
            html="<p>Hola</p>",
            stripped_text="Hola,\n\nsigo esperando. 🙂",
            language="es",
            external_id="cafe01@mail.example.com",
            in_reply_to=["hl.k7q2m4xd01.0123@helpline.test"],
            references=["a@x.example", "hl.k7q2m4xd01.0123@helpline.test"],
            attachments=[
                {
                    "filename": "factura.pdf",
                    "content_type": "application/pdf",
                    "size": 48213,
                    "sha256": "ab" * 32,
                    "key": "attachments/0123456789ABCDEF/00-factura.pdf",
                    "inline": False,
                }
            ],
            kind="message",
            raw_ref="s3://bucket/raw/abc",
            reactions=[{"emoji": "👍", "by": "C0000000000AA", "score": 0.75}],
            edits=[{"at": "2025-11-25T10:31:00.000000Z", "text": "Hola!"}],
        ),
        _message(
            direction=Direction.OUTBOUND,
            channel=Channel.WHATSAPP,
            automatic=True,
            author="helpline",
            headers={"Auto-Submitted": "auto-replied", "X-Loop": "support@helpline.test"},
            kind="acknowledgement",
            delivery=DeliveryStatus.FAILED,
            delivery_detail="131047: re-engagement message",
            provider_id="wamid.HBgLMzQ2",
            body_ref="bodies/K7Q2M4XD01/0123456789ABCDEF.json",
            deleted=True,
        ),
    ],
    ids=["minimal", "inbound email", "outbound whatsapp"],
)
def test_a_message_round_trips(message: Message) -> None:
    assert message_from_item(_through_dynamodb(message_to_item(message))) == message


# -- customers, events, intake and quarantine records -------------------------------------------


@pytest.mark.parametrize(
    "customer",
    [
        Customer(id="C0000000000AA"),
        Customer(
            id="C0000000000BB",
            name="Ana García",
            identities=[
                Identity.email("ana@example.com"),
                Identity("wa_id", "34600111222"),
                Identity("visitor", "v:01JD8Z6K"),  # a value with a colon in it
            ],
            language="es",
            tags=["vip", "reseller"],
            undeliverable=["email:ana@old.example"],
            created_at=AT,
            merged_into="C0000000000CC",
        ),
    ],
    ids=["new", "full"],
)
def test_a_customer_round_trips_with_its_version(customer: Customer) -> None:
    back = customer_from_item(_through_dynamodb(customer_to_item(customer, 42)))

    assert back == (customer, 42)


def test_an_event_round_trips() -> None:
    event = TicketEvent(
        ticket_id="K7Q2M4XD01",
        at=AT,
        type="routed",
        detail={"team": "spanish", "rules": ["urgent outage"], "confidence": 0.987, "n": 3},
    )

    assert event_from_item(_through_dynamodb(event_to_item(event, 7))) == event


def _route(language: str | None) -> dict[str, Any]:
    return routing_message(
        event="new_ticket",
        message_id="0123456789ABCDEF",
        ticket_id="K7Q2M4XD01",
        team="spanish",
        queue="spanish",
        priority="urgent",
        language=language,
        channel=Channel.EMAIL,
        subject="Caída del servicio",
        preview="No funciona nada desde esta mañana.",
        customer_id="C0000000000AA",
        customer_name="Ana García",
        status="new",
        at=AT,
        tags=["outage"],
        after_hours=True,
    )


@pytest.mark.parametrize(
    "record",
    [
        IntakeRecord(
            channel=Channel.EMAIL,
            external_id="cafe01@mail.example.com",
            ticket_id="K7Q2M4XD01",
            message_id="0123456789ABCDEF",
            message_sk="MSG#2025-11-25T10:30:15.123456Z#0123456789ABCDEF",
            route=_route("es"),
            routed=False,
            reply_state="pending",
            reply_message_sk="MSG#2025-11-25T10:30:15.123457Z#FEDCBA9876543210",
            created_at=AT,
        ),
        IntakeRecord(
            channel=Channel.EMAIL,
            external_id="hl.k7q2m4xd01.fedcba9876543210@helpline.test",
            ticket_id="K7Q2M4XD01",
            message_id="FEDCBA9876543210",
            message_sk="MSG#2025-11-25T10:30:15.123457Z#FEDCBA9876543210",
            direction=Direction.OUTBOUND,
        ),
    ],
    ids=["inbound with its routing outbox", "our own reply"],
)
def test_an_intake_record_round_trips(record: IntakeRecord) -> None:
    assert intake_from_item(_through_dynamodb(intake_to_item(record))) == record


@pytest.mark.parametrize(
    "record",
    [
        QuarantineRecord(
            id="Q0123456789AB",
            channel=Channel.EMAIL,
            reason="virus",
            detail="the virus scan failed this mail",
            received_at=AT,
        ),
        QuarantineRecord(
            id="Q0123456789AC",
            channel=Channel.EMAIL,
            reason="bounce_unmatched",
            detail="a delivery report about x@y that matches no ticket",
            received_at=AT,
            raw_ref="s3://helpline-mail/raw/abc",
            event={
                "Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{}", "Size": 1234}}],
                "retry": True,
            },
            external_id="abc@mx.example.com",
            sender="email:m***@mx.example.com",
            subject="Undeliverable",
            replayed_at=AT + timedelta(hours=2),
            replay_result="quarantined",
        ),
    ],
    ids=["minimal", "full"],
)
def test_a_quarantine_record_round_trips(record: QuarantineRecord) -> None:
    assert quarantine_from_item(_through_dynamodb(quarantine_to_item(record))) == record


# -- nulls inside nested values --------------------------------------------------------------


def _intake_without_language() -> tuple[Any, Callable[[Any], Any], Callable[[Any], Any]]:
    record = IntakeRecord(
        channel=Channel.EMAIL,
        external_id="cafe02@mail.example.com",
        ticket_id="K7Q2M4XD01",
        message_id="0123456789ABCDEF",
        message_sk="MSG#2025-11-25T10:30:15.123456Z#0123456789ABCDEF",
        route=_route(None),  # "language" is required by the v1 schema, and may be null
    )
    return record, intake_to_item, intake_from_item


def _message_with_unstored_attachment() -> tuple[Any, Callable[[Any], Any], Callable[[Any], Any]]:
    # the shape the intake writes for an attachment it did not store
    attachment = {
        "filename": "photo.jpg",
        "content_type": "image/jpeg",
        "size": 1200,
        "sha256": "cd" * 32,
        "key": None,
        "url": "https://lookaside.example/photo.jpg",
        "media_id": None,
        "caption": None,
        "inline": False,
        "content_id": None,
    }
    return _message(attachments=[attachment]), message_to_item, message_from_item


@pytest.mark.parametrize(
    "case",
    [_intake_without_language, _message_with_unstored_attachment],
    ids=["route", "attachment"],
)
def test_null_values_inside_nested_maps_round_trip(
    case: Callable[[], tuple[Any, Callable[[Any], Any], Callable[[Any], Any]]],
) -> None:
    original, to_item, from_item = case()

    assert from_item(_through_dynamodb(to_item(original))) == original
