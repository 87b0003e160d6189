"""`helpline report` at scale: 100,000 tickets and 30,000 survey responses, read from
the pre-computed report cells, next to a Scan of the same data computing the same figures.

One in-process moto stack (table from infra/shared.yaml, as the functional tests build
it) holds, in production's own item shapes:

- the tickets (`ticket_to_item`, SLA state from `ticket_sla` as the intake and the agent
  console compute it), created over 90 days, most answered and solved;
- a survey for most solved tickets, sent 24 hours after the solve (production's usual
  delay; CSAT, or NPS for one in ten), and exactly 30,000 answers, some with a changed
  score or a comment (`surveystore`'s survey and response items);
- the report cells: for every ticket and survey, the deltas production adds
  (`reports.ticket_created_delta`, `first_response_delta`, `solved_delta`,
  `survey_sent_delta`, `response_delta`, `follow_up_delta`) on the days and dimension
  values production uses, summed in memory and written once per cell through
  `SurveyStore.count` (the read side is what is measured).

The report is `SurveyStore.cells` + `reports.build_report` for the whole 90 days, as
`helpline report --from --to --by` runs them (infra/cli.py cmd_report), once per
dimension. The scan reads every item of the table with a ProjectionExpression of the
attributes it needs, joins surveys, answers and tickets in memory and computes the same
figures from the raw records; both must agree on every volume, CSAT, NPS, response
rate and duration percentile, by every dimension value, or the run fails.

Read units are priced by DynamoDB's rules from the items read (moto reports no reliable
consumed capacity): 0.5 per 4 KB of the items of each eventually consistent request
page. A Scan is priced on the whole stored items it reads, whatever it projects, so its
pages are priced from the sizes of the items as written. The table holds only these
records: in production it also holds every message and event, which a Scan would read
too, so the scan's figure here is a lower bound.

Tickets come from a pool of distinct computed histories (10,000 by default, each reused
under other ticket and customer ids; surveys and answers are drawn per ticket).

    python -m bench.report_scale            # the full sizes (loading and scanning take minutes)
    python -m bench.report_scale --quick    # a twentieth of it
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.aws_meter import Meter, item_size
from bench.sla_scale import (
    AGENTS,
    ReadMeter,
    agent_reply,
    answer_delay,
    batch_write,
    customer_id,
    moto_stack,
    new_ticket,
    reuse,
    solve,
    solve_delay,
    start_clocks,
    ticket_id,
)

if TYPE_CHECKING:
    from functions.core.surveys import SurveyKind

END = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # the moment the report is run
DAYS = 90
SURVEY_DELAY = timedelta(hours=24)  # production's usual delay after the solve
NPS_SHARE = 0.1
SURVEYED_SHARE = 0.7  # of solved tickets
NEVER_ANSWERED = 0.03
NEVER_SOLVED = 0.05
CSAT_WEIGHTS = (5, 7, 10, 30, 48)  # scores 1..5
NPS_WEIGHTS = (3, 1, 2, 2, 3, 4, 6, 12, 20, 25, 22)  # scores 0..10
COMMENTS = (
    "Thanks, quick and friendly.",
    "It took three days to get an answer.",
    "Nobody read what I wrote, I had to explain it twice.",
    "Muy amables, gracias.",
    "Всё решили быстро.",
)
# what the scan needs of each record (PK and SK price each page by the stored items)
PROJECTION = {
    "#pk": "PK",
    "#sk": "SK",
    "#type": "type",
    "#id": "id",
    "#channel": "channel",
    "#queue": "queue",
    "#language": "language",
    "#agent": "agent",
    "#status": "status",
    "#created": "created_at",
    "#first": "first_response_at",
    "#solved": "solved_at",
    "#ticket": "ticket_id",
    "#kind": "kind",
    "#team": "team",
    "#sent": "sent_at",
    "#state": "state",
    "#survey": "survey_id",
    "#score": "score",
    "#comment": "comment",
}


class MismatchError(AssertionError):
    """The report from the cells and the scan disagree: the cells are wrong."""


# -- the data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    tickets: list[Any]  # Ticket
    surveys: list[Any]  # SurveyRecord (sent, or still scheduled at END)
    responses: list[tuple[Any, Any]]  # (Response, Survey)

    @property
    def sent(self) -> list[Any]:
        return [record for record in self.surveys if record.state == "sent"]


def report_ticket(config: Any, rng: random.Random, n: int, *, end: datetime) -> Any:
    """A ticket created in the 90 days before `end`; agents answer and solve it in their
    team's working hours (delays in business time), unless that lies after `end`."""
    created = end - timedelta(days=DAYS) * rng.random()
    ticket = new_ticket(rng, ticket_id("report", n), customer_id(n), created)
    start_clocks(config, ticket, created)
    if rng.random() < NEVER_ANSWERED:
        return ticket
    calendar = config.calendar_for_team(ticket.queue)
    agent = rng.choice(AGENTS[ticket.queue])
    answered = calendar.add_business_time(created, answer_delay(rng))
    if answered > end:
        return ticket
    agent_reply(config, ticket, answered, agent)
    if rng.random() < NEVER_SOLVED:
        return ticket
    solved = calendar.add_business_time(answered, solve_delay(rng))
    if solved <= end:
        solve(config, ticket, solved, agent)
    return ticket


