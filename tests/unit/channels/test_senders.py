"""Each platform sender against a local fake platform: the exact request, retries, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.channels.http import JsonHttp
from functions.core.channels.instagram import InstagramSender
from functions.core.channels.messenger import MessengerSender
from functions.core.channels.telegram import TelegramSender
from functions.core.channels.whatsapp import WhatsAppSender
from functions.core.channels.windows import decide
from functions.core.channels.x import XSender
from functions.core.errors import DeliveryError
from functions.core.models import Channel, Direction, Message
from functions.core.pipeline import Sender
from tests.unit.channels.fake_platform import FakePlatform, Sleeps

PAGE = "104561132288450"
PSID = "7102894561928374"
NUMBER = "106540352242922"
WA_ID = "34612345678"
BOT_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHOICES = [
    ("csat:5", "Very satisfied"),
    ("csat:3", "Neither satisfied nor dissatisfied"),
    ("csat:1", "Unhappy"),
]


def _message(
    channel: Channel,
    *,
    sender: str,
    recipient: str,
    text: str = "Your parcel left our warehouse today.",
    **fields: Any,
) -> Message:
    return Message(
        id="01JDQ0000000000000000000M1",
        ticket_id="01JDQ00000",
        direction=Direction.OUTBOUND,
        channel=channel,
        created_at=datetime(2025, 11, 25, 12, 0, tzinfo=UTC),
        author="agent@helpline.test",
        sender=sender,
        recipients=[recipient],
        text=text,
        **fields,
    )


def _tokens(mapping: dict[str, str]) -> Any:
    return lambda account: mapping[account]


class TestMessenger:
    def _sender(self, platform: FakePlatform, sleeps: Sleeps) -> MessengerSender:
        return MessengerSender(
            base_url=platform.url,
            version="v21.0",
            token=_tokens({PAGE: "page-token-1"}),
            sleep=sleeps,
        )

    def test_a_reply_within_24_hours_is_a_response(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(200, {"recipient_id": PSID, "message_id": "m_T3VyLXJlcGx5LTAwMDI"})
        sender: Sender = self._sender(platform, sleeps)  # what the outbound registry holds
        assert sender.channel is Channel.MESSENGER
        message = _message(
            Channel.MESSENGER, sender=PAGE, recipient=PSID, headers={"messaging_type": "RESPONSE"}
        )
        assert sender.send(message) == "m_T3VyLXJlcGx5LTAwMDI"
        (request,) = platform.requests
        assert request.path == "/v21.0/me/messages"
        assert request.headers["Authorization"] == "Bearer page-token-1"
        assert request.body == {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Your parcel left our warehouse today."},
        }

    def test_a_human_reply_after_24_hours_carries_the_human_agent_tag(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(200, {"message_id": "m_2"})
        decision = decide(
            Channel.MESSENGER,
            last_inbound_at=datetime(2025, 11, 23, 9, 0, tzinfo=UTC),
            now=datetime(2025, 11, 25, 12, 0, tzinfo=UTC),
            human=True,
            whatsapp_template=None,
        )
        self._sender(platform, sleeps).send(
            _message(Channel.MESSENGER, sender=PAGE, recipient=PSID, headers=decision.headers)
        )
        assert platform.requests[0].body["messaging_type"] == "MESSAGE_TAG"
        assert platform.requests[0].body["tag"] == "HUMAN_AGENT"

    def test_a_question_goes_out_with_quick_replies(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(200, {"message_id": "m_3"})
        question = _message(Channel.MESSENGER, sender=PAGE, recipient=PSID, text="How did we do?")
        self._sender(platform, sleeps).send_choices(question, CHOICES)
        assert platform.requests[0].body["message"] == {
            "text": "How did we do?",
            "quick_replies": [
                {"content_type": "text", "title": "Very satisfied", "payload": "csat:5"},
                {"content_type": "text", "title": "Neither satisfied n…", "payload": "csat:3"},
                {"content_type": "text", "title": "Unhappy", "payload": "csat:1"},
            ],
        }

    def test_the_window_error_is_permanent_with_metas_reason(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(
            400,
            {
                "error": {
                    "message": "(#10) This message is sent outside of allowed window.",
                    "type": "OAuthException",
                    "code": 10,
                    "error_subcode": 2018278,
                }
            },
        )
        with pytest.raises(DeliveryError) as caught:
            self._sender(platform, sleeps).send(
                _message(Channel.MESSENGER, sender=PAGE, recipient=PSID)
            )
        assert caught.value.permanent is True
        assert "outside of allowed window" in caught.value.reason
        assert "page-token-1" not in str(caught.value)

    def test_a_server_error_is_retried_and_then_succeeds(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(
            500,
            {
                "error": {
                    "message": "An unexpected error has occurred.",
                    "code": 2,
                    "is_transient": True,
                }
            },
        )
        platform.answer(200, {"message_id": "m_4"})
        assert (
            self._sender(platform, sleeps).send(
                _message(Channel.MESSENGER, sender=PAGE, recipient=PSID)
            )
            == "m_4"
        )
        assert len(platform.requests) == 2 and sleeps == [0.5]

    @pytest.mark.parametrize(
        ("fields", "words"),
        [
            ({"sender": "999"}, "no access token is configured for Messenger account 999"),
            ({"text": "x" * 2001}, "accepts at most 2000"),
            ({"text": "  "}, "has no text"),
            ({"attachments": [{"filename": "a.pdf"}]}, "does not send attachments"),
            ({"recipients": []}, "names no recipient"),
            ({"headers": {"messaging_type": "MESSAGE_TAG"}}, "needs a tag"),
            ({"headers": {"messaging_type": "PROMO"}}, "unknown Messenger messaging_type"),
        ],
    )
    def test_what_can_never_be_sent_is_refused_before_any_request(
        self, platform: FakePlatform, sleeps: Sleeps, fields: dict[str, Any], words: str
    ) -> None:
        sender = fields.pop("sender", PAGE)
        recipients = fields.pop("recipients", [PSID])
        message = _message(Channel.MESSENGER, sender=sender, recipient=PSID, **fields)
        message.recipients = recipients
        with pytest.raises(DeliveryError) as caught:
            self._sender(platform, sleeps).send(message)
        assert caught.value.permanent is True
        assert words in caught.value.reason
        assert platform.requests == []

    def test_an_answer_without_a_message_id_is_not_retried(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(200, {"recipient_id": PSID})
        with pytest.raises(DeliveryError) as caught:
            self._sender(platform, sleeps).send(
                _message(Channel.MESSENGER, sender=PAGE, recipient=PSID)
            )
        assert caught.value.permanent is True and len(platform.requests) == 1


def test_instagram_uses_its_own_token_and_limit(platform: FakePlatform, sleeps: Sleeps) -> None:
    platform.answer(
        200, {"recipient_id": "6543210987654321", "message_id": "aWdfZAG1faXRlbToxOklH"}
    )
    sender = InstagramSender(
        base_url=platform.url,
        version="v21.0",
        token=_tokens({"17841405822304914": "ig-token"}),
        sleep=sleeps,
    )
    message = _message(Channel.INSTAGRAM, sender="17841405822304914", recipient="6543210987654321")
    assert sender.send(message) == "aWdfZAG1faXRlbToxOklH"
    assert platform.requests[0].path == "/v21.0/me/messages"
    assert platform.requests[0].headers["Authorization"] == "Bearer ig-token"
    with pytest.raises(DeliveryError, match="at most 1000"):
        sender.send(
            _message(Channel.INSTAGRAM, sender="17841405822304914", recipient="1", text="x" * 1001)
        )


class TestWhatsApp:
    def _sender(self, platform: FakePlatform, sleeps: Sleeps) -> WhatsAppSender:
        return WhatsAppSender(
            base_url=platform.url,
            version="v21.0",
            token=_tokens({NUMBER: "wa-token"}),
            sleep=sleeps,
        )

    def _ok(
        self, platform: FakePlatform, wamid: str = "wamid.HBgLMzQ2MTIzNDU2NzgVAgARGBI1"
    ) -> None:
        platform.answer(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
                "messages": [{"id": wamid}],
            },
        )

    def test_text_within_24_hours_replying_to_the_customers_message(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        self._ok(platform)
        message = _message(
            Channel.WHATSAPP,
            sender=NUMBER,
            recipient=WA_ID,
            in_reply_to=["wamid.HBgLMzQ2MTIzNDU2NzgVAgASGBQz"],
        )
        assert self._sender(platform, sleeps).send(message) == "wamid.HBgLMzQ2MTIzNDU2NzgVAgARGBI1"
        (request,) = platform.requests
        assert request.path == f"/v21.0/{NUMBER}/messages"
        assert request.headers["Authorization"] == "Bearer wa-token"
        assert request.body == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "text",
            "text": {"preview_url": False, "body": "Your parcel left our warehouse today."},
            "context": {"message_id": "wamid.HBgLMzQ2MTIzNDU2NzgVAgASGBQz"},
        }

    def test_outside_24_hours_the_configured_template_goes_instead(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        self._ok(platform)
        decision = decide(
            Channel.WHATSAPP,
            last_inbound_at=datetime(2025, 11, 20, tzinfo=UTC),
            now=datetime(2025, 11, 25, tzinfo=UTC),
            human=True,
            whatsapp_template="support_follow_up",
            whatsapp_template_language="es",
        )
        self._sender(platform, sleeps).send(
            _message(Channel.WHATSAPP, sender=NUMBER, recipient=WA_ID, headers=decision.headers)
        )
        assert platform.requests[0].body == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "template",
            "template": {"name": "support_follow_up", "language": {"code": "es"}},
        }

    def test_three_choices_are_reply_buttons(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        self._ok(platform)
        self._sender(platform, sleeps).send_choices(
            _message(Channel.WHATSAPP, sender=NUMBER, recipient=WA_ID, text="¿Qué tal lo hicimos?"),
            CHOICES,
        )
        assert platform.requests[0].body["interactive"] == {
            "type": "button",
            "body": {"text": "¿Qué tal lo hicimos?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "csat:5", "title": "Very satisfied"}},
                    {"type": "reply", "reply": {"id": "csat:3", "title": "Neither satisfied n…"}},
                    {"type": "reply", "reply": {"id": "csat:1", "title": "Unhappy"}},
                ]
            },
        }

    def test_more_choices_are_a_list_with_a_localized_button(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        self._ok(platform)
        nps = [(f"nps:{n}", str(n)) for n in range(1, 11)]
        message = _message(
            Channel.WHATSAPP,
            sender=NUMBER,
            recipient=WA_ID,
            text="¿Nos recomendaría?",
            headers={"choices_button": "Elegir"},
        )
        self._sender(platform, sleeps).send_choices(message, nps)
        interactive = platform.requests[0].body["interactive"]
        assert interactive["type"] == "list"
        assert interactive["action"]["button"] == "Elegir"
        assert interactive["action"]["sections"][0]["rows"][9] == {"id": "nps:10", "title": "10"}
        with pytest.raises(DeliveryError, match="at most 10 choices"):
            self._sender(platform, sleeps).send_choices(message, [*nps, ("nps:0", "0")])

    def test_no_buttons_outside_the_window(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        message = _message(
            Channel.WHATSAPP,
            sender=NUMBER,
            recipient=WA_ID,
            headers={"whatsapp_template": "support_follow_up", "whatsapp_template_language": "en"},
        )
        with pytest.raises(DeliveryError, match="only accepts the approved template"):
            self._sender(platform, sleeps).send_choices(message, CHOICES)
        assert platform.requests == []

    def test_throughput_limits_are_retried(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        platform.answer(
            400,
            {
                "error": {
                    "message": "(#130429) Rate limit hit",
                    "type": "OAuthException",
                    "code": 130429,
                }
            },
        )
        self._ok(platform)
        self._sender(platform, sleeps).send(
            _message(Channel.WHATSAPP, sender=NUMBER, recipient=WA_ID)
        )
        assert len(platform.requests) == 2

    def test_a_recipient_outside_the_allowed_list_is_a_permanent_failure(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(
            400,
            {
                "error": {
                    "message": "(#131030) Recipient phone number not in allowed list",
                    "code": 131030,
                    "error_data": {
                        "details": "Recipient phone number not in allowed list: "
                        "Add recipient phone number to recipient list and try again."
                    },
                }
            },
        )
        with pytest.raises(DeliveryError) as caught:
            self._sender(platform, sleeps).send(
                _message(Channel.WHATSAPP, sender=NUMBER, recipient=WA_ID)
            )
        assert caught.value.permanent is True
        assert "not in allowed list" in caught.value.reason


class TestTelegram:
    def _sender(self, platform: FakePlatform, sleeps: Sleeps) -> TelegramSender:
        return TelegramSender(base_url=platform.url, token=lambda: BOT_TOKEN, sleep=sleeps)

    def _ok(self, platform: FakePlatform, message_id: int = 62) -> None:
        platform.answer(
            200,
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "chat": {"id": 482910377, "type": "private"},
                    "date": 1732543600,
                    "text": "…",
                },
            },
        )

    def test_a_reply_to_the_customers_message(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        self._ok(platform)
        message = _message(
            Channel.TELEGRAM,
            sender="helpline_demo_bot",
            recipient="482910377",
            in_reply_to=["482910377:58"],
        )
        assert self._sender(platform, sleeps).send(message) == "482910377:62"
        (request,) = platform.requests
        assert request.path == f"/bot{BOT_TOKEN}/sendMessage"
        assert request.body == {
            "chat_id": 482910377,
            "text": "Your parcel left our warehouse today.",
            "reply_parameters": {"message_id": 58, "allow_sending_without_reply": True},
        }

    def test_a_question_is_an_inline_keyboard(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        self._ok(platform)
        self._sender(platform, sleeps).send_choices(
            _message(Channel.TELEGRAM, sender="b", recipient="482910377", text="Como avalia?"),
            CHOICES,
        )
        assert platform.requests[0].body["reply_markup"] == {
            "inline_keyboard": [
                [{"text": "Very satisfied", "callback_data": "csat:5"}],
                [{"text": "Neither satisfied nor dissatisfied", "callback_data": "csat:3"}],
                [{"text": "Unhappy", "callback_data": "csat:1"}],
            ]
        }
        with pytest.raises(DeliveryError, match="at most 64 bytes"):
            self._sender(platform, sleeps).send_choices(
                _message(Channel.TELEGRAM, sender="b", recipient="1"), [("x" * 65, "t")]
            )

    def test_a_blocked_bot_is_permanent_and_the_token_stays_hidden(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        )
        with pytest.raises(DeliveryError) as caught:
            self._sender(platform, sleeps).send(
                _message(Channel.TELEGRAM, sender="b", recipient="482910377")
            )
        assert caught.value.permanent is True
        assert "bot was blocked by the user" in caught.value.reason
        assert BOT_TOKEN not in str(caught.value) and "AAHdqTcvCH1v" not in str(caught.value)

    def test_flood_control_waits_as_telegram_asks(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        platform.answer(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 4",
                "parameters": {"retry_after": 4},
            },
        )
        self._ok(platform)
        self._sender(platform, sleeps).send(
            _message(Channel.TELEGRAM, sender="b", recipient="482910377")
        )
        assert sleeps == [4.0] and len(platform.requests) == 2

    def test_a_pressed_button_is_acknowledged(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        platform.answer(200, {"ok": True, "result": True})
        self._sender(platform, sleeps).answer_callback_query("2074003498717493061", "Obrigado!")
        assert platform.requests[0].path == f"/bot{BOT_TOKEN}/answerCallbackQuery"
        assert platform.requests[0].body == {
            "callback_query_id": "2074003498717493061",
            "text": "Obrigado!",
        }


class TestX:
    def _sender(self, platform: FakePlatform, sleeps: Sleeps) -> XSender:
        return XSender(
            base_url=platform.url, token=lambda: "x-user-token", http=JsonHttp(sleep=sleeps)
        )

    def test_a_dm_to_the_customer(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        platform.answer(
            201,
            {
                "data": {
                    "dm_conversation_id": "1205290247124217856-2975699229",
                    "dm_event_id": "1582838223948652549",
                }
            },
        )
        message = _message(Channel.X, sender="2975699229", recipient="1205290247124217856")
        assert self._sender(platform, sleeps).send(message) == "1582838223948652549"
        (request,) = platform.requests
        assert request.path == "/2/dm_conversations/with/1205290247124217856/messages"
        assert request.headers["Authorization"] == "Bearer x-user-token"
        assert request.body == {"text": "Your parcel left our warehouse today."}

    def test_choices_are_a_numbered_list(self, platform: FakePlatform, sleeps: Sleeps) -> None:
        platform.answer(201, {"data": {"dm_event_id": "1"}})
        self._sender(platform, sleeps).send_choices(
            _message(Channel.X, sender="1", recipient="2", text="How did we do?"), CHOICES
        )
        assert platform.requests[0].body == {
            "text": "How did we do?\n\n1. Very satisfied\n2. Neither satisfied nor dissatisfied\n3. Unhappy"
        }

    def test_choices_that_are_numbers_are_not_numbered_again(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        # an NPS list: the customer types the score, so "1." must not stand above "0"
        platform.answer(201, {"data": {"dm_event_id": "1"}})
        scores = [(f"survey:S0000000000000001:{n}", f"{n} out of 10") for n in range(11)]
        self._sender(platform, sleeps).send_choices(
            _message(Channel.X, sender="1", recipient="2", text="From 0 to 10?"), scores
        )
        text = platform.requests[0].body["text"]
        assert text.split("\n")[2:] == [f"{n} out of 10" for n in range(11)]

    def test_a_recipient_that_is_not_a_user_id_is_refused(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        with pytest.raises(DeliveryError, match="not an X user id"):
            self._sender(platform, sleeps).send(
                _message(Channel.X, sender="1", recipient="../2/tweets")
            )
        assert platform.requests == []

    def test_an_outage_is_left_for_a_later_retry(
        self, platform: FakePlatform, sleeps: Sleeps
    ) -> None:
        for _ in range(4):
            platform.answer(
                503,
                {
                    "title": "Service Unavailable",
                    "detail": "Service Unavailable",
                    "type": "about:blank",
                    "status": 503,
                },
            )
        with pytest.raises(DeliveryError) as caught:
            self._sender(platform, sleeps).send(_message(Channel.X, sender="1", recipient="2"))
        assert caught.value.permanent is False
        assert len(platform.requests) == 4
