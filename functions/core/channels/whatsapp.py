"""WhatsApp Cloud API: webhook deliveries in, `/messages` sends out.

Inbound: `{"object": "whatsapp_business_account", "entry": [{"changes": [...]}]}`. A
change with `field: "messages"` carries `value.metadata.phone_number_id` (our number),
`contacts[]` (the customer's profile name by `wa_id`), and `messages[]` and/or
`statuses[]`; `field: "smb_message_echoes"` carries `message_echoes[]`, messages our
number sent from the WhatsApp Business app. Every other field (template and account
updates, calls, marketing preferences) is ignored.

| message | kind | external_id | target_external_id |
|---|---|---|---|
| text, media, location, contacts, order, button/list answers, flows | MESSAGE | `wamid` | |
| `type: reaction` | REACTION | `reaction:<wamid of the reaction>` | the reacted-to wamid |
| `type: edit` | EDIT | `edit:<wamid of the edit>` | `edit.original_message_id` |
| `type: revoke` | UNSEND | `unsend:<wamid of the revoke>` | `revoke.original_message_id` |
| `statuses[]` | STATUS | `status:<status>:<wamid>` | the wamid we sent |
| `message_echoes[]` | ECHO | `echo:<wamid>` | that wamid (or the original, for edits) |

An empty emoji is WhatsApp's way of removing a reaction (`reaction_action` "unreact").
`played` (a voice note was listened to) is recorded as `read`. Media are not
downloaded here: attachments carry the media id (and URL when Meta includes one).

Outbound: `POST {base}/{version}/{phone_number_id}/messages` with the number's token.
Within 24 h of the customer's last message it sends text; outside, only the approved
template named by the `whatsapp_template` / `whatsapp_template_language` headers.
"""

from __future__ import annotations

import mimetypes
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

OBJECT = "whatsapp_business_account"
PLATFORM = "WhatsApp"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_DEFAULT_CONTENT_TYPE = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg",
    "document": "application/octet-stream",
    "sticker": "image/webp",
}
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "image/webp": ".webp",
}
_STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}
_IGNORED_TYPES = ("system", "request_welcome", "ephemeral")


def normalize(
    raw: Mapping[str, Any], *, received_at: datetime, raw_ref: str | None = None, account: str = ""
) -> Delivery:
    body = body_mapping(raw, PLATFORM)
    kind = body.get("object")
    entries = body.get("entry")
    if not isinstance(kind, str) or not isinstance(entries, list):
        raise bad_payload("a WhatsApp delivery needs an 'object' name and an 'entry' list")
    if kind != OBJECT:
        return Delivery((), (), (f"whatsapp:object.{kind[:40]}",))
    builder = DeliveryBuilder()
    for i, entry in enumerate(entries):
        changes = field(entry, "changes")
        if not isinstance(changes, list):
            builder.reject(
                f"entry[{i}]", "missing_changes", "each WhatsApp entry carries a 'changes' list"
            )
            continue
        for j, change in enumerate(changes):
            _read_change(
                builder,
                f"entry[{i}].changes[{j}]",
                change,
                received_at=received_at,
                raw_ref=raw_ref,
                fallback_account=account,
            )
    return builder.build()


class _Thread:
    """One change's shared facts: our number, the customers' names, the delivery."""

    def __init__(
        self, value: Mapping[str, Any], account: str, received_at: datetime, raw_ref: str | None
    ):
        self.account = account
        self.received_at = received_at
        self.raw_ref = raw_ref
        self.names: dict[str, str] = {}
        for contact in items(value.get("contacts")):
            wa_id = ident(field(contact, "wa_id"))
            name = text(field(contact, "profile", "name"))
            if wa_id and name:
                self.names[wa_id] = name

    def message(self, customer: str, timestamp: Any, **fields: Any) -> InboundMessage:
        return InboundMessage(
            channel=Channel.WHATSAPP,
            received_at=moment(timestamp, unit="s", fallback=self.received_at),
            sender=Identity("wa_id", customer),
            sender_name=self.names.get(customer, ""),
            account=self.account,
            conversation_key=conversation_key(Channel.WHATSAPP, self.account, customer),
            raw_ref=self.raw_ref,
            **fields,
        )


