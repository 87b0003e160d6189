"""What agents and admins do to tickets: reply, add a note, change status, look.

Used by the `helpline` CLI today and by the chat agent side and other tools later. Every
change is one conditional write on the ticket's version, so an agent's reply and a
customer's mail arriving at the same moment cannot overwrite each other; a lost race
is re-read and retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from functions.core import ids, ticket_sla
from functions.core.config import Config
from functions.core.errors import ConflictError, DeliveryError, NotFoundError, RejectedInput
from functions.core.filters.own_loop import own_addresses
from functions.core.models import (
    Channel,
    Customer,
    DeliveryStatus,
    Direction,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from functions.core.pipeline import Sender
from functions.core.replies import TemplateRenderer
from functions.core.store import (
    ClaimExternalId,
    IntakeRecord,
    Intent,
    PutEvents,
    PutMessage,
    PutTicket,
    TicketBundle,
    TicketStore,
    TransactionConflict,
)
from functions.core.timeutil import Clock, utcnow

log = logging.getLogger("helpline.tickets")

# SES takes 50 recipients a message: the customer and at most 49 copied
MAX_COPIED = 49


@dataclass(frozen=True, slots=True)
class ReplyResult:
    ticket_id: str
    message_id: str
    delivery: str  # sent | failed | refused
    detail: str = ""
    provider_id: str | None = None


class DuplicateReplyError(ConflictError):
    """This reply was already stored (its external id is claimed)."""


class TicketService:
    def __init__(
        self,
        *,
        config: Config,
        store: TicketStore,
        senders: Mapping[Channel, Sender],
        renderer: TemplateRenderer,
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.store = store
        self.senders = dict(senders)
        self.renderer = renderer
        self.clock = clock

    # -- reading -------------------------------------------------------------------------

    def bundle(self, ticket_id: str) -> TicketBundle:
        found = self.store.ticket_bundle(ids.normalize_ticket_id(ticket_id))
        if found is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        return found

    def customer(self, customer_id: str) -> Customer | None:
        found = self.store.get_customer(customer_id)
        return found[0] if found else None

    # -- changing --------------------------------------------------------------------------

    def _update(
        self,
        ticket_id: str,
        change: Callable[[Ticket], tuple[Ticket, list[TicketEvent]]],
        *extra_intents: Intent,
    ) -> Ticket:
        """Apply `change(ticket) -> (ticket, events)` with an optimistic version check."""
        for _ in range(5):
            current = self.store.get_ticket(ticket_id)
            if current is None:
                raise NotFoundError(f"no ticket {ticket_id}")
            updated, events = change(
                replace(current, tags=list(current.tags), participants=list(current.participants))
            )
            updated.updated_at = self.clock()
            try:
                self.store.transact(
                    [PutTicket(updated, current.version), PutEvents(tuple(events)), *extra_intents]
                )
            except TransactionConflict as conflict:
                if conflict.lost(PutTicket) and len(conflict.failed) == 1:
                    continue
                raise
            updated.version = current.version + 1
            return updated
        raise RuntimeError(f"ticket {ticket_id} kept changing under us; try again")

    def set_status(self, ticket_id: str, status: TicketStatus, *, actor: str) -> Ticket:
        ticket_id = ids.normalize_ticket_id(ticket_id)

        def change(ticket: Ticket) -> tuple[Ticket, list[TicketEvent]]:
            now = self.clock()
            previous = ticket.status
            ticket.status = status
            if status is TicketStatus.SOLVED:
                ticket.solved_at = now
                ticket.solved_by = actor
            elif status.is_active:
                ticket.solved_at = None
            ticket_sla.on_status(self.config, ticket, old=previous.value, new=status.value, at=now)
            event = TicketEvent(
                ticket.id,
                now,
                "status_changed",
                {"from": previous.value, "to": status.value},
                actor=actor,
            )
            return ticket, [event]

        return self._update(ticket_id, change)

    def close(self, ticket_id: str, *, actor: str = "helpline") -> Ticket:
        """Close a solved ticket for good: a later message starts a new ticket, and the
        ticket with its messages and events expires after the retention period."""
        now = self.clock()
        expires = now + timedelta(days=self.config.retention.closed_ticket_days)

        def change(ticket: Ticket) -> tuple[Ticket, list[TicketEvent]]:
            previous = ticket.status
            ticket.status = TicketStatus.CLOSED
            ticket.expires_at = expires
            ticket_sla.on_status(self.config, ticket, old=previous.value, new="closed", at=now)
            detail = {"from": previous.value, "to": "closed", "expires": expires.date().isoformat()}
            return ticket, [TicketEvent(ticket.id, now, "status_changed", detail, actor=actor)]

        closed = self._update(ids.normalize_ticket_id(ticket_id), change)
        self.store.expire_partition(closed.id, expires)
        return closed

    def resolve(self, ticket_id: str, *, actor: str) -> Ticket:
        return self.set_status(ticket_id, TicketStatus.SOLVED, actor=actor)

    def add_note(self, ticket_id: str, text: str, *, agent: str) -> Message:
        ticket_id = ids.normalize_ticket_id(ticket_id)
        if not text.strip():
            raise RejectedInput("empty_note", "a note needs some text")
        now = self.clock()
        ticket = self.store.get_ticket(ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        note = Message(
            id=ids.new_message_id(),
            ticket_id=ticket_id,
            direction=Direction.NOTE,
            channel=ticket.channel,
            created_at=now,
            author=agent,
            text=text,
            stripped_text=text[:5000],
            kind="note",
        )

        def change(t: Ticket) -> tuple[Ticket, list[TicketEvent]]:
            t.message_count += 1
            return t, [TicketEvent(t.id, now, "note_added", {"message": note.id}, actor=agent)]

        self._update(ticket_id, change, PutMessage(note))
        return note

    def reply(
        self,
        ticket_id: str,
        text: str,
        *,
        agent: str,
        agent_name: str = "",
        external_id: str | None = None,
    ) -> ReplyResult:
        """Answer the customer on the ticket's channel, threaded to their last message.

        `external_id` makes a retried reply (a chat agent resending after a reconnect)
        a no-op: it is claimed once, with the message, and a second claim raises
        `DuplicateReplyError`."""
        ticket_id = ids.normalize_ticket_id(ticket_id)
        if not text.strip():
            raise RejectedInput("empty_reply", "a reply needs some text")
        bundle = self.bundle(ticket_id)
        ticket = bundle.ticket
        sender = self.senders.get(ticket.channel)
        if sender is None:
            raise RejectedInput(
                "no_sender", f"replies on {ticket.channel.value} are not configured"
            )
        customer = self.customer(ticket.customer_id)
        last_inbound = next(
            (
                m
                for m in reversed(bundle.messages)
                if m.direction is Direction.INBOUND and m.kind == "message"
            ),
            None,
        )
        now = self.clock()
        reply = self._compose(
            ticket,
            customer,
            last_inbound,
            text,
            agent=agent,
            agent_name=agent_name,
            now=now,
            messages=bundle.messages,
        )
        if external_id and reply.external_id is None:
            reply = replace(reply, external_id=external_id)
        if ticket.channel not in (Channel.EMAIL, Channel.CHAT):
            reply = replace(reply, headers=dict(self._window(ticket).headers))
        refusal = self._refusal(ticket, customer, reply)
        if refusal:
            reply = replace(reply, delivery=DeliveryStatus.FAILED, delivery_detail=refusal)

        def change(t: Ticket) -> tuple[Ticket, list[TicketEvent]]:
            events = []
            t.message_count += 1
            if refusal is None:
                t.last_outbound_at = now
                if t.first_response_at is None:
                    t.first_response_at = now
                    events.append(
                        TicketEvent(t.id, now, "first_response", {"agent": agent}, actor=agent)
                    )
                ticket_sla.on_agent_reply(self.config, t, at=now)
                t.agent = agent
                if t.channel is Channel.EMAIL:  # whoever an agent wrote to may answer
                    for recipient in reply.recipients:
                        entry = f"email:{recipient.lower()}"
                        if entry not in t.participants:
                            t.participants.append(entry)
                if t.status is TicketStatus.NEW:
                    t.status = TicketStatus.OPEN
                    ticket_sla.on_status(self.config, t, old="new", new="open", at=now)
            events.append(
                TicketEvent(
                    t.id,
                    now,
                    "agent_reply" if refusal is None else "agent_reply_refused",
                    {"message": reply.id, "reason": refusal} if refusal else {"message": reply.id},
                    actor=agent,
                )
            )
            return t, events

        extra: list[Intent] = [PutMessage(reply)]
        if reply.external_id:
            extra.append(
                ClaimExternalId(
                    IntakeRecord(
                        channel=reply.channel,
                        external_id=reply.external_id,
                        ticket_id=ticket.id,
                        message_id=reply.id,
                        message_sk=TicketStore.message_sk(reply),
                        direction=Direction.OUTBOUND,
                        created_at=now,
                    )
                )
            )
        try:
            self._update(ticket_id, change, *extra)
        except TransactionConflict as conflict:
            if conflict.lost(ClaimExternalId) and external_id:
                raise DuplicateReplyError(external_id) from conflict
            raise
        if refusal:
            return ReplyResult(ticket.id, reply.id, "refused", refusal)
        try:
            provider_id = sender.send(reply)
        except DeliveryError as exc:
            self.store.set_delivery(reply, state=DeliveryStatus.FAILED, detail=exc.reason)
            return ReplyResult(ticket.id, reply.id, "failed", exc.reason)
        self.store.set_delivery(reply, state=DeliveryStatus.SENT, provider_id=provider_id)
        if reply.channel is not Channel.EMAIL and provider_id and provider_id != reply.id:
            self.store.record_outbound_id(reply, provider_id)
        return ReplyResult(ticket.id, reply.id, "sent", provider_id=provider_id)

    def record_event(
        self, ticket_id: str, event_type: str, detail: dict[str, Any], *, actor: str = "helpline"
    ) -> None:
        """Something that happened around a ticket without changing it (a chat queued,
        a transcript sent): it goes on the ticket's event log."""
        self.store.put_event(TicketEvent(ticket_id, self.clock(), event_type, detail, actor=actor))

    def add_bot_message(self, ticket_id: str, text: str, *, detail: dict[str, Any]) -> Message:
        """An automatic answer (the chat FAQ bot) stored on the ticket as it is sent."""
        now = self.clock()
        ticket = self.store.get_ticket(ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        message = Message(
            id=ids.new_message_id(),
            ticket_id=ticket_id,
            direction=Direction.OUTBOUND,
            channel=ticket.channel,
            created_at=now,
            automatic=True,
            author="bot",
            sender=ticket.account,
            text=text,
            stripped_text=text[:5000],
            language=ticket.language,
            kind="bot",
            delivery=DeliveryStatus.SENT,
        )

        def change(t: Ticket) -> tuple[Ticket, list[TicketEvent]]:
            t.message_count += 1
            t.last_outbound_at = now
            return t, [TicketEvent(t.id, now, "bot_answer", {"message": message.id, **detail})]

        self._update(ticket_id, change, PutMessage(message))
        return message

    def email_copy(self, message: Message, address: str) -> str:
        """Send an agent's chat reply by email to a customer who has left the chat (and
        gave their address): the chat message stays the record, this is its delivery."""
        sender = self.senders.get(Channel.EMAIL)
        if sender is None:
            raise DeliveryError("email is not configured", permanent=True)
        ticket = self.store.get_ticket(message.ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {message.ticket_id}")
        customer = self.customer(ticket.customer_id)
        mail = self._compose_email(
            ticket,
            customer,
            None,
            message.stripped_text or message.text,
            agent=message.author,
            agent_name="",
            now=self.clock(),
            recipients=[address],
        )
        return sender.send(mail)

    def _window(self, ticket: Ticket) -> Any:
        """The platform's messaging window for a person's reply now."""
        from functions.core.channels import windows

        template = self.config.social.meta.whatsapp_template if self.config.social.meta else None
        return windows.decide(
            ticket.channel,
            last_inbound_at=ticket.last_inbound_at,
            now=self.clock(),
            human=True,
            whatsapp_template=template.name if template else None,
            whatsapp_template_language=template.language if template else None,
        )

    def _refusal(self, ticket: Ticket, customer: Customer | None, reply: Message) -> str | None:
        """Why this reply must not be sent, said plainly; None when it may go."""
        if not reply.recipients:
            return "the customer has no address on this channel"
        if ticket.channel not in (Channel.EMAIL, Channel.CHAT):
            window = self._window(ticket)
            if not window.allowed:
                return str(window.reason)
        if customer is not None and ticket.channel is Channel.EMAIL:
            for recipient in reply.recipients:
                if f"email:{recipient.lower()}" in customer.undeliverable:
                    return f"{recipient} bounced earlier; correct the address before replying"
        return None

    def _compose(
        self,
        ticket: Ticket,
        customer: Customer | None,
        last_inbound: Message | None,
        text: str,
        *,
        agent: str,
        agent_name: str,
        now: Any,
        messages: Sequence[Message] = (),
    ) -> Message:
        reply_id = ids.new_message_id()
        if ticket.channel is not Channel.EMAIL:
            # a platform conversation has one person in it: where they last wrote from
            recipients = [last_inbound.sender] if last_inbound and last_inbound.sender else []
            return Message(
                id=reply_id,
                ticket_id=ticket.id,
                direction=Direction.OUTBOUND,
                channel=ticket.channel,
                created_at=now,
                author=agent,
                sender=ticket.account,
                recipients=recipients,
                text=text,
                stripped_text=text[:5000],
                language=ticket.language,
                kind="agent_reply",
                delivery=DeliveryStatus.PENDING,
            )
        to, copied = self._email_recipients(ticket, customer, messages)
        return self._compose_email(
            ticket,
            customer,
            last_inbound,
            text,
            agent=agent,
            agent_name=agent_name,
            now=now,
            recipients=[*to, *copied],
            reply_id=reply_id,
            cc=copied,
        )

    def _email_recipients(
        self, ticket: Ticket, customer: Customer | None, messages: Sequence[Message]
    ) -> tuple[list[str], list[str]]:
        """(To, Cc) of an agent's email reply.

        To: the ticket's customer, at the address they last wrote from on this ticket
        (any of theirs), else their first email address. Cc: the ticket's other
        participants (people on To/Cc of its mails). Never the last writer alone: a
        copied colleague who wrote last is copied, not the one answered, and only
        addresses follow_up let into the ticket are participants at all."""
        from functions.core.channels.email import valid_address

        ours = own_addresses(self.config)
        theirs = {ticket.customer_id}
        owned: set[str] = set()
        if customer is not None:
            theirs.add(customer.id)
            owned = {i.value for i in customer.identities if i.kind == "email"}
        to = next(
            (
                m.sender.lower()
                for m in reversed(messages)
                if m.direction is Direction.INBOUND
                and m.kind == "message"
                and (m.author in theirs or m.sender.lower() in owned)
                and valid_address(m.sender)
                and m.sender.lower() not in ours
            ),
            None,
        )
        if to is None and customer is not None:
            identity = customer.identity("email")
            to = identity.value if identity is not None else None
        participants = [
            value
            for kind, _, value in (p.partition(":") for p in ticket.participants)
            if kind == "email" and valid_address(value) and value not in ours
        ]
        if to is None and participants:  # no customer profile left: whoever opened it
            to = participants[0]
        if to is None:
            return [], []
        copied = [p for p in dict.fromkeys(participants) if p != to and p not in owned]
        return [to], copied[:MAX_COPIED]

    def _compose_email(
        self,
        ticket: Ticket,
        customer: Customer | None,
        last_inbound: Message | None,
        text: str,
        *,
        agent: str,
        agent_name: str,
        now: Any,
        recipients: list[str],
        reply_id: str | None = None,
        cc: Sequence[str] = (),
    ) -> Message:
        from functions.core.channels.email import outbound_message_id, ticket_from_own_message_id

        brand = self.config.brand
        team = self.config.teams.get(ticket.queue or "")
        reply_id = reply_id or ids.new_message_id()

        rendered = self.renderer.render(
            "email",
            "agent_reply",
            ticket.language,
            {
                "brand": {
                    "name": brand.name,
                    "support_address": brand.support_address,
                    "website": brand.website,
                },
                "customer_name": customer.name if customer else "",
                "ticket_id": ticket.id,
                "ticket_token": ticket.token,
                "subject": ticket.subject,
                "team_name": team.name if team else brand.name,
                "next_open": None,
                "expected_response": None,
                "body": text,
                "agent_name": agent_name or agent.split("@", maxsplit=1)[0],
            },
        )
        subject = (
            rendered.subject
            if ticket.token in rendered.subject
            else f"{rendered.subject} {ticket.token}"
        )
        in_reply_to: list[str] = []
        references: list[str] = []
        if (
            last_inbound is not None
            and last_inbound.external_id
            and not last_inbound.external_id.startswith("sha256:")
        ):
            in_reply_to = [last_inbound.external_id]
            # our Message-IDs name their ticket: another ticket's (a mail linked to it
            # but not let in) are not echoed to this ticket's people
            kept = [
                ref
                for ref in last_inbound.references
                if ticket_from_own_message_id(ref, brand.message_id_domain) in (None, ticket.id)
            ]
            references = [*kept, last_inbound.external_id][-20:]
        return Message(
            id=reply_id,
            ticket_id=ticket.id,
            direction=Direction.OUTBOUND,
            channel=ticket.channel,
            created_at=now + timedelta(microseconds=1),
            author=agent,
            sender=ticket.account or brand.support_address,
            recipients=recipients,
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            stripped_text=text[:5000],
            language=rendered.locale,
            external_id=outbound_message_id(ticket.id, reply_id, brand.message_id_domain),
            in_reply_to=in_reply_to,
            references=references,
            headers={"X-Loop": brand.support_address, "Content-Language": rendered.locale},
            kind="agent_reply",
            delivery=DeliveryStatus.PENDING,
            cc=list(cc),
        )
