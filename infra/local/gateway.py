"""API Gateway REST APIs on the local stack's public port, from the packaged templates.

Each function stack's `AWS::ApiGateway::RestApi` carries its Swagger body (Chalice
writes it); this serves its paths as API Gateway does, at the root of the port (as a
custom domain with base path mappings would): a request is matched to a resource
(`/survey/{token}`), turned into the Lambda proxy integration's event (version 1.0:
resource, path, httpMethod, headers and multiValueHeaders, query strings, path
parameters, requestContext, a body that is base64 when its type is one of the API's
binary media types) and the function named by the integration URI is invoked; its
answer becomes the HTTP response. A function error or a malformed answer is API
Gateway's 502, a timeout its 504; a mock integration (Chalice's CORS preflight) is
answered from the Swagger's own response parameters.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from infra.local.deployment import RestApi
from infra.local.lambdas import Invocation

log = logging.getLogger("helpline.dev.gateway")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0
_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")

Invoke = Callable[[str, dict[str, Any]], Invocation]


@dataclass(frozen=True)
class Operation:
    api: RestApi
    resource: str  # the Swagger path: /survey/{token}
    method: str  # GET
    integration: dict[str, Any]

    @property
    def function(self) -> str | None:
        uri = str(self.integration.get("uri") or "")
        found = re.search(r":function:([^/:]+)", uri)
        return found.group(1) if found else None


class RestGateway:
    def __init__(self, apis: list[RestApi], invoke: Invoke, *, account: str) -> None:
        self.invoke = invoke
        self.account = account
        self.operations: dict[tuple[str, str], Operation] = {}
        self.binary_types: dict[str, list[str]] = {}
        for api in apis:
            self.binary_types[api.api_id] = list(
                api.swagger.get("x-amazon-apigateway-binary-media-types") or []
            )
            for path, verbs in (api.swagger.get("paths") or {}).items():
                for verb, body in verbs.items():
                    methods = (
                        [m.upper() for m in _METHODS if m != "options"]
                        if verb == "x-amazon-apigateway-any-method"
                        else [verb.upper()]
                    )
                    for method in methods:
                        key = (path, method)
                        if key in self.operations:
                            raise ValueError(f"two REST APIs define {method} {path}")
                        integration = body.get("x-amazon-apigateway-integration") or {}
                        self.operations[key] = Operation(api, path, method, integration)

    def routes(self) -> list[web.RouteDef]:
        paths = sorted({path for path, _ in self.operations})
        return [web.route("*", _aiohttp_path(path), self._handler(path)) for path in paths]

    def _handler(self, path: str) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.handle(path, request)

        return handle

    async def handle(self, path: str, request: web.Request) -> web.StreamResponse:
        operation = self.operations.get((path, request.method))
        if operation is None:
            # API Gateway's answer for a method the resource does not have
            return _json(403, {"message": "Missing Authentication Token"})
        body = await request.read()
        if len(body) > MAX_BODY_BYTES:
            return _json(413, {"message": "Request Too Long"})
        kind = str(operation.integration.get("type", "")).lower()
        if kind == "mock":
            return _mock(operation.integration)
        function = operation.function
        if kind != "aws_proxy" or function is None:
            return _json(500, {"message": f"the local stack has no {kind} integrations"})
        event = self.event(operation, request, body)
        loop = asyncio.get_running_loop()
        invocation = await loop.run_in_executor(None, self.invoke, function, event)
        return self.response(invocation)

    def event(self, operation: Operation, request: web.Request, body: bytes) -> dict[str, Any]:
        api = operation.api
        now = datetime.now(UTC)
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        query: dict[str, list[str]] = {}
        for name, value in request.query.items():
            query.setdefault(name, []).append(value)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        binary = any(
            fnmatch.fnmatch(content_type, pattern) for pattern in self.binary_types[api.api_id]
        )
        text: str | None
        if not body:
            text = None
        elif binary:
            text = base64.b64encode(body).decode("ascii")
        else:
            # API Gateway hands a non-binary body over as UTF-8 text
            text = body.decode("utf-8", "replace")
        request_id = str(uuid.uuid4())
        return {
            "resource": operation.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": dict(request.match_info) or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, operation.resource).hex[:6],
                "resourcePath": operation.resource,
                "httpMethod": request.method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{api.stage}{request.path}",
                "accountId": self.account,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "stage": api.stage,
                "domainPrefix": api.api_id,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "sourceIp": request.remote or "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent"),
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                },
                "domainName": request.host,
                "apiId": api.api_id,
            },
            "body": text,
            "isBase64Encoded": binary and bool(body),
        }

    def response(self, invocation: Invocation) -> web.StreamResponse:
        extra = {"x-amzn-RequestId": invocation.request_id}
        if not invocation.ok:
            error = invocation.error or {}
            if error.get("errorType") == "Sandbox.Timedout":
                return _json(504, {"message": "Endpoint request timed out"}, extra)
            if error.get("errorType") == "TooManyRequestsException":
                return _json(429, {"message": "Too Many Requests"}, extra)
            log.error("%s failed: %s", invocation.function, invocation.error_text())
            return _json(502, {"message": "Internal server error"}, extra)
        result = invocation.result
        if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
            log.error("%s answered API Gateway with a malformed response", invocation.function)
            return _json(502, {"message": "Internal server error"}, extra)
        raw = result.get("body")
        if raw is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(raw)
        else:
            data = str(raw).encode("utf-8")
        response = web.Response(status=int(result.get("statusCode", 200)), body=data)
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(key, str(value))
        response.headers.update(extra)
        return response


def _aiohttp_path(path: str) -> str:
    return re.sub(r"\{(\w+)\+\}", r"{\1:.*}", path)


def _mock(integration: dict[str, Any]) -> web.Response:
    answer = (integration.get("responses") or {}).get("default") or {}
    response = web.Response(status=int(answer.get("statusCode", 200)))
    for key, value in (answer.get("responseParameters") or {}).items():
        if key.startswith("method.response.header."):
            response.headers[key.removeprefix("method.response.header.")] = str(value).strip("'")
    return response


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )
