"""Business-hours calendars: open windows in local wall time, holidays and closures.

One `Calendar` answers both "are we open, and when do we reopen?" (after-hours
replies) and "when has N hours of business time elapsed?" (SLA clocks). Windows are
placed on each local day in wall-clock time and converted to UTC once; every
comparison and sum is then done on UTC instants, so a day on which the clocks change
counts the real elapsed time.

Rules that are easy to get wrong and are decided here:

- A window belongs to the day it starts on: a 22:00-06:00 shift that starts on a
  holiday is closed entirely, including the morning after.
- A window edge that falls in a spring-forward gap moves to the first valid instant
  (the moment of the change); an edge in a fall-back fold takes the first occurrence.
- Holidays and closures close the whole day; `openings` lift a holiday (not a
  closure: a date may not be in both) but never add windows to the day.
- Adjacent open periods (24-hour days, 22:00-00:00 followed by 00:00-06:00) are
  one interval, so `current_close` reports when the desk really closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from holidays import HolidayBase

__all__ = [
    "BUSINESS_TIME_HORIZON",
    "NEXT_OPEN_HORIZON",
    "Calendar",
    "CalendarSpec",
    "CalendarSpecError",
]

NEXT_OPEN_HORIZON = timedelta(days=400)
BUSINESS_TIME_HORIZON = timedelta(days=5 * 366)  # "5 years", whatever the leap days

_DAY = timedelta(days=1)
_US_PER_DAY = 86_400 * 10**6
_US_PER_WEEK = 7 * _US_PER_DAY
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Per-day cache bound: a container lives for hours, but hypothesis-style callers can
# touch decades; clearing is cheaper than tracking recency and refills in microseconds.
_MAX_CACHED_DAYS = 4096

Interval: TypeAlias = tuple[datetime, datetime]  # aware UTC, end exclusive


class CalendarSpecError(ValueError):
    """A calendar specification is invalid; `field` names the `CalendarSpec` field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """What the config file says about one calendar (validated by `Calendar`)."""

    name: str
    timezone: str  # IANA name, e.g. "Europe/Madrid"
    # weekday (0=Mon..6=Sun) -> open windows in local wall time; end time(0, 0) means
    # the end of the day; an end before the start crosses midnight into the next day
    windows: Mapping[int, tuple[tuple[time, time], ...]]
    holiday_country: str | None = None  # ISO code for holidays.country_holidays
    holiday_subdivision: str | None = None
    closures: frozenset[date] = frozenset()  # explicit closed days ("Closure")
    openings: frozenset[date] = frozenset()  # explicit open days overriding a holiday
    # precomputed holidays by year (from the config's holiday table); years not in it
    # fall back to the `holidays` package, which costs ~0.1 s to import on a cold start
    holiday_table: Mapping[int, Mapping[date, str]] | None = None


@dataclass(frozen=True, slots=True)
class _Window:
    weekday: int
    start: time
    end: time
    ends_next_day: bool

    @property
    def week_span(self) -> tuple[int, int]:
        """Microseconds since Monday 00:00, end exclusive (may pass the week's end)."""
        begin = self.weekday * _US_PER_DAY + _micros(self.start)
        finish = (self.weekday + self.ends_next_day) * _US_PER_DAY + _micros(self.end)
        return begin, finish

    def label(self) -> str:
        return f"{_WEEKDAY_NAMES[self.weekday]} {_clock(self.start)}-{_clock(self.end)}"


