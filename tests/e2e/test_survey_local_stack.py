"""Surveys through `helpline dev`: resolving a ticket sends the survey on the
customer's channel (an email with score links; Messenger quick replies), a click (the
POST its page sends; a plain GET, like a mail scanner's, records nothing) or a tap
records the score, and `helpline report` shows it, as JSON and as an HTML page that
opens in headless Chromium with its charts."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.unit.channels.payloads import chatwoot, page_delivery

pytestmark = pytest.mark.e2e


def _get(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """GET `url`, or POST `form` to it (urlencoded, as a browser sends a form)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with urllib.request.urlopen(url, data=data, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_an_email_survey_is_sent_clicked_and_reported(stack: Stack, tmp_path: Path) -> None:
    mail = EmailMessage()
    mail["From"] = "Maria Sousa <maria@cliente.example>"
    mail["To"] = "support@helpline.test"
    mail["Subject"] = "Encomenda atrasada"
    mail["Message-ID"] = make_msgid(domain="cliente.example")
    mail.set_content(
        "Olá, a minha encomenda ainda não chegou e já passaram duas semanas. Podem verificar?"
    )
    stack.send(mail)
    ticket = stack.wait_for(
        lambda: next((t for t in stack.tickets() if t["subject"] == "Encomenda atrasada"), None),
        "the ticket",
    )
    stack.cli("tickets", "reply", ticket["id"], "--text", "Já enviámos uma nova encomenda.")
    stack.cli("tickets", "resolve", ticket["id"])
    survey = stack.wait_for(
        lambda: next((e for e in stack.outbox() if e["headers"].get("X-Helpline-Survey")), None),
        "the survey mail",
    )
    assert (
        survey["to"] == ["maria@cliente.example"] and survey["headers"]["Content-Language"] == "pt"
    )
    links = re.findall(r'href="([^"]+/survey/[^"]+score=(\d+))"', survey["html"])
    assert [score for _, score in links] == ["1", "2", "3", "4", "5"]
    link = next(url for url, score in links if score == "5").replace("&amp;", "&")
    assert link.startswith(stack.info["http_url"] + "/survey/")
    status, page = _get(link)  # what the README's curl does, and a mail scanner
    assert status == 200 and 'lang="pt"' in page and 'name="score" value="5"' in page
    shown = stack.json("tickets", "show", ticket["id"])
    assert not [e for e in shown["events"] if e["type"] == "survey_answered"]
    status, page = _get(link.split("?")[0], {"score": "5"})  # what the page sends
    assert status == 200 and 'aria-current="true"' in page
    shown = stack.json("tickets", "show", ticket["id"])
    assert [e["detail"]["score"] for e in shown["events"] if e["type"] == "survey_answered"] == [5]

    report = json.loads(stack.cli("report", "--json").stdout)
    email_row = next(row for row in report["by_value"] if row["value"] == "email")
    assert email_row["csat"] == 100.0 and email_row["csat_responses"] >= 1
    assert email_row["tickets_solved"] >= 1

    html_path = tmp_path / "report.html"
    stack.cli("report", "--html", str(html_path))
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html and "<svg" in html

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    from tests.browser.conftest import LAUNCH_ARGS

    def look() -> tuple[int, list[str], int]:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=LAUNCH_ARGS
            )
            page_ = browser.new_page()
            page_.goto(html_path.as_uri())
            charts = page_.locator("svg[role=img]").count()
            titles = page_.locator("svg[role=img] > title").evaluate_all(
                "els => els.map(e => e.textContent)"
            )
            tables = page_.locator("table").count()
            browser.close()
            return charts, titles, tables

    # in a thread of its own: the browser tests' Playwright keeps a loop in this one
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        charts, titles, tables = pool.submit(look).result(timeout=120)
    assert charts >= 3 and tables >= 1
    assert any("CSAT" in t for t in titles)


