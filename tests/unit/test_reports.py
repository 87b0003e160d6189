"""Report arithmetic against hand-computed examples, and the counter cells behind it."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.core.reports import (
    BUCKETS,
    COUNTER_NAMES,
    EDGES,
    NO_VALUE,
    Cell,
    Durations,
    Metrics,
    bucket_index,
    build_report,
    csat_score,
    day_period,
    first_response_delta,
    merge,
    nps_score,
    percentile,
    period_granularity,
    period_keys,
    response_delta,
    response_rate,
    solved_delta,
    survey_sent_delta,
    ticket_created_delta,
    week_period,
)

MIN, HOUR, DAY = 60, 3600, 86400


def _histogram(counts: dict[int, int]) -> tuple[int, ...]:
    return tuple(counts.get(i, 0) for i in range(BUCKETS))


def _apply(cell: Cell, *deltas: dict[str, int]) -> Cell:
    """What the store's atomic ADDs do to an item, then reading it back."""
    counters = dict(cell.to_counters())
    for delta in deltas:
        for name, amount in delta.items():
            counters[name] = counters.get(name, 0) + amount
    return Cell.from_counters(counters)


# --- CSAT, NPS, response rate ----------------------------------------------------------------


def test_csat_is_the_share_of_fours_and_fives() -> None:
    # 1x1, 1x2, 2x3, 3x4, 3x5: 6 of 10 answers are 4 or 5
    assert csat_score((1, 1, 2, 3, 3)) == pytest.approx(60.0)
    assert csat_score((0, 0, 0, 0, 7)) == pytest.approx(100.0)
    assert csat_score((2, 0, 0, 0, 0)) == pytest.approx(0.0)


def test_csat_without_answers_is_no_data_not_zero() -> None:
    assert csat_score((0, 0, 0, 0, 0)) is None


def test_nps_is_promoters_minus_detractors() -> None:
    # 0..10: detractors 0-6 = 1+0+0+1+0+1+1 = 4, passives 7-8 = 2+1 = 3, promoters 9-10 = 2+1 = 3
    counts = (1, 0, 0, 1, 0, 1, 1, 2, 1, 2, 1)
    assert nps_score(counts) == pytest.approx(100 * (3 - 4) / 10)  # -10


def test_nps_of_only_passives_is_zero() -> None:
    assert nps_score((0, 0, 0, 0, 0, 0, 0, 4, 5, 0, 0)) == 0.0


def test_nps_bounds() -> None:
    assert nps_score((0,) * 9 + (3, 2)) == pytest.approx(100.0)
    assert nps_score((5,) + (0,) * 10) == pytest.approx(-100.0)
    assert nps_score((0,) * 11) is None


def test_response_rate() -> None:
    assert response_rate(3, 12) == pytest.approx(0.25)
    assert response_rate(0, 12) == 0.0
    assert response_rate(0, 0) is None


# --- durations from buckets ---------------------------------------------------------------------


def test_bucket_edges() -> None:
    assert bucket_index(0) == 0
    assert bucket_index(60) == 0  # a bucket includes its upper edge
    assert bucket_index(61) == 1
    assert bucket_index(90 * MIN) == 7  # 1 h < 90 min <= 2 h
    assert bucket_index(40 * DAY) == BUCKETS - 1
    assert EDGES[11] == DAY
    with pytest.raises(ValueError):
        bucket_index(-1)


def test_percentiles_from_buckets_by_hand() -> None:
    # 10 first responses: 4 in (5 min, 10 min], 4 in (1 h, 2 h], 2 in (1 d, 2 d]
    histogram = _histogram({3: 4, 7: 4, 12: 2})
    # p50: rank 5 is the 1st of 4 in the 1-2 h bucket -> 1 h + 1/4 h = 75 min
    assert percentile(histogram, 0.5) == pytest.approx(75 * MIN)
    # p90: rank 9 is the 1st of 2 in the 1-2 d bucket -> 1 d + 1/2 d = 36 h
    assert percentile(histogram, 0.9) == pytest.approx(36 * HOUR)
    # the top: the bucket's upper edge
    assert percentile(histogram, 1.0) == pytest.approx(2 * DAY)


