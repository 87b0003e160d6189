"""The DynamoDB repository: the only module that knows key shapes.

One table holds everything (see docs/architecture.md for the full key map):

    PK                              SK                      what
    TICKET#<id>                     TICKET                  ticket (GSI1: customer, GSI2: status list)
    TICKET#<id>                     MSG#<at>#<msg id>       a message, in order
    TICKET#<id>                     EVENT#<at>#<n>          the ticket's event log
    CUSTOMER#<id>                   PROFILE                 customer
    IDENT#<kind>#<value>            IDENT                   identity -> customer
    MSGID#<channel>#<external id>   MSGID                   dedupe + thread key + intake outbox
    CONV#<channel>#<conversation>   CONV                    platform thread -> its current ticket
    QUARANTINE#<id>                 QUARANTINE              kept input that was not processed
    AUTOREPLY#<customer>#<ticket>   LIMIT                   last automatic reply (TTL)
    AUTOREPLY#<customer>            HOUR#<yyyymmddhh>       automatic replies this hour (TTL)
    AUTOREPLY#ALL                   HOUR#<yyyymmddhh>       automatic mail this hour, everyone (TTL)
    AUTOREPLY#TO#<address hash>     DAY#<yyyymmdd>          chat mail to one address today (TTL)

Writes that must happen together go through `transact()` as a list of intents (put
this ticket, claim that message id...). Each intent becomes one conditional item, so a
retried delivery or a lost race fails the whole transaction and nothing is half-written;
`TransactionConflict` says which intents lost.
"""

from __future__ import annotations

import hashlib
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from functions.core.errors import ConflictError
from functions.core.models import (
    Channel,
    Customer,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from functions.core.timeutil import from_iso, maybe_from_iso, maybe_iso, to_iso, utcnow

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STATUS_SHARDS = 4  # the status list is spread over this many partitions per status
SLA_SHARDS = 8  # the sparse SLA due index is spread over this many partitions

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# -- keys ---------------------------------------------------------------------------------


def _ticket_key(ticket_id: str) -> dict[str, str]:
    return {"PK": f"TICKET#{ticket_id}", "SK": "TICKET"}


def _message_sk(created_at: datetime, message_id: str) -> str:
    return f"MSG#{to_iso(created_at)}#{message_id}"


def _customer_key(customer_id: str) -> dict[str, str]:
    return {"PK": f"CUSTOMER#{customer_id}", "SK": "PROFILE"}


def _ident_key(identity: Identity) -> dict[str, str]:
    return {"PK": f"IDENT#{identity.kind}#{identity.value}", "SK": "IDENT"}


def _msgid_key(channel: Channel | str, external_id: str) -> dict[str, str]:
    return {"PK": f"MSGID#{Channel(channel).value}#{external_id}", "SK": "MSGID"}


def _conversation_key(channel: Channel | str, conversation: str) -> dict[str, str]:
    return {"PK": f"CONV#{Channel(channel).value}#{conversation}", "SK": "CONV"}


def _quarantine_key(record_id: str) -> dict[str, str]:
    return {"PK": f"QUARANTINE#{record_id}", "SK": "QUARANTINE"}


def _autoreply_ticket_key(customer_id: str, ticket_id: str) -> dict[str, str]:
    return {"PK": f"AUTOREPLY#{customer_id}#{ticket_id}", "SK": "LIMIT"}


def _autoreply_hour_key(customer_id: str, at: datetime) -> dict[str, str]:
    return {"PK": f"AUTOREPLY#{customer_id}", "SK": f"HOUR#{at.strftime('%Y%m%d%H')}"}


def _automatic_mail_hour_key(at: datetime) -> dict[str, str]:
    # One item an hour, not sharded: it takes one write per automatic mail attempted (a
    # refused one too), and a partition takes 1,000 writes a second, far more than the
    # intake can receive. Plain conditional updates on one item queue up; they do not
    # conflict the way transactions on a hot item would. (Customer ids start with C.)
    return {"PK": "AUTOREPLY#ALL", "SK": f"HOUR#{at.strftime('%Y%m%d%H')}"}


def _mail_to_day_key(address: str, at: datetime) -> dict[str, str]:
    # a hash: the address may belong to someone who never wrote to us, and the record
    # belongs to no customer whose data could be exported or erased with it
    digest = hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:32]
    return {"PK": f"AUTOREPLY#TO#{digest}", "SK": f"DAY#{at.strftime('%Y%m%d')}"}


def _status_shard(ticket_id: str) -> int:
    return sum(ticket_id.encode()) % STATUS_SHARDS


def sla_shard(ticket_id: str) -> str:
    return f"SLA#{sum(ticket_id.encode()) % SLA_SHARDS}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# -- (de)serialization ----------------------------------------------------------------------


def _to_attr(value: Any) -> Any:
    """Python values as DynamoDB takes them. None inside maps and lists is kept (as NULL)
    so stored records come back with the same keys; top-level None attributes are not
    written at all (see `serialize`)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_attr(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_attr(v) for v in value]
    return value


def _from_attr(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_attr(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_to_attr(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_attr(_deserializer.deserialize(v)) for k, v in item.items()}


MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's limit for one item, names and values in UTF-8


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it against its 400 KB limit: attribute names
    and string values in UTF-8 bytes (a Cyrillic or Arabic letter is 2, CJK 3), numbers
    by their digits, and 3 bytes plus one per element for lists and maps."""
    return sum(
        len(name.encode("utf-8", "surrogatepass")) + _value_size(value)
        for name, value in serialize(item).items()
    )


