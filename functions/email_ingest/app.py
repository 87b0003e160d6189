"""email_ingest: SES -> S3 -> SNS -> this function. Registration only."""

from __future__ import annotations

import os

from chalice import Chalice
from chalice.app import SNSEvent

from functions.email_ingest import wiring

app = Chalice(app_name="helpline-email-ingest")

# the SES receipt rule's topic; the deployment sets the real name or ARN
INBOUND_TOPIC = os.environ.get("HELPLINE_INBOUND_TOPIC", "helpline-dev-inbound-mail")


@app.on_sns_message(topic=INBOUND_TOPIC)
def on_inbound_mail(event: SNSEvent) -> list[dict[str, object]]:
    return wiring.handle_sns(event.message, event.context)
