"""Invalid Unicode in platform deliveries: a lone surrogate (an unpaired `\\ud83d`, which
Meta sends when it cuts an emoji in half) in a text or a name is replaced by U+FFFD
when the delivery is read, so the message can be stored (UTF-8 cannot encode the
surrogate; DynamoDB refuses it) and the person's words still reach an agent.

Each payload is the platform's real delivery as JSON text with the broken escape in
it, decoded the way the webhook decodes it (`json.loads` of the raw body)."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from functions.core.channels import instagram, messenger, telegram, whatsapp, x
from functions.core.channels.delivery import Delivery
from functions.core.channels.meta import normalize_meta
from functions.core.models import InboundMessage
from functions.core.text import (
    has_visible_text,
    lone_surrogate_path,
    replace_lone_surrogates,
)
from tests.unit.channels.payloads import (
    RECEIVED,
    chatwoot,
    page_delivery,
    pywa,
    zammad_telegram,
    zammad_twitter,
)

BROKEN = "Hello \ud83d, my order is late"  # the emoji's second half was cut off
SHOWN = "Hello \ufffd, my order is late"


def _as_delivered(payload: Any) -> Any:
    """The payload as the platform's JSON text, decoded as the webhook decodes it:
    json.dumps writes the lone surrogate as the escape `\\ud83d`, json.loads reads it back."""
    raw = json.dumps(payload).encode()
    assert b"\\ud83d" in raw
    return json.loads(raw)


def _storable(message: InboundMessage) -> None:
    """Every text of the message encodes as UTF-8, as boto3 must encode it."""
    json.dumps(dataclasses.asdict(message), default=str, ensure_ascii=False).encode("utf-8")


def _only(delivery: Delivery) -> InboundMessage:
    assert delivery.rejected == ()
    (message,) = delivery.messages
    _storable(message)
    return message


def _messenger(text: str) -> dict[str, Any]:
    event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
    event["message"]["text"] = text
    event["timestamp"] = 1732542990000
    return page_delivery(event)


@pytest.mark.corpus
def test_messenger_text_with_a_lone_surrogate_is_kept_with_a_replacement_character() -> None:
    raw = _as_delivered(_messenger(BROKEN))
    message = _only(messenger.normalize(raw, received_at=RECEIVED))
    assert message.text == SHOWN
    # the body handed in is the platform's and stays as it came
    assert raw["entry"][0]["messaging"][0]["message"]["text"] == BROKEN


@pytest.mark.corpus
def test_the_shared_meta_webhook_replaces_it_for_every_platform() -> None:
    message = _only(normalize_meta(_as_delivered(_messenger(BROKEN)), received_at=RECEIVED))
    assert message.text == SHOWN


@pytest.mark.corpus
def test_instagram_text_with_a_lone_surrogate() -> None:
    payload = copy.deepcopy(chatwoot("incoming_ig_text_message"))
    # Chatwoot's factory nests the entries under `messaging`; Instagram reads it as entries
    payload["messaging"][0]["messaging"][0]["message"]["text"] = BROKEN
    raw = _as_delivered({"object": "instagram", "entry": payload["messaging"]})
    assert _only(instagram.normalize(raw, received_at=RECEIVED)).text == SHOWN


@pytest.mark.corpus
def test_whatsapp_text_and_profile_name_with_lone_surrogates() -> None:
    payload = copy.deepcopy(pywa("message", "text"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"][0]["text"]["body"] = BROKEN
    value["contacts"][0]["profile"]["name"] = "Ana \udc00"
    message = _only(whatsapp.normalize(_as_delivered(payload), received_at=RECEIVED))
    assert message.text == SHOWN
    assert message.sender_name == "Ana \ufffd"


@pytest.mark.corpus
def test_telegram_first_name_and_text_with_lone_surrogates() -> None:
    payload = copy.deepcopy(zammad_telegram("private", "text"))
    payload["message"]["from"]["first_name"] = "Zo\ud83d"
    payload["message"]["text"] = BROKEN
    message = _only(telegram.normalize(_as_delivered(payload), received_at=RECEIVED))
    assert message.sender_name.startswith("Zo\ufffd")
    assert message.text == SHOWN


@pytest.mark.corpus
def test_x_direct_message_and_user_name_with_lone_surrogates() -> None:
    payload = copy.deepcopy(zammad_twitter("direct_message-incoming"))
    event = payload["direct_message_events"][0]
    event["message_create"]["message_data"]["text"] = BROKEN
    payload["users"][event["message_create"]["sender_id"]]["name"] = "penn\udfff"
    message = _only(x.normalize(_as_delivered(payload), received_at=RECEIVED))
    assert message.text == SHOWN
    assert message.sender_name == "penn\ufffd"


# -- the shared rule (functions/core/text.py) ------------------------------------------


def test_a_valid_pair_is_an_emoji_and_is_left_alone() -> None:
    body = json.loads('{"text": "\\ud83d\\ude00 ok", "n": [1, 2.5, null, true]}')
    assert replace_lone_surrogates(body) == (body, 0)
    assert replace_lone_surrogates(body)[0] is body
    assert lone_surrogate_path(body) is None


def test_keys_and_values_at_any_depth_are_replaced_and_counted() -> None:
    body = json.loads(
        '{"a": [{"b\\ud800": "x\\udfff"}], "deep": ' + "[" * 900 + '"\\ud83d"' + "]" * 900 + "}"
    )
    fixed, count = replace_lone_surrogates(body)
    assert count == 3
    assert fixed["a"] == [{"b\ufffd": "x\ufffd"}]
    assert json.dumps(fixed, ensure_ascii=False).encode("utf-8")
    assert lone_surrogate_path(body) == "a[0].b\ufffd"


def test_the_path_names_the_field_and_never_holds_the_surrogate_itself() -> None:
    assert lone_surrogate_path(json.loads('{"page": {"url": "https://x/\\ud83d"}}')) == "page.url"
    path = lone_surrogate_path({"\ud800" * 200: "x"})
    assert path is not None and len(path) <= 80
    path.encode("utf-8")


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n\t", "\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u00ad", " \u200e\u200f ",
     "\u3164", "\u115f", "\x00", "\ufe0f"],
)  # fmt: skip
def test_only_spaces_or_invisible_characters_show_nothing(text: str) -> None:
    assert not has_visible_text(text)


@pytest.mark.parametrize("text", ["a", " ok ", "\u200b!", "😀", "\ufffd", "١", "。"])
def test_anything_else_shows(text: str) -> None:
    assert has_visible_text(text)