def utf8_prefix(text: str, limit: int) -> str:
    """The longest start of `text` that is at most `limit` bytes of UTF-8, whole
    characters only."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def _value_size(attribute: Mapping[str, Any]) -> int:
    ((kind, value),) = attribute.items()
    if kind == "S":
        return len(value.encode("utf-8", "surrogatepass"))  # a lone surrogate: counted, not a crash
    if kind == "N":
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in value)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in value)
    if kind == "M":
        return 3 + sum(
            1 + len(k.encode("utf-8", "surrogatepass")) + _value_size(v) for k, v in value.items()
        )
    raise ValueError(f"unknown DynamoDB type {kind}")


def ticket_to_item(ticket: Ticket) -> dict[str, Any]:
    created = ticket.created_at or utcnow()
    updated = ticket.updated_at or created
    return {
        **_ticket_key(ticket.id),
        "type": "ticket",
        "id": ticket.id,
        "channel": ticket.channel.value,
        "subject": ticket.subject,
        "customer_id": ticket.customer_id,
        "status": ticket.status.value,
        "priority": ticket.priority,
        "language": ticket.language,
        "queue": ticket.queue,
        "tags": list(ticket.tags),
        "participants": list(ticket.participants),
        "account": ticket.account,
        "conversation_key": ticket.conversation_key,
        "created_at": to_iso(created),
        "updated_at": to_iso(updated),
        "last_inbound_at": maybe_iso(ticket.last_inbound_at),
        "last_outbound_at": maybe_iso(ticket.last_outbound_at),
        "first_response_at": maybe_iso(ticket.first_response_at),
        "solved_at": maybe_iso(ticket.solved_at),
        "message_count": ticket.message_count,
        "version": ticket.version,
        "GSI1PK": f"CUSTOMER#{ticket.customer_id}",
        "GSI1SK": f"{to_iso(created)}#{ticket.id}",
        "GSI2PK": f"TICKETS#{ticket.status.value}#{_status_shard(ticket.id)}",
        "GSI2SK": f"{to_iso(updated)}#{ticket.id}",
        "agent": ticket.agent,
        "solved_by": ticket.solved_by,
        "expires_at": _epoch(ticket.expires_at) if ticket.expires_at else None,
        "sla": ticket.sla,
        "escalations": list(ticket.escalations) or None,
        # sparse: only a ticket with a running clock (or an escalation to publish) is
        # in the due index, so a timer run reads what is due and nothing else
        "SlaShard": sla_shard(ticket.id) if ticket.sla_due else None,
        "SlaDue": f"{to_iso(ticket.sla_due)}#{ticket.id}" if ticket.sla_due else None,
    }


def ticket_from_item(item: Mapping[str, Any]) -> Ticket:
    return Ticket(
        id=item["id"],
        channel=Channel(item["channel"]),
        subject=item.get("subject", ""),
        customer_id=item["customer_id"],
        status=TicketStatus(item["status"]),
        priority=item.get("priority", "normal"),
        language=item.get("language"),
        queue=item.get("queue"),
        tags=list(item.get("tags", [])),
        participants=list(item.get("participants", [])),
        account=item.get("account", ""),
        conversation_key=item.get("conversation_key"),
        created_at=from_iso(item["created_at"]),
        updated_at=maybe_from_iso(item.get("updated_at")),
        last_inbound_at=maybe_from_iso(item.get("last_inbound_at")),
        last_outbound_at=maybe_from_iso(item.get("last_outbound_at")),
        first_response_at=maybe_from_iso(item.get("first_response_at")),
        solved_at=maybe_from_iso(item.get("solved_at")),
        message_count=int(item.get("message_count", 0)),
        version=int(item.get("version", 0)),
        agent=item.get("agent"),
        solved_by=item.get("solved_by"),
        expires_at=datetime.fromtimestamp(int(item["expires_at"]), UTC)
        if item.get("expires_at")
        else None,
        sla=dict(item["sla"]) if item.get("sla") else None,
        sla_due=from_iso(str(item["SlaDue"]).split("#", 1)[0]) if item.get("SlaDue") else None,
        escalations=list(item.get("escalations") or []),
    )


def message_to_item(message: Message) -> dict[str, Any]:
    return {
        "PK": f"TICKET#{message.ticket_id}",
        "SK": _message_sk(message.created_at, message.id),
        "type": "message",
        "id": message.id,
        "ticket_id": message.ticket_id,
        "direction": message.direction.value,
        "channel": message.channel.value,
        "created_at": to_iso(message.created_at),
        "automatic": message.automatic,
        "author": message.author,
        "sender": message.sender,
        "recipients": list(message.recipients),
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "stripped_text": message.stripped_text,
        "language": message.language,
        "external_id": message.external_id,
        "in_reply_to": list(message.in_reply_to),
        "references": list(message.references),
        "attachments": list(message.attachments),
        "headers": dict(message.headers),
        "kind": message.kind,
        "delivery": message.delivery.value if message.delivery else None,
        "delivery_detail": message.delivery_detail or None,
        "provider_id": message.provider_id,
        "raw_ref": message.raw_ref,
        "body_ref": message.body_ref,
        "reactions": list(message.reactions),
        "edits": list(message.edits),
        "deleted": message.deleted or None,
        "cc": list(message.cc) or None,
    }


def message_from_item(item: Mapping[str, Any]) -> Message:
    delivery = item.get("delivery")
    return Message(
        id=item["id"],
        ticket_id=item["ticket_id"],
        direction=Direction(item["direction"]),
        channel=Channel(item["channel"]),
        created_at=from_iso(item["created_at"]),
        automatic=bool(item.get("automatic", False)),
        author=item.get("author", ""),
        sender=item.get("sender", ""),
        recipients=list(item.get("recipients", [])),
        subject=item.get("subject", ""),
        text=item.get("text", ""),
        html=item.get("html"),
        stripped_text=item.get("stripped_text", ""),
        language=item.get("language"),
        external_id=item.get("external_id"),
        in_reply_to=list(item.get("in_reply_to", [])),
        references=list(item.get("references", [])),
        attachments=list(item.get("attachments", [])),
        headers=dict(item.get("headers", {})),
        kind=item.get("kind", "message"),
        delivery=DeliveryStatus(delivery) if delivery else None,
        delivery_detail=item.get("delivery_detail", ""),
        provider_id=item.get("provider_id"),
        raw_ref=item.get("raw_ref"),
        body_ref=item.get("body_ref"),
        reactions=list(item.get("reactions", [])),
        edits=list(item.get("edits", [])),
        deleted=bool(item.get("deleted", False)),
        cc=list(item.get("cc") or []),
    )


def customer_to_item(customer: Customer, version: int) -> dict[str, Any]:
    return {
        **_customer_key(customer.id),
        "type": "customer",
        "id": customer.id,
        "name": customer.name,
        "identities": [str(i) for i in customer.identities],
        "language": customer.language,
        "tags": list(customer.tags),
        "undeliverable": list(customer.undeliverable),
        "created_at": maybe_iso(customer.created_at),
        "merged_into": customer.merged_into,
        "merged_from": list(customer.merged_from) or None,
        "version": version,
    }


def customer_from_item(item: Mapping[str, Any]) -> tuple[Customer, int]:
    identities = []
    for text in item.get("identities", []):
        kind, _, value = str(text).partition(":")
        identities.append(Identity(kind, value))
    customer = Customer(
        id=item["id"],
        name=item.get("name", ""),
        identities=identities,
        language=item.get("language"),
        tags=list(item.get("tags", [])),
        undeliverable=list(item.get("undeliverable", [])),
        created_at=maybe_from_iso(item.get("created_at")),
        merged_into=item.get("merged_into"),
        merged_from=list(item.get("merged_from") or []),
    )
    return customer, int(item.get("version", 0))


def event_to_item(event: TicketEvent, seq: int) -> dict[str, Any]:
    return {
        "PK": f"TICKET#{event.ticket_id}",
        "SK": f"EVENT#{to_iso(event.at)}#{seq:03d}",
        "type": "event",
        "ticket_id": event.ticket_id,
        "at": to_iso(event.at),
        "event": event.type,
        "actor": event.actor,
        "detail": dict(event.detail),
    }


def event_from_item(item: Mapping[str, Any]) -> TicketEvent:
    return TicketEvent(
        ticket_id=item["ticket_id"],
        at=from_iso(item["at"]),
        type=item["event"],
        detail=dict(item.get("detail", {})),
        actor=item.get("actor", "helpline"),
    )


# -- records that are not domain entities ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntakeRecord:
    """What happened to one inbound message: its ticket, and what is still owed.

    Written once, with the message, under the message's external id. A retried delivery
    finds it and only finishes what is owed: the routing message and the automatic reply.
    """

    channel: Channel
    external_id: str
    ticket_id: str
    message_id: str | None
    message_sk: str | None
    direction: Direction = Direction.INBOUND
    route: dict[str, Any] | None = None  # the routing message to publish (the outbox)
    routed: bool = False
    reply_state: str = "none"  # none | pending | sending | sent | unknown
    reply_message_sk: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    id: str
    channel: Channel
    reason: str  # a short code: virus, own_loop, unparseable, ...
    detail: str
    received_at: datetime
    raw_ref: str | None = None
    event: dict[str, Any] | None = None  # enough to replay it (the original event)
    external_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    replayed_at: datetime | None = None
    replay_result: str | None = None


# -- write intents ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PutTicket:
    """Create (expected_version None) or replace a ticket that is still at that version."""

    ticket: Ticket
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class PutMessage:
    message: Message


@dataclass(frozen=True, slots=True)
class ClaimExternalId:
    """Write the intake record under (channel, external id) once: dedupe and threading."""

    record: IntakeRecord


@dataclass(frozen=True, slots=True)
class PutCustomer:
    customer: Customer
    expected_version: int | None = None  # None: must not exist yet


@dataclass(frozen=True, slots=True)
class LinkIdentity:
    identity: Identity
    customer_id: str


@dataclass(frozen=True, slots=True)
class RepointIdentity:
    """Move an identity from one customer to another (a merge), if it is still the old one's."""

    identity: Identity
    from_customer: str
    to_customer: str


