"""70 identify_customer: one customer per person, found by the address they wrote from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from functions.core.filters import identify_customer
from functions.core.filters.bounce import BounceFinding
from functions.core.models import Channel, Customer, Identity, Ticket
from functions.core.pipeline import Drop
from functions.core.store import Lookup, customer_to_item

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

ANA = Identity.email("ana@example.com")
ANA_WORK = Identity.email("ana.garcia@work.example")
SINCE = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)


def _customer(customer_id: str, *identities: Identity, **fields: Any) -> Customer:
    return Customer(
        id=customer_id, name="Ana García", identities=list(identities), created_at=SINCE, **fields
    )


def _known(identity: Identity, customer: Customer, version: int) -> dict[Lookup, Any]:
    """The identity record and the profile, as the intake's batch read finds them."""
    return {
        Lookup.identity(identity): {
            "type": "identity",
            "kind": identity.kind,
            "value": identity.value,
            "customer_id": customer.id,
        },
        Lookup.customer(customer.id): customer_to_item(customer, version),
    }


def test_a_new_sender_becomes_a_new_customer(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message())

    assert identify_customer.run(ctx) is None

    customer = ctx.findings.customer
    assert ctx.findings.identity == ANA
    assert customer is not None
    assert customer.id == identify_customer.customer_id_for(ANA)
    assert customer.identities == [ANA]
    assert customer.name == "Ana García"
    assert ctx.findings.customer_version is None


def test_the_new_customer_id_is_the_same_on_every_retry(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    first = make_context(make_message())
    second = make_context(make_message(external_id="another@mail.example.com"))

    identify_customer.run(first)
    identify_customer.run(second)

    assert first.findings.customer is not None and second.findings.customer is not None
    assert first.findings.customer.id == second.findings.customer.id
    other = identify_customer.customer_id_for(Identity.email("bob@example.com"))
    assert other != first.findings.customer.id


def test_without_from_the_reply_to_address_is_used_and_noted(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(sender=None, alternates=(ANA_WORK, ANA))
    ctx = make_context(message)

    assert identify_customer.run(ctx) is None

    assert ctx.findings.identity == ANA_WORK
    assert ctx.findings.customer is not None
    assert ctx.findings.customer.identities == [ANA_WORK]
    assert ("identify.fallback", {"identity": "email"}) in ctx.findings.notes


def test_no_usable_sender_at_all_is_quarantined(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(sender=None, alternates=()))

    verdict = identify_customer.run(ctx)

    assert isinstance(verdict, Drop)
    assert verdict.reason == "no_sender"
    assert ctx.findings.customer is None


def test_a_known_address_leads_to_the_existing_customer(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    existing = _customer("C0000000000AA", ANA, ANA_WORK, language="es", tags=["vip"])
    ctx = make_context(make_message(), items=_known(ANA, existing, 7))

    identify_customer.run(ctx)

    assert ctx.findings.customer == existing
    assert ctx.findings.customer_version == 7


def test_the_customer_profile_is_read_from_the_store_when_not_prefetched(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    existing = _customer("C0000000000AA", ANA)
    items = _known(ANA, existing, 3)
    del items[Lookup.customer(existing.id)]
    ctx = make_context(make_message(), items=items, customers=[(existing, 3)])

    identify_customer.run(ctx)

    assert ctx.findings.customer == existing
    assert ctx.findings.customer_version == 3


def test_a_merged_customer_is_followed_to_the_one_that_absorbed_it(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    old = _customer("C0000000000AA", ANA, merged_into="C0000000000BB")
    middle = _customer("C0000000000BB", ANA_WORK, merged_into="C0000000000CC")
    survivor = _customer("C0000000000CC", ANA, ANA_WORK, tags=["vip"])
    ctx = make_context(
        make_message(), items=_known(ANA, old, 2), customers=[(middle, 4), (survivor, 9)]
    )

    identify_customer.run(ctx)

    assert ctx.findings.customer == survivor
    assert ctx.findings.customer_version == 9


def test_a_delivery_report_belongs_to_the_tickets_customer(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    owner = _customer("C0000000000AA", ANA)
    daemon = Identity.email("mailer-daemon@mx.example.com")
    ticket = Ticket(
        id="K7Q2M4XD01",
        channel=Channel.EMAIL,
        subject="Question about my order",
        customer_id=owner.id,
        created_at=SINCE,
    )
    ctx = make_context(make_message(sender=daemon), customers=[(owner, 5)])
    ctx.findings.ticket = ticket
    ctx.findings.bounce = BounceFinding(
        original_message_id="hl.k7q2m4xd01.0123456789abcdef@helpline.test",
        failed_recipients=("ana@example.com",),
        permanent=True,
        action="failed",
        status="5.1.1",
        diagnostic="User unknown",
        ticket_id=ticket.id,
    )

    identify_customer.run(ctx)

    assert ctx.findings.customer == owner
    assert ctx.findings.customer_version == 5


def test_without_from_the_customer_is_the_address_the_loop_check_saw(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    from functions.core.filters import own_loop

    message = make_message(sender=None, alternates=(ANA_WORK, ANA))
    ctx = make_context(message)

    assert own_loop.run(ctx) is None
    identify_customer.run(ctx)

    assert ctx.findings.identity == identify_customer.sender_identity(message) == ANA_WORK
