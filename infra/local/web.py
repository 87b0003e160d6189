"""The local stack's HTTP side: the ticket pages and the small API the CLI uses.

Served with aiohttp on one port. Handlers that read the table run in a thread, since
the store is synchronous boto3.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from functions.core.config import DEFAULT_TEMPLATES_DIR
from functions.core.errors import NotFoundError
from functions.core.store import TicketStore
from functions.core.tickets import TicketService
from infra.local.outbox import Outbox

STACK_KEY: web.AppKey[Any] = web.AppKey("stack", object)


def _jinja(directory: Path) -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(directory / "web")),
        autoescape=select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class WebApp:
    def __init__(
        self,
        *,
        store: TicketStore,
        tickets: TicketService,
        outbox: Outbox,
        page_context: dict[str, Any],
        quarantine: Callable[[], list[dict[str, Any]]],
        templates_dir: Path = DEFAULT_TEMPLATES_DIR,
        extra_routes: list[web.RouteDef] | None = None,
        agents: Callable[[str | None], Any] | None = None,
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.outbox = outbox
        self.page_context = page_context
        self.quarantine = quarantine
        self.env = _jinja(templates_dir)
        self.agents = agents
        self.routes: list[web.RouteDef] = [
            web.get("/", self.demo_page),
            web.get("/agent", self.agent_page),
            web.get("/chat/agent.js", self.agent_script),
            web.get("/api/agents", self.agents_api),
            web.post("/api/agents/token", self.agent_token_api),
            web.get("/tickets", self.ticket_list),
            web.get("/tickets/{ticket_id}", self.ticket_page),
            web.get("/outbox", self.outbox_page),
            web.get("/quarantine", self.quarantine_page),
            web.get("/api/health", self.health),
            web.get("/api/outbox", self.outbox_api),
            *(extra_routes or []),
        ]

    def application(self) -> web.Application:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.add_routes(self.routes)
        return app

    async def _in_thread(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(func, *args)
        )

    def _page(self, name: str, **context: Any) -> web.Response:
        html = self.env.get_template(f"{name}.en.html.j2").render(**self.page_context, **context)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def demo_page(self, request: web.Request) -> web.Response:
        language = request.query.get("lang", "en")
        if not language.replace("-", "").isalnum() or len(language) > 12:
            language = "en"
        return self._page("chat_demo", lang=language)

    async def agent_page(self, request: web.Request) -> web.Response:
        return self._page("agent")

    async def agent_script(self, request: web.Request) -> web.Response:
        path = Path(__file__).resolve().parents[2] / "functions" / "chat_ws" / "widget" / "agent.js"
        return web.Response(
            text=path.read_text(encoding="utf-8"), content_type="application/javascript"
        )

    async def agents_api(self, request: web.Request) -> web.Response:
        if self.agents is None:
            raise web.HTTPNotFound()
        return web.json_response(await self._in_thread(self.agents, None))

    async def agent_token_api(self, request: web.Request) -> web.Response:
        if self.agents is None:
            raise web.HTTPNotFound()
        try:
            body = await request.json()
            email = str(body["email"])
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"code": "bad_json", "reason": 'send {"email": ...}'}, status=400
            )
        try:
            return web.json_response(await self._in_thread(self.agents, email))
        except NotFoundError as exc:
            return web.json_response({"code": "not_found", "reason": str(exc)}, status=404)

    async def ticket_list(self, request: web.Request) -> web.Response:
        tickets = await self._in_thread(self.store.list_tickets)
        return self._page("tickets", tickets=tickets)

    async def ticket_page(self, request: web.Request) -> web.Response:
        try:
            bundle = await self._in_thread(self.tickets.bundle, request.match_info["ticket_id"])
        except NotFoundError:
            raise web.HTTPNotFound(text="No such ticket") from None
        customer = await self._in_thread(self.tickets.customer, bundle.ticket.customer_id)
        return self._page(
            "ticket",
            ticket=bundle.ticket,
            messages=bundle.messages,
            events=bundle.events,
            customer=customer,
        )

    async def outbox_page(self, request: web.Request) -> web.Response:
        return self._page("outbox", outbox=await self._in_thread(self.outbox.entries))

    async def quarantine_page(self, request: web.Request) -> web.Response:
        return self._page("quarantine", records=await self._in_thread(self.quarantine))

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def outbox_api(self, request: web.Request) -> web.Response:
        return web.json_response(await self._in_thread(self.outbox.entries))
