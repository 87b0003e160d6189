"""Retention: a solved ticket nobody wrote on is closed by the timer pass and gets its
TTL; when the table's TTL removes its messages, their stored files go too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import make_mail

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_a_long_solved_ticket_is_closed_and_expires_with_its_files(aws, monkeypatch):
    from functions.core import wiring
    from functions.sla_timer import wiring as sla_wiring
    from functions.survey import app as survey_app
    from infra.local.resources import create_demo_secrets
    from infra.local.streams import StreamPoller

    components = wiring.build(wiring.Settings.from_env())
    create_demo_secrets(aws.session, components.config)
    outcome = aws.deliver(
        make_mail(attachments=[("receipt.pdf", "application/pdf", b"%PDF-1.4 receipt")]),
        received_at=TUESDAY,
    )
    ticket_id = outcome["ticket_id"]
    tickets = components.tickets
    tickets.clock = lambda: TUESDAY + timedelta(hours=1)
    tickets.reply(ticket_id, "Here is your answer.", agent="emma@helpline.test")
    tickets.resolve(ticket_id, actor="emma@helpline.test")

    timer = sla_wiring.build(components)
    tickets.clock = lambda: TUESDAY + timedelta(days=3)
    assert timer.run(now=TUESDAY + timedelta(days=3)).closed == 0  # not long enough yet
    later = TUESDAY + timedelta(days=8)
    tickets.clock = lambda: later
    assert timer.run(now=later).closed == 1
    ticket = components.store.get_ticket(ticket_id)
    assert ticket.status.value == "closed"
    assert (
        ticket.expires_at is not None
        and ticket.expires_at.date() == (later + timedelta(days=365)).date()
    )
    dynamodb = aws.session.client("dynamodb")
    items = dynamodb.query(
        TableName=aws.resources.table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TICKET#{ticket_id}"}},
    )["Items"]
    assert items and all("expires_at" in item for item in items)

    # DynamoDB's TTL deletes the items; the stream tells the survey function, through
    # the filters its deployed mapping has (infra/functions/survey.yaml), as in AWS
    from infra.deploy import cfn
    from infra.local.event_filter import FilterCriteria
    from tests.helpers import REPO

    mapping = cfn.load(REPO / "infra" / "functions" / "survey.yaml")["Resources"]["OnTicketChange"][
        "Properties"
    ]["Events"]["OnTicketChangeDynamodbEventSource"]["Properties"]
    poller = StreamPoller(
        streams_client=aws.session.client("dynamodbstreams"),
        stream_arn=aws.resources.table_stream_arn,
        handler=survey_app.on_ticket_change,
        sqs_client=aws.session.client("sqs"),
        dlq_url=None,
        filters=FilterCriteria.from_template(mapping["FilterCriteria"]),
    )
    poller.open()
    for item in items:
        dynamodb.delete_item(
            TableName=aws.resources.table, Key={"PK": item["PK"], "SK": item["SK"]}
        )
    while poller.poll_once():
        pass
    listed = components.blobs.client.list_objects_v2(
        Bucket=components.blobs.bucket, Prefix="attachments/"
    )
    assert listed.get("KeyCount", 0) == 0
