"""The intake pipeline: ordered filters, then one commit step.

Every inbound message, whatever its channel, goes through `Intake.process`:

1. One batch read fetches everything the filters may need (the message's own intake
   record, thread keys, the sender's identity and likely profile, token tickets).
2. If the message was seen before, the run only finishes what is still owed (the
   routing message, a pending automatic reply) and stops: nothing is doubled.
3. The filters run in their numbered order. They only annotate `ctx.findings`; a
   `Drop` verdict stops the run and the message is quarantined with its reason.
4. The commit step writes the ticket, the message, the intake record, the customer,
   the events and any automatic reply in one DynamoDB transaction; then it publishes
   the routing message and sends the reply, each recorded on the intake record so a
   retry neither loses nor repeats them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from functions.core import ids, ticket_sla
from functions.core.blobs import BlobStore, safe_name
from functions.core.errors import DeliveryError, maybe_sent
from functions.core.models import (
    Channel,
    Customer,
    DeliveryStatus,
    Direction,
    Identity,
    InboundMessage,
    Message,
    MessageKind,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from functions.core.redact import redact_identity
from functions.core.replies import (
    CAPPED_REASON,
    ReplySituation,
    TemplateRenderer,
    automatic_reply_address,
    decide_reply,
)
from functions.core.routing import RoutingPublisher, routing_message
from functions.core.store import (
    AnnotateMessage,
    ClaimExternalId,
    IntakeRecord,
    Intent,
    LinkIdentity,
    Lookup,
    PointConversation,
    PutCustomer,
    PutEvents,
    PutMessage,
    PutTicket,
    QuarantineRecord,
    ReserveAutoReply,
    Snapshot,
    TicketStore,
    TransactionConflict,
    item_size,
    message_to_item,
    utf8_prefix,
)
from functions.core.timeutil import Clock, to_iso, utcnow

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.filters.bounce import BounceFinding
    from functions.core.hours import Calendar
    from functions.core.language import Detection, LanguageDetector
    from functions.core.routing import RouteDecision

log = logging.getLogger("helpline.intake")

# a message item above this many bytes keeps its bodies in S3 (DynamoDB caps an item at
# 400 KB of UTF-8, and the transaction carries the ticket and records beside it)
MAX_MESSAGE_ITEM_BYTES = 300_000
KEPT_BODY_BYTES = 100_000  # of the text, in the item, for lists, previews and search


@dataclass(frozen=True, slots=True)
class Drop:
    """A filter's verdict: stop, and keep the message in quarantine with this reason."""

    reason: str
    detail: str


@dataclass
class Findings:
    """What the filters found, one group per filter. Only filters write here."""

    stripped_headers: list[str] = field(default_factory=list)  # trust
    spam: bool = False  # spam_virus
    auto_response: str | None = None  # auto_responder (why), out_of_office
    bounce: BounceFinding | None = None  # bounce
    out_of_office: bool = False  # out_of_office
    ticket: Ticket | None = None  # follow_up, bounce
    follow_up_via: str | None = None
    previous_ticket: str | None = None  # a closed ticket this message continues
    # tickets the mail named (token, In-Reply-To, References) whose participant its
    # sender is not: ticket id -> how it was named; a new ticket is linked to each
    linked: dict[str, str] = field(default_factory=dict)
    subject: str | None = None  # a new ticket's subject, when it drops those tokens
    # the ticket the platform conversation pointed at when we read it (None: no pointer);
    # a new ticket moves the pointer only if it still says this
    conversation_ticket: str | None = None
    identity: Identity | None = None  # identify_customer
    customer: Customer | None = None
    customer_version: int | None = None  # None: a new customer
    language: Detection | None = None  # language
    stripped_text: str = ""
    route: RouteDecision | None = None  # route
    calendar: Calendar | None = None  # hours
    in_hours: bool = True
    next_open: datetime | None = None
    tags: list[str] = field(default_factory=list)
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    survey_answer: tuple[str, int] | None = None  # survey_answer: (survey id, score)

    def add_tag(self, tag: str) -> None:
        if tag not in self.tags:
            self.tags.append(tag)

    def note(self, kind: str, detail: dict[str, Any]) -> None:
        self.notes.append((kind, detail))


@dataclass
class Context:
    message: InboundMessage
    config: Config
    snapshot: Snapshot
    store: TicketStore
    detector: LanguageDetector
    now: datetime
    findings: Findings = field(default_factory=Findings)
    # the unanswered survey a typed score answers: (ticket, channel, score) -> survey id
    open_survey: Callable[[Ticket, Channel, int], str | None] | None = None
    _tickets: dict[str, Ticket | None] = field(default_factory=dict)
    _customers: dict[str, tuple[Customer, int] | None] = field(default_factory=dict)

    def ticket(self, ticket_id: str) -> Ticket | None:
        """A ticket from the prefetched snapshot, or read once and remembered."""
        if ticket_id not in self._tickets:
            found = self.snapshot.ticket(ticket_id)
            if found is None and not self.snapshot.found(Lookup.ticket(ticket_id)):
                found = self.store.get_ticket(ticket_id)
            self._tickets[ticket_id] = found
        return self._tickets[ticket_id]

    def customer(self, customer_id: str) -> tuple[Customer, int] | None:
        if customer_id not in self._customers:
            found = self.snapshot.customer(customer_id)
            if found is None:
                found = self.store.get_customer(customer_id)
            self._customers[customer_id] = found
        return self._customers[customer_id]


