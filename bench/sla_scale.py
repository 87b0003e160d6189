"""sla_timer at scale: one pass over 150,000 tickets, next to the same pass over only
the tickets that are due.

The table holds 100,000 solved tickets and 50,000 open ones, of which 200 are due; the
second table holds only those 200. Both run `SlaTimer.run` (built by
`functions.sla_timer.wiring.build`, as the deployed function is) in-process under moto,
with the table and queues created from infra/shared.yaml, at the same pass time. Every
ticket is a real item: `TicketStore`'s own `ticket_to_item`, with SLA state made by
`ticket_sla` exactly as the intake and the agent console make it (a new ticket starts
its clocks, an agent reply meets first response, a solve meets resolution), loaded
with BatchWriteItem.

What is measured, by botocore hooks on the function's own clients:

- AWS calls by operation, and DynamoDB write units (bench/aws_meter.py);
- items read and read units, priced by DynamoDB's rules from what each read returned
  (moto reports no reliable consumed capacity): a Query or Scan page costs the summed
  size of the items it read, rounded up to 4 KB, half a unit per 4 KB when eventually
  consistent (every GSI query is); a GetItem costs one unit per 4 KB when consistent
  (the timer re-reads each due ticket consistently), half otherwise; a read that finds
  nothing still costs the minimum;
- the wall time of each pass (moto's, not DynamoDB's: a moto query looks at every item
  of the table, so only the read units carry over to AWS).

A pass also runs the retention sweep (solved tickets untouched for
`retention.close_solved_after_days` are closed, at most 200 a pass). In the steady
state, with the timer running every minute, older solved tickets are already closed, so
the solved tickets of the main table were solved within those days; a third table
spreads them over 90 days, as after downtime or when retention is first switched on,
to show what the sweep adds to a pass.

Solved and not-due open tickets are built from a pool of distinct histories (2,000 by
default, each reused under other ticket and customer ids): computing 150,000 SLA
states one by one costs minutes of CPU and changes neither the items' shape and size nor
which of them the due index holds. The 200 due tickets are each computed on their own.

    python -m bench.sla_scale                # the full sizes (each load takes minutes)
    python -m bench.sla_scale --quick        # a twentieth of the tickets, the same 200 due
    python -m bench.sla_scale --no-backlog   # without the retention-backlog table
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import random
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.aws_meter import Meter, item_size

REGION = "us-east-1"
PASS_AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday afternoon in Europe
READ_BLOCK = 4096  # reads are priced per 4 KB
BATCH = 25  # BatchWriteItem's limit

# (team, language, share): the demo config's teams
TEAMS = (
    ("english", "en", 0.45),
    ("spanish", "es", 0.25),
    ("russian", "ru", 0.15),
    ("arabic", "ar", 0.15),
)
CHANNELS = (
    ("email", 0.55),
    ("chat", 0.15),
    ("messenger", 0.10),
    ("whatsapp", 0.10),
    ("telegram", 0.05),
    ("instagram", 0.05),
)
AGENTS = {
    "english": ("emma@helpline.test", "oliver@helpline.test", "layla@helpline.test"),
    "spanish": ("lucia@helpline.test", "mateo@helpline.test", "sofia@helpline.test"),
    "russian": ("ivan@helpline.test", "olga@helpline.test"),
    "arabic": ("layla@helpline.test", "omar@helpline.test"),
}
SUBJECTS = {
    "en": ("Where is my order?", "Refund for a damaged item", "Cannot log in to my account",
           "Invoice for October", "Change my delivery address"),
    "es": ("¿Dónde está mi pedido?", "Reembolso de un artículo dañado", "No puedo entrar en mi cuenta",
           "Factura de octubre", "Cambiar la dirección de entrega"),
    "ru": ("Где мой заказ?", "Возврат денег за повреждённый товар", "Не могу войти в аккаунт",
           "Счёт за октябрь", "Изменить адрес доставки"),
    "ar": ("أين طلبي؟", "استرداد ثمن منتج تالف", "لا أستطيع الدخول إلى حسابي",
           "فاتورة أكتوبر", "تغيير عنوان التوصيل"),
}  # fmt: skip
# the account a ticket was written to, per channel (the demo config's)
ACCOUNTS = {
    "email": "support@helpline.test",
    "chat": "chat",
    "messenger": "117172741761305",
    "instagram": "17841400000000001",
    "whatsapp": "1122334455667",
    "telegram": "helpline_demo_bot",
}


# -- read units, by DynamoDB's rules ----------------------------------------------------------


def page_read_units(sizes: Iterable[int], *, consistent: bool) -> float:
    """One Query or Scan request: the items it read are summed and rounded up to 4 KB
    together; half a unit per 4 KB when eventually consistent. An empty page still
    costs one block."""
    blocks = max(1, math.ceil(sum(sizes) / READ_BLOCK))
    return blocks * (1.0 if consistent else 0.5)


def item_read_units(size: int | None, *, consistent: bool) -> float:
    """One GetItem (or one item of a BatchGetItem): rounded up to 4 KB on its own; a
    key that finds nothing costs the minimum."""
    blocks = max(1, math.ceil((size or 0) / READ_BLOCK))
    return blocks * (1.0 if consistent else 0.5)


@dataclass
class ReadMeter:
    """Items read, read units and requests per DynamoDB read operation (a Query or
    Scan labelled with the index it read: "Query SlaDue", "Scan table").

    `full_size` gives the stored size of a returned item; by default the item's own
    size, which is right unless the request projected attributes (a Scan or Query is
    priced on the whole items it read, whatever it returns).
    """

    full_size: Callable[[dict[str, Any]], int] = item_size
    items: Counter[str] = field(default_factory=Counter)
    units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    requests: Counter[str] = field(default_factory=Counter)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    @staticmethod
    def _before(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        # the response does not say how it was read: keep what the request asked for
        context["bench_consistent"] = bool(params.get("ConsistentRead", False))
        context["bench_index"] = params.get("IndexName")
        context["bench_batch_consistent"] = {
            table: bool(spec.get("ConsistentRead", False))
            for table, spec in (params.get("RequestItems") or {}).items()
            if isinstance(spec, Mapping)
        }

    def _after(
        self, parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any], **_: Any
    ) -> None:
        operation = model.name
        if "Error" in parsed:
            return
        consistent = bool(context.get("bench_consistent"))
        if operation in ("Query", "Scan"):
            found = parsed.get("Items", [])
            label = f"{operation} {context.get('bench_index') or 'table'}"
            self.requests[label] += 1
            self.items[label] += len(found)
            self.units[label] += page_read_units(
                (self.full_size(item) for item in found), consistent=consistent
            )
        elif operation == "GetItem":
            item = parsed.get("Item")
            self.requests[operation] += 1
            self.items[operation] += 1 if item else 0
            self.units[operation] += item_read_units(
                self.full_size(item) if item else None, consistent=consistent
            )
        elif operation == "BatchGetItem":
            self.requests[operation] += 1
            per_table = context.get("bench_batch_consistent", {})
            for table, found in (parsed.get("Responses") or {}).items():
                for item in found:
                    self.items[operation] += 1
                    self.units[operation] += item_read_units(
                        self.full_size(item), consistent=per_table.get(table, False)
                    )

    @property
    def total_units(self) -> float:
        return float(sum(self.units.values()))

    @property
    def total_items(self) -> int:
        return sum(self.items.values())

    def reset(self) -> None:
        self.items.clear()
        self.units.clear()
        self.requests.clear()


# -- a moto stack like the functional tests' -------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    session: Any
    resources: Any  # infra.local.resources.SharedResources

    @property
    def table(self) -> str:
        return str(self.resources.table)

    def loader(self) -> Any:
        """A DynamoDB client of its own: loading is not part of what is measured."""
        return self.session.client("dynamodb")


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


@contextlib.contextmanager
def moto_stack(config_path: Path | None = None) -> Iterator[Stack]:
    """A fresh in-process AWS (moto) with the shared stack from infra/shared.yaml and the
    functions' environment, as tests/functional/conftest.py builds it. The process
    environment is restored afterwards."""
    import boto3
    from moto import mock_aws

    from functions.core import aws as aws_clients
    from infra.local import moto_patches
    from infra.local.resources import DEMO_CONFIG, create_shared_stack, verify_sender_domain

    saved = dict(os.environ)
    logging.getLogger("moto").setLevel(logging.ERROR)
    try:
        for name in list(os.environ):
            if name.startswith(("AWS_ENDPOINT_URL", "HELPLINE_")):
                del os.environ[name]
        os.environ.update(_AWS_ENV)
        moto_patches.install()  # DynamoDB's atomicity, and transactions that do not copy the table
        with warnings.catch_warnings(), mock_aws():
            warnings.simplefilter("ignore")
            session = boto3.session.Session(region_name=REGION)
            resources = create_shared_stack(session, stage="bench")
            verify_sender_domain(session, "helpline.test")
            os.environ.update(resources.environment(config_path=config_path or DEMO_CONFIG))
            aws_clients.reset_clients()
            try:
                yield Stack(session, resources)
            finally:
                aws_clients.reset_clients()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def batch_write(client: Any, table: str, items: Iterable[Mapping[str, Any]]) -> int:
    """Write DynamoDB-typed items 25 at a time, retrying what comes back unprocessed.
    Returns how many were written."""
    written = 0
    chunk: list[Mapping[str, Any]] = []

    def flush() -> None:
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        for _ in range(20):
            response = client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(0.05)
        raise RuntimeError(f"BatchWriteItem kept {len(request[table])} items unprocessed")

    for item in items:
        chunk.append(item)
        if len(chunk) == BATCH:
            flush()
            written += len(chunk)
            chunk = []
    if chunk:
        flush()
        written += len(chunk)
    return written


# -- tickets in production's shape ------------------------------------------------------------------


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(weighted, weights=[row[-1] for row in weighted])[0]


def ticket_id(kind: str, n: int) -> str:
    """A valid ticket id (10 Crockford base32 characters), the same on every run."""
    from functions.core import ids

    return ids.stable_id("bench", kind, str(n), length=ids.TICKET_ID_LENGTH)


def customer_id(n: int) -> str:
    from functions.core import ids

    return "C" + ids.stable_id("bench-customer", str(n), length=12)


IDENTITY_KINDS = {
    "email": "email",
    "chat": "email",  # a chat customer who left an address
    "messenger": "psid",
    "instagram": "igsid",
    "whatsapp": "wa_id",
    "telegram": "telegram",
}


def _participant(channel: str, customer: str) -> str:
    kind = IDENTITY_KINDS[channel]
    if kind == "email":
        return f"email:{customer.lower()}@customer.example"
    return f"{kind}:{int.from_bytes(customer.encode(), 'big') % 10**15}"


def new_ticket(rng: random.Random, ident: str, customer: str, created: datetime) -> Any:
    """A ticket as the intake writes it (status new), before its SLA starts."""
    from functions.core.models import Channel, Ticket, TicketStatus

    team, language, _ = _pick(rng, TEAMS)
    channel = _pick(rng, CHANNELS)[0]
    participant = _participant(channel, customer)
    return Ticket(
        id=ident,
        channel=Channel(channel),
        subject=rng.choice(SUBJECTS[language]),
        customer_id=customer,
        status=TicketStatus.NEW,
        priority="high" if rng.random() < 0.05 else "normal",
        language=language,
        queue=team,
        participants=[participant],
        account=ACCOUNTS[channel],
        conversation_key=None if channel == "email" else f"{ACCOUNTS[channel]}:{participant}",
        created_at=created,
        updated_at=created,
        last_inbound_at=created,
        message_count=1,
    )


def start_clocks(config: Any, ticket: Any, at: datetime) -> None:
    from functions.core import ticket_sla

    ticket_sla.on_new_ticket(config, ticket, customer_tags=[], at=at)


def agent_reply(config: Any, ticket: Any, at: datetime, agent: str) -> None:
    """What TicketService.reply changes on the ticket."""
    from functions.core import ticket_sla
    from functions.core.models import TicketStatus

    ticket.message_count += 1
    ticket.last_outbound_at = at
    if ticket.first_response_at is None:
        ticket.first_response_at = at
    ticket_sla.on_agent_reply(config, ticket, at=at)
    ticket.agent = agent
    if ticket.status is TicketStatus.NEW:
        ticket.status = TicketStatus.OPEN
        ticket_sla.on_status(config, ticket, old="new", new="open", at=at)
    ticket.updated_at = at
    ticket.version += 1


def customer_message(config: Any, ticket: Any, at: datetime) -> None:
    """What the intake changes on a follow-up from the customer."""
    from functions.core import ticket_sla

    ticket.message_count += 1
    ticket.last_inbound_at = at
    ticket_sla.on_customer_message(config, ticket, at=at)
    ticket.updated_at = at
    ticket.version += 1


def solve(config: Any, ticket: Any, at: datetime, agent: str) -> None:
    """What TicketService.set_status(SOLVED) changes on the ticket."""
    from functions.core import ticket_sla
    from functions.core.models import TicketStatus

    previous = ticket.status
    ticket.status = TicketStatus.SOLVED
    ticket.solved_at = at
    ticket.solved_by = agent
    ticket_sla.on_status(config, ticket, old=previous.value, new="solved", at=at)
    ticket.updated_at = at
    ticket.version += 1


def first_response_due(ticket: Any) -> datetime | None:
    from functions.core import sla

    state = sla.SlaState.from_dict(ticket.sla)
    clock = state.clock(sla.FIRST_RESPONSE)
    return clock.due_at if clock else None


def lifecycle(
    config: Any,
    rng: random.Random,
    ident: str,
    customer: str,
    *,
    created: datetime,
    answered: datetime | None,
    solved: datetime | None,
    now: datetime,
) -> Any:
    """A ticket created at `created`, answered and solved at those moments if they are
    not after `now`, with the SLA state production computes along the way."""
    ticket = new_ticket(rng, ident, customer, created)
    start_clocks(config, ticket, created)
    agent = rng.choice(AGENTS[ticket.queue])
    if answered is not None and answered <= now:
        agent_reply(config, ticket, answered, agent)
        if solved is not None and solved <= now:
            solve(config, ticket, solved, agent)
    return ticket


def answer_delay(rng: random.Random) -> timedelta:
    return timedelta(minutes=rng.lognormvariate(4.0, 1.2))  # median about an hour


def solve_delay(rng: random.Random) -> timedelta:
    return timedelta(hours=rng.lognormvariate(2.5, 1.0))  # median about 12 hours


def solved_history(
    config: Any, rng: random.Random, n: int, *, now: datetime, within: timedelta
) -> Any:
    """A ticket answered, then solved at some moment in `within` before `now`."""
    solved = now - within * rng.random()
    answered = solved - solve_delay(rng)
    created = answered - answer_delay(rng)
    return lifecycle(
        config,
        rng,
        ticket_id("solved", n),
        customer_id(n),
        created=created,
        answered=answered,
        solved=solved,
        now=now,
    )


def open_history(config: Any, rng: random.Random, n: int, *, now: datetime) -> Any:
    """An open ticket whose next SLA moment is still ahead of `now`: answered with the
    resolution clock running (70%), answered and written to again, so a next response
    is owed (15%), or new with its first response not yet late (15%)."""
    for _ in range(1000):
        roll = rng.random()
        if roll < 0.85:
            created = now - timedelta(hours=rng.uniform(0.5, 40 if roll < 0.7 else 30))
        else:
            created = now - timedelta(minutes=rng.uniform(0, 30))
        ticket = new_ticket(rng, ticket_id("open", n), customer_id(100_000_000 + n), created)
        start_clocks(config, ticket, created)
        if roll < 0.85:
            answered = created + timedelta(minutes=rng.uniform(5, 25))
            agent_reply(config, ticket, answered, rng.choice(AGENTS[ticket.queue]))
            if roll >= 0.7:
                customer_message(config, ticket, answered + timedelta(minutes=rng.uniform(10, 60)))
        late = ticket.sla_due is None or ticket.sla_due <= now
        if not late and max(ticket.updated_at, ticket.last_inbound_at) <= now:
            return ticket
    raise RuntimeError("could not draw an open ticket that is not due")


def due_ticket(config: Any, rng: random.Random, n: int, *, now: datetime) -> Any:
    """A ticket nobody answered whose first-response deadline passed before `now`."""
    for _ in range(1000):
        created = now - timedelta(hours=rng.uniform(2, 72))
        ticket = new_ticket(rng, ticket_id("due", n), customer_id(200_000_000 + n), created)
        start_clocks(config, ticket, created)
        deadline = first_response_due(ticket)
        if deadline is not None and deadline < now and ticket.sla_due is not None:
            return ticket
    raise RuntimeError("could not draw a due ticket")


@dataclass(frozen=True)
class Population:
    solved: int
    open_tickets: int  # due ones included
    due: int
    solved_within: timedelta = timedelta(days=7)  # how long ago the solved ones were solved

    def __post_init__(self) -> None:
        if min(self.solved, self.open_tickets, self.due) < 0 or self.due > self.open_tickets:
            raise ValueError("counts are >= 0 and the due tickets are among the open ones")

    @property
    def total(self) -> int:
        return self.solved + self.open_tickets


def reuse(template: Any, ident: str, customer: str) -> Any:
    """A history from the pool under another ticket and customer."""
    participant = _participant(template.channel.value, customer)
    return replace(
        template,
        id=ident,
        customer_id=customer,
        participants=[participant],
        conversation_key=None
        if template.conversation_key is None
        else f"{template.account}:{participant}",
        tags=list(template.tags),
        escalations=list(template.escalations),
    )


def generate(
    config: Any,
    population: Population,
    *,
    now: datetime = PASS_AT,
    distinct: int = 2000,
    seed: int = 5,
) -> Iterator[Any]:
    """Every ticket of the population (due ones first), as Ticket objects."""
    rng = random.Random(seed)
    for n in range(population.due):
        yield due_ticket(config, rng, n, now=now)
    not_due = population.open_tickets - population.due
    pool = [open_history(config, rng, n, now=now) for n in range(min(distinct, not_due))]
    for n in range(not_due):
        yield reuse(pool[n % len(pool)], ticket_id("open", n), customer_id(100_000_000 + n))
    pool = [
        solved_history(config, rng, n, now=now, within=population.solved_within)
        for n in range(min(distinct, population.solved))
    ]
    for n in range(population.solved):
        yield reuse(pool[n % len(pool)], ticket_id("solved", n), customer_id(n))


def ticket_items(tickets: Iterable[Any]) -> Iterator[dict[str, Any]]:
    from functions.core.store import serialize, ticket_to_item

    for ticket in tickets:
        yield serialize(ticket_to_item(ticket))


# -- one pass, measured ----------------------------------------------------------------------------------


def _measure_pass(
    config: Any,
    population: Population,
    *,
    now: datetime,
    distinct: int,
    seed: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from functions.core import aws as aws_clients
    from functions.core import wiring
    from functions.sla_timer import wiring as sla_wiring

    with moto_stack() as stack:
        due_ids: set[str] = set()
        indexed = 0

        def watched(tickets: Iterable[Any]) -> Iterator[Any]:
            nonlocal indexed
            for ticket in tickets:
                if ticket.sla_due is not None:
                    indexed += 1
                    if ticket.sla_due <= now:
                        due_ids.add(ticket.id)
                yield ticket

        started = time.perf_counter()
        tickets = generate(config, population, now=now, distinct=distinct, seed=seed)
        written = batch_write(stack.loader(), stack.table, ticket_items(watched(tickets)))
        load_seconds = time.perf_counter() - started
        if written != population.total or len(due_ids) != population.due:
            raise AssertionError(
                f"loaded {written} tickets of which {len(due_ids)} due; "
                f"wanted {population.total} and {population.due}"
            )
        progress(f"  loaded {written:,} tickets in {load_seconds:.0f} s; running the pass ...")

        components = wiring.build(wiring.Settings.from_env(), config=config)
        timer = sla_wiring.build(components)
        crossings: Counter[str] = Counter()
        timer.metric = lambda name, **_: crossings.update([name])
        calls, reads = Meter(), ReadMeter()
        calls.attach(aws_clients.client(s) for s in ("dynamodb", "sqs", "sesv2"))
        reads.attach(aws_clients.client("dynamodb"))
        started = time.perf_counter()
        report = timer.run(now=now)
        pass_seconds = time.perf_counter() - started
        calls.settle(stack.loader())
        if report.failed or report.read != population.due or report.escalated != population.due:
            raise AssertionError(
                f"the pass read {report.read}, escalated {report.escalated} and failed on "
                f"{len(report.failed)} tickets; {population.due} were due"
            )
        return {
            "tickets": written,
            "solved": population.solved,
            "open": population.open_tickets,
            "due": population.due,
            "in_due_index": indexed,
            "load_seconds": round(load_seconds, 1),
            "pass_seconds": round(pass_seconds, 2),
            "tickets_read": report.read,
            "escalated": report.escalated,
            "published": report.published,
            "closed": report.closed,
            "crossings": dict(sorted(crossings.items())),
            "items_read": dict(sorted(reads.items.items())),
            "read_units": {op: float(units) for op, units in sorted(reads.units.items())},
            "read_requests": dict(sorted(reads.requests.items())),
            "total_items_read": reads.total_items,
            "total_read_units": reads.total_units,
            "write_units": calls.write_units,
            "calls": calls.total_calls,
            "by_operation": dict(sorted(calls.calls.items())),
        }


def run(
    *,
    solved: int = 100_000,
    open_tickets: int = 50_000,
    due: int = 200,
    quick: bool = False,
    backlog: bool = True,
    distinct: int = 2000,
    seed: int = 5,
    now: datetime = PASS_AT,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure one pass over the whole population, then one over only the due tickets,
    and (with `backlog`) one over the whole population again with its solved tickets
    spread over 90 days, so the pass's retention sweep finds tickets to close.
    `quick` keeps the due tickets and a twentieth of the rest."""
    from functions.core.config import load_config
    from infra.local.resources import DEMO_CONFIG

    say = progress or (lambda _: None)
    if quick:
        solved, open_tickets = solved // 20, due + (open_tickets - due) // 20
    config = load_config(str(DEMO_CONFIG))
    # steady state: the timer closes what was solved longer ago than this (retention)
    window = timedelta(days=config.retention.close_solved_after_days)
    populations = {
        "whole table": Population(solved, open_tickets, due, window),
        "due tickets only": Population(0, due, due, window),
    }
    if backlog:
        populations["whole table, retention backlog"] = Population(
            solved, open_tickets, due, timedelta(days=90)
        )
    scenarios = {}
    for name, population in populations.items():
        say(f"sla_timer: one pass, {name}: {population.total:,} tickets, {due} due ...")
        scenarios[name] = _measure_pass(
            config, population, now=now, distinct=distinct, seed=seed, progress=say
        )
        scenarios[name]["solved_within_days"] = population.solved_within.days
    big, small = scenarios["whole table"], scenarios["due tickets only"]
    command = "python -m bench.sla_scale" + (" --quick" if quick else "")
    command += "" if backlog else " --no-backlog"
    return {
        "command": command,
        "pass_at": now.isoformat(),
        "distinct_histories": distinct,
        "close_solved_after_days": config.retention.close_solved_after_days,
        "scenarios": scenarios,
        "ratio_read_units": big["total_read_units"] / small["total_read_units"],
        "ratio_items_read": big["total_items_read"] / small["total_items_read"],
        "ratio_pass_seconds": big["pass_seconds"] / small["pass_seconds"],
        "ratios_to_due_only": {
            name: s["total_read_units"] / small["total_read_units"] for name, s in scenarios.items()
        },
    }


