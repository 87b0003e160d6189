"""Precomputed public holidays for the config's calendars.

The `holidays` package imports every country's module (~0.1 s) the first time a
calendar asks about a date, which a Lambda pays on its cold start. `helpline config
holidays FILE` writes the holidays of the calendars in FILE for a range of years to a
JSON table next to it (`demo.yaml` -> `demo.holidays.json`); the config loader hands
each calendar its part, and only years outside the table fall back to the package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

Table = dict[str, dict[int, dict[date, str]]]  # "ES/MD" -> year -> date -> name


def table_path(config_path: Path) -> Path:
    return config_path.with_name(config_path.stem + ".holidays.json")


def region_key(country: str, subdivision: str | None) -> str:
    return f"{country}/{subdivision}" if subdivision else country


def build(regions: Iterable[tuple[str, str | None]], years: Iterable[int]) -> Table:
    import holidays

    table: Table = {}
    wanted_years = list(years)
    for country, subdivision in sorted(set(regions), key=lambda r: (r[0], r[1] or "")):
        by_year: dict[int, dict[date, str]] = {}
        for year in wanted_years:
            found = holidays.country_holidays(country, subdiv=subdivision, years=year, expand=False)
            by_year[year] = {day: str(name) for day, name in sorted(found.items())}
        table[region_key(country, subdivision)] = by_year
    return table


def dumps(table: Table) -> str:
    data = {
        region: {
            str(year): {day.isoformat(): name for day, name in days.items()}
            for year, days in years.items()
        }
        for region, years in table.items()
    }
    return (
        json.dumps(
            {"generated_by": "helpline config holidays", "regions": data},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )


def load(path: Path) -> Table:
    """The table at `path`, or an empty one when there is none or it is unreadable."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        regions: Mapping[str, Any] = data["regions"]
        return {
            region: {
                int(year): {date.fromisoformat(day): str(name) for day, name in days.items()}
                for year, days in years.items()
            }
            for region, years in regions.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
