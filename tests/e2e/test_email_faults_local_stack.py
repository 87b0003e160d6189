"""DynamoDB throttling through `helpline dev`: the mail is retried, dead-lettered, replayed.

The stack runs with `--fault dynamodb.TransactWriteItems=3`: every try of the first
mail's commit is throttled, so after Lambda's three tries the event is in the
inbound-mail dead-letter queue. `helpline replay` (a separate process, no faults)
then turns it into its ticket, and it leaves the queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.e2e.conftest import Stack, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(
        tmp_path_factory.mktemp("faulty"), "--fault", "dynamodb.TransactWriteItems=3"
    )


def test_a_throttled_mail_is_dead_lettered_then_replayed_into_its_ticket(faulty: Stack) -> None:
    mail = EmailMessage()
    mail["From"] = "Kim <kim@customer.example>"
    mail["To"] = "support@helpline.test"
    mail["Subject"] = "Broken charger"
    mail.set_content("My charger stopped working after two days. Can I get a replacement?")
    faulty.send(mail)

    entry = faulty.wait_for(
        lambda: [q for q in faulty.json("quarantine") if q["source"] == "dead_letter"],
        "the mail in the dead-letter queue",
        timeout=60,
    )[0]
    assert entry["reason"] == "retries_exhausted"
    assert "ProvisionedThroughputExceededException" in entry["detail"]
    assert entry["raw_ref"].startswith("s3://")
    assert faulty.tickets() == []

    replayed = faulty.json("replay", entry["id"])
    assert [o["status"] for o in replayed["outcomes"]] == ["created"]
    [ticket] = faulty.tickets()
    assert ticket["subject"] == "Broken charger"
    assert [q for q in faulty.json("quarantine") if q["source"] == "dead_letter"] == []
    acks = [m for m in faulty.outbox() if ticket["id"] in m["subject"]]
    assert len(acks) == 1
