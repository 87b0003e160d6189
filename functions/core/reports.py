"""Support reports from pre-computed counters: CSAT, NPS, response rate, FRT, resolution.

A report never scans tickets. The store keeps one counter item ("cell") per
(period, dimension, value), e.g. ("2026-11-24", "channel", "email"), and every event
adds to the cells it belongs to with one atomic `ADD` of the flat counters below
(`*_delta` build them). A report reads the cells of its periods and one dimension and
merges them: reading 90 days by channel costs 90 x channels small items, whatever the
number of tickets.

Which cell an event lands in:

- tickets_created, chats: the period the ticket was created;
- first response time: the period of the first response; resolution time and
  tickets_solved: the period of the solve (each solve counts, so a reopened ticket
  solved twice counts twice);
- surveys sent and their scores: the period the survey was *sent* (a cohort), so a
  response rate never passes 100 % and a changed score ("last one wins") moves
  between score counters of the same cell: -1 on the old score, +1 on the new one in
  one update;
- dimension values come from the ticket (channel, team, language) and the agent who
  solved or first answered it; an event without one (no agent yet) uses NO_VALUE, so
  the cells of one dimension always add up to the whole.

Metrics: CSAT = share of 4-5 among CSAT answers (percent); NPS = % promoters (9-10)
minus % detractors (0-6); response rate = answers / surveys sent. No answers means
None ("no data"), never 0; an all-passive NPS is 0.

Durations are kept as histograms over fixed, roughly doubling buckets (EDGES, in
seconds: 1 min ... 30 days, then "more"). p50 and p90 are read from merged buckets:
find the bucket holding the nearest-rank percentile, then interpolate linearly inside
it. Error bound: the estimate lies in the same bucket as the true value, so it is off
by less than that bucket's width: under 60 s below one minute, and otherwise within
the bucket's edge ratio (at most x2.5, for the 2-5 minute bucket; x1.4-x2.1 elsewhere).
Beyond 30 days the lower edge (30 days) is reported: a lower bound.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

Granularity = Literal["day", "week"]

DIMENSIONS = ("channel", "team", "language", "agent")
GRANULARITIES = ("day", "week")
NO_VALUE = "(none)"

_M, _H, _D = 60, 3600, 86400
# upper edges of the duration buckets, in seconds; the last bucket is open-ended
EDGES: tuple[float, ...] = (
    1 * _M, 2 * _M, 5 * _M, 10 * _M, 15 * _M, 30 * _M,
    1 * _H, 2 * _H, 4 * _H, 8 * _H, 12 * _H,
    1 * _D, 2 * _D, 3 * _D, 5 * _D, 7 * _D, 14 * _D, 30 * _D,
    float("inf"),
)  # fmt: skip
BUCKETS = len(EDGES)
HISTOGRAMS = ("frt_cal", "frt_biz", "res_cal", "res_biz")
CSAT_SCORES = range(1, 6)
NPS_SCORES = range(11)
_SCALARS = (
    "csat_sent", "nps_sent", "tickets_created", "tickets_solved", "chats", "follow_ups",
)  # fmt: skip
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def bucket_index(seconds: float) -> int:
    """The bucket a duration falls in: bucket i holds (EDGES[i-1], EDGES[i]]."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    for index, edge in enumerate(EDGES):
        if seconds <= edge:
            return index
    raise AssertionError("unreachable: the last edge is infinite")  # pragma: no cover


def _zeros(n: int) -> tuple[int, ...]:
    return (0,) * n


