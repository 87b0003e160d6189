"""A survey mail's score link in Chromium, against `helpline dev`: a GET records
nothing (mail scanners open every link), so the page the link opens sends the score
itself. A person still rates with one click; without JavaScript the page shows the
"Send my rating" button and nothing is recorded until it is pressed.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from tests.e2e.conftest import Stack

try:
    from playwright.sync_api import expect
except ImportError:
    expect = None

pytestmark = pytest.mark.e2e
LOAD_TIMEOUT_MS = 30_000  # a function's first request on the local stack starts it


def _score_link(stack: Stack, sender: str, subject: str, text: str, score: int) -> tuple[str, str]:
    """Mail in, answer and solve the ticket; (its id, the survey mail's link for `score`)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@helpline.test"
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="cliente.example")
    mail.set_content(text)
    stack.send(mail)
    ticket = stack.wait_for(
        lambda: next((t for t in stack.tickets() if t["subject"] == subject), None), "the ticket"
    )
    stack.cli("tickets", "reply", ticket["id"], "--text", "It is on its way.")
    stack.cli("tickets", "resolve", ticket["id"])
    address = sender.split("<")[1].rstrip(">")
    survey = stack.wait_for(
        lambda: next(
            (
                e
                for e in stack.outbox()
                if e["headers"].get("X-Helpline-Survey") and e["to"] == [address]
            ),
            None,
        ),
        "the survey mail",
    )
    link = re.search(rf'href="([^"]+/survey/[^"]+score={score})"', survey["html"])
    assert link is not None
    return ticket["id"], link.group(1).replace("&amp;", "&")


def _answered(stack: Stack, ticket_id: str) -> list[int]:
    events = stack.json("tickets", "show", ticket_id)["events"]
    return [e["detail"]["score"] for e in events if e["type"] == "survey_answered"]


def test_opening_a_score_link_records_the_score_with_no_further_click(
    open_stack: Stack, make_page: Any
) -> None:
    stack = open_stack
    ticket_id, link = _score_link(
        stack,
        "Grace Hopper <grace@customer.example>",
        "The invoice shows the wrong address",
        "Hello, the invoice you sent me shows my old address. Could you correct it please?",
        4,
    )
    page = make_page()
    refused: list[str] = []  # a script the page's Content-Security-Policy blocked
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(link, timeout=LOAD_TIMEOUT_MS)

    # the page sent the score by itself: the thank-you page with its comment form
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.locator(".lead strong")).to_have_text(re.compile(r"^4 – "))
    expect(page.get_by_label(re.compile("tell us more"))).to_be_visible()
    assert page.url == link.split("?")[0]
    assert _answered(stack, ticket_id) == [4]
    assert refused == []
    # sent while loading, so it took the link's place in the history: Back leaves
    page.go_back()
    assert "/survey/" not in page.url
    assert _answered(stack, ticket_id) == [4]


def test_without_javascript_the_page_shows_a_button_and_records_only_when_pressed(
    open_stack: Stack, make_page: Any
) -> None:
    stack = open_stack
    ticket_id, link = _score_link(
        stack,
        "Layla Haddad <layla@customer.example>",
        "لم يصل طلبي",
        "مرحبا، لم يصل طلبي حتى الآن ورقم التتبع لا يعمل. هل يمكنكم مساعدتي من فضلكم؟",
        2,
    )
    page = make_page(java_script_enabled=False)
    page.goto(link, timeout=LOAD_TIMEOUT_MS)

    button = page.get_by_role("button", name="أرسل تقييمي")  # "Send my rating"
    expect(button).to_be_visible()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("main").evaluate("el => getComputedStyle(el).direction") == "rtl"
    expect(page.locator(".lead strong")).to_have_text(re.compile(r"^2 – "))
    page.wait_for_timeout(1_000)  # time a script would have had to send it
    assert page.url == link
    assert _answered(stack, ticket_id) == []

    button.click()
    expect(page.get_by_role("heading", name="شكرًا لك!")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert _answered(stack, ticket_id) == [2]