@dataclass(frozen=True, slots=True)
class PutEvents:
    events: tuple[TicketEvent, ...]


@dataclass(frozen=True, slots=True)
class PointConversation:
    """Point a platform conversation at its (new) ticket.

    Conditional on the pointer the intake saw (`previous_ticket_id`, None: no pointer),
    so two first messages of one conversation racing each other make one ticket: the
    loser's transaction fails, it reads again and becomes a follow-up.
    """

    channel: Channel
    conversation: str
    ticket_id: str
    previous_ticket_id: str | None


@dataclass(frozen=True, slots=True)
class AnnotateMessage:
    """Record a reaction, edit, unsend or delivery status on an existing message."""

    ticket_id: str
    message_sk: str
    reaction: dict[str, Any] | None = None
    edit: dict[str, Any] | None = None
    deleted: bool = False
    delivery: DeliveryStatus | None = None
    delivery_detail: str = ""


@dataclass(frozen=True, slots=True)
class ReserveAutoReply:
    """At most one automatic reply per customer and ticket per window, and a cap an hour."""

    customer_id: str
    ticket_id: str
    at: datetime
    window: timedelta
    hourly_cap: int


Intent = (
    PutTicket
    | PutMessage
    | ClaimExternalId
    | PutCustomer
    | LinkIdentity
    | PutEvents
    | ReserveAutoReply
    | PointConversation
    | AnnotateMessage
    | RepointIdentity
)


class TransactionConflict(ConflictError):
    """A conditional write in a transaction failed; `failed` lists the intents that lost."""

    def __init__(self, failed: list[Intent], reasons: list[str]) -> None:
        names = ", ".join(type(i).__name__ for i in failed) or "unknown"
        super().__init__(f"transaction cancelled by {names}: {'; '.join(reasons)}")
        self.failed = failed
        self.reasons = reasons

    def lost(self, kind: type) -> bool:
        return any(isinstance(intent, kind) for intent in self.failed)


