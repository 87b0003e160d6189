"""The widget on the local stack's demo page, against the real chat server: a person
in Chromium chats with an agent (a WebSocket client) and the chat is a ticket.

Keyboard only, the live region, Arabic right to left, a 360 px phone, and markup in
messages shown as text, all through `helpline dev`, not a fake.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import Stack

try:
    from playwright.sync_api import expect
except ImportError:
    expect = None

pytestmark = pytest.mark.e2e
XSS = "<img src=x onerror=alert(1)>"


class Agent:
    """An agent console over a real WebSocket, reading frames in the background."""

    def __init__(self, stack: Stack, email: str) -> None:
        signed = stack.json("agents", "token", email)
        # entered by hand: the socket outlives this call (websockets 17.1 warns otherwise)
        self.socket = connect(signed["ws_url"] + "?agent_token=" + signed["token"]).__enter__()
        self.frames: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.send("status", status="online")

    def _read(self) -> None:
        try:
            for raw in self.socket:
                with self.arrived:
                    self.frames.append(json.loads(raw))
                    self.arrived.notify_all()
        except Exception:
            return

    def send(self, action: str, **fields: Any) -> None:
        self.socket.send(json.dumps({"action": action, **fields}))

    def wait(self, kind: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next(
                (
                    f
                    for f in self.frames
                    if f["type"] == kind and all(f.get(k) == v for k, v in match.items())
                ),
                None,
            )

        with self.arrived:
            if not self.arrived.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(
                    f"agent got no {kind} {match}: {[f['type'] for f in self.frames]}"
                )
            hit = found()
            assert hit is not None
            return hit

    def close(self) -> None:
        self.socket.close()


def _tab_to(page: Any, locator: Any) -> None:
    for _ in range(40):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el.getRootNode().activeElement === el"):
            return
    pytest.fail("Tab never reached the chat launcher")


def test_a_person_in_the_browser_chats_with_an_agent_keyboard_only(
    open_stack: Stack, make_page: Any
) -> None:
    stack = open_stack
    agent = Agent(stack, "emma@helpline.test")
    try:
        agent.wait("status")
        page = make_page(viewport={"width": 360, "height": 640})
        page.goto(stack.info["http_url"] + "/")
        launcher = page.locator(".launch")
        expect(launcher).to_be_visible()
        _tab_to(page, launcher)
        page.keyboard.press("Enter")
        panel = page.locator(".panel")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        expect(page.locator("form.c textarea")).to_be_focused()
        page.keyboard.type("Hi, I cannot change my password: " + XSS)
        page.keyboard.press("Enter")

        offer = agent.wait("assigned")
        session = offer["session_id"]
        history = agent.wait("history", session_id=session)
        assert history["messages"][0]["text"] == "Hi, I cannot change my password: " + XSS
        agent.send(
            "message", session_id=session, text="I can help. Try this: " + XSS, client_id="a1"
        )

        live = page.locator(".hlc-live")
        expect(live).to_contain_text("Emma: I can help. Try this: " + XSS)
        assert page.locator("ol .m .txt").all_inner_texts()[-1] == "I can help. Try this: " + XSS
        assert page.locator("ol img").count() == 0  # markup is shown as text, never run
        agent.send("close", session_id=session)
        expect(page.get_by_role("button", name="5 out of 5")).to_be_visible()  # rating offered
    finally:
        agent.close()
    shown = stack.json("tickets", "show", offer["ticket_id"])
    assert shown["ticket"]["channel"] == "chat"
    texts = [m["text"] for m in shown["messages"]]
    assert texts[0] == "Hi, I cannot change my password: " + XSS
    assert shown["ticket"]["status"] == "solved"


def test_the_demo_page_in_arabic_opens_the_chat_right_to_left(
    open_stack: Stack, make_page: Any
) -> None:
    stack = open_stack
    page = make_page()
    page.goto(stack.info["http_url"] + "/?lang=ar")
    page.locator(".launch").click()
    panel = page.locator(".panel")
    expect(panel).to_be_visible()
    assert panel.evaluate("el => getComputedStyle(el).direction") == "rtl"
    expect(panel).to_contain_text("إرسال")
