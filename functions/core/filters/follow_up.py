"""60 follow_up: does this message continue a ticket we already have?

In order: a `[#ticket]` token in the subject, accepted only when the sender is a
participant of that ticket (a token pasted into a stranger's mail must not let them
read or write someone else's ticket); then In-Reply-To and References against the
Message-IDs we stored, newest first; then the platform conversation. A follow-up to a
closed (archived) ticket starts a new ticket that points back to it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from functions.core.channels.email import ticket_from_own_message_id
from functions.core.ids import is_ticket_id, normalize_ticket_id
from functions.core.models import Channel, InboundMessage, Ticket, TicketStatus

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop

SUBJECT_TOKEN = re.compile(r"\[#\s{0,3}([0-9A-Za-z]{10})\s{0,3}\]")


def subject_tokens(subject: str) -> list[str]:
    tokens = []
    for match in SUBJECT_TOKEN.finditer(subject[:1000]):
        candidate = normalize_ticket_id(match.group(1))
        if is_ticket_id(candidate) and candidate not in tokens:
            tokens.append(candidate)
    return tokens


def thread_ids(message: InboundMessage) -> list[str]:
    """Message ids this one answers, most specific first."""
    ids = list(message.in_reply_to)
    ids += [ref for ref in reversed(message.references) if ref not in ids]
    return ids


def is_participant(ticket: Ticket, message: InboundMessage) -> bool:
    identities = [message.sender, *message.alternates]
    return any(
        identity is not None and str(identity) in ticket.participants for identity in identities
    )


def _accept(ctx: Context, ticket: Ticket, via: str) -> None:
    if ticket.status is TicketStatus.CLOSED:
        ctx.findings.previous_ticket = ticket.id
        ctx.findings.note("follow_up.closed_ticket", {"ticket": ticket.id, "via": via})
        return
    ctx.findings.ticket = ticket
    ctx.findings.follow_up_via = via


def _conversation(ctx: Context) -> None:
    """Chat and social messages thread by their conversation: the customer's open ticket
    there, or one solved within the reopen window; otherwise a new ticket."""
    message = ctx.message
    assert message.conversation_key is not None
    ticket_id = ctx.snapshot.conversation_ticket(message.channel, message.conversation_key)
    ctx.findings.conversation_ticket = ticket_id
    ticket = ctx.ticket(ticket_id) if ticket_id else None
    if ticket is None:
        return
    if ticket.status.is_active:
        _accept(ctx, ticket, "conversation")
        return
    window = timedelta(hours=ctx.config.reopen_window_hours)
    if (
        ticket.status is TicketStatus.SOLVED
        and ticket.solved_at is not None
        and message.received_at - ticket.solved_at <= window
    ):
        _accept(ctx, ticket, "conversation")
        return
    ctx.findings.previous_ticket = ticket.id
    ctx.findings.note(
        "follow_up.new_conversation_ticket",
        {"previous": ticket.id, "status": ticket.status.value},
    )


def run(ctx: Context) -> Drop | None:
    if ctx.findings.ticket is not None:
        return None  # the bounce filter already found it
    message = ctx.message
    if message.conversation_key and message.channel is not Channel.EMAIL:
        _conversation(ctx)
        return None
    for token in subject_tokens(message.subject):
        ticket = ctx.ticket(token)
        if ticket is None:
            continue
        if is_participant(ticket, message):
            _accept(ctx, ticket, "subject_token")
            return None
        ctx.findings.note(
            "follow_up.token_ignored", {"ticket": token, "reason": "sender is not a participant"}
        )
    domain = ctx.config.brand.message_id_domain
    for message_id in thread_ids(message):
        record = (
            ctx.snapshot.intake(Channel.EMAIL, message_id)
            if message.channel is Channel.EMAIL
            else None
        )
        via = "in_reply_to" if message_id in message.in_reply_to else "references"
        if record is not None:
            ticket = ctx.ticket(record.ticket_id)
            if ticket is not None:
                _accept(ctx, ticket, via)
                return None
            continue
        # A Message-ID in our format that we hold no record of proves nothing: anyone can
        # write one. Like the subject token, it threads only the ticket's participants.
        own_ticket_id = ticket_from_own_message_id(message_id, domain)
        ticket = ctx.ticket(own_ticket_id) if own_ticket_id else None
        if ticket is not None and is_participant(ticket, message):
            _accept(ctx, ticket, via)
            return None
    return None