def _score(rng: random.Random, kind: str) -> int:
    if kind == "csat":
        return rng.choices(range(1, 6), weights=CSAT_WEIGHTS)[0]
    return rng.choices(range(11), weights=NPS_WEIGHTS)[0]


def generate(
    config: Any,
    *,
    tickets: int = 100_000,
    responses: int = 30_000,
    end: datetime = END,
    distinct: int = 10_000,
    seed: int = 6,
) -> Dataset:
    """The tickets, their surveys and exactly `responses` answers."""
    from functions.core import surveys as survey_rules
    from functions.core.models import TicketStatus
    from functions.core.surveystore import SurveyRecord

    rng = random.Random(seed)
    pool = [report_ticket(config, rng, n, end=end) for n in range(min(distinct, tickets))]
    made = [
        reuse(pool[n % len(pool)], ticket_id("report", n), customer_id(n)) for n in range(tickets)
    ]
    records = []
    for ticket in made:
        if ticket.status is not TicketStatus.SOLVED or rng.random() >= SURVEYED_SHARE:
            continue
        kind: SurveyKind = "nps" if rng.random() < NPS_SHARE else "csat"
        send_at = ticket.solved_at + SURVEY_DELAY
        survey = survey_rules.Survey(
            id=survey_rules.survey_id(ticket.id, ticket.solved_at, kind),
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            channel=ticket.channel,
            kind=kind,
            language=ticket.language or config.languages.default,
            team=ticket.queue,
            agent=ticket.agent,
            sent_at=send_at,
            expires_at=send_at + config.surveys.link_ttl,
        )
        state = "sent" if send_at <= end else "scheduled"
        records.append(SurveyRecord(survey, state, send_at, detail=ticket.channel.value))
    sent = [record for record in records if record.state == "sent"]
    if len(sent) < responses:
        raise ValueError(f"{len(sent)} surveys were sent: too few for {responses} answers")
    answers = []
    for record in rng.sample(sent, responses):
        survey = record.survey
        score = _score(rng, survey.kind)
        at = min(survey.sent_at + timedelta(minutes=rng.lognormvariate(5, 1.5)), end)
        response = survey_rules.Response.first(survey.id, score, at)
        if rng.random() < 0.05:  # a second click with another score: the last one wins
            other = _score(rng, survey.kind)
            response = response.with_score(other, min(at + timedelta(minutes=2), end))
        if rng.random() < 0.2:
            response = response.with_comment(rng.choice(COMMENTS), response.at)
        answers.append((response, survey))
    return Dataset(made, records, answers)


def _dimensions(ticket: Any) -> dict[str, str]:
    """SurveyService._dimensions: the ticket's values, NO_VALUE where it has none."""
    from functions.core.reports import NO_VALUE

    return {
        "channel": ticket.channel.value,
        "team": ticket.queue or NO_VALUE,
        "language": ticket.language or NO_VALUE,
        "agent": ticket.agent or NO_VALUE,
    }


def _survey_dimensions(survey: Any, ticket: Any) -> dict[str, str]:
    """SurveyAnswers.dimensions (functions/core/survey_answers.py)."""
    from functions.core.reports import NO_VALUE

    return {
        "channel": survey.channel.value,
        "team": survey.team or NO_VALUE,
        "language": (ticket.language if ticket else None) or NO_VALUE,
        "agent": survey.agent or NO_VALUE,
    }


