"""Locale chains, text direction and native date formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from functions.core.localize import (
    SUPPORTED_LOCALES,
    format_local_datetime,
    format_relative_day,
    locale_chain,
    text_direction,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Monday 24 November 2025, 09:00 in Berlin: winter time (CET)
MONDAY_9AM = datetime(2025, 11, 24, 9, 0, tzinfo=BERLIN)


# --- locale_chain -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "chain"),
    [
        ("pt-BR", ["pt-br", "pt", "en"]),
        ("pt_BR", ["pt-br", "pt", "en"]),
        ("PT-br", ["pt-br", "pt", "en"]),
        ("zh-Hant-TW", ["zh-hant-tw", "zh-hant", "zh", "en"]),
        ("de", ["de", "en"]),
        ("en", ["en"]),
        ("en-GB", ["en-gb", "en"]),
        (None, ["en"]),
        ("", ["en"]),
        ("  fr-CA  ", ["fr-ca", "fr", "en"]),
        ("fr-CH, fr;q=0.9, en;q=0.8", ["fr-ch", "fr", "en"]),  # an Accept-Language header
        ("de_DE.UTF-8", ["de-de", "de", "en"]),  # a POSIX locale
    ],
)
def test_locale_chain_goes_from_specific_to_default(locale: str | None, chain: list[str]) -> None:
    assert locale_chain(locale) == chain


def test_locale_chain_ends_with_the_given_default() -> None:
    assert locale_chain("pt-BR", default="es") == ["pt-br", "pt", "es"]
    assert locale_chain(None, default="DE") == ["de"]
    assert locale_chain("es-MX", default="es") == ["es-mx", "es"]


@pytest.mark.parametrize("locale", ["../../etc/passwd", "en/../../x", "{{ 7*7 }}", "é"])
def test_locale_chain_drops_malformed_tags(locale: str) -> None:
    # the chain names template files, so nothing but letters, digits and "-" gets through
    assert locale_chain(locale) == ["en"]


def test_locale_chain_keeps_the_well_formed_start_of_a_tag() -> None:
    assert locale_chain("es-419/../x") == ["es", "en"]


# --- text_direction -----------------------------------------------------------------


@pytest.mark.parametrize("locale", ["ar", "ar-EG", "AR_sa", "he", "he-IL", "fa", "fa-IR", "ur"])
def test_right_to_left_languages(locale: str) -> None:
    assert text_direction(locale) == "rtl"


@pytest.mark.parametrize("locale", ["en", "es", "fr", "de", "pt-BR", "ru", "ja", "", "xx"])
def test_left_to_right_languages(locale: str) -> None:
    assert text_direction(locale) == "ltr"


def test_an_explicit_script_decides_the_direction() -> None:
    assert text_direction("az-Arab") == "rtl"
    assert text_direction("pa-Arab-PK") == "rtl"
    assert text_direction("ku-Latn") == "ltr"


# --- format_local_datetime ----------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Monday 24 November at 09:00 (CET)"),
        ("es", "el lunes 24 de noviembre a las 09:00 (CET)"),
        ("fr", "lundi 24 novembre à 09:00 (CET)"),
        ("de", "Montag, 24. November, um 09:00 Uhr (CET)"),
        ("pt", "segunda-feira, 24 de novembro, às 09:00 (CET)"),
        ("ru", "в понедельник, 24 ноября, в 09:00 (CET)"),
        ("ar", "يوم الاثنين 24 نوفمبر الساعة 09:00 (CET)"),
        ("ja", "11月24日(月) 09:00 (CET)"),
    ],
)
def test_each_supported_locale_writes_the_date_natively(locale: str, expected: str) -> None:
    assert format_local_datetime(MONDAY_9AM, locale) == expected


def test_every_supported_locale_has_a_format() -> None:
    english = format_local_datetime(MONDAY_9AM, "en")
    others = {format_local_datetime(MONDAY_9AM, locale) for locale in SUPPORTED_LOCALES[1:]}
    assert english not in others
    assert len(others) == len(SUPPORTED_LOCALES) - 1


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "24 November at 09:00"),
        ("es", "el 24 de noviembre a las 09:00"),
        ("fr", "24 novembre à 09:00"),
        ("de", "24. November um 09:00 Uhr"),
        ("pt", "24 de novembro às 09:00"),
        ("ru", "24 ноября в 09:00"),
        ("ar", "24 نوفمبر الساعة 09:00"),
        ("ja", "11月24日 09:00"),
    ],
)
def test_without_weekday_and_zone(locale: str, expected: str) -> None:
    assert (
        format_local_datetime(MONDAY_9AM, locale, with_weekday=False, with_zone=False) == expected
    )


def test_summer_time_shows_the_summer_zone_name() -> None:
    summer = datetime(2025, 6, 3, 14, 30, tzinfo=BERLIN)  # a Tuesday
    assert format_local_datetime(summer, "en") == "Tuesday 3 June at 14:30 (CEST)"
    assert format_local_datetime(summer, "ru") == "во вторник, 3 июня, в 14:30 (CEST)"


def test_the_zone_name_follows_the_daylight_saving_switch() -> None:
    # Europe switched back to winter time at 01:00 UTC on 26 October 2025
    before = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    after = before + timedelta(hours=1)
    assert format_local_datetime(before, "de", tz=BERLIN) == (
        "Sonntag, 26. Oktober, um 02:30 Uhr (CEST)"
    )
    assert format_local_datetime(after, "de", tz=BERLIN) == (
        "Sonntag, 26. Oktober, um 02:30 Uhr (CET)"
    )


def test_tz_converts_the_moment_before_formatting() -> None:
    # 09:00 in Berlin is 03:00 in New York, still Monday
    assert format_local_datetime(MONDAY_9AM, "en", tz=NEW_YORK) == (
        "Monday 24 November at 03:00 (EST)"
    )
    # and 02:00 in Berlin is the evening before in New York
    early = datetime(2025, 11, 24, 2, 0, tzinfo=BERLIN)
    assert format_local_datetime(early, "es", tz=NEW_YORK) == (
        "el domingo 23 de noviembre a las 20:00 (EST)"
    )


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (ZoneInfo("Europe/Istanbul"), "Monday 24 November at 11:00 (UTC+3)"),  # tzname "+03"
        (ZoneInfo("America/Sao_Paulo"), "Monday 24 November at 05:00 (UTC-3)"),  # "-03"
        (ZoneInfo("Asia/Kathmandu"), "Monday 24 November at 13:45 (UTC+5:45)"),  # "+0545"
        (timezone(timedelta(hours=5, minutes=30)), "Monday 24 November at 13:30 (UTC+5:30)"),
        (UTC, "Monday 24 November at 08:00 (UTC)"),
        (ZoneInfo("Asia/Tokyo"), "Monday 24 November at 17:00 (JST)"),
    ],
)
def test_numeric_zone_names_are_written_as_utc_offsets(
    zone: ZoneInfo | timezone, expected: str
) -> None:
    assert format_local_datetime(MONDAY_9AM.astimezone(zone), "en") == expected


def test_regional_and_unknown_locales_fall_back_along_the_chain() -> None:
    assert format_local_datetime(MONDAY_9AM, "pt-BR") == format_local_datetime(MONDAY_9AM, "pt")
    assert format_local_datetime(MONDAY_9AM, "de_AT") == format_local_datetime(MONDAY_9AM, "de")
    assert format_local_datetime(MONDAY_9AM, "sw") == format_local_datetime(MONDAY_9AM, "en")
    assert format_local_datetime(MONDAY_9AM, "") == format_local_datetime(MONDAY_9AM, "en")


def test_native_details() -> None:
    first = datetime(2025, 12, 1, 1, 5, tzinfo=BERLIN)  # Monday 1 December, 01:05
    assert format_local_datetime(first, "fr") == "lundi 1er décembre à 01:05 (CET)"
    assert format_local_datetime(first, "es") == "el lunes 1 de diciembre a la 01:05 (CET)"
    assert format_local_datetime(first, "pt") == "segunda-feira, 1 de dezembro, à 01:05 (CET)"
    sunday = datetime(2025, 11, 30, 18, 0, tzinfo=BERLIN)
    assert format_local_datetime(sunday, "ru") == "в воскресенье, 30 ноября, в 18:00 (CET)"
    assert format_local_datetime(sunday, "ja") == "11月30日(日) 18:00 (CET)"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_local_datetime(datetime(2025, 11, 24, 9, 0), "en")


# --- format_relative_day ------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "today", "tomorrow"),
    [
        ("en", "today at 09:00 (CET)", "tomorrow at 09:00 (CET)"),
        ("es", "hoy a las 09:00 (CET)", "mañana a las 09:00 (CET)"),
        ("fr", "aujourd'hui à 09:00 (CET)", "demain à 09:00 (CET)"),
        ("de", "heute um 09:00 Uhr (CET)", "morgen um 09:00 Uhr (CET)"),
        ("pt", "hoje às 09:00 (CET)", "amanhã às 09:00 (CET)"),
        ("ru", "сегодня в 09:00 (CET)", "завтра в 09:00 (CET)"),
        ("ar", "اليوم الساعة 09:00 (CET)", "غدًا الساعة 09:00 (CET)"),
        ("ja", "本日 09:00 (CET)", "明日 09:00 (CET)"),
    ],
)
def test_today_and_tomorrow(locale: str, today: str, tomorrow: str) -> None:
    same_morning = datetime(2025, 11, 24, 7, 15, tzinfo=BERLIN)
    evening_before = datetime(2025, 11, 23, 22, 0, tzinfo=BERLIN)
    assert format_relative_day(MONDAY_9AM, same_morning, locale) == today
    assert format_relative_day(MONDAY_9AM, evening_before, locale) == tomorrow


def test_later_days_get_the_full_date() -> None:
    friday = datetime(2025, 11, 21, 17, 0, tzinfo=BERLIN)
    assert format_relative_day(MONDAY_9AM, friday, "en") == "Monday 24 November at 09:00 (CET)"


def test_relative_day_can_leave_out_the_zone() -> None:
    evening_before = datetime(2025, 11, 23, 22, 0, tzinfo=BERLIN)
    assert format_relative_day(MONDAY_9AM, evening_before, "en", with_zone=False) == (
        "tomorrow at 09:00"
    )


def test_days_are_counted_in_the_calendar_zone() -> None:
    # 23:30 UTC on Sunday is already Monday 00:30 in Berlin: 09:00 is "today" there
    now = datetime(2025, 11, 23, 23, 30, tzinfo=UTC)
    assert format_relative_day(MONDAY_9AM, now, "en") == "today at 09:00 (CET)"
    # in New York it is still Sunday evening, and 09:00 Berlin is 03:00 tomorrow
    assert format_relative_day(MONDAY_9AM, now, "en", NEW_YORK) == "tomorrow at 03:00 (EST)"
