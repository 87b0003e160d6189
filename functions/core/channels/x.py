"""X (Twitter): Account Activity webhook events in, API v2 direct messages out.

Inbound: `{"for_user_id": <our account>, "<kind>_events": [...], "users": {...}}`.
Only direct messages are read; every other kind (typing indicators, follows, likes,
tweets) is ignored, one count per event.

| event | kind | external_id | target_external_id |
|---|---|---|---|
| `direct_message_events[]` from the customer | MESSAGE | the DM event id | |
| `direct_message_events[]` sent by our account | ECHO | `echo:<event id>` | the event id |
| `direct_message_mark_read_events[]` (customer) | STATUS | `status:read:<last read id>` | that id |

X shortens every link to t.co; the text keeps the customer's words with links
expanded, and the link X adds for attached media is removed (the media is an
attachment). The Account Activity API ends on 2027-01-01: this module is the only
place that knows its shape.

Outbound: `POST {base}/2/dm_conversations/with/{participant_id}/messages` with a
user-context bearer token. The v2 API has no quick replies, so `send_choices` sends a
numbered list and `choice_from_reply` reads the customer's answer ("2", "2.", or the
choice's title).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from functions.core.channels.delivery import (
    Delivery,
    DeliveryBuilder,
    EntryError,
    IgnoredEvent,
    bad_payload,
    body_mapping,
    checked_choices,
    conversation_key,
    field,
    filename_from_url,
    ident,
    items,
    mapping,
    moment,
    outgoing_text,
    pairs,
    recipient_of,
    refuse,
    text,
)
from functions.core.channels.http import JsonHttp
from functions.core.models import (
    Attachment,
    Channel,
    Identity,
    InboundMessage,
    Message,
    MessageKind,
)

PLATFORM = "X"
DIRECT_MESSAGES = "direct_message_events"
MARK_READ = "direct_message_mark_read_events"
_USER_ID = re.compile(r"^\d{1,20}$")
_CHOICE_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def normalize(
    raw: Mapping[str, Any], *, received_at: datetime, raw_ref: str | None = None, account: str = ""
) -> Delivery:
    body = body_mapping(raw, PLATFORM)
    kinds = [key for key in body if isinstance(key, str) and key.endswith("_events")]
    ours = ident(body.get("for_user_id")) or ident(account)
    if not kinds:
        raise bad_payload("an X delivery carries at least one '*_events' list")
    if ours is None:
        raise bad_payload("an X delivery names our account in 'for_user_id'")
    context = _Account(ours, mapping(body.get("users")) or {}, received_at, raw_ref)
    builder = DeliveryBuilder()
    for kind in kinds:
        events = body[kind]
        if not isinstance(events, list):
            builder.reject(kind, "not_a_list", f"'{kind}' must be a list of events")
            continue
        for i, event in enumerate(events):
            if kind == DIRECT_MESSAGES:
                builder.read(f"{kind}[{i}]", _read_dm, context, event)
            elif kind == MARK_READ:
                builder.read(f"{kind}[{i}]", _read_mark_read, context, event)
            else:
                builder.ignore(f"x:{kind[:40]}")
    return builder.build()


class _Account:
    """What every event of one delivery shares: our account, the users map, the time."""

    def __init__(
        self, ours: str, users: Mapping[str, Any], received_at: datetime, raw_ref: str | None
    ) -> None:
        self.ours = ours
        self.users = users
        self.received_at = received_at
        self.raw_ref = raw_ref

    def message(self, customer: str, timestamp: Any, **fields: Any) -> InboundMessage:
        profile = mapping(self.users.get(customer)) or {}
        screen_name = text(profile.get("screen_name"))
        return InboundMessage(
            channel=Channel.X,
            received_at=moment(timestamp, unit="ms", fallback=self.received_at),
            sender=Identity("x", customer),
            sender_name=(text(profile.get("name")) or "")[:200],
            account=self.ours,
            conversation_key=conversation_key(Channel.X, self.ours, customer),
            raw_ref=self.raw_ref,
            **{**fields, "extra": (*fields.get("extra", ()), *pairs(("screen_name", screen_name)))},
        )


def _media(data: Mapping[str, Any]) -> tuple[Attachment | None, str | None]:
    """The attached media, and the t.co link X put in the text for it."""
    media = mapping(field(data, "attachment", "media"))
    if media is None:
        return None, None
    kind = text(media.get("type")) or "photo"
    url = text(media.get("media_url_https")) or text(media.get("media_url"))
    content_type = "image/jpeg"
    if kind in ("video", "animated_gif"):
        variants = [
            v for v in items(field(media, "video_info", "variants")) if text(field(v, "url"))
        ]
        mp4 = [v for v in variants if field(v, "content_type") == "video/mp4"]
        if mp4:
            best = max(
                mp4,
                key=lambda v: field(v, "bitrate") if isinstance(field(v, "bitrate"), int) else 0,
            )
            url, content_type = text(field(best, "url")), "video/mp4"
    elif url and url.lower().endswith(".png"):
        content_type = "image/png"
    media_id = ident(media.get("id_str")) or ident(media.get("id"))
    attachment = Attachment(
        filename=filename_from_url(url, f"{kind}-{media_id or 'media'}"),
        content_type=content_type,
        size=0,
        sha256="",
        url=url,
        media_id=media_id,
    )
    return attachment, text(media.get("url"))


_URL = re.compile(r"https?://[^\s]{1,2048}")


def _text(data: Mapping[str, Any], media_link: str | None) -> str:
    body = text(data.get("text")) or ""
    replacements: dict[str, str] = {}
    for link in items(field(data, "entities", "urls")):
        short, expanded = text(field(link, "url")), text(field(link, "expanded_url"))
        if not short:
            continue
        if short == media_link:
            replacements[short] = ""
        elif expanded and short not in replacements:
            replacements[short] = expanded
    if media_link and media_link not in replacements:
        replacements[media_link] = ""
    if not replacements:
        return body
    removed = False

    def swap(match: re.Match[str]) -> str:
        # t.co links may be followed by punctuation: try the link without it too
        nonlocal removed
        link = match.group(0)
        for cut in range(min(len(link), 12)):
            candidate = link[: len(link) - cut] if cut else link
            if candidate in replacements:
                removed = removed or replacements[candidate] == ""
                return replacements[candidate] + link[len(candidate) :]
        return link

    # one pass over the customer's text: an expansion is never scanned again, so links
    # that contain their own short form cannot grow the message, and many links do not
    # cost a pass each
    expanded_body = _URL.sub(swap, body)
    return expanded_body.strip() if removed else expanded_body


def _read_dm(context: _Account, event: Any) -> list[InboundMessage]:
    node = mapping(event)
    if node is None:
        raise EntryError("not_an_object", "each direct message event is a JSON object")
    kind = text(node.get("type")) or ""
    if kind != "message_create":
        raise IgnoredEvent(f"x:direct_message.{kind[:40] or '?'}")
    event_id = ident(node.get("id"))
    if event_id is None:
        raise EntryError("missing_id", "the direct message has no id, so it cannot be deduplicated")
    create = mapping(node.get("message_create")) or {}
    sender = ident(create.get("sender_id"))
    recipient = ident(field(create, "target", "recipient_id"))
    if sender is None:
        raise EntryError("missing_sender", "the direct message names no sender_id")
    data = mapping(create.get("message_data")) or {}
    attachment, media_link = _media(data)
    common: dict[str, Any] = {
        "text": _text(data, media_link),
        "attachments": (attachment,) if attachment else (),
    }
    timestamp = node.get("created_timestamp")
    if sender == context.ours:
        if recipient is None:
            raise EntryError("missing_recipient", "our own direct message names no recipient_id")
        app = ident(create.get("source_app_id"))
        return [
            context.message(
                recipient,
                timestamp,
                external_id=f"echo:{event_id}",
                target_external_id=event_id,
                kind=MessageKind.ECHO,
                extra=pairs(("source_app_id", app)),
                **common,
            )
        ]
    payload = text(field(data, "quick_reply_response", "metadata"))
    return [
        context.message(
            sender,
            timestamp,
            external_id=event_id,
            kind=MessageKind.MESSAGE,
            extra=pairs(("quick_reply_payload", payload)),
            **common,
        )
    ]


def _read_mark_read(context: _Account, event: Any) -> list[InboundMessage]:
    node = mapping(event)
    if node is None:
        raise EntryError("not_an_object", "each read event is a JSON object")
    reader = ident(node.get("sender_id"))
    if reader is None:
        raise EntryError("missing_sender", "the read event names no sender_id")
    if reader == context.ours:
        raise IgnoredEvent("x:direct_message_mark_read.own")  # we read theirs: nothing to record
    last = ident(node.get("last_read_event_id"))
    if last is None:
        raise EntryError("missing_id", "the read event names no last_read_event_id")
    return [
        context.message(
            reader,
            node.get("created_timestamp"),
            external_id=f"status:read:{last}",
            target_external_id=last,
            kind=MessageKind.STATUS,
            extra=(("status", "read"),),
        )
    ]


def choice_from_reply(reply: str, choices: Sequence[tuple[str, str]]) -> str | None:
    """The payload of the choice a customer's answer to `send_choices` names, if any."""
    number = _CHOICE_NUMBER.match(reply)
    if number:
        index = int(number.group(1)) - 1
        return choices[index][0] if 0 <= index < len(choices) else None
    wanted = reply.strip().casefold()
    for payload, title in choices:
        if title.strip().casefold() == wanted:
            return payload
    return None


