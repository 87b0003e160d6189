"""Automatic replies: who gets one, which one, and in what language it is written."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.core.config import DEFAULT_TEMPLATES_DIR, Replies
from functions.core.replies import ReplyDecision, ReplySituation, TemplateRenderer, decide_reply

DEFAULTS = Replies()  # enabled, on_follow_up=after_hours, to_spam=False
NEW_IN_HOURS = ReplySituation(is_new_ticket=True, in_hours=True)
LONDON = ZoneInfo("Europe/London")


def _situation(**changes: Any) -> ReplySituation:
    fields: dict[str, Any] = {"is_new_ticket": True, "in_hours": True}
    fields.update(changes)
    return ReplySituation(**fields)


def test_a_new_ticket_in_hours_gets_an_acknowledgement() -> None:
    assert decide_reply(DEFAULTS, NEW_IN_HOURS) == ReplyDecision(
        True, "acknowledgement", "new ticket"
    )


def test_a_new_ticket_after_hours_gets_the_after_hours_reply() -> None:
    decision = decide_reply(DEFAULTS, _situation(in_hours=False))

    assert decision == ReplyDecision(True, "after_hours", "new ticket")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"auto_response": "Precedence: bulk"}, "auto-responder (Precedence: bulk)"),
        ({"bounce": True}, "bounce"),
        ({"out_of_office": True, "auto_response": "out-of-office notice"}, "out-of-office notice"),
        ({"undeliverable": True}, "the address bounced before"),
        ({"spam": True}, "marked as spam"),
        ({"channel_can_reply": False}, "the channel cannot be answered"),
    ],
    ids=["auto-responder", "bounce", "out-of-office", "undeliverable", "spam", "no-channel"],
)
@pytest.mark.parametrize("in_hours", [True, False], ids=["in-hours", "after-hours"])
def test_nothing_automatic_is_sent(changes: dict[str, Any], reason: str, in_hours: bool) -> None:
    decision = decide_reply(DEFAULTS, _situation(in_hours=in_hours, **changes))

    assert decision == ReplyDecision(False, None, reason)


def test_a_follow_up_in_business_hours_is_not_answered() -> None:
    decision = decide_reply(DEFAULTS, _situation(is_new_ticket=False, in_hours=True))

    assert decision == ReplyDecision(False, None, "follow-up in business hours")


def test_a_follow_up_after_hours_gets_the_after_hours_reply() -> None:
    decision = decide_reply(DEFAULTS, _situation(is_new_ticket=False, in_hours=False))

    assert decision == ReplyDecision(True, "after_hours", "follow-up")


@pytest.mark.parametrize(
    ("on_follow_up", "in_hours", "template"),
    [
        ("never", True, None),
        ("never", False, None),
        ("always", True, "acknowledgement"),
        ("always", False, "after_hours"),
    ],
)
def test_the_follow_up_setting(on_follow_up: str, in_hours: bool, template: str | None) -> None:
    settings = Replies(on_follow_up=on_follow_up)

    decision = decide_reply(settings, _situation(is_new_ticket=False, in_hours=in_hours))

    assert decision.send is (template is not None)
    assert decision.template == template


def test_disabled_replies_send_nothing_at_all() -> None:
    off = Replies(enabled=False)

    for situation in (NEW_IN_HOURS, _situation(in_hours=False)):
        assert decide_reply(off, situation) == ReplyDecision(
            False, None, "automatic replies are off"
        )


def test_spam_is_answered_only_when_the_config_says_so() -> None:
    decision = decide_reply(Replies(to_spam=True), _situation(spam=True))

    assert decision == ReplyDecision(True, "acknowledgement", "new ticket")


def test_a_robot_is_never_answered_even_with_spam_replies_on() -> None:
    decision = decide_reply(Replies(to_spam=True), _situation(spam=True, auto_response="X-Loop"))

    assert decision.send is False


# -- rendering ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(DEFAULT_TEMPLATES_DIR)


VARIABLES: dict[str, Any] = {
    "brand": {
        "name": "Helpline Demo",
        "support_address": "support@helpline.test",
        "website": "https://helpline.test",
    },
    "customer_name": "Ana García",
    "ticket_id": "K7Q2M4XD01",
    "ticket_token": "[#K7Q2M4XD01]",
    "subject": "Question about my order",
    "team_name": "English support",
    "next_open": datetime(2025, 11, 24, 9, 0, tzinfo=LONDON),
    "expected_response": None,
}


@pytest.mark.parametrize(
    ("locale", "greeting"),
    [("es", "Hola"), ("ar", "مرحبًا"), ("ja", "様"), ("en", "Hello")],
)
def test_the_acknowledgement_is_written_in_the_customers_language(
    renderer: TemplateRenderer, locale: str, greeting: str
) -> None:
    reply = renderer.render("email", "acknowledgement", locale, VARIABLES)

    assert reply.locale == locale
    assert greeting in reply.text
    assert "[#K7Q2M4XD01]" in reply.text
    assert "Ana García" in reply.text
    assert reply.html is not None and f'lang="{locale}"' in reply.html
    assert "\n" not in reply.subject


def test_brazilian_portuguese_falls_back_to_portuguese(renderer: TemplateRenderer) -> None:
    reply = renderer.render("email", "acknowledgement", "pt-BR", VARIABLES)

    assert reply.locale == "pt"
    assert "Olá" in reply.text


@pytest.mark.parametrize("locale", ["xx", "", None, "../../etc/passwd"])
def test_an_unknown_locale_falls_back_to_english(
    renderer: TemplateRenderer, locale: str | None
) -> None:
    reply = renderer.render("email", "acknowledgement", locale, VARIABLES)

    assert reply.locale == "en"
    assert reply.text.startswith("Hello")


def test_arabic_html_is_right_to_left(renderer: TemplateRenderer) -> None:
    arabic = renderer.render("email", "acknowledgement", "ar", VARIABLES)
    english = renderer.render("email", "acknowledgement", "en", VARIABLES)

    assert arabic.html is not None and 'dir="rtl"' in arabic.html
    assert english.html is not None and 'dir="rtl"' not in english.html


def test_the_after_hours_reply_says_when_the_team_is_back(renderer: TemplateRenderer) -> None:
    reply = renderer.render("email", "after_hours", "en", VARIABLES, tz=LONDON)

    assert "Monday 24 November at 09:00" in reply.text


def test_customer_text_is_escaped_in_html(renderer: TemplateRenderer) -> None:
    hostile = {**VARIABLES, "subject": '<script>alert("x")</script>', "customer_name": "<b>Ana</b>"}

    reply = renderer.render("email", "acknowledgement", "en", hostile)

    assert reply.html is not None
    assert "<script>" not in reply.html
    assert "<b>Ana</b>" not in reply.html
    assert "&lt;script&gt;" in reply.html
