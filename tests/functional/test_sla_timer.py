"""The SLA timer under moto: a Friday-evening ticket is due on Monday morning in the
team's time zone, warns, breaches and breaches again, each exactly once, however many
passes overlap; pauses, reopening and agent replies move the clocks as they should."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from functions.core.models import TicketStatus
from tests.helpers import REPO, make_mail

FRIDAY_EVENING = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 19:00 in Madrid: closed
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Madrid: opening time
SPANISH = (
    "Hola, mi pedido no ha llegado todavía y el seguimiento no muestra nada. ¿Me pueden ayudar?"
)


@pytest.fixture
def sla(aws):
    from functions.core import wiring
    from functions.sla_timer import wiring as sla_wiring

    components = wiring.build(wiring.Settings.from_env())
    metrics: list[tuple[str, dict[str, str]]] = []
    timer = sla_wiring.build(components)
    timer.metric = lambda name, **dims: metrics.append((name, dims))

    class Sla:
        def __init__(self) -> None:
            self.components = components
            self.timer = timer
            self.metrics = metrics

        def ticket(self):
            outcome = aws.deliver(
                make_mail(text=SPANISH, subject="Mi pedido"), received_at=FRIDAY_EVENING
            )
            return outcome["ticket_id"]

        def run(self, at: datetime):
            return self.timer.run(now=at)

        def escalations(self):
            return [m for m in aws.queue_messages("escalation")]

        def get(self, ticket_id):
            return components.store.get_ticket(ticket_id)

        def report(self, ticket_id, now):
            from functions.core import ticket_sla

            return {
                v.target: v
                for v in ticket_sla.report(components.config, self.get(ticket_id), now=now)
            }

    return Sla()


def test_a_friday_evening_ticket_is_due_monday_morning_and_the_customer_is_told(aws, sla):
    ticket_id = sla.ticket()
    views = sla.report(ticket_id, FRIDAY_EVENING)
    first = views["first_response"]
    assert first.status == "running"
    assert first.due_at.strftime("%a %H:%M %Z") == "Mon 10:00 CET"  # 09:00 opening + 1 working hour
    [ack] = aws.sent_mail()
    body = ack.get_body(("plain",)).get_content()
    assert "el lunes 30 de noviembre a las 10:00 (CET)" in body


def test_warning_then_breach_then_second_breach_each_escalate_once(aws, sla):
    ticket_id = sla.ticket()
    assert sla.run(MONDAY).escalated == 0  # nothing is due at opening time
    warned = sla.run(MONDAY + timedelta(minutes=46))  # 75% of the hour has run
    assert [c["kind"] for c in warned.crossings] == ["warning"]
    assert sla.run(MONDAY + timedelta(minutes=47)).escalated == 0  # once, not every pass
    breached = sla.run(MONDAY + timedelta(hours=1, minutes=1))
    assert [c["kind"] for c in breached.crossings] == ["breach"]
    ticket = sla.get(ticket_id)
    assert ticket.priority == "high" and "escalated" in ticket.tags
    again = sla.run(MONDAY + timedelta(hours=2, minutes=1))
    assert [c["kind"] for c in again.crossings] == ["second_breach"]

    messages = sla.escalations()
    assert [(m["kind"], m["target"]) for m in messages] == [
        ("warning", "first_response"),
        ("breach", "first_response"),
        ("second_breach", "first_response"),
    ]
    assert all(m["ticket_id"] == ticket_id for m in messages)
    schema = json.loads((REPO / "docs" / "schemas" / "escalation-message.v1.json").read_text())
    for message in messages:
        jsonschema.validate(message, schema)
    assert len({m["escalation_id"] for m in messages}) == 3
    notified = [
        (sorted(set(m.destinations)), m["Subject"].split("]")[0]) for m in aws.sent_mail()[1:]
    ]
    assert notified == [
        (["lead.spanish@helpline.test"], "[SLA warning"),
        (["lead.spanish@helpline.test"], "[SLA breach"),
        (["oncall@helpline.test"], "[SLA second breach"),
    ]
    events = [
        e.type
        for e in sla.components.store.ticket_bundle(ticket_id).events
        if e.type.startswith("sla_")
    ]
    # (the intake stamps sla_started with the real clock; the passes run "on Monday")
    assert sorted(events) == sorted(
        ["sla_started", "sla_warning", "sla_breach", "sla_second_breach"]
    )
    assert ("Sla_breach", {"team": "spanish", "policy": "standard"}) in sla.metrics


def test_overlapping_passes_never_escalate_twice(aws, sla):
    sla.ticket()
    late = MONDAY + timedelta(hours=1, minutes=5)
    barrier = threading.Barrier(3)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(sla.run(late))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(r.escalated for r in reports) == 1
    assert [m["kind"] for m in sla.escalations()] == ["breach"]


def test_an_agent_reply_in_time_meets_the_target_and_nothing_escalates(aws, sla):
    ticket_id = sla.ticket()
    sla.components.tickets.clock = lambda: MONDAY + timedelta(minutes=20)
    sla.components.tickets.reply(ticket_id, "Lo estamos revisando.", agent="lucia@helpline.test")
    views = sla.report(ticket_id, MONDAY + timedelta(minutes=30))
    assert views["first_response"].status == "met"
    assert sla.run(MONDAY + timedelta(hours=3)).escalated == 0
    assert sla.escalations() == []


def test_pending_pauses_resolution_but_never_first_response(aws, sla):
    ticket_id = sla.ticket()
    tickets = sla.components.tickets
    tickets.clock = lambda: MONDAY + timedelta(minutes=10)
    tickets.reply(ticket_id, "¿Nos confirma el número de pedido?", agent="lucia@helpline.test")
    tickets.set_status(ticket_id, TicketStatus.PENDING, actor="lucia@helpline.test")
    views = sla.report(ticket_id, MONDAY + timedelta(hours=5))
    assert views["resolution"].status == "paused"
    assert views["resolution"].paused >= timedelta(hours=4)
    assert sla.run(MONDAY + timedelta(days=10)).crossings == []  # a paused clock never breaches


def test_a_reopened_ticket_resumes_with_the_time_it_had_left(aws, sla):
    ticket_id = sla.ticket()
    tickets = sla.components.tickets
    tickets.clock = lambda: MONDAY + timedelta(minutes=10)
    tickets.reply(ticket_id, "Ya está en camino.", agent="lucia@helpline.test")
    tickets.clock = lambda: MONDAY + timedelta(hours=2)
    tickets.resolve(ticket_id, actor="lucia@helpline.test")
    used = timedelta(hours=2)
    tickets.clock = lambda: MONDAY + timedelta(days=1)
    tickets.set_status(ticket_id, TicketStatus.OPEN, actor="lucia@helpline.test")
    views = sla.report(ticket_id, MONDAY + timedelta(days=1))
    resolution = views["resolution"]
    assert resolution.status == "running"
    assert resolution.remaining == timedelta(hours=24) - used  # not from zero, not breached
    assert sla.run(MONDAY + timedelta(days=1, minutes=1)).crossings == []


def test_an_escalation_committed_but_not_published_is_published_by_the_next_pass(aws, sla):
    ticket_id = sla.ticket()
    publisher = sla.timer.publisher
    real = publisher.publish
    calls = {"n": 0}

    def flaky(body):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("SQS was unreachable")
        return real(body)

    publisher.publish = flaky
    first = sla.run(MONDAY + timedelta(hours=1, minutes=1))
    assert first.escalated == 1 and first.failed == [ticket_id]
    assert sla.escalations() == []
    assert sla.get(ticket_id).escalations  # kept on the ticket, still due
    second = sla.run(MONDAY + timedelta(hours=1, minutes=2))
    assert second.escalated == 0 and second.published == 1
    assert [m["kind"] for m in sla.escalations()] == ["breach"]
    assert sla.get(ticket_id).escalations == []
