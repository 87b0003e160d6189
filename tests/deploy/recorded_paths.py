"""Paths of email_ingest that its functional tests do not take, for the IAM recording.

Not collected on its own (the name has no test_ prefix): test_iam_matches_calls.py runs
it beside tests/functional/test_email_ingest.py under the call recorder, so the
permissions these paths need are part of what the policy is checked against.
"""

from __future__ import annotations

from tests.functional.conftest import aws  # noqa: F401  (the functional harness's fixture)
from tests.helpers import make_mail


def test_a_very_long_mail_keeps_its_full_body_in_s3_under_bodies(aws):  # noqa: F811
    text = "Here is the full log of the failed import.\n" + ("line of the log " * 20_000)
    outcome = aws.deliver(make_mail(text=text, message_id="<long-log@example.com>"))
    bundle = aws.store.ticket_bundle(outcome["ticket_id"])
    [inbound] = [m for m in bundle.messages if m.body_ref]
    assert inbound.body_ref.startswith(f"bodies/{bundle.ticket.id}/")
    stored = aws.session.client("s3").get_object(Bucket=aws.resources.bucket, Key=inbound.body_ref)
    assert len(stored["Body"].read()) > len(text)