def _read_change(
    builder: DeliveryBuilder,
    where: str,
    change: Any,
    *,
    received_at: datetime,
    raw_ref: str | None,
    fallback_account: str,
) -> None:
    name = field(change, "field")
    value = mapping(field(change, "value"))
    if not isinstance(name, str):
        builder.reject(where, "missing_field", "each change names its 'field'")
        return
    if name not in ("messages", "smb_message_echoes"):
        builder.ignore(f"whatsapp:{name[:40]}")
        return
    if value is None:
        builder.reject(where, "missing_value", "the change carries no 'value' object")
        return
    account = ident(field(value, "metadata", "phone_number_id")) or fallback_account
    if not account:
        builder.reject(where, "missing_account", "the change names no metadata.phone_number_id")
        return
    thread = _Thread(value, account, received_at, raw_ref)
    lists = (
        (("message_echoes", _read_echo),)
        if name == "smb_message_echoes"
        else (("messages", _read_message), ("statuses", _read_status))
    )
    seen = False
    for list_name, reader in lists:
        if list_name not in value:
            continue
        seen = True
        events = value[list_name]
        if not isinstance(events, list):
            builder.reject(
                f"{where}.value.{list_name}", "not_a_list", f"'{list_name}' must be a list"
            )
            continue
        for k, event in enumerate(events):
            builder.read(f"{where}.value.{list_name}[{k}]", reader, thread, event, value)
    if not seen:
        if value.get("errors"):
            builder.ignore("whatsapp:errors")
        else:
            builder.reject(where, "empty_change", "the change carries no messages or statuses")


def _node(event: Any) -> Mapping[str, Any]:
    node = mapping(event)
    if node is None:
        raise EntryError("not_an_object", "each WhatsApp message or status is a JSON object")
    return node


def _wamid(value: Any, what: str) -> str:
    found = ident(value)
    if found is None:
        raise EntryError(
            "missing_id", f"the {what} has no id, so it cannot be matched or deduplicated"
        )
    return found


def _error_detail(*sources: Any) -> str | None:
    for source in sources:
        for error in items(source):
            title = text(field(error, "title")) or text(field(error, "message"))
            details = text(field(error, "error_data", "details"))
            found = ": ".join(p for p in (title, details) if p)
            if found:
                return found
    return None


def _media(kind: str, node: Any) -> tuple[Attachment | None, str, tuple[str, str | None]]:
    media = mapping(node) or {}
    media_id = ident(media.get("id"))
    url = text(media.get("url"))
    if media_id is None and url is None:
        return None, "", ("voice", None)
    content_type = text(media.get("mime_type")) or _DEFAULT_CONTENT_TYPE[kind]
    bare = content_type.split(";")[0].strip().lower()
    extension = _EXTENSIONS.get(bare) or mimetypes.guess_extension(bare) or ""
    caption = text(media.get("caption"))
    attachment = Attachment(
        filename=text(media.get("filename")) or f"{kind}-{media_id or 'media'}{extension}",
        content_type=content_type,
        size=0,
        sha256="",
        url=url,
        media_id=media_id,
        caption=caption,
    )
    return attachment, caption or "", ("voice", "true" if flag(media.get("voice")) else None)


def _read_message(thread: _Thread, event: Any, value: Mapping[str, Any]) -> list[InboundMessage]:
    node = _node(event)
    customer = ident(node.get("from"))
    if customer is None:
        raise EntryError("missing_sender", "the message names no 'from' (the customer's wa_id)")
    wamid = _wamid(node.get("id"), "message")
    kind = text(node.get("type")) or "unsupported"
    timestamp = node.get("timestamp")
    if kind in _IGNORED_TYPES:
        raise IgnoredEvent(f"whatsapp:{kind}")
    if kind == "reaction":
        reaction = mapping(node.get("reaction")) or {}
        target = _wamid(reaction.get("message_id"), "reaction's message")
        emoji = text(reaction.get("emoji"))
        action = "react" if emoji else "unreact"
        return [
            thread.message(
                customer,
                timestamp,
                external_id=f"reaction:{wamid}",
                target_external_id=target,
                kind=MessageKind.REACTION,
                extra=pairs(("reaction", emoji), ("reaction_action", action)),
            )
        ]
    if kind in ("edit", "revoke"):
        return [
            _change_of(
                thread,
                node,
                customer=customer,
                timestamp=timestamp,
                wamid=wamid,
                kind=kind,
                echo=False,
            )
        ]
    context = mapping(node.get("context")) or {}
    replied = ident(context.get("id"))
    forwarded = (
        "many"
        if flag(context.get("frequently_forwarded"))
        else ("true" if flag(context.get("forwarded")) else None)
    )
    body, attachments, facts = _content(kind, node, value)
    return [
        thread.message(
            customer,
            timestamp,
            external_id=wamid,
            kind=MessageKind.MESSAGE,
            text=body,
            attachments=attachments,
            in_reply_to=(replied,) if replied else (),
            extra=pairs(
                *facts, ("forwarded", forwarded), ("referral", _referral(node.get("referral")))
            ),
        )
    ]