def business_seconds(config: Any, team: str | None, start: datetime, end: datetime) -> float:
    """SurveyService._business_seconds: the team's calendar, else the default team's."""
    name = team if team in config.teams else config.routing.default_team
    return float(config.calendar_for_team(name).business_time_between(start, end).total_seconds())


CellKey = tuple[str, str, str]  # (day, dimension, value)


def cell_counters(config: Any, data: Dataset) -> dict[CellKey, Counter[str]]:
    """What production's counters hold after every event of `data`: each event's delta
    added to the cell of its day for each of its four dimension values."""
    from functions.core import reports
    from functions.core.models import Channel, TicketStatus

    cells: dict[CellKey, Counter[str]] = defaultdict(Counter)

    def add(moment: datetime, dimensions: Mapping[str, str], delta: Mapping[str, int]) -> None:
        day = reports.day_period(moment)
        for dimension, value in dimensions.items():
            cells[(day, dimension, value)].update(delta)

    for ticket in data.tickets:
        created = {**_dimensions(ticket), "agent": reports.NO_VALUE}  # nobody has answered yet
        add(
            ticket.created_at,
            created,
            reports.ticket_created_delta(is_chat=ticket.channel is Channel.CHAT),
        )
        if ticket.first_response_at is not None:
            add(
                ticket.first_response_at,
                _dimensions(ticket),
                reports.first_response_delta(
                    calendar_seconds=(ticket.first_response_at - ticket.created_at).total_seconds(),
                    business_seconds=business_seconds(
                        config, ticket.queue, ticket.created_at, ticket.first_response_at
                    ),
                ),
            )
        if ticket.status in (TicketStatus.SOLVED, TicketStatus.CLOSED) and ticket.solved_at:
            add(
                ticket.solved_at,
                _dimensions(ticket),
                reports.solved_delta(
                    calendar_seconds=(ticket.solved_at - ticket.created_at).total_seconds(),
                    business_seconds=business_seconds(
                        config, ticket.queue, ticket.created_at, ticket.solved_at
                    ),
                ),
            )
    by_id = {ticket.id: ticket for ticket in data.tickets}
    for record in data.sent:
        survey = record.survey
        dims = _survey_dimensions(survey, by_id.get(survey.ticket_id))
        add(survey.sent_at, dims, reports.survey_sent_delta(survey.kind))
    for response, survey in data.responses:
        dims = _survey_dimensions(survey, by_id.get(survey.ticket_id))
        for previous, score in _score_moves(response):
            add(survey.sent_at, dims, reports.response_delta(survey.kind, score, previous))
        if _follow_up(config, survey.kind, response.score, response.comment):
            add(survey.sent_at, dims, reports.follow_up_delta())
    return {key: counter for key, counter in cells.items() if any(counter.values())}


def _score_moves(response: Any) -> Iterator[tuple[int | None, int]]:
    """Each click as production counted it: the first score, then each change."""
    scores = [change.score for change in response.history] + [response.score]
    previous = None
    for score in scores:
        yield previous, score
        previous = score


def _follow_up(config: Any, kind: str, score: int, comment: str) -> bool:
    from functions.core import surveys as survey_rules

    return survey_rules.needs_follow_up(config.surveys, kind, score, comment or "")


def items_of(data: Dataset) -> Iterator[dict[str, Any]]:
    """Every ticket, survey and answer as the stores write it (DynamoDB-typed)."""
    from functions.core.store import serialize, ticket_to_item
    from functions.core.surveystore import _response_item, _survey_item

    for ticket in data.tickets:
        yield serialize(ticket_to_item(ticket))
    for record in data.surveys:
        yield serialize(_survey_item(record))
    for response, survey in data.responses:
        yield serialize(_response_item(response, survey))


def cell_item(key: CellKey, counters: Mapping[str, int]) -> dict[str, Any]:
    """The stored cell that `SurveyStore.count`'s ADD/SET leaves (to price a Scan)."""
    from functions.core.store import serialize

    day, dimension, value = key
    return serialize(
        {"PK": f"STATS#{dimension}", "SK": f"{day}#{value}", **counters, "type": "stats"}
    )


def _key(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["PK"]["S"]), str(item["SK"]["S"])


# -- the scan's own arithmetic ----------------------------------------------------------------------


