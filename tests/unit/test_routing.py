"""decide_route: which team gets a new ticket, at what priority, with which tags."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.config import DEFAULT_CONFIG_PATH, Config, load_config, parse_config
from functions.core.models import Channel
from functions.core.routing import RouteDecision, decide_route

DEMO = load_config()


@pytest.fixture(scope="module")
def extra_rules() -> Config:
    """The demo config with three more rules before the demo's own."""
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    rules = (
        "  rules:\n"
        "    - name: whatsapp desk\n"
        "      when: {channels: [whatsapp]}\n"
        "      team: spanish\n"
        "      tags: [whatsapp]\n"
        "    - name: french vip\n"
        "      when: {languages: [fr], customer_tags: [vip]}\n"
        "      team: arabic\n"
        "      tags: [vip-fr]\n"
        "    - name: refunds\n"
        "      when: {keywords: [refund]}\n"
        "      team: russian\n"
        "      tags: [refund]\n"
    )
    assert text.count("  rules:\n") == 1
    return parse_config(text.replace("  rules:\n", rules))


def _route(config: Config = DEMO, **kwargs: Any) -> RouteDecision:
    fields: dict[str, Any] = {
        "language": "en",
        "channel": Channel.EMAIL,
        "subject": "Question about my order",
        "text": "Hello, my order has not arrived yet.",
    }
    fields.update(kwargs)
    return decide_route(config, **fields)


@pytest.mark.parametrize(
    ("language", "team"),
    [
        ("en", "english"),
        ("es", "spanish"),
        ("es-MX", "spanish"),
        ("ru", "russian"),
        ("ar", "arabic"),
    ],
)
def test_the_team_that_speaks_the_language_gets_it(language: str, team: str) -> None:
    decision = _route(language=language)

    assert (decision.team, decision.reason) == (team, "language")
    assert (decision.priority, decision.tags, decision.rules) == ("normal", (), ())


@pytest.mark.parametrize("language", ["ja", "fr", "it", None])
def test_a_language_no_team_speaks_goes_to_the_default_team(language: str | None) -> None:
    decision = _route(language=language)

    assert (decision.team, decision.reason) == ("english", "default")


@pytest.mark.parametrize(
    ("language", "subject", "text"),
    [
        ("en", "Site down!", "Nothing loads since 9am."),
        ("en", "Help", "We have a total OUTAGE on the checkout."),
        ("es", "Urgente", "Hay una caída del servicio desde esta mañana."),
        ("ru", "Срочно", "Сайт не работает с утра."),
        ("ar", "عاجل", "الخدمة متوقفة منذ الصباح"),
    ],
)
def test_the_outage_rule_raises_priority_and_tags_but_keeps_the_language_team(
    language: str, subject: str, text: str
) -> None:
    decision = _route(language=language, subject=subject, text=text)

    assert decision.priority == "urgent"
    assert decision.tags == ("outage",)
    assert decision.rules == ("urgent outage",)
    assert decision.reason == "language"  # the rule names no team


def test_a_customer_tag_rule_matches_only_tagged_customers() -> None:
    vip = _route(customer_tags=["vip", "reseller"])
    regular = _route(customer_tags=["reseller"])

    assert (vip.priority, vip.rules) == ("high", ("vip customers",))
    assert (regular.priority, regular.rules) == ("normal", ())


def test_every_matching_rule_counts_and_the_highest_priority_wins() -> None:
    decision = _route(subject="Site down", customer_tags=["vip"])

    assert decision.rules == ("urgent outage", "vip customers")
    assert decision.priority == "urgent"


def test_a_rule_never_lowers_the_current_priority() -> None:
    decision = _route(customer_tags=["vip"], current_priority="urgent")

    assert decision.priority == "urgent"


def test_a_channel_rule_takes_the_ticket_before_the_language(extra_rules: Config) -> None:
    on_whatsapp = _route(extra_rules, channel=Channel.WHATSAPP)
    by_email = _route(extra_rules, channel=Channel.EMAIL)

    assert (on_whatsapp.team, on_whatsapp.reason) == ("spanish", "rule")
    assert on_whatsapp.tags == ("whatsapp",)
    assert (by_email.team, by_email.reason) == ("english", "language")


def test_all_of_a_rules_conditions_must_hold(extra_rules: Config) -> None:
    both = _route(extra_rules, language="fr", customer_tags=["vip"])
    french_only = _route(extra_rules, language="fr-CA")
    vip_only = _route(extra_rules, language="en", customer_tags=["vip"])

    assert both.team == "arabic"
    assert (french_only.team, french_only.reason) == ("english", "default")
    assert (vip_only.team, vip_only.reason) == ("english", "language")


def test_the_first_rule_naming_a_team_wins_and_later_ones_still_tag(extra_rules: Config) -> None:
    decision = _route(extra_rules, channel=Channel.WHATSAPP, text="I want a refund, site down")

    assert decision.team == "spanish"
    assert decision.rules == ("whatsapp desk", "refunds", "urgent outage")
    assert decision.tags == ("whatsapp", "refund", "outage")
    assert decision.priority == "urgent"


def test_a_keyword_inside_another_word_does_not_match() -> None:
    decision = _route(subject="Planned maintenance", text="Will there be any website downtime?")

    assert decision.priority == "normal"
    assert "outage" not in decision.tags
