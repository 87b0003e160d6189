"""The direct-message replies (chat and social): every language, the facts the
customer needs (the reference, when the team is back), and nothing email-shaped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from functions.core.config import DEFAULT_TEMPLATES_DIR, Replies
from functions.core.localize import SUPPORTED_LOCALES, format_local_datetime
from functions.core.replies import ReplySituation, TemplateRenderer, decide_reply

NEXT_OPEN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")


def _render(name: str, locale: str, **extra):
    renderer = TemplateRenderer(DEFAULT_TEMPLATES_DIR)
    variables = {
        "brand": {"name": "Acme", "support_address": "help@acme.example", "website": ""},
        "customer_name": "Ana",
        "ticket_id": "K7Q2M4XD9P",
        "ticket_token": "[#K7Q2M4XD9P]",
        "subject": "",
        "team_name": "Support",
        "next_open": NEXT_OPEN,
        "expected_response": None,
        **extra,
    }
    return renderer.render("messaging", name, locale, variables, tz=MADRID)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", ["acknowledgement", "after_hours"])
def test_every_language_has_a_short_reply_with_the_reference(name, locale):
    rendered = _render(name, locale)
    assert rendered.locale == locale
    assert "[#K7Q2M4XD9P]" in rendered.text
    assert "Ana" in rendered.text
    assert rendered.html is None  # a DM is plain text
    assert "\n\n" not in rendered.text.strip()  # one paragraph, no signature block
    assert len(rendered.text) < 640  # fits a WhatsApp/Messenger bubble comfortably


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_after_hours_reply_says_when_the_team_is_back_in_its_own_time(locale):
    rendered = _render("after_hours", locale)
    assert format_local_datetime(NEXT_OPEN, locale, tz=MADRID) in rendered.text
    assert "09:00" in rendered.text  # 08:00 UTC is 09:00 in Madrid


def test_a_locale_without_templates_falls_back_along_its_chain():
    assert _render("acknowledgement", "pt-BR").locale == "pt"
    assert _render("acknowledgement", "nl").locale == "en"


def test_live_chat_in_hours_gets_no_canned_acknowledgement_but_after_hours_does():
    settings = Replies()
    in_hours = decide_reply(
        settings, ReplySituation(is_new_ticket=True, in_hours=True, live_channel=True)
    )
    after = decide_reply(
        settings, ReplySituation(is_new_ticket=True, in_hours=False, live_channel=True)
    )
    assert not in_hours.send and "queue" in in_hours.reason
    assert after.send and after.template == "after_hours"
