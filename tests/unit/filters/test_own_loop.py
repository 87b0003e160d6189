"""20 own_loop: our own mail coming back must never become a ticket (or an answer to it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from functions.core.filters import own_loop
from functions.core.models import Channel, Direction, Identity
from functions.core.pipeline import Drop
from functions.core.store import IntakeRecord, Lookup, intake_to_item

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

OWN_ID = "hl.k7q2m4xd01.0123456789abcdef@helpline.test"


def _intake(external_id: str, direction: Direction) -> dict[Lookup, dict[str, object]]:
    record = IntakeRecord(
        channel=Channel.EMAIL,
        external_id=external_id,
        ticket_id="K7Q2M4XD01",
        message_id="0123456789ABCDEF",
        message_sk="MSG#2025-11-25T10:30:00.000000Z#0123456789ABCDEF",
        direction=direction,
    )
    return {Lookup.message(Channel.EMAIL, external_id): intake_to_item(record)}


@pytest.mark.parametrize("address", ["support@helpline.test", "Support@Helpline.Test"])
def test_mail_from_our_own_address_is_dropped(
    make_message: MakeMessage, make_context: MakeContext, address: str
) -> None:
    ctx = make_context(make_message(sender=Identity.email(address)))

    verdict = own_loop.run(ctx)

    assert isinstance(verdict, Drop)
    assert verdict.reason == "own_loop"


def test_x_loop_naming_us_is_dropped(make_message: MakeMessage, make_context: MakeContext) -> None:
    message = make_message(
        sender=Identity.email("forwarder@example.com"),
        headers=(("X-Loop", "Support@Helpline.test"),),
    )

    verdict = own_loop.run(make_context(message))

    assert verdict is not None and verdict.reason == "own_loop"


def test_a_second_x_loop_naming_us_is_enough(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        headers=(("X-Loop", "helpdesk@example.com"), ("X-Loop", "support@helpline.test")),
    )

    verdict = own_loop.run(make_context(message))

    assert verdict is not None and verdict.reason == "own_loop"


def test_our_own_message_id_coming_back_is_dropped(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(external_id=OWN_ID)
    ctx = make_context(message, items=_intake(OWN_ID, Direction.OUTBOUND))

    verdict = own_loop.run(ctx)

    assert verdict is not None and verdict.reason == "own_loop"


def test_an_inbound_intake_record_is_not_a_loop(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    # a redelivery of a customer's mail: the intake resumes it, it is not our own
    message = make_message(external_id="cafe01@mail.example.com")
    ctx = make_context(message, items=_intake("cafe01@mail.example.com", Direction.INBOUND))

    assert own_loop.run(ctx) is None


def test_foreign_x_loop_is_not_ours(make_message: MakeMessage, make_context: MakeContext) -> None:
    message = make_message(headers=(("X-Loop", "helpdesk@example.com"),))

    assert own_loop.run(make_context(message)) is None


def test_a_customer_at_our_domain_is_not_us(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(sender=Identity.email("sales@helpline.test"))

    assert own_loop.run(make_context(message)) is None


def test_x_loop_with_an_address_that_only_contains_ours_is_not_ours(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        sender=Identity.email("agent@helpline.test.br"),
        headers=(("X-Loop", "support@helpline.test.br"),),
    )

    assert own_loop.run(make_context(message)) is None


def test_other_channels_are_not_checked(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        channel=Channel.WHATSAPP,
        external_id="wamid.HBgLMzQ2",
        sender=Identity("wa_id", "34600111222"),
        headers=(("X-Loop", "support@helpline.test"),),
    )

    assert own_loop.run(make_context(message)) is None


# -- the loop check sees the address the customer is identified by (issue 16, item 7) --------


@pytest.mark.parametrize("ours", ["support@helpline.test", "Support@Helpline.Test"])
def test_an_empty_from_with_our_address_in_sender_or_reply_to_is_dropped(
    make_message: MakeMessage, make_context: MakeContext, ours: str
) -> None:
    # without From, identify_customer would make this address the customer
    message = make_message(sender=None, alternates=(Identity.email(ours),))

    verdict = own_loop.run(make_context(message))

    assert verdict is not None and verdict.reason == "own_loop"


def test_the_loop_check_and_the_customer_are_the_same_address(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    from functions.core.filters import identify_customer

    # From is the customer: a Reply-To naming us does not make the mail ours
    message = make_message(alternates=(Identity.email("support@helpline.test"),))

    assert own_loop.run(make_context(message)) is None
    assert identify_customer.sender_identity(message) == Identity.email("ana@example.com")
