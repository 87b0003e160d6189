"""Social DMs through `helpline dev`: signed HTTP posts for each platform, as curl
would send them, then the CLI: tickets, the acknowledgement in the outbox, an agent
reply to the platform's (fake) API, and a reply the messaging window forbids."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.unit.channels.payloads import (
    chatwoot,
    page_delivery,
    pywa,
    zammad_telegram,
    zammad_twitter,
)

pytestmark = pytest.mark.e2e


def _post(stack: Stack, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        stack.info["http_url"] + path,
        data=body,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _meta(stack: Stack, payload: dict[str, Any]) -> tuple[int, Any]:
    body = json.dumps(payload).encode()
    signature = hmac.new(stack.info["meta_app_secret"].encode(), body, hashlib.sha256).hexdigest()
    return _post(stack, "/webhooks/meta", body, {"X-Hub-Signature-256": "sha256=" + signature})


def _messenger(
    text: str, mid: str, *, sent_at: float | None = None, sender: str = "3383290475046708"
) -> dict[str, Any]:
    event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
    event["sender"]["id"] = sender
    event["message"] = {"mid": mid, "text": text}
    event["timestamp"] = int((sent_at or time.time()) * 1000)
    return page_delivery(event)


def _ticket_for(stack: Stack, channel: str, text: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for ticket in stack.tickets():
            if ticket["channel"] == channel and ticket["subject"].startswith(text[:30]):
                return ticket
        return None

    return stack.wait_for(find, f"a {channel} ticket")


def test_a_signed_messenger_message_is_a_ticket_acknowledged_and_answered(stack: Stack) -> None:
    text = "Hola, mi pedido llegó roto. ¿Qué puedo hacer ahora?"
    status, body = _meta(stack, _messenger(text, "m_e2e_1"))
    assert status == 200 and body["outcomes"] == {"created": 1}
    status, body = _meta(stack, _messenger(text, "m_e2e_1"))  # Meta retries
    assert status == 200 and body["outcomes"] == {"duplicate": 1}
    ticket = _ticket_for(stack, "messenger", text)
    assert (ticket["language"], ticket["queue"]) == ("es", "spanish")
    ack = [e for e in stack.outbox() if e["channel"] == "messenger" and ticket["id"] in e["text"]]
    assert len(ack) == 1 and "Gracias por escribir" in ack[0]["text"]
    assert ack[0]["endpoint"] == "POST /fake/graph/v21.0/me/messages"

    stack.cli("tickets", "reply", ticket["id"], "--text", "Lo sentimos mucho: hoy sale uno nuevo.")
    sent = [e for e in stack.outbox() if e["text"] == "Lo sentimos mucho: hoy sale uno nuevo."]
    assert len(sent) == 1
    assert sent[0]["body"]["recipient"] == {"id": "3383290475046708"}
    assert sent[0]["body"]["messaging_type"] == "RESPONSE"


def test_a_reply_outside_the_messaging_window_is_refused_with_its_reason(stack: Stack) -> None:
    eight_days_ago = time.time() - 8 * 24 * 3600
    text = "Hello, I wrote to you a while ago about my invoice."
    _meta(stack, _messenger(text, "m_e2e_old", sent_at=eight_days_ago, sender="99990000111"))
    ticket = _ticket_for(stack, "messenger", text)
    result = stack.cli(
        "tickets", "reply", ticket["id"], "--text", "Sorry for the delay!", check=False
    )
    assert result.returncode != 0
    assert "7 days" in (result.stdout + result.stderr)
    shown = stack.json("tickets", "show", ticket["id"])
    assert any(e["type"] == "agent_reply_refused" for e in shown["events"])
    assert not [e for e in stack.outbox() if e["text"] == "Sorry for the delay!"]


def test_whatsapp_telegram_and_x_deliveries_become_tickets(stack: Stack) -> None:
    whatsapp = copy.deepcopy(pywa("message", "text"))
    message = whatsapp["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(time.time()))
    message["text"]["body"] = "Olá, a minha encomenda ainda não chegou. Podem verificar?"
    assert _meta(stack, whatsapp)[0] == 200

    update = zammad_telegram("private", "text")
    body = json.dumps(update).encode()
    status, _ = _post(
        stack,
        "/webhooks/telegram",
        body,
        {"X-Telegram-Bot-Api-Secret-Token": stack.info["telegram_secret_token"]},
    )
    assert status == 200

    events = zammad_twitter("direct_message-incoming")
    body = json.dumps(events).encode()
    digest = hmac.new(stack.info["x_consumer_secret"].encode(), body, hashlib.sha256).digest()
    status, _ = _post(
        stack,
        "/webhooks/x",
        body,
        {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()},
    )
    assert status == 200

    channels = stack.wait_for(
        lambda: (
            {t["channel"] for t in stack.tickets()} >= {"whatsapp", "telegram", "x"}
            and {t["channel"] for t in stack.tickets()}
        ),
        "tickets on every platform",
    )
    assert {"whatsapp", "telegram", "x"} <= channels
    wa = next(t for t in stack.tickets() if t["channel"] == "whatsapp")
    assert wa["language"] == "pt"
    endpoints = {
        e["endpoint"] for e in stack.outbox() if e["channel"] in ("whatsapp", "telegram", "x")
    }
    assert "POST /fake/graph/v21.0/1122334455667/messages" in endpoints
    assert "POST /fake/telegram/bot<token>/sendMessage" in endpoints


def test_an_unsigned_delivery_is_refused(stack: Stack) -> None:
    status, body = _post(stack, "/webhooks/meta", json.dumps(_messenger("hi", "m_x")).encode(), {})
    assert status == 401 and body["code"]