# -- lookups ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lookup:
    """A record the intake may need, fetched together in one BatchGetItem."""

    kind: str  # msgid | ident | customer | ticket | autoreply_ticket | autoreply_hour
    key: tuple[str, ...]

    @classmethod
    def message(cls, channel: Channel | str, external_id: str) -> Lookup:
        return cls("msgid", (Channel(channel).value, external_id))

    @classmethod
    def identity(cls, identity: Identity) -> Lookup:
        return cls("ident", (identity.kind, identity.value))

    @classmethod
    def customer(cls, customer_id: str) -> Lookup:
        return cls("customer", (customer_id,))

    @classmethod
    def ticket(cls, ticket_id: str) -> Lookup:
        return cls("ticket", (ticket_id,))

    @classmethod
    def conversation(cls, channel: Channel | str, conversation: str) -> Lookup:
        return cls("conversation", (Channel(channel).value, conversation))

    @classmethod
    def auto_reply(cls, customer_id: str, ticket_id: str) -> Lookup:
        return cls("autoreply_ticket", (customer_id, ticket_id))

    @classmethod
    def auto_reply_hour(cls, customer_id: str, at: datetime) -> Lookup:
        return cls("autoreply_hour", (customer_id, at.strftime("%Y%m%d%H")))

    def dynamo_key(self) -> dict[str, str]:
        k = self.key
        if self.kind == "msgid":
            return _msgid_key(k[0], k[1])
        if self.kind == "ident":
            return _ident_key(Identity(k[0], k[1]))
        if self.kind == "customer":
            return _customer_key(k[0])
        if self.kind == "ticket":
            return _ticket_key(k[0])
        if self.kind == "conversation":
            return _conversation_key(k[0], k[1])
        if self.kind == "autoreply_ticket":
            return _autoreply_ticket_key(k[0], k[1])
        if self.kind == "autoreply_hour":
            return {"PK": f"AUTOREPLY#{k[0]}", "SK": f"HOUR#{k[1]}"}
        raise ValueError(f"unknown lookup kind {self.kind}")


@dataclass
class Snapshot:
    """The records found by one batch of lookups; missing ones are absent."""

    items: dict[Lookup, dict[str, Any]] = field(default_factory=dict)

    def found(self, lookup: Lookup) -> bool:
        return lookup in self.items

    def intake(self, channel: Channel | str, external_id: str) -> IntakeRecord | None:
        item = self.items.get(Lookup.message(channel, external_id))
        return intake_from_item(item) if item else None

    def customer_id_for(self, identity: Identity) -> str | None:
        item = self.items.get(Lookup.identity(identity))
        return item["customer_id"] if item else None

    def customer(self, customer_id: str) -> tuple[Customer, int] | None:
        item = self.items.get(Lookup.customer(customer_id))
        return customer_from_item(item) if item else None

    def ticket(self, ticket_id: str) -> Ticket | None:
        item = self.items.get(Lookup.ticket(ticket_id))
        return ticket_from_item(item) if item else None

    def conversation_ticket(self, channel: Channel | str, conversation: str) -> str | None:
        item = self.items.get(Lookup.conversation(channel, conversation))
        return str(item["ticket_id"]) if item else None

    def auto_reply_until(self, customer_id: str, ticket_id: str) -> int | None:
        item = self.items.get(Lookup.auto_reply(customer_id, ticket_id))
        return int(item["expires_at"]) if item else None

    def auto_replies_this_hour(self, customer_id: str, at: datetime) -> int:
        item = self.items.get(Lookup.auto_reply_hour(customer_id, at))
        return int(item.get("count", 0)) if item else 0


def intake_to_item(record: IntakeRecord) -> dict[str, Any]:
    return {
        **_msgid_key(record.channel, record.external_id),
        "type": "intake",
        "channel": record.channel.value,
        "external_id": record.external_id,
        "ticket_id": record.ticket_id,
        "message_id": record.message_id,
        "message_sk": record.message_sk,
        "direction": record.direction.value,
        "route": record.route,
        "routed": record.routed,
        "reply_state": record.reply_state,
        "reply_message_sk": record.reply_message_sk,
        "created_at": maybe_iso(record.created_at),
    }


def intake_from_item(item: Mapping[str, Any]) -> IntakeRecord:
    return IntakeRecord(
        channel=Channel(item["channel"]),
        external_id=item["external_id"],
        ticket_id=item["ticket_id"],
        message_id=item.get("message_id"),
        message_sk=item.get("message_sk"),
        direction=Direction(item.get("direction", "inbound")),
        route=item.get("route"),
        routed=bool(item.get("routed", False)),
        reply_state=item.get("reply_state", "none"),
        reply_message_sk=item.get("reply_message_sk"),
        created_at=maybe_from_iso(item.get("created_at")),
    )


def quarantine_to_item(record: QuarantineRecord) -> dict[str, Any]:
    return {
        **_quarantine_key(record.id),
        "type": "quarantine",
        "id": record.id,
        "channel": record.channel.value,
        "reason": record.reason,
        "detail": record.detail,
        "received_at": to_iso(record.received_at),
        "raw_ref": record.raw_ref,
        "event": record.event,
        "external_id": record.external_id,
        "sender": record.sender,
        "subject": record.subject,
        "replayed_at": maybe_iso(record.replayed_at),
        "replay_result": record.replay_result,
        "GSI1PK": "QUARANTINE",
        "GSI1SK": f"{to_iso(record.received_at)}#{record.id}",
    }


def quarantine_from_item(item: Mapping[str, Any]) -> QuarantineRecord:
    return QuarantineRecord(
        id=item["id"],
        channel=Channel(item["channel"]),
        reason=item["reason"],
        detail=item.get("detail", ""),
        received_at=from_iso(item["received_at"]),
        raw_ref=item.get("raw_ref"),
        event=item.get("event"),
        external_id=item.get("external_id"),
        sender=item.get("sender"),
        subject=item.get("subject"),
        replayed_at=maybe_from_iso(item.get("replayed_at")),
        replay_result=item.get("replay_result"),
    )