Filter = Callable[[Context], Drop | None]


def _filters() -> tuple[tuple[int, str, Filter], ...]:
    # imported here: the filter modules import Drop and Context from this module
    from functions.core.filters import (
        auto_responder,
        bounce,
        follow_up,
        hours,
        identify_customer,
        language,
        out_of_office,
        own_loop,
        route,
        spam_virus,
        survey_answer,
        trust,
        typed_survey_answer,
    )

    return (
        (10, "trust", trust.run),
        (15, "spam_virus", spam_virus.run),
        (20, "own_loop", own_loop.run),
        (30, "auto_responder", auto_responder.run),
        (40, "bounce", bounce.run),
        (50, "out_of_office", out_of_office.run),
        (55, "survey_answer", survey_answer.run),
        (60, "follow_up", follow_up.run),
        (65, "typed_survey_answer", typed_survey_answer.run),
        (70, "identify_customer", identify_customer.run),
        (80, "language", language.run),
        (90, "route", route.run),
        (100, "hours", hours.run),
    )


_FILTERS: tuple[tuple[int, str, Filter], ...] | None = None


def filters() -> tuple[tuple[int, str, Filter], ...]:
    """The filters in their fixed order (numbered with gaps, so one can be inserted)."""
    global _FILTERS
    if _FILTERS is None:
        _FILTERS = _filters()
    return _FILTERS


