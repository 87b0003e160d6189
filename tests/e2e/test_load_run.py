"""The load run's own clients, at a tiny size through `helpline dev`: mail, chat and
social together, and chats whose connection drops as their message's ack comes in (it
is stored, but the customer never learns so), so each reconnects, resumes its session
and resends it; the run's checks (every message in exactly one ticket, no dead letter)
must hold and the report must say so."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from bench import load_run

pytestmark = pytest.mark.e2e


def test_a_chat_that_lost_its_ack_resends_and_is_stored_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_connect = websockets.connect
    dropped: set[str] = set()

    @contextlib.asynccontextmanager
    async def dropping(url: str, **kwargs: Any) -> AsyncIterator[Any]:
        async with real_connect(url, **kwargs) as socket:
            recv = socket.recv

            async def loses_first_ack() -> Any:
                data = await recv()
                frame = json.loads(data)
                if frame.get("type") == "ack" and frame["client_id"] not in dropped:
                    dropped.add(frame["client_id"])
                    # stored and acknowledged, but the customer's train enters a tunnel
                    socket.transport.abort()
                    return await recv()  # what the client sees: the connection is gone
                return data

            socket.recv = loses_first_ack
            yield socket

    def drops_first_socket(url: str, **kwargs: Any) -> Any:
        # customers only: the agents' sockets stay as they are
        return dropping(url, **kwargs) if "?token=" in url else real_connect(url, **kwargs)

    monkeypatch.setattr(websockets, "connect", drops_first_socket)
    result = load_run.run(sizes={"mails": 3, "chats": 4, "social": 3}, timeout=240)

    assert result["results"]["chats_acked"] == 4
    assert result["results"]["chat_retries"] == {"ConnectionClosedError": 4}
    assert result["results"]["chat_sessions_lost"] == 0
    assert result["tickets_by_channel"]["chat"] == 4  # a resend did not open a second ticket
    assert result["tickets_by_channel"]["email"] == 3
    assert not any(result["dead_letters"].values())
    report = load_run.markdown(result)
    assert "python -m bench.load_run --mails 3 --chats 4 --social 3" in report
    assert "reconnects: 4 ConnectionClosedError" in report
    assert "Every message is in exactly one ticket" in report