class Calendar:
    """Open hours of one team: `is_open`, `next_open`, and business-time arithmetic.

    Every method takes timezone-aware datetimes (any zone) and raises ValueError on
    naive ones, because a naive time cannot be placed on the calendar safely.
    Instants are returned in `self.tz` (intervals from `open_intervals` in UTC), ready
    for "we are back on Monday at 09:00". Do further arithmetic and equality tests in
    UTC: Python adds timedeltas to local datetimes in wall time, and a fall-back
    `fold=1` time never compares equal to a time in another zone.
    """

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.tz = _zone(spec.timezone)
        self._windows = _normalize_windows(spec.windows)
        both = spec.closures & spec.openings
        if both:
            days = ", ".join(sorted(d.isoformat() for d in both))
            raise CalendarSpecError("openings", f"dates are both closures and openings: {days}")
        if spec.holiday_subdivision is not None and spec.holiday_country is None:
            raise CalendarSpecError(
                "holiday_subdivision",
                f"holiday_subdivision {spec.holiday_subdivision!r} needs a holiday_country",
            )
        self._holiday_years: dict[int, Mapping[date, str]] = dict(spec.holiday_table or {})
        self._days: dict[date, tuple[Interval, ...]] = {}
        country = spec.holiday_country
        if country is not None and not spec.holiday_table:
            # An empty-years calendar costs nothing to build but checks the codes now,
            # so a typo fails at start instead of at the first ticket. Country first,
            # then the subdivision, so the error names the right field.
            for field, subdivision in (
                ("holiday_country", None),
                ("holiday_subdivision", spec.holiday_subdivision),
            ):
                try:
                    _country_holidays(country, subdivision, ())
                except NotImplementedError as exc:
                    raise CalendarSpecError(field, f"unknown holiday calendar: {exc}") from None

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, {self.tz.key!r})"

    # -- days -------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """Why the whole `day` (a local date) is closed, or None if it is not.

        The holiday's name from the `holidays` package, else "Closure" for an
        explicit closure; None for a day listed in `openings`.
        """
        if isinstance(day, datetime):
            day = day.astimezone(self.tz).date() if _is_aware(day) else day.date()
        if day in self.spec.openings:
            return None
        if self.spec.holiday_country is not None:
            name = self._holidays_of(day.year).get(day)
            if name is not None:
                return str(name)
        if day in self.spec.closures:
            return "Closure"
        return None

    def is_open(self, at: datetime) -> bool:
        utc = _to_utc(at, "at")
        local_day = utc.astimezone(self.tz).date()
        # A window that crossed midnight belongs to the previous local day.
        return any(
            start <= utc < end
            for day in (local_day - _DAY, local_day)
            for start, end in self._day_intervals(day)
        )

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """Open time overlapping [start, end) as aware UTC intervals, clipped to it."""
        # Not a generator itself, so bad arguments fail at the call, not on iteration.
        lo = _to_utc(start, "start")
        hi = _to_utc(end, "end")
        return ((max(s, lo), min(e, hi)) for s, e in self._merged(lo, hi))

    def next_open(self, at: datetime) -> datetime | None:
        """`at` if open then, else when the desk next opens; None beyond 400 days."""
        utc = _to_utc(at, "at")
        for start, _ in self._merged(utc, utc + NEXT_OPEN_HORIZON):
            return (utc if start <= utc else start).astimezone(self.tz)
        return None

    def current_close(self, at: datetime) -> datetime | None:
        """When the open interval containing `at` ends.

        None if closed at `at`, or if open without a break for the next 400 days.
        """
        utc = _to_utc(at, "at")
        stop = utc + NEXT_OPEN_HORIZON
        for start, end in self._merged(utc, stop):
            if start <= utc and end < stop:
                return end.astimezone(self.tz)
            return None
        return None

    # -- business-time arithmetic -----------------------------------------------

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of open time has elapsed since `start`.

        Outside hours the clock starts at `next_open`; a zero amount gives
        `next_open(start)`. An amount that ends exactly at a closing time returns
        that closing time, not the next opening.
        """
        if amount < timedelta(0):
            raise ValueError(f"amount must not be negative, got {amount}")
        origin = _to_utc(start, "start")
        remaining = amount
        for s, e in self._merged(origin, origin + BUSINESS_TIME_HORIZON):
            s = max(s, origin)  # noqa: PLW2901 - clip the first interval to the start
            if remaining <= e - s:
                return (s + remaining).astimezone(self.tz)
            remaining -= e - s
        raise ValueError(
            f"calendar {self.name!r}: {amount} of business time is not reachable within "
            f"5 years of {start.isoformat()}"
        )

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Open time in [a, b); timedelta(0) when b <= a."""
        total = timedelta(0)
        for s, e in self.open_intervals(a, b):
            total += e - s
        return total

    # -- internals --------------------------------------------------------------

    def _merged(self, start: datetime, stop: datetime) -> Iterator[Interval]:
        """UTC open intervals ending after `start` and starting before `stop`, in order,
        touching ones joined. One still open at `stop` is not extended further (its end
        may be early): callers only look past `stop` to learn that it is still open.
        """
        pending: Interval | None = None
        for s, e in self._raw_intervals(start, stop):
            if pending is not None and s <= pending[1]:
                pending = (pending[0], max(pending[1], e))
            else:
                if pending is not None:
                    yield pending
                pending = (s, e)
            if pending[1] >= stop:
                break
        if pending is not None:
            yield pending

    def _raw_intervals(self, start: datetime, stop: datetime) -> Iterator[Interval]:
        # Windows never overlap in the week, and the wall-to-UTC mapping never goes
        # backwards, so day-by-day order is time order.
        if start >= stop:
            return
        day = start.astimezone(self.tz).date() - _DAY  # yesterday's night shift
        last = stop.astimezone(self.tz).date()
        while day <= last:
            for s, e in self._day_intervals(day):
                if s >= stop:
                    return
                if e > start:
                    yield s, e
            day += _DAY

    def _day_intervals(self, day: date) -> tuple[Interval, ...]:
        """The UTC intervals of the windows that start on local `day` (cached)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        windows = self._windows.get(day.weekday(), ())
        intervals: list[Interval] = []
        # Check holidays only for days with windows: weekends never load a year.
        if windows and self.holiday_name(day) is None:
            for window in windows:
                start = self._local_to_utc(datetime.combine(day, window.start))
                end_day = day + _DAY if window.ends_next_day else day
                end = self._local_to_utc(datetime.combine(end_day, window.end))
                if start < end:  # a window wholly inside a DST gap is empty that day
                    intervals.append((start, end))
        if len(self._days) >= _MAX_CACHED_DAYS:
            self._days.clear()
        result = tuple(intervals)
        self._days[day] = result
        return result

    def _local_to_utc(self, wall: datetime) -> datetime:
        """Map a naive local wall time to UTC: first occurrence in a fold, and the
        moment of the change (the first valid instant after it) in a gap."""
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        if first.astimezone(self.tz).replace(tzinfo=None) == wall:
            return first
        # In a gap fold=0 uses the offset before the change and fold=1 the one after;
        # the change lies between the two readings. Bisect it to the microsecond.
        second = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        lo, hi = min(first, second), max(first, second)
        after = hi.astimezone(self.tz).utcoffset()
        while hi - lo > timedelta(microseconds=1):
            mid = lo + (hi - lo) // 2
            if mid.astimezone(self.tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return hi

    def _holidays_of(self, year: int) -> Mapping[date, str]:
        found = self._holiday_years.get(year)
        if found is None:
            assert self.spec.holiday_country is not None  # callers check first
            found = _country_holidays(
                self.spec.holiday_country, self.spec.holiday_subdivision, year
            )
            self._holiday_years[year] = found
        return found


def _country_holidays(country: str, subdivision: str | None, years: int | tuple[()]) -> HolidayBase:
    # Imported here: `holidays` costs ~0.1 s to import, paid only by calendars that use
    # it and never at module import (Lambda cold starts).
    import holidays

    # One object per year, expand=False: it never grows behind the cache's back.
    return holidays.country_holidays(country, subdiv=subdivision, years=years, expand=False)


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarSpecError("timezone", f"timezone must be an IANA name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarSpecError(
            "timezone", f"unknown IANA time zone {name!r} (e.g. 'Europe/Madrid')"
        ) from None


def _normalize_windows(
    windows: Mapping[int, tuple[tuple[time, time], ...]],
) -> dict[int, tuple[_Window, ...]]:
    """Validate the weekly windows and sort each day's by start time.

    Overlap is checked on the whole week as a circle, so a 22:00-06:00 window also
    may not overlap the next morning's windows (Sunday night wraps to Monday).
    """
    result: dict[int, tuple[_Window, ...]] = {}
    for weekday, day_windows in windows.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise CalendarSpecError(
                "windows", f"weekday must be 0 (Mon) to 6 (Sun), got {weekday!r}"
            )
        parsed: list[_Window] = []
        for pair in day_windows:
            try:
                start, end = pair
            except (TypeError, ValueError):
                raise CalendarSpecError(
                    "windows", f"{_WEEKDAY_NAMES[weekday]}: a window is (start, end), got {pair!r}"
                ) from None
            for value in (start, end):
                if not isinstance(value, time) or value.tzinfo is not None:
                    raise CalendarSpecError(
                        "windows",
                        f"{_WEEKDAY_NAMES[weekday]}: window times must be naive datetime.time "
                        f"values in local wall time, got {value!r}",
                    )
            start, end = start.replace(fold=0), end.replace(fold=0)
            midnight = time(0, 0)
            if start == end and start != midnight:
                raise CalendarSpecError(
                    "windows",
                    f"{_WEEKDAY_NAMES[weekday]} {_clock(start)}-{_clock(end)}: the window is "
                    "empty (use 00:00-00:00 for a whole day)",
                )
            parsed.append(_Window(weekday, start, end, end == midnight or end < start))
        if parsed:
            result[weekday] = tuple(sorted(parsed, key=lambda w: w.start))
    spans: list[tuple[int, int, _Window]] = []
    for normalized in result.values():
        for window in normalized:
            begin, finish = window.week_span
            spans.append((begin, finish, window))
            if finish > _US_PER_WEEK:  # Sunday night continues into Monday
                spans.append((begin - _US_PER_WEEK, finish - _US_PER_WEEK, window))
    if not spans:
        raise CalendarSpecError("windows", "the calendar has no open window in the week")
    spans.sort(key=lambda span: (span[0], span[1]))
    for (_, finish, window), (begin, _, following) in pairwise(spans):
        if finish > begin:
            raise CalendarSpecError(
                "windows", f"windows overlap: {window.label()} and {following.label()}"
            )
    return result


def _to_utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if not _is_aware(value):
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _is_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _micros(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 10**6 + value.microsecond


def _clock(value: time) -> str:
    return value.isoformat("minutes" if not value.second and not value.microsecond else "auto")