def _content(
    kind: str, node: Mapping[str, Any], value: Mapping[str, Any]
) -> tuple[str, tuple[Attachment, ...], list[tuple[str, str | None]]]:
    """The text, attachments and facts of one customer message, by its type."""
    if kind == "text":
        return text(field(node, "text", "body")) or "", (), []
    if kind in MEDIA_TYPES:
        attachment, caption, voice = _media(kind, node.get(kind))
        return caption, (attachment,) if attachment else (), [voice]
    if kind == "location":
        place = mapping(node.get("location")) or {}
        lat, lon = place.get("latitude"), place.get("longitude")
        words = ", ".join(p for p in (text(place.get("name")), text(place.get("address"))) if p)
        where = (
            f"{lat},{lon}"
            if isinstance(lat, int | float) and isinstance(lon, int | float)
            else None
        )
        return words, (), [("location", where), ("location_url", text(place.get("url")))]
    if kind == "contacts":
        names = [text(field(c, "name", "formatted_name")) for c in items(node.get("contacts"))]
        return "", (), [("shared_contacts", ", ".join(n for n in names if n) or None)]
    if kind == "button":
        button = mapping(node.get("button")) or {}
        return (
            text(button.get("text")) or "",
            (),
            [("quick_reply_payload", text(button.get("payload")))],
        )
    if kind == "interactive":
        return _interactive(node, value)
    if kind == "order":
        order = mapping(node.get("order")) or {}
        lines = [
            f"{text(field(i, 'product_retailer_id')) or '?'} x{field(i, 'quantity')}"
            for i in items(order.get("product_items"))
        ]
        return text(order.get("text")) or "", (), [("order", ", ".join(lines) or None)]
    detail = _error_detail(node.get("errors"), value.get("errors"))
    return "", (), [("unsupported", detail or text(field(node, "unsupported", "type")) or kind)]


def _interactive(
    node: Mapping[str, Any], value: Mapping[str, Any]
) -> tuple[str, tuple[Attachment, ...], list[tuple[str, str | None]]]:
    interactive = mapping(node.get("interactive"))
    if interactive is None:  # Meta could not deliver its content: say so, keep the message
        detail = _error_detail(node.get("errors"), value.get("errors"))
        return "", (), [("unsupported", detail or "interactive message without content")]
    kind = text(interactive.get("type")) or ""
    if kind in ("button_reply", "list_reply"):
        answer = mapping(interactive.get(kind)) or {}
        return (
            text(answer.get("title")) or "",
            (),
            [("quick_reply_payload", text(answer.get("id")))],
        )
    if kind == "nfm_reply":
        flow = mapping(interactive.get("nfm_reply")) or {}
        return (
            text(flow.get("body")) or "",
            (),
            [("flow_response", text(flow.get("response_json")))],
        )
    raise IgnoredEvent(f"whatsapp:interactive.{kind[:40] or '?'}")


def _referral(raw: Any) -> str | None:
    node = mapping(raw)
    if node is None:
        return None
    parts = [
        f"{key}={node[key]}"
        for key in ("source_type", "source_id", "source_url")
        if isinstance(node.get(key), str)
    ]
    return " ".join(parts) or None


def _change_of(
    thread: _Thread,
    node: Mapping[str, Any],
    *,
    customer: str,
    timestamp: Any,
    wamid: str,
    kind: str,
    echo: bool,
) -> InboundMessage:
    """An edit or a revoke (deletion) of an earlier message, ours or the customer's."""
    detail = mapping(node.get(kind)) or {}
    original = _wamid(detail.get("original_message_id"), f"{kind}'s original message")
    new_text = ""
    attachments: tuple[Attachment, ...] = ()
    if kind == "edit":
        inner = mapping(detail.get("message")) or {}
        inner_kind = text(inner.get("type")) or "text"
        new_text, attachments, _ = _content(inner_kind, inner, {})
    if echo:
        return thread.message(
            customer,
            timestamp,
            external_id=f"echo:{wamid}",
            target_external_id=original,
            kind=MessageKind.ECHO,
            text=new_text,
            attachments=attachments,
            extra=(("echo_of", kind),),
        )
    return thread.message(
        customer,
        timestamp,
        external_id=f"{'edit' if kind == 'edit' else 'unsend'}:{wamid}",
        target_external_id=original,
        kind=MessageKind.EDIT if kind == "edit" else MessageKind.UNSEND,
        text=new_text,
        attachments=attachments,
    )


def _read_status(thread: _Thread, event: Any, value: Mapping[str, Any]) -> list[InboundMessage]:
    node = _node(event)
    wamid = _wamid(node.get("id"), "status")
    raw_status = text(node.get("status")) or ""
    status = _STATUSES.get(raw_status)
    if status is None:
        raise IgnoredEvent(f"whatsapp:status.{raw_status[:40] or '?'}")
    customer = ident(node.get("recipient_id"))
    if customer is None:
        raise EntryError("missing_recipient", "the status names no recipient_id")
    return [
        thread.message(
            customer,
            node.get("timestamp"),
            external_id=f"status:{status}:{wamid}",
            target_external_id=wamid,
            kind=MessageKind.STATUS,
            extra=pairs(("status", status), ("status_detail", _error_detail(node.get("errors")))),
        )
    ]


