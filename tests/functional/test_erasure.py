"""Erasing one customer removes exactly their data: not another customer's input that
arrived in the same platform delivery, and also the profiles merged into theirs."""

# the `hooks` fixture (signed webhooks through social_dm) comes from test_social_dm
# ruff: noqa: F811

from __future__ import annotations

import copy
import json
from typing import Any

from functions.core.blobs import ObjectRef
from functions.core.customers import CustomerService
from functions.core.models import Identity
from tests.functional.test_social_dm import _messenger, hooks  # noqa: F401 (the fixture)


def _delivery(*events: dict[str, Any]) -> dict[str, Any]:
    """One Messenger delivery carrying several customers' events, as Meta batches them."""
    first = _messenger("x")
    return {
        "object": "page",
        "entry": [{"id": first["entry"][0]["id"], "time": 1, "messaging": list(events)}],
    }


def _event(text: str, mid: str, sender: str) -> dict[str, Any]:
    return copy.deepcopy(_messenger(text, mid=mid, sender=sender)["entry"][0]["messaging"][0])


def _service(hooks: Any) -> CustomerService:
    return CustomerService(store=hooks.components.store, blobs=hooks.components.blobs)


def test_erasing_one_customer_keeps_the_others_message_in_a_shared_delivery(hooks):
    status, answer = hooks.meta(
        _delivery(
            _event("Hola, mi pedido llegó roto.", "m_ana", sender="1000000000000001"),
            _event("Hello, where is my parcel?", "m_bob", sender="1000000000000002"),
        )
    )
    assert status == 200 and answer["outcomes"] == {"created": 2}, answer
    store = hooks.components.store
    ana = store.find_customer_id(Identity("psid", "1000000000000001"))
    bob = store.find_customer_id(Identity("psid", "1000000000000002"))
    [bob_ticket] = store.customer_tickets(bob)
    [bob_message] = [m for m in store.ticket_bundle(bob_ticket.id).messages if m.raw_ref]

    result = _service(hooks).erase(ana)
    assert result.objects == 1
    assert _service(hooks).export(ana)["found"] is False
    # Bob's message still points at the kept delivery, and it still holds his event
    raw = hooks.components.blobs.get(ObjectRef.parse(bob_message.raw_ref))
    kept = json.loads(raw)
    senders = [e["sender"]["id"] for e in kept["entry"][0]["messaging"]]
    assert senders == ["1000000000000002"]
    assert "llegó roto" not in raw.decode("utf-8")
    assert _service(hooks).export(bob)["objects"][0].get("missing") is None


def test_erasing_a_customer_alone_in_a_delivery_deletes_it(hooks):
    hooks.meta(_delivery(_event("Hola, ayuda por favor.", "m_solo", sender="1000000000000003")))
    store = hooks.components.store
    ana = store.find_customer_id(Identity("psid", "1000000000000003"))
    [ticket] = store.customer_tickets(ana)
    [message] = [m for m in store.ticket_bundle(ticket.id).messages if m.raw_ref]
    _service(hooks).erase(ana)
    listed = hooks.components.blobs.client.list_objects_v2(
        Bucket=hooks.components.blobs.bucket, Prefix=message.raw_ref.split("/", 3)[3]
    )
    assert listed.get("KeyCount", 0) == 0


def test_erasing_a_customer_erases_the_profiles_merged_into_theirs(hooks):
    hooks.meta(_delivery(_event("Hola, soy Ana.", "m_a1", sender="1000000000000004")))
    hooks.meta(_delivery(_event("Hola otra vez, soy Ana.", "m_a2", sender="1000000000000005")))
    store = hooks.components.store
    keep = store.find_customer_id(Identity("psid", "1000000000000004"))
    gone = store.find_customer_id(Identity("psid", "1000000000000005"))
    service = _service(hooks)
    service.merge(keep, gone)
    assert store.get_customer(gone) is not None  # kept, pointing at the one it joined

    service.erase(keep)
    assert store.get_customer(keep) is None
    assert store.get_customer(gone) is None  # the merged-away profile went too
    assert service.export(gone)["found"] is False
