"""The email flow through `helpline dev`, as a person uses it: smtplib in, the CLI out.

The local stack runs as a subprocess on free ports with its own state directory; mail
goes in over SMTP and everything is checked through `helpline ... --json`.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.e2e


class Stack:
    def __init__(self, process: subprocess.Popen[str], state_dir: Path, ready: str) -> None:
        self.process = process
        self.state_dir = state_dir
        self.ready = ready
        self.info = json.loads((state_dir / "dev.json").read_text())

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "infra.cli", *args, "--state-dir", str(self.state_dir)],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helpline {' '.join(args)} failed: {result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def send(self, message: EmailMessage | bytes) -> None:
        with smtplib.SMTP(self.info["smtp_host"], self.info["smtp_port"], timeout=30) as smtp:
            if isinstance(message, bytes):
                smtp.sendmail("", ["support@helpline.test"], message)  # a bounce has a null sender
            else:
                smtp.send_message(message)

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    def tickets(self) -> list[dict[str, Any]]:
        return self.json("tickets", "list")

    def outbox(self) -> list[dict[str, Any]]:
        return self.json("outbox")

    def ticket_where(self, ticket_id: str, condition: Callable[[dict[str, Any]], bool]) -> Any:
        """`tickets show --json` of the ticket once `condition` holds, else None."""
        shown = self.json("tickets", "show", ticket_id)
        return shown if condition(shown) else None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state_dir = tmp_path_factory.mktemp("helpline-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HELPLINE_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.cli",
            "dev",
            "--aws-port",
            "0",
            "--http-port",
            "0",
            "--smtp-port",
            "0",
            "--state-dir",
            str(state_dir),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = ""
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("helpline dev ready:"):
            ready = line
            break
        if process.poll() is not None:
            break
    if not ready:
        process.kill()
        raise AssertionError(
            f"helpline dev did not become ready: {process.stderr.read() if process.stderr else ''}"
        )
    try:
        yield Stack(process, state_dir, ready)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


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
