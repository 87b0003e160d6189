"""The emailed chat transcript: every language, every line in order, text kept as text."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from functions.core.config import DEFAULT_TEMPLATES_DIR
from functions.core.localize import SUPPORTED_LOCALES
from functions.core.replies import TemplateRenderer

LINES = [
    {
        "at": datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        "from": "customer",
        "name": "",
        "text": "Hi <b>there</b>",
    },
    {
        "at": datetime(2026, 11, 24, 10, 1, tzinfo=UTC),
        "from": "bot",
        "name": "",
        "text": "Track it at https://x",
    },
    {
        "at": datetime(2026, 11, 24, 10, 2, tzinfo=UTC),
        "from": "agent",
        "name": "Lucía",
        "text": "Line one\nLine two",
    },
]


def _render(locale: str):
    return TemplateRenderer(DEFAULT_TEMPLATES_DIR).render(
        "email",
        "chat_transcript",
        locale,
        {
            "brand": {"name": "Acme", "support_address": "help@acme.example", "website": ""},
            "ticket_token": "[#K7Q2M4XD9P]",
            "lines": LINES,
        },
        tz=ZoneInfo("Europe/Madrid"),
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_line_is_in_the_transcript_in_order(locale):
    rendered = _render(locale)
    assert rendered.locale == locale and "[#K7Q2M4XD9P]" in rendered.subject
    text = rendered.text
    positions = [
        text.index(s) for s in ("Hi <b>there</b>", "Track it at https://x", "Line one\nLine two")
    ]
    assert positions == sorted(positions)
    assert "Lucía" in text and "11:02" in text  # the agent's name, and Madrid time


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_html_transcript_escapes_what_people_wrote(locale):
    html = _render(locale).html
    assert html is not None
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in html and "<b>there</b>" not in html
    assert "Line one<br>" in html
    assert ('dir="rtl"' in html) == (locale == "ar")
