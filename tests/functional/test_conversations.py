"""Conversation channels through the shared intake: threading by the platform
conversation, the reopen window, and events that annotate a message (reactions,
edits, unsends, delivery statuses) without ever making a ticket."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from functions.core.models import (
    Channel,
    DeliveryStatus,
    Direction,
    Identity,
    InboundMessage,
    Message,
    MessageKind,
    TicketStatus,
)

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # London is open
PAGE = "1234567890"


class RecordingSender:
    channel = Channel.MESSENGER

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> str:
        self.sent.append(message)
        return f"m_sent_{len(self.sent)}"


def _dm(
    mid: str, text: str, *, at: datetime = TUESDAY, psid: str = "PSID-1", **kw
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.MESSENGER,
        external_id=mid,
        received_at=at,
        sender=Identity("psid", psid),
        account=PAGE,
        text=text,
        conversation_key=f"messenger:{PAGE}:{psid}",
        **kw,
    )


def _event(kind: MessageKind, event_id: str, target: str, **extra: str) -> InboundMessage:
    return InboundMessage(
        channel=Channel.MESSENGER,
        external_id=event_id,
        received_at=TUESDAY + timedelta(minutes=5),
        sender=Identity("psid", "PSID-1"),
        account=PAGE,
        kind=kind,
        text=extra.pop("text", ""),
        target_external_id=target,
        conversation_key=f"messenger:{PAGE}:PSID-1",
        extra=tuple(extra.items()),
    )


@pytest.fixture
def intake(aws):
    from functions.core import wiring

    components = wiring.build(wiring.Settings.from_env())
    sender = RecordingSender()
    components.intake.senders[Channel.MESSENGER] = sender
    components.intake.clock = lambda: TUESDAY + timedelta(seconds=1)
    return components.intake, sender, components


def test_messages_of_one_conversation_make_one_ticket_and_one_acknowledgement(intake):
    run, sender, _ = intake
    first = run.process(_dm("m_1", "Hello, my order has not arrived yet. Where is it?"))
    second = run.process(_dm("m_2", "It was order 1234.", at=TUESDAY + timedelta(minutes=1)))
    assert first.status == "created" and second.status == "follow_up"
    assert second.ticket_id == first.ticket_id
    assert [m.kind for m in sender.sent] == ["acknowledgement"]
    assert sender.sent[0].recipients == ["PSID-1"]


def test_another_sender_on_the_same_page_is_another_ticket(intake):
    run, _, _ = intake
    a = run.process(_dm("m_1", "Hello, my order has not arrived yet."))
    b = run.process(_dm("m_2", "Hi, I need an invoice for my order.", psid="PSID-2"))
    assert a.ticket_id != b.ticket_id


def test_a_message_soon_after_solving_reopens_and_a_late_one_starts_afresh(intake):
    run, _, components = intake
    from functions.core.tickets import TicketService

    first = run.process(_dm("m_1", "Hello, my order has not arrived yet."))
    tickets = TicketService(
        config=components.config, store=components.store, senders={}, renderer=components.renderer
    )
    tickets.clock = lambda: TUESDAY + timedelta(hours=1)
    tickets.resolve(first.ticket_id, actor="agent@helpline.test")
    soon = run.process(_dm("m_2", "Sorry, one more thing.", at=TUESDAY + timedelta(hours=2)))
    assert soon.ticket_id == first.ticket_id
    assert components.store.get_ticket(first.ticket_id).status is TicketStatus.OPEN

    tickets.clock = lambda: TUESDAY + timedelta(hours=3)
    tickets.resolve(first.ticket_id, actor="agent@helpline.test")
    late = run.process(_dm("m_3", "Hello again, new question.", at=TUESDAY + timedelta(days=5)))
    assert late.status == "created" and late.ticket_id != first.ticket_id
    events = {e.type: e.detail for e in components.store.ticket_bundle(late.ticket_id).events}
    assert events["follows_closed_ticket"] == {"ticket": first.ticket_id}
    # the conversation now points at the new ticket
    after = run.process(_dm("m_4", "Any news?", at=TUESDAY + timedelta(days=5, minutes=1)))
    assert after.ticket_id == late.ticket_id


def test_two_first_messages_racing_make_one_ticket(intake):
    run, _, components = intake
    results = []
    barrier = threading.Barrier(2)

    def deliver(mid: str) -> None:
        barrier.wait()
        results.append(run.process(_dm(mid, "Hello, my order has not arrived yet.")))

    threads = [threading.Thread(target=deliver, args=(m,)) for m in ("m_a", "m_b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2
    assert len({r.ticket_id for r in results}) == 1
    assert len(components.store.list_tickets()) == 1


def test_reactions_edits_and_unsends_land_on_the_message_not_a_new_ticket(intake):
    run, _, components = intake
    first = run.process(_dm("m_1", "Hello, my order has not arrived yet."))
    outcomes = [
        run.process(
            _event(MessageKind.REACTION, "r_1", "m_1", reaction="❤", reaction_action="react")
        ),
        run.process(
            _event(MessageKind.EDIT, "e_1", "m_1", text="Hello, my order 1234 has not arrived.")
        ),
        run.process(_event(MessageKind.UNSEND, "u_1", "m_1")),
    ]
    assert [o.status for o in outcomes] == ["annotated"] * 3
    assert len(components.store.list_tickets()) == 1
    bundle = components.store.ticket_bundle(first.ticket_id)
    [inbound] = [m for m in bundle.messages if m.direction is Direction.INBOUND]
    assert inbound.reactions[0]["emoji"] == "❤"
    assert inbound.edits[0]["text"] == "Hello, my order 1234 has not arrived."
    assert inbound.deleted is True
    # a redelivered reaction changes nothing
    again = run.process(_event(MessageKind.REACTION, "r_1", "m_1", reaction="❤"))
    assert again.status == "duplicate"
    assert len(components.store.ticket_bundle(first.ticket_id).messages[0].reactions) == 1


def test_delivery_statuses_mark_our_reply_and_never_step_back(intake):
    run, _sender, components = intake
    first = run.process(_dm("m_1", "Hello, my order has not arrived yet."))
    provider_id = "m_sent_1"
    read = run.process(_event(MessageKind.STATUS, "s_read", provider_id, status="read"))
    late_delivered = run.process(
        _event(MessageKind.STATUS, "s_dlv", provider_id, status="delivered")
    )
    assert read.status == "annotated" and late_delivered.status == "ignored"
    bundle = components.store.ticket_bundle(first.ticket_id)
    [reply] = [m for m in bundle.messages if m.direction is Direction.OUTBOUND]
    assert reply.delivery is DeliveryStatus.READ


def test_an_echo_or_a_status_for_an_unknown_message_is_ignored(intake):
    run, _, components = intake
    assert run.process(_event(MessageKind.ECHO, "x_1", "m_unknown")).status == "ignored"
    assert (
        run.process(_event(MessageKind.STATUS, "s_1", "m_unknown", status="read")).status
        == "ignored"
    )
    assert components.store.list_tickets() == []


def test_a_reaction_to_a_message_we_never_got_is_kept_in_quarantine(intake):
    run, _, components = intake
    outcome = run.process(_event(MessageKind.REACTION, "r_9", "m_missing", reaction="👍"))
    assert outcome.status == "quarantined" and outcome.reason == "annotation_target_unknown"
    assert [q.reason for q in components.store.list_quarantine()] == ["annotation_target_unknown"]
