"""The scale benchmarks' own rules (bench/sla_scale.py, bench/report_scale.py): read
units priced as DynamoDB prices them, generators that make exactly the population asked
for in production's item shapes, and a scan-side check that catches wrong report cells.
No AWS: reads are metered on a real boto3 client whose responses come from botocore's
Stubber."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from bench import report_scale, sla_scale
from bench.aws_meter import item_size
from functions.core import ids, reports, sla
from functions.core.config import load_config
from functions.core.models import TicketStatus
from functions.core.store import deserialize, ticket_from_item
from infra.local.resources import DEMO_CONFIG

CONFIG = load_config(str(DEMO_CONFIG))
NOW = sla_scale.PASS_AT
KB = 1024


def sized(size: int, key: str = "a") -> dict[str, dict[str, str]]:
    """A DynamoDB item of exactly `size` bytes by DynamoDB's rules ("PK" plus its value)."""
    item = {"PK": {"S": key + "x" * (size - 2 - len(key))}}
    assert item_size(item) == size
    return item


def metered_client(meter: sla_scale.ReadMeter) -> tuple[object, Stubber]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    meter.attach(client)
    return client, Stubber(client)


# -- read units ------------------------------------------------------------------------------


def test_a_query_page_is_priced_on_its_summed_items_rounded_up_once():
    # three 1.5 KB items are 4.5 KB together: two 4 KB blocks, not three
    assert sla_scale.page_read_units([1536, 1536, 1536], consistent=False) == 1.0
    assert sla_scale.page_read_units([1536, 1536, 1536], consistent=True) == 2.0
    assert sla_scale.page_read_units([4096], consistent=False) == 0.5
    assert sla_scale.page_read_units([4097], consistent=False) == 1.0


def test_a_page_or_get_that_finds_nothing_still_costs_the_minimum():
    assert sla_scale.page_read_units([], consistent=False) == 0.5
    assert sla_scale.item_read_units(None, consistent=True) == 1.0
    assert sla_scale.item_read_units(None, consistent=False) == 0.5


def test_single_items_round_up_to_4_kb_each():
    # the developer guide's examples: 3.5 KB reads as 4 KB, 10 KB as 12 KB
    assert sla_scale.item_read_units(3584, consistent=True) == 1.0
    assert sla_scale.item_read_units(10 * KB, consistent=True) == 3.0
    assert sla_scale.item_read_units(10 * KB, consistent=False) == 1.5


def test_the_meter_prices_a_gsi_query_page_and_consistent_gets_from_what_they_return():
    meter = sla_scale.ReadMeter()
    client, stub = metered_client(meter)
    page = [sized(3 * KB), sized(3 * KB), sized(3 * KB)]  # 9 KB: three blocks
    stub.add_response(
        "query",
        {"Items": page, "Count": 3, "ScannedCount": 3},
        {
            "TableName": "t",
            "IndexName": "SlaDue",
            "KeyConditionExpression": "SlaShard = :s",
            "ExpressionAttributeValues": {":s": {"S": "SLA#0"}},
        },
    )
    stub.add_response(
        "get_item",
        {"Item": sized(5 * KB)},
        {"TableName": "t", "Key": {"PK": {"S": "a"}}, "ConsistentRead": True},
    )
    stub.add_response(
        "get_item", {}, {"TableName": "t", "Key": {"PK": {"S": "b"}}, "ConsistentRead": True}
    )
    with stub:
        client.query(
            TableName="t",
            IndexName="SlaDue",
            KeyConditionExpression="SlaShard = :s",
            ExpressionAttributeValues={":s": {"S": "SLA#0"}},
        )
        client.get_item(TableName="t", Key={"PK": {"S": "a"}}, ConsistentRead=True)
        client.get_item(TableName="t", Key={"PK": {"S": "b"}}, ConsistentRead=True)
    assert dict(meter.units) == {"Query SlaDue": 1.5, "GetItem": 3.0}  # 2 + the minimum 1
    assert meter.items == Counter({"Query SlaDue": 3, "GetItem": 1})
    assert meter.total_units == 4.5


def test_batch_get_rounds_each_item_before_adding_them_up():
    meter = sla_scale.ReadMeter()
    client, stub = metered_client(meter)
    request = {"t": {"Keys": [{"PK": {"S": "a"}}, {"PK": {"S": "b"}}], "ConsistentRead": True}}
    stub.add_response(
        "batch_get_item",
        {"Responses": {"t": [sized(1536, "a"), sized(6656, "b")]}},
        {"RequestItems": request},
    )
    with stub:
        client.batch_get_item(RequestItems=request)
    # 1.5 KB + 6.5 KB is priced as 4 KB + 8 KB: three units, not two
    assert meter.units["BatchGetItem"] == 3.0


def test_a_projected_scan_is_priced_on_the_stored_items_not_what_it_returned():
    stored = {"a": 3 * KB, "b": 3 * KB}
    meter = sla_scale.ReadMeter(full_size=lambda item: stored[item["PK"]["S"]])
    client, stub = metered_client(meter)
    returned = [{"PK": {"S": "a"}}, {"PK": {"S": "b"}}]  # a few bytes each
    stub.add_response(
        "scan",
        {"Items": returned, "Count": 2, "ScannedCount": 2},
        {"TableName": "t", "ProjectionExpression": "PK"},
    )
    with stub:
        client.scan(TableName="t", ProjectionExpression="PK")
    assert meter.units["Scan table"] == 1.0  # 6 KB stored: two blocks at 0.5


