"""Every routing message Helpline publishes matches the documented v1 schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema

from tests.helpers import REPO, make_mail

SCHEMA = json.loads((REPO / "docs" / "schemas" / "routing-message.v1.json").read_text())
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_published_messages_match_the_v1_schema(aws):
    first = aws.deliver(make_mail(message_id="<s1@example.com>"), received_at=TUESDAY)
    aws.deliver(
        make_mail(text="One more detail: it was a gift.", in_reply_to="<s1@example.com>"),
        received_at=TUESDAY + timedelta(minutes=2),
    )
    aws.deliver(
        make_mail(
            sender="Carlos <carlos@example.es>",
            subject="Caída del servicio",
            text="Hola, la web está caída desde esta mañana y no podemos trabajar.",
        ),
        received_at=TUESDAY,
    )
    messages = aws.queue_messages("english") + aws.queue_messages("spanish")
    assert {m["event"] for m in messages} == {"new_ticket", "customer_reply"}
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    for message in messages:
        validator.validate(message)
    urgent = [m for m in messages if m["queue"] == "spanish"]
    assert (
        urgent[0]["priority"] == "urgent" and "outage" in urgent[0]["tags"]
    )  # the demo's keyword rule
    assert first["ticket_id"] in {m["ticket_id"] for m in messages}


def test_the_schema_rejects_what_consumers_must_not_receive():
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert not validator.is_valid({"schema": "helpline.routing/v1", "event": "new_ticket"})
    assert not validator.is_valid({"schema": "helpline.routing/v2"})