@dataclass
class Tally:
    """The figures of one dimension value (or of everything), from raw records."""

    tickets_created: int = 0
    chats: int = 0
    tickets_solved: int = 0
    csat_sent: int = 0
    nps_sent: int = 0
    follow_ups: int = 0
    csat: list[int] = field(default_factory=lambda: [0] * 5)
    nps: list[int] = field(default_factory=lambda: [0] * 11)
    durations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def figures(self) -> dict[str, Any]:
        from functions.core import reports

        answered_csat, answered_nps = sum(self.csat), sum(self.nps)
        promoters, detractors = self.nps[9] + self.nps[10], sum(self.nps[:7])
        sent = self.csat_sent + self.nps_sent
        answered = answered_csat + answered_nps
        out: dict[str, Any] = {
            "tickets_created": self.tickets_created,
            "chats": self.chats,
            "tickets_solved": self.tickets_solved,
            "surveys_sent": sent,
            "responses": answered,
            "csat_responses": answered_csat,
            "nps_responses": answered_nps,
            "csat": None
            if not answered_csat
            else 100 * (self.csat[3] + self.csat[4]) / answered_csat,
            "nps": None if not answered_nps else 100 * (promoters - detractors) / answered_nps,
            "promoters": promoters,
            "passives": self.nps[7] + self.nps[8],
            "detractors": detractors,
            "response_rate": None if not sent else answered / sent,
            "follow_ups": self.follow_ups,
            "csat_scores": tuple(self.csat),
            "nps_scores": tuple(self.nps),
        }
        for name in ("frt_cal", "frt_biz", "res_cal", "res_biz"):
            # the report's percentile estimate (its buckets), from the exact durations
            histogram = [0] * reports.BUCKETS
            for seconds in self.durations.get(name, []):
                histogram[reports.bucket_index(seconds)] += 1
            out[f"{name}_count"] = sum(histogram)
            out[f"{name}_p50"] = reports.percentile(histogram, 0.5)
            out[f"{name}_p90"] = reports.percentile(histogram, 0.9)
        return out


def report_figures(metrics: Any) -> dict[str, Any]:
    """The same figures, read from a report's Metrics."""
    out = {
        name: getattr(metrics, name)
        for name in (
            "tickets_created", "chats", "tickets_solved", "surveys_sent", "responses",
            "csat_responses", "nps_responses", "csat", "nps", "promoters", "passives",
            "detractors", "response_rate", "follow_ups", "csat_scores", "nps_scores",
        )
    }  # fmt: skip
    for name, durations in (
        ("frt_cal", metrics.frt_calendar),
        ("frt_biz", metrics.frt_business),
        ("res_cal", metrics.resolution_calendar),
        ("res_biz", metrics.resolution_business),
    ):
        out[f"{name}_count"] = durations.count
        out[f"{name}_p50"] = durations.p50
        out[f"{name}_p90"] = durations.p90
    return out