class XSender:
    """Sends direct messages as our X account (OAuth 2.0 user-context token)."""

    channel = Channel.X
    max_text = 10_000

    def __init__(
        self,
        *,
        base_url: str,
        token: Callable[[], str],
        http: JsonHttp | None = None,
        sleep: Callable[[float], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = http
        self._sleep = sleep
        self.timeout = timeout

    @property
    def http(self) -> JsonHttp:
        if self._http is None:
            self._http = JsonHttp() if self._sleep is None else JsonHttp(sleep=self._sleep)
        return self._http

    def send(self, message: Message) -> str:
        return self._post(message, outgoing_text(message, PLATFORM, self.max_text))

    def send_choices(self, message: Message, choices: Sequence[tuple[str, str]]) -> str:
        found = checked_choices(choices, PLATFORM, most=20)
        # no buttons on X: the customer types the number, so a label that is already a
        # number ("0 out of 10") is listed as it is rather than under a second number
        listing = "\n".join(
            title.strip() if title.strip()[:1].isdecimal() else f"{i}. {title.strip()}"
            for i, (_, title) in enumerate(found, start=1)
        )
        question = outgoing_text(message, PLATFORM, self.max_text - len(listing) - 2)
        return self._post(message, f"{question}\n\n{listing}")

    def _post(self, message: Message, body_text: str) -> str:
        participant = recipient_of(message, PLATFORM)
        if not _USER_ID.match(participant):
            raise refuse(f"{participant!r} is not an X user id")
        token = self._token()
        url = f"{self.base_url}/2/dm_conversations/with/{quote(participant, safe='')}/messages"
        _, answer = self.http.post(
            url,
            {"text": body_text},
            {"Authorization": f"Bearer {token}"},
            self.timeout,
            secrets=(token,),
        )
        event_id = ident(field(answer, "data", "dm_event_id"))
        if event_id is None:
            raise refuse("X accepted the direct message but returned no event id")
        return event_id
