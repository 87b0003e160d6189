"""One customer taken out of a kept platform delivery, for erasure.

A signed delivery is kept as it arrived (`social/raw/<platform>/...`) so it can be
replayed, and one delivery may carry several customers' messages (Meta batches the
events of a page or a number, X those of an account). Erasing one customer must not
delete the others' input: `without(platform, payload, ids)` gives the delivery with
every event of the customer's platform ids removed, or None when nothing else is left
(the file can go). Events are matched by the ids the platforms use for a person: the
sender (and, for echoes and statuses of our own sends, the recipient).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

Payload = dict[str, Any]


def without(platform: str, payload: Any, ids: Collection[str]) -> Payload | None:
    """The delivery without the customer's events; None when none of it remains."""
    remove = _BY_PLATFORM.get(platform)
    if remove is None:
        raise ValueError(f"no erasure rule for {platform} deliveries")
    if not isinstance(payload, dict):
        return None
    return remove(payload, {str(i) for i in ids})


def _id(value: Any) -> str:
    return str((value or {}).get("id", "")) if isinstance(value, dict) else ""


def _meta(payload: Payload, ids: set[str]) -> Payload | None:
    """Messenger and Instagram: entry[].messaging[] by sender or recipient; WhatsApp:
    entry[].changes[].value with messages (from), contacts (wa_id), statuses
    (recipient_id)."""
    entries = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        kept = dict(entry)
        if "messaging" in entry:
            kept["messaging"] = [
                event
                for event in entry.get("messaging") or []
                if not isinstance(event, dict)
                or (_id(event.get("sender")) not in ids and _id(event.get("recipient")) not in ids)
            ]
        if "changes" in entry:
            kept["changes"] = [c for c in (_meta_change(c, ids) for c in entry["changes"]) if c]
        if kept.get("messaging") or kept.get("changes"):
            entries.append(kept)
    if not entries:
        return None
    return {**payload, "entry": entries}


def _meta_change(change: Any, ids: set[str]) -> dict[str, Any] | None:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        return change if isinstance(change, dict) else None
    value = dict(change["value"])
    rules: dict[str, Callable[[dict[str, Any]], bool]] = {
        "messages": lambda m: str(m.get("from", "")) in ids,
        "contacts": lambda c: str(c.get("wa_id", "")) in ids,
        "statuses": lambda s: str(s.get("recipient_id", "")) in ids,
    }
    had_events = False
    for field, belongs in rules.items():
        if field in value:
            had_events = had_events or bool(value[field])
            value[field] = [
                item
                for item in value[field] or []
                if not isinstance(item, dict) or not belongs(item)
            ]
    if had_events and not any(value.get(f) for f in ("messages", "statuses")):
        return None  # only the customer's events were in it (contacts describe them)
    return {**change, "value": value}


def _telegram(payload: Payload, ids: set[str]) -> Payload | None:
    """An update is one event of one person: it goes whole, or stays whole."""
    for key, value in payload.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        people = {_id(value.get("from")), _id(value.get("chat")), _id(value.get("user"))}
        message = value.get("message")
        if isinstance(message, dict):  # a callback query carries the message it was on
            people |= {_id(message.get("chat"))}
        if people & ids:
            return None
    return payload


def _x(payload: Payload, ids: set[str]) -> Payload | None:
    """Account Activity: direct_message_events (sender_id, target.recipient_id), the
    indicate/read events (sender_id), and the users map."""
    kept = dict(payload)
    events_left = False
    for field, value in payload.items():
        if not field.endswith("_events") or not isinstance(value, list):
            continue
        remaining = []
        for event in value:
            if not isinstance(event, dict):
                continue
            create = event.get("message_create") or {}
            people = {
                str(event.get("sender_id", "")),
                str(create.get("sender_id", "")),
                str((create.get("target") or {}).get("recipient_id", "")),
            }
            if not people & ids:
                remaining.append(event)
        kept[field] = remaining
        events_left = events_left or bool(remaining)
    if isinstance(payload.get("users"), dict):
        kept["users"] = {k: v for k, v in payload["users"].items() if str(k) not in ids}
    return kept if events_left else None


_BY_PLATFORM: dict[str, Callable[[Payload, set[str]], Payload | None]] = {
    "meta": _meta,
    "messenger": _meta,
    "instagram": _meta,
    "whatsapp": _meta,
    "telegram": _telegram,
    "x": _x,
}
