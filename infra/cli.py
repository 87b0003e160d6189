"""The `helpline` command: run the local stack, look at tickets, reply, replay.

Commands other than `dev` find the running local stack through `.helpline/dev.json`
(or `--state-dir`) and talk to its embedded AWS with the same core services the
functions use; with `--stage NAME` they talk to that deployed stage instead
(infra/stage.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from infra.local.state import DEFAULT_STATE_DIR


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


class StageOnlyLocalError(RuntimeError):
    """A command that only the local stack can answer, asked of a deployed stage."""


def _print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


class Connection:
    """The services of a running local stack, or of a deployed stage, built lazily."""

    def __init__(self, args: argparse.Namespace) -> None:
        from functions.core import aws as aws_clients
        from functions.core import telemetry, wiring
        from infra.local.state import local_aws_environment, read_state

        telemetry.log_to(telemetry.STDERR)  # standard output is the command's answer
        self.state: Any
        if getattr(args, "stage", None):
            from infra.deploy.deploy import stage_config_path
            from infra.stage import read_stage

            self.state = read_stage(
                args.stage,
                region=args.region,
                config_path=stage_config_path(args.stage, args.stage_config),
            )
            if self.state.region:
                os.environ.update(
                    AWS_REGION=self.state.region, AWS_DEFAULT_REGION=self.state.region
                )
        else:
            self.state = read_state(args.state_dir)
            os.environ.update(local_aws_environment(self.state.aws_endpoint, self.state.region))
        os.environ.update(self.state.environment)
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        aws_clients.reset_clients()
        self.components = wiring.build(wiring.Settings.from_env())

    @property
    def tickets(self) -> Any:
        from functions.core.tickets import TicketService

        c = self.components
        return TicketService(config=c.config, store=c.store, senders=c.senders, renderer=c.renderer)

    @property
    def admin(self) -> Any:
        from functions.core import aws as aws_clients
        from functions.email_ingest.service import EmailIngestService
        from infra.admin import Admin

        c = self.components
        email = EmailIngestService(config=c.config, intake=c.intake, blobs=c.blobs)
        from functions.social_dm import wiring as social_wiring
        from functions.survey import wiring as survey_wiring

        return Admin(
            store=c.store,
            email=email,
            sqs_client=aws_clients.client("sqs"),
            mail_dlq_url=self.state.resources.get("mail_dlq_url"),
            social=social_wiring.build(c),
            survey=survey_wiring.build(c) if c.config.surveys.enabled else None,
            stream_dlq_url=self.state.resources.get("stream_dlq_url") or None,
            blobs=c.blobs,
        )

    def http_get(self, path: str) -> Any:
        import urllib.request

        if self.state.http_url is None:
            raise StageOnlyLocalError(
                f"{path} is the local stack's; a deployed stage sends to the real platforms"
            )
        with urllib.request.urlopen(self.state.http_url + path, timeout=10) as response:
            return json.loads(response.read().decode("utf-8"))


# -- commands ----------------------------------------------------------------------------------


def cmd_dev(args: argparse.Namespace) -> int:
    from infra.local.stack import DevOptions, DevStack

    options = DevOptions(
        aws_port=args.aws_port,
        http_port=args.http_port,
        smtp_port=args.smtp_port,
        config_path=Path(args.config).resolve() if args.config else DevOptions.config_path,
        state_dir=Path(args.state_dir),
        verbose=args.verbose,
        faults=args.fault or [],
    )
    if options.faults:
        from infra.local.lambda_runtime.faults import FaultInjector

        try:
            FaultInjector.parse(options.faults)
        except ValueError as exc:
            print(f"helpline dev: {exc}", file=sys.stderr)
            return 2
    return DevStack(options).run()


def cmd_tickets_list(args: argparse.Namespace) -> int:
    from functions.core.models import TicketStatus

    connection = Connection(args)
    statuses = [TicketStatus(s) for s in args.status] if args.status else None
    tickets = connection.components.store.list_tickets(statuses, limit=args.limit)
    if args.json:
        _print_json(tickets)
        return 0
    if not tickets:
        print("no tickets")
        return 0
    print(
        f"{'ID':<11} {'STATUS':<8} {'LANG':<5} {'QUEUE':<9} {'CHANNEL':<9} {'UPDATED':<20} SUBJECT"
    )
    for t in tickets:
        updated = t.updated_at.strftime("%Y-%m-%d %H:%M:%S") if t.updated_at else ""
        print(
            f"{t.id:<11} {t.status.value:<8} {t.language or '':<5} {t.queue or '':<9} "
            f"{t.channel.value:<9} {updated:<20} {t.subject[:60]}"
        )
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from functions.core.errors import NotFoundError

    connection = Connection(args)
    service = connection.tickets
    try:
        bundle = service.bundle(args.ticket_id)
    except NotFoundError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    customer = service.customer(bundle.ticket.customer_id)
    targets = _sla_rows(connection, bundle.ticket)
    if args.json:
        _print_json(
            {
                "ticket": bundle.ticket,
                "customer": _customer_json(customer),
                "sla": targets,
                "messages": bundle.messages,
                "events": bundle.events,
            }
        )
        return 0
    t = bundle.ticket
    print(f"[#{t.id}] {t.subject}")
    print(
        f"status {t.status.value} · queue {t.queue} · language {t.language} · priority {t.priority} · "
        f"channel {t.channel.value}"
    )
    if customer:
        print(
            f"customer {customer.name or '(no name)'} <{', '.join(str(i) for i in customer.identities)}>"
        )
    if t.tags:
        print(f"tags {', '.join(t.tags)}")
    for row in targets:
        due = row["due_local"] or "paused"
        left = _duration(row["remaining_seconds"])
        kind = "working time" if row["business"] else "elapsed"
        print(
            f"sla {row['target']:<15} {row['status']:<9} due {due:<32} "
            f"{'left' if row['remaining_seconds'] >= 0 else 'over'} {left} ({kind})"
        )
    for m in bundle.messages:
        flags = (
            [m.direction.value]
            + (["automatic"] if m.automatic else [])
            + ([m.kind] if m.kind != "message" else [])
        )
        delivery = (
            f" [{m.delivery.value}{': ' + m.delivery_detail if m.delivery_detail else ''}]"
            if m.delivery
            else ""
        )
        print(
            f"\n--- {' · '.join(flags)} · {m.created_at:%Y-%m-%d %H:%M:%S} · {m.sender} -> "
            f"{', '.join(m.recipients)}{delivery}"
        )
        if m.subject:
            print(f"Subject: {m.subject}")
        print(m.text.rstrip())
    print("\nevents:")
    for e in bundle.events:
        print(
            f"  {e.at:%Y-%m-%d %H:%M:%S} {e.type} {json.dumps(e.detail, ensure_ascii=False) if e.detail else ''}"
        )
    return 0


def _sla_rows(connection: Connection, ticket: Any) -> list[dict[str, Any]]:
    from functions.core import ticket_sla
    from functions.core.timeutil import utcnow

    rows = []
    for view in ticket_sla.report(connection.components.config, ticket, now=utcnow()):
        rows.append(
            {
                "target": view.target,
                "status": view.status,
                "business": view.business,
                "due_at": view.due_at.isoformat() if view.due_at else None,
                "timezone": str(view.due_at.tzinfo) if view.due_at else None,
                "due_local": view.due_at.strftime("%a %Y-%m-%d %H:%M %Z") if view.due_at else None,
                "remaining_seconds": int(view.remaining.total_seconds()),
                "paused_seconds": int(view.paused.total_seconds()),
                "met_at": view.met_at.isoformat() if view.met_at else None,
            }
        )
    return rows


def _duration(seconds: int) -> str:
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m"


def cmd_queues(args: argparse.Namespace) -> int:
    """The routing and escalation queues: how many messages wait in each (and its DLQ)."""
    from functions.core import aws as aws_clients

    connection = Connection(args)
    sqs = aws_clients.client("sqs")
    rows = []
    for name, url in sorted(connection.components.publisher.queue_urls.items()):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "RedrivePolicy",
            ],
        )["Attributes"]
        dlq_count = None
        if "RedrivePolicy" in attributes:
            dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
            dlq_url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[1])["QueueUrl"]
            dlq_count = int(
                sqs.get_queue_attributes(
                    QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
        rows.append(
            {
                "queue": name,
                "waiting": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
                "dead_letters": dlq_count,
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'QUEUE':<12} {'WAITING':>8} {'IN FLIGHT':>10} {'DEAD LETTERS':>13}")
    for row in rows:
        print(
            f"{row['queue']:<12} {row['waiting']:>8} {row['in_flight']:>10} {row['dead_letters'] or 0:>13}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """CSAT, NPS, response rate, first response and resolution times, volumes: read
    from the pre-computed report cells (one Query per dimension), never from tickets."""
    from datetime import date, timedelta

    from functions.core import reports
    from functions.core.surveystore import SurveyStore
    from functions.core.timeutil import utcnow

    try:
        last = date.fromisoformat(args.to) if args.to else utcnow().date()
        first = date.fromisoformat(args.first) if args.first else last - timedelta(days=29)
    except ValueError as exc:
        print(f"helpline: {exc}; dates are like 2026-11-24", file=sys.stderr)
        return 2
    if first > last:
        print("helpline: --from is after --to", file=sys.stderr)
        return 2
    connection = Connection(args)
    store = SurveyStore(connection.components.store.table_name, connection.components.store.client)
    cells = store.cells(args.by, first.isoformat(), last.isoformat())
    report = reports.build_report(
        cells,
        by=args.by,
        granularity=args.granularity,
        periods=reports.period_keys(first, last, args.granularity),
    )
    if args.html:
        from functions.survey.report_html import render_report_html

        config = connection.components.config
        html = render_report_html(
            report,
            title=f"Support report {first} to {last}, by {args.by}",
            generated_at=utcnow(),
            brand_name=config.brand.name,
        )
        Path(args.html).write_text(html, encoding="utf-8")
        print(f"wrote {args.html} ({len(html.encode()) // 1024} KB)", file=sys.stderr)
    if args.json:
        print(report.to_json())
        return 0
    if args.html:
        return 0
    data = report.to_dict()
    print(f"{first} to {last}, by {args.by}")
    print(_metrics_line("all", data["total"]))
    for row in data["by_value"]:
        print(_metrics_line(row["value"], row))
    return 0


def _metrics_line(name: str, metrics: dict[str, Any]) -> str:
    def pct(value: Any) -> str:
        return "-" if value is None else f"{value:.0f}%"

    def hours(block: dict[str, Any]) -> str:
        business = block["business"]
        if business["p50"] is None:
            return "-"
        return f"{business['p50']:.1f}h/{business['p90']:.1f}h"

    nps = "-" if metrics["nps"] is None else f"{metrics['nps']:+.0f}"
    rate = None if metrics["response_rate"] is None else metrics["response_rate"] * 100
    return (
        f"  {name[:22]:<22} tickets {metrics['tickets_created']:>5}  solved {metrics['tickets_solved']:>5}"
        f"  CSAT {pct(metrics['csat']):>5}  NPS {nps:>5}  answered {pct(rate):>5}"
        f"  first response p50/p90 {hours(metrics['first_response_hours']):>11}"
        f"  resolution {hours(metrics['resolution_hours']):>11}"
    )


def cmd_sla_tick(args: argparse.Namespace) -> int:
    from functions.core.timeutil import from_iso, utcnow
    from functions.sla_timer import wiring as sla_wiring

    connection = Connection(args)
    try:
        at = from_iso(args.at) if args.at else utcnow()
    except ValueError:
        print(
            f"helpline: --at {args.at!r} is not an ISO time like 2026-11-30T11:00:00+01:00",
            file=sys.stderr,
        )
        return 2
    timer = sla_wiring.build(connection.components)
    timer.clock = lambda: at
    timer.metric = lambda name, **dimensions: None  # a command prints; it emits no EMF
    report = timer.run(now=at)
    if args.json:
        _print_json(report)
        return 0
    print(
        f"SLA pass at {at.isoformat()}: {report.read} due, {report.escalated} escalated, "
        f"{report.published} escalations published"
    )
    for crossing in report.crossings:
        print(
            f"  {crossing['ticket']} {crossing['kind']} of {crossing['target']} "
            f"(policy {crossing['policy']}, team {crossing['team']}, due {crossing['due_at']})"
        )
    return 1 if report.failed else 0


def _customer_json(customer: Any) -> Any:
    if customer is None:
        return None
    data = to_jsonable(customer)
    data["identities"] = [str(i) for i in customer.identities]
    return data


def cmd_tickets_reply(args: argparse.Namespace) -> int:
    from functions.core.errors import NotFoundError, RejectedInput

    connection = Connection(args)
    try:
        result = connection.tickets.reply(args.ticket_id, args.text, agent=args.agent)
    except (NotFoundError, RejectedInput) as exc:
        print(f"helpline: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(result)
    elif result.delivery == "sent":
        print(f"sent reply {result.message_id} on ticket {result.ticket_id}")
    else:
        print(
            f"reply {result.message_id} on ticket {result.ticket_id} was {result.delivery}: {result.detail}"
        )
    return 0 if result.delivery == "sent" else 2


def cmd_tickets_resolve(args: argparse.Namespace) -> int:
    from functions.core.errors import NotFoundError

    connection = Connection(args)
    try:
        ticket = connection.tickets.resolve(args.ticket_id, actor=args.agent)
    except NotFoundError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    print(f"ticket {ticket.id} is {ticket.status.value}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    connection = Connection(args)
    entries = connection.http_get("/api/outbox")
    if args.json:
        _print_json(entries)
        return 0
    if not entries:
        print("nothing sent yet")
    for entry in entries:
        print(f"--- {entry['channel']} to {', '.join(entry['to'])}: {entry.get('subject', '')}")
        print(entry.get("text", "").rstrip())
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    connection = Connection(args)
    entries = connection.admin.entries()
    if args.json:
        _print_json(entries)
        return 0
    if not entries:
        print("nothing in quarantine")
    for entry in entries:
        print(
            f"{entry['id']:<16} {entry['source']:<11} {entry['reason']:<18} {entry['detail'][:80]}"
        )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    connection = Connection(args)
    try:
        result = connection.admin.replay(args.entry_id)
    except LookupError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(result)
        return 0
    for outcome in result["outcomes"]:
        where = f" ticket {outcome['ticket_id']}" if outcome.get("ticket_id") else ""
        reason = f" ({outcome['reason']})" if outcome.get("reason") else ""
        print(f"{args.entry_id}: {outcome['status']}{where}{reason}")
    return 0


def _customers(connection: Connection) -> Any:
    from functions.core.customers import CustomerService

    c = connection.components
    return CustomerService(store=c.store, blobs=c.blobs)


def cmd_customers_find(args: argparse.Namespace) -> int:
    from functions.core.models import Identity

    connection = Connection(args)
    kind, _, value = args.identity.partition(":")
    if not value:
        print("helpline: give an identity like email:ana@example.com or psid:123", file=sys.stderr)
        return 2
    identity = Identity.email(value) if kind == "email" else Identity(kind, value)
    customer_id = connection.components.store.find_customer_id(identity)
    if customer_id is None:
        print(f"helpline: nobody is known as {identity}", file=sys.stderr)
        return 1
    customer = connection.tickets.customer(customer_id)
    tickets = connection.components.store.customer_tickets(customer_id)
    if args.json:
        _print_json({"customer": _customer_json(customer), "tickets": tickets})
        return 0
    identities = ", ".join(str(i) for i in customer.identities) if customer else ""
    print(f"{customer_id} {customer.name if customer else ''} <{identities}>")
    for t in tickets:
        print(f"  {t.id} {t.status.value:<7} {t.channel.value:<9} {t.subject[:60]}")
    return 0


def cmd_customers_merge(args: argparse.Namespace) -> int:
    from functions.core.errors import NotFoundError, RejectedInput

    connection = Connection(args)
    try:
        result = _customers(connection).merge(args.keep, args.other)
    except (NotFoundError, RejectedInput) as exc:
        print(f"helpline: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(result)
        return 0
    if result.already:
        print(f"{args.other} was already merged into {args.keep}")
    else:
        print(
            f"merged {args.other} into {args.keep}: identities {', '.join(result.identities) or 'none'}; "
            f"{len(result.tickets)} tickets moved"
        )
    return 0


def cmd_customers_export(args: argparse.Namespace) -> int:
    connection = Connection(args)
    exported = _customers(connection).export(args.customer_id)
    text = json.dumps(to_jsonable(exported), indent=2, ensure_ascii=False, default=str)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(
            f"wrote {args.out}: {len(exported['records'])} records, {len(exported['tickets'])} tickets, "
            f"{len(exported['objects'])} stored objects",
            file=sys.stderr,
        )
    else:
        print(text)
    return 0


def cmd_customers_erase(args: argparse.Namespace) -> int:
    if not args.yes:
        print("helpline: erasing cannot be undone; add --yes to go ahead", file=sys.stderr)
        return 2
    connection = Connection(args)
    result = _customers(connection).erase(args.customer_id)
    if args.json:
        _print_json(result)
        return 0
    print(
        f"erased {args.customer_id}: {result.items} records and {result.objects} stored objects "
        f"({len(result.tickets)} tickets)"
    )
    return 0


def cmd_agents_token(args: argparse.Namespace) -> int:
    from functions.chat_ws import wiring as chat_wiring
    from functions.core.errors import NotFoundError

    connection = Connection(args)
    service = chat_wiring.build(
        connection.components, ws_url=connection.state.extra.get("chat_ws_url", "")
    )
    try:
        token = service.agent_token(args.email, hours=args.hours)
    except NotFoundError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json({"email": args.email, "token": token, "ws_url": service.ws_url})
    else:
        print(token)
    return 0


def cmd_agents_list(args: argparse.Namespace) -> int:
    from functions.core.config import load_config

    config = load_config(args.config)
    agents = [
        {"email": a.email, "name": a.name, "languages": list(a.languages), "max_chats": a.max_chats}
        for a in config.agents
    ]
    if args.json:
        _print_json(agents)
        return 0
    for agent in agents:
        print(
            f"{agent['email']:<28} {agent['name']:<12} {','.join(agent['languages']):<10} "
            f"max {agent['max_chats']}"
        )
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from functions.core.config import load_config
    from functions.core.errors import ConfigError

    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: valid")
    print(f"  brand {config.brand.name} <{config.brand.support_address}>")
    print(
        f"  languages {', '.join(config.languages.supported)} (default {config.languages.default})"
    )
    for team in config.teams.values():
        print(f"  team {team.id}: {', '.join(team.languages)} on calendar {team.calendar}")
    print(
        f"  {len(config.routing.rules)} routing rules, default team {config.routing.default_team}"
    )
    return 0


def cmd_config_holidays(args: argparse.Namespace) -> int:
    from functions.core import holiday_table
    from functions.core.config import load_config
    from functions.core.errors import ConfigError

    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    regions = [
        (calendar.spec.holiday_country, calendar.spec.holiday_subdivision)
        for calendar in config.calendars.values()
        if calendar.spec.holiday_country
    ]
    table = holiday_table.build(regions, range(args.first_year, args.last_year + 1))  # type: ignore[arg-type]
    path = holiday_table.table_path(Path(args.file))
    path.write_text(holiday_table.dumps(table), encoding="utf-8")
    print(f"wrote {path}: {len(table)} regions, {args.first_year}-{args.last_year}")
    return 0


# -- the parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpline", description="Helpline: support intake on AWS."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state-dir", default=str(DEFAULT_STATE_DIR), help="where dev.json is (default .helpline)"
    )
    # the operations commands: the local stack, or a deployed stage
    target = argparse.ArgumentParser(add_help=False, parents=[state])
    target.add_argument(
        "--stage", help="a deployed stage in your AWS account instead of the local stack"
    )
    target.add_argument("--region", help="the stage's AWS region (default: your AWS configuration)")
    target.add_argument(
        "--stage-config",
        help="the config the stage was deployed with (default infra/config/<stage>.yaml)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")

    dev = sub.add_parser("dev", parents=[state], help="run the local stack")
    dev.add_argument(
        "--aws-port", type=int, default=4566, help="embedded AWS (moto) port; 0 picks a free one"
    )
    dev.add_argument(
        "--http-port", type=int, default=8080, help="HTTP port for pages, chat and webhooks"
    )
    dev.add_argument("--smtp-port", type=int, default=2525, help="SMTP port that receives mail")
    dev.add_argument("--config", help="config file (default: the demo config)")
    dev.add_argument("--verbose", action="store_true", help="show the functions' own logs")
    dev.add_argument(
        "--fault",
        action="append",
        metavar="SERVICE.OPERATION=N[:KIND]",
        help="make the functions' first N calls of an AWS operation fail (e.g. dynamodb.TransactWriteItems=3), "
        "to see retries, the dead-letter queue and replay at work",
    )
    dev.set_defaults(func=cmd_dev)

    tickets = sub.add_parser("tickets", help="list, show, reply to and resolve tickets")
    tsub = tickets.add_subparsers(dest="action", required=True)
    listing = tsub.add_parser(
        "list", parents=[target, as_json], help="tickets, most recently updated first"
    )
    listing.add_argument(
        "--status", action="append", choices=["new", "open", "pending", "solved", "closed"]
    )
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=cmd_tickets_list)
    show = tsub.add_parser(
        "show", parents=[target, as_json], help="a ticket with its messages and events"
    )
    show.add_argument("ticket_id")
    show.set_defaults(func=cmd_tickets_show)
    reply = tsub.add_parser("reply", parents=[target, as_json], help="answer the customer")
    reply.add_argument("ticket_id")
    reply.add_argument("--text", required=True)
    reply.add_argument("--agent", default="agent@helpline.test", help="the agent's email")
    reply.set_defaults(func=cmd_tickets_reply)
    resolve = tsub.add_parser("resolve", parents=[target], help="mark a ticket solved")
    resolve.add_argument("ticket_id")
    resolve.add_argument("--agent", default="agent@helpline.test")
    resolve.set_defaults(func=cmd_tickets_resolve)

    outbox = sub.add_parser(
        "outbox", parents=[state, as_json], help="everything the local stack sent"
    )
    outbox.set_defaults(func=cmd_outbox)
    quarantine = sub.add_parser(
        "quarantine", parents=[target, as_json], help="kept input that made no ticket"
    )
    quarantine.set_defaults(func=cmd_quarantine)
    replay = sub.add_parser(
        "replay", parents=[target, as_json], help="run a quarantined or dead-lettered input again"
    )
    replay.add_argument("entry_id")
    replay.set_defaults(func=cmd_replay)

    queues = sub.add_parser(
        "queues", parents=[target, as_json], help="routing and escalation queues"
    )
    queues.set_defaults(func=cmd_queues)

    report = sub.add_parser(
        "report", parents=[target, as_json], help="CSAT, NPS, response and resolution times"
    )
    report.add_argument("--from", dest="first", help="first day (default: 29 days before --to)")
    report.add_argument("--to", help="last day (default: today, UTC)")
    report.add_argument("--by", choices=["channel", "team", "language", "agent"], default="channel")
    report.add_argument("--granularity", choices=["day", "week"], default="day")
    report.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML report with charts"
    )
    report.set_defaults(func=cmd_report)

    sla = sub.add_parser("sla", help="SLA timers")
    slasub = sla.add_subparsers(dest="action", required=True)
    tick = slasub.add_parser(
        "tick", parents=[target, as_json], help="run one SLA timer pass (escalate what is due)"
    )
    tick.add_argument("--at", help="as if it were this ISO time (for demos and tests)")
    tick.set_defaults(func=cmd_sla_tick)

    customers = sub.add_parser("customers", help="find, merge, export and erase customers")
    csubs = customers.add_subparsers(dest="action", required=True)
    find = csubs.add_parser(
        "find", parents=[target, as_json], help="the customer behind an identity"
    )
    find.add_argument(
        "identity", help="email:ana@example.com, psid:123, wa_id:346..., telegram:..., x:..."
    )
    find.set_defaults(func=cmd_customers_find)
    merge = csubs.add_parser(
        "merge",
        parents=[target, as_json],
        help="merge customer OTHER into KEEP (one person, one history)",
    )
    merge.add_argument("keep")
    merge.add_argument("other")
    merge.set_defaults(func=cmd_customers_merge)
    export = csubs.add_parser(
        "export", parents=[target], help="everything stored about a customer, as JSON"
    )
    export.add_argument("customer_id")
    export.add_argument("--out", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_customers_export)
    erase = csubs.add_parser(
        "erase", parents=[target, as_json], help="delete everything stored about a customer"
    )
    erase.add_argument("customer_id")
    erase.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    erase.set_defaults(func=cmd_customers_erase)

    agents = sub.add_parser("agents", help="chat agents: list them, sign one in")
    asub = agents.add_subparsers(dest="action", required=True)
    token = asub.add_parser(
        "token", parents=[target, as_json], help="print an agent token for the chat console"
    )
    token.add_argument("email")
    token.add_argument("--hours", type=int, default=12, help="how long the token is valid")
    token.set_defaults(func=cmd_agents_token)
    agent_list = asub.add_parser("list", parents=[as_json], help="the agents in a config file")
    agent_list.add_argument("--config", help="config file (default: the demo config)")
    agent_list.set_defaults(func=cmd_agents_list)

    config = sub.add_parser("config", help="configuration files")
    csub = config.add_subparsers(dest="action", required=True)
    check = csub.add_parser("check", help="validate a config file offline")
    check.add_argument("file")
    check.set_defaults(func=cmd_config_check)
    this_year = datetime.now().year
    table = csub.add_parser(
        "holidays",
        help="precompute the calendars' public holidays next to FILE (faster cold starts)",
    )
    table.add_argument("file")
    table.add_argument("--first-year", type=int, default=this_year - 1)
    table.add_argument("--last-year", type=int, default=this_year + 5)
    table.set_defaults(func=cmd_config_holidays)
    __import__("infra.deploy.cli", fromlist=["register"]).register(
        sub, {"state": state, "json": as_json}
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from functions.core import telemetry
    from infra.local.state import StackNotRunningError

    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except StackNotRunningError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 3
    except StageOnlyLocalError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    finally:
        telemetry.log_to(telemetry.STDOUT)  # a Connection sent it to standard error meanwhile


if __name__ == "__main__":
    sys.exit(main())
