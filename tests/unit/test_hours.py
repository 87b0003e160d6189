"""Business-hours calendars: the after-hours reply and the SLA clock depend on these."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from functions.core.hours import Calendar, CalendarSpec, CalendarSpecError

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)
US = timedelta(microseconds=1)

SPLIT_SHIFT = ((time(9), time(14)), (time(15), time(18)))
WEEKDAYS = range(5)
ALL_DAYS = range(7)


def madrid(**overrides: object) -> Calendar:
    """Mon-Fri 09:00-14:00 and 15:00-18:00 in Madrid with the Madrid holidays."""
    fields: dict[str, object] = {
        "name": "madrid",
        "timezone": "Europe/Madrid",
        "windows": dict.fromkeys(WEEKDAYS, SPLIT_SHIFT),
        "holiday_country": "ES",
        "holiday_subdivision": "MD",
    }
    fields.update(overrides)
    return Calendar(CalendarSpec(**fields))  # type: ignore[arg-type]


def every_day(tz: str, *windows: tuple[time, time], days: range = ALL_DAYS) -> Calendar:
    return Calendar(CalendarSpec("test", tz, dict.fromkeys(days, windows)))


MADRID_CAL = madrid()
NIGHT_NY = every_day("America/New_York", (time(22), time(6)))
ALWAYS = every_day("Europe/Madrid", (time(0), time(0)))
# Sunday windows whose edges sit in the spring gap and the autumn fold.
EDGES = Calendar(
    CalendarSpec(
        "edges",
        "Europe/Madrid",
        {5: ((time(23), time(1)),), 6: ((time(1, 30), time(2, 30)), (time(2, 45), time(4)))},
    )
)


def utc(value: datetime) -> datetime:
    # Compare and sort in UTC: same-zone datetimes compare by wall time (ignoring fold).
    return value.astimezone(UTC)


def at(  # noqa: PLR0917 - reads like the datetime(...) it builds
    tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold)


# -- the Madrid split shift ------------------------------------------------------


def test_friday_afternoon_plus_one_business_hour_is_monday_morning() -> None:
    due = MADRID_CAL.add_business_time(at(MADRID, 2026, 6, 5, 17, 30), H)

    assert due == at(MADRID, 2026, 6, 8, 9, 30)
    assert due.tzinfo == MADRID


def test_friday_night_reopens_monday_at_nine() -> None:
    assert MADRID_CAL.next_open(at(MADRID, 2026, 6, 5, 23, 59)) == at(MADRID, 2026, 6, 8, 9)
    assert not MADRID_CAL.is_open(at(MADRID, 2026, 6, 6, 12))


def test_lunch_break_is_closed_and_a_deadline_can_land_on_closing_time() -> None:
    monday_nine = at(MADRID, 2026, 6, 8, 9)

    assert not MADRID_CAL.is_open(at(MADRID, 2026, 6, 8, 14, 30))
    assert not MADRID_CAL.is_open(at(MADRID, 2026, 6, 8, 14))  # windows are [start, end)
    assert MADRID_CAL.next_open(at(MADRID, 2026, 6, 8, 14, 30)) == at(MADRID, 2026, 6, 8, 15)
    assert MADRID_CAL.current_close(at(MADRID, 2026, 6, 8, 10)) == at(MADRID, 2026, 6, 8, 14)
    assert MADRID_CAL.current_close(at(MADRID, 2026, 6, 8, 14, 30)) is None
    assert MADRID_CAL.add_business_time(monday_nine, 5 * H) == at(MADRID, 2026, 6, 8, 14)
    assert MADRID_CAL.add_business_time(monday_nine, 6 * H) == at(MADRID, 2026, 6, 8, 16)
    assert MADRID_CAL.add_business_time(at(MADRID, 2026, 6, 8, 14), timedelta(0)) == at(
        MADRID, 2026, 6, 8, 15
    )
    assert MADRID_CAL.add_business_time(monday_nine, timedelta(0)) == monday_nine
    assert MADRID_CAL.business_time_between(monday_nine, at(MADRID, 2026, 6, 9, 9)) == 8 * H


def test_200_business_hours_is_25_working_days() -> None:
    # Mon 2026-06-08 09:00 + 25 eight-hour days = Fri 2026-07-10 18:00 (no holidays between).
    start = at(MADRID, 2026, 6, 8, 9)
    due = MADRID_CAL.add_business_time(start, 200 * H)

    assert due == at(MADRID, 2026, 7, 10, 18)
    assert MADRID_CAL.business_time_between(start, due) == 200 * H


def test_a_national_holiday_on_monday_is_skipped() -> None:
    columbus = date(2026, 10, 12)
    assert columbus.weekday() == 0
    assert columbus in holidays.country_holidays("ES", years=2026)

    due = MADRID_CAL.add_business_time(at(MADRID, 2026, 10, 9, 17, 30), H)

    assert due == at(MADRID, 2026, 10, 13, 9, 30)
    assert not MADRID_CAL.is_open(at(MADRID, 2026, 10, 12, 10))
    expected = holidays.country_holidays("ES", subdiv="MD", years=2026)[columbus]
    assert MADRID_CAL.holiday_name(columbus) == expected


def test_the_subdivision_adds_regional_holidays() -> None:
    # 2026-12-07 (Mon) is a Madrid holiday only; 2026-12-08 (Tue) is national.
    national = holidays.country_holidays("ES", years=2026)
    regional = holidays.country_holidays("ES", subdiv="MD", years=2026)
    assert date(2026, 12, 7) not in national
    assert date(2026, 12, 7) in regional
    assert date(2026, 12, 8) in national
    friday = at(MADRID, 2026, 12, 4, 17, 30)

    assert MADRID_CAL.add_business_time(friday, H) == at(MADRID, 2026, 12, 9, 9, 30)
    spain = madrid(holiday_subdivision=None)
    assert spain.add_business_time(friday, H) == at(MADRID, 2026, 12, 7, 9, 30)
    assert spain.holiday_name(date(2026, 12, 7)) is None


def test_a_pause_spanning_holidays_counts_only_open_time() -> None:
    friday = at(MADRID, 2026, 12, 4, 17)
    wednesday = at(MADRID, 2026, 12, 9, 10)
    monday_noon = at(MADRID, 2026, 12, 7, 12)

    assert MADRID_CAL.business_time_between(friday, wednesday) == 2 * H
    assert MADRID_CAL.business_time_between(friday, monday_noon) == H
    assert MADRID_CAL.business_time_between(monday_noon, wednesday) == H


def test_holidays_are_looked_up_in_the_right_year() -> None:
    assert MADRID_CAL.is_open(at(MADRID, 2026, 12, 31, 10))
    assert not MADRID_CAL.is_open(at(MADRID, 2027, 1, 1, 10))
    assert MADRID_CAL.next_open(at(MADRID, 2026, 12, 31, 19)) == at(MADRID, 2027, 1, 4, 9)


def test_explicit_closure_closes_the_day() -> None:
    cal = madrid(closures=frozenset({date(2026, 6, 8)}))

    assert cal.holiday_name(date(2026, 6, 8)) == "Closure"
    assert not cal.is_open(at(MADRID, 2026, 6, 8, 10))
    assert cal.add_business_time(at(MADRID, 2026, 6, 5, 17, 30), H) == at(MADRID, 2026, 6, 9, 9, 30)


def test_an_opening_overrides_a_holiday_but_adds_no_hours() -> None:
    cal = madrid(openings=frozenset({date(2026, 10, 12), date(2026, 6, 6)}))

    assert cal.holiday_name(date(2026, 10, 12)) is None
    assert cal.is_open(at(MADRID, 2026, 10, 12, 10))
    assert not cal.is_open(at(MADRID, 2026, 6, 6, 10))  # a Saturday has no windows


def test_holiday_name_of_an_ordinary_day_is_none() -> None:
    assert MADRID_CAL.holiday_name(date(2026, 6, 9)) is None


# -- daylight saving ---------------------------------------------------------------


def test_madrid_spring_forward_inside_a_window() -> None:
    cal = every_day("Europe/Madrid", (time(0), time(6)))
    sunday = at(MADRID, 2026, 3, 29, 0)

    assert cal.business_time_between(sunday, at(MADRID, 2026, 3, 29, 12)) == 5 * H
    assert cal.add_business_time(sunday, 3 * H) == at(MADRID, 2026, 3, 29, 4)
    assert cal.current_close(sunday) == at(MADRID, 2026, 3, 29, 6)


def test_a_window_starting_in_the_spring_gap_starts_when_the_clocks_change() -> None:
    sunday = at(MADRID, 2026, 3, 29, 0)
    change = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST

    assert EDGES.next_open(at(MADRID, 2026, 3, 29, 1, 45)) == at(MADRID, 2026, 3, 29, 1, 45)
    assert EDGES.current_close(at(MADRID, 2026, 3, 29, 1, 45)) == at(MADRID, 2026, 3, 29, 4)
    # Saturday's 23:00-01:00, clipped; then 01:30-02:30 ends and 02:45-04:00 starts at
    # the change, so the two Sunday windows touch and are one interval.
    assert list(EDGES.open_intervals(sunday, sunday + 6 * H)) == [
        (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 0, tzinfo=UTC)),
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC)),
    ]
    assert EDGES.business_time_between(sunday, change) == H + 0.5 * H
    gap_only = every_day("Europe/Madrid", (time(2, 30), time(4)), days=range(6, 7))
    assert gap_only.next_open(sunday) == at(MADRID, 2026, 3, 29, 3)
    assert gap_only.business_time_between(sunday, sunday + 12 * H) == H
    next_sunday = at(MADRID, 2026, 4, 5, 0)
    assert gap_only.business_time_between(next_sunday, next_sunday + 12 * H) == 1.5 * H


def test_madrid_fall_back_counts_the_repeated_hour() -> None:
    cal = every_day("Europe/Madrid", (time(0), time(6)))
    sunday = at(MADRID, 2026, 10, 25, 0)

    assert cal.business_time_between(sunday, at(MADRID, 2026, 10, 25, 12)) == 7 * H
    assert cal.add_business_time(sunday, 6 * H) == at(MADRID, 2026, 10, 25, 5)
    assert cal.is_open(at(MADRID, 2026, 10, 25, 2, 30, fold=0))
    assert cal.is_open(at(MADRID, 2026, 10, 25, 2, 30, fold=1))
    # Edges inside the fold take the first occurrence: Saturday's window until 01:00
    # (1 h), 01:30-02:30 CEST (1 h), 02:45 CEST-04:00 CET (2 h 15 min).
    assert EDGES.business_time_between(sunday, sunday + 12 * H) == 4.25 * H


def test_new_york_spring_forward_in_a_night_shift() -> None:
    saturday = at(NEW_YORK, 2026, 3, 7, 22)

    assert NIGHT_NY.business_time_between(saturday, saturday + 12 * H) == 7 * H
    due = NIGHT_NY.add_business_time(saturday, 4 * H)
    assert due == at(NEW_YORK, 2026, 3, 8, 3)
    assert due.utcoffset() == -4 * H
    assert NIGHT_NY.current_close(saturday) == at(NEW_YORK, 2026, 3, 8, 6)


def test_new_york_fall_back_in_a_night_shift() -> None:
    saturday = at(NEW_YORK, 2026, 10, 31, 22)

    assert NIGHT_NY.business_time_between(saturday, saturday + 12 * H) == 9 * H
    due = NIGHT_NY.add_business_time(saturday, 4 * H)
    # The second 01:00 (EST). Compared in UTC: Python never finds a fold=1 time equal
    # to a time in another zone, and same-zone comparison ignores fold.
    assert utc(due) == datetime(2026, 11, 1, 6, tzinfo=UTC)
    assert (due.hour, due.fold, due.utcoffset()) == (1, 1, -5 * H)


# -- zones, 24-hour and overnight calendars ---------------------------------------------


def test_tokyo_calendar_asked_in_new_york_time() -> None:
    cal = every_day("Asia/Tokyo", (time(9), time(18)), days=WEEKDAYS)
    thursday_evening_ny = at(NEW_YORK, 2026, 6, 4, 20, 30)  # Fri 09:30 in Tokyo
    friday_evening_ny = at(NEW_YORK, 2026, 6, 5, 20, 30)  # Sat 09:30 in Tokyo

    assert cal.is_open(thursday_evening_ny)
    assert cal.next_open(thursday_evening_ny) == thursday_evening_ny
    assert cal.current_close(thursday_evening_ny) == at(TOKYO, 2026, 6, 5, 18)
    assert not cal.is_open(friday_evening_ny)
    reopening = cal.next_open(friday_evening_ny)
    assert reopening == at(TOKYO, 2026, 6, 8, 9)
    assert reopening is not None
    assert reopening.tzinfo == TOKYO


def test_a_24_hour_calendar_counts_real_time_across_dst() -> None:
    spring = at(MADRID, 2026, 3, 29, 0)
    autumn = at(MADRID, 2026, 10, 25, 0)

    assert ALWAYS.business_time_between(spring, at(MADRID, 2026, 3, 30, 0)) == 23 * H
    assert ALWAYS.business_time_between(autumn, at(MADRID, 2026, 10, 26, 0)) == 25 * H
    assert ALWAYS.add_business_time(autumn, 200 * H) == autumn.astimezone(UTC) + 200 * H
    assert ALWAYS.next_open(autumn) == autumn
    assert ALWAYS.current_close(autumn) is None  # open for the whole 400-day horizon
    assert list(ALWAYS.open_intervals(spring, autumn)) == [
        (spring.astimezone(UTC), autumn.astimezone(UTC))
    ]


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    cal = Calendar(
        CalendarSpec(
            "night",
            "Europe/Madrid",
            dict.fromkeys(WEEKDAYS, ((time(22), time(6)),)),
            closures=frozenset({date(2026, 6, 8)}),
        )
    )

    assert cal.is_open(at(MADRID, 2026, 6, 6, 5))  # Friday's shift, Saturday morning
    assert not cal.is_open(at(MADRID, 2026, 6, 6, 22))
    assert not cal.is_open(at(MADRID, 2026, 6, 7, 23))
    assert not cal.is_open(at(MADRID, 2026, 6, 8, 23))  # Monday is closed...
    assert not cal.is_open(at(MADRID, 2026, 6, 9, 3))  # ...including its night
    assert cal.is_open(at(MADRID, 2026, 6, 9, 23))
    assert cal.current_close(at(MADRID, 2026, 6, 9, 23)) == at(MADRID, 2026, 6, 10, 6)
    assert cal.next_open(at(MADRID, 2026, 6, 6, 12)) == at(MADRID, 2026, 6, 9, 22)
    # 7 h of Friday's shift, Monday's is closed, the last hour is Tuesday 22:00-23:00.
    assert cal.add_business_time(at(MADRID, 2026, 6, 5, 23), 8 * H) == at(MADRID, 2026, 6, 9, 23)


def test_touching_windows_are_one_open_interval() -> None:
    cal = Calendar(
        CalendarSpec(
            "late",
            "Europe/Madrid",
            {0: ((time(18), time(0)),), 1: ((time(0), time(6)), (time(6), time(9)))},
        )
    )
    monday = at(MADRID, 2026, 6, 8, 12)

    assert cal.current_close(at(MADRID, 2026, 6, 8, 23)) == at(MADRID, 2026, 6, 9, 9)
    assert [
        (s.astimezone(MADRID), e.astimezone(MADRID))
        for s, e in cal.open_intervals(monday, monday + 48 * H)
    ] == [(at(MADRID, 2026, 6, 8, 18), at(MADRID, 2026, 6, 9, 9))]


def test_open_intervals_are_utc_and_clipped() -> None:
    start = at(MADRID, 2026, 6, 8, 10)
    intervals = list(MADRID_CAL.open_intervals(start, at(MADRID, 2026, 6, 8, 16)))

    assert intervals == [
        (datetime(2026, 6, 8, 8, tzinfo=UTC), datetime(2026, 6, 8, 12, tzinfo=UTC)),
        (datetime(2026, 6, 8, 13, tzinfo=UTC), datetime(2026, 6, 8, 14, tzinfo=UTC)),
    ]
    assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in intervals)


# -- limits and bad input ----------------------------------------------------------------


def test_no_opening_within_400_days_and_unreachable_business_time() -> None:
    mondays = frozenset(date(2026, 6, 8) + timedelta(weeks=n) for n in range(60))
    cal = Calendar(CalendarSpec("rare", "UTC", {0: ((time(9), time(10)),)}, closures=mondays))
    start = datetime(2026, 6, 8, tzinfo=UTC)

    assert cal.next_open(start) is None
    assert cal.next_open(start + timedelta(weeks=60)) == datetime(2027, 8, 2, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="not reachable within 5 years"):
        cal.add_business_time(start, 1000 * H)


def test_naive_datetimes_and_negative_amounts_are_refused() -> None:
    naive = datetime(2026, 6, 8, 10)
    aware = at(MADRID, 2026, 6, 8, 10)
    for call in (
        lambda: MADRID_CAL.is_open(naive),
        lambda: MADRID_CAL.next_open(naive),
        lambda: MADRID_CAL.current_close(naive),
        lambda: MADRID_CAL.open_intervals(naive, aware),
        lambda: MADRID_CAL.business_time_between(aware, naive),
        lambda: MADRID_CAL.add_business_time(naive, H),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()
    with pytest.raises(ValueError, match="negative"):
        MADRID_CAL.add_business_time(aware, -H)
    assert MADRID_CAL.business_time_between(aware + H, aware) == timedelta(0)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"timezone": "Europe/Madird"}, "timezone", "unknown IANA time zone 'Europe/Madird'"),
        ({"windows": {}}, "windows", "no open window"),
        (
            {"windows": {0: ((time(9), time(14)), (time(13), time(18)))}},
            "windows",
            "overlap: Mon 09:00-14:00 and Mon 13:00-18:00",
        ),
        (
            {"windows": {0: ((time(22), time(6)),), 1: ((time(5), time(9)),)}},
            "windows",
            "overlap: Mon 22:00-06:00 and Tue 05:00-09:00",
        ),
        (
            {"windows": {6: ((time(22), time(6)),), 0: ((time(5), time(9)),)}},
            "windows",
            "overlap: Sun 22:00-06:00 and Mon 05:00-09:00",
        ),
        (
            {"windows": {0: ((time(9), time(9)),)}},
            "windows",
            "Mon 09:00-09:00: the window is empty",
        ),
        ({"windows": {7: SPLIT_SHIFT}}, "windows", "weekday must be 0"),
        ({"windows": {0: ((time(9),),)}}, "windows", "a window is"),
        ({"windows": {0: ((time(9, tzinfo=UTC), time(10)),)}}, "windows", "naive"),
        ({"holiday_country": "XX"}, "holiday_country", "Country XX"),
        ({"holiday_subdivision": "ZZ"}, "holiday_subdivision", "subdivision ZZ"),
        (
            {"holiday_country": None, "holiday_subdivision": "MD"},
            "holiday_subdivision",
            "needs a holiday_country",
        ),
        (
            {"closures": frozenset({date(2026, 1, 2)}), "openings": frozenset({date(2026, 1, 2)})},
            "openings",
            "2026-01-02",
        ),
    ],
)
def test_invalid_specs_name_the_field(
    overrides: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(CalendarSpecError, match=message) as caught:
        madrid(**overrides)

    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


# -- an independent wall-clock oracle ---------------------------------------------------

ES_MD = holidays.country_holidays("ES", subdiv="MD", years=range(2025, 2029))


def wall_clock_open(
    cal_windows: dict[int, tuple[tuple[time, time], ...]],
    tz: ZoneInfo,
    instant: datetime,
    *,
    closed_days: holidays.HolidayBase | None = None,
) -> bool:
    """Open by reading the wall clock: exact when no window edge sits in a gap or fold."""
    local = instant.astimezone(tz)
    wall = local.time()
    for day, today in ((local.date(), True), (local.date() - timedelta(days=1), False)):
        if closed_days is not None and day in closed_days:
            continue
        for start, end in cal_windows.get(day.weekday(), ()):
            crosses = end <= start  # end 00:00 or an overnight window
            if today and start <= wall and (crosses or wall < end):
                return True
            if not today and crosses and wall < end:
                return True
    return False


@pytest.mark.parametrize(
    ("cal", "windows", "tz", "closed", "week_of"),
    [
        (MADRID_CAL, dict.fromkeys(WEEKDAYS, SPLIT_SHIFT), MADRID, ES_MD, date(2026, 3, 26)),
        (MADRID_CAL, dict.fromkeys(WEEKDAYS, SPLIT_SHIFT), MADRID, ES_MD, date(2026, 12, 3)),
        (
            NIGHT_NY,
            dict.fromkeys(ALL_DAYS, ((time(22), time(6)),)),
            NEW_YORK,
            None,
            date(2026, 3, 6),
        ),
        (
            NIGHT_NY,
            dict.fromkeys(ALL_DAYS, ((time(22), time(6)),)),
            NEW_YORK,
            None,
            date(2026, 10, 30),
        ),
    ],
)
def test_is_open_and_durations_agree_with_the_wall_clock(
    cal: Calendar,
    windows: dict[int, tuple[tuple[time, time], ...]],
    tz: ZoneInfo,
    closed: holidays.HolidayBase | None,
    week_of: date,
) -> None:
    start = datetime.combine(week_of, time(0), tzinfo=tz).astimezone(UTC)
    step = timedelta(minutes=5)
    open_steps = 0
    for n in range(7 * 24 * 12):
        instant = start + n * step
        expected = wall_clock_open(windows, tz, instant, closed_days=closed)
        assert cal.is_open(instant) is expected, instant.astimezone(tz)
        open_steps += expected
    # Window edges are on the 5-minute grid, so sampling counts open time exactly.
    assert cal.business_time_between(start, start + 7 * 24 * 12 * step) == open_steps * step


# -- properties -------------------------------------------------------------------------

CALENDARS = st.sampled_from([MADRID_CAL, NIGHT_NY, ALWAYS, EDGES])
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([UTC, MADRID, NEW_YORK, TOKYO]),
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=300))
PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(CALENDARS, INSTANTS, INSTANTS)
def test_business_time_is_never_negative_nor_more_than_real_time(
    cal: Calendar, a: datetime, b: datetime
) -> None:
    between = cal.business_time_between(a, b)

    assert timedelta(0) <= between <= max(utc(b) - utc(a), timedelta(0))


@PROPERTY
@given(CALENDARS, INSTANTS, INSTANTS, INSTANTS)
def test_business_time_is_additive(cal: Calendar, x: datetime, y: datetime, z: datetime) -> None:
    a, b, c = sorted((x, y, z), key=utc)

    total = cal.business_time_between(a, c)

    assert total == cal.business_time_between(a, b) + cal.business_time_between(b, c)


@PROPERTY
@given(CALENDARS, INSTANTS, st.floats(min_value=0, max_value=1))
def test_no_business_time_passes_while_closed(cal: Calendar, a: datetime, share: float) -> None:
    if cal.is_open(a):
        close = cal.current_close(a)
        assume(close is not None)
        assert close is not None
        a = close
    reopening = cal.next_open(a)
    assert reopening is not None
    b = utc(a) + (utc(reopening) - utc(a)) * share

    assert not cal.is_open(a)
    assert not cal.is_open(b) or b == utc(reopening)
    assert cal.business_time_between(a, b) == timedelta(0)
    assert cal.business_time_between(a, reopening) == timedelta(0)


@PROPERTY
@given(CALENDARS, INSTANTS, DURATIONS)
def test_adding_then_measuring_round_trips(cal: Calendar, a: datetime, amount: timedelta) -> None:
    due = cal.add_business_time(a, amount)

    assert cal.business_time_between(a, due) == amount
    assert due.tzinfo == cal.tz
    if amount:
        # The earliest such instant: the microsecond before it was still open time.
        assert cal.is_open(utc(due) - US)
        assert cal.business_time_between(a, utc(due) - US) == amount - US
    else:
        reopening = cal.next_open(a)
        assert reopening is not None
        assert utc(due) == utc(reopening)


@PROPERTY
@given(CALENDARS, INSTANTS)
def test_is_open_agrees_with_next_open_and_measurement(cal: Calendar, instant: datetime) -> None:
    is_open = cal.is_open(instant)

    reopening = cal.next_open(instant)
    assert reopening is not None
    assert (utc(reopening) == utc(instant)) is is_open
    assert (cal.business_time_between(instant, utc(instant) + US) == US) is is_open
