"""Live chat through `helpline dev` with real WebSocket clients (the `websockets`
package): a customer and an agent who speaks their language, the queue, and a chat
started after hours that becomes a ticket for the next shift."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets

from tests.e2e.conftest import Stack, config_variant, start_stack
from tests.helpers import REPO

pytestmark = pytest.mark.e2e
DEMO = REPO / "infra" / "config" / "demo.yaml"


def _run(main: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API (the browser tests in
    the same session) keeps an event loop running in the main thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result(timeout=120)


def _post(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        stack.info["http_url"] + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


class Peer:
    """One WebSocket client and everything it has received."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []

    async def send(self, action: str, **fields: Any) -> None:
        await self.socket.send(json.dumps({"action": action, **fields}))

    async def expect(self, kind: str, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        """The first frame of `kind` (matching `match`) received, waiting if need be."""

        def found() -> dict[str, Any] | None:
            for frame in self.frames:
                if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                    return frame
            return None

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (hit := found()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {kind} {match}; got {[f['type'] for f in self.frames]}")
            self.frames.append(json.loads(await asyncio.wait_for(self.socket.recv(), remaining)))
        return hit

    def clear(self) -> None:
        self.frames.clear()


async def _customer(stack: Stack, locale: str) -> Peer:
    session = await asyncio.to_thread(_post, stack, "/chat/session", {"locale": locale})
    socket = await websockets.connect(session["ws_url"] + "?token=" + session["token"])
    peer = Peer(socket)
    await peer.send("hello", locale=locale, page={"url": "https://shop.example/help"})
    await peer.expect("welcome")
    return peer


async def _agent(stack: Stack, email: str, **status: Any) -> Peer:
    signed = await asyncio.to_thread(stack.json, "agents", "token", email)
    socket = await websockets.connect(signed["ws_url"] + "?agent_token=" + signed["token"])
    peer = Peer(socket)
    await peer.send("status", status="online", **status)
    await peer.expect("status")
    return peer


def test_a_forged_token_is_refused_at_the_handshake(open_stack: Stack) -> None:
    stack = open_stack

    async def run() -> None:
        url = stack.info["chat_ws_url"]
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url + "?token=not-a-token")
        assert refused.value.response.status_code == 401

    _run(run)


def test_customer_and_agent_chat_both_ways_and_the_chat_is_a_ticket(open_stack: Stack) -> None:
    stack = open_stack

    async def run() -> str:
        agent = await _agent(stack, "ivan@helpline.test")
        customer = await _customer(stack, "ru-RU")
        await customer.send(
            "message", text="Здравствуйте! Не могу войти в личный кабинет с утра.", client_id="c1"
        )
        await customer.expect("ack", client_id="c1")
        assert (await customer.expect("assigned"))["agent"] == {"name": "Иван"}
        offer = await agent.expect("assigned")
        assert offer["language"] == "ru"
        await agent.send(
            "message",
            session_id=offer["session_id"],
            text="Добрый день! Сейчас проверю.",
            client_id="a1",
        )
        reply = await customer.expect("message")
        assert reply["message"]["text"] == "Добрый день! Сейчас проверю."
        assert reply["message"]["from"] == "agent" and reply["message"]["name"] == "Иван"
        await customer.send("typing", typing=True)
        await agent.expect("typing", session_id=offer["session_id"])
        await customer.send("message", text="Спасибо!", client_id="c2")
        await agent.expect("message", session_id=offer["session_id"])
        await agent.send("close", session_id=offer["session_id"])
        assert (await customer.expect("closed"))["by"] == "agent"
        await agent.socket.close()
        await customer.socket.close()
        return str(offer["ticket_id"])

    ticket_id = _run(run)
    shown = stack.json("tickets", "show", ticket_id)
    assert shown["ticket"]["channel"] == "chat"
    assert shown["ticket"]["queue"] == "russian" and shown["ticket"]["language"] == "ru"
    assert shown["ticket"]["status"] == "solved"
    assert [(m["direction"], m["text"]) for m in shown["messages"]] == [
        ("inbound", "Здравствуйте! Не могу войти в личный кабинет с утра."),
        ("outbound", "Добрый день! Сейчас проверю."),
        ("inbound", "Спасибо!"),
    ]


def test_a_second_waiting_customer_sees_position_two_then_one(open_stack: Stack) -> None:
    stack = open_stack

    async def run() -> None:
        first = await _customer(stack, "ar")
        await first.send(
            "message", text="مرحبا، لم تصلني الفاتورة الخاصة بحسابي بعد", client_id="1"
        )
        assert (await first.expect("queued"))["position"] == 1
        second = await _customer(stack, "ar")
        await second.send(
            "message", text="مرحبا، أريد تغيير كلمة المرور الخاصة بحسابي", client_id="1"
        )
        assert (await second.expect("queued"))["position"] == 2
        second.clear()
        agent = await _agent(stack, "layla@helpline.test", max_chats=1)
        assert (await first.expect("assigned"))["agent"]["name"] == "ليلى"
        assert (await second.expect("queued"))["position"] == 1
        for peer in (first, second, agent):
            await peer.socket.close()

    _run(run)


def _closed_around_today(config: dict[str, Any]) -> None:
    today = datetime.now(UTC).date()
    days = [str(today + timedelta(days=n)) for n in (-1, 0, 1)]
    for calendar in config["calendars"].values():
        calendar["closures"] = sorted({*map(str, calendar.get("closures", [])), *days})


@pytest.fixture(scope="module")
def closed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo config with every office closed today and tomorrow (as on a holiday)."""
    path = config_variant(tmp_path_factory.mktemp("closed-config"), "closed", _closed_around_today)
    yield from start_stack(tmp_path_factory.mktemp("closed-state"), "--config", str(path))


def test_a_chat_after_hours_says_when_the_team_is_back_and_becomes_a_ticket(
    closed_stack: Stack,
) -> None:
    stack = closed_stack

    async def run() -> dict[str, Any]:
        customer = await _customer(stack, "en-GB")
        away = await customer.expect("after_hours")
        assert away["next_open_text"] and away["ask_contact"] is True
        await customer.send(
            "message", text="Hello, my parcel arrived damaged. What can I do?", client_id="1"
        )
        ack = await customer.expect("ack", client_id="1")
        reply = await customer.expect("message")
        assert away["next_open_text"] in reply["message"]["text"]
        await customer.send("contact", email="sam@example.com", name="Sam")
        await customer.expect("contact_saved")
        await customer.socket.close()
        return ack

    _run(run)
    [ticket] = [t for t in stack.tickets() if t["channel"] == "chat"]
    assert ticket["status"] == "new" and ticket["queue"] == "english"
    shown = stack.json("tickets", "show", ticket["id"])
    assert [m["kind"] for m in shown["messages"]] == ["message", "after_hours"]
    assert any(e["type"] == "contact_left" for e in shown["events"])
