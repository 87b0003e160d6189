"""What one webhook delivery became, and the careful readers every platform module uses.

A platform posts one body that may hold many events. `normalize` in each platform
module returns a `Delivery`: the events it understood as `InboundMessage`s, the entries
it could not read (`rejected`, each with where and why, so one bad entry never drops
the others), and the event kinds we deliberately do not handle (`ignored`, counted in a
metric and answered 200 so the platform does not retry them forever).

Conventions shared by every platform module:

* `sender` is always the customer's side of the conversation. For an ECHO (a copy of
  something our account sent) and a STATUS (a receipt for our send) it names the
  customer the message went to, so every event of one thread carries the same identity
  and the same `conversation_key`.
* `conversation_key` is `"<channel>:<our account>:<customer id>"`.
* `external_id` is the dedupe key: the platform's id for a customer MESSAGE, otherwise a
  stable id of the event itself (`"reaction:..."`, `"edit:..."`, `"status:..."`), with
  `target_external_id` naming the message the event is about.

Payloads are untrusted: the readers below never raise on a wrong type, they return
None, and the platform modules turn a missing essential field into a `RejectedEntry`.

The outbound checks at the end are what every sender refuses before any HTTP call
(no recipient, no text, text over the platform's limit, attachments, bad choices), as
a permanent `DeliveryError` with a reason the agent can act on.
"""

from __future__ import annotations

import logging
import math
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec
from urllib.parse import urlsplit

from functions.core.errors import DeliveryError, RejectedInput
from functions.core.models import Channel, InboundMessage, Message
from functions.core.text import replace_lone_surrogates

log = logging.getLogger("helpline.channels.delivery")

MAX_ID_CHARS = 256  # longer "ids" are not ids; they would also bloat the dedupe keys
# a Meta timestamp below this many milliseconds is 1973: Meta's dashboard test events
# send seconds where real deliveries send milliseconds
_SMALLEST_PLAUSIBLE_MS = 10**11


@dataclass(frozen=True, slots=True)
class RejectedEntry:
    index: str  # where in the delivery, e.g. "entry[0].messaging[2]"
    code: str  # short machine code
    reason: str  # sentence a person can act on


@dataclass(frozen=True, slots=True)
class Delivery:
    messages: tuple[InboundMessage, ...]
    rejected: tuple[RejectedEntry, ...] = ()
    ignored: tuple[str, ...] = ()  # event kinds we do not handle, for a metric


class EntryError(Exception):
    """One entry of a delivery cannot be read; becomes a `RejectedEntry`."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class IgnoredEvent(Exception):
    """An event of a kind we do not handle; counted, answered 200, not stored."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


P = ParamSpec("P")


class DeliveryBuilder:
    """Collects the messages, rejected entries and ignored kinds of one delivery."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.rejected: list[RejectedEntry] = []
        self.ignored: list[str] = []

    def read(
        self,
        index: str,
        reader: Callable[P, list[InboundMessage]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Run one entry's reader: an `EntryError` rejects that entry only, an
        `IgnoredEvent` counts its kind."""
        try:
            found = reader(*args, **kwargs)
        except EntryError as exc:
            self.reject(index, exc.code, exc.reason)
            return
        except IgnoredEvent as exc:
            self.ignore(exc.kind)
            return
        self.messages.extend(found)

    def reject(self, index: str, code: str, reason: str) -> None:
        self.rejected.append(RejectedEntry(index, code, reason))

    def ignore(self, kind: str) -> None:
        self.ignored.append(kind[:100])

    def build(self) -> Delivery:
        return Delivery(tuple(self.messages), tuple(self.rejected), tuple(self.ignored))


def bad_payload(reason: str) -> RejectedInput:
    return RejectedInput("bad_payload", reason, status=400)


