"""Admins on customers: one person across channels after a merge; export of all that
is stored about them; erasure that leaves nothing for the export to find."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from functions.core.models import Channel, Identity, InboundMessage
from tests.helpers import make_mail

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def world(aws):
    from functions.core import wiring
    from functions.core.customers import CustomerService

    components = wiring.build(wiring.Settings.from_env())
    service = CustomerService(store=components.store, blobs=components.blobs)
    return components, service


def _instagram(text: str, mid: str, igsid: str = "IG-777") -> InboundMessage:
    return InboundMessage(
        channel=Channel.INSTAGRAM,
        external_id=mid,
        received_at=TUESDAY + timedelta(hours=1),
        sender=Identity("igsid", igsid),
        account="17841400000000001",
        text=text,
        conversation_key=f"instagram:17841400000000001:{igsid}",
    )


def test_a_merge_gives_one_person_one_history(aws, world):
    components, service = world
    mail = aws.deliver(
        make_mail(
            sender="Ana <ana@example.com>",
            attachments=[("order.pdf", "application/pdf", b"%PDF-1.4 x")],
        ),
        received_at=TUESDAY,
    )
    dm = components.intake.process(
        _instagram("Hola, escribo también por aquí sobre mi pedido.", "ig_1")
    )
    email_customer = components.store.get_ticket(mail["ticket_id"]).customer_id
    insta_customer = components.store.get_ticket(dm.ticket_id).customer_id
    assert email_customer != insta_customer

    result = service.merge(email_customer, insta_customer)
    assert result.identities == ["igsid:IG-777"] and result.tickets == [dm.ticket_id]
    tickets = {t.id for t in components.store.customer_tickets(email_customer)}
    assert tickets == {mail["ticket_id"], dm.ticket_id}
    assert components.store.find_customer_id(Identity("igsid", "IG-777")) == email_customer
    # a new Instagram message now belongs to the merged customer at once
    later = components.intake.process(_instagram("¿Alguna novedad?", "ig_2"))
    assert components.store.get_ticket(later.ticket_id).customer_id == email_customer
    assert service.merge(email_customer, insta_customer).already is True


def test_export_has_everything_and_erase_leaves_nothing(aws, world):
    components, service = world
    outcome = aws.deliver(
        make_mail(
            sender="Ana <ana@example.com>",
            attachments=[("order.pdf", "application/pdf", b"%PDF-1.4 x")],
        ),
        received_at=TUESDAY,
    )
    ticket = components.store.get_ticket(outcome["ticket_id"])
    exported = service.export(ticket.customer_id)
    assert exported["found"] is True
    [items] = exported["tickets"].values()
    kinds = sorted({item["type"] for item in items})
    assert kinds == ["event", "message", "ticket"]
    assert any(
        r["type"] == "identity" and r["value"] == "ana@example.com" for r in exported["records"]
    )
    assert any(r.get("type") == "intake" for r in exported["records"])  # its Message-ID record
    blobs = {o["uri"].rsplit("/", 1)[-1]: o for o in exported["objects"]}
    assert base64.b64decode(blobs["00-order.pdf"]["base64"]) == b"%PDF-1.4 x"
    assert any(
        o["uri"].startswith("s3://") and o.get("size") for o in exported["objects"]
    )  # raw mail

    erased = service.erase(ticket.customer_id)
    assert erased.items >= len(items) and erased.objects >= 2
    again = service.export(ticket.customer_id)
    assert again["found"] is False and again["tickets"] == {} and again["objects"] == []
    assert components.store.get_ticket(ticket.id) is None
    assert components.store.find_customer_id(Identity.email("ana@example.com")) is None
    s3 = components.blobs.client.list_objects_v2(
        Bucket=components.blobs.bucket, Prefix="attachments/"
    )
    assert s3.get("KeyCount", 0) == 0
    # the same mail arriving again is a new customer's new ticket, not a ghost of the old
    again = aws.deliver(
        make_mail(sender="Ana <ana@example.com>"), received_at=TUESDAY + timedelta(days=1)
    )
    assert again["status"] == "created"
