"""The composition root of survey: built on the first event, once per container."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from functions.core import telemetry, wiring
from functions.core.surveystore import SurveyStore
from functions.survey.pages import SurveyPages
from functions.survey.service import SurveyService, records_of

SERVICE_NAME = "survey"
_lock = threading.Lock()
_service: SurveyService | None = None


def build(components: wiring.Components) -> SurveyService:
    settings = components.config.surveys
    ref = settings.token_secret

    def secret() -> bytes:
        if ref is None:
            raise wiring.MissingSettingError("surveys.token_secret is not set")
        return components.secrets.get_bytes(ref)

    return SurveyService(
        config=components.config,
        store=components.store,
        surveys_store=SurveyStore(
            components.store.table_name, client_factory=lambda: components.store.client
        ),
        senders=components.senders,
        renderer=components.renderer,
        publisher=components.publisher,
        secret=secret,
        blobs=components.blobs,
        public_url=components.public_url,
    )


def service() -> SurveyService:
    global _service
    with _lock:
        if _service is None:
            _service = build(wiring.build(wiring.Settings.from_env()))
        return _service


def use(instance: SurveyService | None) -> None:
    global _service
    with _lock:
        _service = instance


def on_stream(event: Mapping[str, Any]) -> dict[str, Any]:
    """A batch of stream records. A record that fails is reported by its sequence
    number (ReportBatchItemFailures): Lambda retries from there, then sends it to the
    on-failure destination; the records before it are not run again."""
    log = telemetry.logger(SERVICE_NAME)
    failures = []
    for record in records_of(event):
        sequence = (record.get("dynamodb") or {}).get("SequenceNumber")
        telemetry.correlate(SERVICE_NAME, record.get("eventID"))
        try:
            log.info({"record": sequence, "done": service().on_record(record)})
        except Exception:
            log.exception("stream record %s failed", sequence)
            failures.append({"itemIdentifier": sequence})
            break  # records of one shard are in order: stop at the first failure
    telemetry.correlate(SERVICE_NAME, None)
    telemetry.flush(SERVICE_NAME)
    return {"batchItemFailures": failures}


def send_due() -> dict[str, int]:
    done = service().send_due()
    for name, count in done.items():
        if count:
            telemetry.count(SERVICE_NAME, f"Survey_{name}", count)
    telemetry.flush(SERVICE_NAME)
    return done


def pages() -> SurveyPages:
    return SurveyPages(service())
