"""The chat protocol's frames: decoding client actions, encoding server events.

docs/chat-protocol.md is the specification. Decoding is strict and total: any input
either becomes an `Action` whose fields have the right types and sizes, or raises
`RejectedInput` with a protocol error code (`bad_json`, `unknown_action`,
`missing_field`, `bad_field`, `too_large`), which the service answers with an `error`
event. Nothing else can escape, whatever the frame holds. An accepted Action holds
only text UTF-8 can encode: a frame with a lone surrogate anywhere (an unpaired
`\ud83d`, which would fail later, in the store or in a push) is `bad_field`, and so is
a `message` or `note` that shows nothing (only spaces or zero-width characters).

Encoding keeps every server frame within what one push takes (`MAX_PUSH_BYTES` of
UTF-8 as pushed): `history_frames` pages a history by bytes, `waiting_event` lists
what fits of a queue, and `event` cuts the text of the one message a frame carries in
the rare case that it alone is too long (`fit_message`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.core.channels.chat import MAX_PUSH_BYTES
from functions.core.errors import RejectedInput
from functions.core.text import has_visible_text, lone_surrogate_path

# API Gateway's limit for each WebSocket frame a client sends: it refuses bigger frames
# itself, and so does the handler with `too_large` (the local stack's bridge passes up to
# 256 KB), so a client meets the same limit everywhere. A chat message sent as UTF-8 (as
# JSON.stringify writes it) is far smaller: 4,000 characters are at most 24 KB of JSON.
# What we send is limited by PostToConnection instead: MAX_PUSH_BYTES.
MAX_FRAME_BYTES = 32 * 1024
CUSTOMER_ACTIONS = frozenset(
    {
        "hello",
        "message",
        "typing",
        "read",
        "agent",
        "contact",
        "transcript",
        "verify",
        "rate",
        "close",
    }
)
AGENT_ACTIONS = frozenset(
    {"status", "accept", "message", "note", "typing", "read", "transfer", "close"}
)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SESSION_ID = re.compile(r"^[A-Za-z0-9]{6,40}$")
_CODE = re.compile(r"^[0-9]{6}$")
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
    if len(raw) > MAX_FRAME_BYTES:
        raise _reject("too_large", "a frame is at most 32 KB")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _reject("bad_json", "the frame is not JSON") from None
    if not isinstance(data, dict):
        raise _reject("bad_json", "send one JSON object per frame")
    candidate = data.get("client_id")
    try:
        _check_unicode(data)
        return _decode_object(data, role, max_chars)
    except RejectedInput as exc:
        # so the widget knows which of its messages was refused
        if isinstance(candidate, str) and _CLIENT_ID.match(candidate):
            exc.client_id = candidate  # type: ignore[attr-defined]
        raise


def _check_unicode(data: Mapping[str, Any]) -> None:
    """Refuse a frame holding a lone surrogate before any of it is used or echoed: the
    widget can resend the text, which a push or the store could not encode."""
    where = lone_surrogate_path(data)
    if where is None:
        return
    name = data.get("action")
    known = isinstance(name, str) and (name in CUSTOMER_ACTIONS or name in AGENT_ACTIONS)
    action = name if known else None
    raise _reject(
        "bad_field",
        f"`{where}` is not valid Unicode (half of a surrogate pair); send text as UTF-8",
        action,
    )


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
        if not has_visible_text(text):
            raise _reject(
                "bad_field", "`text` shows nothing: only spaces or invisible characters", name
            )
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
    elif name == "verify":
        code = (_text(data, "code", name, limit=20, required=True) or "").strip()
        if not _CODE.match(code):
            raise _reject("bad_code", "`code` is the 6 digits from the email", name)
        out["code"] = code
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


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _size(value: Any) -> int:
    """Bytes of `value` inside a frame, exactly as pushed: with these separators a frame
    is the concatenation of its parts, so sizes add up."""
    return len(_dumps(value).encode("utf-8"))


def event(kind: str, **fields: Any) -> str:
    """A server frame. If it carries one `message` that alone makes it too long for a
    push (a text added to the ticket outside the chat), that message's text is cut to
    fit, as `fit_message` does."""
    frame = _dumps({"type": kind, **fields})
    message = fields.get("message")
    if isinstance(message, Mapping) and len(frame.encode("utf-8")) > MAX_PUSH_BYTES:
        room = MAX_PUSH_BYTES - (_size({"type": kind, **fields, "message": {}}) - _size({}))
        frame = _dumps({"type": kind, **fields, "message": fit_message(message, room=room)})
    return frame


def fit_message(message: Mapping[str, Any], *, room: int) -> dict[str, Any]:
    """`message` (a `chat_message`) in at most `room` bytes: whole when it fits, else
    the longest start of its text that does, marked `"truncated": true`. The ticket
    keeps the whole text. Only texts far longer than a chat message are ever cut (an
    email or a note on the ticket): 4,000 characters are at most 24 KB of JSON."""
    shown = dict(message)
    if _size(shown) <= room:
        return shown
    text = str(shown.get("text") or "")
    shown.update(text="", truncated=True)
    spare = room - _size(shown)  # for the text's characters, its quotes are counted
    low, high = 0, len(text)
    while low < high:  # the longest prefix whose JSON fits (escapes make it uneven)
        middle = (low + high + 1) // 2
        if _size(text[:middle]) - 2 <= spare:
            low = middle
        else:
            high = middle - 1
    shown["text"] = text[:low]
    return shown


def history_frames(
    messages: Sequence[Mapping[str, Any]], *, limit: int = MAX_PUSH_BYTES, **fields: Any
) -> list[str]:
    """`history` frames carrying `messages` in order, each once, each frame at most
    `limit` bytes as pushed; `more` is true on every frame but the last. Paged by bytes,
    not by count: ten 4,000-character messages are 40 KB in English, 80 KB in Russian,
    120 KB in Chinese and 160 KB in emoji. No messages is one empty frame."""
    # `more` as false, one byte longer than true: the budget never comes up short
    base = _size({"type": "history", "messages": [], "more": False, **fields})
    pages: list[list[Mapping[str, Any]]] = [[]]
    used = base
    for message in messages:
        shown, size = message, _size(message)
        if base + size > limit:  # too long even alone: never dropped, shown cut
            shown = fit_message(message, room=limit - base)
            size = _size(shown)
        comma = 1 if pages[-1] else 0
        if pages[-1] and used + comma + size > limit:
            pages.append([])
            used, comma = base, 0
        pages[-1].append(shown)
        used += comma + size
    last = len(pages) - 1
    return [
        event("history", messages=page, more=index < last, **fields)
        for index, page in enumerate(pages)
    ]


def waiting_event(
    team: str, chats: Sequence[Mapping[str, Any]], *, limit: int = MAX_PUSH_BYTES
) -> str:
    """A team's `waiting` list. Agents replace their list with each frame, so it cannot
    be paged: when the whole queue does not fit in one push, the frame lists the
    longest-waiting chats that do (the ones to take next); `total` counts them all."""
    used = _size({"type": "waiting", "team": team, "chats": [], "total": len(chats)})
    listed: list[Mapping[str, Any]] = []
    for chat in chats:
        size = _size(chat) + (1 if listed else 0)
        if used + size > limit:
            break
        listed.append(chat)
        used += size
    return event("waiting", team=team, chats=listed, total=len(chats))


def error_event(exc: RejectedInput, *, client_id: str | None = None) -> str:
    fields: dict[str, Any] = {"code": exc.code, "reason": exc.reason}
    action = getattr(exc, "action", None)
    if action:
        fields["action"] = action
    client_id = client_id or getattr(exc, "client_id", None)
    if client_id:
        fields["client_id"] = client_id
    return event("error", **fields)