def _breakdown(figures: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{label} {figures['items_read'].get(label, 0):,} ({units:g})"
        for label, units in figures["read_units"].items()
    )


def markdown(result: Mapping[str, Any]) -> str:
    scenarios: Mapping[str, Mapping[str, Any]] = result["scenarios"]
    big = scenarios["whole table"]
    ratio = result["ratio_read_units"]
    days = result["close_solved_after_days"]
    lines = [
        f"## sla_timer: one pass over {big['tickets']:,} tickets",
        "",
        f"`SlaTimer.run` at {result['pass_at']} under moto (in-process), table and queues from",
        "infra/shared.yaml (`bench/sla_scale.py`). The whole table holds "
        f"{big['solved']:,} solved and {big['open']:,}",
        f"open tickets, {big['due']} of them due (first-response deadline before the pass); the "
        f"small one only those {big['due']}.",
        "Items are `ticket_to_item` with SLA state from `ticket_sla`, loaded with BatchWriteItem;",
        f"solved and not-due tickets reuse {result['distinct_histories']:,} distinct computed "
        "histories under their own ids.",
        f"A pass also closes solved tickets older than {days} days (`retention`, at most 200 a pass):",
        f"in the steady state the solved tickets were solved within those {days} days (older ones",
        "are already closed); the backlog row spreads them over 90 days.",
        "Read units are priced from the items each read returned, by DynamoDB's rules (a Query",
        "on a GSI is eventually consistent: 0.5 per 4 KB of the items of a request page; a",
        "consistent GetItem: 1 per 4 KB), because moto reports no reliable consumed capacity.",
        "",
        "| table | tickets | in due index | solved within | items read | read units "
        "| write units | AWS calls | pass (s, moto) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in scenarios.items():
        lines.append(
            f"| {name} | {s['tickets']:,} | {s['in_due_index']:,} | {s['solved_within_days']} days "
            f"| {s['total_items_read']:,} | {s['total_read_units']:g} | {s['write_units']:,} "
            f"| {s['calls']:,} | {s['pass_seconds']:.1f} |"
        )
    verdict = "met" if ratio < 2 else "NOT met"
    lines += [
        "",
        f"- read units, whole table / due tickets only: **{ratio:.3f}x** (aim: under 2; {verdict})",
        f"- items read, whole table / due tickets only: **{result['ratio_items_read']:.3f}x**",
    ]
    for name, other in result["ratios_to_due_only"].items():
        if name not in ("whole table", "due tickets only"):
            lines.append(f"- read units, {name} / due tickets only: **{other:.3f}x**")
    lines += [
        f"- pass wall time, whole table / due tickets only: {result['ratio_pass_seconds']:.2f}x "
        "(moto's: it answers an index",
        "  query by looking at every item of the table; DynamoDB reads only the key range)",
        f"- loading the whole table into moto took {big['load_seconds']:.0f} s",
        "",
        "| table | reads: items (read units) | AWS calls by operation | crossings | closed |",
        "|---|---|---|---|---:|",
    ]
    for name, s in scenarios.items():
        ops = ", ".join(f"{op} {n:,}" for op, n in s["by_operation"].items())
        crossed = ", ".join(f"{kind} {n}" for kind, n in s["crossings"].items())
        lines.append(f"| {name} | {_breakdown(s)} | {ops} | {crossed} | {s['closed']} |")
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sla_scale")
    parser.add_argument("--quick", action="store_true", help="a twentieth of the tickets")
    parser.add_argument(
        "--no-backlog", action="store_true", help="skip the pass with a retention backlog"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        backlog=not args.no_backlog,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
