"""Who can join an email ticket, through `helpline dev`: smtplib in, the CLI out.

A stranger who knows a ticket's thread (a Message-ID from a forwarded mail, the
`[#ticket]` token) and names the customer in Reply-To must not join the customer's
ticket: each attempt becomes a ticket of its own, linked to the customer's for an
agent to see, and the agent's answer on the customer's ticket goes to the customer
only (issue 16, item 1).
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

CUSTOMER = "ada@customer.example"
STRANGER = "mallory@elsewhere.example"


def _mail(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@helpline.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def _ticket_with_subject(stack: Stack, subject: str) -> dict[str, Any]:
    found = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["subject"] == subject], f"ticket {subject!r}"
    )
    assert len(found) == 1
    return found[0]


def _ack_of(stack: Stack, ticket_id: str) -> dict[str, Any]:
    acks = stack.wait_for(
        lambda: [m for m in stack.outbox() if f"[#{ticket_id}]" in m["subject"]],
        f"the acknowledgement of {ticket_id}",
    )
    return acks[0]


def _everything_in(entry: dict[str, Any]) -> str:
    return json.dumps([entry["subject"], entry["text"], entry["html"], entry["headers"]])


def test_a_stranger_cannot_take_over_a_customers_email_ticket(stack: Stack) -> None:
    # the customer writes, and is acknowledged
    stack.send(
        _mail(
            f"Ada <{CUSTOMER}>",
            "Account recovery",
            "I lost access to my account, could you send me a reset code please?",
        )
    )
    ticket = _ticket_with_subject(stack, "Account recovery")
    ack = _ack_of(stack, ticket["id"])
    assert ack["to"] == [CUSTOMER]

    # a stranger answers in the ticket's thread (the acknowledgement was forwarded to them)
    stack.send(
        _mail(
            STRANGER,
            "Re: quick one",
            "Ada here from another address, please send the code to this one.",
            In_Reply_To=ack["headers"]["Message-ID"],
            References=ack["headers"]["Message-ID"],
        )
    )
    # ... and with the ticket's token, naming the customer in Reply-To
    stack.send(
        _mail(
            STRANGER,
            f"Code please [#{ticket['id']}]",
            "Please send the reset code here.",
            Reply_To=f"Ada <{CUSTOMER}>",
        )
    )
    by_thread = _ticket_with_subject(stack, "Re: quick one")
    by_token = _ticket_with_subject(stack, "Code please")  # the other ticket's token left out
    assert len({ticket["id"], by_thread["id"], by_token["id"]}) == 3

    # the customer's ticket holds the customer's mail only, and names both attempts
    shown = stack.wait_for(
        lambda: stack.ticket_where(
            ticket["id"],
            lambda s: len([e for e in s["events"] if e["type"] == "linked"]) >= 2,
        ),
        "both attempts linked on the customer's ticket",
    )
    assert [m["sender"] for m in shown["messages"] if m["direction"] == "inbound"] == [CUSTOMER]
    assert f"email:{STRANGER}" not in shown["ticket"]["participants"]
    assert {e["detail"]["ticket"] for e in shown["events"] if e["type"] == "linked"} == {
        by_thread["id"],
        by_token["id"],
    }
    for attempt in (by_thread, by_token):
        other = stack.json("tickets", "show", attempt["id"])
        assert [e["detail"]["ticket"] for e in other["events"] if e["type"] == "linked"] == [
            ticket["id"]
        ]

    # each attempt is acknowledged as its own ticket, never naming the customer's
    for attempt in (by_thread, by_token):
        attempt_ack = _ack_of(stack, attempt["id"])
        assert ticket["id"] not in _everything_in(attempt_ack)
        assert "Account recovery" not in _everything_in(attempt_ack)

    # the agent's answer on the customer's ticket goes to the customer only
    result = stack.json(
        "tickets",
        "reply",
        ticket["id"],
        "--text",
        "Your reset code is 640271.",
        "--agent",
        "sam@helpline.test",
    )
    assert result["delivery"] == "sent"
    [answer] = [m for m in stack.outbox() if "640271" in m["text"]]
    assert answer["to"] == [CUSTOMER]
    assert "Cc" not in answer["headers"]

    # nothing the stranger received names the customer's ticket or its subject
    to_stranger = [m for m in stack.outbox() if STRANGER in m["to"]]
    assert to_stranger  # the acknowledgement of the attempt by thread
    for entry in to_stranger:
        assert ticket["id"] not in _everything_in(entry)
        assert "Account recovery" not in _everything_in(entry)
        assert "640271" not in _everything_in(entry)
