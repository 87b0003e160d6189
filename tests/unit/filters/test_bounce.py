"""40 bounce: delivery failures about our mail land on the ticket they are about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from functions.core.filters import bounce
from functions.core.models import Channel, Direction, Identity, Ticket, TicketStatus
from functions.core.pipeline import Drop
from functions.core.store import IntakeRecord, Lookup, intake_to_item, ticket_to_item

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

TICKET_ID = "K7Q2M4XD01"
OUR_REPLY_ID = "hl.k7q2m4xd01.0123456789abcdef@helpline.test"
SES_ID = "010001937a6f4b2c-5d1e9a3b-outbound@email.amazonses.com"
DAEMON = Identity.email("MAILER-DAEMON@mx.example.com")
CLASSIC_TEXT = """This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<ana@example.com>: host mail.example.com said: 550 5.1.1 User unknown

--- Original message headers ---
From: Helpline Demo Support <support@helpline.test>
To: ana@example.com
Subject: We have received your message [#K7Q2M4XD01]
Message-ID: <hl.K7Q2M4XD01.0123456789ABCDEF@helpline.test>
Auto-Submitted: auto-replied
"""


def _ticket(ticket_id: str = TICKET_ID) -> Ticket:
    at = datetime(2025, 11, 24, 9, 0, tzinfo=UTC)
    return Ticket(
        id=ticket_id,
        channel=Channel.EMAIL,
        subject="Question about my order",
        customer_id="C0000000000AA",
        status=TicketStatus.OPEN,
        queue="english",
        participants=["email:ana@example.com"],
        created_at=at,
        updated_at=at,
    )


def _dsn(
    original: str, *, action: str = "failed", status: str = "5.1.1", permanent: str = "yes"
) -> tuple[tuple[str, str], ...]:
    return (
        ("content_type", "multipart/report"),
        ("dsn.original_message_id", original),
        ("dsn.failed_recipients", "ana@example.com"),
        ("dsn.action", action),
        ("dsn.status", status),
        ("dsn.diagnostic", "smtp; 550 5.1.1 <ana@example.com>: Recipient address rejected"),
        ("dsn.permanent", permanent),
    )


def _record(external_id: str, ticket_id: str = TICKET_ID) -> dict[Lookup, dict[str, object]]:
    record = IntakeRecord(
        channel=Channel.EMAIL,
        external_id=external_id,
        ticket_id=ticket_id,
        message_id="0123456789ABCDEF",
        message_sk="MSG#2025-11-24T09:00:00.000001Z#0123456789ABCDEF",
        direction=Direction.OUTBOUND,  # a bounce is about something we sent
    )
    return {Lookup.message(Channel.EMAIL, external_id): intake_to_item(record)}


def _sent(external_id: str = OUR_REPLY_ID, ticket_id: str = TICKET_ID) -> IntakeRecord:
    """The intake record every message we send has (read on a snapshot miss)."""
    return IntakeRecord(
        channel=Channel.EMAIL,
        external_id=external_id,
        ticket_id=ticket_id,
        message_id="0123456789ABCDEF",
        message_sk="MSG#2025-11-24T09:00:00.000001Z#0123456789ABCDEF",
        direction=Direction.OUTBOUND,
    )


def test_a_dsn_is_matched_to_its_ticket_through_the_intake_record(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=DAEMON,
        subject="Delivery Status Notification (Failure)",
        text="Your message could not be delivered.",
        extra=_dsn(SES_ID),
    )
    items = {**_record(SES_ID), Lookup.ticket(TICKET_ID): ticket_to_item(_ticket())}
    ctx = make_context(message, items=items)

    assert bounce.run(ctx) is None

    found = ctx.findings.bounce
    assert found is not None
    assert found.ticket_id == TICKET_ID
    assert found.original_message_id == SES_ID
    assert found.failed_recipients == ("ana@example.com",)
    assert found.permanent is True
    assert found.status == "5.1.1"
    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == TICKET_ID
    assert ctx.findings.follow_up_via == "bounce"


def test_a_delayed_dsn_is_not_permanent(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=DAEMON,
        subject="Delivery delayed",
        extra=_dsn(OUR_REPLY_ID, action="delayed", status="4.4.7", permanent="no"),
    )
    ctx = make_context(message, items=_record(OUR_REPLY_ID), tickets=[_ticket()])

    bounce.run(ctx)

    assert ctx.findings.bounce is not None
    assert ctx.findings.bounce.permanent is False
    assert ctx.findings.bounce.action == "delayed"


def test_a_classic_bounce_is_matched_by_our_message_id_in_its_text(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=DAEMON,
        subject="Undelivered Mail Returned to Sender",
        text=CLASSIC_TEXT,
        extra=(("content_type", "text/plain"),),
    )
    ctx = make_context(message, tickets=[_ticket()], intakes=[_sent()])

    assert bounce.run(ctx) is None

    found = ctx.findings.bounce
    assert found is not None
    assert found.ticket_id == TICKET_ID
    assert found.original_message_id == OUR_REPLY_ID
    assert found.permanent is True
    assert ctx.findings.ticket is not None and ctx.findings.ticket.id == TICKET_ID


@pytest.mark.parametrize(
    "subject",
    ["failure notice", "Mail delivery failed: returning message to sender", "Unzustellbar: Hallo"],
)
def test_classic_bounce_subjects_from_postmaster_are_recognised(
    make_message: MakeMessage, make_context: MakeContext, subject: str
) -> None:
    message = make_message(
        sender=Identity.email("postmaster@example.com"), subject=subject, text=CLASSIC_TEXT
    )
    ctx = make_context(message, tickets=[_ticket()], intakes=[_sent()])

    bounce.run(ctx)

    assert ctx.findings.bounce is not None


def test_a_dsn_that_matches_no_ticket_is_quarantined(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=DAEMON, subject="Undeliverable", extra=_dsn("unknown-id@other.example")
    )
    ctx = make_context(message)

    verdict = bounce.run(ctx)

    assert isinstance(verdict, Drop)
    assert verdict.reason == "bounce_unmatched"
    assert ctx.findings.bounce is None


def test_a_bounce_about_a_ticket_that_no_longer_exists_is_quarantined(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=DAEMON, subject="Undelivered Mail Returned to Sender", text=CLASSIC_TEXT
    )

    verdict = bounce.run(make_context(message, intakes=[_sent()]))  # no ticket anywhere

    assert verdict is not None and verdict.reason == "bounce_unmatched"


def test_a_message_id_in_another_domain_is_not_ours(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    text = CLASSIC_TEXT.replace("@helpline.test>", "@elsewhere.example>")
    message = make_message(sender=DAEMON, subject="Undelivered Mail Returned to Sender", text=text)

    verdict = bounce.run(make_context(message, tickets=[_ticket()]))

    assert verdict is not None and verdict.reason == "bounce_unmatched"


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        ("ana@example.com", "Undelivered parcel, order 1234"),  # a customer, not a server
        ("mailer-daemon@mx.example.com", "Your mailbox is almost full"),  # not a failure
        ("postmaster@example.com", "Question about your SPF record"),  # not a failure
    ],
)
def test_mail_that_only_resembles_a_bounce_is_left_alone(
    make_message: MakeMessage, make_context: MakeContext, sender: str, subject: str
) -> None:
    message = make_message(sender=Identity.email(sender), subject=subject, text=CLASSIC_TEXT)
    ctx = make_context(message, tickets=[_ticket()])

    assert bounce.run(ctx) is None

    assert ctx.findings.bounce is None
    assert ctx.findings.ticket is None


def test_a_forged_report_naming_one_of_our_message_ids_is_not_believed(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    # the id has our format and names a real ticket, but we never sent such a message
    message = make_message(sender=DAEMON, subject="Undeliverable", extra=_dsn(OUR_REPLY_ID))
    ctx = make_context(message, tickets=[_ticket()])

    verdict = bounce.run(ctx)

    assert verdict is not None and verdict.reason == "bounce_unmatched"
    assert ctx.findings.bounce is None
