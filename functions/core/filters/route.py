"""90 route: which team's queue the ticket belongs to.

A new ticket is routed by the config's rules, then by language, then to the default
team. Only a language the text or a hint made sure of picks a team: an unsure guess (a
word or two) goes to the default team, since sending it to the team of a wrong guess
would leave the customer with people who cannot read them. A follow-up stays with its
ticket's team: moving a conversation because one reply was short and mis-detected would
lose the agent who knows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.routing import RouteDecision, decide_route

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop


def run(ctx: Context) -> Drop | None:
    ticket = ctx.findings.ticket
    if ticket is not None and ticket.queue is not None and ticket.queue in ctx.config.teams:
        ctx.findings.route = RouteDecision(
            team=ticket.queue, priority=ticket.priority, tags=(), rules=(), reason="ticket"
        )
        return None
    detection = ctx.findings.language
    language = detection.language if detection and detection.source != "guess" else None
    customer = ctx.findings.customer
    ctx.findings.route = decide_route(
        ctx.config,
        language=language,
        channel=ctx.message.channel,
        subject=ctx.message.subject,
        text=ctx.findings.stripped_text or ctx.message.text,
        customer_tags=customer.tags if customer else (),
    )
    for tag in ctx.findings.route.tags:
        ctx.findings.add_tag(tag)
    return None