def _deliver_messenger(stack: Stack, sender: str, message: dict[str, Any]) -> None:
    event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
    event["sender"]["id"] = sender
    event["message"] = message
    event["timestamp"] = int(time.time() * 1000)
    body = json.dumps(page_delivery(event)).encode()
    signature = hmac.new(stack.info["meta_app_secret"].encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        stack.info["http_url"] + "/webhooks/meta",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signature},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200


def test_a_messenger_customer_answers_the_survey_by_typing_the_number(stack: Stack) -> None:
    sender = "5550001119990"
    _deliver_messenger(
        stack, sender, {"mid": "m_typed_1", "text": "Hi, my parcel tracking link does not open."}
    )
    ticket = stack.wait_for(
        lambda: next(
            (t for t in stack.tickets() if t["subject"].startswith("Hi, my parcel tracking")),
            None,
        ),
        "the messenger ticket",
    )
    stack.cli("tickets", "reply", ticket["id"], "--text", "Here is a working link.")
    stack.cli("tickets", "resolve", ticket["id"])
    stack.wait_for(
        lambda: next(
            (
                e
                for e in stack.outbox()
                if e["channel"] == "messenger"
                and e["body"].get("recipient", {}).get("id") == sender
                and e["body"].get("message", {}).get("quick_replies")
            ),
            None,
        ),
        "the survey question",
    )
    replies_before = len(stack.outbox())
    _deliver_messenger(stack, sender, {"mid": "m_typed_2", "text": "2/5"})
    shown = stack.wait_for(
        lambda: stack.ticket_where(
            ticket["id"], lambda s: any(e["type"] == "survey_answered" for e in s["events"])
        ),
        "the recorded answer",
    )
    # the typed score is an answer: the ticket stays solved, nobody is woken, no reply
    assert shown["ticket"]["status"] == "solved"
    assert [m["text"] for m in shown["messages"]][-1] == "2/5"
    report = json.loads(stack.cli("report", "--json").stdout)
    messenger = next(row for row in report["by_value"] if row["value"] == "messenger")
    assert messenger["csat_scores"]["2"] == 1
    assert not [
        e
        for e in stack.outbox()[replies_before:]
        if e["channel"] == "messenger" and e["body"].get("recipient", {}).get("id") == sender
    ]


def test_a_messenger_customer_answers_the_survey_with_a_quick_reply(stack: Stack) -> None:
    def deliver(message: dict[str, Any]) -> None:
        _deliver_messenger(stack, "5550001112223", message)

    deliver(
        {
            "mid": "m_survey_1",
            "text": "Hello, I would like to change the email address on my account.",
        }
    )
    ticket = stack.wait_for(
        lambda: next(
            (
                t
                for t in stack.tickets()
                if t["subject"].startswith("Hello, I would like to change")
            ),
            None,
        ),
        "the messenger ticket",
    )
    stack.cli("tickets", "reply", ticket["id"], "--text", "Done, it is changed.")
    stack.cli("tickets", "resolve", ticket["id"])
    question = stack.wait_for(
        lambda: next(
            (
                e
                for e in stack.outbox()
                if e["channel"] == "messenger"
                and e["body"].get("recipient", {}).get("id") == "5550001112223"
                and e["body"].get("message", {}).get("quick_replies")
            ),
            None,
        ),
        "the survey question",
    )
    replies = question["body"]["message"]["quick_replies"]
    assert len(replies) == 5
    four = replies[3]["payload"]
    deliver({"mid": "m_survey_2", "text": replies[3]["title"], "quick_reply": {"payload": four}})
    shown = stack.wait_for(
        lambda: stack.ticket_where(
            ticket["id"], lambda s: any(e["type"] == "survey_answered" for e in s["events"])
        ),
        "the recorded answer",
    )
    assert shown["ticket"]["status"] == "solved"  # an answer does not reopen the ticket
    report = json.loads(stack.cli("report", "--json").stdout)
    messenger = next(row for row in report["by_value"] if row["value"] == "messenger")
    assert messenger["csat_scores"]["4"] == 1