class Sender(Protocol):
    channel: Channel

    def send(self, message: Message) -> str: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one inbound message."""

    status: str  # created | follow_up | duplicate | quarantined
    ticket_id: str | None = None
    message_id: str | None = None
    quarantine_id: str | None = None
    reason: str = ""
    queue: str | None = None
    reply: str = "none"  # sent | failed | skipped: <why> | none | unknown | capped


@dataclass
class _Plan:
    ticket: Ticket
    inbound: Message
    intents: list[Intent]
    route_body: dict[str, Any] | None
    reply: Message | None
    reply_skipped: str
    is_new: bool


class Intake:
    """Runs the pipeline for one message at a time. All collaborators are injected."""

    def __init__(
        self,
        *,
        config: Config,
        store: TicketStore,
        blobs: BlobStore | None,
        publisher: RoutingPublisher,
        senders: Mapping[Channel, Sender],
        renderer: TemplateRenderer,
        detector: LanguageDetector,
        clock: Clock = utcnow,
        survey_answers: Callable[[str, int, str], None] | None = None,
        open_survey: Callable[[Ticket, Channel, int], str | None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.blobs = blobs
        # records a survey button's score (the survey function's service, when wired)
        self.survey_answers = survey_answers
        # finds the survey a typed score answers (the same service, when wired)
        self.open_survey = open_survey
        self.publisher = publisher
        self.senders = dict(senders)
        self.renderer = renderer
        self.detector = detector
        self.clock = clock

    # -- the run --------------------------------------------------------------------------

    def process(
        self, message: InboundMessage, *, replay_event: dict[str, Any] | None = None
    ) -> Outcome:
        if message.kind is not MessageKind.MESSAGE:
            return self.annotate(message, replay_event=replay_event)
        for attempt in range(4):
            snapshot = self.store.lookup(self.lookups_for(message))
            existing = snapshot.intake(message.channel, message.external_id)
            if existing is not None and existing.direction is Direction.INBOUND:
                return self.resume(existing)
            ctx = Context(
                message=message,
                config=self.config,
                snapshot=snapshot,
                store=self.store,
                detector=self.detector,
                now=self.clock(),
                open_survey=self.open_survey,
            )
            for order, name, run in filters():
                verdict = run(ctx)
                if verdict is not None:
                    log.info("dropped by filter %s (%d): %s", name, order, verdict.reason)
                    return self.quarantine(
                        channel=message.channel,
                        reason=verdict.reason,
                        detail=verdict.detail,
                        received_at=message.received_at,
                        raw_ref=message.raw_ref,
                        event=replay_event,
                        external_id=message.external_id,
                        sender=redact_identity(message.sender),
                        subject=message.subject,
                    )
            try:
                return self.commit(ctx)
            except TransactionConflict as conflict:
                if conflict.lost(ClaimExternalId) and not conflict.lost(PutTicket):
                    log.info(
                        "lost the race for %s; finishing the winner's work", message.channel.value
                    )
                    record = self.store.get_intake(message.channel, message.external_id)
                    if record is not None and record.direction is Direction.INBOUND:
                        return self.resume(record)
                log.info("commit conflict (%s), attempt %d; reading again", conflict, attempt + 1)
        raise RuntimeError("the commit kept conflicting; giving up so the platform retries")

    def lookups_for(self, message: InboundMessage) -> list[Lookup]:
        from functions.core.filters.follow_up import subject_tokens, thread_ids
        from functions.core.filters.identify_customer import customer_id_for

        lookups = [Lookup.message(message.channel, message.external_id)]
        if message.target_external_id:
            lookups.append(Lookup.message(message.channel, message.target_external_id))
        if message.conversation_key:
            lookups.append(Lookup.conversation(message.channel, message.conversation_key))
        if message.channel is Channel.EMAIL:
            lookups += [Lookup.message(Channel.EMAIL, mid) for mid in thread_ids(message)[:40]]
            lookups += [Lookup.ticket(token) for token in subject_tokens(message.subject)[:5]]
            for name, value in message.extra:
                if name == "dsn.original_message_id" and value:
                    lookups.append(Lookup.message(Channel.EMAIL, value))
        for identity in (message.sender, *message.alternates[:2]):
            if identity is not None:
                lookups.append(Lookup.identity(identity))
                lookups.append(Lookup.customer(customer_id_for(identity)))
        return list(dict.fromkeys(lookups))

    # -- commit -----------------------------------------------------------------------------

    def commit(self, ctx: Context) -> Outcome:
        if ctx.findings.survey_answer and self.survey_answers is not None:
            # before the ticket write: a retry after a failure records it again (the
            # same score twice is no change), and nothing recorded is ever lost
            survey_id, score = ctx.findings.survey_answer
            self.survey_answers(survey_id, score, message_channel_name(ctx.message))
        plan = self._plan(ctx)
        try:
            self.store.transact(plan.intents)
        except TransactionConflict as conflict:
            if (
                plan.reply is None
                or not conflict.lost(ReserveAutoReply)
                or len(conflict.failed) != 1
            ):
                raise
            # the customer was answered recently: commit the same without the reply
            plan = self._plan(ctx, reply_blocked="rate limit: answered recently")
            self.store.transact(plan.intents)
        record = IntakeRecord(
            channel=ctx.message.channel,
            external_id=ctx.message.external_id,
            ticket_id=plan.ticket.id,
            message_id=plan.inbound.id,
            message_sk=TicketStore.message_sk(plan.inbound),
            route=plan.route_body,
            reply_state="pending" if plan.reply else "none",
            reply_message_sk=TicketStore.message_sk(plan.reply) if plan.reply else None,
        )
        reply = self._publish_and_reply(record, plan.reply)
        log.info(
            "%s ticket %s via %s, queue %s, reply %s",
            "created" if plan.is_new else "updated",
            plan.ticket.id,
            ctx.message.channel.value,
            plan.ticket.queue,
            reply if plan.reply else f"skipped: {plan.reply_skipped}",
        )
        return Outcome(
            status="created" if plan.is_new else "follow_up",
            ticket_id=plan.ticket.id,
            message_id=plan.inbound.id,
            queue=plan.ticket.queue,
            reply=reply if plan.reply else f"skipped: {plan.reply_skipped}",
        )

    def _plan(self, ctx: Context, *, reply_blocked: str | None = None) -> _Plan:
        f = ctx.findings
        message = ctx.message
        now = ctx.now
        assert f.customer is not None and f.identity is not None and f.route is not None
        customer = f.customer
        language = f.language.language if f.language else self.config.languages.default
        is_new = f.ticket is None
        automatic = bool(f.auto_response) or f.out_of_office or f.bounce is not None
        kind = (
            "bounce"
            if f.bounce
            else "out_of_office"
            if f.out_of_office
            else "survey_answer"
            if f.survey_answer
            else "auto_response"
            if f.auto_response
            else "message"
        )
        events: list[TicketEvent] = []

        def event(event_type: str, /, **detail: Any) -> None:
            events.append(TicketEvent(ticket_id="", at=now, type=event_type, detail=detail))

        # -- the ticket ---------------------------------------------------------------
        if f.ticket is None:
            ticket = Ticket(
                id=ids.new_ticket_id(),
                channel=message.channel,
                subject=(
                    (message.subject if f.subject is None else f.subject)
                    or f.stripped_text[:80]
                    or "(no subject)"
                )[:300],
                customer_id=customer.id,
                status=TicketStatus.NEW,
                priority=f.route.priority,
                language=language,
                queue=f.route.team,
                tags=list(f.tags),
                participants=self._participants(message, f.identity),
                account=message.account,
                conversation_key=message.conversation_key,
                created_at=message.received_at,
                updated_at=now,
                last_inbound_at=message.received_at,
                message_count=1,
            )
            expected_version = None
            event("created", channel=message.channel.value, automatic=automatic)
            if not automatic:  # an auto-responder's ticket owes nobody an answer
                policy = ticket_sla.on_new_ticket(
                    self.config, ticket, customer_tags=customer.tags, at=message.received_at
                )
                event(
                    "sla_started",
                    policy=policy.name,
                    first_response_due=_iso(ticket_sla.promise(self.config, ticket)),
                )
            if f.previous_ticket:
                event("follows_closed_ticket", ticket=f.previous_ticket)
            for other, via in f.linked.items():
                event("linked", ticket=other, via=via, reason="sender is not a participant")
            event(
                "language_detected",
                language=language,
                source=f.language.source if f.language else "default",
                confidence=round(f.language.confidence, 3) if f.language else 0,
            )
            event(
                "routed",
                team=f.route.team,
                reason=f.route.reason,
                rules=list(f.route.rules),
                priority=f.route.priority,
            )
        else:
            ticket = replace(
                f.ticket, tags=list(f.ticket.tags), participants=list(f.ticket.participants)
            )
            expected_version = f.ticket.version
            ticket.message_count += 1
            ticket.updated_at = now
            for tag in f.tags:
                if tag not in ticket.tags:
                    ticket.tags.append(tag)
            if f.bounce is None:
                # follow_up let it in from a participant: its sender and whoever it
                # copied join too (never an address it only named in Reply-To)
                for entry in self._participants(message, f.identity):
                    if entry not in ticket.participants and len(ticket.participants) < 50:
                        ticket.participants.append(entry)
            if not automatic:
                ticket.last_inbound_at = message.received_at
                if ticket.status in (TicketStatus.SOLVED, TicketStatus.PENDING):
                    event("reopened", previous=ticket.status.value, by="customer")
                    previous = ticket.status
                    ticket.status = TicketStatus.OPEN
                    ticket_sla.on_status(
                        self.config,
                        ticket,
                        old=previous.value,
                        new=ticket.status.value,
                        at=message.received_at,
                    )
                ticket_sla.on_customer_message(self.config, ticket, at=message.received_at)
            event("message_added", via=f.follow_up_via, kind=kind)
        if f.stripped_headers:
            event("headers_stripped", headers=f.stripped_headers)
        if f.spam:
            event("tagged", tag="spam", by="spam scan")
        if f.bounce is not None:
            event(
                "delivery_failed" if f.bounce.permanent else "delivery_delayed",
                recipients=list(f.bounce.failed_recipients),
                status=f.bounce.status,
                diagnostic=f.bounce.diagnostic[:300],
                original=f.bounce.original_message_id,
            )
        for note_kind, detail in f.notes:
            event(note_kind, **detail)

        # -- the inbound message ----------------------------------------------------------
        message_id = ids.stable_id(message.channel.value, message.external_id)
        inbound = Message(
            id=message_id,
            ticket_id=ticket.id,
            direction=Direction.INBOUND,
            channel=message.channel,
            created_at=message.received_at,
            automatic=automatic,
            author=customer.id
            if f.bounce is None
            else (message.sender.value if message.sender else "mailer-daemon"),
            sender=f.identity.value
            if f.bounce is None
            else (message.sender.value if message.sender else ""),
            recipients=[*message.to, *message.cc],
            subject=message.subject,
            text=message.text,
            html=message.html,
            stripped_text=f.stripped_text[:5000],
            language=language,
            external_id=message.external_id,
            in_reply_to=list(message.in_reply_to),
            references=list(message.references),
            attachments=self._store_attachments(message_id, message),
            kind=kind,
            raw_ref=message.raw_ref,
        )
        inbound = self._offload_large_body(inbound)

        # -- the customer ---------------------------------------------------------------------
        intents: list[Intent] = []
        if f.bounce is not None:
            failed = {f"email:{r.lower()}" for r in f.bounce.failed_recipients}
            owned = {str(i) for i in customer.identities}
            newly = (
                sorted((failed & owned) - set(customer.undeliverable)) if f.bounce.permanent else []
            )
            if newly and f.customer_version is not None:
                updated = replace(customer, undeliverable=[*customer.undeliverable, *newly])
                intents.append(PutCustomer(updated, f.customer_version))
                event("address_undeliverable", identities=newly)
        elif f.customer_version is None:
            intents.append(PutCustomer(customer, None))
            intents.append(LinkIdentity(f.identity, customer.id))
        else:
            changed = replace(
                customer, identities=list(customer.identities), tags=list(customer.tags)
            )
            if f.identity not in changed.identities:
                changed.identities.append(f.identity)
                intents.append(LinkIdentity(f.identity, customer.id))
            if not automatic and f.language and f.language.source == "text":
                changed.language = language
            if not changed.name and message.sender_name:
                changed.name = message.sender_name
            if (changed.identities, changed.language, changed.name) != (
                customer.identities,
                customer.language,
                customer.name,
            ):
                intents.append(PutCustomer(changed, f.customer_version))

        # -- routing message (agents hear of new tickets, replies and failed deliveries) ----
        route_body = None
        if not automatic or (f.bounce is not None and f.bounce.permanent):
            route_event = (
                "delivery_failed"
                if f.bounce is not None
                else "new_ticket"
                if is_new
                else "customer_reply"
            )
            route_body = routing_message(
                event=route_event,
                message_id=inbound.id,
                ticket_id=ticket.id,
                team=ticket.queue or f.route.team,
                queue=ticket.queue or f.route.team,
                priority=ticket.priority,
                language=ticket.language,
                channel=message.channel,
                subject=ticket.subject,
                preview=f.stripped_text[:500],
                customer_id=customer.id,
                customer_name=customer.name,
                status=ticket.status.value,
                at=now,
                tags=ticket.tags,
                after_hours=not f.in_hours,
            )

        # -- the automatic reply -------------------------------------------------------------
        reply, skipped = self._plan_reply(
            ctx, ticket, inbound, is_new=is_new, blocked=reply_blocked
        )
        if reply is not None:
            event("auto_reply_queued", template=reply.kind, language=reply.language)
        else:
            event("auto_reply_skipped", reason=skipped)

        if is_new and message.conversation_key:
            intents.append(
                PointConversation(
                    channel=message.channel,
                    conversation=message.conversation_key,
                    ticket_id=ticket.id,
                    previous_ticket_id=f.conversation_ticket,
                )
            )

        events = [replace(e, ticket_id=ticket.id) for e in events]
        if is_new:
            events += self._links_back(ctx, ticket.id)
        intents[:0] = [
            PutTicket(ticket, expected_version),
            PutMessage(inbound),
            ClaimExternalId(
                IntakeRecord(
                    channel=message.channel,
                    external_id=message.external_id,
                    ticket_id=ticket.id,
                    message_id=inbound.id,
                    message_sk=TicketStore.message_sk(inbound),
                    route=route_body,
                    routed=False,
                    reply_state="pending" if reply else "none",
                    reply_message_sk=TicketStore.message_sk(reply) if reply else None,
                    created_at=now,
                )
            ),
            PutEvents(tuple(events)),
        ]
        if reply is not None:
            intents += [
                PutMessage(reply),
                ClaimExternalId(
                    IntakeRecord(
                        channel=reply.channel,
                        external_id=reply.external_id or reply.id,
                        ticket_id=ticket.id,
                        message_id=reply.id,
                        message_sk=TicketStore.message_sk(reply),
                        direction=Direction.OUTBOUND,
                        created_at=now,
                    )
                ),
                ReserveAutoReply(
                    customer_id=customer.id,
                    ticket_id=ticket.id,
                    at=now,
                    window=timedelta(minutes=self.config.replies.window_minutes),
                    hourly_cap=self.config.replies.max_per_customer_per_hour,
                ),
            ]
        return _Plan(ticket, inbound, intents, route_body, reply, skipped, is_new)

    @staticmethod
    def _links_back(ctx: Context, ticket_id: str) -> list[TicketEvent]:
        """The new ticket, on the log of each ticket its mail named but could not join,
        so the agent there sees it too (a closed ticket's log is expiring: left alone)."""
        events = []
        for other, via in ctx.findings.linked.items():
            found = ctx.ticket(other)
            if found is not None and found.status is not TicketStatus.CLOSED:
                detail = {"ticket": ticket_id, "via": via, "reason": "sender is not a participant"}
                events.append(TicketEvent(other, ctx.now, "linked", detail))
        return events

    def _participants(self, message: InboundMessage, identity: Identity) -> list[str]:
        """Who may write into the ticket by its token: the sender and the people they
        copied, but never our own addresses."""
        from functions.core.channels.email import valid_address
        from functions.core.mime import Address

        people = [str(identity)]
        if message.channel is Channel.EMAIL:
            ours = {
                a.lower() for a in (*self.config.email.addresses, self.config.brand.support_address)
            }
            for formatted in (*message.to, *message.cc):
                address = formatted.rsplit("<", 1)[-1].rstrip(">").strip().lower()
                if valid_address(address) and address not in ours:
                    entry = str(Identity.email(address))
                    if entry not in people:
                        people.append(entry)
            del Address  # only imported to keep the dependency visible
        return people[:50]

    def _plan_reply(
        self, ctx: Context, ticket: Ticket, inbound: Message, *, is_new: bool, blocked: str | None
    ) -> tuple[Message | None, str]:
        f = ctx.findings
        message = ctx.message
        if blocked:
            return None, blocked
        assert f.customer is not None and f.identity is not None
        decision = decide_reply(
            self.config.replies,
            ReplySituation(
                is_new_ticket=is_new,
                in_hours=f.in_hours,
                auto_response=f.auto_response,
                out_of_office=f.out_of_office,
                bounce=f.bounce is not None,
                spam=f.spam,
                undeliverable=str(f.identity) in f.customer.undeliverable,
                channel_can_reply=message.channel in self.senders,
                live_channel=message.channel is Channel.CHAT,
            ),
        )
        if not decision.send or decision.template is None:
            return None, decision.reason
        recipient = automatic_reply_address(message, f.identity)
        if recipient is None:
            return None, "no usable From address (a Reply-To is never answered automatically)"
        brand = self.config.brand
        calendar = f.calendar
        team = self.config.teams.get(ticket.queue or "")
        rendered = self.renderer.render(
            purpose=message.channel.value if message.channel is Channel.EMAIL else "messaging",
            name=decision.template,
            locale=inbound.language,
            variables={
                "brand": {
                    "name": brand.name,
                    "support_address": brand.support_address,
                    "website": brand.website,
                },
                "customer_name": f.customer.name or message.sender_name,
                "ticket_id": ticket.id,
                "ticket_token": ticket.token,
                # without the token of a ticket the sender may not join (follow_up)
                "subject": message.subject if f.subject is None else f.subject,
                "team_name": team.name if team else brand.name,
                "next_open": f.next_open,
                "expected_response": ticket_sla.promise(self.config, ticket),
            },
            tz=calendar.tz if calendar else None,
        )
        subject = (
            rendered.subject
            if ticket.token in rendered.subject
            else f"{rendered.subject} {ticket.token}"
        )
        reply_id = ids.new_message_id()
        external_id = None
        references: list[str] = []
        in_reply_to: list[str] = []
        headers: dict[str, str] = {}
        if message.channel is Channel.EMAIL:
            from functions.core.channels.email import outbound_message_id

            external_id = outbound_message_id(ticket.id, reply_id, brand.message_id_domain)
            if not message.external_id.startswith("sha256:"):
                in_reply_to = [message.external_id]
                # a mail linked to a ticket it could not join is answered on a thread of
                # its own: that ticket's Message-IDs are not echoed back
                kept = [] if f.linked else list(message.references)
                references = [*kept, message.external_id][-20:]
            headers = {
                "Auto-Submitted": "auto-replied",
                "X-Auto-Response-Suppress": "All",
                "X-Loop": brand.support_address,
                "Content-Language": rendered.locale,
            }
        elif message.channel is not Channel.CHAT:
            window = self._window(message.channel, message.received_at, ctx.now)
            if not window.allowed:
                return None, str(window.reason)
            headers = dict(window.headers)
        reply = Message(
            id=reply_id,
            ticket_id=ticket.id,
            direction=Direction.OUTBOUND,
            channel=message.channel,
            created_at=max(ctx.now, message.received_at) + timedelta(microseconds=1),
            automatic=True,
            author="helpline",
            sender=message.account or brand.support_address,
            recipients=[recipient],
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            language=rendered.locale,
            external_id=external_id,
            in_reply_to=in_reply_to,
            references=references,
            headers=headers,
            kind=decision.template,
            delivery=DeliveryStatus.PENDING,
        )
        return reply, ""

    def _window(self, channel: Channel, last_inbound_at: datetime, now: datetime) -> Any:
        """An automatic reply may only go out inside the platform's standard window."""
        from functions.core.channels import windows

        return windows.decide(
            channel, last_inbound_at=last_inbound_at, now=now, human=False, whatsapp_template=None
        )

    def _store_attachments(self, message_id: str, message: InboundMessage) -> list[dict[str, Any]]:
        stored = []
        for index, attachment in enumerate(message.attachments):
            key = attachment.storage_key
            if attachment.content and self.blobs is not None and key is None:
                key = f"attachments/{message_id}/{index:02d}-{safe_name(attachment.filename)}"
                self.blobs.put(key, attachment.content, content_type=attachment.content_type)
            stored.append(
                {
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                    "sha256": attachment.sha256,
                    "key": key,
                    "url": attachment.url,
                    "media_id": attachment.media_id,
                    "caption": attachment.caption,
                    "inline": attachment.inline,
                    "content_id": attachment.content_id,
                }
            )
        return stored

    def _offload_large_body(self, message: Message) -> Message:
        if item_size(message_to_item(message)) <= MAX_MESSAGE_ITEM_BYTES or self.blobs is None:
            return message
        import json

        key = f"bodies/{message.ticket_id}/{message.id}.json"
        self.blobs.put(
            key,
            json.dumps({"text": message.text, "html": message.html}).encode("utf-8"),
            content_type="application/json",
        )
        return replace(
            message,
            text=utf8_prefix(message.text, KEPT_BODY_BYTES),
            stripped_text=utf8_prefix(message.stripped_text, KEPT_BODY_BYTES),
            html=None,
            body_ref=key,
        )

    # -- after the commit ---------------------------------------------------------------------

    def _publish_and_reply(self, record: IntakeRecord, reply: Message | None) -> str:
        if record.route is not None:
            self.publisher.publish(record.route)
        claimed = self.store.update_intake(
            record.channel,
            record.external_id,
            routed=True if record.route is not None else None,
            reply_from="pending" if reply is not None else None,
            reply_to="sending" if reply is not None else None,
        )
        if reply is None:
            return "none"
        if not claimed:
            return "skipped: another run is sending it"
        return self._deliver(record, reply)

    def _deliver(self, record: IntakeRecord, reply: Message) -> str:
        sender = self.senders.get(reply.channel)
        if sender is None:
            return "skipped: no sender for the channel"
        if reply.channel is Channel.EMAIL and not self.store.reserve_automatic_mail(
            self.clock(), per_hour=self.config.email.automatic_per_hour
        ):
            # counted at the send, after the customer's own limits passed in the commit,
            # so one sender's refused mail never uses up everyone's budget; recorded,
            # never raised: a retry would only be refused again
            self.store.finish_reply(
                record.channel,
                record.external_id,
                reply,
                state=DeliveryStatus.FAILED,
                provider_id=None,
                detail=CAPPED_REASON,
                event=TicketEvent(
                    reply.ticket_id,
                    self.clock(),
                    "auto_reply_capped",
                    {"reason": CAPPED_REASON, "per_hour": self.config.email.automatic_per_hour},
                ),
            )
            log.warning("automatic reply on ticket %s not sent: %s", reply.ticket_id, CAPPED_REASON)
            return "capped"
        try:
            provider_id = sender.send(reply)
        except DeliveryError as exc:
            if not exc.permanent:
                self._release_claim(record)
                raise
            self.store.finish_reply(
                record.channel,
                record.external_id,
                reply,
                state=DeliveryStatus.FAILED,
                provider_id=None,
                detail=exc.reason,
                event=TicketEvent(
                    reply.ticket_id, self.clock(), "auto_reply_failed", {"reason": exc.reason}
                ),
            )
            return "failed"
        except Exception as exc:
            if maybe_sent(exc):
                # the request may have reached the provider: resending could answer twice
                self.store.finish_reply(
                    record.channel,
                    record.external_id,
                    reply,
                    state=DeliveryStatus.UNKNOWN,
                    provider_id=None,
                    detail=type(exc).__name__,
                    event=TicketEvent(
                        reply.ticket_id,
                        self.clock(),
                        "auto_reply_unknown",
                        {"reason": type(exc).__name__},
                    ),
                )
                raise
            self._release_claim(record)
            raise
        self.store.finish_reply(
            record.channel,
            record.external_id,
            reply,
            state=DeliveryStatus.SENT,
            provider_id=provider_id,
            event=TicketEvent(
                reply.ticket_id,
                self.clock(),
                "auto_reply_sent",
                {
                    "template": reply.kind,
                    "to": [redact_identity(Identity("email", r)) for r in reply.recipients],
                },
            ),
        )
        if reply.channel is not Channel.EMAIL and provider_id:
            self.store.record_outbound_id(reply, provider_id)
        return "sent"

    def _release_claim(self, record: IntakeRecord) -> None:
        """The send certainly did not happen: let the retry send it."""
        try:
            self.store.update_intake(
                record.channel, record.external_id, reply_from="sending", reply_to="pending"
            )
        except Exception:  # the retry will see "sending" and record "unknown" instead
            log.warning("could not release the reply claim for a retry", exc_info=True)

    def resume(self, record: IntakeRecord) -> Outcome:
        """A message we have seen: finish only what is owed, never repeat."""
        if record.route is not None and not record.routed:
            self.publisher.publish(record.route)
            self.store.update_intake(record.channel, record.external_id, routed=True)
        reply = "none"
        if record.reply_state == "pending" and record.reply_message_sk:
            if self.store.update_intake(
                record.channel, record.external_id, reply_from="pending", reply_to="sending"
            ):
                message = self.store.get_message(record.ticket_id, record.reply_message_sk)
                reply = (
                    self._deliver(record, message) if message else "skipped: reply message missing"
                )
        elif record.reply_state == "sending":
            self.store.update_intake(
                record.channel, record.external_id, reply_from="sending", reply_to="unknown"
            )
            reply = "unknown"
        log.info("duplicate delivery of a message already on ticket %s", record.ticket_id)
        return Outcome(
            status="duplicate",
            ticket_id=record.ticket_id,
            message_id=record.message_id,
            reason="already processed",
            reply=reply,
        )

    # -- reactions, edits, unsends, statuses, echoes ----------------------------------------

    def annotate(
        self, message: InboundMessage, *, replay_event: dict[str, Any] | None = None
    ) -> Outcome:
        """Record an event about an existing message on that message, exactly once.

        Never a new ticket: a reaction or an edit belongs to the message it is about, a
        delivery or read status to the message we sent, and an echo is our own send
        coming back. Statuses and echoes for messages we do not know are ignored (the
        platform also reports sends made outside Helpline); a customer's reaction, edit
        or unsend whose message we do not hold is quarantined so it can be replayed.
        """
        snapshot = self.store.lookup(self.lookups_for(message))
        if snapshot.intake(message.channel, message.external_id) is not None:
            return Outcome(status="duplicate", reason="already recorded")
        target = (
            snapshot.intake(message.channel, message.target_external_id)
            if message.target_external_id
            else None
        )
        kind = message.kind
        if kind is MessageKind.ECHO:
            return Outcome(
                status="ignored",
                ticket_id=target.ticket_id if target else None,
                reason="echo of our own send" if target else "echo of a send made elsewhere",
            )
        if target is None or not target.message_sk:
            if kind is MessageKind.STATUS:
                return Outcome(status="ignored", reason="status of a message we did not send")
            return self.quarantine(
                channel=message.channel,
                reason="annotation_target_unknown",
                detail=f"{kind.value} for message {message.target_external_id!r}, not on any ticket",
                received_at=message.received_at,
                raw_ref=message.raw_ref,
                event=replay_event,
                external_id=message.external_id,
                sender=redact_identity(message.sender),
            )
        extra = dict(message.extra)
        at = to_iso(message.received_at)
        who = str(message.sender) if message.sender else ""
        annotation = AnnotateMessage(ticket_id=target.ticket_id, message_sk=target.message_sk)
        detail: dict[str, Any] = {"message": target.message_id}
        if kind is MessageKind.REACTION:
            reaction = {
                "emoji": extra.get("reaction", ""),
                "action": extra.get("reaction_action", "react"),
                "by": who,
                "at": at,
            }
            annotation = replace(annotation, reaction=reaction)
            detail.update(emoji=reaction["emoji"], action=reaction["action"])
            event_type = "reaction"
        elif kind is MessageKind.EDIT:
            annotation = replace(annotation, edit={"text": message.text, "at": at, "by": who})
            event_type = "message_edited"
        elif kind is MessageKind.UNSEND:
            annotation = replace(annotation, deleted=True)
            event_type = "message_unsent"
        else:  # STATUS
            state = _delivery_state(extra.get("status", ""))
            if state is None:
                return Outcome(status="ignored", reason=f"unknown status {extra.get('status')!r}")
            current = self.store.get_message(target.ticket_id, target.message_sk)
            if current is not None and not _moves_forward(current.delivery, state):
                return Outcome(
                    status="ignored", ticket_id=target.ticket_id, reason="an older status"
                )
            annotation = replace(
                annotation, delivery=state, delivery_detail=extra.get("status_detail", "")[:300]
            )
            detail.update(status=state.value)
            event_type = "delivery_status"
        record = IntakeRecord(
            channel=message.channel,
            external_id=message.external_id,
            ticket_id=target.ticket_id,
            message_id=None,
            message_sk=target.message_sk,
            created_at=self.clock(),
        )
        try:
            self.store.transact(
                [
                    ClaimExternalId(record),
                    annotation,
                    PutEvents(
                        (TicketEvent(target.ticket_id, self.clock(), event_type, detail, who),)
                    ),
                ]
            )
        except TransactionConflict as conflict:
            if conflict.lost(ClaimExternalId):
                return Outcome(status="duplicate", reason="already recorded")
            raise
        return Outcome(
            status="annotated",
            ticket_id=target.ticket_id,
            message_id=target.message_id,
            reason=event_type,
        )

    def quarantine(
        self,
        *,
        channel: Channel,
        reason: str,
        detail: str,
        received_at: datetime,
        raw_ref: str | None,
        event: dict[str, Any] | None,
        external_id: str | None,
        sender: str | None = None,
        subject: str | None = None,
    ) -> Outcome:
        record_id = "Q" + ids.stable_id(channel.value, external_id or raw_ref or detail, length=12)
        self.store.put_quarantine(
            QuarantineRecord(
                id=record_id,
                channel=channel,
                reason=reason,
                detail=detail[:1000],
                received_at=received_at,
                raw_ref=raw_ref,
                event=event,
                external_id=external_id,
                sender=sender,
                subject=(subject or "")[:300] or None,
            )
        )
        return Outcome(status="quarantined", quarantine_id=record_id, reason=reason)


_DELIVERY_ORDER = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.UNKNOWN: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
}


def _delivery_state(status: str) -> DeliveryStatus | None:
    return {
        "sent": DeliveryStatus.SENT,
        "delivered": DeliveryStatus.DELIVERED,
        "read": DeliveryStatus.READ,
        "failed": DeliveryStatus.FAILED,
    }.get(status.lower())


def _moves_forward(current: DeliveryStatus | None, new: DeliveryStatus) -> bool:
    """Statuses arrive out of order (read before delivered); never step back."""
    if new is DeliveryStatus.FAILED:
        return current not in (DeliveryStatus.DELIVERED, DeliveryStatus.READ)
    if current is None or current is DeliveryStatus.FAILED:
        return current is None
    return _DELIVERY_ORDER[new] > _DELIVERY_ORDER.get(current, 0)


def message_channel_name(message: InboundMessage) -> str:
    return f"{message.channel.value} button"


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def process_all(intake: Intake, messages: Sequence[InboundMessage], **kwargs: Any) -> list[Outcome]:
    return [intake.process(message, **kwargs) for message in messages]
