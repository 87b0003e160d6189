"""The local stack's HTTP side: the ticket pages and the small API the CLI uses.

Served with aiohttp on one port. Handlers that read the table run in a thread, since
the store is synchronous boto3.

The port is on 127.0.0.1, but the developer's browser visits other sites meanwhile, so:
- only the names `127.0.0.1:<port>` and `localhost:<port>` are served (421 otherwise):
  a site that rebinds its own name to 127.0.0.1 (DNS rebinding) gets nothing, on every
  route of the port, the REST APIs and the chat WebSocket included;
- the web app's own state-changing requests refuse an Origin (or Referer) of another
  site, so a cross-site form post cannot use them;
- every page sends a strict Content-Security-Policy: scripts only from this origin,
  the pages' own `<style>` blocks by hash, images only from here.

A message's HTML is shown in a sandboxed frame as a document of its own
(`/tickets/{id}/messages/{message_id}/html`) with a policy for mail: no script, its own
inline styles (our replies are styled that way), images only inline, and remote images
neither fetched nor allowed until the agent chooses to load them (`block_remote_images`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import html
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from functions.core.config import DEFAULT_TEMPLATES_DIR
from functions.core.errors import NotFoundError
from functions.core.store import TicketStore
from functions.core.tickets import TicketService
from infra.local.outbox import Outbox

STACK_KEY: web.AppKey[Any] = web.AppKey("stack", object)
WIDGET_DIR = Path(__file__).resolve().parents[2] / "functions" / "chat_ws" / "widget"
LOAD_REMOTE_IMAGES = "remote_images"  # the query flag of the agent's choice on a ticket page

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _jinja(directory: Path) -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(directory / "web")),
        autoescape=select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True, slots=True)
class PublicAddress:
    """The names the stack's public port is served as."""

    port: int

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def template_style_hashes(directory: Path) -> tuple[str, ...]:
    """The hashes of the `<style>` blocks written literally in the page templates (none
    holds a template expression): the policy allows those exact styles and no other."""
    found = {
        _sha256(block)
        for path in sorted(directory.glob("*.html.j2"))
        for block in _STYLE_BLOCK.findall(path.read_text(encoding="utf-8"))
    }
    return tuple(sorted(found))


_WIDGET_CSS = re.compile(r"\bconst CSS = `([^`$\\]*)`")
_WIDGET_HIDE = re.compile(r'\bconst hide = "([^"\\]*)"')


