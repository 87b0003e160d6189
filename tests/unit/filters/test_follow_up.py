"""60 follow_up: a reply lands on the ticket it continues, and only its participants can
write into a ticket by quoting its token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from functions.core.filters import follow_up
from functions.core.models import Channel, Identity, Ticket, TicketStatus
from functions.core.store import IntakeRecord, Lookup, intake_to_item, ticket_to_item

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

A = "K7Q2M4XD01"
B = "9ZX4PQ7MB2"
ANA = Identity.email("ana@example.com")
STRANGER = Identity.email("mallory@evil.example")


def _ticket(ticket_id: str, status: TicketStatus = TicketStatus.OPEN) -> Ticket:
    at = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
    return Ticket(
        id=ticket_id,
        channel=Channel.EMAIL,
        subject="Question about my order",
        customer_id="C0000000000AA",
        status=status,
        queue="english",
        language="en",
        participants=["email:ana@example.com", "email:bob@example.com"],
        created_at=at,
        updated_at=at,
    )


def _items(*tickets: Ticket, threads: dict[str, str] | None = None) -> dict[Lookup, Any]:
    """Tickets, and Message-IDs we stored (id -> ticket), as the batch read returns them."""
    items: dict[Lookup, Any] = {Lookup.ticket(t.id): ticket_to_item(t) for t in tickets}
    for external_id, ticket_id in (threads or {}).items():
        record = IntakeRecord(
            channel=Channel.EMAIL,
            external_id=external_id,
            ticket_id=ticket_id,
            message_id="M" + ticket_id,
            message_sk=f"MSG#2025-11-20T09:00:00.000000Z#M{ticket_id}",
        )
        items[Lookup.message(Channel.EMAIL, external_id)] = intake_to_item(record)
    return items


@pytest.mark.parametrize(
    "subject",
    [
        f"Re: We have received your message [#{A}]",
        "Re: We have received your message [#k7q2m4xd01]",  # typed in lower case
        "AW: [# K7Q2M4XDO1 ] my order",  # O for 0, and spaces
    ],
)
def test_a_token_from_a_participant_continues_the_ticket(
    make_message: MakeMessage, make_context: MakeContext, subject: str
) -> None:
    ctx = make_context(make_message(subject=subject), items=_items(_ticket(A)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A
    assert ctx.findings.follow_up_via == "subject_token"


def test_a_token_from_someone_copied_on_the_ticket_is_accepted(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(sender=Identity.email("Bob@Example.com"), subject=f"Re: [#{A}]")
    ctx = make_context(message, items=_items(_ticket(A)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A


def test_a_token_from_a_stranger_is_ignored_with_a_note(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(sender=STRANGER, subject=f"Re: [#{A}] please update my address")
    ctx = make_context(message, items=_items(_ticket(A)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None
    assert ctx.findings.follow_up_via is None
    assert ctx.findings.notes == [
        ("follow_up.token_ignored", {"ticket": A, "reason": "sender is not a participant"})
    ]


def test_a_token_for_a_ticket_we_do_not_have_falls_through_to_the_thread(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Re: [#0000000000]", in_reply_to=("m1@helpline.test",))
    ctx = make_context(message, items=_items(_ticket(A), threads={"m1@helpline.test": A}))

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A
    assert ctx.findings.follow_up_via == "in_reply_to"


def test_the_token_is_tried_before_the_thread_headers(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject=f"Re: [#{A}]", in_reply_to=("m-b@helpline.test",))
    items = _items(_ticket(A), _ticket(B), threads={"m-b@helpline.test": B})
    ctx = make_context(message, items=items)

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A


def test_in_reply_to_beats_references(make_message: MakeMessage, make_context: MakeContext) -> None:
    message = make_message(
        subject="Re: my order",
        in_reply_to=("m-a@helpline.test",),
        references=("m-a@helpline.test", "m-b@helpline.test"),
    )
    items = _items(_ticket(A), _ticket(B), threads={"m-a@helpline.test": A, "m-b@helpline.test": B})
    ctx = make_context(message, items=items)

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A
    assert ctx.findings.follow_up_via == "in_reply_to"


def test_the_newest_reference_wins(make_message: MakeMessage, make_context: MakeContext) -> None:
    message = make_message(
        subject="Re: my order",
        references=("old@mail.example.com", "m-a@helpline.test", "m-b@helpline.test"),
    )
    items = _items(_ticket(A), _ticket(B), threads={"m-a@helpline.test": A, "m-b@helpline.test": B})
    ctx = make_context(message, items=items)

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == B
    assert ctx.findings.follow_up_via == "references"


def test_our_own_message_id_leads_to_its_ticket_without_an_intake_record(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(in_reply_to=("hl.k7q2m4xd01.0123456789abcdef@helpline.test",))
    ctx = make_context(message, tickets=[_ticket(A)])  # the ticket is read from the store

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A


def test_a_stranger_cannot_forge_our_message_id_to_enter_a_ticket(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=STRANGER,
        subject="Please change the delivery address",
        in_reply_to=(f"hl.{A.lower()}.forged@helpline.test",),
    )
    ctx = make_context(message, items=_items(_ticket(A)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None


def test_unknown_thread_ids_start_a_new_ticket(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        subject="Re: Question about my order",
        in_reply_to=("abc@mail.example.com",),
        references=("xyz@mail.example.com", "abc@mail.example.com"),
    )
    ctx = make_context(message, items=_items(_ticket(A)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None
    assert ctx.findings.previous_ticket is None


def test_a_reply_to_a_closed_ticket_points_back_to_it(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject=f"Re: [#{A}]")
    ctx = make_context(message, items=_items(_ticket(A, TicketStatus.CLOSED)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None
    assert ctx.findings.previous_ticket == A
    assert ("follow_up.closed_ticket", {"ticket": A, "via": "subject_token"}) in ctx.findings.notes


def test_a_reply_to_a_solved_ticket_continues_it(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(in_reply_to=("m-a@helpline.test",))
    items = _items(_ticket(A, TicketStatus.SOLVED), threads={"m-a@helpline.test": A})
    ctx = make_context(message, items=items)

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A
    assert ctx.findings.previous_ticket is None


def test_a_ticket_the_bounce_filter_found_is_kept(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject=f"Undeliverable: [#{B}]", in_reply_to=("m-b@helpline.test",))
    items = _items(_ticket(A), _ticket(B), threads={"m-b@helpline.test": B})
    ctx = make_context(message, items=items)
    ctx.findings.ticket = _ticket(A)
    ctx.findings.follow_up_via = "bounce"

    follow_up.run(ctx)

    assert ctx.findings.ticket.id == A
    assert ctx.findings.follow_up_via == "bounce"


# -- who can join a ticket (issue 16, item 1) ------------------------------------------------

ANA_WORK = Identity.email("ana.garcia@work.example")


def test_a_stranger_answering_a_message_id_of_the_ticket_starts_a_linked_ticket(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    # anyone the customer copied or forwarded to knows the thread's Message-IDs
    message = make_message(
        sender=STRANGER,
        subject="Re: Question about my order",
        in_reply_to=("m-a@helpline.test",),
        references=("m-a@helpline.test",),
    )
    ctx = make_context(message, items=_items(_ticket(A), threads={"m-a@helpline.test": A}))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None
    assert ctx.findings.linked == {A: "in_reply_to"}
    assert (
        "follow_up.thread_ignored",
        {"ticket": A, "via": "in_reply_to", "reason": "sender is not a participant"},
    ) in ctx.findings.notes


def test_reply_to_naming_the_customer_is_no_proof_of_identity(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=STRANGER, alternates=(ANA,), subject=f"Re: Question about my order [#{A}]"
    )
    ctx = make_context(message, items=_items(_ticket(A)))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None
    assert ctx.findings.linked == {A: "subject_token"}
    # the new ticket does not carry the other ticket's reference in its subject
    assert ctx.findings.subject == "Re: Question about my order"


def test_a_mail_without_from_cannot_join_by_its_reply_to(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(sender=None, alternates=(ANA,), in_reply_to=("m-a@helpline.test",))
    ctx = make_context(message, items=_items(_ticket(A), threads={"m-a@helpline.test": A}))

    follow_up.run(ctx)

    assert ctx.findings.ticket is None
    assert ctx.findings.linked == {A: "in_reply_to"}


def test_the_customer_writing_from_another_known_address_continues_the_ticket(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    from functions.core.models import Customer

    ticket = _ticket(A)
    ana = Customer(id=ticket.customer_id, name="Ana García", identities=[ANA, ANA_WORK])
    message = make_message(sender=ANA_WORK, subject=f"Re: [#{A}] one more thing")
    ctx = make_context(message, items=_items(ticket), customers=[(ana, 3)])

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A
    assert ctx.findings.linked == {}


def test_an_address_whose_identity_record_names_the_customer_continues_the_ticket(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ticket = _ticket(A)
    items = _items(ticket, threads={"m-a@helpline.test": A})
    items[Lookup.identity(ANA_WORK)] = {
        "type": "identity",
        "kind": "email",
        "value": ANA_WORK.value,
        "customer_id": ticket.customer_id,
    }
    message = make_message(sender=ANA_WORK, in_reply_to=("m-a@helpline.test",))
    ctx = make_context(message, items=items)

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == A


def test_a_participant_ticket_further_down_the_thread_still_wins(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    # In-Reply-To names a ticket the sender may not join, References one they are on
    b = _ticket(B)
    b.participants = ["email:mallory@evil.example"]
    message = make_message(
        sender=STRANGER,
        in_reply_to=("m-a@helpline.test",),
        references=("m-b@helpline.test", "m-a@helpline.test"),
    )
    items = _items(_ticket(A), b, threads={"m-a@helpline.test": A, "m-b@helpline.test": B})
    ctx = make_context(message, items=items)

    follow_up.run(ctx)

    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == B
    assert ctx.findings.follow_up_via == "references"
    assert ctx.findings.linked == {}  # a follow-up is not a new ticket to link
