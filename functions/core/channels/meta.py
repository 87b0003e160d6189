"""Meta's Graph messaging, shared by Messenger and Instagram: deliveries in, sends out.

Inbound: a delivery is `{"object": "page" | "instagram", "entry": [...]}`; each entry
holds `messaging[]` (and `standby[]` when another app has thread control) events.
`normalize_graph` reads one event at a time:

| event field | kind | external_id | target_external_id |
|---|---|---|---|
| `message` | MESSAGE | `mid` | |
| `message` with `is_echo` | ECHO | `echo:<mid>` | `mid` (what our send returned) |
| `message` with `is_deleted` | UNSEND | `unsend:<mid>` | `mid` |
| `message_edit` | EDIT | `edit:<mid>:<num_edit>` | `mid` |
| `reaction` | REACTION | `reaction:<mid>:<psid>:<action>:<timestamp>` | `mid` |
| `delivery` / `read` | STATUS | `status:<delivered or read>:<mid>` (per mid) | `mid` |
| `postback` | MESSAGE | `mid`, else `postback:<psid>:<timestamp>` | |

A receipt with only a `watermark` (every message before it was delivered/read) becomes
one STATUS with no target and the watermark in `extra`. Other event fields (optins,
referrals, handover, policy notices) and `changes[]` (comments, mentions) are ignored.

`normalize_meta` takes any body posted to the shared Meta webhook and hands it to
Messenger, Instagram or WhatsApp by its `object`.

Outbound: `GraphMessagingSender` posts `{base}/{version}/me/messages` with the
account's access token in the Authorization header; `me` is the page (or Instagram
account) the token belongs to, which is why the token is looked up per account.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from functions.core.channels import whatsapp
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
    flag,
    ident,
    items,
    mapping,
    moment,
    outgoing_text,
    pairs,
    recipient_of,
    refuse,
    shorten,
    stamp,
    text,
)
from functions.core.channels.http import JsonHttp, graph_transient
from functions.core.models import (
    Attachment,
    Channel,
    Identity,
    InboundMessage,
    Message,
    MessageKind,
)

OBJECTS = {"page": Channel.MESSENGER, "instagram": Channel.INSTAGRAM}
_IDENTITY_KIND = {Channel.MESSENGER: "psid", Channel.INSTAGRAM: "igsid"}
_PLATFORM = {Channel.MESSENGER: "Messenger", Channel.INSTAGRAM: "Instagram"}
_EVENT_LISTS = ("messaging", "standby")
_ENVELOPE = {"sender", "recipient", "timestamp"}
# attachment types that carry a file, by the type Meta gives; the rest are links to
# platform content (shares, reels, posts, stories), kept as URLs
_MEDIA_TYPES = {
    "image": "image/*",
    "video": "video/*",
    "audio": "audio/*",
    "file": "application/octet-stream",
}
_LINK_TYPE = "text/uri-list"
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")


def normalize_meta(
    raw: Mapping[str, Any], *, received_at: datetime, raw_ref: str | None = None, account: str = ""
) -> Delivery:
    """Any delivery to the Meta webhook, read by the platform its `object` names."""
    body = body_mapping(raw, "Meta")
    kind = body.get("object")
    if kind == whatsapp.OBJECT:
        return whatsapp.normalize(body, received_at=received_at, raw_ref=raw_ref, account=account)
    if isinstance(kind, str) and kind in OBJECTS:
        return normalize_graph(
            body, channel=OBJECTS[kind], received_at=received_at, raw_ref=raw_ref, account=account
        )
    _envelope(body, "Meta")
    return Delivery((), (), (f"meta:object.{str(kind)[:40]}",))


def _envelope(body: Mapping[str, Any], platform: str) -> tuple[str, list[Any]]:
    kind = body.get("object")
    entries = body.get("entry")
    if not isinstance(kind, str) or not isinstance(entries, list):
        raise bad_payload(f"a {platform} delivery needs an 'object' name and an 'entry' list")
    return kind, entries


def normalize_graph(
    raw: Mapping[str, Any],
    *,
    channel: Channel,
    received_at: datetime,
    raw_ref: str | None = None,
    account: str = "",
) -> Delivery:
    platform = _PLATFORM[channel]
    body = body_mapping(raw, platform)
    kind, entries = _envelope(body, platform)
    expected = next(name for name, known in OBJECTS.items() if known is channel)
    if kind != expected:
        return Delivery((), (), (f"{channel.value}:object.{kind[:40]}",))
    builder = DeliveryBuilder()
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        node = mapping(entry)
        if node is None:
            builder.reject(where, "not_an_object", "each entry of a delivery is a JSON object")
            continue
        entry_account = ident(node.get("id")) or account
        seen_any = False
        for list_name in _EVENT_LISTS:
            if list_name not in node:
                continue
            seen_any = True
            events = node[list_name]
            if not isinstance(events, list):
                builder.reject(
                    f"{where}.{list_name}", "not_a_list", f"'{list_name}' must be a list of events"
                )
                continue
            for j, event in enumerate(events):
                builder.read(
                    f"{where}.{list_name}[{j}]",
                    _read_event,
                    channel,
                    event,
                    entry_account=entry_account,
                    standby=list_name == "standby",
                    received_at=received_at,
                    raw_ref=raw_ref,
                )
        if isinstance(node.get("changes"), list):
            seen_any = True
            for change in node["changes"]:
                name = field(change, "field")
                builder.ignore(f"{channel.value}:changes.{name if isinstance(name, str) else '?'}")
        if not seen_any:
            builder.reject(
                where, "empty_entry", "the entry carries no messaging, standby or changes list"
            )
    return builder.build()


class _Event:
    """What every kind of event shares: who, where, when."""

    def __init__(
        self,
        channel: Channel,
        node: Mapping[str, Any],
        *,
        echo: bool,
        entry_account: str,
        received_at: datetime,
        raw_ref: str | None,
    ) -> None:
        sender = ident(field(node, "sender", "id"))
        recipient = ident(field(node, "recipient", "id"))
        customer, ours = (recipient, sender) if echo else (sender, recipient)
        if customer is None:
            if not echo and field(node, "sender", "user_ref") is not None:
                raise EntryError(
                    "no_psid",
                    "the sender has only a user_ref (checkbox plugin), not a page-scoped id "
                    "we could answer",
                )
            side = "recipient" if echo else "sender"
            raise EntryError("missing_sender", f"the event names no {side}.id for the customer")
        account = ours or entry_account
        if not account:
            raise EntryError(
                "missing_account", "the event names neither our page nor our account id"
            )
        self.channel = channel
        self.customer = customer
        self.account = account
        self.timestamp = stamp(node.get("timestamp"))
        self.received_at = moment(node.get("timestamp"), unit="ms", fallback=received_at)
        self.raw_ref = raw_ref

    def message(self, **fields: Any) -> InboundMessage:
        return InboundMessage(
            channel=self.channel,
            received_at=self.received_at,
            sender=Identity(_IDENTITY_KIND[self.channel], self.customer),
            account=self.account,
            conversation_key=conversation_key(self.channel, self.account, self.customer),
            raw_ref=self.raw_ref,
            **fields,
        )


def _read_event(
    channel: Channel,
    event: Any,
    *,
    entry_account: str,
    standby: bool,
    received_at: datetime,
    raw_ref: str | None,
) -> list[InboundMessage]:
    node = mapping(event)
    if node is None:
        raise EntryError("not_an_object", "each messaging event is a JSON object")
    message = mapping(node.get("message"))
    if message is None and node.get("message") is not None:
        raise EntryError("bad_message", "the event's 'message' must be a JSON object")
    echo = message is not None and flag(message.get("is_echo"))
    if message is None and not any(key in node for key in _KINDS):
        other = next((str(key) for key in node if key not in _ENVELOPE), None)
        if other is None:
            raise EntryError(
                "empty_event", "the event carries no message, reaction, receipt or postback"
            )
        raise IgnoredEvent(f"{channel.value}:{other[:40]}")
    ev = _Event(
        channel,
        node,
        echo=echo,
        entry_account=entry_account,
        received_at=received_at,
        raw_ref=raw_ref,
    )
    if message is not None:
        if echo:
            return [_echo(ev, message)]
        if flag(message.get("is_deleted")):
            return [_unsend(ev, message)]
        return [_customer_message(ev, message, node, standby=standby)]
    for key, reader in _KINDS.items():
        if key in node:
            return reader(ev, node[key], node)
    raise EntryError("empty_event", "the event carries no message")  # unreachable: checked above


def _mid(value: Any, what: str) -> str:
    found = ident(value)
    if found is None:
        raise EntryError(
            "missing_id", f"the {what} has no mid, so it cannot be matched or deduplicated"
        )
    return found


def _attachments(raw: Any) -> tuple[tuple[Attachment, ...], list[tuple[str, str | None]]]:
    found: list[Attachment] = []
    facts: list[tuple[str, str | None]] = []
    for i, item in enumerate(items(raw)):
        kind = text(field(item, "type")) or "file"
        payload = mapping(field(item, "payload")) or {}
        url = text(payload.get("url")) or text(payload.get("story_media_url"))
        if kind == "story_mention":
            facts.append(("story_mention", url))
        if kind == "location":
            lat, lon = field(payload, "coordinates", "lat"), field(payload, "coordinates", "long")
            facts.append(
                ("location", f"{lat},{lon}" if lat is not None and lon is not None else None)
            )
            continue
        if url is None:
            continue  # a fallback share with no payload: nothing to keep
        found.append(
            Attachment(
                filename=filename_from_url(url, f"{kind}-{i + 1}"),
                content_type=_MEDIA_TYPES.get(kind, _LINK_TYPE),
                size=0,
                sha256="",
                url=url,
                media_id=ident(payload.get("reel_video_id"))
                or ident(payload.get("story_media_id"))
                or ident(payload.get("sticker_id")),
                caption=text(payload.get("title")) or text(field(item, "title")),
            )
        )
    return tuple(found), facts


def _referral(raw: Any) -> str | None:
    node = mapping(raw)
    if node is None:
        return None
    parts = [
        f"{key}={node[key]}"
        for key in ("source", "type", "ref", "ad_id")
        if isinstance(node.get(key), str | int)
    ]
    return " ".join(parts) or None


def _customer_message(
    ev: _Event, message: Mapping[str, Any], node: Mapping[str, Any], *, standby: bool
) -> InboundMessage:
    mid = _mid(message.get("mid"), "message")
    attachments, facts = _attachments(message.get("attachments"))
    reply_to = mapping(message.get("reply_to")) or {}
    replied = ident(reply_to.get("mid"))
    story = mapping(reply_to.get("story")) or {}
    return ev.message(
        external_id=mid,
        kind=MessageKind.MESSAGE,
        text=text(message.get("text")) or "",
        attachments=attachments,
        in_reply_to=(replied,) if replied else (),
        extra=pairs(
            *facts,
            ("story_reply", text(story.get("url")) or (ident(story.get("id")) and "story")),
            ("quick_reply_payload", text(field(message, "quick_reply", "payload"))),
            ("referral", _referral(message.get("referral") or node.get("referral"))),
            ("unsupported", "true" if flag(message.get("is_unsupported")) else None),
            ("standby", "true" if standby else None),
        ),
    )


def _echo(ev: _Event, message: Mapping[str, Any]) -> InboundMessage:
    mid = _mid(message.get("mid"), "echo")
    attachments, facts = _attachments(message.get("attachments"))
    app_id = message.get("app_id")
    return ev.message(
        external_id=f"echo:{mid}",
        target_external_id=mid,
        kind=MessageKind.ECHO,
        text=text(message.get("text")) or "",
        attachments=attachments,
        # the app that sent it: ours, or none when a person wrote in the page inbox
        extra=pairs(
            *facts,
            (
                "app_id",
                str(app_id)
                if isinstance(app_id, str | int) and not isinstance(app_id, bool)
                else None,
            ),
            ("metadata", text(message.get("metadata"))),
        ),
    )


def _unsend(ev: _Event, message: Mapping[str, Any]) -> InboundMessage:
    mid = _mid(message.get("mid"), "unsent message")
    return ev.message(external_id=f"unsend:{mid}", target_external_id=mid, kind=MessageKind.UNSEND)


def _edit(ev: _Event, raw: Any, node: Mapping[str, Any]) -> list[InboundMessage]:
    edit = mapping(raw) or {}
    mid = _mid(edit.get("mid"), "edit")
    count = stamp(edit.get("num_edit")) or ev.timestamp
    return [
        ev.message(
            external_id=f"edit:{mid}:{count}",
            target_external_id=mid,
            kind=MessageKind.EDIT,
            text=text(edit.get("text")) or "",
            extra=pairs(("num_edit", stamp(edit.get("num_edit")))),
        )
    ]


def _reaction(ev: _Event, raw: Any, node: Mapping[str, Any]) -> list[InboundMessage]:
    reaction = mapping(raw) or {}
    mid = _mid(reaction.get("mid"), "reaction")
    action = "unreact" if reaction.get("action") == "unreact" else "react"
    emoji = text(reaction.get("emoji")) or text(reaction.get("reaction"))
    return [
        ev.message(
            external_id=f"reaction:{mid}:{ev.customer}:{action}:{ev.timestamp}",
            target_external_id=mid,
            kind=MessageKind.REACTION,
            extra=pairs(("reaction", emoji), ("reaction_action", action)),
        )
    ]


def _receipt(status: str) -> Callable[[_Event, Any, Mapping[str, Any]], list[InboundMessage]]:
    def read(ev: _Event, raw: Any, node: Mapping[str, Any]) -> list[InboundMessage]:
        receipt = mapping(raw) or {}
        watermark = stamp(receipt.get("watermark"))
        mids = [m for m in (ident(v) for v in items(receipt.get("mids"))) if m]
        single = ident(receipt.get("mid"))  # Instagram's messaging_seen names one message
        if single:
            mids.append(single)
        facts = pairs(("status", status), ("watermark", watermark))
        if mids:
            return [
                ev.message(
                    external_id=f"status:{status}:{mid}",
                    target_external_id=mid,
                    kind=MessageKind.STATUS,
                    extra=facts,
                )
                for mid in dict.fromkeys(mids)
            ]
        if not watermark:
            raise EntryError(
                "empty_receipt", f"the {status} receipt names neither messages nor a watermark"
            )
        return [
            ev.message(
                external_id=f"status:{status}:{ev.customer}:{watermark}",
                kind=MessageKind.STATUS,
                extra=facts,
            )
        ]

    return read


def _postback(ev: _Event, raw: Any, node: Mapping[str, Any]) -> list[InboundMessage]:
    postback = mapping(raw) or {}
    mid = ident(postback.get("mid"))
    if mid is None:
        if not ev.timestamp:
            raise EntryError("missing_id", "the postback has neither a mid nor a timestamp")
        mid = f"postback:{ev.customer}:{ev.timestamp}"
    return [
        ev.message(
            external_id=mid,
            kind=MessageKind.MESSAGE,
            text=text(postback.get("title")) or "",
            extra=pairs(
                ("postback_payload", text(postback.get("payload"))),
                ("referral", _referral(postback.get("referral"))),
            ),
        )
    ]


_KINDS: dict[str, Callable[[_Event, Any, Mapping[str, Any]], list[InboundMessage]]] = {
    "message_edit": _edit,
    "reaction": _reaction,
    "delivery": _receipt("delivered"),
    "read": _receipt("read"),
    "postback": _postback,
}


class GraphMessagingSender:
    """Sends text (and quick-reply questions) through the Graph Send API."""

    channel: Channel
    platform: str
    max_text: int
    max_quick_replies = 13
    max_quick_reply_title = 20

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        token: Callable[[str], str],
        http: JsonHttp | None = None,
        sleep: Callable[[float], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self._token = token  # our account id (page / Instagram account) -> access token
        self._http = http
        self._sleep = sleep
        self.timeout = timeout

    @property
    def http(self) -> JsonHttp:
        if self._http is None:
            self._http = JsonHttp() if self._sleep is None else JsonHttp(sleep=self._sleep)
        return self._http

    def send(self, message: Message) -> str:
        return self._post(message, {"text": outgoing_text(message, self.platform, self.max_text)})

    def send_choices(self, message: Message, choices: Sequence[tuple[str, str]]) -> str:
        """The text with quick replies; the answer arrives as `quick_reply_payload`."""
        body = outgoing_text(message, self.platform, self.max_text)
        found = checked_choices(choices, self.platform, most=self.max_quick_replies)
        quick_replies = [
            {
                "content_type": "text",
                "title": shorten(title, self.max_quick_reply_title),
                "payload": payload[:1000],
            }
            for payload, title in found
        ]
        return self._post(message, {"text": body, "quick_replies": quick_replies})

    def _post(self, message: Message, content: dict[str, Any]) -> str:
        recipient = recipient_of(message, self.platform)
        account = message.sender
        if not account:
            raise refuse(f"the {self.platform} reply names no account to send from")
        try:
            token = self._token(account)
        except LookupError:
            raise refuse(
                f"no access token is configured for {self.platform} account {account}"
            ) from None
        body: dict[str, Any] = {"recipient": {"id": recipient}, **self._messaging_type(message)}
        body["message"] = content
        url = f"{self.base_url}/{quote(self.version, safe='')}/me/messages"
        _, answer = self.http.post(
            url,
            body,
            {"Authorization": f"Bearer {token}"},
            self.timeout,
            secrets=(token,),
            transient=graph_transient,
        )
        message_id = ident(field(answer, "message_id"))
        if message_id is None:
            # it was probably sent: refusing a retry is better than a duplicate
            raise refuse(f"{self.platform} accepted the reply but returned no message id")
        return message_id

    def _messaging_type(self, message: Message) -> dict[str, str]:
        messaging_type = message.headers.get("messaging_type", "RESPONSE")
        if messaging_type not in MESSAGING_TYPES:
            raise refuse(f"unknown {self.platform} messaging_type {messaging_type!r}")
        if messaging_type != "MESSAGE_TAG":
            return {"messaging_type": messaging_type}
        tag = message.headers.get("tag")
        if not tag:
            raise refuse(f"a {self.platform} MESSAGE_TAG reply needs a tag (HUMAN_AGENT)")
        return {"messaging_type": messaging_type, "tag": tag}