def _read_echo(thread: _Thread, event: Any, value: Mapping[str, Any]) -> list[InboundMessage]:
    node = _node(event)
    customer = ident(node.get("to"))
    if customer is None:
        raise EntryError("missing_recipient", "the echo names no 'to' (the customer's wa_id)")
    wamid = _wamid(node.get("id"), "echo")
    kind = text(node.get("type")) or "text"
    if kind in ("edit", "revoke"):
        return [
            _change_of(
                thread,
                node,
                customer=customer,
                timestamp=node.get("timestamp"),
                wamid=wamid,
                kind=kind,
                echo=True,
            )
        ]
    body, attachments, _ = _content(kind, node, value)
    return [
        thread.message(
            customer,
            node.get("timestamp"),
            external_id=f"echo:{wamid}",
            target_external_id=wamid,
            kind=MessageKind.ECHO,
            text=body,
            attachments=attachments,
        )
    ]


class WhatsAppSender:
    """Sends text, approved templates and button/list questions from our number."""

    channel = Channel.WHATSAPP
    max_text = 4096
    max_interactive_text = 1024
    max_buttons = 3
    max_list_rows = 10

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
        self._token = token  # phone_number_id -> access token
        self._http = http
        self._sleep = sleep
        self.timeout = timeout

    @property
    def http(self) -> JsonHttp:
        if self._http is None:
            self._http = JsonHttp() if self._sleep is None else JsonHttp(sleep=self._sleep)
        return self._http

    def send(self, message: Message) -> str:
        template = message.headers.get("whatsapp_template")
        if template:
            language = message.headers.get("whatsapp_template_language")
            if not language:
                raise refuse(f"the WhatsApp template {template!r} needs a language code")
            content = {
                "type": "template",
                "template": {"name": template, "language": {"code": language}},
            }
            return self._post(message, content, reply=False)
        body = outgoing_text(message, PLATFORM, self.max_text)
        return self._post(message, {"type": "text", "text": {"preview_url": False, "body": body}})

    def send_choices(self, message: Message, choices: Sequence[tuple[str, str]]) -> str:
        """Up to 3 choices as reply buttons, up to 10 as a list; the answer arrives as
        `quick_reply_payload`. The list's button label comes from the `choices_button`
        header (in the customer's language), else "Choose"."""
        if message.headers.get("whatsapp_template"):
            raise refuse(
                "outside the 24-hour window WhatsApp only accepts the approved template, "
                "not a question with buttons"
            )
        body = outgoing_text(message, PLATFORM, self.max_interactive_text)
        found = checked_choices(choices, PLATFORM, most=self.max_list_rows)
        if len(found) <= self.max_buttons:
            interactive: dict[str, Any] = {
                "type": "button",
                "body": {"text": body},
                "action": {
                    "buttons": [
                        {
                            "type": "reply",
                            "reply": {"id": payload[:256], "title": shorten(title, 20)},
                        }
                        for payload, title in found
                    ]
                },
            }
        else:
            interactive = {
                "type": "list",
                "body": {"text": body},
                "action": {
                    "button": shorten(message.headers.get("choices_button") or "Choose", 20),
                    "sections": [
                        {
                            "rows": [
                                {"id": payload[:200], "title": shorten(title, 24)}
                                for payload, title in found
                            ]
                        }
                    ],
                },
            }
        return self._post(message, {"type": "interactive", "interactive": interactive})

    def _post(self, message: Message, content: dict[str, Any], *, reply: bool = True) -> str:
        recipient = recipient_of(message, PLATFORM)
        number = ident(message.sender)
        if number is None:
            raise refuse("the WhatsApp reply names no phone number id to send from")
        try:
            token = self._token(number)
        except LookupError:
            raise refuse(f"no access token is configured for WhatsApp number {number}") from None
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            **content,
        }
        replied = message.in_reply_to[-1] if message.in_reply_to else ""
        if reply and replied.startswith("wamid."):
            body["context"] = {"message_id": replied}
        url = f"{self.base_url}/{quote(self.version, safe='')}/{quote(number, safe='')}/messages"
        _, answer = self.http.post(
            url,
            body,
            {"Authorization": f"Bearer {token}"},
            self.timeout,
            secrets=(token,),
            transient=graph_transient,
        )
        sent = items(field(answer, "messages"))
        wamid = ident(field(sent[0], "id")) if sent else None
        if wamid is None:
            raise refuse("WhatsApp accepted the reply but returned no message id")
        return wamid
