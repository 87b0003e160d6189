"""sla_timer: escalate tickets before (and when) they breach.

One pass reads only what is due: each shard of the sparse `SlaDue` index, up to now.
For every such ticket it re-reads the ticket (consistently), records the warnings and
breaches that are due on its clocks, applies the policy's escalation steps (raise the
priority, move it to another team, notify the team lead, page someone) and writes all
of that in ONE conditional write on the ticket's version, which also holds the
escalation levels: two overlapping runs cannot both record the same crossing, and a
run that fails half-way leaves each ticket either fully escalated or untouched.

What must leave the table (the escalation SQS message, the notification mails) is kept
on the ticket in that same write (`ticket.escalations`) and published afterwards; a
crash between the two leaves the ticket due, so the next pass publishes it. Messages
are therefore at least once, each with a stable `escalation_id` to dedupe on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.core import sla, ticket_sla
from functions.core.errors import DeliveryError
from functions.core.models import Channel, DeliveryStatus, Direction, Message, Ticket, TicketEvent
from functions.core.store import SLA_SHARDS, PutEvents, PutTicket, TicketStore, TransactionConflict
from functions.core.timeutil import Clock, from_iso, to_iso, utcnow

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.pipeline import Sender
    from functions.core.routing import RoutingPublisher
    from functions.core.tickets import TicketService

log = logging.getLogger("helpline.sla_timer")

SCHEMA = "helpline.escalation/v1"
# a pass that committed or claimed an escalation publishes it; another pass takes it
# over only when this long has gone by (the first one crashed before publishing)
CLAIM_LEASE = timedelta(minutes=5)
ESCALATION_QUEUE = "escalation"
_PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass
class PassReport:
    at: datetime
    read: int = 0
    escalated: int = 0
    crossings: list[dict[str, Any]] = field(default_factory=list)
    published: int = 0
    conflicts: int = 0
    closed: int = 0
    failed: list[str] = field(default_factory=list)


def escalation_id(ticket_id: str, crossing: sla.Crossing) -> str:
    key = f"{ticket_id}|{crossing.target}|{to_iso(crossing.started_at)}|{crossing.level}"
    return "E" + hashlib.sha256(key.encode()).hexdigest()[:20].upper()


class SlaTimer:
    def __init__(
        self,
        *,
        config: Config,
        store: TicketStore,
        publisher: RoutingPublisher,
        email: Sender | None,
        clock: Clock = utcnow,
        metric: Any = None,
        tickets: TicketService | None = None,
    ) -> None:
        self.tickets = tickets  # closes long-solved tickets (retention)
        self.config = config
        self.store = store
        self.publisher = publisher
        self.email = email
        self.clock = clock
        self.metric = metric or (lambda name, **dimensions: None)

    def run(self, *, now: datetime | None = None) -> PassReport:
        now = now or self.clock()
        report = PassReport(at=now)
        report.closed = self._close_solved(now)
        for shard in range(SLA_SHARDS):
            for due in self.store.due_tickets(shard, now):
                report.read += 1
                try:
                    self._ticket(due.id, now, report)
                except Exception:
                    # one ticket's failure must not stop the others; the next pass retries it
                    log.exception("SLA pass failed on ticket %s", due.id)
                    report.failed.append(due.id)
        return report

    def _close_solved(self, now: datetime) -> int:
        """Solved tickets nobody wrote on for the configured days are closed (and get
        their retention TTL); read from the status list, oldest first, a page a pass."""
        if self.tickets is None:
            return 0
        cutoff = now - timedelta(days=self.config.retention.close_solved_after_days)
        closed = 0
        for ticket in self.store.solved_before(cutoff):
            try:
                self.tickets.close(ticket.id)
                closed += 1
            except Exception:
                log.exception("could not close ticket %s", ticket.id)
        return closed

    # -- one ticket --------------------------------------------------------------------------------

    def _ticket(self, ticket_id: str, now: datetime, report: PassReport) -> None:
        for _ in range(5):
            ticket = self.store.get_ticket(ticket_id)
            if ticket is None:
                return
            state = sla.SlaState.from_dict(ticket.sla) if ticket.sla else None
            found = sla.crossings(state, now=now) if state else []
            if found and state is not None:
                try:
                    ticket = self._escalate(ticket, state, found, now)
                except TransactionConflict as conflict:
                    if conflict.lost(PutTicket):
                        report.conflicts += 1
                        continue  # it changed under us: read it again
                    raise
                report.escalated += 1
                report.crossings += [
                    {"ticket": ticket_id, **c.to_dict(), "team": ticket.queue} for c in found
                ]
            if ticket.escalations:
                report.published += self._publish(ticket, now, committed=found)
            elif not found:
                self._settle_index(ticket)
            return
        raise RuntimeError(f"ticket {ticket_id} kept changing during the SLA pass")

    def _escalate(
        self, ticket: Ticket, state: sla.SlaState, found: Sequence[sla.Crossing], now: datetime
    ) -> Ticket:
        changed = replace(
            ticket,
            tags=list(ticket.tags),
            participants=list(ticket.participants),
            escalations=list(ticket.escalations),
        )
        policy = self.config.sla.policy(state.policy)
        if policy is None:
            log.warning(
                "ticket %s: SLA policy %r is no longer in the config; its deadlines stand "
                "and no escalation steps apply",
                ticket.id,
                state.policy,
            )
        events: list[TicketEvent] = []
        for crossing in found:
            state = sla.record(state, crossing, at=now)
            # a late pass that finds a breach (or a second breach) due at once still owes
            # the steps of the levels it skipped: a warning's mail, a breach's priority
            actions = self._steps(policy, crossing) if policy else ()
            done = self._apply(changed, actions)
            identifier = escalation_id(ticket.id, crossing)
            changed.escalations.append(
                {
                    "id": identifier,
                    "at": to_iso(now),
                    "claimed_at": to_iso(now),  # this pass publishes it
                    "message": self._message(changed, crossing, identifier, done, now),
                    "notify": self._recipients(changed, actions),
                }
            )
            events.append(
                TicketEvent(
                    ticket.id,
                    now,
                    f"sla_{crossing.kind}",
                    {
                        "target": crossing.target,
                        "policy": crossing.policy,
                        "due": to_iso(crossing.due_at),
                        "escalation": identifier,
                        "actions": done,
                    },
                )
            )
            self.metric(
                "Sla_" + crossing.kind,
                team=changed.queue or "",
                policy=crossing.policy,
            )
        changed.sla = state.to_dict()
        changed.updated_at = now
        ticket_sla.refresh_due(changed)
        self.store.transact([PutTicket(changed, ticket.version), PutEvents(tuple(events))])
        changed.version = ticket.version + 1
        return changed

    @staticmethod
    def _steps(policy: sla.SlaPolicy, crossing: sla.Crossing) -> tuple[sla.EscalationAction, ...]:
        steps: list[sla.EscalationAction] = []
        for level in range(crossing.previous_level + 1, crossing.level + 1):
            kind = next(k for k, n in sla.CROSSING_LEVELS.items() if n == level)
            for action in policy.actions_for(kind):
                if action not in steps:
                    steps.append(action)
        return tuple(steps)

    def _apply(self, ticket: Ticket, actions: Sequence[sla.EscalationAction]) -> list[str]:
        done = []
        for action in actions:
            if action.kind == "raise_priority":
                wanted = _PRIORITIES.index(action.value) if action.value in _PRIORITIES else 0
                current = (
                    _PRIORITIES.index(ticket.priority) if ticket.priority in _PRIORITIES else 1
                )
                if wanted > current:  # an escalation never lowers a priority
                    ticket.priority = action.value
                    done.append(f"priority:{action.value}")
            elif action.kind == "move_to":
                if action.value == ESCALATION_QUEUE:
                    if "escalated" not in ticket.tags:
                        ticket.tags.append("escalated")
                    done.append("escalation_queue")
                elif action.value in self.config.teams and ticket.queue != action.value:
                    ticket.queue = action.value
                    done.append(f"team:{action.value}")
            elif action.kind in ("notify", "page"):
                done.append(f"{action.kind}:{self._address(ticket, action) or 'nobody'}")
        return done

    def _address(self, ticket: Ticket, action: sla.EscalationAction) -> str | None:
        if action.value == "team_lead":
            return self.config.sla.team_lead(ticket.queue or "")
        return action.value

    def _recipients(
        self, ticket: Ticket, actions: Sequence[sla.EscalationAction]
    ) -> list[dict[str, str]]:
        return [
            {"kind": action.kind, "to": address}
            for action in actions
            if action.kind in ("notify", "page") and (address := self._address(ticket, action))
        ]

    def _message(
        self,
        ticket: Ticket,
        crossing: sla.Crossing,
        identifier: str,
        actions: list[str],
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "escalation_id": identifier,
            "queue": ESCALATION_QUEUE,
            "event": f"sla_{crossing.kind}",
            "kind": crossing.kind,
            "target": crossing.target,
            "level": crossing.level,
            "policy": crossing.policy,
            "due_at": to_iso(crossing.due_at),
            "at": to_iso(now),
            "ticket_id": ticket.id,
            "team": ticket.queue,
            "priority": ticket.priority,
            "status": ticket.status.value,
            "channel": ticket.channel.value,
            "language": ticket.language,
            "subject": ticket.subject[:300],
            "customer_id": ticket.customer_id,
            "actions": actions,
        }

    # -- after the commit ----------------------------------------------------------------------------

    def _claim(self, ticket: Ticket, now: datetime) -> tuple[Ticket, list[dict[str, Any]]]:
        """Take over escalations whose publisher's lease ran out (it crashed), with a
        version-checked write, so of two passes only one publishes them."""
        for _ in range(5):
            stale = [
                e
                for e in ticket.escalations
                if not e.get("claimed_at") or now - from_iso(e["claimed_at"]) >= CLAIM_LEASE
            ]
            if not stale:
                return ticket, []
            ids = {e["id"] for e in stale}
            claimed = replace(
                ticket,
                tags=list(ticket.tags),
                escalations=[
                    {**e, "claimed_at": to_iso(now)} if e["id"] in ids else e
                    for e in ticket.escalations
                ],
            )
            try:
                self.store.transact([PutTicket(claimed, ticket.version)])
            except TransactionConflict as conflict:
                if not conflict.lost(PutTicket):
                    raise
                fresh = self.store.get_ticket(ticket.id)
                if fresh is None:
                    return ticket, []
                ticket = fresh
                continue
            claimed.version = ticket.version + 1
            return claimed, [e for e in claimed.escalations if e["id"] in ids]
        return ticket, []

    def _publish(self, ticket: Ticket, now: datetime, *, committed: Sequence[sla.Crossing]) -> int:
        """Send what the escalations this pass owns owe, then forget them on the ticket."""
        mine = [e for e in ticket.escalations if committed and e.get("claimed_at") == to_iso(now)]
        if not mine:
            ticket, mine = self._claim(ticket, now)
        sent: list[str] = []
        try:
            for escalation in mine:
                self.publisher.publish(escalation["message"])
                for recipient in escalation.get("notify", []):
                    self._notify(ticket, escalation["message"], recipient)
                sent.append(escalation["id"])
        except Exception:
            self._release(ticket.id, {e["id"] for e in mine} - set(sent))
            self._forget(ticket.id, sent)
            raise
        return self._forget(ticket.id, sent)

    def _release(self, ticket_id: str, ids: set[str]) -> None:
        """A publish failed: give the claim back so the next pass retries at once."""
        current = self.store.get_ticket(ticket_id)
        if current is None or not ids:
            return
        released = replace(
            current,
            tags=list(current.tags),
            escalations=[
                {k: v for k, v in e.items() if k != "claimed_at"} if e["id"] in ids else e
                for e in current.escalations
            ],
        )
        with contextlib.suppress(TransactionConflict):
            self.store.transact([PutTicket(released, current.version)])

    def _forget(self, ticket_id: str, sent: list[str]) -> int:
        """Drop published escalations from the ticket (version-checked, re-read on a race)."""
        if not sent:
            return 0
        for _ in range(5):
            current = self.store.get_ticket(ticket_id)
            if current is None:
                return len(sent)
            remaining = [e for e in current.escalations if e["id"] not in sent]
            cleared = replace(current, escalations=remaining, tags=list(current.tags))
            ticket_sla.refresh_due(cleared)
            try:
                self.store.transact([PutTicket(cleared, current.version)])
                return len(sent)
            except TransactionConflict as conflict:
                if not conflict.lost(PutTicket):
                    raise
        raise RuntimeError(f"could not clear the published escalations of {ticket_id}")

    def _notify(
        self, ticket: Ticket, message: Mapping[str, Any], recipient: Mapping[str, str]
    ) -> None:
        if self.email is None:
            log.warning(
                "no email sender: the %s for ticket %s is only on the queue",
                recipient["kind"],
                ticket.id,
            )
            return
        brand = self.config.brand
        what = {
            "warning": "is close to",
            "breach": "has breached",
            "second_breach": "is still past",
        }[str(message["kind"])]
        target = str(message["target"]).replace("_", " ")
        subject = f"[SLA {message['kind'].replace('_', ' ')}] {ticket.token} {ticket.subject[:120]}"
        text = (
            f"Ticket {ticket.token} {what} its {target} target under the {message['policy']} policy.\n\n"
            f"Due: {message['due_at']}\nTeam: {ticket.queue}\nPriority: {ticket.priority}\n"
            f"Status: {ticket.status.value}\nChannel: {ticket.channel.value}\n"
            f"Subject: {ticket.subject}\n\nEscalation {message['escalation_id']}; "
            f"actions taken: {', '.join(message['actions']) or 'none'}.\n"
        )
        mail = Message(
            id=str(message["escalation_id"]),
            ticket_id=ticket.id,
            direction=Direction.OUTBOUND,
            channel=Channel.EMAIL,
            created_at=self.clock(),
            automatic=True,
            author="helpline",
            sender=brand.support_address,
            recipients=[recipient["to"]],
            subject=subject,
            text=text,
            headers={
                "Auto-Submitted": "auto-generated",
                "X-Helpline-Escalation": str(message["escalation_id"]),
                **(
                    {"Importance": "high", "X-Priority": "1"} if recipient["kind"] == "page" else {}
                ),
            },
            kind="sla_notification",
            delivery=DeliveryStatus.PENDING,
        )
        try:
            self.email.send(mail)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            log.error(
                "could not notify %s about ticket %s: %s", recipient["kind"], ticket.id, exc.reason
            )

    def _settle_index(self, ticket: Ticket) -> None:
        """A ticket in the index with nothing due now (its clock was paused or met since
        the index was read, or a due moment lies ahead): make sure the index says when."""
        fresh = replace(ticket, tags=list(ticket.tags))
        ticket_sla.refresh_due(fresh)
        if fresh.sla_due != ticket.sla_due:
            # a conflict means it changed, and that write recomputed the index itself
            with contextlib.suppress(TransactionConflict):
                self.store.transact([PutTicket(fresh, ticket.version)])
