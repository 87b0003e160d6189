"""The composition root of email_ingest: built on the first event, once per container."""

from __future__ import annotations

import threading
from typing import Any

from functions.core import wiring
from functions.email_ingest.service import EmailIngestService

SERVICE_NAME = "email_ingest"
_lock = threading.Lock()
_service: EmailIngestService | None = None


def service() -> EmailIngestService:
    global _service
    with _lock:
        if _service is None:
            components = wiring.build(wiring.Settings.from_env())
            _service = EmailIngestService(
                config=components.config, intake=components.intake, blobs=components.blobs
            )
        return _service


def use(service_instance: EmailIngestService | None) -> None:
    """Install a service built elsewhere (the local stack, tests), or forget it."""
    global _service
    with _lock:
        _service = service_instance


def ses_message_id(message: str) -> str | None:
    """The SES message id of a receipt notification (the raw mail's S3 key), if any."""
    import json

    try:
        found = json.loads(message).get("mail", {}).get("messageId")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def handle_sns(message: str, context: Any = None) -> list[dict[str, Any]]:
    from dataclasses import asdict

    from functions.core import telemetry
    from functions.core.replies import AUTOMATIC_MAIL_CAPPED

    log = telemetry.logger(SERVICE_NAME)
    telemetry.correlate(SERVICE_NAME, ses_message_id(message))
    outcomes = service().handle_notification(message)
    for outcome in outcomes:
        log.info(
            {
                "outcome": outcome.status,
                "ticket": outcome.ticket_id,
                "reason": outcome.reason,
                "queue": outcome.queue,
                "reply": outcome.reply,
            }
        )
        telemetry.count(SERVICE_NAME, f"Mail_{outcome.status}")
        if outcome.reply == "capped":
            telemetry.count(SERVICE_NAME, AUTOMATIC_MAIL_CAPPED, kind="reply")
    telemetry.flush(SERVICE_NAME)
    return [asdict(outcome) for outcome in outcomes]