@dataclass
class CustomerData:
    """The raw items that hold one customer's data, for export and erasure."""

    customer_id: str
    items: list[dict[str, Any]] = field(default_factory=list)  # not in a ticket partition
    tickets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # id -> its items
    # their ids on the messaging platforms (psid, igsid, wa_id, telegram, x): what marks
    # their events in a kept delivery that other customers' events share
    platform_ids: set[str] = field(default_factory=set)

    def all_items(self) -> list[dict[str, Any]]:
        return [*self.items, *(i for items in self.tickets.values() for i in items)]

    def s3_refs(self) -> list[str]:
        """Every S3 object these items point at: raw mail and deliveries, attachments,
        bodies kept outside the item."""
        refs: list[str] = []
        for item in self.all_items():
            if item.get("raw_ref"):
                refs.append(str(item["raw_ref"]))
            if item.get("body_ref"):
                refs.append(str(item["body_ref"]))
            for attachment in item.get("attachments") or []:
                if isinstance(attachment, dict) and attachment.get("key"):
                    refs.append(str(attachment["key"]))
        return list(dict.fromkeys(refs))


@dataclass(frozen=True, slots=True)
class TicketBundle:
    ticket: Ticket
    messages: list[Message]
    events: list[TicketEvent]


# -- the repository ------------------------------------------------------------------------------


