"""The composition root of chat_ws: built on the first event, once per container."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from functions.chat_ws.service import ChatService
from functions.core import telemetry, wiring
from functions.core.errors import RejectedInput
from functions.core.models import Channel
from functions.core.text import lone_surrogate_path

SERVICE_NAME = "chat_ws"
WIDGET = Path(__file__).resolve().parent / "widget" / "helpline-chat.js"
_lock = threading.Lock()
_service: ChatService | None = None


def build(components: wiring.Components, *, ws_url: str | None = None) -> ChatService:
    config = components.config
    settings = config.chat
    if settings.session_secret is None or settings.agent_secret is None:
        raise wiring.MissingSettingError(
            "chat is not configured: set chat.session_secret and chat.agent_secret"
        )
    refs = {"session": settings.session_secret, "agent": settings.agent_secret}
    service = ChatService(
        config=config,
        intake=components.intake,
        tickets=components.tickets,
        store=components.store,
        chats=components.chats,
        pusher=components.pusher,
        secret=lambda purpose: components.secrets.get_bytes(refs[purpose]),
        renderer=components.renderer,
        email_sender=components.senders.get(Channel.EMAIL),
        ws_url=ws_url if ws_url is not None else components_ws_url(components),
    )
    components.pusher.on_gone = service.forget_connection
    service.count_metric = functools.partial(telemetry.count, SERVICE_NAME)
    if config.surveys.enabled:
        service.ratings = wiring.survey_answers(components).record_chat_rating
    return service


def components_ws_url(components: wiring.Components) -> str:
    return getattr(components, "ws_url", "") or ""


def service() -> ChatService:
    global _service
    with _lock:
        if _service is None:
            settings = wiring.Settings.from_env()
            _service = build(wiring.build(settings), ws_url=settings.chat_ws_url)
        return _service


def use(service_instance: ChatService | None) -> None:
    """Install a service built elsewhere (the local stack, tests), or forget it."""
    global _service
    with _lock:
        _service = service_instance


def _learn_endpoint(event: Any) -> None:
    context = event.to_dict().get("requestContext", {})
    domain, stage = context.get("domainName"), context.get("stage")
    if domain and stage:
        service().pusher.configure(f"https://{domain}/{stage}")


def on_connect(event: Any) -> dict[str, Any]:
    _learn_endpoint(event)
    raw = event.to_dict()
    query = raw.get("queryStringParameters") or {}
    # API Gateway cannot check a handshake's Origin itself but hands it to $connect: a
    # page on another site must not open chat connections (a browser always sends it)
    headers = {str(k).lower(): v for k, v in (raw.get("headers") or {}).items()}
    try:
        service().check_origin(headers.get("origin"))
    except RejectedInput:
        return {"statusCode": 403}
    status = service().connect(event.connection_id, query)
    return {"statusCode": status}


def on_message(event: Any) -> dict[str, Any]:
    _learn_endpoint(event)
    raw = event.to_dict()
    frame_id = raw.get("requestContext", {}).get("messageId")
    service().handle(event.connection_id, raw.get("body"), frame_id=frame_id)
    return {"statusCode": 200}


def on_disconnect(event: Any) -> dict[str, Any]:
    service().disconnect(event.connection_id)
    return {"statusCode": 200}


def open_session(
    raw_body: bytes | None, *, origin: str | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST /chat/session: the status, the JSON body and the CORS headers."""
    chat = service()
    headers = cors_headers(origin, chat.settings.allowed_origins)
    try:
        chat.check_origin(origin)  # first: a refused site learns nothing about its body
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            return 400, {"code": "bad_json", "reason": "the body is not JSON"}, headers
        if not isinstance(body, dict):
            return 400, {"code": "bad_json", "reason": "send a JSON object"}, headers
        broken = lone_surrogate_path(body)
        if broken is not None:
            return 400, {"code": "bad_field", "reason": f"{broken}: not valid Unicode"}, headers
        return 200, chat.open_session(body, origin=origin), headers
    except RejectedInput as exc:
        return exc.status, {"code": exc.code, "reason": exc.reason}, headers


def cors_headers(origin: str | None, allowed: Sequence[str]) -> dict[str, str]:
    """Name the allowed origin that asked, never `*`. Any other asker (or none) gets the
    first allowed origin, which its browser does not match, so its page cannot read
    the answer; without a value of ours Chalice would add its `*`."""
    named = origin if origin is not None and origin in allowed else allowed[0] if allowed else ""
    return {"Access-Control-Allow-Origin": named, "Vary": "Origin"}


def housekeeping() -> dict[str, int]:
    from functions.core import telemetry

    done = service().housekeeping()
    for name, count in done.items():
        if count:
            telemetry.count(SERVICE_NAME, f"Chat_{name}", count)
    telemetry.flush(SERVICE_NAME)
    return done