def test_the_estimate_stays_inside_the_true_values_bucket() -> None:
    samples = [30, 200, 250, 700, 3000, 5000, 9000, 40000, 100000, 500000, 700000]
    histogram = [0] * BUCKETS
    for s in samples:
        histogram[bucket_index(s)] += 1
    for q in (0.5, 0.9):
        rank = math.ceil(q * len(samples))
        true = sorted(samples)[rank - 1]
        estimate = percentile(histogram, q)
        assert estimate is not None
        index = bucket_index(true)
        lower = 0 if index == 0 else EDGES[index - 1]
        assert lower <= estimate <= EDGES[index]


def test_a_single_duration() -> None:
    histogram = _histogram({0: 1})
    assert percentile(histogram, 0.5) == pytest.approx(60)
    assert percentile(histogram, 0.9) == pytest.approx(60)


def test_beyond_thirty_days_is_reported_as_thirty_days() -> None:
    assert percentile(_histogram({BUCKETS - 1: 3}), 0.5) == 30 * DAY


def test_no_durations_is_no_data() -> None:
    assert percentile(_histogram({}), 0.5) is None
    assert Durations.of(_histogram({})) == Durations(None, None, 0)


def test_percentile_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        percentile(_histogram({0: 1}), 0)
    with pytest.raises(ValueError):
        percentile((1, 2, 3), 0.5)


# --- cells and counters ---------------------------------------------------------------------------


def test_counters_have_flat_names_and_round_trip() -> None:
    cell = _apply(
        Cell(),
        survey_sent_delta("csat"),
        response_delta("csat", 5),
        ticket_created_delta(is_chat=True),
        first_response_delta(calendar_seconds=7 * MIN, business_seconds=0),
        solved_delta(calendar_seconds=3 * HOUR, business_seconds=90 * MIN),
    )

    assert cell.to_counters() == {
        "csat_sent": 1,
        "csat_5": 1,
        "tickets_created": 1,
        "chats": 1,
        "tickets_solved": 1,
        "frt_cal_03": 1,
        "frt_biz_00": 1,
        "res_cal_08": 1,
        "res_biz_07": 1,
    }
    assert Cell.from_counters(cell.to_counters()) == cell
    assert len(COUNTER_NAMES) == len(set(COUNTER_NAMES)) == 6 + 5 + 11 + 4 * BUCKETS


def test_a_stored_item_reads_back_with_decimals_and_keys() -> None:
    item = {
        "pk": "REPORT#2026-11-24",
        "sk": "channel#email",
        "ttl": Decimal(1),
        "csat_4": Decimal(3),
    }
    assert Cell.from_counters(item).csat == (0, 0, 0, 3, 0)


@pytest.mark.parametrize("bad", [Decimal("1.5"), 2.0, True, "3", Decimal(-1)])
def test_a_corrupt_counter_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="csat_4"):
        Cell.from_counters({"csat_4": bad})


def test_a_changed_score_moves_between_counters() -> None:
    answered = _apply(Cell(), survey_sent_delta("nps"), response_delta("nps", 3))
    changed = _apply(answered, response_delta("nps", 9, previous=3))

    assert changed.nps_responses == 1
    assert changed.nps[9] == 1
    assert changed.nps[3] == 0
    assert response_delta("nps", 9, previous=9) == {}


def test_deltas_refuse_bad_scores() -> None:
    with pytest.raises(ValueError):
        response_delta("csat", 0)
    with pytest.raises(ValueError):
        survey_sent_delta("ces")


