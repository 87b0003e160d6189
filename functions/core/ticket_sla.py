"""SLA clocks on tickets: the glue between the pure clocks (sla.py) and a Ticket.

Every change to a ticket that an SLA cares about goes through one of these functions,
which update `ticket.sla` (the clocks) and `ticket.sla_due` (what the sparse due index
holds), so the index is recomputed on every ticket change:

- a new ticket starts its clocks under the first policy that matches it;
- a customer message starts a next-response clock (after an agent reply);
- an agent reply meets first and next response;
- a status change pauses, resumes, meets or reopens per the policy.

A ticket whose stored state can no longer be read keeps what it has and logs a
warning: an unreadable SLA must never stop a customer's message from being stored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.core import sla
from functions.core.models import Ticket

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.hours import Calendar

log = logging.getLogger("helpline.sla")


def policy_for(
    config: Config, ticket: Ticket, customer_tags: list[str] | tuple[str, ...]
) -> sla.SlaPolicy:
    return sla.choose_policy(
        config.sla,
        priority=ticket.priority,
        channel=ticket.channel.value,
        team=ticket.queue,
        customer_tags=list(customer_tags),
        language=ticket.language,
    )


def calendar_for(config: Config, policy: sla.SlaPolicy, team: str | None) -> Calendar:
    name = config.sla.calendar_name(policy, team or config.routing.default_team)
    return config.calendars[name]


def _state(ticket: Ticket) -> sla.SlaState | None:
    if not ticket.sla:
        return None
    try:
        return sla.SlaState.from_dict(ticket.sla)
    except (ValueError, KeyError, TypeError):
        log.warning("ticket %s has an SLA state that cannot be read; keeping it", ticket.id)
        return None


def _calendar(config: Config, state: sla.SlaState) -> Calendar | None:
    calendar = config.calendars.get(state.calendar)
    if calendar is None:
        log.warning("the SLA calendar %r is no longer in the config", state.calendar)
    return calendar


def _store(ticket: Ticket, state: sla.SlaState, *, pending: bool = False) -> None:
    ticket.sla = state.to_dict()
    due = sla.next_due(state)
    if ticket.escalations or pending:
        # an escalation committed but not yet published must be picked up at once
        earliest = min(e["at"] for e in ticket.escalations) if ticket.escalations else None
        due = min(filter(None, [due, _parse(earliest)]), default=due)
    ticket.sla_due = due


def _parse(value: Any) -> datetime | None:
    from functions.core.timeutil import from_iso

    return from_iso(value) if isinstance(value, str) else None


def refresh_due(ticket: Ticket) -> None:
    """Recompute the due moment from the clocks and pending escalations."""
    state = _state(ticket)
    if state is not None:
        _store(ticket, state)
    elif ticket.escalations:
        ticket.sla_due = _parse(min(e["at"] for e in ticket.escalations))
    else:
        ticket.sla_due = None


def on_new_ticket(
    config: Config, ticket: Ticket, *, customer_tags: list[str] | tuple[str, ...], at: datetime
) -> sla.SlaPolicy:
    policy = policy_for(config, ticket, customer_tags)
    calendar = calendar_for(config, policy, ticket.queue)
    _store(ticket, sla.start(policy, calendar, at=at, status=ticket.status.value))
    return policy


def on_customer_message(config: Config, ticket: Ticket, *, at: datetime) -> None:
    state = _state(ticket)
    calendar = _calendar(config, state) if state else None
    if state is None or calendar is None:
        return
    _store(ticket, sla.customer_message(state, calendar, at=at))


def on_agent_reply(config: Config, ticket: Ticket, *, at: datetime) -> None:
    state = _state(ticket)
    calendar = _calendar(config, state) if state else None
    if state is None or calendar is None:
        return
    _store(ticket, sla.agent_reply(state, calendar, at=at))


def on_status(config: Config, ticket: Ticket, *, old: str, new: str, at: datetime) -> None:
    if old == new:
        return
    state = _state(ticket)
    calendar = _calendar(config, state) if state else None
    if state is None or calendar is None:
        return
    policy = config.sla.policy(state.policy)
    _store(ticket, sla.status_changed(state, policy, calendar, old=old, new=new, at=at))


def promise(config: Config, ticket: Ticket) -> datetime | None:
    """When the customer can expect an answer: the running first- or next-response
    deadline, in the calendar's zone (what the replies and the widget say)."""
    state = _state(ticket)
    if state is None:
        return None
    calendar = config.calendars.get(state.calendar)
    for target in (sla.FIRST_RESPONSE, sla.NEXT_RESPONSE):
        clock = state.clock(target)
        if clock is not None and clock.met_at is None and clock.due_at is not None:
            return clock.due_at.astimezone(calendar.tz) if calendar else clock.due_at
    return None


def promise_for_new(
    config: Config, *, team: str, channel: str, language: str | None, at: datetime
) -> datetime | None:
    """What a customer who writes now would be promised (the chat widget's line)."""
    policy = sla.choose_policy(
        config.sla,
        priority="normal",
        channel=channel,
        team=team,
        customer_tags=[],
        language=language,
    )
    return sla.expected_first_response(policy, calendar_for(config, policy, team), at=at)


def report(config: Config, ticket: Ticket, *, now: datetime) -> list[sla.TargetView]:
    state = _state(ticket)
    calendar = _calendar(config, state) if state else None
    if state is None or calendar is None:
        return []
    return sla.report(state, calendar, now=now)
