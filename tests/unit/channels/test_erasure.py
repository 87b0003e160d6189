"""A kept delivery without one customer's events (erasure), per platform."""

from __future__ import annotations

import pytest

from functions.core.channels.erasure import without


def _whatsapp(*people: str) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": "1122334455667"},
                            "contacts": [
                                {"wa_id": p, "profile": {"name": f"Person {p}"}} for p in people
                            ],
                            "messages": [
                                {
                                    "from": p,
                                    "id": f"wamid.{p}",
                                    "type": "text",
                                    "text": {"body": "hi"},
                                }
                                for p in people
                            ],
                        },
                    }
                ],
            }
        ],
    }


def test_whatsapp_keeps_the_other_persons_contact_and_message():
    rest = without("meta", _whatsapp("34600000001", "34600000002"), {"34600000001"})
    assert rest is not None
    value = rest["entry"][0]["changes"][0]["value"]
    assert [m["from"] for m in value["messages"]] == ["34600000002"]
    assert [c["wa_id"] for c in value["contacts"]] == ["34600000002"]


def test_whatsapp_with_only_the_customer_is_nothing():
    assert without("meta", _whatsapp("34600000001"), {"34600000001"}) is None


def test_whatsapp_statuses_of_our_sends_to_them_go_too():
    delivery = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "statuses": [
                                {"id": "wamid.A", "recipient_id": "34600000001", "status": "read"},
                                {"id": "wamid.B", "recipient_id": "34600000002", "status": "read"},
                            ]
                        }
                    }
                ]
            }
        ],
    }
    rest = without("meta", delivery, {"34600000001"})
    assert rest is not None
    assert [s["id"] for s in rest["entry"][0]["changes"][0]["value"]["statuses"]] == ["wamid.B"]


def test_messenger_echoes_to_the_customer_go_with_their_messages():
    delivery = {
        "object": "page",
        "entry": [
            {
                "id": "117172741761305",
                "messaging": [
                    {"sender": {"id": "1"}, "recipient": {"id": "117172741761305"}, "message": {}},
                    {"sender": {"id": "117172741761305"}, "recipient": {"id": "1"}, "message": {}},
                    {"sender": {"id": "2"}, "recipient": {"id": "117172741761305"}, "message": {}},
                ],
            }
        ],
    }
    rest = without("meta", delivery, {"1"})
    assert rest is not None
    assert [e["sender"]["id"] for e in rest["entry"][0]["messaging"]] == ["2"]
    assert without("meta", delivery, {"1", "2"}) is None


def test_telegram_goes_whole_or_stays_whole():
    update = {
        "update_id": 1,
        "message": {"message_id": 7, "from": {"id": 55}, "chat": {"id": 55}, "text": "hi"},
    }
    assert without("telegram", update, {"55"}) is None
    assert without("telegram", update, {"66"}) == update
    callback = {
        "update_id": 2,
        "callback_query": {"id": "9", "from": {"id": 55}, "message": {"chat": {"id": 55}}},
    }
    assert without("telegram", callback, {"55"}) is None


def test_x_keeps_other_peoples_events_and_users():
    delivery = {
        "for_user_id": "999",
        "direct_message_events": [
            {
                "type": "message_create",
                "message_create": {"sender_id": "1", "target": {"recipient_id": "999"}},
            },
            {
                "type": "message_create",
                "message_create": {"sender_id": "2", "target": {"recipient_id": "999"}},
            },
        ],
        "users": {"1": {"name": "One"}, "2": {"name": "Two"}, "999": {"name": "Us"}},
    }
    rest = without("x", delivery, {"1"})
    assert rest is not None
    assert [e["message_create"]["sender_id"] for e in rest["direct_message_events"]] == ["2"]
    assert set(rest["users"]) == {"2", "999"}
    assert without("x", delivery, {"1", "2"}) is None


def test_an_unknown_platform_is_an_error_not_a_silent_delete():
    with pytest.raises(ValueError, match="no erasure rule"):
        without("myspace", {}, {"1"})