# -- the SLA population --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sla_population():
    population = sla_scale.Population(solved=30, open_tickets=20, due=5)
    return population, list(sla_scale.generate(CONFIG, population, distinct=4))


def test_the_sla_population_has_exactly_the_counts_asked_for(sla_population):
    population, tickets = sla_population
    assert len(tickets) == population.total == 50
    assert len({t.id for t in tickets}) == 50
    assert all(ids.is_ticket_id(t.id) for t in tickets)
    due = [t for t in tickets if t.sla_due is not None and t.sla_due <= NOW]
    ahead = [t for t in tickets if t.sla_due is not None and t.sla_due > NOW]
    solved = [t for t in tickets if t.status is TicketStatus.SOLVED]
    assert (len(due), len(ahead), len(solved)) == (population.due, 15, population.solved)
    assert all(t.sla_due is None for t in solved)  # a solved ticket is not in the due index


def test_due_tickets_missed_their_first_response_and_the_others_are_not_late(sla_population):
    _, tickets = sla_population
    for ticket in tickets:
        state = sla.SlaState.from_dict(ticket.sla)
        late = sla.crossings(state, now=NOW)
        if ticket.sla_due is not None and ticket.sla_due <= NOW:
            first = state.clock(sla.FIRST_RESPONSE)
            assert ticket.first_response_at is None and first.due_at < NOW
            assert late  # the timer has something to record
        else:
            assert late == []


def test_solved_tickets_were_solved_within_the_retention_window(sla_population):
    _, tickets = sla_population
    solved = [t for t in tickets if t.status is TicketStatus.SOLVED]
    assert all(NOW - timedelta(days=7) <= t.solved_at <= NOW for t in solved)
    assert all(t.created_at < t.first_response_at < t.solved_at for t in solved)


def test_items_are_the_stores_own_and_read_back_as_the_same_tickets(sla_population):
    _, tickets = sla_population
    items = list(sla_scale.ticket_items(tickets))
    for ticket, item in zip(tickets, items, strict=True):
        assert ticket_from_item(deserialize(item)) == ticket
        assert ("SlaDue" in item) == (ticket.sla_due is not None)


def test_a_population_cannot_have_more_due_than_open_tickets():
    with pytest.raises(ValueError, match="due tickets are among the open ones"):
        sla_scale.Population(solved=1, open_tickets=2, due=3)


# -- the report data ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_data():
    return report_scale.generate(CONFIG, tickets=400, responses=90, distinct=60)


def _cells(counters):
    from functions.core.reports import Cell

    return {key: Cell.from_counters(counter) for key, counter in counters.items()}


def _report_figures(cells):
    first, last = (report_scale.END - timedelta(days=report_scale.DAYS)).date(), report_scale.END
    figures = {}
    for dimension in reports.DIMENSIONS:
        report = reports.build_report(
            {k: c for k, c in cells.items() if k[1] == dimension},
            by=dimension,
            granularity="day",
            periods=reports.period_keys(first, last.date(), "day"),
        )
        figures.update(report_scale.figures_of_report(report))
    return figures


def _scan_figures(data):
    first, last = (report_scale.END - timedelta(days=report_scale.DAYS)).date(), report_scale.END
    tally = report_scale.ScanTally(CONFIG, first, last.date())
    for item in report_scale.items_of(data):
        tally.add(deserialize(item))
    return report_scale.figures_of_scan(tally)


def test_the_report_data_has_exactly_the_counts_asked_for(report_data):
    assert len(report_data.tickets) == 400
    assert len(report_data.responses) == 90
    sent_ids = {record.survey.id for record in report_data.sent}
    answered = [survey.id for _, survey in report_data.responses]
    assert len(set(answered)) == 90 and set(answered) <= sent_ids
    assert len({record.survey.id for record in report_data.surveys}) == len(report_data.surveys)


def test_every_dimension_of_the_cells_adds_up_to_the_whole(report_data):
    counters = report_scale.cell_counters(CONFIG, report_data)
    for dimension in reports.DIMENSIONS:
        mine = Counter()
        for (_, name, _), counter in counters.items():
            if name == dimension:
                mine.update(counter)
        assert mine["tickets_created"] == 400
        csat_answers = sum(mine[f"csat_{s}"] for s in range(1, 6))
        nps_answers = sum(mine[f"nps_{s}"] for s in range(11))
        assert csat_answers + nps_answers == 90


@pytest.fixture(scope="module")
def scan_figures(report_data):
    return _scan_figures(report_data)


def test_the_scan_computes_the_figures_the_cells_give(report_data, scan_figures):
    cells = _cells(report_scale.cell_counters(CONFIG, report_data))
    assert report_scale.compare(_report_figures(cells), scan_figures) == []


def test_a_wrong_cell_is_caught_by_the_comparison(report_data, scan_figures):
    counters = report_scale.cell_counters(CONFIG, report_data)
    key = next(k for k, c in counters.items() if k[1] == "channel" and c.get("csat_5"))
    wrong = {**counters, key: Counter({**counters[key], "csat_5": counters[key]["csat_5"] + 1})}
    differences = report_scale.compare(_report_figures(_cells(wrong)), scan_figures)
    assert any(f"('channel', '{key[2]}') csat_scores" in d for d in differences)
    assert any("('total', 'channel') csat" in d for d in differences)


def test_a_stored_cell_item_is_what_the_counters_add_up_to():
    item = report_scale.cell_item(("2026-11-24", "channel", "email"), {"tickets_created": 3})
    assert deserialize(item) == {
        "PK": "STATS#channel",
        "SK": "2026-11-24#email",
        "tickets_created": 3,
        "type": "stats",
    }
