"""40 bounce: a delivery failure report about mail we sent.

A DSN (multipart/report) names the message it is about; that Message-ID leads to the
ticket, where the bounce is recorded, and a permanent failure marks the recipient
address undeliverable so nothing automatic is sent there again. Classic bounces without
a DSN part are recognised by their sender and subject, and matched through our own
Message-ID quoted in their text. A bounce we cannot match to a ticket is quarantined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.core.channels.email import ticket_from_own_message_id
from functions.core.models import Channel, Direction
from functions.core.pipeline import Drop

if TYPE_CHECKING:
    from functions.core.pipeline import Context

BOUNCE_SENDER = re.compile(r"^(mailer[-_.]?daemon|postmaster)\b", re.IGNORECASE)
BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered mail|delivery status notification|delivery failure|"
    r"mail delivery failed|returned mail|failure notice|non[- ]?remis|unzustellbar|"
    r"nicht zustellbar|no se pudo entregar|недоставлен)",
    re.IGNORECASE,
)
QUOTED_OWN_ID = re.compile(r"<?(hl\.[0-9A-Z]{10}\.[0-9A-Z]+@[A-Za-z0-9.-]{1,200})>?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BounceFinding:
    original_message_id: str | None
    failed_recipients: tuple[str, ...]
    permanent: bool
    action: str
    status: str
    diagnostic: str
    ticket_id: str


def _extra(ctx: Context, key: str) -> str:
    for name, value in ctx.message.extra:
        if name == key:
            return value
    return ""


def looks_like_bounce(ctx: Context) -> bool:
    message = ctx.message
    if _extra(ctx, "dsn.action"):
        return True
    local = message.sender.value.split("@", 1)[0] if message.sender else ""
    return bool(BOUNCE_SENDER.match(local) and BOUNCE_SUBJECT.search(message.subject))


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if message.channel is not Channel.EMAIL or not looks_like_bounce(ctx):
        return None
    original = _extra(ctx, "dsn.original_message_id") or None
    domain = ctx.config.brand.message_id_domain
    ticket_id = None
    # Only a report about a message we really sent counts (its intake record says
    # outbound): a forged report naming one of our Message-IDs must not be able to mark
    # a customer's address undeliverable.
    if original:
        record = ctx.snapshot.intake(Channel.EMAIL, original)
        if record is not None and record.direction is Direction.OUTBOUND:
            ticket_id = record.ticket_id
    if ticket_id is None:
        for match in QUOTED_OWN_ID.finditer(message.text[:200_000]):
            candidate = match.group(1).lower()
            if ticket_from_own_message_id(candidate, domain) is None:
                continue
            found = ctx.store.get_intake(Channel.EMAIL, candidate)
            if found is not None and found.direction is Direction.OUTBOUND:
                ticket_id, original = found.ticket_id, candidate
                break
    recipients = tuple(r for r in _extra(ctx, "dsn.failed_recipients").split(",") if r)
    action = _extra(ctx, "dsn.action") or "failed"
    permanent = _extra(ctx, "dsn.permanent") != "no" if _extra(ctx, "dsn.permanent") else True
    ticket = ctx.ticket(ticket_id) if ticket_id else None
    if ticket is None:
        return Drop(
            "bounce_unmatched",
            f"a delivery report about {original or 'an unknown message'} that matches no ticket",
        )
    ctx.findings.bounce = BounceFinding(
        original_message_id=original,
        failed_recipients=recipients,
        permanent=permanent and action == "failed",
        action=action,
        status=_extra(ctx, "dsn.status"),
        diagnostic=_extra(ctx, "dsn.diagnostic"),
        ticket_id=ticket.id,
    )
    ctx.findings.ticket = ticket
    ctx.findings.follow_up_via = "bounce"
    return None