def widget_style_hashes(source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(element hashes, attribute hashes) for the styles the chat widget writes into the
    demo shop: one `<style>` in its shadow root (`CSS`) and `style` attributes on its
    visually hidden live regions (`hide`). Taken from the widget's source so the shop
    keeps a strict policy; if the widget changes how it styles itself, the browser test
    of the demo shop reports the violation."""
    css, hide = _WIDGET_CSS.search(source), _WIDGET_HIDE.search(source)
    return (
        (_sha256(css.group(1)),) if css else (),
        (_sha256(hide.group(1)),) if hide else (),
    )


def content_security_policy(
    address: PublicAddress,
    *,
    style_hashes: Iterable[str] = (),
    style_attr_hashes: Iterable[str] = (),
    frames: bool = False,
) -> str:
    """The pages' policy: nothing but what they use, from this origin."""
    sockets = " ".join(f"ws://{host}" for host in sorted(address.hosts))
    styles = " ".join(["'self'", *style_hashes])
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src {styles}",
        "img-src 'self' data:",
        f"connect-src 'self' {sockets}",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
    if frames:
        directives.append("frame-src 'self'")  # a ticket page's mail documents
    attr_hashes = list(style_attr_hashes)
    if attr_hashes:
        # CSP needs 'unsafe-hashes' for a hash to match a style attribute; only these match
        directives.insert(3, "style-src-attr 'unsafe-hashes' " + " ".join(attr_hashes))
    return "; ".join(directives)


# an <img> start tag, its attributes quoted either way or not at all
_IMG_TAG = re.compile(
    r"""<img\b(?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>=`]+))?)*\s*/?>""",
    re.IGNORECASE,
)
_ATTRIBUTE = re.compile(
    r"""\s+([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>=`]+))?""", re.IGNORECASE
)


def _loads_from_network(src: str) -> bool:
    """A `cid:` image is an attachment of the mail itself; anything else (http, https, a
    protocol-relative or relative address) would be fetched when the page opens."""
    return not html.unescape(src).strip().lower().startswith(("cid:", "data:"))


def mail_policy(*, remote_images: bool) -> str:
    """A mail document's policy: sandboxed (no script, an origin of its own), nothing
    fetched but what the agent chose. Inline styles are harmless there: with nothing to
    fetch, CSS has nowhere to send anything."""
    return "; ".join(
        [
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            "img-src data:" + (" http: https:" if remote_images else ""),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'self'",  # only inside a ticket page
            "sandbox",
        ]
    )


def block_remote_images(markup: str) -> tuple[str, int]:
    """Sanitized mail HTML with every image that would load from the network replaced by
    its description, as mail clients do: a remote image tells the sender when the mail
    was read. Returns the HTML and how many images were blocked."""
    blocked = 0

    def replace(tag: re.Match[str]) -> str:
        nonlocal blocked
        attributes = {
            name.lower(): (value or "").strip("\"'")
            for name, value in _ATTRIBUTE.findall(tag.group(0)[4:].rstrip("/>"))
        }
        src = attributes.get("src", "")
        if not src or not _loads_from_network(src):
            return tag.group(0)
        blocked += 1
        host = urlsplit(html.unescape(src).strip()).netloc or "another site"
        alt = html.unescape(attributes.get("alt", "")).strip()
        shown = f"[image from {host}" + (f": {alt}]" if alt else "]")
        kept = "".join(
            f' {name}="{html.escape(html.unescape(attributes[name]))}"'
            for name in ("width", "height")
            if name in attributes
        )
        return f'<img alt="{html.escape(shown)}"{kept}>'

    return _IMG_TAG.sub(replace, markup), blocked


class WebApp:
    def __init__(
        self,
        *,
        store: TicketStore,
        tickets: TicketService,
        outbox: Outbox,
        page_context: dict[str, Any],
        quarantine: Callable[[], list[dict[str, Any]]],
        port: int,
        templates_dir: Path = DEFAULT_TEMPLATES_DIR,
        extra_routes: list[web.RouteDef] | None = None,
        agents: Callable[[str | None], Any] | None = None,
        widget_dir: Path = WIDGET_DIR,
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.outbox = outbox
        self.page_context = page_context
        self.quarantine = quarantine
        self.address = PublicAddress(port)
        self.env = _jinja(templates_dir)
        self.agents = agents
        self.widget_dir = widget_dir
        self.page_styles = template_style_hashes(templates_dir / "web")
        widget = widget_dir / "helpline-chat.js"
        self.widget_styles = (
            widget_style_hashes(widget.read_text(encoding="utf-8")) if widget.exists() else ((), ())
        )
        self.routes: list[web.RouteDef] = [
            web.get("/", self.demo_page),
            web.get("/agent", self.agent_page),
            web.get("/chat/agent.js", self.agent_script),
            web.get("/api/agents", self.agents_api),
            web.post("/api/agents/token", self._from_our_pages(self.agent_token_api)),
            web.get("/tickets", self.ticket_list),
            web.get("/tickets/{ticket_id}", self.ticket_page),
            web.get("/tickets/{ticket_id}/messages/{message_id}/html", self.message_html),
            web.get("/outbox", self.outbox_page),
            web.get("/quarantine", self.quarantine_page),
            web.get("/api/health", self.health),
            web.get("/api/outbox", self.outbox_api),
            *(extra_routes or []),
        ]

    def application(self) -> web.Application:
        app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=[self._our_names_only])
        app.add_routes(self.routes)
        return app

    # -- who may ask -------------------------------------------------------------------------

    @web.middleware
    async def _our_names_only(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A browser sends the name it resolved: a page of another site that made its
        name resolve to 127.0.0.1 is refused before any route runs."""
        if request.headers.get(hdrs.HOST, "").lower() not in self.address.hosts:
            names = " or ".join(sorted(self.address.hosts))
            return web.Response(
                status=421, text=f"Misdirected request: the Helpline dev stack is {names}.\n"
            )
        return await handler(request)

    def _same_site(self, request: web.Request) -> bool:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None:
            # "null" is a sandboxed page or a form post whose page hid its origin: not ours
            return origin.lower() in self.address.origins
        referer = request.headers.get(hdrs.REFERER)
        if referer is not None:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}".lower() in self.address.origins
        # Browsers send Origin on every cross-site POST: without Origin or Referer this
        # is a client that is no browser (the benchmarks, curl), which no page can drive.
        return True

    def _from_our_pages(self, handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            if not self._same_site(request):
                return web.Response(
                    status=403, text="Forbidden: a request from another site's page.\n"
                )
            return await handler(request)

        return checked

    # -- pages -------------------------------------------------------------------------------

    async def _in_thread(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(func, *args)
        )

    def _page(
        self, name: str, *, widget: bool = False, frames: bool = False, **context: Any
    ) -> web.Response:
        html_text = self.env.get_template(f"{name}.en.html.j2").render(
            **self.page_context, **context
        )
        elements, attributes = self.widget_styles if widget else ((), ())
        policy = content_security_policy(
            self.address,
            style_hashes=[*self.page_styles, *elements],
            style_attr_hashes=attributes,
            frames=frames,
        )
        return _html(html_text, policy)

    async def demo_page(self, request: web.Request) -> web.Response:
        language = request.query.get("lang", "en")
        if not language.replace("-", "").isalnum() or len(language) > 12:
            language = "en"
        return self._page("chat_demo", widget=True, lang=language)

    async def agent_page(self, request: web.Request) -> web.Response:
        return self._page("agent")

    async def agent_script(self, request: web.Request) -> web.Response:
        path = self.widget_dir / "agent.js"
        return web.Response(
            text=path.read_text(encoding="utf-8"),
            content_type="application/javascript",
            headers={"X-Content-Type-Options": "nosniff"},
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
        remote = {m.id: block_remote_images(m.html)[1] for m in bundle.messages if m.html}
        return self._page(
            "ticket",
            frames=True,
            ticket=bundle.ticket,
            messages=bundle.messages,
            remote_images=remote,
            load_remote=_chose_remote_images(request),
            load_remote_flag=LOAD_REMOTE_IMAGES,
            events=bundle.events,
            customer=customer,
        )

    async def message_html(self, request: web.Request) -> web.Response:
        try:
            bundle = await self._in_thread(self.tickets.bundle, request.match_info["ticket_id"])
        except NotFoundError:
            raise web.HTTPNotFound(text="No such ticket") from None
        wanted = request.match_info["message_id"]
        message = next((m for m in bundle.messages if m.id == wanted and m.html), None)
        if message is None or message.html is None:
            raise web.HTTPNotFound(text="No such message with HTML")
        load_remote = _chose_remote_images(request)
        shown = message.html if load_remote else block_remote_images(message.html)[0]
        return _html(shown, mail_policy(remote_images=load_remote))

    async def outbox_page(self, request: web.Request) -> web.Response:
        return self._page("outbox", outbox=await self._in_thread(self.outbox.entries))

    async def quarantine_page(self, request: web.Request) -> web.Response:
        return self._page("quarantine", records=await self._in_thread(self.quarantine))

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def outbox_api(self, request: web.Request) -> web.Response:
        return web.json_response(await self._in_thread(self.outbox.entries))


def _chose_remote_images(request: web.Request) -> bool:
    """The agent's own click on a ticket page (or an address they typed): a link from
    another site, or from inside a mail, cannot choose for them."""
    fetched_from = request.headers.get("Sec-Fetch-Site", "same-origin")
    return request.query.get(LOAD_REMOTE_IMAGES) == "1" and fetched_from in ("same-origin", "none")


def _html(text: str, policy: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
