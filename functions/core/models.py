"""The domain model: one normalized inbound message, and the ticket it becomes part of.

Every channel turns what it receives into `InboundMessage`; the pipeline, the store and
the replies only ever see this shape. Tickets, messages and customers are what the
store reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    X = "x"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_active(self) -> bool:
        return self in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class MessageKind(StrEnum):
    """What an inbound event is. Only MESSAGE can start or extend a conversation."""

    MESSAGE = "message"
    REACTION = "reaction"  # recorded on an existing message
    EDIT = "edit"
    UNSEND = "unsend"
    STATUS = "status"  # delivery/read receipts for our own sends
    ECHO = "echo"  # a copy of something we sent


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a send was attempted but its outcome was lost


@dataclass(frozen=True, slots=True)
class Identity:
    """How a customer is reached on one channel: an email address, a PSID, a wa_id...

    `kind` is the identity namespace ("email", "psid", "igsid", "wa_id", "telegram",
    "x", "visitor"); `value` is normalized (email addresses lower-cased).
    """

    kind: str
    value: str

    @classmethod
    def email(cls, address: str) -> Identity:
        return cls("email", address.strip().lower())

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes = field(default=b"", repr=False, compare=False)
    storage_key: str | None = None  # where the bytes are kept once stored
    url: str | None = None  # a platform URL, for attachments we do not download
    media_id: str | None = None
    caption: str | None = None
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as it arrived, whatever the channel.

    `external_id` is the platform's own id for this message (the RFC Message-ID for
    email, `mid`, `wamid`, Telegram update id...): it is the dedupe key, written once.
    """

    channel: Channel
    external_id: str
    received_at: datetime
    sender: Identity | None
    sender_name: str = ""
    account: str = ""  # where it arrived: our mailbox, page id, bot, phone number id
    kind: MessageKind = MessageKind.MESSAGE
    subject: str = ""
    text: str = ""  # the whole plain text as the customer wrote it
    html: str | None = None  # sanitized HTML, safe to display
    attachments: tuple[Attachment, ...] = ()
    # email headers in their order, decoded; channels without headers leave it empty
    headers: tuple[tuple[str, str], ...] = ()
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    # other ways to identify the sender when `sender` is missing (Reply-To, Sender)
    alternates: tuple[Identity, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    conversation_key: str | None = None  # the platform thread (page+sender, chat id...)
    target_external_id: str | None = None  # for reactions, edits, unsends, statuses
    locale_hint: str | None = None  # widget or platform locale
    raw_ref: str | None = None  # "s3://bucket/key" of the raw delivery
    verdicts: tuple[tuple[str, str], ...] = ()  # ("spam", "FAIL"), ("virus", "PASS")...
    extra: tuple[tuple[str, str], ...] = ()  # small channel-specific facts, kept as-is

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def verdict(self, name: str) -> str | None:
        for key, value in self.verdicts:
            if key == name:
                return value
        return None

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel.value}#{self.external_id}"


@dataclass(slots=True)
class Customer:
    id: str
    name: str = ""
    identities: list[Identity] = field(default_factory=list)
    language: str | None = None  # the language of their last message
    tags: list[str] = field(default_factory=list)
    undeliverable: list[str] = field(default_factory=list)  # identities that bounced
    created_at: datetime | None = None
    merged_into: str | None = None
    # the profiles merged into this one, so erasing this customer finds them too
    merged_from: list[str] = field(default_factory=list)

    def identity(self, kind: str) -> Identity | None:
        for identity in self.identities:
            if identity.kind == kind:
                return identity
        return None


@dataclass(slots=True)
class Ticket:
    id: str
    channel: Channel
    subject: str
    customer_id: str
    status: TicketStatus = TicketStatus.NEW
    priority: str = "normal"
    language: str | None = None
    queue: str | None = None
    tags: list[str] = field(default_factory=list)
    # identities allowed to write into this ticket by token ("email:ana@example.com")
    participants: list[str] = field(default_factory=list)
    account: str = ""  # the mailbox or page it was written to; replies go out from it
    conversation_key: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_inbound_at: datetime | None = None
    last_outbound_at: datetime | None = None
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    message_count: int = 0
    version: int = 0  # optimistic lock for read-modify-write updates
    # the SLA clocks (functions/core/sla.py SlaState.to_dict()), their next due moment
    # (the sparse due index), and escalations committed but not yet published
    agent: str | None = None  # the agent who last answered (or solved) it
    solved_by: str | None = None  # who solved it last: an agent's email, or "helpline"
    sla: dict[str, Any] | None = None
    sla_due: datetime | None = None
    expires_at: datetime | None = None  # set when closed: the table's TTL removes it then
    escalations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def token(self) -> str:
        """The subject token that threads a reply to this ticket: `[#ID]`."""
        return f"[#{self.id}]"


@dataclass(slots=True)
class Message:
    id: str
    ticket_id: str
    direction: Direction
    channel: Channel
    created_at: datetime
    automatic: bool = False
    author: str = ""  # a customer id, an agent's email, or "helpline"
    sender: str = ""  # the address or platform id it came from
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str | None = None
    stripped_text: str = ""  # without quotes and signature: previews and detection
    language: str | None = None
    external_id: str | None = None  # Message-ID, mid, wamid...
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # outbound threading headers
    kind: str = "message"  # message, bounce, out_of_office, auto_response, ...
    delivery: DeliveryStatus | None = None  # outbound only
    delivery_detail: str = ""
    provider_id: str | None = None  # SES message id, platform message id
    raw_ref: str | None = None
    body_ref: str | None = None  # bodies too large for the item live in S3
    reactions: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    # those of `recipients` who are copied (email Cc): the rest are its To
    cc: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TicketEvent:
    ticket_id: str
    at: datetime
    type: str
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str = "helpline"
