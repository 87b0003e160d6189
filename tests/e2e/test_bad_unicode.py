"""Invalid Unicode through `helpline dev` (issue 16, items 3 and 10), as reported: a
signed Meta delivery whose third message carries a lone surrogate (an emoji cut in
half: "\\ud83d" in the JSON) used to fail with 500 on every retry and lose all three;
the same character in a chat message got no answer at all. Now the delivery is 200
and three tickets, and the chat frame is refused with `bad_field` on a connection that
keeps working, as are a frame over 32 KB and a message of invisible characters."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import websockets

from tests.e2e.conftest import Stack
from tests.unit.channels.payloads import chatwoot, page_delivery

pytestmark = pytest.mark.e2e


def _meta(stack: Stack, body: bytes) -> tuple[int, Any]:
    signature = hmac.new(stack.info["meta_app_secret"].encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        stack.info["http_url"] + "/webhooks/meta",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _event(text: str, *, mid: str, sender: str) -> dict[str, Any]:
    event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
    event["sender"]["id"] = sender
    event["message"] = {"mid": mid, "text": text}
    event["timestamp"] = int(time.time() * 1000)
    return event


def test_one_broken_character_no_longer_blocks_a_meta_delivery(stack: Stack) -> None:
    run = str(int(time.time() * 1000))
    texts = [
        "Hello, my order has not arrived yet, can you help?",
        "Hi, I was charged twice for one order this week.",
        "My parcel \ud83d arrived broken, what can I do now?",
    ]
    delivery = page_delivery(
        *(
            _event(text, mid=f"m_bad_unicode_{run}_{i}", sender=f"7{run}{i}")
            for i, text in enumerate(texts)
        )
    )
    body = json.dumps(delivery).encode()
    assert b"My parcel \\ud83d arrived" in body  # as Meta sends it

    status, answer = _meta(stack, body)
    assert status == 200 and answer["outcomes"] == {"created": 3}, answer
    shown = {
        t["subject"]: stack.json("tickets", "show", t["id"])
        for t in stack.tickets()
        if t["channel"] == "messenger"
    }
    inbound = sorted(
        m["text"] for s in shown.values() for m in s["messages"] if m["direction"] == "inbound"
    )
    assert inbound == [
        "Hello, my order has not arrived yet, can you help?",
        "Hi, I was charged twice for one order this week.",
        "My parcel \ufffd arrived broken, what can I do now?",
    ]
    status, answer = _meta(stack, body)  # Meta's retry
    assert status == 200 and answer["outcomes"] == {"duplicate": 3}


def _run(main: Any) -> Any:
    """asyncio.run in a thread of its own (Playwright may hold the main thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result(timeout=120)


def _session(stack: Stack) -> dict[str, Any]:
    request = urllib.request.Request(
        stack.info["http_url"] + "/chat/session",
        data=json.dumps({"locale": "en-GB"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_broken_character_in_chat_is_refused_and_the_chat_goes_on(stack: Stack) -> None:
    async def main() -> list[dict[str, Any]]:
        session = await asyncio.to_thread(_session, stack)
        async with websockets.connect(session["ws_url"] + "?token=" + session["token"]) as ws:

            async def answer(frame: str) -> dict[str, Any]:
                await asyncio.sleep(0.3)  # under the flood limit of 5 frames a second
                await ws.send(frame)
                while True:  # the first ack or error: what a widget waits for
                    got = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if got["type"] in ("ack", "error"):
                        return got

            await ws.send(json.dumps({"action": "hello", "locale": "en-GB"}))
            frames = [
                await answer('{"action": "message", "text": "Hi \\ud83d", "client_id": "b1"}'),
                await answer('{"action": "hello", "name": "Zo\\ud83d", "locale": "en-GB"}'),
                await answer(
                    json.dumps(
                        {"action": "message", "text": "Hi", "client_id": "b2", "x": "y" * 40_000}
                    )
                ),
                await answer(
                    json.dumps(
                        {"action": "message", "text": "\u200b\u2060\ufeff ", "client_id": "b3"},
                        ensure_ascii=False,
                    )
                ),
                await answer(
                    json.dumps(
                        {"action": "message", "text": "Where is my order?", "client_id": "ok"}
                    )
                ),
            ]
            return frames

    refused_unicode, refused_hello, too_large, invisible, ok = _run(main)
    assert (refused_unicode["type"], refused_unicode["code"]) == ("error", "bad_field")
    assert refused_unicode["client_id"] == "b1"
    assert (refused_hello["code"], refused_hello["action"]) == ("bad_field", "hello")
    assert (too_large["type"], too_large["code"]) == ("error", "too_large")
    assert (invisible["code"], invisible["client_id"]) == ("bad_field", "b3")
    assert (ok["type"], ok["client_id"]) == ("ack", "ok")
    assert ok["message"]["text"] == "Where is my order?"
