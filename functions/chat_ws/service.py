"""Live chat: sessions, the customer and agent actions, routing to agents, queues.

docs/chat-protocol.md is the contract with clients. The rules here:

- Every customer message goes through the shared intake (one InboundMessage, one
  pipeline, one ticket per chat), is stored before it is acknowledged, and is deduped
  by the widget's `client_id`, so a resend after a reconnect never doubles it and a
  crash after the `ack` loses nothing.
- A new chat is answered by the FAQ bot when it is confident; otherwise it goes to an
  online agent who speaks the customer's language and has room (least busy first),
  else it waits in its team's queue, with an honest position and a wait estimate from
  recent handle times; after `overflow_after_seconds` it moves to the fallback team.
- After hours the shared after-hours reply answers (through `ChatSender`) and the
  customer is told when the team is back; the chat is a ticket for the next shift.
- Errors are the sender's: an `error` event with a code, and nothing else changes.
- Sessions are opened only for pages of `chat.allowed_origins`. A session item expires
  (the table's TTL) a day after its last token, and is gone for every read from then on.
- A transcript (the visitor's own words among others) is mailed only to an address the
  visitor proved is theirs, once a chat; see `_transcript`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.chat_ws.protocol import (
    Action,
    decode,
    error_event,
    event,
    history_frames,
    waiting_event,
)
from functions.core import ids
from functions.core.channels.chat import (
    ChatPusher,
    chat_message,
    conversation_key,
    customer_visible,
)
from functions.core.chatstore import ChatSession, ChatStore, Connection, parse_cursor
from functions.core.errors import DeliveryError, NotFoundError, RejectedInput, maybe_sent
from functions.core.faq import match as faq_match
from functions.core.models import Channel, Direction, Identity, InboundMessage, Message
from functions.core.redact import redact_email
from functions.core.replies import AUTOMATIC_MAIL_CAPPED, CAPPED_REASON
from functions.core.timeutil import Clock, to_iso, utcnow
from functions.core.tokens import sign, verify

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.pipeline import Intake, Sender
    from functions.core.replies import TemplateRenderer
    from functions.core.store import TicketStore
    from functions.core.tickets import TicketService

log = logging.getLogger("helpline.chat_ws")

SESSION_PURPOSE = "chat"
AGENT_PURPOSE = "agent"
# A session item outlives its last token by this much (its TTL): a connection opened just
# before the token expired lives 2 h more (API Gateway's limit), housekeeping then ends
# the chat, and a rating or transcript may follow its end; a day covers all of that.
SESSION_KEPT_AFTER_TOKEN = timedelta(days=1)
# a transcript's verification code: how long it is good for, and how many wrong tries
# end it (with 6 digits and 3 codes a chat, a guess succeeds once in 66,000 chats)
CODE_VALID = timedelta(minutes=15)
CODE_TRIES = 5


def waiting_entry(session: ChatSession) -> dict[str, Any]:
    """One waiting chat as agents see it in their `waiting` list."""
    return {
        "session_id": session.id,
        "language": session.language,
        "team": session.team,
        "waiting_since": to_iso(session.queued_at) if session.queued_at else None,
        "overflowed": session.overflowed,
        "preview": session.preview,
    }


def _fail(code: str, reason: str) -> RejectedInput:
    return RejectedInput(code, reason)


class ChatService:
    def __init__(
        self,
        *,
        config: Config,
        intake: Intake,
        tickets: TicketService,
        store: TicketStore,
        chats: ChatStore,
        pusher: ChatPusher,
        secret: Callable[[str], bytes],  # "session" | "agent" -> key bytes
        renderer: TemplateRenderer,
        email_sender: Sender | None,
        ws_url: str,
        clock: Clock = utcnow,
        ratings: Callable[[str, int, str, str | None], None] | None = None,
    ) -> None:
        self.config = config
        # records an in-chat rating as the chat's CSAT survey (the survey service)
        self.ratings = ratings
        self.settings = config.chat
        self.intake = intake
        self.tickets = tickets
        self.store = store
        self.chats = chats
        self.pusher = pusher
        self.secret = secret
        self.renderer = renderer
        self.email_sender = email_sender
        self.ws_url = ws_url
        self.clock = clock
        self.agent_names = {a.email: a.name for a in config.agents}
        # counts a metric (name, dimensions): the function's EMF metrics, when wired
        self.count_metric: Callable[..., None] = lambda name, **dimensions: None

    # -- tokens ------------------------------------------------------------------------------

    def agent_token(self, email: str, *, hours: int = 12) -> str:
        agent = self.config.agent(email)
        if agent is None:
            raise NotFoundError(f"{email} is not an agent in the config")
        return sign(
            AGENT_PURPOSE,
            {"agent": agent.email},
            secret=self.secret("agent"),
            now=self.clock(),
            ttl=timedelta(hours=hours),
        )

    def _session_token(self, session_id: str, visitor_id: str, *, now: datetime) -> str:
        return sign(
            SESSION_PURPOSE,
            {"sid": session_id, "vid": visitor_id},
            secret=self.secret("session"),
            now=now,
            ttl=timedelta(hours=self.settings.session_hours),
        )

    # -- HTTP: POST /chat/session -----------------------------------------------------------------

    def check_origin(self, origin: str | None) -> None:
        """Refuse a browser on a site that is not one of `chat.allowed_origins`: it would
        open chats on the company's quotas and show its agents to strangers. A request
        without `Origin` is not a browser's (curl, a native app) and passes: the check
        protects browsers, which always send it; other clients can send any header."""
        if origin is not None and origin not in self.settings.allowed_origins:
            log.info("refused a chat session for origin %.100r", origin)
            raise RejectedInput(
                "origin_not_allowed",
                "chat sessions are not opened for this site (chat.allowed_origins)",
                status=403,
            )

    def open_session(self, body: Mapping[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        self.check_origin(origin)
        now = self.clock()
        token_expires = now + timedelta(hours=self.settings.session_hours)
        keep_until = token_expires + SESSION_KEPT_AFTER_TOKEN
        locale = body.get("locale")
        if locale is not None and (not isinstance(locale, str) or len(locale) > 35):
            raise RejectedInput("bad_field", "`locale` must be a language tag like es-ES")
        previous = body.get("token")
        session: ChatSession | None = None
        visitor_id = None
        if isinstance(previous, str) and previous:
            try:
                claims = verify(previous, SESSION_PURPOSE, secret=self.secret("session"), now=now)
            except RejectedInput:
                claims = None  # a stale token just starts a new chat
            if claims:
                visitor_id = str(claims.get("vid") or "") or None
                found = self.chats.get_session(str(claims.get("sid") or ""), now=now)
                if found is not None and found.visitor_id == visitor_id and found.state != "closed":
                    session = found
        resumed = session is not None
        if session is None:
            session = self.chats.put_session(
                ChatSession(
                    id="S" + ids.random_id(15),
                    visitor_id=visitor_id or "V" + ids.random_id(15),
                    created_at=now,
                    locale=locale,
                    expires_at=keep_until,
                ),
                expected_version=None,
            )
        else:
            # resuming moves the item's expiry along with the new token's
            def extend(s: ChatSession) -> ChatSession | None:
                if s.expires_at is not None and s.expires_at >= keep_until:
                    return None
                s.expires_at = keep_until
                return s

            session = self.chats.update_session(session.id, extend, now=now) or session
        token = self._session_token(session.id, session.visitor_id, now=now)
        return {
            "token": token,
            "ws_url": self.ws_url,
            "session_id": session.id,
            "visitor_id": session.visitor_id,
            "expires_at": to_iso(token_expires),
            "resumed": resumed,
            "hours": self.hours(session.locale or locale, team=session.team),
            "limits": {
                "max_message_chars": self.settings.max_message_chars,
                "max_actions_per_second": self.settings.max_actions_per_second,
            },
        }

    def hours(self, locale: str | None, *, team: str | None = None) -> dict[str, Any]:
        """Is the team that would answer this customer at work, and if not, when?"""
        from functions.core.localize import format_local_datetime

        now = self.clock()
        chosen = self.config.teams.get(team or "") or self.config.team_for_language(
            (locale or "").lower()
        )
        team_id = chosen.id if chosen else self.config.routing.default_team
        calendar = self.config.calendar_for_team(team_id)
        open_now = calendar.is_open(now)
        next_open = None if open_now else calendar.next_open(now)
        language = (locale or self.config.languages.default).lower()
        expected = self.expected_response(team_id, now)
        return {
            "team": team_id,
            "team_name": self.config.teams[team_id].name,
            "open": open_now,
            "timezone": calendar.spec.timezone,
            "next_open": to_iso(next_open) if next_open else None,
            "next_open_text": format_local_datetime(next_open, language, tz=calendar.tz)
            if next_open
            else None,
            "expected_response": to_iso(expected) if expected else None,
            "expected_response_text": format_local_datetime(expected, language, tz=calendar.tz)
            if expected
            else None,
        }

    def expected_response(self, team_id: str, now: datetime) -> datetime | None:
        """The first-response promise of the SLA policy a chat starting now would get:
        the same moment the after-hours reply states."""
        from functions.core import ticket_sla

        return ticket_sla.promise_for_new(
            self.config, team=team_id, channel="chat", language=None, at=now
        )

    # -- WebSocket: $connect / $disconnect -------------------------------------------------------

    def connect(self, connection_id: str, query: Mapping[str, str] | None) -> int:
        """Admit a connection: 200, or 401/403 (API Gateway then refuses the handshake)."""
        query = query or {}
        now = self.clock()
        try:
            if query.get("agent_token"):
                claims = verify(
                    query["agent_token"], AGENT_PURPOSE, secret=self.secret("agent"), now=now
                )
                agent = self.config.agent(str(claims.get("agent", "")))
                if agent is None:
                    return 403
                self.chats.put_connection(
                    Connection(connection_id, "agent", agent=agent.email, connected_at=now), now=now
                )
                current = self.chats.get_presence(agent.email)
                self.chats.set_presence(
                    agent.email,
                    status=current.status if current and current.status == "online" else "away",
                    languages=current.languages
                    if current and current.languages
                    else agent.languages,
                    max_chats=current.max_chats
                    if current and current.max_chats
                    else agent.max_chats,
                    connection_id=connection_id,
                    now=now,
                )
                return 200
            claims = verify(
                query.get("token"), SESSION_PURPOSE, secret=self.secret("session"), now=now
            )
        except RejectedInput:
            return 401
        session_id, visitor_id = str(claims.get("sid", "")), str(claims.get("vid", ""))
        session = self.chats.get_session(session_id, now=now)
        if session is None:
            token_expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            session = self.chats.put_session(
                ChatSession(
                    id=session_id,
                    visitor_id=visitor_id,
                    created_at=now,
                    expires_at=token_expires + SESSION_KEPT_AFTER_TOKEN,
                ),
                expected_version=None,
            )
        if session.visitor_id != visitor_id:
            return 403
        self.chats.put_connection(
            Connection(connection_id, "customer", session_id=session_id, connected_at=now), now=now
        )

        def bind(s: ChatSession) -> ChatSession:
            s.connection_id = connection_id
            s.disconnected_at = None
            return s

        self.chats.update_session(session_id, bind, now=now)
        return 200

    def disconnect(self, connection_id: str) -> None:
        now = self.clock()
        connection = self.chats.get_connection(connection_id, now=now)
        self.chats.delete_connection(connection_id)
        if connection is None:
            return
        if connection.role == "customer" and connection.session_id:

            def unbind(s: ChatSession) -> ChatSession | None:
                if s.connection_id != connection_id:
                    return None
                s.connection_id = None
                s.disconnected_at = now
                return s

            self.chats.update_session(connection.session_id, unbind, now=now)
        elif connection.role == "agent" and connection.agent:
            presence = self.chats.get_presence(connection.agent)
            if presence and presence.connection_id == connection_id:
                self.chats.set_presence(
                    connection.agent,
                    status="offline",
                    languages=presence.languages,
                    max_chats=presence.max_chats,
                    connection_id=None,
                    now=now,
                )

    def forget_connection(self, connection_id: str) -> None:
        """A push found the connection gone (410): as if it had disconnected."""
        try:
            self.disconnect(connection_id)
        except Exception:
            log.warning("could not forget a gone connection", exc_info=True)

    # -- WebSocket: $default ------------------------------------------------------------------------

    def handle(self, connection_id: str, body: Any, *, frame_id: str | None = None) -> None:
        now = self.clock()
        connection = self.chats.get_connection(connection_id, now=now)
        if connection is None:
            self.pusher.push_quietly(
                connection_id,
                event(
                    "error", code="bad_token", reason="this connection is not signed in; reconnect"
                ),
            )
            return
        if not self.chats.allow_action(
            connection_id, now=now, per_second=self.settings.max_actions_per_second
        ):
            self.pusher.push_quietly(
                connection_id,
                event("error", code="rate_limited", reason="slow down: too many messages a second"),
            )
            return
        try:
            action = decode(body, role=connection.role, max_chars=self.settings.max_message_chars)
        except RejectedInput as exc:
            self.pusher.push(connection_id, error_event(exc))
            return
        try:
            if connection.role == "customer":
                self._customer(connection, action, frame_id)
            else:
                self._agent(connection, action)
        except RejectedInput as exc:
            if not getattr(exc, "action", None):
                exc.action = action.name  # type: ignore[attr-defined]
            self.pusher.push(connection_id, error_event(exc, client_id=action.client_id))

    # -- customers ---------------------------------------------------------------------------------------

    def _customer(self, connection: Connection, action: Action, frame_id: str | None) -> None:
        assert connection.session_id is not None
        claimed = action.get("session_id")
        if claimed and claimed != connection.session_id:
            raise _fail("forbidden", "that is not your conversation")
        session = self.chats.get_session(connection.session_id, now=self.clock())
        if session is None:
            raise _fail("not_found", "this chat session no longer exists; open a new one")
        if action.name == "hello":
            self._hello(connection, session, action)
            return
        if session.hello_at is None:
            raise _fail("hello_first", "send `hello` before anything else")
        if session.state == "closed" and action.name not in ("transcript", "verify", "rate"):
            raise _fail("closed", "this chat has ended")
        if action.name == "message":
            self._customer_message(connection, session, action, frame_id)
            return
        handler: Callable[[Connection, ChatSession, Action], None] = {
            "typing": self._customer_typing,
            "read": self._customer_read,
            "agent": self._ask_for_agent,
            "contact": self._contact,
            "transcript": self._transcript,
            "verify": self._verify,
            "rate": self._rate,
            "close": self._customer_close,
        }[action.name]
        handler(connection, session, action)

    def _hello(self, connection: Connection, session: ChatSession, action: Action) -> None:
        now = self.clock()
        resumed = session.hello_at is not None

        def greet(s: ChatSession) -> ChatSession:
            s.hello_at = s.hello_at or now
            s.locale = action.get("locale") or s.locale
            if action.get("page"):
                s.page = dict(action.get("page"))
            if action.get("name"):
                s.contact_name = action.get("name")
            if action.get("email"):
                s.contact_email = action.get("email")
                self._keep_contact(s, now)
            s.connection_id = connection.id
            return s

        session = self.chats.update_session(session.id, greet, now=now) or session
        hours = self.hours(session.locale, team=session.team)
        self.pusher.push(
            connection.id,
            event(
                "welcome",
                session_id=session.id,
                ticket_id=session.ticket_id,
                state=session.state,
                agent={"name": self.agent_names.get(session.agent, "")} if session.agent else None,
                hours=hours,
                resumed=resumed,
            ),
        )
        if session.ticket_id:
            cursor = (
                parse_cursor(action.get("last_seen") or "") if action.get("last_seen") else None
            )
            after = f"MSG#{to_iso(cursor[0])}#{cursor[1]}" if cursor else None
            messages = [
                m
                for m in self.store.messages_after(session.ticket_id, after)
                if customer_visible(m)
            ]
            self._push_history(connection.id, messages)
        if session.state == "queued":
            self._push_position(session)
        elif session.state == "assigned" and session.agent:
            self.pusher.push(
                connection.id,
                event("assigned", agent={"name": self.agent_names.get(session.agent, "")}),
            )
        elif session.state in ("new", "after_hours") and not hours["open"]:
            self._push_after_hours(connection.id, hours)

    def _push_history(self, connection_id: str, messages: list[Message], **extra: Any) -> None:
        """As many `history` frames as it takes, paged by bytes: ten long messages in
        Russian or Chinese are more than one push holds."""
        shown = [chat_message(m, agent_names=self.agent_names) for m in messages]
        for frame in history_frames(shown, **extra):
            if not self.pusher.push(connection_id, frame):
                return  # gone: the rest comes when they resume from their last cursor

    def _push_after_hours(self, connection_id: str | None, hours: Mapping[str, Any]) -> None:
        self.pusher.push_quietly(
            connection_id,
            event(
                "after_hours",
                next_open=hours["next_open"],
                next_open_text=hours["next_open_text"],
                expected_response=hours["expected_response"],
                expected_response_text=hours["expected_response_text"],
                ask_contact=True,
            ),
        )

    def _customer_message(
        self, connection: Connection, session: ChatSession, action: Action, frame_id: str | None
    ) -> None:
        now = self.clock()
        client_id = action.client_id or frame_id or ids.random_id(12)
        inbound = InboundMessage(
            channel=Channel.CHAT,
            external_id=f"{session.id}:{client_id}",
            received_at=now,
            sender=Identity("visitor", session.visitor_id),
            sender_name=session.contact_name,
            account="chat",
            text=action.get("text"),
            conversation_key=conversation_key(session.id),
            locale_hint=session.locale,
            extra=tuple((k, v) for k, v in (("page", session.page.get("url") or ""),) if v),
        )
        outcome = self.intake.process(inbound)
        if outcome.status == "quarantined" or not outcome.ticket_id:
            raise _fail("bad_field", f"the message could not be accepted ({outcome.reason})")
        if outcome.status == "duplicate":
            # a resend: ack what was stored the first time (its own time and cursor)
            stored = self._stored_message(inbound, outcome.ticket_id)
        else:
            # just written with the inbound's time and id: no need to read it back
            stored = Message(
                id=outcome.message_id or "",
                ticket_id=outcome.ticket_id,
                direction=Direction.INBOUND,
                channel=Channel.CHAT,
                created_at=inbound.received_at,
                text=inbound.text,
            )
        # The ack goes last: a widget resends what was not acked, and a resend of a message
        # whose handling failed midway (the intake answers "duplicate") finishes it here.
        first_time = outcome.status != "duplicate"
        if session.ticket_id is None:
            ticket = self.store.get_ticket(outcome.ticket_id)

            def attach(s: ChatSession) -> ChatSession:
                s.ticket_id = outcome.ticket_id
                s.preview = " ".join(inbound.text.split())[:140]
                s.language = ticket.language if ticket else self.config.languages.default
                s.team = ticket.queue if ticket else self.config.routing.default_team
                return s

            session = self.chats.update_session(session.id, attach, now=now) or session
        if session.state == "assigned" and session.agent and stored:
            if first_time:
                presence = self.chats.get_presence(session.agent)
                self.pusher.push_quietly(
                    presence.connection_id if presence else None,
                    event(
                        "message",
                        session_id=session.id,
                        message=chat_message(stored, agent_names=self.agent_names),
                    ),
                )
        elif session.state == "new" or (session.state == "bot" and first_time):
            self._start(session, inbound.text)
        self.pusher.push(
            connection.id,
            event(
                "ack",
                client_id=client_id,
                message=chat_message(stored, agent_names=self.agent_names)
                if stored
                else {
                    "id": outcome.message_id,
                    "at": to_iso(now),
                    "from": "customer",
                    "text": inbound.text,
                },
            ),
        )

    def _stored_message(self, inbound: InboundMessage, ticket_id: str) -> Message | None:
        record = self.store.get_intake(inbound.channel, inbound.external_id)
        if record is None or not record.message_sk:
            return None
        return self.store.get_message(ticket_id, record.message_sk)

    def _start(self, session: ChatSession, text: str) -> None:
        """The chat's first answer: after hours, the bot, an agent, or the queue."""
        assert session.team is not None and session.ticket_id is not None
        calendar = self.config.calendar_for_team(session.team)
        if not calendar.is_open(self.clock()):

            def away(s: ChatSession) -> ChatSession:
                s.state = "after_hours"
                return s

            session = self.chats.update_session(session.id, away, now=self.clock()) or session
            self._push_after_hours(
                session.connection_id, self.hours(session.locale, team=session.team)
            )
            return
        if session.state == "new":
            found = faq_match(
                text,
                session.locale or session.language,
                self.settings.faq,
                default=self.config.languages.default,
            )
            if found is not None:
                answer = self.tickets.add_bot_message(
                    session.ticket_id or "",
                    found.entry.answer,
                    detail={"question": found.entry.question, "keywords": list(found.matched)},
                )

                def bot(s: ChatSession) -> ChatSession:
                    s.state = "bot"
                    return s

                session = self.chats.update_session(session.id, bot, now=self.clock()) or session
                self.pusher.push_quietly(
                    session.connection_id,
                    event(
                        "bot",
                        message=chat_message(answer, agent_names=self.agent_names),
                        question=found.entry.question,
                        offer_agent=True,
                    ),
                )
                return
        self._route(session)

    def _ask_for_agent(self, connection: Connection, session: ChatSession, action: Action) -> None:
        if session.ticket_id is None:
            raise _fail("invalid_state", "write your question first")
        if session.state in ("new", "bot"):
            self._start(replace(session, state="bot"), "")
        elif session.state == "queued":
            self._push_position(session)
        elif session.state == "assigned":
            self.pusher.push(
                connection.id,
                event("assigned", agent={"name": self.agent_names.get(session.agent or "", "")}),
            )
        elif session.state == "after_hours":
            self._push_after_hours(connection.id, self.hours(session.locale, team=session.team))

    def _customer_typing(
        self, connection: Connection, session: ChatSession, action: Action
    ) -> None:
        if session.state == "assigned" and session.agent:
            presence = self.chats.get_presence(session.agent)
            self.pusher.push_quietly(
                presence.connection_id if presence else None,
                event(
                    "typing",
                    session_id=session.id,
                    **{"from": "customer"},
                    typing=action.get("typing"),
                ),
            )

    def _customer_read(self, connection: Connection, session: ChatSession, action: Action) -> None:
        if session.state == "assigned" and session.agent:
            presence = self.chats.get_presence(session.agent)
            self.pusher.push_quietly(
                presence.connection_id if presence else None,
                event("read", session_id=session.id, message_id=action.get("message_id")),
            )

    def _keep_contact(self, session: ChatSession, now: datetime) -> None:
        """The address a customer leaves is how an agent's later answer (the next shift's,
        after hours) and the satisfaction survey reach them once they have left, days or
        weeks after the chat: a session holding one is kept as long as a closed ticket."""
        kept = now + timedelta(days=self.config.retention.closed_ticket_days)
        if session.expires_at is None or session.expires_at < kept:
            session.expires_at = kept

    def _contact(self, connection: Connection, session: ChatSession, action: Action) -> None:
        email = action.get("email")
        now = self.clock()

        def keep(s: ChatSession) -> ChatSession:
            s.contact_email = email
            if action.get("name"):
                s.contact_name = action.get("name")
            self._keep_contact(s, now)
            return s

        session = self.chats.update_session(session.id, keep, now=now) or session
        if session.ticket_id:
            self.tickets.record_event(
                session.ticket_id,
                "contact_left",
                {"email": redact_email(email)},
                actor="customer",
            )
        self.pusher.push(connection.id, event("contact_saved", email=email))

    # -- the transcript by email ---------------------------------------------------------------
    #
    # A visitor is anonymous and a transcript carries their own words: mailed to any address
    # they name, it would let anyone send any text from our address to anyone (issue 16).
    # So the address is proven first: a mail holding only our fixed words and a one-time
    # code goes there, the visitor types the code back (`verify`), and then the transcript
    # follows, once a chat. Chosen over an agent confirming the address: it works after
    # hours and in chats only the bot answered, and an agent has no way to tell a
    # visitor's address from a stranger's either. Every mail (code or transcript) counts
    # against the chat's and the address's limits and the global automatic-mail cap.

    def _transcript(self, connection: Connection, session: ChatSession, action: Action) -> None:
        if session.ticket_id is None:
            raise _fail("invalid_state", "there is nothing to send yet")
        if self.email_sender is None:
            raise _fail("invalid_state", "transcripts by email are not configured")
        email = action.get("email")
        proven = session.verified_email == email
        self._check_transcript_limits(session, code=not proven)
        if proven:
            self._send_transcript(connection, session, email)
        else:
            self._send_code(connection, session, email)

    def _check_transcript_limits(self, session: ChatSession, *, code: bool) -> None:
        if session.transcript_sent_at is not None:
            raise _fail("already_sent", "the transcript of this chat has been sent already")
        # codes are what reach unproven addresses; the transcript goes to a proven one
        if code and session.transcript_mails >= self.settings.verification_mails_per_session:
            raise _fail("limit_reached", "this chat has sent as many codes as it may")

    def _code_hash(self, session_id: str, email: str, code: str) -> str:
        message = f"{session_id}\n{email}\n{code}".encode()
        return hmac.new(self.secret("session"), message, hashlib.sha256).hexdigest()

    def _send_code(self, connection: Connection, session: ChatSession, email: str) -> None:
        assert session.ticket_id is not None and self.email_sender is not None
        now = self.clock()
        self._reserve_mail(session.ticket_id, email, kind="verification")
        code = f"{secrets.randbelow(1_000_000):06d}"
        refused: list[RejectedInput] = []

        def claim(s: ChatSession) -> ChatSession | None:
            refused.clear()
            try:
                self._check_transcript_limits(s, code=True)
            except RejectedInput as exc:
                refused.append(exc)
                return None
            s.transcript_mails += 1
            s.verify_email = email
            s.verify_code = self._code_hash(s.id, email, code)
            s.verify_expires_at = now + CODE_VALID
            s.verify_attempts = 0
            return s

        updated = self.chats.update_session(session.id, claim, now=now)
        if updated is None:
            raise _fail("not_found", "this chat session no longer exists; open a new one")
        if refused:
            raise refused[0]
        mail = self._code_mail(updated, email, code)
        try:
            self.email_sender.send(mail)
        except DeliveryError as exc:
            raise _fail("invalid_state", f"the code could not be sent: {exc.reason}") from exc
        self.tickets.record_event(
            session.ticket_id,
            "transcript_code_sent",
            {"to": redact_email(email)},
            actor="customer",
        )
        self.pusher.push(
            connection.id,
            event("code_sent", email=email, expires_at=to_iso(now + CODE_VALID)),
        )

    def _verify(self, connection: Connection, session: ChatSession, action: Action) -> None:
        now = self.clock()
        code = action.get("code")
        refused: list[RejectedInput] = []

        def check(s: ChatSession) -> ChatSession | None:
            refused.clear()
            if s.verify_email is None or s.verify_code is None:
                refused.append(
                    _fail("invalid_state", "ask for the transcript first: the code comes by email")
                )
                return None
            expected = self._code_hash(s.id, s.verify_email, code)
            expired = s.verify_expires_at is None or now >= s.verify_expires_at
            if expired or not hmac.compare_digest(s.verify_code, expected):
                s.verify_attempts += 1
                if expired or s.verify_attempts >= CODE_TRIES:
                    s.verify_code, s.verify_expires_at = None, None
                    refused.append(
                        _fail("bad_code", "this code is no longer valid; ask for a new one")
                    )
                else:
                    refused.append(_fail("bad_code", "that is not the code we sent"))
                return s
            s.verified_email = s.verify_email
            s.verify_code, s.verify_expires_at = None, None
            return s

        updated = self.chats.update_session(session.id, check, now=now)
        if updated is None:
            raise _fail("not_found", "this chat session no longer exists; open a new one")
        if refused:
            raise refused[0]
        email = updated.verified_email
        assert email is not None
        if updated.ticket_id:
            self.tickets.record_event(
                updated.ticket_id,
                "transcript_address_verified",
                {"to": redact_email(email)},
                actor="customer",
            )
        self._check_transcript_limits(updated, code=False)
        self._send_transcript(connection, updated, email)

    def _reserve_mail(self, ticket_id: str, email: str, *, kind: str) -> None:
        """Count one mail to `email` against the address's daily limit and the global
        automatic-mail cap, or refuse it (`limit_reached`) and say why on the ticket."""
        now = self.clock()
        if not self.store.reserve_mail_to(
            email, now, per_day=self.settings.transcript_mails_per_address_per_day
        ):
            reason = "the address has had as many chat emails today as it may"
            self.tickets.record_event(
                ticket_id,
                "transcript_not_sent",
                {"kind": kind, "to": redact_email(email), "reason": reason},
                actor="customer",
            )
            raise _fail("limit_reached", f"{reason}; try again tomorrow")
        if not self.store.reserve_automatic_mail(
            now, per_hour=self.config.email.automatic_per_hour
        ):
            self.count_metric(AUTOMATIC_MAIL_CAPPED, kind=kind)
            log.warning("chat %s mail not sent: %s", kind, CAPPED_REASON)
            self.tickets.record_event(
                ticket_id,
                "transcript_not_sent",
                {"kind": kind, "to": redact_email(email), "reason": CAPPED_REASON},
                actor="customer",
            )
            raise _fail("limit_reached", "we cannot send more email right now; try again later")

    def _send_transcript(self, connection: Connection, session: ChatSession, email: str) -> None:
        """The transcript to an address this chat has proven, claimed on the session
        before it is sent, so it goes at most once."""
        assert session.ticket_id is not None and self.email_sender is not None
        ticket_id = session.ticket_id
        now = self.clock()
        self._reserve_mail(ticket_id, email, kind="transcript")
        refused: list[RejectedInput] = []

        def claim(s: ChatSession) -> ChatSession | None:
            refused.clear()
            try:
                self._check_transcript_limits(s, code=False)
                if s.verified_email != email:
                    raise _fail("invalid_state", "that address has not been confirmed")
            except RejectedInput as exc:
                refused.append(exc)
                return None
            s.transcript_mails += 1
            s.transcript_sent_at = now
            s.transcript_to = email
            return s

        if self.chats.update_session(session.id, claim, now=now) is None:
            raise _fail("not_found", "this chat session no longer exists; open a new one")
        if refused:
            raise refused[0]
        bundle = self.tickets.bundle(ticket_id)
        lines = []
        for message in bundle.messages:
            if not customer_visible(message):
                continue
            shown = chat_message(message, agent_names=self.agent_names)
            lines.append(
                {
                    "at": message.created_at,
                    "from": shown["from"],
                    "name": shown["name"],
                    "text": shown["text"],
                }
            )
        mail = self._transcript_mail(bundle.ticket, email, lines, session.locale)
        try:
            self.email_sender.send(mail)
        except Exception as exc:
            if not maybe_sent(exc):
                self._unclaim_transcript(session.id)  # certainly not sent: may be asked again
            if isinstance(exc, DeliveryError):
                raise _fail(
                    "invalid_state", f"the transcript could not be sent: {exc.reason}"
                ) from exc
            raise
        self.tickets.record_event(
            ticket_id, "transcript_sent", {"to": redact_email(email)}, actor="customer"
        )
        self.pusher.push(connection.id, event("transcript_sent", email=email))

    def _unclaim_transcript(self, session_id: str) -> None:
        def release(s: ChatSession) -> ChatSession | None:
            if s.transcript_sent_at is None:
                return None
            s.transcript_sent_at = None
            s.transcript_to = None
            return s

        try:
            self.chats.update_session(session_id, release, now=self.clock())
        except Exception:
            log.warning("could not release a transcript claim", exc_info=True)

    def _code_mail(self, session: ChatSession, email: str, code: str) -> Message:
        """The verification mail: our fixed words and the code, nothing the visitor
        wrote (not their name, not the chat's first words, not even the ticket's token),
        since the address is not proven yet."""
        brand = self.config.brand
        assert session.ticket_id is not None
        rendered = self.renderer.render(
            "email",
            "chat_verification",
            session.locale or session.language,
            {
                "brand": {
                    "name": brand.name,
                    "support_address": brand.support_address,
                    "website": brand.website,
                },
                "code": code,
                "minutes": int(CODE_VALID.total_seconds() // 60),
            },
        )
        message_id = ids.new_message_id()
        return Message(
            id=message_id,
            ticket_id=session.ticket_id,
            direction=Direction.OUTBOUND,
            channel=Channel.EMAIL,
            created_at=self.clock(),
            automatic=True,
            author="helpline",
            sender=brand.support_address,
            recipients=[email],
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            # not the ticket's Message-ID form: nothing in this mail leads to the ticket
            external_id=f"hl.code.{message_id}@{brand.message_id_domain}".lower(),
            headers={
                "Auto-Submitted": "auto-generated",
                "X-Auto-Response-Suppress": "All",
                "Content-Language": rendered.locale,
            },
            kind="chat_verification",
        )

    def _transcript_mail(
        self, ticket: Any, email: str, lines: list[dict[str, Any]], locale: str | None
    ) -> Message:
        from functions.core.channels.email import outbound_message_id

        brand = self.config.brand
        calendar = self.config.calendar_for_team(ticket.queue or self.config.routing.default_team)
        rendered = self.renderer.render(
            "email",
            "chat_transcript",
            locale or ticket.language,
            {
                "brand": {
                    "name": brand.name,
                    "support_address": brand.support_address,
                    "website": brand.website,
                },
                "ticket_token": ticket.token,
                "lines": lines,
            },
            tz=calendar.tz,
        )
        message_id = ids.new_message_id()
        return Message(
            id=message_id,
            ticket_id=ticket.id,
            direction=Direction.OUTBOUND,
            channel=Channel.EMAIL,
            created_at=self.clock(),
            automatic=True,
            author="helpline",
            sender=brand.support_address,
            recipients=[email],
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            external_id=outbound_message_id(ticket.id, message_id, brand.message_id_domain),
            headers={"Auto-Submitted": "auto-generated", "Content-Language": rendered.locale},
            kind="chat_transcript",
        )

    def _rate(self, connection: Connection, session: ChatSession, action: Action) -> None:
        if session.ticket_id is None:
            raise _fail("invalid_state", "there is nothing to rate yet")
        # a rating is about the answer the customer got: an anonymous visitor must not be
        # able to rate chats nobody answered (after hours, abandoned in the queue), nor
        # rate one chat many times
        if session.rating is not None:
            raise _fail("already_rated", "this chat was rated already")
        if not self._answered(session):
            raise _fail("nothing_to_rate", "nobody has answered in this chat yet")
        score = int(action.get("score"))

        def rated(s: ChatSession) -> ChatSession:
            s.rating = score
            return s

        self.chats.update_session(session.id, rated, now=self.clock())
        comment = (action.get("comment") or "").strip()
        self.tickets.record_event(
            session.ticket_id,
            "chat_rated",
            {"score": score, "comment": comment[:5000], "agent": session.agent},
            actor="customer",
        )
        if self.ratings is not None:
            self.ratings(session.ticket_id, score, comment, session.agent)
        self.pusher.push(connection.id, event("rated", score=score))

    def _answered(self, session: ChatSession) -> bool:
        """An agent replied in the chat, or the FAQ bot gave an answer."""
        if session.agent_replied:
            return True
        assert session.ticket_id is not None
        bundle = self.tickets.bundle(session.ticket_id)
        return any(m.kind in ("bot", "agent_reply") for m in bundle.messages)

    def _customer_close(self, connection: Connection, session: ChatSession, action: Action) -> None:
        self.close(session.id, by="customer")

    # -- routing ------------------------------------------------------------------------------------

    def _route(self, session: ChatSession) -> None:
        """To an online agent who speaks the language and has room, or the queue."""
        language = session.language or self.config.languages.default
        for email in self.chats.online_agents(language):
            if self._give_to(session.id, email):
                return
        self._enqueue(session.id, session.team or self.config.routing.default_team)

    def _enqueue(
        self, session_id: str, team: str, *, overflowed: bool | None = None
    ) -> ChatSession | None:
        now = self.clock()
        previous_team: list[str | None] = [None]

        def wait(s: ChatSession) -> ChatSession | None:
            if s.state == "closed":
                return None
            previous_team[0] = s.team if s.state == "queued" else None
            s.state = "queued"
            s.queued_at = s.queued_at if previous_team[0] else now
            s.team = team
            s.agent = None
            s.assigned_at = None
            if overflowed is not None:
                s.overflowed = overflowed
            return s

        session = self.chats.update_session(session_id, wait, now=now)
        if session is None or session.state != "queued":
            return session
        if session.ticket_id:
            self.tickets.record_event(
                session.ticket_id, "chat_queued", {"team": team, "overflowed": session.overflowed}
            )
        self.refresh_queue(team)
        if previous_team[0] and previous_team[0] != team:
            self.refresh_queue(previous_team[0])
        return session

    def _give_to(self, session_id: str, email: str) -> bool | None:
        """Claim one of the agent's slots for this chat and assign it: True when it is
        theirs, False when the chat could not be taken, None when they have no room."""
        if self.chats.claim_slot(email, session_id) is None:
            return None
        try:
            if self._assign(session_id, email):
                return True
        except Exception:
            self._release_unless_theirs(session_id, email)
            raise
        self._release_unless_theirs(session_id, email)
        return False

    def _release_unless_theirs(self, session_id: str, email: str) -> None:
        """After an assignment failed, possibly midway: the slot goes back unless the chat
        did become the agent's."""
        current = self.chats.get_session(session_id, now=self.clock())
        if current is None or current.state != "assigned" or current.agent != email:
            self.chats.release_slot(email, session_id)

    def _assign(self, session_id: str, email: str) -> bool:
        """Give a chat to an agent whose slot is already claimed; False if it was gone."""
        now = self.clock()
        before: list[ChatSession] = []

        def take(s: ChatSession) -> ChatSession | None:
            if s.state not in ("new", "bot", "queued") or s.ticket_id is None:
                return None
            before.append(replace(s))
            s.state = "assigned"
            s.agent = email
            s.assigned_at = now
            return s

        session = self.chats.update_session(session_id, take, now=now)
        if session is None or not before or session.agent != email:
            return False
        was = before[0]
        assert session.ticket_id is not None
        self.tickets.record_event(
            session.ticket_id, "chat_assigned", {"agent": email, "language": session.language}
        )
        name = self.agent_names.get(email, email.split("@", maxsplit=1)[0])
        self.pusher.push_quietly(session.connection_id, event("assigned", agent={"name": name}))
        presence = self.chats.get_presence(email)
        agent_connection = presence.connection_id if presence else None
        self.pusher.push_quietly(agent_connection, self._offer(session))
        if agent_connection:
            messages = self.store.messages_after(session.ticket_id, None)  # agents see notes too
            try:
                self._push_history(agent_connection, messages, session_id=session.id)
            except Exception:
                log.warning("could not send the history to the agent", exc_info=True)
        if was.state == "queued" and was.team:
            self.refresh_queue(was.team)
        return True

    def _offer(self, session: ChatSession) -> str:
        """The `assigned` frame an agent gets for a chat that is now theirs."""
        return event(
            "assigned",
            session_id=session.id,
            ticket_id=session.ticket_id,
            language=session.language,
            customer={"name": session.contact_name, "locale": session.locale, "page": session.page},
        )

    def _eligible(self, session: ChatSession, languages: Iterable[str]) -> bool:
        return session.language in set(languages) or session.overflowed

    def pull_waiting(self, email: str) -> None:
        """An agent has room: give them the longest-waiting chats they can take."""
        for _ in range(20):
            presence = self.chats.get_presence(email)
            if (
                presence is None
                or presence.status != "online"
                or presence.active >= presence.max_chats
            ):
                return
            candidates: list[ChatSession] = []
            for team_id in self._teams_for(presence.languages):
                candidates += [
                    s
                    for s in self.chats.queue(team_id, now=self.clock())
                    if self._eligible(s, presence.languages)
                ]
            if not candidates:
                return
            oldest = min(candidates, key=lambda s: (s.queued_at or self.clock(), s.id))
            if self._give_to(oldest.id, email) is None:
                return

    def _teams_for(self, languages: Iterable[str]) -> list[str]:
        teams = []
        for code in languages:
            team = self.config.team_for_language(code)
            if team and team.id not in teams:
                teams.append(team.id)
        fallback = self.settings.fallback_team
        if (
            fallback
            and fallback not in teams
            and set(languages) & set(self.config.teams[fallback].languages)
        ):
            teams.append(fallback)
        return teams

    def estimate(self, session: ChatSession, position: int) -> tuple[int | None, str]:
        language = session.language or self.config.languages.default
        agents = len(self.chats.online_agents(language))
        if session.overflowed and self.settings.fallback_team:
            for code in self.config.teams[self.settings.fallback_team].languages:
                agents = max(agents, len(self.chats.online_agents(code)))
        if agents == 0:
            return None, "no_agents_online"
        recent = self.chats.recent_handle_times(session.team or "")
        if recent:
            handle, basis = statistics.median(recent), "recent"
        else:
            handle, basis = self.settings.default_handle_minutes * 60, "default"
        return int(math.ceil(position / agents) * handle), basis

    def _push_position(self, session: ChatSession, position: int | None = None) -> None:
        position = position or self.chats.queue_position(session, now=self.clock())
        wait, basis = self.estimate(session, position)
        self.pusher.push_quietly(
            session.connection_id,
            event(
                "queued",
                position=position,
                estimated_wait_seconds=wait,
                estimate_basis=basis,
                team=session.team,
            ),
        )

    def refresh_queue(self, team: str) -> None:
        """Tell everyone waiting for `team` their position, and its agents the list."""
        waiting = self.chats.queue(team, now=self.clock())
        for position, session in enumerate(waiting, start=1):
            self._push_position(session, position)
        frame = waiting_event(team, [waiting_entry(s) for s in waiting])
        notified = set()
        for code in self.config.teams[team].languages:
            for email in self.chats.online_agents(code):
                if email in notified:
                    continue
                notified.add(email)
                presence = self.chats.get_presence(email)
                if presence:
                    self.pusher.push_quietly(presence.connection_id, frame)

    # -- agents ---------------------------------------------------------------------------------------

    def _agent(self, connection: Connection, action: Action) -> None:
        assert connection.agent is not None
        email = connection.agent
        if action.name == "status":
            self._status(connection, email, action)
            return
        session = self.chats.get_session(action.get("session_id"), now=self.clock())
        if session is None:
            raise _fail("not_found", "no such chat")
        if action.name == "accept":
            self._accept(connection, email, session)
            return
        if session.agent != email or session.state != "assigned":
            raise _fail("forbidden", "this chat is not assigned to you")
        if action.name == "message":
            self._agent_message(connection, email, session, action)
        elif action.name == "note":
            note = self.tickets.add_note(session.ticket_id or "", action.get("text"), agent=email)
            self.pusher.push(
                connection.id,
                event(
                    "ack",
                    client_id=action.client_id,
                    session_id=session.id,
                    message=chat_message(note, agent_names=self.agent_names),
                ),
            )
        elif action.name == "typing":
            self.pusher.push_quietly(
                session.connection_id,
                event("typing", **{"from": "agent"}, typing=action.get("typing")),
            )
        elif action.name == "read":
            self.pusher.push_quietly(
                session.connection_id, event("read", message_id=action.get("message_id"))
            )
        elif action.name == "transfer":
            self._transfer(connection, email, session, action)
        elif action.name == "close":
            self.close(session.id, by="agent")

    def _status(self, connection: Connection, email: str, action: Action) -> None:
        spec = self.config.agent(email)
        assert spec is not None
        languages = action.get("languages") or list(spec.languages)
        unknown = [code for code in languages if code not in spec.languages]
        if unknown:
            raise _fail("bad_field", f"you are not configured for {', '.join(unknown)}")
        max_chats = action.get("max_chats")
        if max_chats is None:
            max_chats = spec.max_chats
        if max_chats > spec.max_chats:
            raise _fail("bad_field", f"`max_chats` is at most {spec.max_chats} for you")
        presence = self.chats.set_presence(
            email,
            status=action.get("status"),
            languages=languages,
            max_chats=max_chats,
            connection_id=connection.id,
            now=self.clock(),
        )
        self.pusher.push(
            connection.id,
            event(
                "status",
                status=presence.status,
                languages=list(presence.languages),
                max_chats=presence.max_chats,
                active=presence.active,
                teams=[{"id": t.id, "name": t.name} for t in self.config.teams.values()],
            ),
        )
        # the agent's own chats, so a reconnecting agent picks up where they were
        for session in self.chats.agent_sessions(email, now=self.clock()):
            if session.state == "assigned" and session.ticket_id:
                self.pusher.push_quietly(connection.id, self._offer(session))
                self._push_history(
                    connection.id,
                    self.store.messages_after(session.ticket_id, None),
                    session_id=session.id,
                )
        for team_id in self._teams_for(presence.languages):
            waiting = self.chats.queue(team_id, now=self.clock())
            self.pusher.push_quietly(
                connection.id, waiting_event(team_id, [waiting_entry(s) for s in waiting])
            )
        if presence.status == "online":
            self.pull_waiting(email)

    def _accept(self, connection: Connection, email: str, session: ChatSession) -> None:
        if session.state != "queued":
            raise _fail("invalid_state", "this chat is not waiting")
        presence = self.chats.get_presence(email)
        if presence is None or presence.status != "online":
            raise _fail("not_online", "go online before accepting chats")
        if not self._eligible(session, presence.languages):
            raise _fail("forbidden", f"this chat is in {session.language}, which you do not take")
        given = self._give_to(session.id, email)
        if given is None:
            raise _fail("no_room", "you are at your limit of chats")
        if not given:
            raise _fail("invalid_state", "someone else took this chat")

    def _agent_message(
        self, connection: Connection, email: str, session: ChatSession, action: Action
    ) -> None:
        from functions.core.tickets import DuplicateReplyError

        client_id = action.client_id or ids.random_id(12)
        external_id = f"agent:{session.id}:{client_id}"
        try:
            result = self.tickets.reply(
                session.ticket_id or "",
                action.get("text"),
                agent=email,
                agent_name=self.agent_names.get(email, ""),
                external_id=external_id,
            )
        except DuplicateReplyError:
            record = self.store.get_intake(Channel.CHAT, external_id)
            stored = (
                self.store.get_message(record.ticket_id, record.message_sk)
                if record and record.message_sk
                else None
            )
            if stored:
                self.pusher.push(
                    connection.id,
                    event(
                        "ack",
                        client_id=client_id,
                        session_id=session.id,
                        message=chat_message(stored, agent_names=self.agent_names),
                    ),
                )
            return
        if not session.agent_replied:

            def replied(s: ChatSession) -> ChatSession:
                s.agent_replied = True
                return s

            self.chats.update_session(session.id, replied, now=self.clock())
        record = self.store.get_intake(Channel.CHAT, external_id)
        stored = (
            self.store.get_message(result.ticket_id, record.message_sk)
            if record and record.message_sk
            else None
        )
        self.pusher.push(
            connection.id,
            event(
                "ack",
                client_id=client_id,
                session_id=session.id,
                delivery=result.delivery,
                detail=result.detail,
                message=chat_message(stored, agent_names=self.agent_names)
                if stored
                else {"id": result.message_id},
            ),
        )

    def _transfer(
        self, connection: Connection, email: str, session: ChatSession, action: Action
    ) -> None:
        target_team = action.get("team")
        target_agent = action.get("agent")
        if target_team is not None and target_team not in self.config.teams:
            raise _fail("bad_field", f"unknown team {target_team!r}")
        if target_agent is not None:
            if self.config.agent(target_agent) is None:
                raise _fail("bad_field", f"{target_agent} is not an agent")
            if target_agent == email:
                raise _fail("bad_field", "the chat is already yours")
            if self.chats.claim_slot(target_agent, session.id) is None:
                raise _fail("no_room", f"{target_agent} is not online or has no room")
        assert session.ticket_id is not None

        def release(s: ChatSession) -> ChatSession:
            s.state = "bot" if target_agent else "queued"
            s.agent = None
            s.assigned_at = None
            return s

        self.chats.update_session(session.id, release, now=self.clock())
        self.chats.release_slot(email, session.id)
        self.tickets.record_event(
            session.ticket_id,
            "chat_transferred",
            {"from": email, "to_team": target_team, "to_agent": target_agent},
            actor=email,
        )
        self.pusher.push(connection.id, event("closed", session_id=session.id, by="transfer"))
        if target_agent:
            if not self._assign(session.id, target_agent):
                self._release_unless_theirs(session.id, target_agent)
                self._enqueue(session.id, session.team or self.config.routing.default_team)
        else:
            # a transfer to a team starts a fresh wait there, and is routed at once if
            # one of that team's agents has room
            def requeue(s: ChatSession) -> ChatSession:
                s.state = "bot"
                s.team = target_team
                s.queued_at = None
                return s

            self.chats.update_session(session.id, requeue, now=self.clock())
            self._route_to_team(session.id, target_team)
        self.pull_waiting(email)

    def _route_to_team(self, session_id: str, team: str) -> None:
        session = self.chats.get_session(session_id, now=self.clock())
        if session is None:
            return
        for code in self.config.teams[team].languages:
            for agent in self.chats.online_agents(code):
                if self._give_to(session_id, agent):
                    return
        self._enqueue(session_id, team)

    # -- closing ------------------------------------------------------------------------------------------

    def close(self, session_id: str, *, by: str) -> ChatSession | None:
        now = self.clock()
        before: list[ChatSession] = []

        def end(s: ChatSession) -> ChatSession | None:
            if s.state == "closed":
                return None
            before.append(replace(s))
            s.state = "closed"
            s.closed_at = now
            s.closed_by = by
            return s

        session = self.chats.update_session(session_id, end, now=now)
        if session is None or not before:
            return session
        was = before[0]
        if was.agent and was.state == "assigned":
            self.chats.release_slot(was.agent, session_id)
            if was.assigned_at and was.team:
                self.chats.record_handle_time(
                    was.team, int((now - was.assigned_at).total_seconds())
                )
            presence = self.chats.get_presence(was.agent)
            self.pusher.push_quietly(
                presence.connection_id if presence else None,
                event("closed", session_id=session.id, by=by),
            )
        self.pusher.push_quietly(
            session.connection_id,
            event(
                "closed",
                by=by,
                offer_rating=bool(session.ticket_id),
                offer_transcript=bool(session.ticket_id),
            ),
        )
        if session.ticket_id:
            if self.settings.on_close == "resolve" and session.agent_replied:
                self.tickets.resolve(session.ticket_id, actor=was.agent or "helpline")
            else:
                reason = (
                    "no agent answered yet"
                    if not session.agent_replied
                    else "chat.on_close is keep_open"
                )
                self.tickets.record_event(
                    session.ticket_id, "chat_closed", {"by": by, "kept_open": reason}, actor=by
                )
        if was.state == "queued" and was.team:
            self.refresh_queue(was.team)
        if was.agent and was.state == "assigned":
            self.pull_waiting(was.agent)
        return session

    # -- the minute timer -----------------------------------------------------------------------------------

    def housekeeping(self) -> dict[str, int]:
        """Overflow long waits, free chats of agents who left, end abandoned chats."""
        now = self.clock()
        done = {"overflowed": 0, "requeued": 0, "abandoned": 0, "agents_offline": 0}
        fallback = self.settings.fallback_team
        resume = timedelta(minutes=self.settings.resume_minutes)
        for team_id in self.config.teams:
            for session in self.chats.queue(team_id, now=now):
                gone = session.connection_id is None and session.disconnected_at is not None
                if gone and now - session.disconnected_at >= resume:  # type: ignore[operator]
                    self.close(session.id, by="timeout")
                    done["abandoned"] += 1
                    continue
                waited = now - (session.queued_at or now)
                if (
                    fallback
                    and team_id != fallback
                    and not session.overflowed
                    and waited >= timedelta(seconds=self.settings.overflow_after_seconds)
                ):
                    self._enqueue(session.id, fallback, overflowed=True)
                    if session.ticket_id:
                        self.tickets.record_event(
                            session.ticket_id,
                            "chat_overflowed",
                            {
                                "from": team_id,
                                "to": fallback,
                                "waited_seconds": int(waited.total_seconds()),
                            },
                        )
                    done["overflowed"] += 1
        for agent in self.config.agents:
            presence = self.chats.get_presence(agent.email)
            if presence is None:
                continue
            if presence.status != "offline" and (
                presence.connection_id is None
                or self.chats.get_connection(presence.connection_id, now=now) is None
            ):
                presence = self.chats.set_presence(
                    agent.email,
                    status="offline",
                    languages=presence.languages,
                    max_chats=presence.max_chats,
                    connection_id=None,
                    now=now,
                )
                done["agents_offline"] += 1
            if (
                presence.status == "offline"
                and presence.updated_at
                and now - presence.updated_at >= resume
            ):
                # expired chats too: they still hold the agent's slots
                for session in self.chats.agent_sessions(agent.email):
                    if session.state == "assigned":
                        self.chats.release_slot(agent.email, session.id)
                        if session.expired(now):
                            continue  # gone for everyone else; the TTL deletes it
                        self._route_to_team(
                            session.id, session.team or self.config.routing.default_team
                        )
                        done["requeued"] += 1
        if fallback:
            for code in self.config.teams[fallback].languages:
                for email in self.chats.online_agents(code):
                    self.pull_waiting(email)
        return done