cells = st.builds(
    Cell,
    csat_sent=st.integers(0, 50),
    nps_sent=st.integers(0, 50),
    csat=st.tuples(*[st.integers(0, 9)] * 5),
    nps=st.tuples(*[st.integers(0, 9)] * 11),
    tickets_created=st.integers(0, 50),
    frt_biz=st.tuples(*[st.integers(0, 3)] * BUCKETS),
)


@given(cells, cells, cells)
def test_merge_is_associative_and_commutative(a: Cell, b: Cell, c: Cell) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert merge([a, b, c]) == merge([c, a, b])
    assert merge([]) == Cell()


@given(cells)
def test_any_cell_round_trips_through_its_counters(cell: Cell) -> None:
    assert Cell.from_counters(cell.to_counters()) == cell


@given(cells, cells)
def test_merged_metrics_equal_metrics_of_the_sum(a: Cell, b: Cell) -> None:
    merged = Metrics.of(merge([a, b]))
    assert merged.csat_responses == a.csat_responses + b.csat_responses
    assert merged.surveys_sent == a.csat_sent + a.nps_sent + b.csat_sent + b.nps_sent


# --- periods --------------------------------------------------------------------------------------


def test_periods_follow_the_report_time_zone() -> None:
    late = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # a Sunday in UTC, Monday in Berlin
    assert day_period(late) == "2026-11-29"
    assert week_period(late) == "2026-W48"
    assert day_period(late, ZoneInfo("Europe/Berlin")) == "2026-11-30"
    assert week_period(late, ZoneInfo("Europe/Berlin")) == "2026-W49"


def test_period_keys() -> None:
    assert period_keys(date(2026, 11, 29), date(2026, 12, 1), "day") == [
        "2026-11-29",
        "2026-11-30",
        "2026-12-01",
    ]
    assert period_keys(date(2026, 11, 20), date(2026, 12, 1), "week") == [
        "2026-W47",
        "2026-W48",
        "2026-W49",
    ]
    assert period_keys(date(2026, 12, 28), date(2027, 1, 4), "week") == ["2026-W53", "2027-W01"]


@pytest.mark.parametrize("bad", ["2026-11-31", "2026-W54", "2026/11/24", "W48", ""])
def test_malformed_periods_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        period_granularity(bad)


# --- the report -----------------------------------------------------------------------------------


def _csat(*counts: int, sent: int = 0, created: int = 0) -> Cell:
    return Cell(csat=tuple(counts), csat_sent=sent, tickets_created=created)


CELLS = {
    ("2026-11-23", "channel", "email"): _csat(0, 1, 0, 1, 2, sent=8, created=20),
    ("2026-11-23", "channel", "chat"): _csat(0, 0, 0, 0, 1, sent=2, created=5),
    ("2026-11-24", "channel", "email"): _csat(1, 0, 0, 0, 0, sent=4, created=10),
    ("2026-11-30", "channel", "email"): _csat(0, 0, 1, 1, 0, sent=4, created=7),
    # another dimension of the same events: ignored in a report by channel
    ("2026-11-23", "team", "support"): _csat(0, 1, 0, 1, 3, sent=10, created=25),
}


def test_a_daily_report_by_channel_by_hand() -> None:
    report = build_report(CELLS, by="channel", granularity="day")

    assert report.periods == ("2026-11-23", "2026-11-24", "2026-11-30")
    assert report.values == ("email", "chat")  # the busiest first
    # total: answers 1x1, 1x2, 1x3, 2x4, 3x5 = 8; 4s and 5s = 5 -> 62.5 %
    assert report.total.csat == pytest.approx(62.5)
    assert report.total.csat_responses == 8
    assert report.total.surveys_sent == 18
    assert report.total.response_rate == pytest.approx(8 / 18)
    assert report.total.tickets_created == 42
    assert report.total.nps is None  # no NPS answers at all
    trend = dict(report.by_period)
    assert trend["2026-11-23"].csat == pytest.approx(80.0)  # 4 of 5
    assert trend["2026-11-24"].csat == pytest.approx(0.0)
    by_value = dict(report.by_value)
    assert by_value["email"].csat == pytest.approx(4 / 7 * 100)
    assert by_value["chat"].csat == pytest.approx(100.0)
    assert [(r.period, r.value) for r in report.rows] == [
        ("2026-11-23", "email"),
        ("2026-11-23", "chat"),
        ("2026-11-24", "email"),
        ("2026-11-30", "email"),
    ]


