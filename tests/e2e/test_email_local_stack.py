"""The email flow through `helpline dev`, as a person uses it: smtplib in, the CLI out.

The local stack runs as a subprocess on free ports with its own state directory; mail
goes in over SMTP and everything is checked through `helpline ... --json`.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _mail(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@helpline.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def test_ready_line_names_the_endpoints_and_the_support_address(stack: Stack) -> None:
    assert "support=support@helpline.test" in stack.ready
    assert f"smtp=127.0.0.1:{stack.info['smtp_port']}" in stack.ready
    assert stack.info["http_url"].startswith("http://127.0.0.1:")


def test_the_email_flow(stack: Stack) -> None:
    # 1. a new request in English
    first = _mail(
        "Grace Hopper <grace@customer.example>",
        "Invoice is wrong",
        "Hello, the invoice you sent me yesterday charges me twice for the same subscription. "
        "Could you please correct it? Kind regards, Grace",
    )
    stack.send(first)
    tickets = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["subject"] == "Invoice is wrong"], "ticket"
    )
    ticket = tickets[0]
    assert (ticket["language"], ticket["queue"], ticket["channel"]) == ("en", "english", "email")

    # its acknowledgement, in English, threaded to the customer's mail
    acks = stack.wait_for(
        lambda: [m for m in stack.outbox() if ticket["id"] in m["subject"]], "acknowledgement"
    )
    ack = acks[0]
    assert ack["to"] == ["grace@customer.example"]
    assert ack["headers"]["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in ack["headers"]["References"]
    assert ack["headers"]["Auto-Submitted"] == "auto-replied"
    assert ack["headers"]["Content-Language"] == "en"
    assert f"[#{ticket['id']}]" in ack["subject"]

    # 2. a reply to the acknowledgement, threaded only by In-Reply-To
    reply = _mail(
        "Grace Hopper <grace@customer.example>",
        "Re: Invoice is wrong",
        "Here is the invoice number: 2026-0042.",
        In_Reply_To=ack["headers"]["Message-ID"],
        References=ack["headers"]["References"] + " " + ack["headers"]["Message-ID"],
    )
    stack.send(reply)
    # 3. another, threaded only by the subject token
    stack.send(
        _mail("grace@customer.example", f"More details [#{ticket['id']}]", "I paid by card.")
    )
    stack.wait_for(
        lambda: stack.ticket_where(ticket["id"], lambda s: _inbound_count(s) >= 3),
        "both follow-ups on the ticket",
    )
    assert len(stack.tickets()) == 1

    # 4. an auto-reply to our acknowledgement gets no answer and stays on the ticket
    sent_before = len(stack.outbox())
    stack.send(
        _mail(
            "grace@customer.example",
            "Automatic reply: " + ack["subject"],
            "I am away until Monday.",
            In_Reply_To=ack["headers"]["Message-ID"],
            Auto_Submitted="auto-replied",
        )
    )
    # 5. a bounce of the acknowledgement
    stack.send(_bounce(ack["headers"]["Message-ID"], "grace@customer.example"))
    shown = stack.wait_for(
        lambda: stack.ticket_where(
            ticket["id"], lambda s: any(m["kind"] == "bounce" for m in s["messages"])
        ),
        "the bounce on the ticket",
    )
    kinds = [m["kind"] for m in shown["messages"] if m["direction"] == "inbound"]
    assert "out_of_office" in kinds and "bounce" in kinds
    assert "email:grace@customer.example" in shown["customer"]["undeliverable"]
    assert any(e["type"] == "delivery_failed" for e in shown["events"])
    assert len(stack.outbox()) == sent_before
    assert len(stack.tickets()) == 1

    # 6. a Spanish request goes to the Spanish team and is answered in Spanish
    stack.send(
        _mail(
            "Lucía <lucia@cliente.example>",
            "Pedido retrasado",
            "Hola, hice un pedido hace diez días y todavía no ha llegado. ¿Pueden ayudarme, por favor?",
        )
    )
    spanish = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["queue"] == "spanish"], "spanish ticket"
    )[0]
    assert spanish["language"] == "es"
    es_ack = stack.wait_for(
        lambda: [m for m in stack.outbox() if spanish["id"] in m["subject"]], "spanish ack"
    )[0]
    assert es_ack["headers"]["Content-Language"] == "es"


def test_agent_reply_and_resolve_through_the_cli(stack: Stack) -> None:
    stack.send(
        _mail(
            "Ada <ada@customer.example>",
            "Password reset",
            "I cannot reset my password, the link expired.",
        )
    )
    ticket = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["subject"] == "Password reset"], "ticket"
    )[0]
    result = stack.json(
        "tickets",
        "reply",
        ticket["id"],
        "--text",
        "I sent you a new link.",
        "--agent",
        "sam@helpline.test",
    )
    assert result["delivery"] == "sent"
    sent = [
        m
        for m in stack.outbox()
        if m["to"] == ["ada@customer.example"] and "I sent you a new link." in m["text"]
    ]
    assert len(sent) == 1 and "Auto-Submitted" not in sent[0]["headers"]
    stack.cli("tickets", "resolve", ticket["id"])
    assert stack.json("tickets", "show", ticket["id"])["ticket"]["status"] == "solved"


def test_own_loop_is_quarantined_and_can_be_replayed(stack: Stack) -> None:
    stack.send(
        _mail("Helpline <support@helpline.test>", "Loop", "This is our own mail coming back.")
    )
    entry = stack.wait_for(
        lambda: [q for q in stack.json("quarantine") if q["reason"] == "own_loop"], "quarantine"
    )[0]
    replayed = stack.json("replay", entry["id"])
    assert [o["status"] for o in replayed["outcomes"]] == ["quarantined"]  # still our own mail
    assert stack.cli("replay", "QNOTHINGHERE1", check=False).returncode == 1


def test_a_wrong_ticket_id_is_a_clear_error(stack: Stack) -> None:
    result = stack.cli("tickets", "show", "ZZZZZZZZZZ", check=False)
    assert result.returncode == 1 and "no ticket" in result.stderr


def _inbound_count(shown: dict[str, Any]) -> int:
    return len([m for m in shown["messages"] if m["direction"] == "inbound"])


def _bounce(original_message_id: str, recipient: str) -> bytes:
    """A Postfix-style delivery status notification about one of our messages."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: support@helpline.test
Subject: Undelivered Mail Returned to Sender
Message-ID: {make_msgid(domain="mx.customer.example")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b0undary"

--b0undary
Content-Type: text/plain; charset=us-ascii

<{recipient}>: host mx.customer.example said: 550 5.1.1 User unknown

--b0undary
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--b0undary
Content-Type: text/rfc822-headers

From: support@helpline.test
To: {recipient}
Message-ID: {original_message_id}

--b0undary--
""".replace("\n", "\r\n").encode()
