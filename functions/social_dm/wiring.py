"""The composition root of social_dm: built on the first request, once per container."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from functions.core import telemetry, wiring
from functions.social_dm.service import Secrets, SocialIntakeService, WebhookResult

SERVICE_NAME = "social_dm"
_lock = threading.Lock()
_service: SocialIntakeService | None = None


def build(components: wiring.Components) -> SocialIntakeService:
    if components.config.surveys.enabled:
        # survey buttons tapped (or scores typed) on a platform come back here as messages
        surveys = wiring.survey_answers(components)
        components.intake.survey_answers = surveys.answer_by_id
        components.intake.open_survey = surveys.open_survey_for
    return SocialIntakeService(
        config=components.config,
        intake=components.intake,
        blobs=components.blobs,
        secrets=Secrets(components.secrets.get),
    )


def service() -> SocialIntakeService:
    global _service
    with _lock:
        if _service is None:
            _service = build(wiring.build(wiring.Settings.from_env()))
        return _service


def use(service_instance: SocialIntakeService | None) -> None:
    global _service
    with _lock:
        _service = service_instance


def report(platform: str, result: WebhookResult) -> WebhookResult:
    """Metrics for a delivery: outcomes by kind, and event kinds we ignore."""
    log = telemetry.logger(SERVICE_NAME)
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    for status, count in counts.items():
        telemetry.count(SERVICE_NAME, f"Delivery_{status}", count, platform=platform)
    for kind in result.ignored:
        telemetry.count(SERVICE_NAME, "Ignored_event", 1, platform=platform, kind=kind[:60])
    if result.status >= 400:
        telemetry.count(SERVICE_NAME, f"Refused_{result.status}", 1, platform=platform)
    log.info(
        {
            "platform": platform,
            "status": result.status,
            "outcomes": counts,
            "ignored": len(result.ignored),
        }
    )
    telemetry.flush(SERVICE_NAME)
    return result


def delivery(platform: str, raw_body: bytes | None, headers: Mapping[str, str]) -> WebhookResult:
    handle = {
        "meta": service().meta_delivery,
        "telegram": service().telegram_delivery,
        "x": service().x_delivery,
    }[platform]
    return report(platform, handle(raw_body or b"", headers))


def params(query: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (query or {}).items()}
