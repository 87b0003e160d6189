"""60 follow_up: does this message continue a ticket we already have?

In order: a `[#ticket]` token in the subject; then In-Reply-To and References against
the Message-IDs we stored (or wrote), newest first; then the platform conversation.

An email continues a ticket only when its From is a participant of that ticket: the
ticket's customer (at any address known to be theirs) or an address that was on To/Cc
of the ticket's messages. Tokens and Message-IDs are known to anyone the customer copied
or forwarded to, and Reply-To (or Sender) is only the writer's claim, so none of them
proves who wrote. A mail that names a ticket its sender may not join starts a new
ticket, linked to the one it named (`findings.linked`) so an agent can merge them
knowingly; the new ticket's subject drops that ticket's token. A follow-up to a closed
(archived) ticket starts a new ticket that points back to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from functions.core.channels.email import ticket_from_own_message_id
from functions.core.filters.own_loop import own_addresses
from functions.core.ids import is_ticket_id, normalize_ticket_id
from functions.core.models import Channel, InboundMessage, Ticket, TicketStatus

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop

SUBJECT_TOKEN = re.compile(r"\[#\s{0,3}([0-9A-Za-z]{10})\s{0,3}\]")
# tickets one mail is linked to at most: each link is an event on that ticket, written in
# the intake's one transaction (100 items at most)
MAX_LINKED = 3


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


def without_tokens(subject: str, ticket_ids: Iterable[str]) -> str:
    """The subject without the `[#ticket]` tokens of these tickets."""
    dropped = set(ticket_ids)

    def keep(match: re.Match[str]) -> str:
        return "" if normalize_ticket_id(match.group(1)) in dropped else match.group(0)

    return " ".join(SUBJECT_TOKEN.sub(keep, subject).split())


def is_participant(ctx: Context, ticket: Ticket, message: InboundMessage) -> bool:
    """Whether the mail's From may write into `ticket`; Reply-To and Sender never count."""
    sender = message.sender
    if sender is None or sender.kind != "email" or sender.value in own_addresses(ctx.config):
        return False
    if str(sender) in ticket.participants:
        return True
    # the customer writing from another address of theirs (linked to them, or merged)
    if ctx.snapshot.customer_id_for(sender) == ticket.customer_id:
        return True
    owner = ctx.customer(ticket.customer_id)
    return owner is not None and sender in owner[0].identities


def _accept(ctx: Context, ticket: Ticket, via: str) -> None:
    ctx.findings.linked.clear()  # tickets refused further up the thread: not a new ticket
    ctx.findings.subject = None
    if ticket.status is TicketStatus.CLOSED:
        ctx.findings.previous_ticket = ticket.id
        ctx.findings.note("follow_up.closed_ticket", {"ticket": ticket.id, "via": via})
        return
    ctx.findings.ticket = ticket
    ctx.findings.follow_up_via = via


def _refuse(ctx: Context, ticket: Ticket, via: str) -> None:
    """The mail names `ticket` but may not join it: a new ticket, linked to this one."""
    linked = ctx.findings.linked
    if ticket.id not in linked and len(linked) < MAX_LINKED:
        linked[ticket.id] = via
    if via == "subject_token":
        subject = ctx.findings.subject
        ctx.findings.subject = without_tokens(
            ctx.message.subject if subject is None else subject, (ticket.id,)
        )


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
        if is_participant(ctx, ticket, message):
            _accept(ctx, ticket, "subject_token")
            return None
        ctx.findings.note(
            "follow_up.token_ignored", {"ticket": token, "reason": "sender is not a participant"}
        )
        _refuse(ctx, ticket, "subject_token")
    domain = ctx.config.brand.message_id_domain
    refused: set[str] = set()
    for message_id in thread_ids(message):
        record = (
            ctx.snapshot.intake(Channel.EMAIL, message_id)
            if message.channel is Channel.EMAIL
            else None
        )
        via = "in_reply_to" if message_id in message.in_reply_to else "references"
        if record is not None:
            ticket_id: str | None = record.ticket_id
        else:
            # a Message-ID in our format that we hold no record of: like any other
            # thread reference, it threads only the ticket's participants
            ticket_id = ticket_from_own_message_id(message_id, domain)
        ticket = ctx.ticket(ticket_id) if ticket_id else None
        if ticket is None:
            continue
        if is_participant(ctx, ticket, message):
            _accept(ctx, ticket, via)
            return None
        if ticket.id not in refused:
            refused.add(ticket.id)
            ctx.findings.note(
                "follow_up.thread_ignored",
                {"ticket": ticket.id, "via": via, "reason": "sender is not a participant"},
            )
            _refuse(ctx, ticket, via)
    return None
