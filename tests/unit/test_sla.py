"""SLA clocks: the deadlines a customer and a team lead would check by hand.

Every expected moment below is worked out in the comment next to it from the
calendar's windows; none is computed by the code under test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from functions.core import sla
from functions.core.hours import Calendar, CalendarSpec
from functions.core.localize import format_local_datetime
from functions.core.models import Channel, TicketStatus
from functions.core.sla import (
    FIRST_RESPONSE,
    NEXT_RESPONSE,
    RESOLUTION,
    Crossing,
    SlaPolicy,
    SlaState,
    TargetSpec,
)

MADRID = ZoneInfo("Europe/Madrid")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)
WEEKDAYS = range(5)

# The Madrid split shift with the Madrid holidays, and London's office hours.
MADRID_CAL = Calendar(
    CalendarSpec(
        "madrid",
        "Europe/Madrid",
        dict.fromkeys(WEEKDAYS, ((time(9), time(14)), (time(15), time(18)))),
        holiday_country="ES",
        holiday_subdivision="MD",
    )
)
LONDON_CAL = Calendar(
    CalendarSpec(
        "london",
        "Europe/London",
        dict.fromkeys(WEEKDAYS, ((time(9), time(17, 30)),)),
        holiday_country="GB",
        holiday_subdivision="ENG",
    )
)
# A night desk whose window contains the 01:00 UTC clock change every Sunday.
LONDON_NIGHTS = Calendar(
    CalendarSpec("nights", "Europe/London", dict.fromkeys(range(7), ((time(0), time(6)),)))
)
TOKYO_CAL = Calendar(
    CalendarSpec("tokyo", "Asia/Tokyo", dict.fromkeys(WEEKDAYS, ((time(9), time(18)),)))
)

PENDING = frozenset({"pending"})
# first response 1 h (warn 75% = 45 min), next response 4 h (warn 3 h), resolution
# 16 h (warn 80% = 12 h 48 min) paused while pending; all in business hours.
STANDARD = SlaPolicy(
    "standard",
    (
        TargetSpec(FIRST_RESPONSE, H, 45 * M),
        TargetSpec(NEXT_RESPONSE, 4 * H, 3 * H),
        TargetSpec(RESOLUTION, 16 * H, 12 * H + 48 * M, pause_when=PENDING),
    ),
)


def at(  # noqa: PLR0917 - reads like the datetime(...) it builds
    tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def clock(state: SlaState, target: str) -> sla.TargetClock:
    found = state.clock(target)
    assert found is not None, f"no {target} clock"
    return found


def one_target(target: str, within: timedelta, *, business: bool = True) -> SlaPolicy:
    return SlaPolicy("single", (TargetSpec(target, within, within, business=business),))


# -- deadlines on the calendar --------------------------------------------------------


def test_a_ticket_created_at_2359_on_friday_is_due_on_monday_morning() -> None:
    friday = at(MADRID, 2026, 6, 5, 23, 59)

    state = sla.start(STANDARD, MADRID_CAL, at=friday, status="new")

    first = clock(state, FIRST_RESPONSE)
    # Closed until Monday 09:00; 45 min -> 09:45, 1 h -> 10:00, twice 1 h -> 11:00.
    assert first.due_at == at(MADRID, 2026, 6, 8, 10)
    assert first.warn_at == at(MADRID, 2026, 6, 8, 9, 45)
    assert first.second_due_at == at(MADRID, 2026, 6, 8, 11)
    resolution = clock(state, RESOLUTION)
    # Monday 8 h (09-14, 15-18) + Tuesday 8 h = 16 h -> Tuesday 18:00;
    # 12 h 48 min = Monday 8 h + Tuesday 09:00 + 4 h 48 min = 13:48.
    assert resolution.due_at == at(MADRID, 2026, 6, 9, 18)
    assert resolution.warn_at == at(MADRID, 2026, 6, 9, 13, 48)
    assert state.clock(NEXT_RESPONSE) is None  # no agent has replied yet
    assert sla.next_due(state) == at(MADRID, 2026, 6, 8, 9, 45)

    promised = sla.expected_first_response(STANDARD, MADRID_CAL, at=friday)
    assert promised == first.due_at
    assert promised is not None
    assert promised.tzinfo == MADRID
    assert format_local_datetime(promised, "en") == "Monday 8 June at 10:00 (CEST)"


def test_the_lunch_break_of_a_split_shift_does_not_count() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 13, 30), status="new")

    # 13:30-14:00 is 30 min; 15 more -> 15:15, 30 more -> 15:30.
    assert clock(state, FIRST_RESPONSE).warn_at == at(MADRID, 2026, 6, 8, 15, 15)
    assert clock(state, FIRST_RESPONSE).due_at == at(MADRID, 2026, 6, 8, 15, 30)
    # Monday 3.5 h (13:30-14:00, 15-18) + Tuesday 8 h + Wednesday 09:00-13:30 = 16 h.
    assert clock(state, RESOLUTION).due_at == at(MADRID, 2026, 6, 10, 13, 30)


def test_a_holiday_monday_moves_the_deadline_to_tuesday() -> None:
    columbus = date(2026, 10, 12)
    assert columbus.weekday() == 0
    assert columbus in holidays.country_holidays("ES", years=2026)

    friday = at(MADRID, 2026, 10, 9, 17, 30)
    state = sla.start(STANDARD, MADRID_CAL, at=friday, status="new")

    # Friday 17:30-18:00 is 30 min, Monday is a holiday, Tuesday 09:00 + 30 min.
    assert clock(state, FIRST_RESPONSE).due_at == at(MADRID, 2026, 10, 13, 9, 30)
    assert sla.expected_first_response(STANDARD, MADRID_CAL, at=friday) == at(
        MADRID, 2026, 10, 13, 9, 30
    )


def test_office_hours_across_both_london_clock_changes() -> None:
    # Spring: Friday 17:00 GMT + 30 min, then Monday 09:00 BST + 30 min = 08:30 UTC.
    spring = sla.start(STANDARD, LONDON_CAL, at=at(LONDON, 2026, 3, 27, 17), status="new")
    due = clock(spring, FIRST_RESPONSE).due_at
    assert due == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    assert due is not None
    local = due.astimezone(LONDON)
    assert (local.hour, local.minute, local.utcoffset()) == (9, 30, H)

    # Autumn: Friday 17:00 BST + 30 min, then Monday 09:00 GMT + 30 min = 09:30 UTC.
    autumn = sla.start(STANDARD, LONDON_CAL, at=at(LONDON, 2026, 10, 23, 17), status="new")
    assert clock(autumn, FIRST_RESPONSE).due_at == datetime(2026, 10, 26, 9, 30, tzinfo=UTC)


def test_a_night_window_counts_the_real_hours_of_a_clock_change_night() -> None:
    # Sunday 29 March: 00:00 GMT to 06:00 BST is only 5 real hours.
    spring = at(LONDON, 2026, 3, 29)
    five = sla.start(one_target(FIRST_RESPONSE, 5 * H), LONDON_NIGHTS, at=spring, status="new")
    assert clock(five, FIRST_RESPONSE).due_at == at(LONDON, 2026, 3, 29, 6)
    # A sixth hour comes from Monday's window: 00:00 BST + 1 h = 01:00 BST = 00:00 UTC.
    six = sla.start(one_target(FIRST_RESPONSE, 6 * H), LONDON_NIGHTS, at=spring, status="new")
    assert clock(six, FIRST_RESPONSE).due_at == datetime(2026, 3, 30, 0, tzinfo=UTC)

    # Sunday 25 October: 00:00 BST (23:00 UTC) to 06:00 GMT is 7 real hours, so
    # 6 h 30 min ends inside the same night, at 05:30 GMT.
    autumn = at(LONDON, 2026, 10, 25)
    policy = one_target(FIRST_RESPONSE, 6 * H + 30 * M)
    state = sla.start(policy, LONDON_NIGHTS, at=autumn, status="new")
    assert clock(state, FIRST_RESPONSE).due_at == datetime(2026, 10, 25, 5, 30, tzinfo=UTC)


def test_calendar_hours_are_elapsed_time_across_clock_changes() -> None:
    policy = one_target(FIRST_RESPONSE, 24 * H, business=False)

    # 24 real hours after Saturday 12:00 GMT is Sunday 12:00 UTC = 13:00 BST.
    spring = sla.expected_first_response(policy, LONDON_CAL, at=at(LONDON, 2026, 3, 28, 12))
    assert spring == datetime(2026, 3, 29, 12, tzinfo=UTC)
    assert spring is not None
    assert spring.astimezone(LONDON).hour == 13
    # 24 real hours after Saturday 12:00 BST (11:00 UTC) is Sunday 11:00 GMT.
    autumn = sla.expected_first_response(policy, LONDON_CAL, at=at(LONDON, 2026, 10, 24, 12))
    assert autumn == datetime(2026, 10, 25, 11, tzinfo=UTC)
    assert autumn is not None
    assert autumn.astimezone(LONDON).hour == 11


def test_a_tokyo_team_answering_a_customer_in_new_york() -> None:
    # Friday 20:30 in New York is Saturday 09:30 in Tokyo: closed until Monday 09:00 JST.
    written = at(NEW_YORK, 2026, 6, 5, 20, 30)
    policy = one_target(FIRST_RESPONSE, 2 * H)

    state = sla.start(policy, TOKYO_CAL, at=written, status="new")
    promised = sla.expected_first_response(policy, TOKYO_CAL, at=written)

    # Monday 11:00 JST = 02:00 UTC = Sunday 22:00 EDT: one instant, two wall clocks.
    assert clock(state, FIRST_RESPONSE).due_at == datetime(2026, 6, 8, 2, tzinfo=UTC)
    assert promised == datetime(2026, 6, 8, 2, tzinfo=UTC)
    assert promised is not None
    assert format_local_datetime(promised, "en") == "Monday 8 June at 11:00 (JST)"
    assert format_local_datetime(promised, "en", tz=NEW_YORK) == "Sunday 7 June at 22:00 (EDT)"


# -- pauses, replies, reopening -------------------------------------------------------


def test_a_pause_spanning_two_holidays_counts_only_open_time() -> None:
    # Friday 4 December 2026; Monday 7 (Madrid) and Tuesday 8 (Spain) are holidays.
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 12, 4, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 12, 4, 9, 30))
    # Unpaused, 16 h would be Friday 8 h + Wednesday 8 h -> Wednesday 18:00.
    assert clock(state, RESOLUTION).due_at == at(MADRID, 2026, 12, 9, 18)

    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="open", new="pending", at=at(MADRID, 2026, 12, 4, 17)
    )
    paused = clock(state, RESOLUTION)
    assert paused.status == "paused"
    assert paused.used == 7 * 3600  # 09-14 and 15-17
    assert paused.due_at is None
    assert sla.next_due(state) is None  # nothing runs: the due index drops the ticket
    assert sla.crossings(state, now=at(MADRID, 2026, 12, 10, 12)) == []
    [row] = [
        v
        for v in sla.report(state, MADRID_CAL, now=at(MADRID, 2026, 12, 7, 12))
        if v.target == RESOLUTION
    ]
    # Friday 17-18 is the only working hour of the pause so far (Monday is a holiday).
    assert (row.status, row.remaining, row.paused, row.due_at) == ("paused", 9 * H, H, None)

    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="pending", new="open", at=at(MADRID, 2026, 12, 9, 10)
    )
    resumed = clock(state, RESOLUTION)
    # 9 h left from Wednesday 10:00: 10-14, 15-18 (7 h), Thursday 09-11 (2 h).
    assert resumed.due_at == at(MADRID, 2026, 12, 10, 11)
    # 5 h 48 min to the warning: 10-14 (4 h), then 15:00 + 1 h 48 min.
    assert resumed.warn_at == at(MADRID, 2026, 12, 9, 16, 48)
    assert resumed.paused_total == 2 * 3600  # Friday 17-18 and Wednesday 09-10
    assert sla.next_due(state) == at(MADRID, 2026, 12, 9, 16, 48)


def test_reopening_resumes_resolution_with_the_time_that_was_left() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 20))
    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="open", new="solved", at=at(MADRID, 2026, 6, 8, 16)
    )
    solved = clock(state, RESOLUTION)
    assert (solved.status, solved.used) == ("met", 6 * 3600)  # 09-14 and 15-16
    assert sla.next_due(state) is None

    # Reopened on Friday at 17:00, long after the original Tuesday 18:00 deadline.
    friday = at(MADRID, 2026, 6, 12, 17)
    state = sla.status_changed(state, STANDARD, MADRID_CAL, old="solved", new="open", at=friday)

    reopened = clock(state, RESOLUTION)
    # 10 h left: Friday 17-18, Monday 8 h, Tuesday 09-10.
    assert reopened.due_at == at(MADRID, 2026, 6, 16, 10)
    # 6 h 48 min to the warning: Friday 1 h, Monday 09-14 5 h, 15:00 + 48 min.
    assert reopened.warn_at == at(MADRID, 2026, 6, 15, 15, 48)
    assert reopened.status == "running"
    assert sla.crossings(state, now=friday) == []  # not breached at once
    assert sla.next_due(state) == at(MADRID, 2026, 6, 15, 15, 48)
    assert state.clock(NEXT_RESPONSE) is None  # the agent reopened it; nobody wrote


def test_a_customer_reopening_starts_one_next_response_clock_in_either_order() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 20))
    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="open", new="solved", at=at(MADRID, 2026, 6, 8, 16)
    )
    friday = at(MADRID, 2026, 6, 12, 17)

    message_first = sla.status_changed(
        sla.customer_message(state, MADRID_CAL, at=friday),
        STANDARD,
        MADRID_CAL,
        old="solved",
        new="open",
        at=friday,
    )
    reopen_first = sla.customer_message(
        sla.status_changed(state, STANDARD, MADRID_CAL, old="solved", new="open", at=friday),
        MADRID_CAL,
        at=friday,
    )

    assert message_first == reopen_first
    # 4 h: Friday 17-18, Monday 09:00 + 3 h.
    assert clock(message_first, NEXT_RESPONSE).due_at == at(MADRID, 2026, 6, 15, 12)
    assert clock(message_first, RESOLUTION).due_at == at(MADRID, 2026, 6, 16, 10)


def test_next_response_starts_after_an_agent_reply_and_only_once() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    before_reply = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 10))
    assert before_reply == state  # still waiting for the first response

    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 30))
    first = clock(state, FIRST_RESPONSE)
    assert (first.status, first.met_at, first.used) == ("met", at(MADRID, 2026, 6, 8, 9, 30), 1800)

    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 10))
    nxt = clock(state, NEXT_RESPONSE)
    assert nxt.started_at == at(MADRID, 2026, 6, 8, 10)
    assert nxt.warn_at == at(MADRID, 2026, 6, 8, 13)
    assert nxt.due_at == at(MADRID, 2026, 6, 8, 14)  # lands exactly on closing time

    again = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 11))
    assert again == state  # a second message before the answer does not restart it

    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 12))
    assert (clock(state, NEXT_RESPONSE).status, clock(state, NEXT_RESPONSE).used) == ("met", 7200)

    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 13))
    cycle = clock(state, NEXT_RESPONSE)
    # 13-14 and 15-18: a new clock from zero.
    assert (cycle.started_at, cycle.due_at, cycle.level) == (
        at(MADRID, 2026, 6, 8, 13),
        at(MADRID, 2026, 6, 8, 18),
        0,
    )


def test_first_response_never_pauses() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="pending")

    assert clock(state, FIRST_RESPONSE).status == "running"
    assert clock(state, RESOLUTION).status == "paused"
    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="pending", new="open", at=at(MADRID, 2026, 6, 8, 11)
    )
    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="open", new="pending", at=at(MADRID, 2026, 6, 8, 11, 30)
    )
    assert clock(state, FIRST_RESPONSE).due_at == at(MADRID, 2026, 6, 8, 10)
    # Resolution ran 11:00-11:30 only.
    assert clock(state, RESOLUTION).used == 1800
    assert clock(state, RESOLUTION).paused_total == 2 * 3600


def test_solving_meets_every_running_target() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 30))
    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 10))
    solved_at = at(MADRID, 2026, 6, 8, 11)

    state = sla.status_changed(state, STANDARD, MADRID_CAL, old="open", new="solved", at=solved_at)

    assert [c.status for c in state.clocks] == ["met", "met", "met"]
    assert clock(state, NEXT_RESPONSE).met_at == solved_at
    assert sla.next_due(state) is None
    assert sla.crossings(state, now=at(MADRID, 2026, 7, 1, 12)) == []
    closed = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="solved", new="closed", at=solved_at + H
    )
    assert closed == replace(state, ticket_status="closed")


def test_pause_rules_come_from_the_current_policy_or_the_snapshot() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 30))
    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 10))
    # The admin has since made next response pause while pending too.
    edited = replace(
        STANDARD,
        targets=(
            STANDARD.targets[0],
            replace(STANDARD.targets[1], pause_when=PENDING),
            STANDARD.targets[2],
        ),
    )
    noon = at(MADRID, 2026, 6, 8, 12)

    current = sla.status_changed(state, edited, MADRID_CAL, old="open", new="pending", at=noon)
    stored = sla.status_changed(state, None, MADRID_CAL, old="open", new="pending", at=noon)

    assert clock(current, NEXT_RESPONSE).status == "paused"
    assert clock(stored, NEXT_RESPONSE).status == "running"
    assert clock(stored, RESOLUTION).status == "paused"
    with pytest.raises(ValueError, match="under policy 'standard'"):
        sla.status_changed(
            state, sla.DEFAULT_POLICY, MADRID_CAL, old="open", new="pending", at=noon
        )


# -- crossings and escalation levels ----------------------------------------------------


def test_warning_then_breach_then_second_breach_each_exactly_once() -> None:
    started = at(MADRID, 2026, 6, 8, 9)
    state = sla.start(STANDARD, MADRID_CAL, at=started, status="new")

    assert sla.crossings(state, now=at(MADRID, 2026, 6, 8, 9, 44)) == []
    [warning] = sla.crossings(state, now=at(MADRID, 2026, 6, 8, 9, 45))
    assert warning == Crossing(
        kind="warning",
        target=FIRST_RESPONSE,
        due_at=at(MADRID, 2026, 6, 8, 9, 45),
        policy="standard",
        level=1,
        previous_level=0,
        started_at=started,
    )
    state = sla.record(state, warning, at=at(MADRID, 2026, 6, 8, 9, 46))
    assert clock(state, FIRST_RESPONSE).warned_at == at(MADRID, 2026, 6, 8, 9, 46)
    assert sla.record(state, warning, at=at(MADRID, 2026, 6, 8, 9, 47)) == state
    assert sla.crossings(state, now=at(MADRID, 2026, 6, 8, 9, 59)) == []
    assert sla.next_due(state) == at(MADRID, 2026, 6, 8, 10)

    [breach] = sla.crossings(state, now=at(MADRID, 2026, 6, 8, 10))
    assert (breach.kind, breach.level, breach.previous_level) == ("breach", 2, 1)
    state = sla.record(state, breach, at=at(MADRID, 2026, 6, 8, 10))
    assert clock(state, FIRST_RESPONSE).status == "breached"
    assert sla.crossings(state, now=at(MADRID, 2026, 6, 8, 10, 59)) == []
    # The second breach is one more full hour of working time without an answer.
    assert sla.next_due(state) == at(MADRID, 2026, 6, 8, 11)

    [second] = sla.crossings(state, now=at(MADRID, 2026, 6, 8, 11))
    assert (second.kind, second.due_at, second.level) == (
        "second_breach",
        at(MADRID, 2026, 6, 8, 11),
        3,
    )
    assert second.to_dict() == {
        "kind": "second_breach",
        "target": "first_response",
        "due_at": "2026-06-08T09:00:00.000000Z",
        "policy": "standard",
        "level": 3,
    }
    state = sla.record(state, second, at=at(MADRID, 2026, 6, 8, 11, 1))
    assert clock(state, FIRST_RESPONSE).level == 3
    # Nothing more for first response; next is resolution's warning, Tuesday 13:48.
    assert sla.crossings(state, now=at(MADRID, 2026, 6, 8, 17)) == []
    assert sla.next_due(state) == at(MADRID, 2026, 6, 9, 13, 48)

    views = {v.target: v for v in sla.report(state, MADRID_CAL, now=at(MADRID, 2026, 6, 8, 12))}
    # 09-12 is 3 h of a 1 h target.
    assert (views[FIRST_RESPONSE].status, views[FIRST_RESPONSE].remaining) == ("breached", -2 * H)
    assert (views[RESOLUTION].status, views[RESOLUTION].remaining) == ("running", 13 * H)
    assert views[RESOLUTION].due_at == at(MADRID, 2026, 6, 9, 18)


def test_a_late_timer_run_reports_only_the_highest_level() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")

    # Warning (09:45) and deadline (10:00) both passed: one breach, no stale warning.
    [late] = sla.crossings(state, now=at(MADRID, 2026, 6, 8, 10, 30))
    assert (late.kind, late.due_at, late.previous_level) == (
        "breach",
        at(MADRID, 2026, 6, 8, 10),
        0,
    )
    state = sla.record(state, late, at=at(MADRID, 2026, 6, 8, 10, 30))
    assert clock(state, FIRST_RESPONSE).warned_at is None
    assert sla.crossings(state, now=at(MADRID, 2026, 6, 8, 10, 31)) == []


def test_paused_and_met_targets_cross_nothing() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 30))
    state = sla.status_changed(
        state, STANDARD, MADRID_CAL, old="open", new="pending", at=at(MADRID, 2026, 6, 8, 10)
    )

    # A month on: resolution would be long breached had it been running.
    assert sla.crossings(state, now=at(MADRID, 2026, 7, 8, 10)) == []
    assert sla.next_due(state) is None


def test_a_crossing_of_an_earlier_next_response_cycle_is_not_recorded() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 30))
    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 10))
    [stale] = [
        c for c in sla.crossings(state, now=at(MADRID, 2026, 6, 8, 13)) if c.target == NEXT_RESPONSE
    ]
    # Before the timer records it, the agent answers and the customer writes again.
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 13))
    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 13, 5))

    assert sla.record(state, stale, at=at(MADRID, 2026, 6, 8, 13, 6)) == state


# -- storage ----------------------------------------------------------------------------


def _eventful_state() -> SlaState:
    """A state with every kind of field set: met, paused, recorded levels, microseconds."""
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="new")
    [warning] = sla.crossings(state, now=at(MADRID, 2026, 6, 8, 9, 50))
    state = sla.record(state, warning, at=at(MADRID, 2026, 6, 8, 9, 50))
    state = sla.agent_reply(
        state, MADRID_CAL, at=datetime(2026, 6, 8, 7, 55, 1, 123456, tzinfo=UTC)
    )
    state = sla.customer_message(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 10))
    return sla.status_changed(
        state, STANDARD, MADRID_CAL, old="open", new="pending", at=at(MADRID, 2026, 6, 8, 11)
    )


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return isinstance(value, str | int | bool) and not isinstance(value, float)


def test_the_state_round_trips_through_json() -> None:
    state = _eventful_state()
    data = state.to_dict()

    assert _plain(data)
    assert SlaState.from_dict(json.loads(json.dumps(data))) == state
    assert data["clocks"]["first_response"]["level"] == 1
    assert data["clocks"]["first_response"]["met_at"] == "2026-06-08T07:55:01.123456Z"
    assert data["clocks"]["resolution"]["status"] == "paused"
    assert data["terms"]["resolution"] == {
        "within": 57600,
        "warn_after": 46080,
        "hours": "business",
        "pause_when": ["pending"],
    }


def test_the_state_round_trips_through_a_dynamodb_map_attribute() -> None:
    state = _eventful_state()

    attribute = TypeSerializer().serialize(state.to_dict())
    back = TypeDeserializer().deserialize(attribute)  # numbers come back as Decimal

    assert attribute["M"]["clocks"]["M"]["first_response"]["M"]["level"] == {"N": "1"}
    assert SlaState.from_dict(back) == state


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d["clocks"]["first_response"].update(level=7), "level is 7"),
        (
            lambda d: d["clocks"].update(first_reply=d["clocks"]["first_response"]),
            "unknown targets",
        ),
        (lambda d: d["terms"].pop("next_response"), "a clock without terms"),
        (lambda d: d["clocks"]["resolution"].update(used="7h"), "not a whole number"),
        (lambda d: d.pop("policy"), "'policy'"),
        (lambda d: d.update(ticket_status="archived"), "ticket_status must be one of"),
    ],
)
def test_a_damaged_state_is_refused(change: Any, message: str) -> None:
    data = json.loads(json.dumps(_eventful_state().to_dict()))
    change(data)

    with pytest.raises(ValueError, match=message):
        SlaState.from_dict(data)


def test_naive_times_and_unknown_statuses_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sla.start(STANDARD, MADRID_CAL, at=datetime(2026, 6, 8, 9), status="new")
    with pytest.raises(ValueError, match="status must be one of"):
        sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status="waiting")


def test_the_models_enums_are_accepted_and_stored_as_plain_strings() -> None:
    state = sla.start(STANDARD, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9), status=TicketStatus.NEW)
    state = sla.agent_reply(state, MADRID_CAL, at=at(MADRID, 2026, 6, 8, 9, 30))
    state = sla.status_changed(
        state,
        STANDARD,
        MADRID_CAL,
        old=TicketStatus.NEW,
        new=TicketStatus.PENDING,
        at=at(MADRID, 2026, 6, 8, 10),
    )

    data = state.to_dict()
    assert type(data["ticket_status"]) is str
    assert data["ticket_status"] == "pending"
    assert clock(state, RESOLUTION).status == "paused"
    conditions = sla.PolicyConditions(channels=("chat",))
    assert conditions.matches(
        priority="normal", channel=Channel.CHAT, team=None, customer_tags=(), language=None
    )
