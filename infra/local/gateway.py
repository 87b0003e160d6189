"""REST routes of the Chalice apps, served by the local stack on its one HTTP port.

`chalice.local.LocalGateway` turns an HTTP request into the API Gateway proxy event and
calls the app in-process, so `/chat/session`, `/webhooks/...` and `/survey/...` run
through the real Chalice handlers, exactly as they would behind API Gateway.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Callable
from typing import Any

from aiohttp import web

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class ChaliceRoutes:
    def __init__(self, app: Any, *, name: str) -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway

        self.name = name
        self.gateway = LocalGateway(
            app, Config.create(chalice_app=app, lambda_timeout=30, lambda_memory_size=512)
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        from chalice.local import LocalGatewayException

        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.path_qs
        call: Callable[[], Any] = functools.partial(
            self.gateway.handle_request,
            method=request.method,
            path=path,
            headers=headers,
            body=body,
        )
        try:
            response = await asyncio.get_running_loop().run_in_executor(None, call)
        except LocalGatewayException as exc:
            return web.Response(
                status=exc.CODE, body=exc.body or b"", headers=dict(exc.headers or {})
            )
        return _to_aiohttp(response)


def _to_aiohttp(response: dict[str, Any]) -> web.Response:
    raw = response.get("body")
    if raw is None:
        data = b""
    elif response.get("isBase64Encoded"):
        data = base64.b64decode(raw)
    else:
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    result = web.Response(status=int(response.get("statusCode", 200)), body=data)
    for key, value in (response.get("headers") or {}).items():
        result.headers[key] = str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        for value in values:
            result.headers.add(key, str(value))
    return result
