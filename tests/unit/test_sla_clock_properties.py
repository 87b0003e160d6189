"""Properties of business time and of the SLA clocks, for any moments hypothesis picks.

What is proved (for the calendars below: a split shift with holidays, a night shift
crossing midnight and both US clock changes, a London night desk whose window holds the
UK clock changes, and a Tokyo office; moments anywhere in 2026-2027):

1. business time between two moments is never negative, and zero when b <= a;
2. it adds up over any split point: between(a, c) == between(a, b) + between(b, c);
3. it is zero over an interval wholly outside working hours (from a closed moment to the
   next opening), and equals the wall time over an interval wholly inside one;
4. t = add_business_time(start, between(start, end)) consumes exactly that much open
   time, and if that is more than zero then t <= end, no open time lies in [t, end), and
   t is the first such instant (one microsecond earlier, less has elapsed); if it is
   zero, t is the next opening after start (which may lie after end);
5. between(start, add_business_time(start, x)) == x for any amount x;
6. an SLA deadline (warning, due, second breach) lies where the open time since the start,
   minus the open time spent paused, equals the threshold, whatever the pauses;
7. every state an event sequence reaches survives to_dict/from_dict (and JSON) unchanged;
8. recording the crossings a timer finds leaves none due at that moment, puts next_due
   after it, and no level of one clock is ever recorded twice;
9. expected_first_response is the first-response deadline start() schedules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core import sla
from functions.core.hours import Calendar, CalendarSpec
from functions.core.sla import (
    FIRST_RESPONSE,
    NEXT_RESPONSE,
    RESOLUTION,
    SlaPolicy,
    SlaState,
    TargetSpec,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)
WEEKDAYS = range(5)

MADRID = Calendar(
    CalendarSpec(
        "madrid",
        "Europe/Madrid",
        dict.fromkeys(WEEKDAYS, ((time(9), time(14)), (time(15), time(18)))),
        holiday_country="ES",
        holiday_subdivision="MD",
    )
)
NEW_YORK_NIGHTS = Calendar(
    CalendarSpec("ny-nights", "America/New_York", dict.fromkeys(WEEKDAYS, ((time(22), time(6)),)))
)
LONDON_NIGHTS = Calendar(
    CalendarSpec("london-nights", "Europe/London", dict.fromkeys(range(7), ((time(0), time(6)),)))
)
TOKYO = Calendar(
    CalendarSpec("tokyo", "Asia/Tokyo", dict.fromkeys(WEEKDAYS, ((time(9), time(18)),)))
)
CALENDARS = (MADRID, NEW_YORK_NIGHTS, LONDON_NIGHTS, TOKYO)

calendars = st.sampled_from(CALENDARS)
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))
# Whole minutes, like the calendars' windows: clock seconds are then exact integers.
minute_moments = st.integers(min_value=0, max_value=2 * 365 * 24 * 60).map(
    lambda n: datetime(2026, 1, 1, tzinfo=UTC) + n * M
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POLICY = SlaPolicy(
    "standard",
    (
        TargetSpec(FIRST_RESPONSE, H, 45 * M),
        TargetSpec(NEXT_RESPONSE, 4 * H, 3 * H),
        TargetSpec(RESOLUTION, 16 * H, 12 * H + 48 * M, pause_when=frozenset({"pending"})),
    ),
)


# -- business time -------------------------------------------------------------------------


@PROPERTY
@given(calendars, moments, moments)
def test_business_time_is_never_negative(cal: Calendar, a: datetime, b: datetime) -> None:
    between = cal.business_time_between(a, b)

    assert between >= timedelta(0)
    if b <= a:
        assert between == timedelta(0)


@PROPERTY
@given(calendars, moments, spans, spans)
def test_business_time_adds_up_over_any_split(
    cal: Calendar, a: datetime, first: timedelta, second: timedelta
) -> None:
    b = a + first
    c = b + second

    assert cal.business_time_between(a, c) == cal.business_time_between(
        a, b
    ) + cal.business_time_between(b, c)


@PROPERTY
@given(calendars, moments, st.floats(min_value=0, max_value=1))
def test_business_time_is_zero_outside_and_wall_time_inside_working_hours(
    cal: Calendar, a: datetime, share: float
) -> None:
    if cal.is_open(a):
        close = cal.current_close(a)
        assert close is not None
        inside = a + (close - a) * share
        assert cal.business_time_between(a, inside) == inside - a
        assert cal.business_time_between(a, close) == close - a
    else:
        opening = cal.next_open(a)
        assert opening is not None
        part = a + (opening - a) * share
        assert cal.business_time_between(a, opening) == timedelta(0)
        assert cal.business_time_between(a, part) == timedelta(0)


@PROPERTY
@given(calendars, moments, spans)
def test_adding_the_business_time_between_lands_on_the_last_open_instant(
    cal: Calendar, start: datetime, span: timedelta
) -> None:
    end = start + span
    elapsed = cal.business_time_between(start, end)

    landed = cal.add_business_time(start, elapsed).astimezone(UTC)

    assert cal.business_time_between(start, landed) == elapsed
    if elapsed > timedelta(0):
        assert landed <= end
        assert cal.business_time_between(landed, end) == timedelta(0)
        assert cal.business_time_between(start, landed - US) < elapsed
    else:
        assert landed == cal.next_open(start)


@PROPERTY
@given(calendars, moments, st.timedeltas(min_value=timedelta(0), max_value=100 * H))
def test_business_time_after_adding_is_what_was_added(
    cal: Calendar, start: datetime, amount: timedelta
) -> None:
    due = cal.add_business_time(start, amount)

    assert due >= start
    assert cal.business_time_between(start, due) == amount


# -- SLA clocks --------------------------------------------------------------------------


@PROPERTY
@given(
    calendars,
    minute_moments,
    st.lists(st.integers(min_value=1, max_value=3 * 24 * 60), min_size=0, max_size=8),
)
def test_deadlines_exclude_exactly_the_paused_working_time(
    cal: Calendar, created: datetime, gaps: list[int]
) -> None:
    """Pending and open alternate after each gap (in minutes); resolution pauses."""
    state = sla.start(POLICY, cal, at=created, status="open")
    pauses: list[tuple[datetime, datetime]] = []
    moment, status = created, "open"
    for gap in gaps:
        moment += gap * M
        new = "pending" if status == "open" else "open"
        state = sla.status_changed(state, POLICY, cal, old=status, new=new, at=moment)
        if new == "open":
            pauses.append((pauses.pop()[0], moment))
        else:
            pauses.append((moment, moment))  # still open-ended; closed on resume
        status = new

    clock = state.clock(RESOLUTION)
    assert clock is not None
    spec = POLICY.target(RESOLUTION)
    assert spec is not None
    completed = pauses if status == "open" else pauses[:-1]
    assert clock.paused_total * sla._SECOND == sum(
        (cal.business_time_between(p, r) for p, r in completed), timedelta(0)
    )
    for deadline, threshold in (
        (clock.warn_at, spec.warn_after),
        (clock.due_at, spec.within),
        (clock.second_due_at, 2 * spec.within),
    ):
        if deadline is None:
            continue  # paused before reaching it: not scheduled
        if status == "pending":
            # a deadline kept while paused was reached before the pause began
            assert deadline <= pauses[-1][0]
        paused_before = sum(
            (cal.business_time_between(p, min(r, deadline)) for p, r in completed),
            timedelta(0),
        )
        assert cal.business_time_between(created, deadline) - paused_before == threshold


EVENTS = st.sampled_from(["customer", "agent", "pending", "open", "solved", "tick"])


@PROPERTY
@given(
    calendars,
    minute_moments,
    st.lists(st.tuples(EVENTS, st.integers(min_value=0, max_value=2 * 24 * 60)), max_size=25),
)
def test_any_event_sequence_round_trips_and_escalates_each_level_once(
    cal: Calendar, created: datetime, events: list[tuple[str, int]]
) -> None:
    state = sla.start(POLICY, cal, at=created, status="new")
    status, moment = "new", created
    recorded: set[tuple[str, datetime, int]] = set()
    for event, gap in events:
        moment += gap * M
        if event == "customer":
            state = sla.customer_message(state, cal, at=moment)
        elif event == "agent":
            state = sla.agent_reply(state, cal, at=moment)
        elif event == "tick":
            for crossing in sla.crossings(state, now=moment):
                key = (crossing.target, crossing.started_at, crossing.level)
                assert key not in recorded
                recorded.add(key)
                assert crossing.due_at <= moment
                state = sla.record(state, crossing, at=moment)
            assert sla.crossings(state, now=moment) == []
            due = sla.next_due(state)
            assert due is None or due > moment
        elif event != status:
            state = sla.status_changed(state, POLICY, cal, old=status, new=event, at=moment)
            status = event

        data = state.to_dict()
        assert SlaState.from_dict(json.loads(json.dumps(data))) == state
        for clock in state.clocks:
            spec = state.spec(clock.target)
            assert spec is not None
            assert clock.paused_total >= 0
            assert 0 <= clock.level <= 3
            # the next-response clock exists only once an agent has answered something
            if clock.target == NEXT_RESPONSE:
                first = state.clock(FIRST_RESPONSE)
                assert first is not None
                assert first.met_at is not None


@PROPERTY
@given(calendars, moments)
def test_the_promise_is_the_first_response_deadline(cal: Calendar, created: datetime) -> None:
    state = sla.start(POLICY, cal, at=created, status="new")
    clock = state.clock(FIRST_RESPONSE)
    assert clock is not None

    promised = sla.expected_first_response(POLICY, cal, at=created)

    assert promised == clock.due_at
    assert promised is not None
    assert promised.tzinfo == cal.tz
