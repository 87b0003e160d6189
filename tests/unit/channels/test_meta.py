"""Messenger and Instagram deliveries, from Chatwoot's payloads and Meta's documented shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.channels import instagram, messenger
from functions.core.channels.delivery import Delivery, RejectedEntry
from functions.core.channels.meta import normalize_meta
from functions.core.errors import RejectedInput
from functions.core.models import Channel, Identity, InboundMessage, MessageKind
from tests.unit.channels.payloads import (
    CHATWOOT_ENTRY_ID,
    CHATWOOT_SENDER_SUFFIX,
    RECEIVED,
    chatwoot,
    fixture,
    page_delivery,
)

PAGE = "104561132288450"
PSID = "7102894561928374"


def _fb(raw: dict[str, Any]) -> Delivery:
    return messenger.normalize(raw, received_at=RECEIVED, raw_ref="s3://raw/meta/1")


def _ig(payload: dict[str, Any]) -> Delivery:
    return instagram.normalize({"object": "instagram", **payload}, received_at=RECEIVED)


def _only(delivery: Delivery) -> InboundMessage:
    assert delivery.rejected == () and delivery.ignored == ()
    (message,) = delivery.messages
    return message


def _extra(message: InboundMessage) -> dict[str, str]:
    return dict(message.extra)


@pytest.mark.corpus
class TestChatwootMessenger:
    def test_a_text_message_becomes_one_customer_message_on_the_page_thread(self) -> None:
        message = _only(_fb(page_delivery(chatwoot("incoming_fb_text_message")["messaging"])))
        assert message.channel is Channel.MESSENGER
        assert message.kind is MessageKind.MESSAGE
        assert message.sender == Identity("psid", "3383290475046708")
        assert message.account == "117172741761305"
        assert message.conversation_key == "messenger:117172741761305:3383290475046708"
        assert message.external_id.startswith("m_KXGKDUpO6xbVdAmZFBVpzU1AhKVJdAIU")
        assert message.text == "facebook message"
        assert message.raw_ref == "s3://raw/meta/1"
        # Chatwoot's factory has no timestamp: the time of receipt stands in
        assert message.received_at == RECEIVED

    def test_the_same_message_delivered_twice_has_the_same_dedupe_key(self) -> None:
        first = _only(_fb(page_delivery(chatwoot("incoming_fb_text_message")["messaging"])))
        again = _only(_fb(page_delivery(chatwoot("mocked_message_text")["messaging"])))
        assert first.dedupe_key == again.dedupe_key

    def test_a_delivery_receipt_without_mids_is_one_watermark_status(self) -> None:
        status = _only(_fb(page_delivery(chatwoot("message_deliveries")["messaging"])))
        assert status.kind is MessageKind.STATUS
        assert status.target_external_id is None
        assert _extra(status) == {"status": "delivered", "watermark": "1648581633369"}
        assert status.sender == Identity("psid", "3383290475046708")  # the customer it reached
        assert status.external_id == "status:delivered:3383290475046708:1648581633369"


class TestMessengerFixtures:
    def test_reactions_are_recorded_on_the_message_they_react_to(self) -> None:
        delivery = _fb(fixture("messenger", "reactions.json"))
        react, unreact = delivery.messages
        assert {react.kind, unreact.kind} == {MessageKind.REACTION}
        assert (
            react.target_external_id
            == unreact.target_external_id
            == "m_Y2hhdGJvdC1yZXBseS0xMjM0NTY3ODkw"
        )
        assert _extra(react) == {"reaction": "❤️", "reaction_action": "react"}
        assert _extra(unreact) == {"reaction_action": "unreact"}
        assert react.external_id != unreact.external_id
        assert react.received_at == datetime(2024, 11, 25, 13, 20, 0, 50_000, tzinfo=UTC)

    def test_an_edit_names_the_message_and_carries_the_new_text(self) -> None:
        edit = _only(_fb(fixture("messenger", "message_edit.json")))
        assert edit.kind is MessageKind.EDIT
        assert edit.target_external_id == "m_Q3VzdG9tZXItbWVzc2FnZS0wMDAx"
        assert edit.text == "My order number is 48213, not 48123"
        assert edit.external_id == "edit:m_Q3VzdG9tZXItbWVzc2FnZS0wMDAx:1"

    def test_a_mixed_delivery_keeps_every_good_event_and_reports_the_bad_ones(self) -> None:
        delivery = _fb(fixture("messenger", "mixed.json"))
        assert delivery.rejected == (
            RejectedEntry(
                "entry[0].messaging[3]", "not_an_object", "each messaging event is a JSON object"
            ),
            RejectedEntry(
                "entry[0].messaging[4]",
                "missing_id",
                "the message has no mid, so it cannot be matched or deduplicated",
            ),
        )
        assert delivery.ignored == ("messenger:optin",)
        kinds = [m.kind for m in delivery.messages]
        assert kinds == [
            MessageKind.MESSAGE,
            MessageKind.MESSAGE,
            MessageKind.MESSAGE,
            MessageKind.MESSAGE,  # the postback
            MessageKind.ECHO,
            MessageKind.STATUS,
            MessageKind.STATUS,
        ]
        quick, image, reply, postback, echo, delivered, read = delivery.messages
        assert _extra(quick) == {"quick_reply_payload": "CONFIRM_ADDRESS"}
        (attachment,) = image.attachments
        assert attachment.url and attachment.url.startswith("https://scontent.xx.fbcdn.net/")
        assert (attachment.filename, attachment.content_type) == ("468123_n.jpg", "image/*")
        assert reply.in_reply_to == ("m_Q3VzdG9tZXItbWVzc2FnZS0wMDAz",)
        assert (postback.text, _extra(postback)) == (
            "Talk to a person",
            {"postback_payload": "HANDOVER_TO_AGENT"},
        )
        assert postback.external_id == "m_UG9zdGJhY2stMDAwMQ"
        # the echo of our own send: the thread is still the customer's
        assert echo.sender == Identity("psid", PSID) and echo.account == PAGE
        assert echo.conversation_key == quick.conversation_key
        assert echo.target_external_id == "m_T3VyLXJlcGx5LTAwMDE"
        assert _extra(echo)["app_id"] == "1517776481860111"
        assert delivered.target_external_id == "m_T3VyLXJlcGx5LTAwMDE"
        assert _extra(delivered)["status"] == "delivered"
        assert _extra(read) == {"status": "read", "watermark": "1732541996500"}

    def test_a_redelivery_produces_exactly_the_same_ids(self) -> None:
        first = _fb(fixture("messenger", "mixed.json"))
        again = _fb(fixture("messenger", "mixed.json"))
        assert [m.dedupe_key for m in first.messages] == [m.dedupe_key for m in again.messages]
        assert len({m.dedupe_key for m in first.messages}) == len(first.messages)

    def test_a_checkbox_plugin_sender_cannot_be_answered_and_is_rejected(self) -> None:
        raw = page_delivery(
            {"sender": {"user_ref": "abc"}, "recipient": {"id": PAGE}, "postback": {"title": "x"}}
        )
        (rejected,) = _fb(raw).rejected
        assert rejected.code == "no_psid"

    def test_comments_and_other_changes_are_ignored(self) -> None:
        raw = {
            "object": "page",
            "entry": [{"id": PAGE, "changes": [{"field": "feed", "value": {}}]}],
        }
        assert _fb(raw) == Delivery((), (), ("messenger:changes.feed",))

    def test_an_instagram_body_on_the_messenger_reader_is_ignored(self) -> None:
        assert _fb({"object": "instagram", "entry": []}).ignored == ("messenger:object.instagram",)

    @pytest.mark.parametrize(
        "raw",
        [[], "page", None, {"entry": []}, {"object": "page"}, {"object": "page", "entry": {}}],
    )
    def test_a_body_that_cannot_be_read_is_bad_payload_400(self, raw: Any) -> None:
        with pytest.raises(RejectedInput) as caught:
            _fb(raw)
        assert (caught.value.code, caught.value.status) == ("bad_payload", 400)


@pytest.mark.corpus
class TestChatwootInstagram:
    def test_a_story_reply_is_a_customer_message_naming_the_story(self) -> None:
        message = _only(_ig(chatwoot("instagram_story_reply_event")))
        assert message.channel is Channel.INSTAGRAM
        assert message.sender == Identity("igsid", f"Sender-id-{CHATWOOT_SENDER_SUFFIX}")
        assert message.account == "chatwoot-app-user-id-1"
        assert message.text == "This is the story reply"
        assert _extra(message) == {"story_reply": "https://chatwoot-assets.local/sample.png"}
        assert message.received_at == RECEIVED  # Chatwoot writes ISO times; Meta sends ms

    def test_a_reply_names_the_message_replied_to(self) -> None:
        message = _only(_ig(chatwoot("instagram_message_reply_event")))
        assert (message.external_id, message.in_reply_to) == ("message-id-2", ("message-id-1",))

    def test_shares_reels_and_stories_are_kept_as_links(self) -> None:
        for name, url in (
            ("instagram_message_attachment_event", "https://www.example.com/test.jpeg"),
            ("instagram_shared_reel_event", "https://www.example.com/test.jpeg"),
            ("instagram_ig_story_event", "https://lookaside.fbsbx.com/ig_messaging_cdn/"),
        ):
            (attachment,) = _only(_ig(chatwoot(name))).attachments
            assert attachment.url and attachment.url.startswith(url), name
            assert attachment.content_type == "text/uri-list"
        reel = _only(_ig(chatwoot("instagram_shared_reel_event"))).attachments[0]
        assert (reel.media_id, reel.caption) == ("1234", "Reel title")

    def test_a_story_mention_echo_is_ours_and_threads_with_the_customer(self) -> None:
        echo = _only(_ig(chatwoot("instagram_story_mention_event_with_echo")))
        assert echo.kind is MessageKind.ECHO
        # an echo is sent by our account to the customer: recipient.id is the customer
        assert echo.sender == Identity("igsid", "chatwoot-app-user-id-1")
        assert _extra(echo)["story_mention"] == "https://www.example.com/test.jpeg"

    def test_standby_and_unsupported_messages_are_kept_and_marked(self) -> None:
        standby = _only(_ig(chatwoot("instagram_message_standby_event")))
        assert standby.kind is MessageKind.MESSAGE and _extra(standby) == {"standby": "true"}
        unsupported = _only(_ig(chatwoot("instagram_message_unsupported_event")))
        assert (unsupported.text, _extra(unsupported)) == ("", {"unsupported": "true"})

    def test_seen_is_a_read_status_for_our_message(self) -> None:
        seen = _only(_ig(chatwoot("messaging_seen_event")))
        assert seen.kind is MessageKind.STATUS
        assert (seen.target_external_id, _extra(seen)) == ("message-id-1", {"status": "read"})

    def test_the_dashboard_test_event_sends_seconds_not_milliseconds(self) -> None:
        message = _only(_ig(chatwoot("instagram_test_text_event")))
        assert message.received_at == datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC)
        assert (message.account, message.sender) == ("23245", Identity("igsid", "12334"))

    def test_the_nested_messaging_factory_reads_as_entries(self) -> None:
        payload = chatwoot("incoming_ig_text_message")
        message = _only(
            instagram.normalize(
                {"object": "instagram", "entry": payload["messaging"]}, received_at=RECEIVED
            )
        )
        assert message.text == "This is the first message from the customer"

    def test_entry_id_is_our_account_when_the_event_names_no_recipient(self) -> None:
        payload = chatwoot("instagram_message_reply_event")
        del payload["entry"][0]["messaging"][0]["recipient"]
        assert _only(_ig(payload)).account == CHATWOOT_ENTRY_ID


class TestInstagramFixtures:
    def test_an_unsend_and_a_reaction_point_at_their_messages(self) -> None:
        raw = fixture("instagram", "unsend_and_reaction.json")
        unsend, reaction = instagram.normalize(raw, received_at=RECEIVED).messages
        assert unsend.kind is MessageKind.UNSEND
        assert unsend.target_external_id == "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx"
        assert unsend.external_id == f"unsend:{unsend.target_external_id}"
        assert reaction.kind is MessageKind.REACTION
        assert _extra(reaction) == {"reaction": "❤️", "reaction_action": "react"}
        assert reaction.conversation_key == "instagram:17841405822304914:6543210987654321"


class TestMetaDispatch:
    def test_each_object_goes_to_its_platform(self) -> None:
        assert (
            normalize_meta(fixture("messenger", "reactions.json"), received_at=RECEIVED)
            .messages[0]
            .channel
            is Channel.MESSENGER
        )
        ig = normalize_meta(fixture("instagram", "unsend_and_reaction.json"), received_at=RECEIVED)
        assert ig.messages[0].channel is Channel.INSTAGRAM
        wa = normalize_meta(fixture("whatsapp", "edit_and_revoke.json"), received_at=RECEIVED)
        assert wa.messages[0].channel is Channel.WHATSAPP

    def test_an_unknown_object_is_ignored_and_counted(self) -> None:
        delivery = normalize_meta(
            {"object": "permissions", "entry": [{"id": "1"}]}, received_at=RECEIVED
        )
        assert delivery == Delivery((), (), ("meta:object.permissions",))

    def test_a_body_without_object_or_entry_is_bad_payload(self) -> None:
        with pytest.raises(RejectedInput) as caught:
            normalize_meta({"hello": "world"}, received_at=RECEIVED)
        assert caught.value.status == 400
