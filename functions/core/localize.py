"""Locale tags, text direction and dates written the way a native speaker writes them.

Pure functions, no I/O and no Babel: the supported languages are few, so the month and
weekday names and the word order live in one small table per language. Every format
uses the 24-hour clock ("09:00") and ends with the time zone's abbreviation, because a
customer may read the reply in another zone than the team's calendar.

Locale tags come from customers (widget locale, platform locale, Accept-Language), so
`locale_chain` keeps only well-formed subtags: its output is safe to put in a template
file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime, timedelta, tzinfo
    from zoneinfo import ZoneInfo

__all__ = [
    "SUPPORTED_LOCALES",
    "format_local_datetime",
    "format_relative_day",
    "locale_chain",
    "text_direction",
]

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "es", "fr", "de", "pt", "ru", "ar", "ja")

_FALLBACK = "en"
_SUBTAG = re.compile(r"[a-z0-9]{1,8}")
# languages written right to left (ISO 639; "iw" is the old code for Hebrew)
_RTL_LANGUAGES = frozenset({"ar", "he", "iw", "fa", "ur", "ps", "yi", "dv", "ckb", "ug"})
# an explicit script subtag ("az-arab", "pa-arab", "ku-latn") decides over the language
_RTL_SCRIPTS = frozenset({"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg"})
# tznames that are offsets, not abbreviations: "+03", "-0330", "UTC+03:00", "GMT-5"
_NUMERIC_ZONE = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?")


def _subtags(locale: str | None) -> list[str]:
    """The well-formed, lower-case subtags of a tag, up to the first malformed one."""
    if not locale:
        return []
    # "fr-CH, fr;q=0.9" (Accept-Language) and "pt_BR.UTF-8@euro" (POSIX) keep their tag
    tag = re.split(r"[,;.@\s]", locale.strip(), maxsplit=1)[0]
    subtags: list[str] = []
    for part in tag.lower().replace("_", "-").split("-"):
        if not _SUBTAG.fullmatch(part):
            break
        subtags.append(part)
    return subtags


def locale_chain(locale: str | None, default: str = _FALLBACK) -> list[str]:
    """The tags to try, most specific first: "pt-BR" -> ["pt-br", "pt", "en"].

    Lower-case, "_" read as "-", no duplicates; the default (and its own parents) last.
    A missing or malformed tag gives just the default.
    """
    chain: list[str] = []
    for tag in (locale, default):
        subtags = _subtags(tag)
        for end in range(len(subtags), 0, -1):
            candidate = "-".join(subtags[:end])
            if candidate not in chain:
                chain.append(candidate)
    return chain or [_FALLBACK]


def text_direction(locale: str) -> str:
    """ "rtl" for languages written right to left (Arabic, Hebrew, Persian, Urdu...)."""
    subtags = _subtags(locale)
    if not subtags:
        return "ltr"
    scripts = [s for s in subtags[1:] if len(s) == 4 and s.isalpha()]
    if scripts:
        return "rtl" if scripts[0] in _RTL_SCRIPTS else "ltr"
    return "rtl" if subtags[0] in _RTL_LANGUAGES else "ltr"


# --- dates -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Moment:
    weekday: int  # Monday is 0
    day: int
    month: int  # 1..12
    hour: int
    clock: str  # "09:00"


@dataclass(frozen=True, slots=True)
class _Language:
    date: Callable[[_Moment, bool], str]  # the date and time, without the zone
    today: Callable[[_Moment], str]
    tomorrow: Callable[[_Moment], str]


_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")  # fmt: skip
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
              "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip
_ES_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")

_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")  # fmt: skip
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

_DE_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember")  # fmt: skip
_DE_DAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")

_PT_MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
              "setembro", "outubro", "novembro", "dezembro")  # fmt: skip
_PT_DAYS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
            "sábado", "domingo")  # fmt: skip

# Russian dates take the genitive month ("24 ноября") and "в" + accusative weekday
_RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
              "сентября", "октября", "ноября", "декабря")  # fmt: skip
_RU_ON_DAY = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу",
              "в субботу", "в воскресенье")  # fmt: skip

_AR_MONTHS = ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس",
              "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر")  # fmt: skip
_AR_DAYS = ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد")

_JA_DAYS = ("月", "火", "水", "木", "金", "土", "日")


def _es_at(m: _Moment) -> str:
    return f"a la {m.clock}" if m.hour == 1 else f"a las {m.clock}"  # "a la una"


def _pt_at(m: _Moment) -> str:
    return f"à {m.clock}" if m.hour == 1 else f"às {m.clock}"  # "à uma"


def _en(m: _Moment, weekday: bool) -> str:
    date = f"{m.day} {_EN_MONTHS[m.month - 1]}"
    return f"{_EN_DAYS[m.weekday]} {date} at {m.clock}" if weekday else f"{date} at {m.clock}"


def _es(m: _Moment, weekday: bool) -> str:
    day = f"el {_ES_DAYS[m.weekday]} {m.day}" if weekday else f"el {m.day}"
    return f"{day} de {_ES_MONTHS[m.month - 1]} {_es_at(m)}"


def _fr(m: _Moment, weekday: bool) -> str:
    day = "1er" if m.day == 1 else str(m.day)
    date = f"{day} {_FR_MONTHS[m.month - 1]}"
    return f"{_FR_DAYS[m.weekday]} {date} à {m.clock}" if weekday else f"{date} à {m.clock}"


def _de(m: _Moment, weekday: bool) -> str:
    date = f"{m.day}. {_DE_MONTHS[m.month - 1]}"
    if weekday:
        return f"{_DE_DAYS[m.weekday]}, {date}, um {m.clock} Uhr"
    return f"{date} um {m.clock} Uhr"


def _pt(m: _Moment, weekday: bool) -> str:
    date = f"{m.day} de {_PT_MONTHS[m.month - 1]}"
    if weekday:
        return f"{_PT_DAYS[m.weekday]}, {date}, {_pt_at(m)}"
    return f"{date} {_pt_at(m)}"


def _ru(m: _Moment, weekday: bool) -> str:
    date = f"{m.day} {_RU_MONTHS[m.month - 1]}"
    if weekday:
        return f"{_RU_ON_DAY[m.weekday]}, {date}, в {m.clock}"
    return f"{date} в {m.clock}"


def _ar(m: _Moment, weekday: bool) -> str:
    date = f"{m.day} {_AR_MONTHS[m.month - 1]} الساعة {m.clock}"
    return f"يوم {_AR_DAYS[m.weekday]} {date}" if weekday else date


def _ja(m: _Moment, weekday: bool) -> str:
    date = f"{m.month}月{m.day}日"
    return f"{date}({_JA_DAYS[m.weekday]}) {m.clock}" if weekday else f"{date} {m.clock}"


_LANGUAGES: dict[str, _Language] = {
    "en": _Language(_en, lambda m: f"today at {m.clock}", lambda m: f"tomorrow at {m.clock}"),
    "es": _Language(_es, lambda m: f"hoy {_es_at(m)}", lambda m: f"mañana {_es_at(m)}"),
    "fr": _Language(_fr, lambda m: f"aujourd'hui à {m.clock}", lambda m: f"demain à {m.clock}"),
    "de": _Language(_de, lambda m: f"heute um {m.clock} Uhr", lambda m: f"morgen um {m.clock} Uhr"),
    "pt": _Language(_pt, lambda m: f"hoje {_pt_at(m)}", lambda m: f"amanhã {_pt_at(m)}"),
    "ru": _Language(_ru, lambda m: f"сегодня в {m.clock}", lambda m: f"завтра в {m.clock}"),
    "ar": _Language(_ar, lambda m: f"اليوم الساعة {m.clock}", lambda m: f"غدًا الساعة {m.clock}"),
    "ja": _Language(_ja, lambda m: f"本日 {m.clock}", lambda m: f"明日 {m.clock}"),
}


def _language(locale: str) -> _Language:
    for tag in locale_chain(locale, _FALLBACK):
        if tag in _LANGUAGES:
            return _LANGUAGES[tag]
    return _LANGUAGES[_FALLBACK]


def _offset_name(sign: str, hours: int, minutes: int) -> str:
    if hours == 0 and minutes == 0:
        return "UTC"
    return f"UTC{sign}{hours}:{minutes:02d}" if minutes else f"UTC{sign}{hours}"


def _zone_name(local: datetime) -> str:
    """The zone's abbreviation ("CET", "EST"), or "UTC+3" where the zone has none."""
    name = local.tzname()
    if name:
        numeric = _NUMERIC_ZONE.fullmatch(name)
        if not numeric:
            return name
        sign, hours, minutes = numeric.groups()
        return _offset_name(sign, int(hours), int(minutes or 0))
    offset: timedelta | None = local.utcoffset()
    if offset is None:  # pragma: no cover - _localize rejects naive datetimes
        return "UTC"
    total = int(offset.total_seconds()) // 60
    return _offset_name("-" if total < 0 else "+", abs(total) // 60, abs(total) % 60)


def _localize(moment: datetime, tz: tzinfo | None) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no time zone to show; pass an aware one")
    return moment.astimezone(tz) if tz is not None else moment


def _parts(local: datetime) -> _Moment:
    return _Moment(
        weekday=local.weekday(),
        day=local.day,
        month=local.month,
        hour=local.hour,
        clock=f"{local.hour:02d}:{local.minute:02d}",
    )


def format_local_datetime(
    moment: datetime,
    locale: str,
    *,
    tz: ZoneInfo | None = None,
    with_weekday: bool = True,
    with_zone: bool = True,
) -> str:
    """`moment` in `tz` (default: its own zone), written as a native speaker writes it.

    en "Monday 24 November at 09:00 (CET)", de "Montag, 24. November, um 09:00 Uhr (CET)",
    ja "11月24日(月) 09:00 (CET)". Unknown locales fall back along `locale_chain` to
    English. Raises ValueError for a naive datetime.
    """
    local = _localize(moment, tz)
    text = _language(locale).date(_parts(local), with_weekday)
    return f"{text} ({_zone_name(local)})" if with_zone else text


def format_relative_day(
    moment: datetime,
    now: datetime,
    locale: str,
    tz: ZoneInfo | None = None,
    *,
    with_zone: bool = True,
) -> str:
    """ "today at 09:00 (CET)" or "tomorrow at 09:00 (CET)", else `format_local_datetime`.

    Today and tomorrow are calendar days in `tz` (default: `moment`'s own zone).
    """
    local = _localize(moment, tz)
    today = _localize(now, local.tzinfo).date()
    language = _language(locale)
    days = (local.date() - today).days
    if days == 0:
        text = language.today(_parts(local))
    elif days == 1:
        text = language.tomorrow(_parts(local))
    else:
        return format_local_datetime(local, locale, with_zone=with_zone)
    return f"{text} ({_zone_name(local)})" if with_zone else text