def body_mapping(raw: Any, platform: str) -> Mapping[str, Any]:
    """The delivery as a mapping, with every lone surrogate (an unpaired `\\ud83d` that
    UTF-8 cannot encode, and DynamoDB refuses) replaced by U+FFFD: one broken character
    must not lose a person's message. The delivery as it came is kept in S3."""
    if not isinstance(raw, Mapping):
        raise bad_payload(f"a {platform} delivery is a JSON object, not {_kind(raw)}")
    body: Mapping[str, Any]
    body, replaced = replace_lone_surrogates(raw)
    if replaced:
        log.info("replaced %d lone surrogates in a %s delivery with U+FFFD", replaced, platform)
    return body


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


# -- readers: each returns None (or an empty value) when the type is wrong -------------


def mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def field(node: Any, *path: str) -> Any:
    """node[path[0]][path[1]]..., or None as soon as a step is not a mapping."""
    current = node
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def text(value: Any) -> str | None:
    """A string as given (no stripping: customer text is kept as written)."""
    return value if isinstance(value, str) else None


def ident(value: Any) -> str | None:
    """A platform id: a non-empty string or an integer, as a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        found = str(value)
    elif isinstance(value, str):
        found = value.strip()
    else:
        return None
    if not found or len(found) > MAX_ID_CHARS or not found.isprintable():
        return None
    return found


def flag(value: Any) -> bool:
    return value is True or value == "true"


def number(value: Any) -> float | None:
    """An int, float or numeric string as a finite float; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()) if value.strip() else None
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def moment(value: Any, *, unit: str, fallback: datetime) -> datetime:
    """A platform timestamp (`unit` "ms" or "s") as aware UTC, or `fallback`."""
    seconds = number(value)
    if seconds is None or seconds <= 0:
        return fallback
    if unit == "ms" and seconds >= _SMALLEST_PLAUSIBLE_MS:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return fallback


def stamp(value: Any) -> str:
    """A timestamp as it was sent, for event ids (digits only, or empty)."""
    found = number(value)
    return str(int(found)) if found is not None and 0 <= found < 10**16 else ""


def conversation_key(channel: Channel, account: str, customer: str) -> str:
    return f"{channel.value}:{account}:{customer}"


def filename_from_url(url: str | None, fallback: str) -> str:
    """The last path segment of a media URL when it looks like a file name."""
    if url:
        try:
            name = posixpath.basename(urlsplit(url).path)
        except ValueError:
            name = ""
        if name and "." in name.strip(".") and len(name) <= 120 and name.isprintable():
            return name
    return fallback


def pairs(*candidates: tuple[str, str | None]) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs whose value is present, values capped for the item."""
    return tuple((name, value[:1000]) for name, value in candidates if value)


# -- outbound: the checks every sender makes before calling its platform ---------------


def refuse(reason: str) -> DeliveryError:
    """A send that can never succeed as it is: recorded on the message, not retried."""
    return DeliveryError(reason, permanent=True)


def recipient_of(message: Message, platform: str) -> str:
    recipient = ident(message.recipients[0]) if message.recipients else None
    if recipient is None:
        raise refuse(f"the {platform} reply names no recipient")
    return recipient


def outgoing_text(message: Message, platform: str, limit: int) -> str:
    if message.attachments:
        raise refuse(
            f"Helpline does not send attachments on {platform}; remove the attachment "
            "or share it as a link"
        )
    body = message.text or ""
    if not body.strip():
        raise refuse(f"the {platform} reply has no text")
    if len(body) > limit:
        raise refuse(
            f"the reply is {len(body)} characters long; {platform} accepts at most {limit}"
        )
    return body


def checked_choices(
    choices: Sequence[tuple[str, str]], platform: str, *, most: int
) -> list[tuple[str, str]]:
    """(payload, title) pairs, at least one and at most `most`, none empty."""
    found = list(choices)
    if not found:
        raise refuse(f"a {platform} question needs at least one choice")
    if len(found) > most:
        raise refuse(f"{platform} shows at most {most} choices; this question has {len(found)}")
    for payload, title in found:
        if not payload or not title or not title.strip():
            raise refuse(f"every {platform} choice needs a payload and a title")
    return found


def shorten(title: str, limit: int) -> str:
    """A button title cut to the platform's limit (the payload carries the meaning)."""
    title = title.strip()
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"