def _add(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


# --- the counter cell ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """The counters of one (period, dimension, value). All counts are >= 0."""

    csat_sent: int = 0
    nps_sent: int = 0
    csat: tuple[int, ...] = _zeros(5)  # answers per score 1..5 (index = score - 1)
    nps: tuple[int, ...] = _zeros(11)  # answers per score 0..10
    tickets_created: int = 0
    tickets_solved: int = 0
    chats: int = 0
    follow_ups: int = 0  # low scores with a comment that opened a call-back task
    frt_cal: tuple[int, ...] = _zeros(BUCKETS)  # first response, calendar time
    frt_biz: tuple[int, ...] = _zeros(BUCKETS)  # first response, business time
    res_cal: tuple[int, ...] = _zeros(BUCKETS)  # resolution, calendar time
    res_biz: tuple[int, ...] = _zeros(BUCKETS)  # resolution, business time

    def __post_init__(self) -> None:
        sizes = {"csat": 5, "nps": 11, **dict.fromkeys(HISTOGRAMS, BUCKETS)}
        for name, size in sizes.items():
            if len(getattr(self, name)) != size:
                raise ValueError(f"{name} needs {size} counts")
        for name, value in self._items():
            if value < 0:
                raise ValueError(f"counter {name} is negative ({value})")

    def _items(self) -> Iterable[tuple[str, int]]:
        for name in _SCALARS:
            yield name, getattr(self, name)
        for score, count in zip(CSAT_SCORES, self.csat, strict=True):
            yield f"csat_{score}", count
        for score, count in zip(NPS_SCORES, self.nps, strict=True):
            yield f"nps_{score}", count
        for histogram in HISTOGRAMS:
            for index, count in enumerate(getattr(self, histogram)):
                yield f"{histogram}_{index:02d}", count

    def to_counters(self) -> dict[str, int]:
        """The non-zero counters under flat names the store can `ADD` ("csat_5",
        "frt_biz_07"); missing names read as 0."""
        return {name: value for name, value in self._items() if value}

    @classmethod
    def from_counters(cls, counters: Mapping[str, Any]) -> Cell:
        """Read a stored item: known counter names only (keys and TTL are ignored);
        DynamoDB's Decimal numbers are accepted when whole."""
        known = set(COUNTER_NAMES)
        values = {name: _count(name, v) for name, v in counters.items() if name in known}

        def series(prefix: str, keys: Iterable[str]) -> tuple[int, ...]:
            return tuple(values.get(f"{prefix}_{k}", 0) for k in keys)

        buckets = [f"{i:02d}" for i in range(BUCKETS)]
        arguments: dict[str, Any] = {name: values.get(name, 0) for name in _SCALARS}
        arguments["csat"] = series("csat", (str(s) for s in CSAT_SCORES))
        arguments["nps"] = series("nps", (str(s) for s in NPS_SCORES))
        arguments.update({h: series(h, buckets) for h in HISTOGRAMS})
        return cls(**arguments)

    def __add__(self, other: Cell) -> Cell:
        merged: dict[str, Any] = {}
        for f in fields(Cell):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            merged[f.name] = _add(mine, theirs) if isinstance(mine, tuple) else mine + theirs
        return Cell(**merged)

    @property
    def csat_responses(self) -> int:
        return sum(self.csat)

    @property
    def nps_responses(self) -> int:
        return sum(self.nps)


COUNTER_NAMES: tuple[str, ...] = tuple(name for name, _ in Cell()._items())


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"counter {name} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"counter {name} is not a whole number: {value!r}")


def merge(cells: Iterable[Cell]) -> Cell:
    total = Cell()
    for cell in cells:
        total = total + cell
    return total


# --- deltas: what one event adds ---------------------------------------------------------


def _score_name(kind: str, score: int) -> str:
    scores = CSAT_SCORES if kind == "csat" else NPS_SCORES if kind == "nps" else None
    if scores is None:
        raise ValueError(f"unknown survey kind {kind!r}")
    if score not in scores:
        raise ValueError(f"{score} is not a {kind} score")
    return f"{kind}_{score}"


def survey_sent_delta(kind: str) -> dict[str, int]:
    if kind not in ("csat", "nps"):
        raise ValueError(f"unknown survey kind {kind!r}")
    return {f"{kind}_sent": 1}


def response_delta(kind: str, score: int, previous: int | None = None) -> dict[str, int]:
    """A new answer (+1), or a changed one (-1 old, +1 new); the same score again: {}."""
    new = _score_name(kind, score)
    if previous is None:
        return {new: 1}
    old = _score_name(kind, previous)
    return {} if old == new else {old: -1, new: 1}


def follow_up_delta() -> dict[str, int]:
    return {"follow_ups": 1}


def ticket_created_delta(*, is_chat: bool) -> dict[str, int]:
    return {"tickets_created": 1, **({"chats": 1} if is_chat else {})}


def first_response_delta(*, calendar_seconds: float, business_seconds: float) -> dict[str, int]:
    return {
        f"frt_cal_{bucket_index(calendar_seconds):02d}": 1,
        f"frt_biz_{bucket_index(business_seconds):02d}": 1,
    }


def solved_delta(*, calendar_seconds: float, business_seconds: float) -> dict[str, int]:
    return {
        "tickets_solved": 1,
        f"res_cal_{bucket_index(calendar_seconds):02d}": 1,
        f"res_biz_{bucket_index(business_seconds):02d}": 1,
    }


# --- metrics ---------------------------------------------------------------------------


def csat_score(counts: Sequence[int]) -> float | None:
    """Percent of 4s and 5s among the answers 1..5; None without answers."""
    total = sum(counts)
    return None if total == 0 else 100.0 * (counts[3] + counts[4]) / total


def nps_score(counts: Sequence[int]) -> float | None:
    """% promoters (9-10) minus % detractors (0-6); None without answers."""
    total = sum(counts)
    if total == 0:
        return None
    promoters = counts[9] + counts[10]
    detractors = sum(counts[:7])
    return 100.0 * (promoters - detractors) / total


def response_rate(answered: int, sent: int) -> float | None:
    """Answers per survey sent, as a fraction; None when nothing was sent."""
    return None if sent == 0 else answered / sent


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The q-th percentile (0 < q <= 1) in seconds, from bucket counts (see module doc)."""
    if not 0 < q <= 1:
        raise ValueError("q is a fraction in (0, 1]")
    if len(histogram) != BUCKETS:
        raise ValueError(f"a duration histogram has {BUCKETS} buckets")
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(Fraction(str(q)) * total))  # nearest rank, without float noise
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            lower = 0.0 if index == 0 else EDGES[index - 1]
            upper = EDGES[index]
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    raise AssertionError("unreachable: rank <= total")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Durations:
    p50: float | None  # seconds
    p90: float | None
    count: int

    @classmethod
    def of(cls, histogram: Sequence[int]) -> Durations:
        return cls(percentile(histogram, 0.5), percentile(histogram, 0.9), sum(histogram))


@dataclass(frozen=True, slots=True)
class Metrics:
    csat: float | None  # percent
    csat_responses: int
    nps: float | None  # -100..100
    nps_responses: int
    promoters: int
    passives: int
    detractors: int
    surveys_sent: int
    responses: int
    response_rate: float | None  # fraction
    tickets_created: int
    tickets_solved: int
    chats: int
    follow_ups: int
    frt_calendar: Durations
    frt_business: Durations
    resolution_calendar: Durations
    resolution_business: Durations
    csat_scores: tuple[int, ...]  # counts for 1..5
    nps_scores: tuple[int, ...]  # counts for 0..10

    @classmethod
    def of(cls, cell: Cell) -> Metrics:
        sent = cell.csat_sent + cell.nps_sent
        answered = cell.csat_responses + cell.nps_responses
        return cls(
            csat=csat_score(cell.csat),
            csat_responses=cell.csat_responses,
            nps=nps_score(cell.nps),
            nps_responses=cell.nps_responses,
            promoters=cell.nps[9] + cell.nps[10],
            passives=cell.nps[7] + cell.nps[8],
            detractors=sum(cell.nps[:7]),
            surveys_sent=sent,
            responses=answered,
            response_rate=response_rate(answered, sent),
            tickets_created=cell.tickets_created,
            tickets_solved=cell.tickets_solved,
            chats=cell.chats,
            follow_ups=cell.follow_ups,
            frt_calendar=Durations.of(cell.frt_cal),
            frt_business=Durations.of(cell.frt_biz),
            resolution_calendar=Durations.of(cell.res_cal),
            resolution_business=Durations.of(cell.res_biz),
            csat_scores=cell.csat,
            nps_scores=cell.nps,
        )

    def to_dict(self) -> dict[str, Any]:
        def pct(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        def hours(d: Durations) -> dict[str, Any]:
            def h(seconds: float | None) -> float | None:
                return None if seconds is None else round(seconds / 3600, 2)

            return {"p50": h(d.p50), "p90": h(d.p90), "count": d.count}

        return {
            "csat": pct(self.csat),
            "csat_responses": self.csat_responses,
            "nps": pct(self.nps),
            "nps_responses": self.nps_responses,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "surveys_sent": self.surveys_sent,
            "responses": self.responses,
            "response_rate": None if self.response_rate is None else round(self.response_rate, 4),
            "tickets_created": self.tickets_created,
            "tickets_solved": self.tickets_solved,
            "chats": self.chats,
            "follow_ups": self.follow_ups,
            "first_response_hours": {
                "calendar": hours(self.frt_calendar),
                "business": hours(self.frt_business),
            },
            "resolution_hours": {
                "calendar": hours(self.resolution_calendar),
                "business": hours(self.resolution_business),
            },
            "csat_scores": {str(s): n for s, n in zip(CSAT_SCORES, self.csat_scores, strict=True)},
            "nps_scores": {str(s): n for s, n in zip(NPS_SCORES, self.nps_scores, strict=True)},
        }


# --- periods -------------------------------------------------------------------------------


def day_period(moment: datetime, tz: tzinfo = UTC) -> str:
    """ "2026-11-24": the calendar day of `moment` in the report's time zone."""
    if moment.utcoffset() is None:
        raise ValueError("a naive datetime has no day; pass an aware one")
    return moment.astimezone(tz).date().isoformat()


def week_of(day: date) -> str:
    """ "2026-W48": the ISO week (Monday to Sunday) of a day."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_period(moment: datetime, tz: tzinfo = UTC) -> str:
    return week_of(date.fromisoformat(day_period(moment, tz)))


def period_granularity(period: str) -> Granularity:
    """Which kind of period a key is; ValueError for anything else."""
    if _DAY.match(period):
        date.fromisoformat(period)  # raises for 2026-02-30
        return "day"
    match = _WEEK.match(period)
    if match:
        year, week = int(match[1]), int(match[2])
        date.fromisocalendar(year, week, 1)  # raises for week 54
        return "week"
    raise ValueError(f"{period!r} is not a day like 2026-11-24 or a week like 2026-W48")


def period_keys(start: date, end: date, granularity: Granularity) -> list[str]:
    """Every period from `start` to `end` inclusive: the keys a report reads."""
    if end < start:
        raise ValueError("the report ends before it starts")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity is day or week, not {granularity!r}")
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    if granularity == "day":
        return [d.isoformat() for d in days]
    return list(dict.fromkeys(week_of(d) for d in days))


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    period: str
    value: str
    metrics: Metrics


@dataclass(frozen=True, slots=True)
class Report:
    by: str  # the dimension: channel | team | language | agent
    granularity: Granularity
    periods: tuple[str, ...]  # ascending
    values: tuple[str, ...]  # busiest first
    total: Metrics
    by_period: tuple[tuple[str, Metrics], ...]  # every value merged: the trend
    by_value: tuple[tuple[str, Metrics], ...]  # every period merged: the comparison
    rows: tuple[Row, ...] = field(default=())  # period x value, only where there is data

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "granularity": self.granularity,
            "periods": list(self.periods),
            "values": list(self.values),
            "total": self.total.to_dict(),
            "by_period": [{"period": p, **m.to_dict()} for p, m in self.by_period],
            "by_value": [{"value": v, **m.to_dict()} for v, m in self.by_value],
            "rows": [
                {"period": r.period, "value": r.value, **r.metrics.to_dict()} for r in self.rows
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _volume(cell: Cell) -> int:
    return (
        cell.tickets_created
        + cell.csat_sent
        + cell.nps_sent
        + cell.csat_responses
        + cell.nps_responses
    )


def build_report(
    cells: Mapping[tuple[str, str, str], Cell],
    *,
    by: str,
    granularity: Granularity,
    periods: Sequence[str] | None = None,
) -> Report:
    """Merge the cells of one dimension into rows per (period, value).

    Keys are (period, dimension, value); cells of other dimensions are ignored. Day
    cells roll up into ISO weeks for a weekly report; week cells cannot be split into
    days. Give `periods` (see `period_keys`) to include periods without data, so a
    trend shows its gaps.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"a report is by {', '.join(DIMENSIONS)}, not {by!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity is day or week, not {granularity!r}")
    grid: dict[tuple[str, str], Cell] = {}
    sources: dict[str, set[str]] = {}  # week -> the kinds of keys it was built from
    for (period, dimension, value), cell in cells.items():
        if dimension != by:
            continue
        kind = period_granularity(period)
        if granularity == "day" and kind == "week":
            raise ValueError(f"a daily report cannot split the week cell {period}")
        target = week_of(date.fromisoformat(period)) if kind != granularity else period
        sources.setdefault(target, set()).add(kind)
        if len(sources[target]) > 1:
            raise ValueError(f"both day and week cells for {target}: each would count twice")
        grid[(target, value)] = grid.get((target, value), Cell()) + cell

    wanted = list(periods) if periods is not None else sorted({p for p, _ in grid})
    for period in wanted:
        if period_granularity(period) != granularity:
            raise ValueError(f"{period} is not a {granularity}")
    in_range = set(wanted)
    grid = {key: cell for key, cell in grid.items() if key[0] in in_range}

    per_period = {p: merge(c for (q, _), c in grid.items() if q == p) for p in wanted}
    per_value: dict[str, Cell] = {}
    for (_, value), cell in grid.items():
        per_value[value] = per_value.get(value, Cell()) + cell
    values = sorted(per_value, key=lambda v: (-_volume(per_value[v]), v))
    return Report(
        by=by,
        granularity=granularity,
        periods=tuple(sorted(wanted)),
        values=tuple(values),
        total=Metrics.of(merge(per_value.values())),
        by_period=tuple((p, Metrics.of(per_period[p])) for p in sorted(wanted)),
        by_value=tuple((v, Metrics.of(per_value[v])) for v in values),
        rows=tuple(
            Row(p, v, Metrics.of(grid[(p, v)]))
            for p in sorted(wanted)
            for v in values
            if (p, v) in grid
        ),
    )