class TicketStore:
    """Reads and writes tickets, messages, customers and intake records.

    The client is injected (or built lazily on first use), so importing and
    constructing a store costs nothing and tests pass moto's or a stubbed client.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        client_factory: Callable[[], DynamoDBClient] | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3

                self._client = boto3.client("dynamodb")
        return self._client

    # -- single items -----------------------------------------------------------------

    def _get(self, key: Mapping[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=serialize(key), ConsistentRead=consistent
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        item = self._get(_ticket_key(ticket_id))
        return ticket_from_item(item) if item else None

    def get_customer(self, customer_id: str) -> tuple[Customer, int] | None:
        item = self._get(_customer_key(customer_id))
        return customer_from_item(item) if item else None

    def find_customer_id(self, identity: Identity) -> str | None:
        item = self._get(_ident_key(identity))
        return item["customer_id"] if item else None

    def get_intake(self, channel: Channel | str, external_id: str) -> IntakeRecord | None:
        item = self._get(_msgid_key(channel, external_id))
        return intake_from_item(item) if item else None

    def get_message(self, ticket_id: str, message_sk: str) -> Message | None:
        item = self._get({"PK": f"TICKET#{ticket_id}", "SK": message_sk})
        return message_from_item(item) if item else None

    def get_quarantine(self, record_id: str) -> QuarantineRecord | None:
        item = self._get(_quarantine_key(record_id))
        return quarantine_from_item(item) if item else None

    # -- batches and queries ---------------------------------------------------------------

    def lookup(self, lookups: Iterable[Lookup]) -> Snapshot:
        """Fetch every record in one BatchGetItem (more only past 100 keys or on throttling)."""
        wanted: dict[tuple[str, str], Lookup] = {}
        for lookup in lookups:
            key = lookup.dynamo_key()
            wanted[(key["PK"], key["SK"])] = lookup
        snapshot = Snapshot()
        pending = [{"PK": pk, "SK": sk} for pk, sk in wanted]
        delay = 0.05
        while pending:
            chunk, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {
                self.table_name: {"Keys": [serialize(k) for k in chunk], "ConsistentRead": True}
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table_name, []):
                    item = deserialize(raw)
                    snapshot.items[wanted[(item["PK"], item["SK"])]] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    _time.sleep(delay)
                    delay = min(delay * 2, 1.0)
        return snapshot

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator_args = {"TableName": self.table_name, **kwargs}
        while True:
            response = self.client.query(**paginator_args)
            for raw in response.get("Items", []):
                yield deserialize(raw)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            paginator_args["ExclusiveStartKey"] = last

    def ticket_bundle(self, ticket_id: str) -> TicketBundle | None:
        """The ticket with its messages and events, in one query of its partition."""
        ticket = None
        messages: list[Message] = []
        events: list[TicketEvent] = []
        for item in self._query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=serialize({":pk": f"TICKET#{ticket_id}"}),
            ConsistentRead=True,
        ):
            kind = item.get("type")
            if kind == "ticket":
                ticket = ticket_from_item(item)
            elif kind == "message":
                messages.append(message_from_item(item))
            elif kind == "event":
                events.append(event_from_item(item))
        if ticket is None:
            return None
        return TicketBundle(ticket, messages, events)

    def messages_after(self, ticket_id: str, after_sk: str | None) -> list[Message]:
        """A ticket's messages after the one with sort key `after_sk` (all when None)."""
        condition = "PK = :pk AND SK > :after" if after_sk else "PK = :pk AND begins_with(SK, :m)"
        values = {":pk": f"TICKET#{ticket_id}"}
        values.update({":after": after_sk} if after_sk else {":m": "MSG#"})
        return [
            message_from_item(item)
            for item in self._query(
                KeyConditionExpression=condition,
                ExpressionAttributeValues=serialize(values),
                ConsistentRead=True,
            )
            if item.get("type") == "message"
        ]

    def list_tickets(
        self, statuses: Sequence[TicketStatus] | None = None, *, limit: int = 100
    ) -> list[Ticket]:
        """Tickets in the given statuses, most recently updated first."""
        wanted = statuses or list(TicketStatus)
        found: list[dict[str, Any]] = []
        for status in wanted:
            for shard in range(STATUS_SHARDS):
                query = self._query(
                    IndexName="GSI2",
                    KeyConditionExpression="GSI2PK = :pk",
                    ExpressionAttributeValues=serialize({":pk": f"TICKETS#{status.value}#{shard}"}),
                    ScanIndexForward=False,
                    Limit=limit,
                )
                for count, item in enumerate(query):
                    if count >= limit:
                        break
                    found.append(item)
        found.sort(key=lambda item: item["GSI2SK"], reverse=True)
        return [ticket_from_item(item) for item in found[:limit]]

    def due_tickets(self, shard: int, until: datetime, *, limit: int = 500) -> list[Ticket]:
        """Tickets of one due-index shard whose next SLA moment is at or before `until`,
        earliest first: what one timer pass must look at, read from the sparse index."""
        tickets = []
        for item in self._query(
            IndexName="SlaDue",
            KeyConditionExpression="SlaShard = :shard AND SlaDue <= :until",
            ExpressionAttributeValues=serialize(
                {":shard": f"SLA#{shard}", ":until": f"{to_iso(until)}#~"}
            ),
        ):
            tickets.append(ticket_from_item(item))
            if len(tickets) >= limit:
                break
        return tickets

    def customer_tickets(self, customer_id: str, *, limit: int = 50) -> list[Ticket]:
        items = self._query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=serialize({":pk": f"CUSTOMER#{customer_id}"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        tickets = []
        for item in items:
            tickets.append(ticket_from_item(item))
            if len(tickets) >= limit:
                break
        return tickets

    def list_quarantine(self, *, limit: int = 100) -> list[QuarantineRecord]:
        records = []
        for item in self._query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=serialize({":pk": "QUARANTINE"}),
            ScanIndexForward=False,
        ):
            records.append(quarantine_from_item(item))
            if len(records) >= limit:
                break
        return records

    # -- writes ------------------------------------------------------------------------------

    def transact(self, intents: Sequence[Intent]) -> None:
        """Write every intent or none. Raises TransactionConflict naming what lost."""
        items: list[dict[str, Any]] = []
        owners: list[Intent] = []
        for intent in intents:
            for item in self._transact_items(intent):
                items.append(item)
                owners.append(intent)
        if not items:
            return
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])
            failed: list[Intent] = []
            texts: list[str] = []
            for owner, reason in zip(owners, reasons, strict=False):
                code = reason.get("Code", "None")
                if code not in ("None", None):
                    if owner not in failed:
                        failed.append(owner)
                    texts.append(f"{type(owner).__name__}: {code}")
            # throttling or a conflicting transaction is ours to retry, not a lost condition
            if not any("ConditionalCheckFailed" in t for t in texts):
                raise
            raise TransactionConflict(failed, texts) from exc

    def _transact_items(self, intent: Intent) -> list[dict[str, Any]]:
        table = self.table_name
        if isinstance(intent, PutTicket):
            item = ticket_to_item(intent.ticket)
            if intent.expected_version is None:
                item["version"] = 0
                return [_put(table, item, "attribute_not_exists(PK)")]
            item["version"] = intent.expected_version + 1
            return [
                _put(
                    table,
                    item,
                    "#v = :v",
                    names={"#v": "version"},
                    values={":v": intent.expected_version},
                )
            ]
        if isinstance(intent, PutMessage):
            return [_put(table, message_to_item(intent.message), "attribute_not_exists(PK)")]
        if isinstance(intent, ClaimExternalId):
            return [_put(table, intake_to_item(intent.record), "attribute_not_exists(PK)")]
        if isinstance(intent, PutCustomer):
            version = 0 if intent.expected_version is None else intent.expected_version + 1
            item = customer_to_item(intent.customer, version)
            if intent.expected_version is None:
                return [_put(table, item, "attribute_not_exists(PK)")]
            return [
                _put(
                    table,
                    item,
                    "#v = :v",
                    names={"#v": "version"},
                    values={":v": intent.expected_version},
                )
            ]
        if isinstance(intent, LinkIdentity):
            item = {
                **_ident_key(intent.identity),
                "type": "identity",
                "kind": intent.identity.kind,
                "value": intent.identity.value,
                "customer_id": intent.customer_id,
            }
            return [
                _put(
                    table,
                    item,
                    "attribute_not_exists(PK) OR customer_id = :c",
                    values={":c": intent.customer_id},
                )
            ]
        if isinstance(intent, PutEvents):
            return [
                _put(table, event_to_item(event, seq), None)
                for seq, event in enumerate(intent.events)
            ]
        if isinstance(intent, PointConversation):
            item = {
                **_conversation_key(intent.channel, intent.conversation),
                "type": "conversation",
                "channel": intent.channel.value,
                "conversation": intent.conversation,
                "ticket_id": intent.ticket_id,
            }
            if intent.previous_ticket_id is None:
                return [_put(table, item, "attribute_not_exists(PK)")]
            return [
                _put(
                    table,
                    item,
                    "ticket_id = :previous",
                    values={":previous": intent.previous_ticket_id},
                )
            ]
        if isinstance(intent, AnnotateMessage):
            return [_annotation_update(table, intent)]
        if isinstance(intent, RepointIdentity):
            item = {
                **_ident_key(intent.identity),
                "type": "identity",
                "kind": intent.identity.kind,
                "value": intent.identity.value,
                "customer_id": intent.to_customer,
            }
            return [
                _put(
                    table,
                    item,
                    "attribute_not_exists(PK) OR customer_id = :old OR customer_id = :new",
                    values={":old": intent.from_customer, ":new": intent.to_customer},
                )
            ]
        if isinstance(intent, ReserveAutoReply):
            now = _epoch(intent.at)
            until = _epoch(intent.at + intent.window)
            limit_item = {
                **_autoreply_ticket_key(intent.customer_id, intent.ticket_id),
                "type": "autoreply",
                "last_at": to_iso(intent.at),
                "expires_at": until,
            }
            hour_key = _autoreply_hour_key(intent.customer_id, intent.at)
            return [
                _put(
                    table,
                    limit_item,
                    "attribute_not_exists(PK) OR expires_at <= :now",
                    values={":now": now},
                ),
                {
                    "Update": {
                        "TableName": table,
                        "Key": serialize(hour_key),
                        "UpdateExpression": "ADD #n :one SET expires_at = :exp",
                        "ConditionExpression": "attribute_not_exists(#n) OR #n < :cap",
                        "ExpressionAttributeNames": {"#n": "count"},
                        "ExpressionAttributeValues": serialize(
                            {":one": 1, ":cap": intent.hourly_cap, ":exp": now + 7200}
                        ),
                    }
                },
            ]
        raise TypeError(f"unknown intent {intent!r}")

    def update_intake(
        self,
        channel: Channel | str,
        external_id: str,
        *,
        routed: bool | None = None,
        reply_from: str | None = None,
        reply_to: str | None = None,
    ) -> bool:
        """Move an intake record forward. A reply-state move only happens from
        `reply_from`; returns False when another run got there first."""
        sets: list[str] = []
        values: dict[str, Any] = {}
        condition = "attribute_exists(PK)"
        if routed is not None:
            sets.append("routed = :routed")
            values[":routed"] = routed
        if reply_to is not None:
            sets.append("reply_state = :to")
            values[":to"] = reply_to
            if reply_from is not None:
                condition += " AND reply_state = :from"
                values[":from"] = reply_from
        if not sets:
            return True
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=serialize(_msgid_key(channel, external_id)),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def reserve_automatic_mail(self, at: datetime, *, per_hour: int) -> bool:
        """Count one automatic mail in this hour, for everyone together; False (and
        nothing counted) once `per_hour` have gone. A conditional update: concurrent
        functions cannot together pass the cap."""
        return self._count_below(_automatic_mail_hour_key(at), per_hour, _epoch(at) + 7200)

    def reserve_mail_to(self, address: str, at: datetime, *, per_day: int) -> bool:
        """Count one chat mail (a transcript or a verification code) to `address`
        today; False once `per_day` have gone there, from whichever chats."""
        return self._count_below(_mail_to_day_key(address, at), per_day, _epoch(at) + 2 * 86400)

    def _count_below(self, key: Mapping[str, str], cap: int, expires_at: int) -> bool:
        if cap <= 0:  # the condition below lets a first one through
            return False
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=serialize(key),
                UpdateExpression="ADD #n :one SET expires_at = :exp, #t = :type",
                ConditionExpression="attribute_not_exists(#n) OR #n < :cap",
                ExpressionAttributeNames={"#n": "count", "#t": "type"},
                ExpressionAttributeValues=serialize(
                    {":one": 1, ":cap": cap, ":exp": expires_at, ":type": "mail_limit"}
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def finish_reply(
        self,
        channel: Channel | str,
        external_id: str,
        message: Message,
        *,
        state: DeliveryStatus,
        provider_id: str | None,
        detail: str = "",
        event: TicketEvent | None = None,
    ) -> None:
        """Record a reply's outcome on its message and on the intake record together."""
        msg_key = {
            "PK": f"TICKET#{message.ticket_id}",
            "SK": _message_sk(message.created_at, message.id),
        }
        reply_state = "sent" if state is DeliveryStatus.SENT else state.value
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": serialize(_msgid_key(channel, external_id)),
                    "UpdateExpression": "SET reply_state = :s",
                    "ExpressionAttributeValues": serialize({":s": reply_state}),
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": serialize(msg_key),
                    "UpdateExpression": "SET delivery = :d, provider_id = :p, delivery_detail = :x",
                    "ExpressionAttributeValues": serialize(
                        {":d": state.value, ":p": provider_id or "", ":x": detail or ""}
                    ),
                }
            },
        ]
        if event is not None:
            items.append(_put(self.table_name, event_to_item(event, 900), None))
        self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]

    def set_delivery(
        self,
        message: Message,
        *,
        state: DeliveryStatus,
        provider_id: str | None = None,
        detail: str = "",
    ) -> None:
        msg_key = {
            "PK": f"TICKET#{message.ticket_id}",
            "SK": _message_sk(message.created_at, message.id),
        }
        self.client.update_item(
            TableName=self.table_name,
            Key=serialize(msg_key),
            UpdateExpression="SET delivery = :d, provider_id = :p, delivery_detail = :x",
            ExpressionAttributeValues=serialize(
                {":d": state.value, ":p": provider_id or "", ":x": detail or ""}
            ),
        )

    # -- everything about one customer (export, erasure) ---------------------------------------

    def customer_data(self, customer_id: str) -> CustomerData:
        """Every item that holds this customer's data, found through the keys and indexes
        (their profile, identities, tickets with messages and events, the thread and
        dedupe records of those messages, conversation pointers, chat sessions, surveys
        and answers, rate-limit records), and the same of every profile merged into
        theirs: never a scan."""
        data = CustomerData(customer_id)
        pending, seen = [customer_id], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            merged_from = self._collect(current, data)
            pending.extend(merged_from)
        return data

    def _collect(self, customer_id: str, data: CustomerData) -> list[str]:
        """One profile's items into `data`; the ids of the profiles merged into it."""
        from functions.core.channels.chat import session_of

        profile = self._get(_customer_key(customer_id))
        if profile is None:
            return []
        data.items.append(profile)
        customer, _ = customer_from_item(profile)
        data.platform_ids.update(i.value for i in customer.identities if i.kind != "email")
        for identity in customer.identities:
            found = self._get(_ident_key(identity))
            if found is not None and found.get("customer_id") == customer_id:
                data.items.append(found)
        surveyed = self._get({"PK": f"CUSTOMER#{customer_id}", "SK": "SURVEYED"})
        if surveyed is not None:
            data.items.append(surveyed)
        for item in self._query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=serialize({":pk": f"AUTOREPLY#{customer_id}"}),
        ):
            data.items.append(item)
        for ticket in self.customer_tickets(customer_id, limit=10_000):
            partition = list(
                self._query(
                    KeyConditionExpression="PK = :pk",
                    ExpressionAttributeValues=serialize({":pk": f"TICKET#{ticket.id}"}),
                    ConsistentRead=True,
                )
            )
            data.tickets[ticket.id] = partition
            extra_keys = [_autoreply_ticket_key(customer_id, ticket.id)]
            if ticket.conversation_key:
                extra_keys.append(_conversation_key(ticket.channel, ticket.conversation_key))
                session = session_of(ticket.conversation_key)
                if session:
                    extra_keys.append({"PK": f"CHATSESSION#{session}", "SK": "SESSION"})
            for item in partition:
                if item.get("type") != "message":
                    continue
                for external in (item.get("external_id"), item.get("provider_id")):
                    if external:
                        extra_keys.append(_msgid_key(item["channel"], str(external)))
            for key in extra_keys:
                found = self._get(key)
                if found is not None and found.get("ticket_id", ticket.id) == ticket.id:
                    data.items.append(found)
        for survey in self._query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=serialize({":pk": f"CUSTOMER#{customer_id}#SURVEYS"}),
        ):
            data.items.append(survey)
            response = self._get({"PK": survey["PK"], "SK": "RESPONSE"})
            if response is not None:
                data.items.append(response)
        return list(customer.merged_from)

    def delete_items(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Delete items by their keys, 25 to a batch (retrying what DynamoDB leaves)."""
        keys = list({(str(i["PK"]), str(i["SK"])): None for i in items})
        delay = 0.05
        for start in range(0, len(keys), 25):
            request: dict[str, Any] = {
                self.table_name: [
                    {"DeleteRequest": {"Key": serialize({"PK": pk, "SK": sk})}}
                    for pk, sk in keys[start : start + 25]
                ]
            }
            while request:
                response = self.client.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if request:
                    _time.sleep(delay)
                    delay = min(delay * 2, 1.0)
        return len(keys)

    def solved_before(self, cutoff: datetime, *, limit: int = 200) -> list[Ticket]:
        """Solved tickets last changed before `cutoff`, oldest first (to close them)."""
        found: list[Ticket] = []
        for shard in range(STATUS_SHARDS):
            for item in self._query(
                IndexName="GSI2",
                KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :cutoff",
                ExpressionAttributeValues=serialize(
                    {":pk": f"TICKETS#solved#{shard}", ":cutoff": to_iso(cutoff)}
                ),
                Limit=limit,
            ):
                found.append(ticket_from_item(item))
                if len(found) >= limit:
                    return found
        return found

    def expire_partition(self, ticket_id: str, expires_at: datetime) -> int:
        """Give every item of a ticket (it, its messages and events) a TTL."""
        count = 0
        for item in self._query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=serialize({":pk": f"TICKET#{ticket_id}"}),
        ):
            self.client.update_item(
                TableName=self.table_name,
                Key=serialize({"PK": item["PK"], "SK": item["SK"]}),
                UpdateExpression="SET expires_at = :exp",
                ExpressionAttributeValues=serialize({":exp": _epoch(expires_at)}),
            )
            count += 1
        return count

    def put_event(self, event: TicketEvent) -> None:
        """One event on a ticket's log, outside any ticket change (chat routing, surveys).
        A random sequence keeps two events of the same microsecond apart."""
        import secrets

        self.client.put_item(
            TableName=self.table_name,
            Item=serialize(event_to_item(event, 100 + secrets.randbelow(800))),
        )

    def record_outbound_id(self, message: Message, provider_id: str) -> None:
        """Remember a platform's id for a message we sent, so its delivery and read
        statuses, and the platform's echo of it, find the message. Idempotent."""
        record = IntakeRecord(
            channel=message.channel,
            external_id=provider_id,
            ticket_id=message.ticket_id,
            message_id=message.id,
            message_sk=_message_sk(message.created_at, message.id),
            direction=Direction.OUTBOUND,
            created_at=utcnow(),
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(intake_to_item(record)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def put_quarantine(self, record: QuarantineRecord) -> bool:
        """Keep a record of input we did not process. Idempotent: False if already kept."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(quarantine_to_item(record)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_replayed(self, record_id: str, result: str, at: datetime) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key=serialize(_quarantine_key(record_id)),
            UpdateExpression="SET replayed_at = :at, replay_result = :r",
            ExpressionAttributeValues=serialize({":at": to_iso(at), ":r": result}),
        )

    @staticmethod
    def message_sk(message: Message) -> str:
        return _message_sk(message.created_at, message.id)


def _annotation_update(table: str, intent: AnnotateMessage) -> dict[str, Any]:
    sets: list[str] = []
    values: dict[str, Any] = {":empty": []}
    names: dict[str, str] = {}
    if intent.reaction is not None:
        sets.append("reactions = list_append(if_not_exists(reactions, :empty), :reaction)")
        values[":reaction"] = [intent.reaction]
    if intent.edit is not None:
        sets.append("edits = list_append(if_not_exists(edits, :empty), :edit)")
        values[":edit"] = [intent.edit]
    if intent.deleted:
        sets.append("deleted = :true")
        values[":true"] = True
    if intent.delivery is not None:
        sets.append("#d = :delivery, delivery_detail = :detail")
        names["#d"] = "delivery"
        values[":delivery"] = intent.delivery.value
        values[":detail"] = intent.delivery_detail
    if not any(":empty" in part for part in sets):
        del values[":empty"]
    update: dict[str, Any] = {
        "TableName": table,
        "Key": serialize({"PK": f"TICKET#{intent.ticket_id}", "SK": intent.message_sk}),
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeValues": serialize(values),
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


def _put(
    table: str,
    item: Mapping[str, Any],
    condition: str | None,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": serialize(item)}
    if condition:
        put["ConditionExpression"] = condition
    if names:
        put["ExpressionAttributeNames"] = dict(names)
    if values:
        put["ExpressionAttributeValues"] = serialize(values)
    return {"Put": put}
