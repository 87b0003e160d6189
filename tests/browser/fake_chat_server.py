"""A small in-memory server speaking docs/chat-protocol.md, to drive the widget in a browser.

It serves what the local stack serves for chat: the demo page at `/`, the agent page at
`/agent` (both rendered from templates/web with the same Jinja settings as
infra/local/web.py), the widget at `/chat/widget.js`, the agent script at
`/chat/agent.js`, `POST /chat/session` (with CORS), the WebSocket at `/chat`, and the
agent API (`GET /api/agents`, `POST /api/agents/token`).

The protocol side is a faithful miniature, not a mock: tokens are checked at the
handshake (401), `hello` must come first, messages are stored once per `client_id` and
acknowledged, the first message routes the chat (`route`: an agent at once, the queue,
after hours or a bot answer), `history` honours `last_seen`, and an agent page can go
online, see `waiting`, accept, reply, write notes, transfer and close. Tests steer it
from their own thread (`push_agent_message`, `move_queue`, `drop_before_ack`, ...) and
read every frame it received in `received`.

It runs its own asyncio loop in a daemon thread, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from tests.helpers import REPO

WIDGET_JS = REPO / "functions" / "chat_ws" / "widget" / "helpline-chat.js"
AGENT_JS = REPO / "functions" / "chat_ws" / "widget" / "agent.js"
WEB_TEMPLATES = REPO / "templates" / "web"

OPEN_HOURS = {
    "team": "support",
    "team_name": "Support",
    "open": True,
    "timezone": "Europe/Madrid",
    "next_open": None,
    "next_open_text": None,
    "expected_response": "2026-11-24T10:30:00.000000Z",
    "expected_response_text": "today at 11:30 (CET)",
}
CLOSED_HOURS = {
    "team": "support",
    "team_name": "Support",
    "open": False,
    "timezone": "Europe/Madrid",
    "next_open": "2026-11-30T08:00:00.000000Z",
    "next_open_text": "Monday 30 November at 09:00 (CET)",
    "expected_response": "2026-11-30T09:00:00.000000Z",
    "expected_response_text": "Monday 30 November at 10:00 (CET)",
}
AGENTS = [
    {"email": "lucia@helpline.test", "name": "Lucía", "languages": ["es", "en"], "max_chats": 3},
    {"email": "marc@helpline.test", "name": "Marc", "languages": ["fr", "en"], "max_chats": 2},
]
_BASE_TIME = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
# the widget posts to /chat/session from any shop's origin
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Session:
    session_id: str
    token: str
    locale: str
    page: dict[str, Any]
    ticket_id: str | None = None
    state: str = "new"
    agent_email: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    by_client_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    connections: int = 0
    queue_position: int = 2
    contact: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class AgentLink:
    email: str
    name: str
    socket: web.WebSocketResponse
    status: str = "away"


class FakeChatServer:
    """The chat endpoints of the local stack, in memory. `route` decides what the first
    customer message gets: "agent" (Lucía at once), "queue", "after_hours" or "bot"."""

    def __init__(
        self,
        *,
        route: str = "agent",
        hours_open: bool = True,
        max_message_chars: int = 4000,
        extra_pages: dict[str, str] | None = None,
    ) -> None:
        self.route = route
        self.hours = OPEN_HOURS if hours_open else CLOSED_HOURS
        self.max_message_chars = max_message_chars
        self.extra_pages = dict(extra_pages or {})
        # what the clients sent, in order: (session id or "agent:<email>", frame)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.session_posts: list[dict[str, Any]] = []
        # texts whose message is stored but whose connection drops before the ack
        self.drop_before_ack: set[str] = set()
        # texts whose frame is lost with the connection, before anything is stored
        self.drop_before_store: set[str] = set()
        self.sessions: dict[str, Session] = {}
        self.agents: dict[str, AgentLink] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- running -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeChatServer:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-chat-server", daemon=True)
        self._thread.start()
        if not started.wait(10) or failure:
            raise RuntimeError(f"the fake chat server did not start: {failure}")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self._demo_page),
                web.get("/agent", self._agent_page),
                web.get("/chat/widget.js", self._script(WIDGET_JS)),
                web.get("/chat/agent.js", self._script(AGENT_JS)),
                web.post("/chat/session", self._session),
                web.options("/chat/session", self._preflight),
                web.get("/chat", self._socket),
                web.get("/api/agents", self._agents),
                web.post("/api/agents/token", self._agent_token),
                web.get("/{name}", self._extra_page),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        for session in self.sessions.values():
            for ws in list(session.sockets):
                await ws.close()
        for link in list(self.agents.values()):
            await link.socket.close()
        if self._runner:
            await self._runner.cleanup()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the server's loop from a test's thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- what tests read and steer -------------------------------------------------------

    def frames(self, action: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [f for _, f in self.received if action is None or f.get("action") == action]

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; received: {self.received}")

    def wait_frame(
        self, action: str, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The first frame with this action (and matching `where`) a client sent."""
        found: dict[str, Any] = self.wait_for(
            lambda: next((f for f in self.frames(action) if where is None or where(f)), None),
            f"a {action!r} frame",
        )
        return found

    def only_session(self) -> Session:
        assert len(self.sessions) == 1, f"expected one chat session, have {len(self.sessions)}"
        return next(iter(self.sessions.values()))

    def push_agent_message(self, session_id: str, text: str, name: str = "Lucía") -> None:
        """An agent reply: stored, and pushed when the customer is connected."""

        async def push() -> None:
            session = self.sessions[session_id]
            message = self._store(session, "agent", text, name=name)
            await self._to_customer(session, {"type": "message", "message": message})

        self.call(push())

    def push(self, session_id: str, frame: dict[str, Any]) -> None:
        """Any server frame to the customer's open connections."""
        self.call(self._to_customer(self.sessions[session_id], frame))

    def move_queue(self, session_id: str, position: int, wait_seconds: int | None) -> None:
        async def move() -> None:
            session = self.sessions[session_id]
            session.queue_position = position
            await self._to_customer(session, self._queued(session, wait_seconds))

        self.call(move())

    def assign(self, session_id: str, name: str = "Lucía") -> None:
        async def assign() -> None:
            session = self.sessions[session_id]
            session.state = "assigned"
            await self._to_customer(session, {"type": "assigned", "agent": {"name": name}})

        self.call(assign())

    def close_chat(self, session_id: str, by: str = "agent") -> None:
        self.call(self._close(self.sessions[session_id], by))

    def drop_customer(self, session_id: str) -> None:
        """The network goes away under the customer's open connections."""

        async def drop() -> None:
            for ws in list(self.sessions[session_id].sockets):
                self._abort(ws)

        self.call(drop())

    def drop_agent(self, email: str) -> None:
        """The network goes away under an agent's connection."""

        async def drop() -> None:
            self._abort(self.agents[email].socket)

        self.call(drop())

    # -- HTTP ----------------------------------------------------------------------------

    def _render(self, name: str, **context: Any) -> web.Response:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        env = Environment(
            loader=FileSystemLoader(str(WEB_TEMPLATES)),
            autoescape=select_autoescape(["html.j2"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        html = env.get_template(f"{name}.en.html.j2").render(
            support_address="support@helpline.test", smtp_port=2525, **context
        )
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def _demo_page(self, request: web.Request) -> web.Response:
        return self._render(
            "chat_demo", widget_url="/chat/widget.js", lang=request.query.get("lang", "")
        )

    async def _agent_page(self, request: web.Request) -> web.Response:
        return self._render("agent", agent_script_url="/chat/agent.js")

    async def _extra_page(self, request: web.Request) -> web.Response:
        html = self.extra_pages.get(request.match_info["name"])
        if html is None:
            raise web.HTTPNotFound()
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    def _script(self, path: Path) -> Callable[[web.Request], Coroutine[Any, Any, web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            return web.Response(
                body=path.read_bytes(),
                content_type="application/javascript",
                charset="utf-8",
                headers={"Cache-Control": "no-store"},
            )

        return serve

    async def _preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers=CORS_HEADERS)

    async def _session(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                {"code": "bad_json", "reason": "not JSON"}, status=400, headers=CORS_HEADERS
            )
        with self._lock:
            self.session_posts.append(body)
        session = next((s for s in self.sessions.values() if s.token == body.get("token")), None)
        resumed = session is not None
        if session is None:
            number = next(self._ids)
            session = Session(
                session_id=f"S{number:06d}",
                token=f"tok{secrets.token_hex(8)}",
                locale=str(body.get("locale") or "en"),
                page=dict(body.get("page") or {}),
            )
            self.sessions[session.session_id] = session
        return web.json_response(
            {
                "token": session.token,
                "ws_url": f"ws://127.0.0.1:{self.port}/chat",
                "session_id": session.session_id,
                "visitor_id": "V" + session.session_id[1:],
                "expires_at": "2026-11-24T12:00:00.000000Z",
                "resumed": resumed,
                "hours": self.hours,
                "limits": {
                    "max_message_chars": self.max_message_chars,
                    "max_actions_per_second": 5,
                },
            },
            headers=CORS_HEADERS,
        )

    async def _agents(self, request: web.Request) -> web.Response:
        return web.json_response(AGENTS)

    async def _agent_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not any(a["email"] == body.get("email") for a in AGENTS):
            return web.json_response({"code": "not_found", "reason": "no such agent"}, status=404)
        return web.json_response(
            {"token": f"agent-{body['email']}", "ws_url": f"ws://127.0.0.1:{self.port}/chat"}
        )

    # -- the WebSocket -------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        agent_token = request.query.get("agent_token")
        if agent_token is not None:
            return await self._agent_socket(request, agent_token)
        session = next(
            (s for s in self.sessions.values() if s.token == request.query.get("token")), None
        )
        if session is None:
            raise web.HTTPUnauthorized(text="bad token")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session.connections += 1
        greeted = False
        try:
            async for raw in ws:
                if raw.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(raw.data)
                except ValueError:
                    await self._send(ws, _error("bad_json", "not JSON"))
                    continue
                with self._lock:
                    self.received.append((session.session_id, frame))
                action = frame.get("action")
                if not greeted and action != "hello":
                    await self._send(ws, _error("hello_first", "say hello first", action))
                    continue
                if action == "hello":
                    greeted = True
                    session.sockets.append(ws)
                    await self._hello(ws, session, frame)
                elif action in self._CUSTOMER:
                    await self._CUSTOMER[action](self, ws, session, frame)
                else:
                    await self._send(ws, _error("unknown_action", "unknown action", action))
        finally:
            if ws in session.sockets:
                session.sockets.remove(ws)
        return ws

    async def _hello(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        agent = self._agent_name(session)
        await self._send(
            ws,
            {
                "type": "welcome",
                "session_id": session.session_id,
                "ticket_id": session.ticket_id,
                "state": session.state,
                "agent": {"name": agent} if agent else None,
                "hours": self.hours,
                "resumed": session.connections > 1,
            },
        )
        last_seen = frame.get("last_seen")
        visible = [m for m in session.messages if m["from"] != "note"]
        after = [m for m in visible if not last_seen or m["cursor"] > last_seen]
        await self._send(ws, {"type": "history", "messages": after, "more": False})
        if session.state == "queued":
            await self._send(ws, self._queued(session, 180))
        elif session.state == "assigned":
            await self._send(ws, {"type": "assigned", "agent": {"name": agent}})
        elif session.state == "after_hours":
            await self._send(ws, self._after_hours())

    async def _customer_message(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        text, client_id = frame.get("text"), frame.get("client_id")
        if not isinstance(text, str) or not text.strip():
            await self._send(
                ws, _error("missing_field", "`text` is required", "message", client_id)
            )
            return
        if len(text) > self.max_message_chars:
            await self._send(ws, _error("too_large", "too long", "message", client_id))
            return
        if client_id in session.by_client_id:  # a resend: stored once, acked again
            await self._send(
                ws,
                {"type": "ack", "client_id": client_id, "message": session.by_client_id[client_id]},
            )
            return
        if text in self.drop_before_store:
            self.drop_before_store.discard(text)
            self._abort(ws)
            return
        first = session.ticket_id is None
        session.ticket_id = session.ticket_id or f"T{session.session_id[1:]}"
        message = self._store(session, "customer", text)
        if client_id:
            session.by_client_id[client_id] = message
        if text in self.drop_before_ack:
            self.drop_before_ack.discard(text)
            self._abort(ws)  # stored, but the ack never reaches the widget
            return
        await self._send(ws, {"type": "ack", "client_id": client_id, "message": message})
        link = self.agents.get(session.agent_email or "")
        if link and session.state == "assigned":
            await self._send(
                link.socket,
                {"type": "message", "session_id": session.session_id, "message": message},
            )
        if first:
            await self._route(session, self.route)

    async def _route(self, session: Session, route: str) -> None:
        if route == "agent":
            session.state = "assigned"
            await self._to_customer(session, {"type": "assigned", "agent": {"name": "Lucía"}})
        elif route == "queue":
            session.state = "queued"
            await self._to_customer(session, self._queued(session, 180))
            await self._tell_waiting()
        elif route == "after_hours":
            session.state = "after_hours"
            await self._to_customer(session, self._after_hours())
        elif route == "bot":
            session.state = "bot"
            answer = self._store(
                session, "bot", "You can return an order within 30 days from My orders."
            )
            await self._to_customer(
                session,
                {
                    "type": "bot",
                    "message": answer,
                    "question": "How do I return an order?",
                    "offer_agent": True,
                },
            )

    async def _talk_to_person(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        if session.state != "bot":
            await self._send(ws, _error("invalid_state", "not after a bot answer", "agent"))
            return
        await self._route(session, "queue" if self.route == "bot_then_queue" else "agent")

    async def _relay_typing(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        link = self.agents.get(session.agent_email or "")
        if link:
            await self._send(
                link.socket,
                {
                    "type": "typing",
                    "session_id": session.session_id,
                    "from": "customer",
                    "typing": frame.get("typing"),
                },
            )

    async def _read(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        link = self.agents.get(session.agent_email or "")
        if link:
            await self._send(
                link.socket,
                {
                    "type": "read",
                    "session_id": session.session_id,
                    "message_id": frame.get("message_id"),
                },
            )

    async def _contact(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        if "@" not in str(frame.get("email") or ""):
            await self._send(ws, _error("bad_email", "not an email address", "contact"))
            return
        session.contact = {"name": frame.get("name"), "email": frame["email"]}

    async def _transcript(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        if "@" not in str(frame.get("email") or ""):
            await self._send(ws, _error("bad_email", "not an email address", "transcript"))
            return
        await self._send(ws, {"type": "transcript_sent", "email": frame["email"]})

    async def _rate(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        score = frame.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            await self._send(ws, _error("bad_score", "1 to 5", "rate"))
            return
        await self._send(ws, {"type": "rated", "score": score})

    async def _customer_close(
        self, ws: web.WebSocketResponse, session: Session, frame: dict[str, Any]
    ) -> None:
        await self._close(session, "customer")

    _CUSTOMER: ClassVar[dict[str, Callable[..., Coroutine[Any, Any, None]]]] = {
        "message": _customer_message,
        "agent": _talk_to_person,
        "typing": _relay_typing,
        "read": _read,
        "contact": _contact,
        "transcript": _transcript,
        "rate": _rate,
        "close": _customer_close,
    }

    # -- the agent side ------------------------------------------------------------------

    async def _agent_socket(self, request: web.Request, token: str) -> web.StreamResponse:
        spec = next((a for a in AGENTS if f"agent-{a['email']}" == token), None)
        if spec is None:
            raise web.HTTPUnauthorized(text="bad agent token")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        link = AgentLink(email=spec["email"], name=spec["name"], socket=ws)
        self.agents[link.email] = link
        try:
            async for raw in ws:
                if raw.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(raw.data)
                with self._lock:
                    self.received.append((f"agent:{link.email}", frame))
                await self._agent_action(link, frame)
        finally:
            if self.agents.get(link.email) is link:
                del self.agents[link.email]
        return ws

    async def _agent_action(self, link: AgentLink, frame: dict[str, Any]) -> None:
        action = frame.get("action")
        if action == "status":
            link.status = frame.get("status", "away")
            active = sum(
                1
                for s in self.sessions.values()
                if s.agent_email == link.email and s.state == "assigned"
            )
            await self._send(
                link.socket,
                {
                    "type": "status",
                    "status": link.status,
                    "languages": frame.get("languages") or [],
                    "max_chats": frame.get("max_chats"),
                    "active": active,
                },
            )
            if link.status == "online":
                await self._tell_waiting()
            return
        session = self.sessions.get(str(frame.get("session_id")))
        if session is None:
            await self._send(link.socket, _error("not_found", "no such chat", action))
            return
        if action == "accept":
            if link.status != "online":
                await self._send(link.socket, _error("not_online", "go online first", action))
                return
            session.state, session.agent_email = "assigned", link.email
            await self._to_customer(session, {"type": "assigned", "agent": {"name": link.name}})
            await self._send(
                link.socket,
                {
                    "type": "assigned",
                    "session_id": session.session_id,
                    "ticket_id": session.ticket_id,
                    "customer": {
                        "name": session.contact.get("name"),
                        "locale": session.locale,
                        "page": session.page,
                    },
                    "language": session.locale.split("-")[0],
                },
            )
            await self._send(
                link.socket,
                {
                    "type": "history",
                    "session_id": session.session_id,
                    "messages": session.messages,
                    "more": False,
                },
            )
            await self._tell_waiting()
        elif action == "message":
            message = self._store(session, "agent", frame["text"], name=link.name)
            await self._send(
                link.socket,
                {"type": "ack", "client_id": frame.get("client_id"), "message": message},
            )
            await self._to_customer(session, {"type": "message", "message": message})
        elif action == "note":
            session.notes.append(frame["text"])
            note = self._store(session, "note", frame["text"], name=link.name)
            await self._send(
                link.socket,
                {
                    "type": "ack",
                    "client_id": frame.get("client_id"),
                    "session_id": session.session_id,
                    "message": note,
                },
            )
        elif action == "typing":
            await self._to_customer(
                session, {"type": "typing", "from": "agent", "typing": frame.get("typing")}
            )
        elif action == "transfer":
            session.state, session.agent_email = "queued", None
            session.queue_position = 1
            await self._send(
                link.socket, {"type": "closed", "session_id": session.session_id, "by": "transfer"}
            )
            await self._to_customer(session, self._queued(session, 60))
        elif action == "close":
            await self._close(session, "agent")

    async def _tell_waiting(self) -> None:
        chats = [
            {
                "session_id": s.session_id,
                "language": s.locale.split("-")[0],
                "team": "support",
                "waiting_since": _iso(_BASE_TIME),
                "preview": next((m["text"] for m in s.messages if m["from"] == "customer"), ""),
            }
            for s in self.sessions.values()
            if s.state == "queued"
        ]
        for link in list(self.agents.values()):
            if link.status == "online":
                await self._send(link.socket, {"type": "waiting", "chats": chats})

    # -- shared --------------------------------------------------------------------------

    def _store(self, session: Session, sender: str, text: str, name: str = "") -> dict[str, Any]:
        number = next(self._ids)
        at = _iso(_BASE_TIME + timedelta(seconds=number))
        message_id = f"M{number:06d}"
        message = {
            "id": message_id,
            "cursor": f"{at}#{message_id}",
            "at": at,
            "from": sender,
            "name": name,
            "text": text,
            "automatic": sender == "bot",
        }
        session.messages.append(message)
        return message

    def _agent_name(self, session: Session) -> str | None:
        if session.state != "assigned":
            return None
        if session.agent_email:
            return next(a["name"] for a in AGENTS if a["email"] == session.agent_email)
        return "Lucía"

    def _queued(self, session: Session, wait_seconds: int | None) -> dict[str, Any]:
        return {
            "type": "queued",
            "position": session.queue_position,
            "estimated_wait_seconds": wait_seconds,
            "estimate_basis": "recent",
            "team": "support",
        }

    def _after_hours(self) -> dict[str, Any]:
        return {
            "type": "after_hours",
            "next_open": CLOSED_HOURS["next_open"],
            "next_open_text": CLOSED_HOURS["next_open_text"],
            "expected_response": CLOSED_HOURS["expected_response"],
            "expected_response_text": CLOSED_HOURS["expected_response_text"],
            "ask_contact": True,
        }

    async def _close(self, session: Session, by: str) -> None:
        session.state = "closed"
        link = self.agents.get(session.agent_email or "")
        if link:
            await self._send(
                link.socket, {"type": "closed", "session_id": session.session_id, "by": by}
            )
        await self._to_customer(
            session, {"type": "closed", "by": by, "offer_rating": True, "offer_transcript": True}
        )

    async def _to_customer(self, session: Session, frame: dict[str, Any]) -> None:
        for ws in list(session.sockets):
            await self._send(ws, frame)

    @staticmethod
    async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(frame, ensure_ascii=False))

    @staticmethod
    def _abort(ws: web.WebSocketResponse) -> None:
        """Cut the TCP connection with no closing handshake, as a lost network does."""
        writer = getattr(ws, "_writer", None)
        transport = getattr(writer, "transport", None) or getattr(
            getattr(ws, "_req", None), "transport", None
        )
        if transport is None:
            raise RuntimeError("cannot reach the socket's transport to cut it")
        transport.abort()


def _error(
    code: str, reason: str, action: str | None = None, client_id: str | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "reason": reason}
    if action:
        frame["action"] = action
    if client_id:
        frame["client_id"] = client_id
    return frame
