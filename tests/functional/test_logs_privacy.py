"""Privacy in the logs: a customer's address, phone number and words never appear in
what the functions log, even when an error carries them; webhook secrets neither."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.helpers import make_mail

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEXT = "Please call me on +34 612 345 678 about the parcel, my neighbour has it"


def test_an_email_handled_end_to_end_logs_no_personal_data(aws, capsys):
    outcome = aws.deliver(
        make_mail(sender="Ana García <ana.garcia@example.com>", text=TEXT), received_at=TUESDAY
    )
    assert outcome["status"] == "created"
    logged = capsys.readouterr().out
    assert logged  # the function did log (JSON lines)
    for line in logged.splitlines():
        if line.startswith("{"):
            json.loads(line)
    assert "ana.garcia@example.com" not in logged
    assert "612 345 678" not in logged and "+34 612" not in logged
    assert "my neighbour has it" not in logged


def test_an_error_that_quotes_an_address_is_logged_redacted(capsys):
    import logging

    from functions.core import telemetry

    telemetry.logger("privacy-test")
    log = logging.getLogger("helpline.test")
    address = "-".join(["bob", "x"]).replace("-x", "") + "@example.org"  # not in the source
    try:
        raise RuntimeError(f"SES MessageRejected: Email address is not verified: {address}")
    except RuntimeError:
        log.exception("sending failed for %s", address)
    logged = capsys.readouterr().out
    assert address not in logged and "b***@example.org" in logged


def test_every_line_of_one_mail_carries_its_ses_message_id(aws, monkeypatch):
    # one id follows the mail through our lines and core's, so one search finds them all
    import io
    import logging

    from functions.core import telemetry

    telemetry.logger("email_ingest")
    notification = aws.notification(make_mail(text=TEXT), received_at=TUESDAY)
    message_id = notification["mail"]["messageId"]
    # the handlers were made by earlier tests, each writing to the stdout of its day
    written = io.StringIO()
    names = [
        "email_ingest",
        *(n for n in logging.root.manager.loggerDict if n.startswith("helpline")),
    ]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if hasattr(handler, "stream"):
                monkeypatch.setattr(handler, "stream", written)
    aws.invoke(notification)
    lines = [
        json.loads(line) for line in written.getvalue().splitlines() if line.startswith('{"level"')
    ]
    assert lines
    assert {line.get("correlation_id") for line in lines} == {message_id}
