"""The email reply templates: complete, safe, and right for each language.

The renderer registers `local_datetime` itself; here a small environment with the same
settings stands in for it, bound to each template's locale and a Berlin calendar.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from functions.core.localize import SUPPORTED_LOCALES, format_local_datetime, text_direction

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PURPOSES = ("acknowledgement", "after_hours", "agent_reply")
EXTENSIONS = ("subject", "txt", "html")
CALENDAR = ZoneInfo("Europe/Berlin")
NEXT_OPEN = datetime(2025, 11, 24, 9, 0, tzinfo=CALENDAR)
EXPECTED_RESPONSE = datetime(2025, 11, 24, 13, 0, tzinfo=CALENDAR)
TOKEN = "[#K7Q2M4XD]"
ALL = [(p, loc, ext) for p in PURPOSES for loc in SUPPORTED_LOCALES for ext in EXTENSIONS]
BODIES = [(p, loc, ext) for p, loc, ext in ALL if ext != "subject"]
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@functools.cache
def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_datetime"] = functools.partial(
        format_local_datetime, locale=locale, tz=CALENDAR
    )
    return env


def _context(locale: str, **overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "brand": {
            "name": "Acme",
            "support_address": "help@acme.example",
            "website": "https://acme.example",
        },
        "customer_name": "Jane Doe",
        "ticket_id": "01JD8Z6K7Q2M4XD",
        "ticket_token": TOKEN,
        "subject": "Printer on fire",
        "locale": locale,
        "direction": text_direction(locale),
        "team_name": "Support",
        "next_open": NEXT_OPEN,
        "expected_response": EXPECTED_RESPONSE,
        "body": "Please switch it off.\nThen call us back.",
        "agent_name": "Sam Rivera",
    }
    context.update(overrides)
    return context


MINIMAL = {
    "customer_name": "",
    "next_open": None,
    "expected_response": None,
    "brand": {"name": "Acme", "support_address": "help@acme.example", "website": ""},
}


def _render(purpose: str, locale: str, ext: str, **overrides: Any) -> str:
    template = _environment(locale).get_template(f"email/{purpose}.{locale}.{ext}.j2")
    return template.render(_context(locale, **overrides))


class _Tags(HTMLParser):
    """Start tags with their attributes, and whether every element was closed."""

    VOID = frozenset({"br", "meta", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


# --- completeness -------------------------------------------------------------------


@pytest.mark.parametrize(("purpose", "locale", "ext"), ALL)
def test_every_template_exists(purpose: str, locale: str, ext: str) -> None:
    assert (TEMPLATES / "email" / f"{purpose}.{locale}.{ext}.j2").is_file()


# tested in test_chat_transcript_templates.py, and the code mail in functional/test_chat.py
OTHER_PURPOSES = ("chat_transcript", "chat_verification")


def test_no_stray_templates() -> None:
    expected = {f"{p}.{loc}.{ext}.j2" for p, loc, ext in ALL} | {
        f"{p}.{loc}.{ext}.j2"
        for p in OTHER_PURPOSES
        for loc in SUPPORTED_LOCALES
        for ext in EXTENSIONS
    }
    found = {f.name for f in (TEMPLATES / "email").iterdir() if not f.name.startswith("_")}
    assert found == expected


@pytest.mark.parametrize(("purpose", "locale", "ext"), ALL)
@pytest.mark.parametrize("variant", ["full", "minimal"])
def test_renders_with_and_without_optional_values(
    purpose: str, locale: str, ext: str, variant: str
) -> None:
    overrides = MINIMAL if variant == "minimal" else {}
    text = _render(purpose, locale, ext, **overrides)
    assert text.strip()
    assert "None" not in text
    assert "{{" not in text
    assert "{%" not in text
    assert not re.search(r"[ \t]+$", text, re.MULTILINE), "trailing whitespace"
    assert "\n\n\n" not in text


# --- bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(("purpose", "locale", "ext"), BODIES)
def test_ticket_token_appears_in_the_body(purpose: str, locale: str, ext: str) -> None:
    assert TOKEN in _render(purpose, locale, ext)
    assert TOKEN in _render(purpose, locale, ext, **MINIMAL)


@pytest.mark.parametrize(("purpose", "locale", "ext"), BODIES)
def test_customer_name_is_used_only_when_known(purpose: str, locale: str, ext: str) -> None:
    if purpose == "agent_reply":  # the agent writes the greeting in the body
        return
    assert "Jane Doe" in _render(purpose, locale, ext)
    lines = _render(purpose, locale, ext, customer_name="").strip().splitlines()
    greeting = lines[0]
    assert greeting
    if ext == "txt" and locale != "ja":  # Japanese opens with the thanks, not a salutation
        assert lines[1] == "", "the salutation stands on its own line"
    assert not re.search(r"\s[,:!،]", greeting), greeting  # no "Hello ," left behind


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("ext", ["txt", "html"])
def test_after_hours_says_when_the_team_is_back_only_when_known(locale: str, ext: str) -> None:
    back = format_local_datetime(NEXT_OPEN, locale, tz=CALENDAR)
    assert back in _render("after_hours", locale, ext, expected_response=None)
    assert back not in _render("after_hours", locale, ext, next_open=None)


@pytest.mark.parametrize("purpose", ["acknowledgement", "after_hours"])
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("ext", ["txt", "html"])
def test_expected_response_is_promised_only_when_set(purpose: str, locale: str, ext: str) -> None:
    by = format_local_datetime(EXPECTED_RESPONSE, locale, tz=CALENDAR)
    assert by in _render(purpose, locale, ext)
    assert by not in _render(purpose, locale, ext, expected_response=None)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_agent_reply_wraps_the_body_and_signs_it(locale: str) -> None:
    body = "Please switch it off.\n\nThen call us back."
    text = _render("agent_reply", locale, "txt", body=body)
    assert body in text
    assert "Sam Rivera" in text
    assert "Support" in text
    html = _render("agent_reply", locale, "html", body=body)
    assert "Please switch it off.<br>\n<br>\nThen call us back." in html
    assert "Sam Rivera" in html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_agent_reply_without_agent_name_keeps_the_team(locale: str) -> None:
    text = _render("agent_reply", locale, "txt", agent_name="")
    assert "Acme" in text.split("Then call us back.", 1)[1]


@pytest.mark.parametrize(
    ("purpose", "locale"), [(p, loc) for p in PURPOSES for loc in SUPPORTED_LOCALES]
)
def test_text_templates_contain_no_html_and_do_not_escape(purpose: str, locale: str) -> None:
    for overrides in ({}, MINIMAL):
        assert not HTML_TAG.search(_render(purpose, locale, "txt", **overrides))
    special = "O'Brien & Sons"
    text = _render(purpose, locale, "txt", customer_name=special, subject=special, body=special)
    assert special in text
    assert "&amp;" not in text


# --- HTML ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "locale"), [(p, loc) for p in PURPOSES for loc in SUPPORTED_LOCALES]
)
def test_html_escapes_customer_and_agent_text(purpose: str, locale: str) -> None:
    html = _render(
        purpose,
        locale,
        "html",
        subject="<script>subject()</script>",
        customer_name="<script>name()</script>",
        body='<script>body()</script>\n<img src=x onerror="alert(1)">',
    )
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;subject()" in html
    if purpose == "agent_reply":
        assert "&lt;script&gt;body()" in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    else:
        assert "&lt;script&gt;name()" in html


@pytest.mark.parametrize(
    ("purpose", "locale"), [(p, loc) for p in PURPOSES for loc in SUPPORTED_LOCALES]
)
def test_html_is_well_formed_and_declares_language_and_direction(purpose: str, locale: str) -> None:
    for overrides in ({}, MINIMAL):
        html = _render(purpose, locale, "html", **overrides)
        assert html.startswith("<!doctype html>\n")
        tags = _tags(html)
        assert tags.errors == []
        assert tags.open == []
        attrs = {tag: a for tag, a in reversed(tags.starts)}  # first occurrence wins
        direction = text_direction(locale)
        assert attrs["html"] == {"lang": locale, "dir": direction}
        assert attrs["body"]["dir"] == direction
        assert attrs["table"]["role"] == "presentation"
        assert "Acme" in html


@pytest.mark.parametrize("purpose", PURPOSES)
def test_arabic_html_is_right_to_left(purpose: str) -> None:
    html = _render(purpose, "ar", "html")
    assert html.startswith('<!doctype html>\n<html lang="ar" dir="rtl">')
    assert '<body dir="rtl"' in html
    assert 'dir="ltr"' not in html.replace(f'<span dir="ltr">{TOKEN}</span>', "")
    assert "text-align:right" in html
    assert "text-align:left" not in html


@pytest.mark.parametrize("purpose", PURPOSES)
def test_arabic_keeps_the_ticket_token_left_to_right(purpose: str) -> None:
    assert f"\u200e{TOKEN}\u200e" in _render(purpose, "ar", "txt")
    assert f'<span dir="ltr">{TOKEN}</span>' in _render(purpose, "ar", "html")


def test_footer_links_the_website_only_when_set() -> None:
    assert 'href="https://acme.example"' in _render("acknowledgement", "en", "html")
    html = _render("acknowledgement", "en", "html", **MINIMAL)
    assert "acme.example</a>" not in html.replace("help@acme.example</a>", "")
    assert 'href="mailto:help@acme.example"' in html


# --- subjects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "locale"), [(p, loc) for p in PURPOSES for loc in SUPPORTED_LOCALES]
)
def test_subject_replies_to_the_customers_subject(purpose: str, locale: str) -> None:
    assert _render(purpose, locale, "subject") == "Re: Printer on fire"
    assert _render(purpose, locale, "subject", subject="RE: Printer on fire") == (
        "RE: Printer on fire"
    )
    assert _render(purpose, locale, "subject", subject="Printer\r\n  on fire ") == (
        "Re: Printer on fire"
    )


@pytest.mark.parametrize(
    ("purpose", "locale"), [(p, loc) for p in PURPOSES for loc in SUPPORTED_LOCALES]
)
def test_empty_subject_gets_a_localized_one(purpose: str, locale: str) -> None:
    for empty in ("", "   "):
        subject = _render(purpose, locale, "subject", subject=empty)
        assert subject.strip() == subject
        assert "Acme" in subject
        assert "Re:" not in subject
        assert "\n" not in subject
        if locale != "en":
            assert subject != _render(purpose, "en", "subject", subject=empty)


@pytest.mark.parametrize(
    ("purpose", "locale"), [(p, loc) for p in PURPOSES for loc in SUPPORTED_LOCALES]
)
def test_subject_never_carries_the_ticket_token(purpose: str, locale: str) -> None:
    for overrides in ({}, {"subject": ""}):
        assert "K7Q2M4XD" not in _render(purpose, locale, "subject", **overrides)
