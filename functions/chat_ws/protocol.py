"""The chat protocol's frames: decoding client actions, encoding server events.

docs/chat-protocol.md is the specification. Decoding is strict and total: any input
either becomes an `Action` whose fields have the right types and sizes, or raises
`RejectedInput` with a protocol error code (`bad_json`, `unknown_action`,
`missing_field`, `bad_field`, `too_large`), which the service answers with an `error`
event. Nothing else can escape, whatever the frame holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from functions.core.errors import RejectedInput

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit
MAX_FRAME_BYTES = 32 * 1024  # and its frame limit, for what we send
CUSTOMER_ACTIONS = frozenset(
    {"hello", "message", "typing", "read", "agent", "contact", "transcript", "rate", "close"}
)
AGENT_ACTIONS = frozenset(
    {"status", "accept", "message", "note", "typing", "read", "transfer", "close"}
)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SESSION_ID = re.compile(r"^[A-Za-z0-9]{6,40}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[^@\s<>\"'.]{2,63}$")


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    client_id: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


def _reject(code: str, reason: str, action: str | None = None) -> RejectedInput:
    error = RejectedInput(code, reason)
    error.action = action  # type: ignore[attr-defined]
    return error


def _text(
    data: Mapping[str, Any], key: str, action: str, *, limit: int, required: bool
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _reject("missing_field", f"`{key}` is required", action)
        return None
    if not isinstance(value, str):
        raise _reject("bad_field", f"`{key}` must be text", action)
    if len(value) > limit:
        raise _reject("too_large", f"`{key}` is longer than {limit} characters", action)
    return value


def _session(data: Mapping[str, Any], action: str, *, required: bool) -> str | None:
    value = _text(data, "session_id", action, limit=40, required=required)
    if value is not None and not _SESSION_ID.match(value):
        raise _reject("bad_field", "`session_id` is not a session id", action)
    return value


def valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value.strip()))


def _email(data: Mapping[str, Any], action: str, *, required: bool) -> str | None:
    value = _text(data, "email", action, limit=254, required=required)
    if value is None or (value.strip() == "" and not required):
        return None
    if not valid_email(value):
        raise _reject("bad_email", "that does not look like an email address", action)
    return value.strip().lower()


def decode(body: Any, *, role: str, max_chars: int) -> Action:
    """One client frame as an Action, checked for the sender's role."""
    if not isinstance(body, str | bytes):
        raise _reject("bad_json", "send one JSON object per frame")
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw) > MAX_MESSAGE_BYTES:
        raise _reject("too_large", "a message is at most 128 KB")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _reject("bad_json", "the frame is not JSON") from None
    if not isinstance(data, dict):
        raise _reject("bad_json", "send one JSON object per frame")
    candidate = data.get("client_id")
    try:
        return _decode_object(data, role, max_chars)
    except RejectedInput as exc:
        # so the widget knows which of its messages was refused
        if isinstance(candidate, str) and _CLIENT_ID.match(candidate):
            exc.client_id = candidate  # type: ignore[attr-defined]
        raise


def _decode_object(data: Mapping[str, Any], role: str, max_chars: int) -> Action:
    name = data.get("action")
    if not isinstance(name, str) or not name:
        raise _reject("missing_field", "every frame needs an `action`")
    allowed = CUSTOMER_ACTIONS if role == "customer" else AGENT_ACTIONS
    if name not in allowed:
        other = AGENT_ACTIONS if role == "customer" else CUSTOMER_ACTIONS
        if name in other:
            raise _reject("forbidden", f"`{name}` is not allowed for a {role}", name[:40])
        raise _reject("unknown_action", f"unknown action {name[:40]!r}", name[:40])
    client_id = data.get("client_id")
    if client_id is not None and (
        not isinstance(client_id, str) or not _CLIENT_ID.match(client_id)
    ):
        raise _reject("bad_field", "`client_id` is 1-64 letters, digits, - _ . :", name)
    fields = _fields(name, role, data, max_chars)
    if role == "customer" and "session_id" in data:
        fields["session_id"] = _session(data, name, required=False)
    return Action(name, fields, client_id)


def _fields(name: str, role: str, data: Mapping[str, Any], max_chars: int) -> dict[str, Any]:
    agent = role == "agent"
    out: dict[str, Any] = {}
    if agent and name in ("accept", "message", "note", "typing", "read", "transfer", "close"):
        out["session_id"] = _session(data, name, required=True)
    if name in ("message", "note"):
        text = _text(data, "text", name, limit=max_chars, required=True) or ""
        if not text.strip():
            raise _reject("missing_field", "`text` is empty", name)
        out["text"] = text
    elif name == "hello":
        out["locale"] = _text(data, "locale", name, limit=35, required=False)
        out["last_seen"] = _text(data, "last_seen", name, limit=120, required=False)
        out["name"] = _text(data, "name", name, limit=120, required=False)
        out["email"] = _email(data, name, required=False)
        page = data.get("page")
        if page is not None and not isinstance(page, dict):
            raise _reject("bad_field", "`page` must be an object", name)
        out["page"] = {
            key: _text(page, key, name, limit=2000, required=False)
            for key in ("url", "title", "referrer")
            if page and page.get(key) is not None
        }
    elif name == "typing":
        value = data.get("typing", True)
        if not isinstance(value, bool):
            raise _reject("bad_field", "`typing` is true or false", name)
        out["typing"] = value
    elif name == "read":
        out["message_id"] = _text(data, "message_id", name, limit=64, required=True)
    elif name in ("contact", "transcript"):
        out["email"] = _email(data, name, required=True)
        out["name"] = _text(data, "name", name, limit=120, required=False)
    elif name == "rate":
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise _reject("bad_score", "`score` is a whole number from 1 to 5", name)
        out["score"] = score
        out["comment"] = _text(data, "comment", name, limit=5000, required=False)
    elif name == "status":
        status = data.get("status")
        if status not in ("online", "away"):
            raise _reject("bad_field", "`status` is online or away", name)
        out["status"] = status
        languages = data.get("languages")
        if languages is not None:
            if not isinstance(languages, list) or not all(
                isinstance(code, str) and 0 < len(code) <= 10 for code in languages
            ):
                raise _reject("bad_field", "`languages` is a list of language codes", name)
            out["languages"] = [code.lower() for code in languages[:20]]
        max_chats = data.get("max_chats")
        if max_chats is not None:
            if isinstance(max_chats, bool) or not isinstance(max_chats, int) or max_chats < 0:
                raise _reject("bad_field", "`max_chats` is a whole number", name)
            out["max_chats"] = max_chats
    elif name == "transfer":
        team = _text(data, "team", name, limit=40, required=False)
        to_agent = _text(data, "agent", name, limit=254, required=False)
        if (team is None) == (to_agent is None):
            raise _reject("missing_field", "transfer to either a `team` or an `agent`", name)
        out["team"] = team
        out["agent"] = to_agent.strip().lower() if to_agent else None
    return out


def event(kind: str, **fields: Any) -> str:
    """A server frame."""
    return json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"))


def error_event(exc: RejectedInput, *, client_id: str | None = None) -> str:
    fields: dict[str, Any] = {"code": exc.code, "reason": exc.reason}
    action = getattr(exc, "action", None)
    if action:
        fields["action"] = action
    client_id = client_id or getattr(exc, "client_id", None)
    if client_id:
        fields["client_id"] = client_id
    return event("error", **fields)