def test_a_weekly_report_rolls_days_into_iso_weeks() -> None:
    report = build_report(CELLS, by="channel", granularity="week")

    assert report.periods == ("2026-W48", "2026-W49")
    trend = dict(report.by_period)
    assert trend["2026-W48"].csat_responses == 6
    assert trend["2026-W48"].csat == pytest.approx(4 / 6 * 100)
    assert trend["2026-W49"].csat == pytest.approx(50.0)


def test_asked_periods_without_data_show_as_gaps() -> None:
    periods = period_keys(date(2026, 11, 22), date(2026, 11, 24), "day")
    report = build_report(CELLS, by="channel", granularity="day", periods=periods)

    assert report.periods == ("2026-11-22", "2026-11-23", "2026-11-24")
    empty = dict(report.by_period)["2026-11-22"]
    assert empty.csat is None
    assert empty.response_rate is None
    assert empty.tickets_created == 0
    # cells outside the asked periods are left out of the totals
    assert report.total.tickets_created == 35


def test_an_empty_report_has_no_data_anywhere() -> None:
    report = build_report({}, by="agent", granularity="week")
    assert report.periods == ()
    assert report.total.csat is None
    assert report.total.nps is None
    assert report.total.frt_business.p50 is None


def test_unassigned_events_keep_the_dimension_whole() -> None:
    cells = {
        ("2026-11-23", "agent", "sam@acme.example"): _csat(0, 0, 0, 1, 0, sent=1),
        ("2026-11-23", "agent", NO_VALUE): _csat(1, 0, 0, 0, 0, sent=1),
    }
    report = build_report(cells, by="agent", granularity="day")
    assert report.total.csat == pytest.approx(50.0)
    assert set(report.values) == {"sam@acme.example", NO_VALUE}


def test_day_and_week_cells_for_one_week_would_count_twice() -> None:
    cells = {
        ("2026-11-23", "channel", "email"): _csat(0, 0, 0, 0, 1),
        ("2026-W48", "channel", "email"): _csat(0, 0, 0, 0, 1),
    }
    with pytest.raises(ValueError, match="count twice"):
        build_report(cells, by="channel", granularity="week")
    with pytest.raises(ValueError, match="cannot split"):
        build_report(cells, by="channel", granularity="day")


def test_report_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        build_report(CELLS, by="country", granularity="day")
    with pytest.raises(ValueError):
        build_report(CELLS, by="channel", granularity="month")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_report(CELLS, by="channel", granularity="day", periods=["2026-W48"])


def test_json_is_plain_and_readable() -> None:
    cells = {
        ("2026-11-23", "channel", "email"): Cell(
            csat_sent=4,
            nps_sent=2,
            csat=(0, 0, 1, 1, 1),
            nps=(0,) * 7 + (2, 0, 0, 0),
            frt_biz=_histogram({3: 4, 7: 4, 12: 2}),
        )
    }
    data = json.loads(build_report(cells, by="channel", granularity="day").to_json())

    total = data["total"]
    assert total["csat"] == 66.7
    assert total["nps"] == 0.0
    assert total["passives"] == 2
    assert total["response_rate"] == 0.8333
    assert total["first_response_hours"]["business"] == {"p50": 1.25, "p90": 36.0, "count": 10}
    assert total["first_response_hours"]["calendar"] == {"p50": None, "p90": None, "count": 0}
    assert total["csat_scores"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert data["by_value"][0]["value"] == "email"
    assert data["rows"][0]["period"] == "2026-11-23"
