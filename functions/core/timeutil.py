"""Time in one form: aware UTC datetimes in code, fixed-width ISO strings in storage.

Stored times sort correctly as strings because every one is UTC with microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; Helpline stores aware UTC times only")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def maybe_iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def maybe_from_iso(text: str | None) -> datetime | None:
    return from_iso(text) if text else None