class ScanTally:
    """Aggregates scanned records (deserialized, projected) into per-value Tallies."""

    def __init__(self, config: Any, first: date, last: date) -> None:
        self.config = config
        self.first, self.last = first.isoformat(), last.isoformat()
        self.tickets: dict[str, dict[str, Any]] = {}
        self.surveys: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.other = 0

    def add(self, item: Mapping[str, Any]) -> None:
        kind = item.get("type")
        if kind == "ticket":
            self.tickets[str(item["id"])] = dict(item)
        elif kind == "survey":
            self.surveys[str(item["id"])] = dict(item)
        elif kind == "survey_response":
            self.responses.append(dict(item))
        else:
            self.other += 1

    def _in_range(self, moment: datetime) -> bool:
        return self.first <= moment.astimezone(UTC).date().isoformat() <= self.last

    def tallies(self) -> dict[tuple[str, str], Tally]:
        """(dimension, value) -> Tally, and ("total", "") for everything."""
        from functions.core.reports import DIMENSIONS, NO_VALUE
        from functions.core.timeutil import from_iso

        out: dict[tuple[str, str], Tally] = defaultdict(Tally)

        def each(values: Mapping[str, str]) -> Iterator[Tally]:
            yield out[("total", "")]
            for dimension in DIMENSIONS:
                yield out[(dimension, values[dimension])]

        for t in self.tickets.values():
            created = from_iso(t["created_at"])
            values = {
                "channel": t["channel"],
                "team": t.get("queue") or NO_VALUE,
                "language": t.get("language") or NO_VALUE,
                "agent": t.get("agent") or NO_VALUE,
            }
            if self._in_range(created):
                for tally in each({**values, "agent": NO_VALUE}):
                    tally.tickets_created += 1
                    tally.chats += t["channel"] == "chat"
            if t.get("first_response_at"):
                first = from_iso(t["first_response_at"])
                if self._in_range(first):
                    calendar = (first - created).total_seconds()
                    business = business_seconds(self.config, t.get("queue"), created, first)
                    for tally in each(values):
                        tally.durations["frt_cal"].append(calendar)
                        tally.durations["frt_biz"].append(business)
            if t["status"] in ("solved", "closed") and t.get("solved_at"):
                solved = from_iso(t["solved_at"])
                if self._in_range(solved):
                    calendar = (solved - created).total_seconds()
                    business = business_seconds(self.config, t.get("queue"), created, solved)
                    for tally in each(values):
                        tally.tickets_solved += 1
                        tally.durations["res_cal"].append(calendar)
                        tally.durations["res_biz"].append(business)

        def survey_values(s: Mapping[str, Any]) -> dict[str, str]:
            ticket = self.tickets.get(str(s["ticket_id"]), {})
            return {
                "channel": s["channel"],
                "team": s.get("team") or NO_VALUE,
                "language": ticket.get("language") or NO_VALUE,
                "agent": s.get("agent") or NO_VALUE,
            }

        for s in self.surveys.values():
            if s.get("state") == "sent" and self._in_range(from_iso(s["sent_at"])):
                for tally in each(survey_values(s)):
                    if s["kind"] == "csat":
                        tally.csat_sent += 1
                    else:
                        tally.nps_sent += 1
        for r in self.responses:
            s = self.surveys[str(r["survey_id"])]
            if not self._in_range(from_iso(s["sent_at"])):
                continue
            score = int(r["score"])
            follow_up = _follow_up(self.config, s["kind"], score, r.get("comment") or "")
            for tally in each(survey_values(s)):
                if s["kind"] == "csat":
                    tally.csat[score - 1] += 1
                else:
                    tally.nps[score] += 1
                tally.follow_ups += follow_up
        return dict(out)


Figures = dict[tuple[str, str], dict[str, Any]]  # (dimension, value) -> figures


def figures_of_report(report: Any) -> Figures:
    """A report's figures by value, and its total under ("total", <dimension>)."""
    out = {("total", report.by): report_figures(report.total)}
    for value, metrics in report.by_value:
        out[(report.by, value)] = report_figures(metrics)
    return out


def figures_of_scan(tally: ScanTally) -> Figures:
    """The scan's figures in the same keys: each dimension's cells add up to the whole,
    so every report's total must be the scan's total."""
    from functions.core.reports import DIMENSIONS

    out = {key: t.figures() for key, t in tally.tallies().items()}
    everything = out.pop(("total", ""))
    out.update({("total", dimension): everything for dimension in DIMENSIONS})
    return out


