"""The platforms' send APIs, faked on the local stack's port, recording every send.

Replies and acknowledgements on Messenger, Instagram, WhatsApp, Telegram and X go out
through the real senders over HTTP; the local stack's config points their base URLs
here (`/fake/graph`, `/fake/telegram`, `/fake/x`). Each request is answered the way the
platform answers a successful send, and kept for `helpline outbox`. Access tokens
are never kept: only whether one was sent.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from aiohttp import web


class FakePlatforms:
    def __init__(self, token_channels: dict[str, str] | None = None) -> None:
        # Messenger and Instagram share /me/messages; the token says whose account it is
        self.token_channels = dict(token_channels or {})
        self._sent: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/fake/graph/{version}/me/messages", self.graph_messages),
            web.post("/fake/graph/{version}/{number}/messages", self.whatsapp_messages),
            web.post("/fake/telegram/{bot}/{method}", self.telegram),
            web.post("/fake/x/2/dm_conversations/with/{participant}/messages", self.x_messages),
        ]

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._sent)

    def _record(self, channel: str, request: web.Request, body: Any, *, to: str, text: str) -> int:
        number = next(self._ids)
        authorized = bool(request.headers.get("Authorization") or request.query.get("access_token"))
        with self._lock:
            self._sent.append(
                {
                    "channel": channel,
                    "id": f"{channel}-{number}",
                    "at": time.time(),
                    "endpoint": f"{request.method} {_without_token(request.path)}",
                    "to": [to],
                    "subject": "",
                    "text": text,
                    "body": body,
                    "authorized": authorized,
                }
            )
        return number

    async def graph_messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        recipient = str((body.get("recipient") or {}).get("id", ""))
        text = str((body.get("message") or {}).get("text", ""))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        channel = self.token_channels.get(token, "messenger")
        number = self._record(channel, request, body, to=recipient, text=text)
        return web.json_response({"recipient_id": recipient, "message_id": f"m_fake{number:06d}"})

    async def whatsapp_messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        to = str(body.get("to", ""))
        text = str((body.get("text") or {}).get("body", "")) or json.dumps(
            body.get("template") or body.get("interactive") or {}, ensure_ascii=False
        )
        number = self._record("whatsapp", request, body, to=to, text=text)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.FAKE{number:08d}"}],
            }
        )

    async def telegram(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat = str(body.get("chat_id", ""))
        if request.match_info["method"] != "sendMessage":
            return web.json_response({"ok": True, "result": True})
        number = self._record("telegram", request, body, to=chat, text=str(body.get("text", "")))
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": number,
                    "chat": {
                        "id": int(chat) if chat.lstrip("-").isdigit() else chat,
                        "type": "private",
                    },
                    "date": int(time.time()),
                    "text": body.get("text", ""),
                },
            }
        )

    async def x_messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        participant = request.match_info["participant"]
        number = self._record("x", request, body, to=participant, text=str(body.get("text", "")))
        return web.json_response(
            {
                "data": {
                    "dm_conversation_id": f"1111111111-{participant}",
                    "dm_event_id": f"{1800000000000000000 + number}",
                }
            }
        )


def _without_token(path: str) -> str:
    # Telegram puts the bot token in the path: /bot<token>/sendMessage
    parts = path.split("/")
    return "/".join(
        "bot<token>" if part.startswith("bot") and len(part) > 8 else part for part in parts
    )
