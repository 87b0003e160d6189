"""Field validators for the config file: each names the field it checks.

`config.py` and the section parsers that live with their domain (`sla.py`,
`surveys.py`, the social and chat settings) share these, so every mistake in the file
is reported the same way: `ConfigError("<dotted.path>", "<what is wrong>")`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from functions.core.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def required(node: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in node or node[key] is None:
        where = key if path == "(root)" else f"{path}.{key}"
        raise ConfigError(where, "is required")
    return node[key]


def only(node: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in node:
        if key not in allowed:
            where = str(key) if path == "(root)" else f"{path}.{key}"
            raise ConfigError(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be a mapping, not {type(value).__name__}")
    return value


def list_of(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(path, f"must be a list, not {type(value).__name__}")
    return value


def text(value: Any, path: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ConfigError(path, "must be a non-empty string")
    return value.strip()


def identifier(value: Any, path: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ConfigError(path, "names are lower-case letters, digits, - and _ (max 40)")
    return value


def language(value: Any, path: str) -> str:
    if not isinstance(value, str) or not LANGUAGE_CODE.match(value.lower()):
        raise ConfigError(path, f"{value!r} is not a language code like 'en' or 'pt-br'")
    return value.lower()


def email_address(value: Any, path: str) -> str:
    if not isinstance(value, str) or not EMAIL_ADDRESS.match(value.strip()):
        raise ConfigError(path, f"{value!r} is not an email address")
    return value.strip().lower()


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, "must be a number")
    return float(value)


def integer(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, "must be a whole number")
    if value < minimum:
        raise ConfigError(path, f"must be at least {minimum}")
    return value


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, "must be true or false")
    return value


def weekday_range(key: str, path: str) -> list[int]:
    parts = key.lower().split("-")
    if len(parts) not in (1, 2) or any(p not in WEEKDAYS for p in parts):
        raise ConfigError(path, "use a day (mon) or a range of days (mon-fri)")
    first = WEEKDAYS.index(parts[0])
    last = WEEKDAYS.index(parts[-1])
    if last < first:
        raise ConfigError(path, "a day range runs forward, like mon-fri")
    return list(range(first, last + 1))


def window(value: Any, path: str) -> tuple[time, time]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not match:
        raise ConfigError(path, f"{value!r} is not a window like '09:00-17:30'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ConfigError(path, f"{value!r} is not a valid time of day")
    start = time(h1, m1)
    end = time(0, 0) if h2 == 24 else time(h2, m2)
    if start == end and h2 != 24:  # 00:00-24:00 is a whole day
        raise ConfigError(path, "a window must not be empty")
    return start, end


def dates(value: Any, path: str) -> list[date]:
    result = []
    for i, item in enumerate(list_of(value, path)):
        if isinstance(item, date):
            result.append(item)
            continue
        try:
            result.append(date.fromisoformat(str(item)))
        except ValueError as exc:
            raise ConfigError(f"{path}[{i}]", f"{item!r} is not a date like 2026-12-24") from exc
    return result
