"""The config file: the demo loads, and every mistake fails at start naming its field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.core.config import DEFAULT_CONFIG_PATH, load_config, parse_config
from functions.core.errors import ConfigError
from functions.core.models import Channel

DEMO = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


def _edited(old: str, new: str) -> str:
    """The demo text with one change; the change must apply exactly once."""
    assert DEMO.count(old) == 1, f"the demo config no longer contains {old!r} exactly once"
    return DEMO.replace(old, new)


def test_the_demo_config_loads() -> None:
    config = load_config()

    assert config.brand.support_address == "support@helpline.test"
    assert config.brand.message_id_domain == "helpline.test"
    assert config.languages.supported == ("en", "es", "fr", "de", "pt", "ru", "ar", "ja")
    assert config.languages.default == "en"
    assert set(config.teams) == {"english", "spanish", "russian", "arabic"}
    assert set(config.calendars) == {"london", "madrid", "moscow", "dubai"}
    assert config.routing.default_team == "english"
    assert [rule.name for rule in config.routing.rules] == ["urgent outage", "vip customers"]
    assert config.email.addresses == ("support@helpline.test",)
    assert config.calendar_for_team("spanish").tz.key == "Europe/Madrid"


def test_the_demo_calendars_mean_what_they_say() -> None:
    config = load_config()
    madrid = config.calendar_for_team("spanish")

    assert madrid.is_open(datetime(2026, 12, 23, 10, 0, tzinfo=UTC))  # a Wednesday
    assert not madrid.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=UTC))  # listed closure


def test_the_demo_rules_are_parsed() -> None:
    outage = load_config().routing.rules[0]

    assert outage.priority == "urgent"
    assert outage.tags == ("outage",)
    assert outage.team is None
    assert "site down" in outage.when.keywords
    assert "не работает" in outage.when.keywords


MISTAKES = [
    # what the admin got wrong: the demo text, their text, the field the error must name
    pytest.param(
        "default_team: english",
        "default_team: englsh",
        "routing.default_team",
        id="unknown default team",
    ),
    pytest.param(
        "calendar: madrid",
        "calendar: madird",
        "teams.spanish.calendar",
        id="a team's unknown calendar",
    ),
    pytest.param(
        'mon-fri: ["09:00-17:30"]',
        'mon-fri: ["9-17"]',
        "calendars.london.hours.mon-fri[0]",
        id="window without minutes",
    ),
    pytest.param(
        "  min_length: 24", "  min_lenght: 24", "languages.min_lenght", id="typo in a field name"
    ),
    pytest.param(
        "    calendar: london",
        "    calender: london",
        "teams.english.calender",
        id="typo in a team field",
    ),
    pytest.param(
        '      mon-fri: ["09:00-18:00"]',
        '      fri-mon: ["09:00-18:00"]',
        "calendars.moscow.hours.fri-mon",
        id="backwards weekday range",
    ),
    pytest.param(
        "timezone: Europe/Moscow",
        "timezone: Europe/Moskva",
        "calendars.moscow.timezone",
        id="unknown time zone",
    ),
    pytest.param(
        "holidays: {country: AE}",
        "holidays: {country: XX}",
        "calendars.dubai.holidays.country",
        id="unknown holiday country",
    ),
    pytest.param(
        "subdivision: ENG}",
        "subdivision: XYZ}",
        "calendars.london.holidays.subdivision",
        id="unknown holiday region",
    ),
    pytest.param(
        "min_confidence: 0.90",
        "min_confidence: 1.5",
        "languages.min_confidence",
        id="confidence above 1",
    ),
    pytest.param(
        "    languages: [ru]",
        "    languages: [it]",
        "teams.russian.languages[0]",
        id="team language not supported",
    ),
    pytest.param(
        "  default: en", "  default: it", "languages.default", id="default language not supported"
    ),
    pytest.param(
        '      fri: ["09:00-15:00"]',
        '      fri: ["09:00-15:00"]\n      thu: ["09:00-12:00"]',
        "calendars.madrid.hours.thu",
        id="weekday listed twice",
    ),
    pytest.param(
        '      mon-thu: ["08:00-16:00"]',
        '      mon-thu: ["08:00-16:00", "15:00-17:00"]',
        "calendars.dubai.hours",
        id="overlapping windows",
    ),
    pytest.param(
        "max_message_mb: 40",
        "max_message_mb: 50",
        "email.max_message_mb",
        id="message size above SES's 40 MB",
    ),
    pytest.param(
        '"2026-12-31"]', '"2026-31-12"]', "calendars.madrid.closures[1]", id="bad closure date"
    ),
    pytest.param(
        "      priority: high",
        "      priority: critical",
        "routing.rules[1].priority",
        id="unknown priority",
    ),
    pytest.param(
        "      priority: high",
        "      priority: high\n      team: vip",
        "routing.rules[1].team",
        id="unknown rule team",
    ),
    pytest.param(
        "        customer_tags: [vip]",
        "        customer_tags: [vip]\n        channels: [fax]",
        "routing.rules[1].when.channels[0]",
        id="unknown channel",
    ),
    pytest.param(
        "on_follow_up: after_hours",
        "on_follow_up: sometimes",
        "replies.on_follow_up",
        id="on_follow_up value",
    ),
    pytest.param("  spam: tag ", "  spam: delete ", "email.spam", id="spam action"),
    pytest.param("virus: quarantine", "virus: tag", "email.virus", id="virus not quarantined"),
    pytest.param(
        "addresses: [support@helpline.test]",
        "addresses: [support]",
        "email.addresses[0]",
        id="not an address",
    ),
    pytest.param(
        "window_minutes: 60", "window_minutes: -5", "replies.window_minutes", id="negative window"
    ),
    pytest.param(
        "  support_address: support@helpline.test",
        "",
        "brand.support_address",
        id="missing brand address",
    ),
    pytest.param("version: 1", "version: 2", "version", id="future version"),
    pytest.param(
        "  allowed_origins: [https://shop.helpline.test]\n",
        "",
        "chat.allowed_origins",
        id="chat without allowed origins",
    ),
    pytest.param(
        "allowed_origins: [https://shop.helpline.test]",
        "allowed_origins: []",
        "chat.allowed_origins",
        id="chat with no allowed origin",
    ),
    pytest.param(
        "allowed_origins: [https://shop.helpline.test]",
        'allowed_origins: ["*"]',
        "chat.allowed_origins[0]",
        id="any origin",
    ),
    pytest.param(
        "allowed_origins: [https://shop.helpline.test]",
        "allowed_origins: [https://shop.helpline.test, https://helpline.test/shop]",
        "chat.allowed_origins[1]",
        id="origin with a path",
    ),
    pytest.param(
        "allowed_origins: [https://shop.helpline.test]",
        "allowed_origins: [shop.helpline.test]",
        "chat.allowed_origins[0]",
        id="origin without a scheme",
    ),
    pytest.param(
        "allowed_origins: [https://shop.helpline.test]",
        "allowed_origins: ['https://*.helpline.test']",
        "chat.allowed_origins[0]",
        id="wildcard origin",
    ),
    pytest.param("brand:\n", "brand: [\n", "(file)", id="bad YAML"),
]


@pytest.mark.parametrize(("old", "new", "field"), MISTAKES)
def test_a_mistake_names_its_field(old: str, new: str, field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(_edited(old, new))

    assert raised.value.field == field
    assert field in str(raised.value)
    assert raised.value.problem


def test_a_rule_language_outside_supported_is_rejected() -> None:
    text = _edited(
        "        customer_tags: [vip]", "        customer_tags: [vip]\n        languages: [sp]"
    )

    with pytest.raises(ConfigError) as raised:
        parse_config(text)

    assert raised.value.field == "routing.rules[1].when.languages[0]"


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(f"{tmp_path}/nowhere.yaml")

    assert raised.value.field == "(file)"


def test_a_rule_with_only_a_channel_condition_is_accepted() -> None:
    text = _edited(
        "  rules:\n",
        "  rules:\n    - name: whatsapp\n      when: {channels: [whatsapp]}\n      tags: [wa]\n",
    )

    rule = parse_config(text).routing.rules[0]

    assert rule.when.channels == (Channel.WHATSAPP,)
    assert rule.tags == ("wa",)


def test_chat_without_allowed_origins_says_what_to_write() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(_edited("  allowed_origins: [https://shop.helpline.test]\n", ""))

    assert "chat.allowed_origins" in str(raised.value)
    assert "https://" in raised.value.problem


def test_allowed_origins_are_written_as_browsers_send_them() -> None:
    text = _edited(
        "allowed_origins: [https://shop.helpline.test]",
        "allowed_origins: ['HTTPS://Shop.Helpline.Test:443', 'http://127.0.0.1:8080']",
    )

    assert parse_config(text).chat.allowed_origins == (
        "https://shop.helpline.test",
        "http://127.0.0.1:8080",
    )


def test_the_local_stacks_copy_of_the_config_allows_its_own_demo_shop(tmp_path: Path) -> None:
    from infra.local.resources import config_with_fake_platforms

    path = config_with_fake_platforms(DEFAULT_CONFIG_PATH, tmp_path, "http://127.0.0.1:8080")

    assert load_config(path).chat.allowed_origins == (
        "https://shop.helpline.test",
        "http://127.0.0.1:8080",
        "http://localhost:8080",
    )