def compare(
    report_side: Mapping[tuple[str, str], Mapping[str, Any]],
    scan_side: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[str]:
    """Every difference between the two sides' figures (empty when they agree)."""
    differences = []
    for key in sorted(set(report_side) | set(scan_side)):
        mine, theirs = report_side.get(key), scan_side.get(key)
        if mine is None or theirs is None:
            differences.append(f"{key}: only in the {'scan' if mine is None else 'report'}")
            continue
        for name in sorted(set(mine) | set(theirs)):
            a, b = mine.get(name), theirs.get(name)
            if not _same(a, b):
                differences.append(f"{key} {name}: report {a!r}, scan {b!r}")
    return differences


def _same(a: Any, b: Any) -> bool:
    """Counts exactly; ratios and percentiles up to float rounding (the two sides
    divide the same integers, but not always in the same order)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


# -- the measurement -------------------------------------------------------------------------------


def _scan(client: Any, table: str, tally: ScanTally) -> int:
    from functions.core.store import deserialize

    names = {alias: name for alias, name in PROJECTION.items()}
    args: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": ", ".join(PROJECTION),
        "ExpressionAttributeNames": names,
    }
    pages = 0
    while True:
        response = client.scan(**args)
        pages += 1
        for raw in response.get("Items", []):
            tally.add(deserialize(raw))
        last = response.get("LastEvaluatedKey")
        if not last:
            return pages
        args["ExclusiveStartKey"] = last


def run(
    *,
    tickets: int = 100_000,
    responses: int = 30_000,
    quick: bool = False,
    distinct: int = 10_000,
    seed: int = 6,
    end: datetime = END,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    from functions.core import reports
    from functions.core.config import load_config
    from functions.core.surveystore import SurveyStore
    from infra.local.resources import DEMO_CONFIG

    say = progress or (lambda _: None)
    if quick:
        tickets, responses, distinct = tickets // 20, responses // 20, distinct // 20
    config = load_config(str(DEMO_CONFIG))
    first, last = (end - timedelta(days=DAYS)).date(), end.date()
    say(f"report: generating {tickets:,} tickets and {responses:,} answers ...")
    data = generate(
        config, tickets=tickets, responses=responses, end=end, distinct=distinct, seed=seed
    )
    counters = cell_counters(config, data)
    with moto_stack() as stack:
        loader = stack.loader()
        sizes: dict[tuple[str, str], int] = {}

        def sized(items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for item in items:
                sizes[_key(item)] = item_size(item)
                yield item

        started = time.perf_counter()
        written = batch_write(loader, stack.table, sized(items_of(data)))
        cells_store = SurveyStore(stack.table, loader)
        for key, counter in counters.items():
            day, dimension, value = key
            cells_store.count(None, day, {dimension: value}, dict(counter), now=end)
            sizes[_key(cell_item(key, counter))] = item_size(cell_item(key, counter))
        load_seconds = time.perf_counter() - started
        say(f"  loaded {written:,} records and {len(counters):,} cells in {load_seconds:.0f} s")

        # the report: one Query of the cells per dimension, as cmd_report does
        client = stack.session.client("dynamodb")
        calls, reads = Meter(), ReadMeter()
        calls.attach([client])
        reads.attach(client)
        store = SurveyStore(stack.table, client)
        by_dimension: dict[str, dict[str, Any]] = {}
        report_side: Figures = {}
        for dimension in reports.DIMENSIONS:
            calls.reset()
            reads.reset()
            started = time.perf_counter()
            cells = store.cells(dimension, first.isoformat(), last.isoformat())
            report = reports.build_report(
                cells,
                by=dimension,
                granularity="day",
                periods=reports.period_keys(first, last, "day"),
            )
            seconds = time.perf_counter() - started
            by_dimension[dimension] = {
                "cells": len(cells),
                "seconds": round(seconds, 3),
                "items_read": reads.total_items,
                "read_units": reads.total_units,
                "requests": sum(reads.requests.values()),
                "calls": dict(sorted(calls.calls.items())),
            }
            report_side.update(figures_of_report(report))
        say("  report read; scanning ...")

        # the scan: every item of the table, the same figures computed from the records
        scan_client = stack.session.client("dynamodb")
        scan_calls, scan_reads = Meter(), ReadMeter(full_size=lambda item: sizes[_key(item)])
        scan_calls.attach([scan_client])
        scan_reads.attach(scan_client)
        started = time.perf_counter()
        tally = ScanTally(config, first, last)
        pages = _scan(scan_client, stack.table, tally)
        scan_side = figures_of_scan(tally)
        scan_seconds = time.perf_counter() - started

    differences = compare(report_side, scan_side)
    if differences:
        raise MismatchError(
            f"the report and the scan disagree in {len(differences)} figures:\n  "
            + "\n  ".join(differences[:30])
        )
    total = report_side[("total", "channel")]
    report_units = sum(d["read_units"] for d in by_dimension.values())
    channel = by_dimension["channel"]
    return {
        "command": "python -m bench.report_scale" + (" --quick" if quick else ""),
        "period": [first.isoformat(), last.isoformat()],
        "tickets": len(data.tickets),
        "surveys": len(data.surveys),
        "surveys_sent": len(data.sent),
        "responses": len(data.responses),
        "records": written,
        "cells": len(counters),
        "table_items": len(sizes),
        "table_bytes": sum(sizes.values()),
        "distinct_histories": distinct,
        "load_seconds": round(load_seconds, 1),
        "report": by_dimension,
        "report_all_dimensions": {
            "seconds": round(sum(d["seconds"] for d in by_dimension.values()), 3),
            "items_read": sum(d["items_read"] for d in by_dimension.values()),
            "read_units": report_units,
        },
        "scan": {
            "seconds": round(scan_seconds, 1),
            "pages": pages,
            "items_read": scan_reads.total_items,
            "read_units": scan_reads.total_units,
            "calls": dict(sorted(scan_calls.calls.items())),
        },
        "ratio_read_units_channel": scan_reads.total_units / channel["read_units"],
        "ratio_read_units_all": scan_reads.total_units / report_units,
        "ratio_seconds_channel": scan_seconds / channel["seconds"] if channel["seconds"] else None,
        "figures_compared": sum(len(v) for v in report_side.values()),
        "values_compared": len(report_side),
        "total": {
            "tickets_created": total["tickets_created"],
            "tickets_solved": total["tickets_solved"],
            "surveys_sent": total["surveys_sent"],
            "responses": total["responses"],
            "csat": total["csat"],
            "nps": total["nps"],
            "response_rate": total["response_rate"],
            "frt_biz_p50_hours": None
            if total["frt_biz_p50"] is None
            else total["frt_biz_p50"] / 3600,
            "res_biz_p50_hours": None
            if total["res_biz_p50"] is None
            else total["res_biz_p50"] / 3600,
        },
    }


def markdown(result: Mapping[str, Any]) -> str:
    first, last = result["period"]
    total = result["total"]
    scan = result["scan"]
    lines = [
        f"## helpline report over {result['tickets']:,} tickets and {result['responses']:,} answers",
        "",
        f"`helpline report --from {first} --to {last} --by <dimension>` (`SurveyStore.cells` and",
        "`reports.build_report`, as infra/cli.py runs them) next to a Scan of the same table",
        "computing the same figures from the tickets, surveys and answers (`bench/report_scale.py`),",
        f"under moto, table from infra/shared.yaml. The table holds {result['tickets']:,} tickets, "
        f"{result['surveys']:,} surveys",
        f"({result['surveys_sent']:,} sent), {result['responses']:,} answers and "
        f"{result['cells']:,} report cells ({result['table_items']:,} items,",
        f"{result['table_bytes'] / 1e6:.0f} MB by DynamoDB's item size), written in production's "
        "item shapes; the cells hold the",
        "deltas production adds for each ticket and survey event. Read units by DynamoDB's rules:",
        "0.5 per 4 KB of the items of each eventually consistent request page; the Scan is priced",
        "on the whole stored items even though it projects a few attributes. A production table",
        "also holds every message and event, which a Scan would read too: its cost here is a",
        "lower bound.",
        "",
        "| read | items read | requests | read units | time (s, moto) |",
        "|---|---:|---:|---:|---:|",
    ]
    for dimension, figures in result["report"].items():
        lines.append(
            f"| report by {dimension} ({figures['cells']:,} cells) | {figures['items_read']:,} "
            f"| {figures['requests']} | {figures['read_units']:g} | {figures['seconds']:.3f} |"
        )
    every = result["report_all_dimensions"]
    lines += [
        f"| report, all four dimensions | {every['items_read']:,} | | {every['read_units']:g} "
        f"| {every['seconds']:.3f} |",
        f"| Scan of the table | {scan['items_read']:,} | {scan['pages']:,} | {scan['read_units']:g} "
        f"| {scan['seconds']:.1f} |",
        "",
        f"- read units, Scan / report by channel: **{result['ratio_read_units_channel']:,.0f}x**; "
        f"Scan / all four reports: **{result['ratio_read_units_all']:,.0f}x**",
    ]
    if result["ratio_seconds_channel"]:
        lines.append(
            f"- time, Scan / report by channel: {result['ratio_seconds_channel']:,.0f}x (moto's times: "
            "its Scan sorts the whole table"
        )
        lines.append("  for every page, so only the read units carry over to DynamoDB)")

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines += [
        f"- both give the same figures for every dimension value ({result['values_compared']} "
        f"values, {result['figures_compared']:,} figures",
        "  compared; the run fails otherwise): "
        f"{total['tickets_created']:,} tickets, {total['tickets_solved']:,} solved, "
        f"{total['surveys_sent']:,} surveys sent, {total['responses']:,} answers,",
        f"  CSAT {pct(total['csat'])}%, NPS {pct(total['nps'])}, response rate "
        f"{100 * (total['response_rate'] or 0):.1f}%",
        f"- loading the table into moto took {result['load_seconds']:.0f} s",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_scale")
    parser.add_argument("--quick", action="store_true", help="a twentieth of the data")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
