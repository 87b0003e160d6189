"""100 hours: is the team that will answer at work when the message arrived, and if not,
when is it back (the after-hours reply promises that time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from functions.core.filters import hours
from functions.core.routing import RouteDecision

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

LONDON = ZoneInfo("Europe/London")
MADRID = ZoneInfo("Europe/Madrid")


def _routed(team: str) -> RouteDecision:
    return RouteDecision(team=team, priority="normal", tags=(), rules=(), reason="language")


def test_saturday_is_closed_and_the_english_team_is_back_monday_at_nine(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    saturday = datetime(2025, 11, 22, 14, 0, tzinfo=UTC)
    ctx = make_context(make_message(received_at=saturday))
    ctx.findings.route = _routed("english")

    hours.run(ctx)

    assert ctx.findings.in_hours is False
    assert ctx.findings.calendar is not None and ctx.findings.calendar.name == "london"
    next_open = ctx.findings.next_open
    assert next_open == datetime(2025, 11, 24, 9, 0, tzinfo=LONDON)
    # shown to the customer in the team's own zone: "Monday 24 November at 09:00 (GMT)"
    assert next_open is not None and next_open.tzinfo == LONDON
    assert (next_open.strftime("%A"), next_open.hour, next_open.minute) == ("Monday", 9, 0)


def test_a_weekday_morning_is_in_hours(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    tuesday = datetime(2025, 11, 25, 10, 30, tzinfo=UTC)
    ctx = make_context(make_message(received_at=tuesday))
    ctx.findings.route = _routed("english")

    hours.run(ctx)

    assert ctx.findings.in_hours is True
    assert ctx.findings.next_open is None


def test_the_spanish_lunch_break_is_closed_until_three(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    lunch = datetime(2025, 11, 25, 14, 30, tzinfo=MADRID)
    ctx = make_context(make_message(received_at=lunch))
    ctx.findings.route = _routed("spanish")

    hours.run(ctx)

    assert ctx.findings.in_hours is False
    assert ctx.findings.next_open == datetime(2025, 11, 25, 15, 0, tzinfo=MADRID)


def test_christmas_and_boxing_day_are_holidays_in_london(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    christmas = datetime(2025, 12, 25, 10, 0, tzinfo=LONDON)  # a Thursday
    ctx = make_context(make_message(received_at=christmas))
    ctx.findings.route = _routed("english")

    hours.run(ctx)

    assert ctx.findings.in_hours is False
    assert ctx.findings.next_open == datetime(2025, 12, 29, 9, 0, tzinfo=LONDON)


def test_the_same_moment_is_in_hours_for_one_team_and_not_another(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    # Friday 13:00 in Dubai: the Arabic desk closed at 12:00, London is open
    friday = datetime(2025, 11, 28, 9, 0, tzinfo=UTC)
    arabic = make_context(make_message(received_at=friday))
    arabic.findings.route = _routed("arabic")
    english = make_context(make_message(received_at=friday))
    english.findings.route = _routed("english")

    hours.run(arabic)
    hours.run(english)

    assert arabic.findings.in_hours is False
    assert english.findings.in_hours is True


def test_without_a_route_the_default_team_decides(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(received_at=datetime(2025, 11, 22, 14, 0, tzinfo=UTC)))

    hours.run(ctx)

    assert ctx.findings.calendar is not None and ctx.findings.calendar.name == "london"
    assert ctx.findings.in_hours is False


def test_the_arrival_time_counts_not_the_processing_time(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    friday_afternoon = datetime(2025, 11, 21, 16, 0, tzinfo=LONDON)
    saturday = datetime(2025, 11, 22, 10, 0, tzinfo=LONDON)  # a retry, the next day
    ctx = make_context(make_message(received_at=friday_afternoon), now=saturday)
    ctx.findings.route = _routed("english")

    hours.run(ctx)

    assert ctx.findings.in_hours is True
