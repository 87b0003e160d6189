"""Telegram updates: Zammad's webhook payloads and expectations, plus documented shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.channels import telegram
from functions.core.channels.delivery import Delivery
from functions.core.errors import RejectedInput
from functions.core.models import Channel, Identity, InboundMessage, MessageKind
from tests.unit.channels.payloads import RECEIVED, corpus_json, fixture, zammad_telegram

BOT = "helpline_demo_bot"


def _read(raw: dict[str, Any]) -> Delivery:
    return telegram.normalize(raw, received_at=RECEIVED, account=BOT)


def _one(raw: dict[str, Any]) -> InboundMessage:
    delivery = _read(raw)
    assert delivery.rejected == () and delivery.ignored == ()
    (message,) = delivery.messages
    return message


@pytest.mark.corpus
class TestZammadPayloads:
    def test_a_private_text_becomes_a_message_in_the_chat_thread(self) -> None:
        message = _one(zammad_telegram("private", "text"))
        # Zammad: ticket title and article body are exactly the text, as plain text
        assert message.text == "Hello, I need your Help"
        assert message.channel is Channel.TELEGRAM
        assert message.sender == Identity("telegram", "111111")
        assert message.sender_name == "Test Firstname Test Lastname"
        assert message.account == BOT
        assert message.conversation_key == f"telegram:{BOT}:111111"
        assert message.external_id == "111111:5"
        assert message.received_at == datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC)

    def test_posting_the_same_update_twice_gives_the_same_dedupe_key(self) -> None:
        # Zammad: text.json posted twice makes one article
        first = _one(zammad_telegram("private", "text"))
        again = _one(zammad_telegram("private", "text"))
        assert first.dedupe_key == again.dedupe_key

    @pytest.mark.parametrize("kind", ["private", "channel"])
    def test_start_creates_nothing(self, kind: str) -> None:
        # Zammad: start.json creates no ticket, only 200 OK
        assert _read(zammad_telegram(kind, "start")) == Delivery(
            (), (), ("telegram:command.start",)
        )

    @pytest.mark.parametrize("kind", ["private", "channel"])
    def test_files_are_attachments_named_as_zammad_names_them(self, kind: str) -> None:
        expected = corpus_json("zammad", "test", "data", "telegram", "EXPECTED.extracted.json")[
            kind
        ]
        for name in ("document", "video", "voice"):
            (attachment,) = _one(zammad_telegram(kind, name)).attachments
            assert attachment.filename == expected[f"{name}.json"]["attachment_filename"], name
            assert attachment.media_id, name

    def test_a_sticker_is_its_emoji_with_the_sticker_file(self) -> None:
        message = _one(zammad_telegram("private", "sticker"))
        assert message.text == "😄"  # Zammad: the ticket title is the emoji
        (sticker,) = message.attachments
        # Zammad names every sticker .webp; this one is animated, which Telegram sends as TGS
        assert (sticker.filename, sticker.content_type) == (
            "HotCherry.tgs",
            "application/x-tgsticker",
        )

    def test_a_photo_keeps_the_largest_size_and_its_caption(self) -> None:
        message = _one(zammad_telegram("private", "photo"))
        (photo,) = message.attachments
        assert photo.media_id == "photofileid3"
        assert (
            photo.caption == message.text == "caption 123<b>abc</b>"
        )  # kept as written, not as HTML

    def test_a_channel_post_has_no_from_so_the_channel_is_the_sender(self) -> None:
        message = _one(zammad_telegram("channel", "text"))
        assert message.sender == Identity("telegram", "123456789")
        assert message.sender_name == "ZBotChannel"
        assert message.external_id == "123456789:1365"

    def test_gateway_fields_beside_the_update_are_not_events(self) -> None:
        # Zammad's channel payloads carry "bid" and "callback_token" next to the update
        assert _read(zammad_telegram("channel", "text")).ignored == ()


class TestDocumentedShapes:
    def test_an_edit_is_recorded_on_the_original_message(self) -> None:
        edit = _one(fixture("telegram", "edited_message.json"))
        assert edit.kind is MessageKind.EDIT
        assert edit.external_id == "edit:815204471"
        assert edit.target_external_id == "482910377:57"
        assert edit.text == "Meu pedido é o 48213, chegou quebrado"
        assert edit.received_at == datetime.fromtimestamp(1732543260, UTC)  # the edit's time
        assert edit.locale_hint == "pt-br"

    def test_a_reply_names_our_message_and_keeps_the_quote(self) -> None:
        reply = _one(fixture("telegram", "reply_with_quote.json"))
        assert reply.in_reply_to == ("482910377:56",)
        assert dict(reply.extra) == {"quote": "Pode enviar uma foto?"}
        assert (reply.text, reply.locale_hint) == ("Sim, envio já", "pt-br")

    def test_a_pressed_button_is_an_answer_with_its_payload_and_label(self) -> None:
        answer = _one(fixture("telegram", "callback_query.json"))
        assert answer.kind is MessageKind.MESSAGE
        assert answer.external_id == "callback:2074003498717493061"
        assert answer.text == "Muito bom"
        assert dict(answer.extra) == {
            "quick_reply_payload": "csat:5",
            "callback_query_id": "2074003498717493061",
        }
        assert answer.in_reply_to == ("482910377:60",)
        assert answer.conversation_key == f"telegram:{BOT}:482910377"

    def test_a_reaction_targets_the_message_it_reacts_to(self) -> None:
        reaction = _one(fixture("telegram", "message_reaction.json"))
        assert reaction.kind is MessageKind.REACTION
        assert (reaction.external_id, reaction.target_external_id) == (
            "reaction:815204474",
            "482910377:61",
        )
        assert dict(reaction.extra) == {"reaction": "👍", "reaction_action": "react"}

    def test_a_removed_reaction_is_an_unreact(self) -> None:
        raw = fixture("telegram", "message_reaction.json")
        raw["message_reaction"]["old_reaction"] = raw["message_reaction"]["new_reaction"]
        raw["message_reaction"]["new_reaction"] = []
        assert dict(_one(raw).extra) == {"reaction": "👍", "reaction_action": "unreact"}

    def test_a_group_message_threads_by_chat_and_names_the_person(self) -> None:
        raw = fixture("telegram", "reply_with_quote.json")
        raw["message"]["chat"] = {
            "id": -1001234567890,
            "title": "Shop buyers",
            "type": "supergroup",
        }
        message = _one(raw)
        assert message.sender == Identity("telegram", "482910377")
        assert message.conversation_key == f"telegram:{BOT}:-1001234567890"
        assert dict(message.extra)["chat_id"] == "-1001234567890"

    def test_update_kinds_we_do_not_handle_are_counted(self) -> None:
        raw = {"update_id": 9, "my_chat_member": {"chat": {"id": 1}, "from": {"id": 1}}}
        assert _read(raw) == Delivery((), (), ("telegram:my_chat_member",))

    def test_a_broken_message_is_rejected_with_where_and_why(self) -> None:
        raw = {"update_id": 10, "message": {"message_id": 3, "text": "hi"}}
        (rejected,) = _read(raw).rejected
        assert (rejected.index, rejected.code) == ("message", "missing_chat")

    @pytest.mark.parametrize(
        "raw", [{}, {"message": {}}, {"update_id": None}, {"update_id": 5}, [1]]
    )
    def test_an_update_without_id_or_event_is_bad_payload(self, raw: Any) -> None:
        with pytest.raises(RejectedInput) as caught:
            _read(raw)
        assert (caught.value.code, caught.value.status) == ("bad_payload", 400)
