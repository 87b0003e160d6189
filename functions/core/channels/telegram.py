"""Telegram Bot API: webhook updates in, `sendMessage` out.

Inbound: one update per delivery, `{"update_id": n, <one kind>: {...}}`. Updates do
not name the bot, so `account` is the configured bot id. The thread is the chat (in a
private chat its id is the customer's user id); `sender` is the person who wrote
(`from`), or the chat itself for channel posts, which have no `from`.

| update field | kind | external_id | target_external_id |
|---|---|---|---|
| `message`, `channel_post` | MESSAGE | `<chat_id>:<message_id>` | |
| `edited_message`, `edited_channel_post` | EDIT | `edit:<update_id>` | `<chat_id>:<message_id>` |
| `callback_query` (an inline button was pressed) | MESSAGE | `callback:<id>` | |
| `message_reaction` | REACTION | `reaction:<update_id>` | `<chat_id>:<message_id>` |

`/start` (what the Telegram app sends when someone opens the bot) is ignored, as are
update kinds we do not handle (chat member changes, polls, inline queries...). Files
are not downloaded here: attachments carry Telegram's `file_id` as `media_id`.

Outbound: `POST {base}/bot<token>/sendMessage`. The token sits in the URL path, so it
is handed to the HTTP client as a secret and redacted from every error. The message
id returned is `<chat_id>:<message_id>`, the same shape inbound ids have, so a
customer's reaction to our reply finds it.
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
    flag,
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

PLATFORM = "Telegram"
_MESSAGES = ("message", "channel_post")
_EDITS = ("edited_message", "edited_channel_post")
_START = re.compile(r"^/start(?:@\w+)?(?:\s|$)")
_CHAT_ID = re.compile(r"^-?\d{1,20}$")
MAX_CALLBACK_DATA_BYTES = 64


def normalize(
    raw: Mapping[str, Any], *, received_at: datetime, raw_ref: str | None = None, account: str = ""
) -> Delivery:
    body = body_mapping(raw, PLATFORM)
    update_id = ident(body.get("update_id"))
    if update_id is None:
        raise bad_payload("a Telegram update needs an 'update_id'")
    builder = DeliveryBuilder()
    context = _Update(update_id, account, received_at, raw_ref)
    for kind in body:
        if kind == "update_id":
            continue
        node = body[kind]
        if kind in _MESSAGES or kind in _EDITS:
            builder.read(kind, _read_message, context, node, edited=kind in _EDITS)
        elif kind == "callback_query":
            builder.read(kind, _read_callback, context, node)
        elif kind == "message_reaction":
            builder.read(kind, _read_reaction, context, node)
        elif isinstance(node, Mapping):
            builder.ignore(f"telegram:{str(kind)[:40]}")
        # other top-level keys are not update kinds (some gateways add fields): skip
    delivery = builder.build()
    if not (delivery.messages or delivery.rejected or delivery.ignored):
        raise bad_payload("the Telegram update carries no message or other event")
    return delivery


class _Update:
    def __init__(
        self, update_id: str, account: str, received_at: datetime, raw_ref: str | None
    ) -> None:
        self.update_id = update_id
        self.account = account
        self.received_at = received_at
        self.raw_ref = raw_ref

    def message(
        self, person: Mapping[str, Any], chat_id: str, timestamp: Any, **fields: Any
    ) -> InboundMessage:
        sender = ident(person.get("id"))
        if sender is None:
            raise EntryError("missing_sender", "the update names no sender id")
        chat_facts = () if chat_id == sender else (("chat_id", chat_id),)
        return InboundMessage(
            channel=Channel.TELEGRAM,
            received_at=moment(timestamp, unit="s", fallback=self.received_at),
            sender=Identity("telegram", sender),
            sender_name=_name(person),
            account=self.account,
            conversation_key=conversation_key(Channel.TELEGRAM, self.account, chat_id),
            locale_hint=_locale(person.get("language_code")),
            raw_ref=self.raw_ref,
            **{**fields, "extra": (*chat_facts, *fields.get("extra", ()))},
        )


def _name(person: Mapping[str, Any]) -> str:
    full = " ".join(p for p in (text(person.get("first_name")), text(person.get("last_name"))) if p)
    return (full or text(person.get("title")) or text(person.get("username")) or "")[:200]


def _locale(value: Any) -> str | None:
    code = text(value)
    return code.strip().lower()[:20] if code and code.strip() else None


def _chat(node: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    chat = mapping(node.get("chat"))
    chat_id = ident(chat.get("id")) if chat else None
    if chat is None or chat_id is None:
        raise EntryError("missing_chat", "the message names no chat.id")
    return chat_id, chat


def _author(node: Mapping[str, Any], chat: Mapping[str, Any]) -> Mapping[str, Any]:
    # a person (`from`), else the chat that posted (channels, anonymous admins)
    return mapping(node.get("from")) or mapping(node.get("sender_chat")) or chat


def _file(kind: str, node: Any, caption: str | None) -> Attachment | None:
    media = mapping(node)
    if media is None:
        return None
    file_id = ident(media.get("file_id"))
    if file_id is None:
        return None
    mime = text(media.get("mime_type"))
    name = text(media.get("file_name"))
    if kind == "sticker":
        content_type, extension = (
            ("video/webm", ".webm")
            if flag(media.get("is_video"))
            else ("application/x-tgsticker", ".tgs")
            if flag(media.get("is_animated"))
            else ("image/webp", ".webp")
        )
        name = f"{text(media.get('set_name')) or 'sticker-' + file_id}{extension}"
    else:
        content_type, default_name = {
            "document": ("application/octet-stream", f"document-{file_id}"),
            "video": ("video/mp4", f"video-{file_id}.mp4"),
            "voice": ("audio/ogg", f"audio-{file_id}.ogg"),
            "audio": ("audio/mpeg", f"audio-{file_id}.mp3"),
            "animation": ("video/mp4", f"animation-{file_id}.mp4"),
            "video_note": ("video/mp4", f"video_note-{file_id}.mp4"),
        }[kind]
        content_type = mime or content_type
        name = name or default_name
    return Attachment(
        filename=name[:200],
        content_type=content_type,
        size=0,
        sha256="",
        media_id=file_id,
        caption=caption,
    )


def _photo(sizes: Any, caption: str | None) -> Attachment | None:
    # Telegram sends every size it made; keep the largest
    best: Mapping[str, Any] | None = None
    best_area = -1.0
    for size in items(sizes):
        node = mapping(size)
        if node is None or ident(node.get("file_id")) is None:
            continue
        width, height = node.get("width"), node.get("height")
        area = float(width * height) if isinstance(width, int) and isinstance(height, int) else 0.0
        if area >= best_area:
            best, best_area = node, area
    if best is None:
        return None
    file_id = str(ident(best.get("file_id")))
    unique = ident(best.get("file_unique_id")) or file_id
    return Attachment(
        filename=f"photo-{unique}.jpg"[:200],
        content_type="image/jpeg",
        size=0,
        sha256="",
        media_id=file_id,
        caption=caption,
    )


def _content(
    node: Mapping[str, Any],
) -> tuple[str, tuple[Attachment, ...], list[tuple[str, str | None]]]:
    caption = text(node.get("caption"))
    attachments: list[Attachment] = []
    photo = _photo(node.get("photo"), caption)
    if photo:
        attachments.append(photo)
    for kind in ("document", "video", "voice", "audio", "animation", "video_note", "sticker"):
        found = _file(kind, node.get(kind), caption)
        if found:
            attachments.append(found)
    body = text(node.get("text")) or caption or text(field(node, "sticker", "emoji")) or ""
    lat, lon = field(node, "location", "latitude"), field(node, "location", "longitude")
    facts: list[tuple[str, str | None]] = [
        (
            "location",
            f"{lat},{lon}"
            if isinstance(lat, int | float) and isinstance(lon, int | float)
            else None,
        ),
        ("shared_contact", _name(mapping(node.get("contact")) or {}) or None),
        ("quote", text(field(node, "quote", "text"))),
    ]
    return body, tuple(attachments), facts


def _read_message(update: _Update, raw: Any, *, edited: bool) -> list[InboundMessage]:
    node = mapping(raw)
    if node is None:
        raise EntryError("not_an_object", "the message is not a JSON object")
    chat_id, chat = _chat(node)
    message_id = ident(node.get("message_id"))
    if message_id is None:
        raise EntryError(
            "missing_id", "the message has no message_id, so it cannot be deduplicated"
        )
    body, attachments, facts = _content(node)
    if not edited and _START.match(body):
        raise IgnoredEvent("telegram:command.start")
    reply = ident(field(node, "reply_to_message", "message_id"))
    this = f"{chat_id}:{message_id}"
    common: dict[str, Any] = {
        "text": body,
        "attachments": attachments,
        "in_reply_to": (f"{chat_id}:{reply}",) if reply else (),
        "extra": pairs(*facts),
    }
    if edited:
        return [
            update.message(
                _author(node, chat),
                chat_id,
                node.get("edit_date") or node.get("date"),
                external_id=f"edit:{update.update_id}",
                target_external_id=this,
                kind=MessageKind.EDIT,
                **common,
            )
        ]
    return [
        update.message(
            _author(node, chat),
            chat_id,
            node.get("date"),
            external_id=this,
            kind=MessageKind.MESSAGE,
            **common,
        )
    ]


def _button_label(markup: Any, data: str) -> str | None:
    for row in items(field(markup, "inline_keyboard")):
        for button in items(row):
            if field(button, "callback_data") == data:
                return text(field(button, "text"))
    return None


def _read_callback(update: _Update, raw: Any) -> list[InboundMessage]:
    node = mapping(raw)
    if node is None:
        raise EntryError("not_an_object", "the callback_query is not a JSON object")
    callback_id = ident(node.get("id"))
    if callback_id is None:
        raise EntryError("missing_id", "the callback_query has no id")
    person = mapping(node.get("from"))
    if person is None:
        raise EntryError("missing_sender", "the callback_query names no 'from'")
    data = text(node.get("data")) or ""
    question = mapping(node.get("message")) or {}
    chat_id = ident(field(question, "chat", "id")) or ident(person.get("id"))
    if chat_id is None:
        raise EntryError("missing_chat", "the callback_query names neither a chat nor a sender id")
    asked = ident(question.get("message_id"))
    label = _button_label(question.get("reply_markup"), data)
    return [
        update.message(
            person,
            chat_id,
            None,
            external_id=f"callback:{callback_id}",
            kind=MessageKind.MESSAGE,
            text=label or data,
            in_reply_to=(f"{chat_id}:{asked}",) if asked else (),
            extra=pairs(("quick_reply_payload", data), ("callback_query_id", callback_id)),
        )
    ]


def _emoji(reactions: Any) -> str | None:
    for reaction in items(reactions):
        found = text(field(reaction, "emoji")) or text(field(reaction, "custom_emoji_id"))
        if found:
            return found
    return None


def _read_reaction(update: _Update, raw: Any) -> list[InboundMessage]:
    node = mapping(raw)
    if node is None:
        raise EntryError("not_an_object", "the message_reaction is not a JSON object")
    chat_id, chat = _chat(node)
    message_id = ident(node.get("message_id"))
    if message_id is None:
        raise EntryError("missing_id", "the reaction names no message_id")
    added = _emoji(node.get("new_reaction"))
    action = "react" if added else "unreact"
    person = mapping(node.get("user")) or mapping(node.get("actor_chat")) or chat
    return [
        update.message(
            person,
            chat_id,
            node.get("date"),
            external_id=f"reaction:{update.update_id}",
            target_external_id=f"{chat_id}:{message_id}",
            kind=MessageKind.REACTION,
            extra=pairs(
                ("reaction", added or _emoji(node.get("old_reaction"))), ("reaction_action", action)
            ),
        )
    ]


class TelegramSender:
    """Sends text and inline-keyboard questions as the configured bot."""

    channel = Channel.TELEGRAM
    max_text = 4096

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
        return self._send(message, {})

    def send_choices(self, message: Message, choices: Sequence[tuple[str, str]]) -> str:
        """One inline button per row; a press arrives as a callback_query whose data is
        the payload (`quick_reply_payload`)."""
        found = checked_choices(choices, PLATFORM, most=100)
        for payload, _ in found:
            if len(payload.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                raise refuse(
                    f"a Telegram button payload is at most {MAX_CALLBACK_DATA_BYTES} bytes: {payload[:20]!r}…"
                )
        keyboard = [
            [{"text": title.strip()[:64], "callback_data": payload}] for payload, title in found
        ]
        return self._send(message, {"reply_markup": {"inline_keyboard": keyboard}})

    def answer_callback_query(self, callback_query_id: str, notice: str = "") -> None:
        """Stops the spinner on the pressed button (Telegram expects an answer)."""
        body: dict[str, Any] = {"callback_query_id": callback_query_id}
        if notice:
            body["text"] = notice[:200]
        self._call("answerCallbackQuery", body)

    def _send(self, message: Message, extra: dict[str, Any]) -> str:
        chat = recipient_of(message, PLATFORM)
        body: dict[str, Any] = {
            "chat_id": int(chat) if _CHAT_ID.match(chat) else chat,
            "text": outgoing_text(message, PLATFORM, self.max_text),
            **extra,
        }
        replied = _replied_message_id(message, chat)
        if replied is not None:
            # reply_parameters replaced reply_to_message_id in Bot API 7.0; allowing a
            # send without the reply keeps the answer flowing if the original is deleted
            body["reply_parameters"] = {"message_id": replied, "allow_sending_without_reply": True}
        answer = self._call("sendMessage", body)
        message_id = ident(field(answer, "result", "message_id"))
        sent_chat = ident(field(answer, "result", "chat", "id")) or chat
        if message_id is None:
            raise refuse("Telegram accepted the reply but returned no message id")
        return f"{sent_chat}:{message_id}"

    def _call(self, method: str, body: dict[str, Any]) -> Any:
        token = self._token()
        url = f"{self.base_url}/bot{quote(token, safe=':')}/{method}"
        _, answer = self.http.post(
            url, body, {}, self.timeout, secrets=(token, quote(token, safe=":"))
        )
        if field(answer, "ok") is False:
            raise refuse(
                f"Telegram refused {method}: {text(field(answer, 'description')) or 'no reason given'}"
            )
        return answer


def _replied_message_id(message: Message, chat: str) -> int | None:
    for reference in reversed(message.in_reply_to):
        found_chat, _, found_id = reference.rpartition(":")
        if found_chat == chat and found_id.isdigit():
            return int(found_id)
    return None
