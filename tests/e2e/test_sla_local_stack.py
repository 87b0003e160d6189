"""SLA through `helpline dev`: a new mail's first-response deadline is shown by
`helpline tickets show` in the team's time zone and promised in its acknowledgement;
`helpline sla tick --at` past the deadline escalates it once, a second tick does not."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_the_deadline_is_shown_promised_and_escalated_once(stack: Stack) -> None:
    mail = EmailMessage()
    mail["From"] = "Grace Hopper <grace@customer.example>"
    mail["To"] = "support@helpline.test"
    mail["Subject"] = "Invoice shows the wrong VAT number"
    mail["Message-ID"] = make_msgid(domain="customer.example")
    mail.set_content("Hello, the invoice for November shows our old VAT number. Could you fix it?")
    stack.send(mail)
    ticket = stack.wait_for(
        lambda: next((t for t in stack.tickets() if t["subject"] == mail["Subject"]), None),
        "the ticket",
    )
    shown = stack.wait_for(
        lambda: stack.ticket_where(
            ticket["id"], lambda s: any(m["automatic"] for m in s["messages"])
        ),
        "the acknowledgement",
    )
    first = next(row for row in shown["sla"] if row["target"] == "first_response")
    assert first["status"] == "running" and first["business"] is True
    assert first["timezone"] == "Europe/London"  # the English team's calendar
    due = datetime.fromisoformat(first["due_at"]).astimezone(ZoneInfo("Europe/London"))

    # the customer was promised that same moment, in their language and the team's zone
    from functions.core.localize import format_local_datetime

    ack = next(e for e in stack.outbox() if ticket["id"] in e["subject"])
    assert format_local_datetime(due, "en", tz=due.tzinfo) in ack["text"]

    def escalation_waiting() -> int:
        rows = stack.json("queues")
        return next(r["waiting"] for r in rows if r["queue"] == "escalation")

    before = escalation_waiting()
    late = (due + timedelta(minutes=1)).isoformat()
    report = stack.json("sla", "tick", "--at", late)
    assert [
        (c["ticket"], c["kind"]) for c in report["crossings"] if c["ticket"] == ticket["id"]
    ] == [(ticket["id"], "breach")]
    assert escalation_waiting() == before + 1
    again = stack.json("sla", "tick", "--at", late)
    assert [c for c in again["crossings"] if c["ticket"] == ticket["id"]] == []
    assert escalation_waiting() == before + 1
    shown = stack.json("tickets", "show", ticket["id"])
    assert shown["ticket"]["priority"] == "high" and "escalated" in shown["ticket"]["tags"]
    assert any(e["type"] == "sla_breach" for e in shown["events"])
