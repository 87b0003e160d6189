"""Helpline must not relay anyone's text from the support address to anyone (issue 16,
item 2), through `helpline dev`: chat visitors asking for transcripts to addresses that
are not theirs, and a mail whose Reply-To names someone else."""

from __future__ import annotations

import asyncio
import json
import re
from email.message import EmailMessage
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_chat_local_stack import Peer, _customer, _run

pytestmark = pytest.mark.e2e

PHISHING = "URGENT: your account is locked. Unlock it at http://evil.example/unlock now"


def _to(stack: Stack, address: str) -> list[dict[str, Any]]:
    return [entry for entry in stack.outbox() if address in entry["to"]]


def _answer(frames: list[dict[str, Any]], action: str) -> dict[str, Any] | None:
    for frame in frames:
        if frame["type"] in ("code_sent", "transcript_sent") or (
            frame["type"] == "error" and frame.get("action") == action
        ):
            return frame
    return None


async def _ask(peer: Peer, action: str, **fields: Any) -> dict[str, Any]:
    """Send one frame and return the answer to it, paced under the flood limit."""
    peer.clear()
    await peer.send(action, **fields)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while (answer := _answer(peer.frames, action)) is None:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no answer to {action}; got {[f['type'] for f in peer.frames]}")
        peer.frames.append(json.loads(await asyncio.wait_for(peer.socket.recv(), remaining)))
    await asyncio.sleep(0.3)  # chat.max_actions_per_second is 5
    return answer


def test_three_visitors_asking_transcripts_to_24_addresses_relay_none_of_their_text(
    open_stack: Stack,
) -> None:
    stack = open_stack
    targets = [[f"victim{s}.{i}@relay-target.example" for i in range(8)] for s in range(3)]

    async def run() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
        answers, guesses = [], []
        for session, addresses in enumerate(targets):
            visitor = await _customer(stack, "en-GB")
            await visitor.send("message", text=f"{PHISHING} ({session})", client_id="1")
            await visitor.expect("ack", client_id="1")
            answers.append([await _ask(visitor, "transcript", email=a) for a in addresses])
            # guessing the code, the visitor does not have it
            guesses += [await _ask(visitor, "verify", code=c) for c in ("000000", "123456")]
            await visitor.socket.close()
        return answers, guesses

    answers, guesses = _run(run)

    for session in answers:
        kinds = [a["type"] for a in session]
        assert kinds == ["code_sent"] * 3 + ["error"] * 5  # chat.verification_mails_per_session
        assert {a["code"] for a in session[3:]} == {"limit_reached"}
    assert {(g["type"], g.get("code")) for g in guesses} == {("error", "bad_code")}
    every = [address for addresses in targets for address in addresses]
    sent = [entry for entry in stack.outbox() if set(entry["to"]) & set(every)]
    assert len(sent) == 9  # not 24, and not one transcript among them
    for entry in sent:
        content = f"{entry['subject']}\n{entry['text']}\n{entry.get('html') or ''}"
        assert "evil.example" not in content and "locked" not in content
        assert re.search(r"\b[0-9]{6}\b", entry["text"])  # a code, and nothing of theirs


def test_a_visitor_who_reads_the_mailbox_gets_the_transcript_once(open_stack: Stack) -> None:
    stack = open_stack
    address = "ana.relay@example.com"

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        visitor = await _customer(stack, "en-GB")
        await visitor.send(
            "message", text="Please fix the company name on invoice 7781", client_id="1"
        )
        await visitor.expect("ack", client_id="1")
        assert (await _ask(visitor, "transcript", email=address))["type"] == "code_sent"
        [mail] = await asyncio.to_thread(
            stack.wait_for, lambda: _to(stack, address), "the code mail"
        )
        assert "invoice 7781" not in mail["text"] and "invoice 7781" not in mail["subject"]
        code = re.findall(r"\b[0-9]{6}\b", mail["text"])[0]
        sent = await _ask(visitor, "verify", code=code)
        again = await _ask(visitor, "transcript", email=address)
        await visitor.socket.close()
        return sent, again

    sent, again = _run(run)
    assert (sent["type"], sent["email"]) == ("transcript_sent", address)
    assert (again["type"], again["code"]) == ("error", "already_sent")
    mails = stack.wait_for(lambda: len(_to(stack, address)) == 2 and _to(stack, address), "mails")
    assert "invoice 7781" in mails[1]["text"]


def test_an_acknowledgement_goes_to_from_never_to_another_reply_to(open_stack: Stack) -> None:
    stack = open_stack
    mail = EmailMessage()
    mail["From"] = "Mallory <mallory@relay-sender.example>"
    mail["To"] = "support@helpline.test"
    mail["Reply-To"] = "Target Person <target@relay-target.example>"
    mail["Subject"] = "Your mailbox is full: verify your password at http://evil.example/verify"
    mail.set_content("Hello, my order has not arrived yet. Can you check where it is?")
    stack.send(mail)

    [ack] = stack.wait_for(
        lambda: _to(stack, "mallory@relay-sender.example"), "the acknowledgement to From"
    )
    assert ack["to"] == ["mallory@relay-sender.example"]
    assert _to(stack, "target@relay-target.example") == []
