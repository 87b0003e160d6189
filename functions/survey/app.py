"""survey: CSAT/NPS after a ticket is solved, the answer pages, report counters. Registration only."""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, DynamoDBEvent

from functions.survey import wiring
from functions.survey.pages import HEADERS, SCRIPT, SCRIPT_HEADERS, SCRIPT_PATH, Page

app = Chalice(app_name="helpline-survey")

# the ticket table's stream; the deployment sets the real ARN
TABLE_STREAM = os.environ.get(
    "HELPLINE_TABLE_STREAM_ARN",
    "arn:aws:dynamodb:us-east-1:000000000000:table/helpline-dev-tickets/stream/2026-01-01T00:00:00.000",
)


@app.on_dynamodb_record(stream_arn=TABLE_STREAM, batch_size=25, starting_position="TRIM_HORIZON")
def on_ticket_change(event: DynamoDBEvent) -> dict[str, Any]:
    return wiring.on_stream(event.to_dict())


@app.schedule(Rate(1, unit=Rate.MINUTES))
def send_due_surveys(event: CloudWatchEvent) -> dict[str, int]:
    return wiring.send_due()


def _page(page: Page) -> Response:
    return Response(body=page.html, status_code=page.status, headers=dict(HEADERS))


@app.route("/survey/{token}", methods=["GET"])
def survey_page(token: str) -> Response:
    request = app.current_request
    assert request is not None
    return _page(wiring.pages().get(token, dict(request.query_params or {})))


@app.route(SCRIPT_PATH, methods=["GET"])
def survey_script() -> Response:
    """Sends a score link's form from a person's browser (pages.py says why)."""
    return Response(body=SCRIPT, status_code=200, headers=dict(SCRIPT_HEADERS))


@app.route("/survey/{token}", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def survey_comment(token: str) -> Response:
    request = app.current_request
    assert request is not None
    raw = request.raw_body
    return _page(
        wiring.pages().post(token, raw if isinstance(raw, bytes) else str(raw or "").encode())
    )
