"""The precomputed holiday table agrees with the holidays package it was built from."""

from __future__ import annotations

from datetime import date

from functions.core import holiday_table
from functions.core.config import DEFAULT_CONFIG_PATH, load_config, parse_config


def test_committed_demo_table_matches_the_holidays_package():
    path = holiday_table.table_path(DEFAULT_CONFIG_PATH)
    committed = holiday_table.load(path)
    assert committed, f"{path} is missing; run `helpline config holidays {DEFAULT_CONFIG_PATH}`"
    regions = [tuple(key.split("/")) if "/" in key else (key, None) for key in committed]
    years = sorted({year for by_year in committed.values() for year in by_year})
    assert holiday_table.build(regions, years) == committed


def test_calendars_answer_the_same_with_and_without_the_table():
    text = DEFAULT_CONFIG_PATH.read_text()
    with_table = load_config()
    without = parse_config(text)
    for name, calendar in with_table.calendars.items():
        day = date(2026, 1, 1)
        while day.year == 2026:
            assert calendar.holiday_name(day) == without.calendars[name].holiday_name(day), (
                name,
                day,
            )
            day = date.fromordinal(day.toordinal() + 1)


def test_years_outside_the_table_fall_back_to_the_package():
    madrid = load_config().calendars["madrid"]
    assert madrid.holiday_name(date(2040, 12, 25)) is not None


def test_an_unreadable_table_is_ignored(tmp_path):
    broken = tmp_path / "x.holidays.json"
    broken.write_text("{not json")
    assert holiday_table.load(broken) == {}
