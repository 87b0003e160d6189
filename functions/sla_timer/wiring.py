"""The composition root of sla_timer: built on the first event, once per container."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from functions.core import telemetry, wiring
from functions.core.models import Channel
from functions.sla_timer.service import PassReport, SlaTimer

SERVICE_NAME = "sla_timer"
_lock = threading.Lock()
_timer: SlaTimer | None = None


def _metric(name: str, **dimensions: str) -> None:
    telemetry.count(SERVICE_NAME, name, 1, **dimensions)


def build(components: wiring.Components) -> SlaTimer:
    return SlaTimer(
        config=components.config,
        store=components.store,
        publisher=components.publisher,
        email=components.senders.get(Channel.EMAIL),
        metric=_metric,
        tickets=components.tickets,
    )


def timer() -> SlaTimer:
    global _timer
    with _lock:
        if _timer is None:
            _timer = build(wiring.build(wiring.Settings.from_env()))
        return _timer


def use(instance: SlaTimer | None) -> None:
    global _timer
    with _lock:
        _timer = instance


def run(now: datetime | None = None) -> dict[str, Any]:
    report: PassReport = timer().run(now=now)
    log = telemetry.logger(SERVICE_NAME)
    log.info(
        {
            "read": report.read,
            "escalated": report.escalated,
            "published": report.published,
            "conflicts": report.conflicts,
            "failed": len(report.failed),
        }
    )
    telemetry.flush(SERVICE_NAME)
    return {
        "at": report.at.isoformat(),
        "read": report.read,
        "escalated": report.escalated,
        "published": report.published,
        "conflicts": report.conflicts,
        "closed": report.closed,
        "failed": report.failed,
        "crossings": report.crossings,
    }
