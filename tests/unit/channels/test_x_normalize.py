"""X Account Activity deliveries: Zammad's recorded webhook events and Chatwoot's payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.channels import x
from functions.core.channels.delivery import Delivery
from functions.core.errors import RejectedInput
from functions.core.models import Channel, Identity, InboundMessage, MessageKind
from tests.unit.channels.payloads import RECEIVED, chatwoot, zammad_twitter

pytestmark = pytest.mark.corpus

OURS = "2975699229"
CUSTOMER = "1205290247124217856"


def _read(raw: dict[str, Any]) -> Delivery:
    return x.normalize(raw, received_at=RECEIVED)


def _one(raw: dict[str, Any]) -> InboundMessage:
    delivery = _read(raw)
    assert delivery.rejected == () and delivery.ignored == ()
    (message,) = delivery.messages
    return message


def test_an_incoming_dm_is_a_customer_message_with_their_name() -> None:
    message = _one(zammad_twitter("direct_message-incoming"))
    assert message.channel is Channel.X
    assert message.kind is MessageKind.MESSAGE
    assert message.external_id == "1206724334791753732"
    assert message.sender == Identity("x", CUSTOMER)
    assert message.sender_name == "pennbrooke"
    assert dict(message.extra) == {"screen_name": "pennbrooke1"}
    assert message.account == OURS
    assert message.conversation_key == f"x:{OURS}:{CUSTOMER}"
    assert message.text == "Yes, you are!"
    assert message.received_at == datetime(2019, 12, 16, 23, 54, 35, 925_000, tzinfo=UTC)


def test_a_dm_we_sent_is_an_echo_in_the_customers_thread() -> None:
    echo = _one(zammad_twitter("direct_message-outgoing"))
    assert echo.kind is MessageKind.ECHO
    assert (echo.external_id, echo.target_external_id) == (
        "echo:1206724203514228741",
        "1206724203514228741",
    )
    assert echo.sender == Identity("x", CUSTOMER)
    assert dict(echo.extra)["source_app_id"] == "3033300"


def test_media_is_an_attachment_and_its_tco_link_leaves_the_text() -> None:
    message = _one(zammad_twitter("direct_message-incoming_with_media"))
    (gif,) = message.attachments
    assert gif.content_type == "video/mp4"
    assert gif.url == (
        "https://video.twimg.com/dm_gif/1209117874389843969/Lgs2ZRqicjZjx6kFdwQcu2T5rmEq7br_m8QKHj-RybsPv0yeq5.mp4"
    )
    assert gif.media_id == "1209117874389843969"
    assert message.text == ""


def test_links_in_the_text_are_expanded() -> None:
    message = _one(zammad_twitter("direct_message-incoming_with_url"))
    assert "https://t.co/" not in message.text
    assert "https://en.wikipedia.org/" in message.text


def test_a_read_receipt_marks_our_message_read() -> None:
    status = _one(zammad_twitter("direct_message_mark_read"))
    assert status.kind is MessageKind.STATUS
    assert status.target_external_id == "1206724203514228741"  # the DM we sent
    assert ("status", "read") in status.extra


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("direct_message_indicate_typing", "x:direct_message_indicate_typing_events"),
        ("follow", "x:follow_events"),
        ("favorited", "x:favorite_events"),
        ("tweet_create-user_mention", "x:tweet_create_events"),
        ("tweet_create-retweet", "x:tweet_create_events"),
    ],
)
def test_events_other_than_dms_are_ignored_and_counted(name: str, kind: str) -> None:
    delivery = _read(zammad_twitter(name))
    assert delivery.messages == () and delivery.rejected == ()
    assert set(delivery.ignored) == {kind}


def test_chatwoot_dm_with_an_image() -> None:
    message = _one(chatwoot("twitter_dm_image_event"))
    (photo,) = message.attachments
    assert (photo.filename, photo.content_type) == ("DOhM30VVwAEpIHq.jpg", "image/jpeg")
    assert photo.media_id == "930077847535812610"  # id_str: the float id has lost digits
    assert (message.text, message.account, message.sender) == ("Blue Bird", "1", Identity("x", "2"))


def test_a_quick_reply_answer_carries_its_payload() -> None:
    raw = chatwoot("twitter_message_create_event")
    raw["direct_message_events"][0]["message_create"]["message_data"]["quick_reply_response"] = {
        "type": "options",
        "metadata": "csat:4",
    }
    assert dict(_one(raw).extra)["quick_reply_payload"] == "csat:4"


def test_one_broken_event_does_not_drop_the_others() -> None:
    raw = zammad_twitter("direct_message-incoming")
    good = raw["direct_message_events"][0]
    raw["direct_message_events"] = [good, {"type": "message_create", "message_create": {}}, "x"]
    delivery = _read(raw)
    assert [m.external_id for m in delivery.messages] == ["1206724334791753732"]
    assert [(r.index, r.code) for r in delivery.rejected] == [
        ("direct_message_events[1]", "missing_id"),
        ("direct_message_events[2]", "not_an_object"),
    ]


@pytest.mark.parametrize(
    "raw",
    [
        {"for_user_id": OURS},
        {"direct_message_events": []},
        {"for_user_id": {}, "follow_events": []},
        "x",
    ],
)
def test_a_body_without_our_account_or_events_is_bad_payload(raw: Any) -> None:
    with pytest.raises(RejectedInput) as caught:
        _read(raw)
    assert caught.value.code == "bad_payload"


def test_choice_from_reply_reads_a_number_or_a_title() -> None:
    choices = [("csat:5", "Very good"), ("csat:3", "Fair"), ("csat:1", "Poor")]
    assert x.choice_from_reply("1", choices) == "csat:5"
    assert x.choice_from_reply(" 2. ", choices) == "csat:3"
    assert x.choice_from_reply("poor", choices) == "csat:1"
    assert x.choice_from_reply("4", choices) is None
    assert x.choice_from_reply("it was fine I guess", choices) is None
