"""WebSocket chat on the local stack, shaped like API Gateway's WebSocket API.

This bridge does what API Gateway does with the chat stack's WebSocket API: each
connection, frame and close becomes the `$connect`, `$default` or `$disconnect` event
(same requestContext fields) and invokes the function the API's route names (the
packaged chat_ws, in its own processes); a non-200 from `$connect` refuses the
handshake. It also answers the Management API (`POST/GET/DELETE
/{api}/{stage}/@connections/{id}`) on the stack's internal port, where the functions'
HELPLINE_CHAT_MANAGEMENT_URL points, so their pushes reach real sockets, and a push to
a closed connection gets API Gateway's 410 GoneException.

Unlike API Gateway, it refuses a handshake whose Origin is neither the stack's own pages
nor a site of `chat.allowed_origins` before `$connect` runs: a page of another site in
the developer's browser must not talk to the local chat. (Deployed, API Gateway passes
the Origin header to `$connect`, where the function can refuse it.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, hdrs, web

from infra.local.deployment import WebSocketApi
from infra.local.lambdas import Invocation

log = logging.getLogger("helpline.dev.chat")
# API Gateway accepts messages up to 128 KB; a little more here, so an oversized
# message reaches the handler and is refused with an error event, like the real thing
MAX_MESSAGE_BYTES = 256 * 1024

Invoke = Callable[[str, dict[str, Any]], Invocation]


def new_connection_id() -> str:
    """API Gateway's ids are 12 random bytes in base64, like 'L0SM9cOFvHcCIhw='."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii").replace("/", "_")


class ChatBridge:
    def __init__(
        self,
        *,
        api: WebSocketApi,
        invoke: Invoke,
        host: str,
        allowed_origins: Iterable[str],
        workers: int = 8,
    ) -> None:
        self.api = api
        self.allowed_origins = frozenset(o.lower() for o in allowed_origins)
        self.invoke = invoke
        self.host = host
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.connected_at: dict[str, float] = {}
        self.source: dict[str, tuple[str, str]] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chat_ws")

    def routes(self) -> list[web.RouteDef]:
        """The public side: where browsers connect."""
        return [web.get("/chat", self.websocket)]

    def management_routes(self) -> list[web.RouteDef]:
        """The Management API, for the internal port only: the functions push through it."""
        prefix = f"/{self.api.api_id}/{self.api.stage}/@connections/{{connection_id}}"
        return [
            web.post(prefix, self.post_to_connection),
            web.get(prefix, self.get_connection),
            web.delete(prefix, self.delete_connection),
        ]

    def _event(
        self,
        route: str,
        kind: str,
        connection_id: str,
        *,
        body: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        source_ip, user_agent = self.source.get(connection_id, ("127.0.0.1", ""))
        event: dict[str, Any] = {
            "requestContext": {
                "routeKey": route,
                "eventType": kind,
                "extendedRequestId": uuid.uuid4().hex,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "messageDirection": "IN",
                "stage": self.api.stage,
                "connectedAt": int(self.connected_at.get(connection_id, time.time()) * 1000),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": {"sourceIp": source_ip, "userAgent": user_agent},
                "requestId": uuid.uuid4().hex,
                "domainName": self.host,
                "connectionId": connection_id,
                "apiId": self.api.api_id,
            },
            "isBase64Encoded": False,
        }
        if route == "$default":
            event["requestContext"]["messageId"] = base64.b64encode(
                secrets.token_bytes(10)
            ).decode()
            event["body"] = body
        if query is not None:
            event["queryStringParameters"] = query or None
            event["headers"] = headers or {}
        return event

    async def _invoke(self, route: str, event: dict[str, Any]) -> dict[str, Any]:
        function = self.api.routes.get(route) or self.api.routes.get("$default")
        if function is None:
            return {"statusCode": 200}  # no integration for the route: API Gateway drops it
        loop = asyncio.get_running_loop()
        invocation = await loop.run_in_executor(self._pool, self.invoke, function, event)
        if not invocation.ok:
            # API Gateway answers an internal error; the function's log says why
            log.error("chat %s (%s) failed: %s", route, function, invocation.error_text())
            return {"statusCode": 500}
        result = invocation.result
        return result if isinstance(result, dict) else {"statusCode": 200}

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        # Browsers always send Origin on a WebSocket handshake, so a page can never omit
        # it; a handshake without one is a client that is no browser (the end-to-end tests,
        # the benchmarks, a native app), which still needs its token to get anywhere.
        if origin is not None and origin.lower() not in self.allowed_origins:
            log.info("refused a chat WebSocket from origin %.100r", origin)
            return web.json_response({"message": "Forbidden"}, status=403)
        connection_id = new_connection_id()
        self.connected_at[connection_id] = time.time()
        self.source[connection_id] = (
            request.remote or "127.0.0.1",
            request.headers.get("User-Agent", ""),
        )
        result = await self._invoke(
            "$connect",
            self._event(
                "$connect",
                "CONNECT",
                connection_id,
                query=dict(request.query),
                headers={k: v for k, v in request.headers.items()},
            ),
        )
        status = int(result.get("statusCode", 200))
        if status != 200:
            self.connected_at.pop(connection_id, None)
            return web.json_response(
                {"message": "Forbidden" if status == 403 else "Unauthorized"}, status=status
            )
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=None)
        await socket.prepare(request)
        self.sockets[connection_id] = socket
        try:
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    body = frame.data
                elif frame.type == WSMsgType.BINARY:
                    body = frame.data.decode("utf-8", "replace")
                else:
                    break
                # one frame at a time per connection, in order, as API Gateway delivers them
                await self._invoke(
                    "$default", self._event("$default", "MESSAGE", connection_id, body=body)
                )
        finally:
            self.sockets.pop(connection_id, None)
            await self._invoke(
                "$disconnect", self._event("$disconnect", "DISCONNECT", connection_id)
            )
            self.connected_at.pop(connection_id, None)
            self.source.pop(connection_id, None)
        return socket

    @staticmethod
    def _gone() -> web.Response:
        return web.Response(
            status=410,
            text=json.dumps({"message": "Gone"}),
            content_type="application/json",
            headers={"x-amzn-ErrorType": "GoneException"},
        )

    async def post_to_connection(self, request: web.Request) -> web.Response:
        socket = self.sockets.get(request.match_info["connection_id"])
        if socket is None or socket.closed:
            return self._gone()
        data = await request.read()
        if len(data) > 128 * 1024:
            return web.Response(
                status=413,
                text=json.dumps({"message": "Payload too large"}),
                content_type="application/json",
                headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
            )
        try:
            await socket.send_str(data.decode("utf-8"))
        except (ConnectionResetError, RuntimeError):
            return self._gone()
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        if connection_id not in self.sockets:
            return self._gone()
        source_ip, user_agent = self.source.get(connection_id, ("127.0.0.1", ""))
        connected = datetime.fromtimestamp(self.connected_at.get(connection_id, time.time()), UTC)
        return web.json_response(
            {
                "ConnectedAt": connected.isoformat(),
                "LastActiveAt": datetime.now(UTC).isoformat(),
                "Identity": {"SourceIp": source_ip, "UserAgent": user_agent},
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        socket = self.sockets.get(request.match_info["connection_id"])
        if socket is None:
            return self._gone()
        await socket.close()
        return web.Response(status=204)

    async def close_all(self) -> None:
        for socket in list(self.sockets.values()):
            await socket.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
