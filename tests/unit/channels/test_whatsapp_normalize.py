"""WhatsApp deliveries: every pywa payload, checked against what pywa's own test expects."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.channels import whatsapp
from functions.core.channels.delivery import Delivery
from functions.core.errors import RejectedInput
from functions.core.models import Channel, Identity, InboundMessage, MessageKind
from tests.unit.channels.payloads import RECEIVED, corpus_json, fixture, pywa

UPDATES = ("pywa", "tests", "data", "updates")


def _read(raw: dict[str, Any]) -> Delivery:
    return whatsapp.normalize(raw, received_at=RECEIVED, raw_ref="s3://raw/wa/1")


def _one(raw: dict[str, Any]) -> InboundMessage:
    delivery = _read(raw)
    assert delivery.rejected == () and delivery.ignored == ()
    (message,) = delivery.messages
    return message


def _extra(message: InboundMessage) -> dict[str, str]:
    return dict(message.extra)


# pywa's predicate for each payload (tests/test_updates.py, EXPECTED.extracted.json),
# restated for our model
def _media(kind: str) -> Callable[[InboundMessage], bool]:
    return lambda m: (
        len(m.attachments) == 1
        and m.attachments[0].media_id is not None
        and (m.attachments[0].content_type.startswith(kind))
    )


EXPECTATIONS: dict[tuple[str, str], Callable[[InboundMessage], bool]] = {
    ("message", "text"): lambda m: m.text == "Body Text",
    ("message", "image"): _media("image/"),
    ("message", "video"): _media("video/"),
    ("message", "document"): lambda m: (
        m.attachments[0].filename == "filename.pdf" and m.text == "caption"
    ),
    ("message", "audio"): lambda m: _media("audio/")(m) and "voice" not in _extra(m),
    ("message", "voice"): lambda m: _extra(m).get("voice") == "true",
    ("message", "static_sticker"): _media("image/webp"),
    ("message", "animated_sticker"): _media("image/webp"),
    ("message", "reaction"): lambda m: (
        m.kind is MessageKind.REACTION
        and _extra(m) == {"reaction": "😮", "reaction_action": "react"}
        and m.target_external_id == "wamid.yzxyzx="
    ),
    ("message", "unreaction_empty"): lambda m: _extra(m) == {"reaction_action": "unreact"},
    ("message", "unreaction_no_emoji"): lambda m: _extra(m) == {"reaction_action": "unreact"},
    ("message", "current_location"): lambda m: _extra(m)["location"] == "12.25089,43.90539",
    ("message", "chosen_location"): lambda m: (
        m.text == "Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025"
    ),
    ("message", "contacts"): lambda m: (
        _extra(m)["shared_contacts"] == "Chandler Bing, Monica, Rachel Green"
    ),
    ("message", "order"): lambda m: _extra(m)["order"] == "HAMBURGER x3, FRENCH_FRIES x2, SODA x2",
    ("message", "unsupported"): lambda m: "not supported" in _extra(m)["unsupported"],
    ("message", "unsupported_with_type"): lambda m: "unsupported" in _extra(m),
    ("message", "reply"): lambda m: (
        m.in_reply_to == ("wamid.xyzxyz==",) and m.text == "replied text"
    ),
    ("message", "forwarded"): lambda m: _extra(m)["forwarded"] == "true",
    ("message", "forwarded_many_times"): lambda m: _extra(m)["forwarded"] == "many",
    ("message", "interactive_message_with_err"): lambda m: (
        m.kind is MessageKind.MESSAGE and "Unsupported webhook payload" in _extra(m)["unsupported"]
    ),
    ("message", "referral"): lambda m: (
        "source_id=ADID" in _extra(m)["referral"] and m.text == "BODY"
    ),
    ("message", "media_with_url"): lambda m: (m.attachments[0].url or "").startswith(
        "https://lookaside.fbsbx.com/"
    ),
    ("callback_button", "button"): lambda m: (
        _extra(m)["quick_reply_payload"] == "callback_data" and m.in_reply_to == ("wamid.xyzxyz",)
    ),
    ("callback_button", "quick_reply"): lambda m: m.text == "title" and m.in_reply_to != (),
    ("callback_button", "quick_reply_without_context"): lambda m: (
        m.in_reply_to == () and _extra(m)["quick_reply_payload"] == "callback_data"
    ),
    ("callback_selection", "callback"): lambda m: (
        _extra(m)["quick_reply_payload"] == "callback_data"
    ),
    ("callback_selection", "description"): lambda m: m.text == "title",
    ("message_status", "sent"): lambda m: _extra(m) == {"status": "sent"},
    ("message_status", "delivered"): lambda m: _extra(m) == {"status": "delivered"},
    ("message_status", "read"): lambda m: _extra(m) == {"status": "read"},
    ("message_status", "played"): lambda m: _extra(m) == {"status": "read"},
    ("message_status", "failed"): lambda m: (
        _extra(m)["status"] == "failed" and "part of an experiment" in _extra(m)["status_detail"]
    ),
    ("message_status", "with_tracker"): lambda m: m.kind is MessageKind.STATUS,
    ("message_status", "group"): lambda m: m.target_external_id == "<WHATSAPP_MESSAGE_ID>",
    ("outgoing_message", "text"): lambda m: m.kind is MessageKind.ECHO and m.text == "Test message",
    ("outgoing_message", "edit"): lambda m: (
        m.kind is MessageKind.ECHO
        and m.target_external_id == "wamid.zzzzzz"
        and m.text == "Text was edited"
    ),
    ("outgoing_message", "delete"): lambda m: _extra(m) == {"echo_of": "revoke"},
    ("flow_completion", "completion"): lambda m: "flow_token" in _extra(m)["flow_response"],
    ("flow_completion", "without_flow_token"): lambda m: (
        "flow_token" not in _extra(m)["flow_response"]
    ),
}

# kinds we deliberately do not take in: answered 200, counted
IGNORED = {
    "template_status_update": "whatsapp:message_template_status_update",
    "template_quality_update": "whatsapp:message_template_quality_update",
    "template_category_update": "whatsapp:template_category_update",
    "template_components_update": "whatsapp:message_template_components_update",
    "account_update": "whatsapp:account_update",
    "user_marketing_preferences": "whatsapp:user_preferences",
    "call_status": "whatsapp:calls",
    "call_connect": "whatsapp:calls",
    "call_terminate": "whatsapp:calls",
    "call_permission_update": "whatsapp:interactive.call_permission_reply",
    "system": "whatsapp:system",
}


def _corpus_cases() -> list[tuple[str, str]]:
    try:
        expected = corpus_json(*UPDATES, "EXPECTED.extracted.json")["expectations"]
    except pytest.skip.Exception:
        return []
    return [(file, name) for file, names in expected.items() for name in names]


@pytest.mark.corpus
@pytest.mark.parametrize(("file", "name"), _corpus_cases())
def test_every_pywa_payload_reads_as_pywa_expects(file: str, name: str) -> None:
    try:
        raw = pywa(file, name)
    except (pytest.skip.Exception, KeyError):
        pytest.skip(f"{file}.json / {name} is listed in EXPECTED but not in this snapshot")
    delivery = _read(raw)
    assert delivery.rejected == (), delivery.rejected
    if file in IGNORED:
        assert delivery.messages == () and delivery.ignored, delivery
        assert set(delivery.ignored) == {IGNORED[file]}
        return
    (message,) = delivery.messages
    assert message.channel is Channel.WHATSAPP
    check = EXPECTATIONS.get((file, name))
    assert check is not None, f"no expectation written for {file}/{name}"
    assert check(message), message


@pytest.mark.corpus
def test_a_text_message_carries_the_customer_and_our_number() -> None:
    message = _one(pywa("message", "text"))
    assert message.sender == Identity("wa_id", "972987654321")
    assert message.sender_name == "Test Name"
    assert message.account == "1122334455667"
    assert message.conversation_key == "whatsapp:1122334455667:972987654321"
    assert message.external_id == "wamid.xyzxyz"
    assert message.received_at == datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)
    assert message.raw_ref == "s3://raw/wa/1"


@pytest.mark.corpus
def test_a_status_names_our_sent_message_and_the_customer() -> None:
    status = _one(pywa("message_status", "delivered"))
    assert (status.kind, status.target_external_id) == (MessageKind.STATUS, "wamid.xyzxyz")
    assert status.external_id == "status:delivered:wamid.xyzxyz"
    assert status.sender == Identity("wa_id", "972987654321")


@pytest.mark.corpus
def test_one_change_with_many_messages_and_a_bad_one_keeps_the_good_ones() -> None:
    raw = copy.deepcopy(pywa("message", "text"))
    value = raw["entry"][0]["changes"][0]["value"]
    first = value["messages"][0]
    value["messages"] = [
        first,
        {**first, "id": "wamid.second", "text": {"body": "and another thing"}},
        {"id": "wamid.nobody", "type": "text", "text": {"body": "no sender"}},
        42,
    ]
    delivery = _read(raw)
    assert [m.external_id for m in delivery.messages] == ["wamid.xyzxyz", "wamid.second"]
    assert [(r.index, r.code) for r in delivery.rejected] == [
        ("entry[0].changes[0].value.messages[2]", "missing_sender"),
        ("entry[0].changes[0].value.messages[3]", "not_an_object"),
    ]


def test_customer_edits_and_deletions_point_at_the_original() -> None:
    edit, revoke = _read(fixture("whatsapp", "edit_and_revoke.json")).messages
    assert edit.kind is MessageKind.EDIT
    assert edit.target_external_id == "wamid.HBgLMzQ2MTIzNDU2NzgVAgASGBQzQU9SSUdJTkFMMDAwMDAwMDAx"
    assert edit.text == "Mi pedido es el 48213"
    assert edit.sender_name == "Ana García"
    assert revoke.kind is MessageKind.UNSEND
    assert revoke.target_external_id == "wamid.HBgLMzQ2MTIzNDU2NzgVAgASGBQzQU9SSUdJTkFMMDAwMDAwMDAy"
    assert revoke.external_id.startswith("unsend:wamid.")


def test_another_object_is_ignored_and_a_shapeless_body_is_refused() -> None:
    assert _read({"object": "page", "entry": []}).ignored == ("whatsapp:object.page",)
    for raw in ({}, {"object": "whatsapp_business_account"}, {"object": 1, "entry": []}):
        with pytest.raises(RejectedInput) as caught:
            _read(raw)
        assert caught.value.code == "bad_payload"


def test_a_change_without_our_number_is_rejected_not_guessed() -> None:
    raw = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": []}}]}],
    }
    (rejected,) = _read(raw).rejected
    assert (rejected.index, rejected.code) == ("entry[0].changes[0]", "missing_account")
    # the configured number stands in when the platform omits it
    assert whatsapp.normalize(raw, received_at=RECEIVED, account="106540352242922").rejected == ()
