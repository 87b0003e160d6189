"""The chat records in the ticket table: sessions, connections, agent presence, queues.

Key shapes (the ticket side is in store.py; docs/architecture.md has the whole map):

    PK                         SK              what
    CHATSESSION#<session>      SESSION         a chat: visitor, state, ticket, agent, connection
                                               (TTL: a day after its last token expires)
                                               GSI2 while waiting: CHATQ#<team> / <since>#<session>
                                               GSI1 while assigned: AGENTCHATS#<email> / <since>#<session>
    CONN#<connection>          CONN            one WebSocket connection (TTL: $disconnect is best-effort)
    AGENT#<email>              PRESENCE        status, languages, max_chats, active, chats, connection
    AGENT#<email>              LANG#<lang>     only while online: GSI2 ONLINE#<lang> / <active>#<email>
    CHATSTATS#<team>           HANDLE          recent handle times, for wait estimates
    RATE#<connection>          S#<epoch sec>   actions this second (TTL), for flood control

A session item's `expires_at` is the table's TTL; DynamoDB deletes expired items up
to days late, so the reads given `now` treat an expired session as gone themselves.

Queue position is a COUNT query on the queue's index partition below one's own sort
key, and the wait estimate uses recorded handle times: nothing here scans the table.
Agent capacity is claimed with a conditional update (`active < max_chats`), so two
chats arriving at once cannot both take an agent's last slot. Each slot names its chat
(the `chats` set, counted by `active`), so a retry after a failure midway claims or
frees it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.core.store import deserialize, serialize
from functions.core.timeutil import from_iso, maybe_from_iso, maybe_iso, to_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONNECTION_TTL = timedelta(hours=2, minutes=15)  # API Gateway closes connections at 2 h
RECENT_HANDLE_TIMES = 20


def _session_key(session_id: str) -> dict[str, str]:
    return {"PK": f"CHATSESSION#{session_id}", "SK": "SESSION"}


def _connection_key(connection_id: str) -> dict[str, str]:
    return {"PK": f"CONN#{connection_id}", "SK": "CONN"}


def _presence_key(email: str) -> dict[str, str]:
    return {"PK": f"AGENT#{email}", "SK": "PRESENCE"}


def _queue_partition(team: str) -> str:
    return f"CHATQ#{team}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass(slots=True)
class ChatSession:
    id: str
    visitor_id: str
    state: str = "new"  # new | bot | queued | assigned | after_hours | closed
    created_at: datetime | None = None
    locale: str | None = None
    page: dict[str, Any] = field(default_factory=dict)
    hello_at: datetime | None = None
    ticket_id: str | None = None
    language: str | None = None
    team: str | None = None  # the queue it waits in (or waited in)
    overflowed: bool = False
    queued_at: datetime | None = None
    agent: str | None = None  # the assigned agent's email
    assigned_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    connection_id: str | None = None  # the customer's current connection
    disconnected_at: datetime | None = None
    contact_name: str = ""
    contact_email: str | None = None
    agent_replied: bool = False
    rating: int | None = None
    preview: str = ""  # the customer's first words, for the agents' waiting list
    expires_at: datetime | None = None  # the table's TTL; None only on items from before it
    version: int = 0
    # the transcript by email: only to an address the visitor proved is theirs (a code
    # mailed there, typed back), at most once a chat; `transcript_mails` counts every
    # mail sent for it, codes and the transcript
    verify_email: str | None = None  # where the pending code went
    verify_code: str | None = None  # its hash, never the code
    verify_expires_at: datetime | None = None
    verify_attempts: int = 0
    verified_email: str | None = None
    transcript_mails: int = 0
    transcript_sent_at: datetime | None = None
    transcript_to: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class Connection:
    id: str
    role: str  # customer | agent
    session_id: str | None = None
    agent: str | None = None
    connected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    email: str
    status: str = "offline"  # online | away | offline
    languages: tuple[str, ...] = ()
    max_chats: int = 0
    active: int = 0
    connection_id: str | None = None
    updated_at: datetime | None = None


def session_to_item(session: ChatSession) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_session_key(session.id),
        "type": "chat_session",
        "id": session.id,
        "visitor_id": session.visitor_id,
        "state": session.state,
        "created_at": maybe_iso(session.created_at),
        "locale": session.locale,
        "page": dict(session.page),
        "hello_at": maybe_iso(session.hello_at),
        "ticket_id": session.ticket_id,
        "language": session.language,
        "team": session.team,
        "overflowed": session.overflowed or None,
        "queued_at": maybe_iso(session.queued_at),
        "agent": session.agent,
        "assigned_at": maybe_iso(session.assigned_at),
        "closed_at": maybe_iso(session.closed_at),
        "closed_by": session.closed_by,
        "connection_id": session.connection_id,
        "disconnected_at": maybe_iso(session.disconnected_at),
        "contact_name": session.contact_name or None,
        "contact_email": session.contact_email,
        "agent_replied": session.agent_replied or None,
        "rating": session.rating,
        "preview": session.preview or None,
        "expires_at": _epoch(session.expires_at) if session.expires_at else None,
        "version": session.version,
        "verify_email": session.verify_email,
        "verify_code": session.verify_code,
        "verify_expires_at": maybe_iso(session.verify_expires_at),
        "verify_attempts": session.verify_attempts or None,
        "verified_email": session.verified_email,
        "transcript_mails": session.transcript_mails or None,
        "transcript_sent_at": maybe_iso(session.transcript_sent_at),
        "transcript_to": session.transcript_to,
    }
    if session.state == "queued" and session.team and session.queued_at:
        item["GSI2PK"] = _queue_partition(session.team)
        item["GSI2SK"] = f"{to_iso(session.queued_at)}#{session.id}"
    if session.state == "assigned" and session.agent and session.assigned_at:
        item["GSI1PK"] = f"AGENTCHATS#{session.agent}"
        item["GSI1SK"] = f"{to_iso(session.assigned_at)}#{session.id}"
    return item


def session_from_item(item: Mapping[str, Any]) -> ChatSession:
    return ChatSession(
        id=item["id"],
        visitor_id=item["visitor_id"],
        state=item.get("state", "new"),
        created_at=maybe_from_iso(item.get("created_at")),
        locale=item.get("locale"),
        page=dict(item.get("page") or {}),
        hello_at=maybe_from_iso(item.get("hello_at")),
        ticket_id=item.get("ticket_id"),
        language=item.get("language"),
        team=item.get("team"),
        overflowed=bool(item.get("overflowed", False)),
        queued_at=maybe_from_iso(item.get("queued_at")),
        agent=item.get("agent"),
        assigned_at=maybe_from_iso(item.get("assigned_at")),
        closed_at=maybe_from_iso(item.get("closed_at")),
        closed_by=item.get("closed_by"),
        connection_id=item.get("connection_id"),
        disconnected_at=maybe_from_iso(item.get("disconnected_at")),
        contact_name=item.get("contact_name") or "",
        contact_email=item.get("contact_email"),
        agent_replied=bool(item.get("agent_replied", False)),
        rating=item.get("rating"),
        preview=item.get("preview") or "",
        expires_at=datetime.fromtimestamp(int(item["expires_at"]), UTC)
        if item.get("expires_at")
        else None,
        version=int(item.get("version", 0)),
        verify_email=item.get("verify_email"),
        verify_code=item.get("verify_code"),
        verify_expires_at=maybe_from_iso(item.get("verify_expires_at")),
        verify_attempts=int(item.get("verify_attempts", 0)),
        verified_email=item.get("verified_email"),
        transcript_mails=int(item.get("transcript_mails", 0)),
        transcript_sent_at=maybe_from_iso(item.get("transcript_sent_at")),
        transcript_to=item.get("transcript_to"),
    )


def _presence_from_item(item: Mapping[str, Any]) -> Presence:
    return Presence(
        email=item["email"],
        status=item.get("status", "offline"),
        languages=tuple(item.get("languages", [])),
        max_chats=int(item.get("max_chats", 0)),
        active=int(item.get("active", 0)),
        connection_id=item.get("connection_id"),
        updated_at=maybe_from_iso(item.get("updated_at")),
    )


class SessionConflict(Exception):
    """The session changed since it was read (another connection or agent got there)."""


class ChatStore:
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

    def _get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=serialize(key), ConsistentRead=True
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        args = {"TableName": self.table_name, **kwargs}
        while True:
            response = self.client.query(**args)
            for raw in response.get("Items", []):
                yield deserialize(raw)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            args["ExclusiveStartKey"] = last

    # -- sessions -------------------------------------------------------------------------

    def get_session(self, session_id: str, *, now: datetime | None = None) -> ChatSession | None:
        """The session; with `now`, None once it has expired (TTL deletion lags by up to
        days). Without `now` an expired item is still read, for what it keeps after the
        chat (the address a customer left)."""
        item = self._get(_session_key(session_id))
        session = session_from_item(item) if item else None
        if session is None or (now is not None and session.expired(now)):
            return None
        return session

    def put_session(self, session: ChatSession, *, expected_version: int | None) -> ChatSession:
        """Create (expected_version None) or replace a session still at that version."""
        stored = replace(session, version=0 if expected_version is None else expected_version + 1)
        condition = "attribute_not_exists(PK)" if expected_version is None else "#v = :v"
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": serialize(session_to_item(stored)),
            "ConditionExpression": condition,
        }
        if expected_version is not None:
            args["ExpressionAttributeNames"] = {"#v": "version"}
            args["ExpressionAttributeValues"] = serialize({":v": expected_version})
        try:
            self.client.put_item(**args)
        except ClientError as exc:
            if _conditional_failed(exc):
                raise SessionConflict(session.id) from exc
            raise
        return stored

    def update_session(
        self,
        session_id: str,
        change: Callable[[ChatSession], ChatSession | None],
        *,
        now: datetime | None = None,
        tries: int = 5,
    ) -> ChatSession | None:
        """Read, change, write with the version check; re-read on a lost race.
        `change` returns None to leave the session as it is. With `now` an expired
        session is gone (None) and never written back to life."""
        for _ in range(tries):
            current = self.get_session(session_id, now=now)
            if current is None:
                return None
            changed = change(replace(current, page=dict(current.page)))
            if changed is None:
                return current
            try:
                return self.put_session(changed, expected_version=current.version)
            except SessionConflict:
                continue
        raise SessionConflict(session_id)

    def queue(self, team: str, *, now: datetime | None = None) -> list[ChatSession]:
        """The chats waiting for a team, oldest first (with `now`, the unexpired ones)."""
        found = (
            session_from_item(item)
            for item in self._query(
                IndexName="GSI2",
                KeyConditionExpression="GSI2PK = :pk",
                ExpressionAttributeValues=serialize({":pk": _queue_partition(team)}),
            )
        )
        return [s for s in found if now is None or not s.expired(now)]

    def queue_position(self, session: ChatSession, *, now: datetime | None = None) -> int:
        """1 for the next chat to be answered: a count of those waiting longer (with
        `now`, of the unexpired ones)."""
        if session.state != "queued" or not session.team or not session.queued_at:
            return 0
        count = 0
        values: dict[str, Any] = {
            ":pk": _queue_partition(session.team),
            ":mine": f"{to_iso(session.queued_at)}#{session.id}",
        }
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :pk AND GSI2SK < :mine",
            "Select": "COUNT",
        }
        if now is not None:  # COUNT counts what passes the filter
            args["FilterExpression"] = "attribute_not_exists(expires_at) OR expires_at > :now"
            values[":now"] = _epoch(now)
        args["ExpressionAttributeValues"] = serialize(values)
        while True:
            response = self.client.query(**args)
            count += int(response.get("Count", 0))
            last = response.get("LastEvaluatedKey")
            if not last:
                return count + 1
            args["ExclusiveStartKey"] = last

    def agent_sessions(self, email: str, *, now: datetime | None = None) -> list[ChatSession]:
        """The chats assigned to an agent (with `now`, the unexpired ones)."""
        found = (
            session_from_item(item)
            for item in self._query(
                IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues=serialize({":pk": f"AGENTCHATS#{email}"}),
            )
        )
        return [s for s in found if now is None or not s.expired(now)]

    # -- connections ------------------------------------------------------------------------

    def put_connection(self, connection: Connection, *, now: datetime) -> None:
        item = {
            **_connection_key(connection.id),
            "type": "chat_connection",
            "id": connection.id,
            "role": connection.role,
            "session_id": connection.session_id,
            "agent": connection.agent,
            "connected_at": to_iso(connection.connected_at or now),
            "expires_at": _epoch(now + CONNECTION_TTL),
        }
        self.client.put_item(TableName=self.table_name, Item=serialize(item))

    def get_connection(self, connection_id: str, *, now: datetime) -> Connection | None:
        item = self._get(_connection_key(connection_id))
        # TTL deletion lags by up to days: an expired record is already gone for us
        if item is None or int(item.get("expires_at", 0)) <= _epoch(now):
            return None
        return Connection(
            id=item["id"],
            role=item["role"],
            session_id=item.get("session_id"),
            agent=item.get("agent"),
            connected_at=maybe_from_iso(item.get("connected_at")),
        )

    def delete_connection(self, connection_id: str) -> None:
        self.client.delete_item(
            TableName=self.table_name, Key=serialize(_connection_key(connection_id))
        )

    def allow_action(self, connection_id: str, *, now: datetime, per_second: int) -> bool:
        """Count this action in its second; False once the connection is over the limit."""
        second = _epoch(now)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=serialize({"PK": f"RATE#{connection_id}", "SK": f"S#{second}"}),
                UpdateExpression="ADD #n :one SET expires_at = :exp",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "count"},
                ExpressionAttributeValues=serialize(
                    {":one": 1, ":limit": per_second, ":exp": second + 120}
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    # -- agents ------------------------------------------------------------------------------

    def get_presence(self, email: str) -> Presence | None:
        item = self._get(_presence_key(email))
        return _presence_from_item(item) if item else None

    def set_presence(
        self,
        email: str,
        *,
        status: str,
        languages: Sequence[str],
        max_chats: int,
        connection_id: str | None,
        now: datetime,
    ) -> Presence:
        """Set an agent's status, keeping their count of active chats."""
        values: dict[str, Any] = {
            ":type": "agent_presence",
            ":email": email,
            ":status": status,
            ":langs": list(languages),
            ":max": max_chats,
            ":at": to_iso(now),
            ":zero": 0,
        }
        expression = (
            "SET #t = :type, email = :email, #s = :status, languages = :langs, "
            "max_chats = :max, updated_at = :at, active = if_not_exists(active, :zero)"
        )
        if connection_id is None:  # gone: a null value would not even be sent
            expression += " REMOVE connection_id"
        else:
            expression += ", connection_id = :conn"
            values[":conn"] = connection_id
        response = self.client.update_item(
            TableName=self.table_name,
            Key=serialize(_presence_key(email)),
            UpdateExpression=expression,
            ExpressionAttributeNames={"#t": "type", "#s": "status"},
            ExpressionAttributeValues=serialize(values),
            ReturnValues="ALL_NEW",
        )
        presence = _presence_from_item(deserialize(response["Attributes"]))
        self._index_presence(presence)
        return presence

    def _index_presence(self, presence: Presence) -> None:
        """Keep the per-language entries of online agents in step with the presence."""
        existing = {
            item["SK"]
            for item in self._query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :lang)",
                ExpressionAttributeValues=serialize(
                    {":pk": f"AGENT#{presence.email}", ":lang": "LANG#"}
                ),
            )
        }
        wanted = (
            {f"LANG#{code}" for code in presence.languages}
            if presence.status == "online"
            else set()
        )
        for sk in existing - wanted:
            self.client.delete_item(
                TableName=self.table_name,
                Key=serialize({"PK": f"AGENT#{presence.email}", "SK": sk}),
            )
        for sk in wanted:
            code = sk.split("#", 1)[1]
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(
                    {
                        "PK": f"AGENT#{presence.email}",
                        "SK": sk,
                        "type": "agent_language",
                        "email": presence.email,
                        "language": code,
                        "GSI2PK": f"ONLINE#{code}",
                        "GSI2SK": f"{presence.active:04d}#{presence.email}",
                    }
                ),
            )

    def online_agents(self, language: str) -> list[str]:
        """Emails of online agents who speak `language`, least busy first."""
        return [
            item["email"]
            for item in self._query(
                IndexName="GSI2",
                KeyConditionExpression="GSI2PK = :pk",
                ExpressionAttributeValues=serialize({":pk": f"ONLINE#{language}"}),
            )
        ]

    def claim_slot(self, email: str, session_id: str) -> Presence | None:
        """Take one of an online agent's free chat slots for this chat (the slot it already
        holds, on a retry); None when they have no room."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=serialize(_presence_key(email)),
                UpdateExpression="SET active = active + :one ADD chats :chat",
                ConditionExpression=(
                    "#s = :online AND active < max_chats AND NOT contains(chats, :id)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {":one": 1, ":online": "online", ":chat": {session_id}, ":id": session_id}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            item = self._get(_presence_key(email))
            if item is None or session_id not in item.get("chats", set()):
                return None
            presence = _presence_from_item(item)  # claimed by an earlier try
            self._index_presence(presence)
            return presence
        presence = _presence_from_item(deserialize(response["Attributes"]))
        self._index_presence(presence)
        return presence

    def release_slot(self, email: str, session_id: str) -> Presence | None:
        """Free the slot this chat holds (nothing when it holds none)."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=serialize(_presence_key(email)),
                UpdateExpression="SET active = active - :one DELETE chats :chat",
                ConditionExpression="contains(chats, :id) AND active > :zero",
                ExpressionAttributeValues=serialize(
                    {":one": 1, ":zero": 0, ":chat": {session_id}, ":id": session_id}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return self.get_presence(email)
            raise
        presence = _presence_from_item(deserialize(response["Attributes"]))
        self._index_presence(presence)
        return presence

    # -- handle times --------------------------------------------------------------------------

    def record_handle_time(self, team: str, seconds: int) -> None:
        key = {"PK": f"CHATSTATS#{team}", "SK": "HANDLE"}
        for _ in range(5):
            item = self._get(key) or {"recent": [], "version": 0}
            recent = [*item.get("recent", []), max(0, int(seconds))][-RECENT_HANDLE_TIMES:]
            version = int(item.get("version", 0))
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=serialize(
                        {**key, "type": "chat_stats", "recent": recent, "version": version + 1}
                    ),
                    ConditionExpression="attribute_not_exists(PK) OR #v = :v",
                    ExpressionAttributeNames={"#v": "version"},
                    ExpressionAttributeValues=serialize({":v": version}),
                )
                return
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise

    def recent_handle_times(self, team: str) -> list[int]:
        item = self._get({"PK": f"CHATSTATS#{team}", "SK": "HANDLE"})
        return [int(v) for v in item.get("recent", [])] if item else []


def parse_cursor(cursor: str) -> tuple[datetime, str] | None:
    """A message cursor is `<at>#<message id>`, the message's sort key without MSG#."""
    at, _, message_id = cursor.partition("#")
    if not message_id:
        return None
    try:
        return from_iso(at), message_id
    except ValueError:
        return None
