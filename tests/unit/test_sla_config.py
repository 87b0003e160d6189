"""The `sla` config section: a good file means what it says; each mistake names its field."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from functions.core import sla
from functions.core.config import Config, parse_config
from functions.core.errors import ConfigError
from functions.core.localize import format_local_datetime
from functions.core.sla import (
    DEFAULT_POLICY,
    FIRST_RESPONSE,
    NEXT_RESPONSE,
    RESOLUTION,
    EscalationAction,
    PolicyConditions,
    SlaSettings,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
MADRID = ZoneInfo("Europe/Madrid")

# The rest of a config file, as config.py parses it today (it has no `sla` key yet).
BASE = """
version: 1
brand: {name: Helpline Test, support_address: support@helpline.test}
languages: {supported: [en, es, ja], default: en}
calendars:
  london:
    timezone: Europe/London
    hours: {mon-fri: ["09:00-17:30"]}
    holidays: {country: GB, subdivision: ENG}
  madrid:
    timezone: Europe/Madrid
    hours:
      mon-thu: ["09:00-14:00", "15:00-18:00"]
      fri: ["09:00-15:00"]
    holidays: {country: ES, subdivision: MD}
  always:
    timezone: UTC
    hours: {mon-sun: ["00:00-12:00", "12:00-24:00"]}
teams:
  english: {languages: [en], calendar: london}
  spanish: {languages: [es], calendar: madrid}
"""

GOOD = """
policies:
  - name: urgent
    when: {priorities: [urgent, high], channels: [email, chat], teams: [english],
           customer_tags: [vip], languages: [en]}
    calendar: always
    targets:
      first_response: {within: 1h, hours: business, warn_at: 75%}
      next_response:  {within: 4h, hours: business, warn_at: 0.5}
      resolution:     {within: 2d, hours: calendar, warn_at: 80%, pause_when: [pending]}
    escalation:
      - on: warning
        actions: [{notify: team_lead}]
      - on: breach
        actions: [{raise_priority: urgent}, {move_to: escalation}, {notify: team_lead}]
      - on: second_breach
        actions: [{page: "oncall@helpline.test"}]
  - name: spanish-chat
    when: {teams: [spanish], channels: [chat]}
    targets:
      first_response: {within: 30m}
  - name: default
    targets:
      first_response: {within: 8h}
      next_response: {within: 1h30m, warn_at: 100%}
      resolution: {within: 40h, pause_when: [pending, new]}
    escalation:
      - on: breach
        actions: [{notify: Lead-ES@helpline.test}, {move_to: spanish}]
team_leads: {english: lead-en@helpline.test, spanish: Lead-ES@Helpline.test}
"""

CONFIG: Config = parse_config(BASE)


def settings_from(node: Any) -> SlaSettings:
    """How config.py is to call the parser: the section plus what it has already parsed."""
    return sla.parse_sla(
        node,
        calendars=CONFIG.calendars,
        teams=CONFIG.teams,
        languages=CONFIG.languages.supported,
    )


def good() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(GOOD))


def test_a_good_section_means_what_it_says() -> None:
    settings = settings_from(good())

    assert not settings.builtin
    assert [p.name for p in settings.policies] == ["urgent", "spanish-chat", "default"]
    urgent, spanish_chat, default = settings.policies
    assert urgent.when == PolicyConditions(
        priorities=("urgent", "high"),
        channels=("email", "chat"),
        teams=("english",),
        customer_tags=("vip",),
        languages=("en",),
    )
    assert urgent.calendar == "always"
    first, nxt, resolution = urgent.targets
    assert (first.target, first.within, first.warn_after, first.business) == (
        FIRST_RESPONSE,
        H,
        45 * M,
        True,
    )
    assert (nxt.target, nxt.within, nxt.warn_after) == (NEXT_RESPONSE, 4 * H, 2 * H)
    # 2d of calendar time is 48 h; 80% of it is 38 h 24 min.
    assert (resolution.target, resolution.within, resolution.warn_after) == (
        RESOLUTION,
        48 * H,
        38 * H + 24 * M,
    )
    assert (resolution.business, resolution.pause_when) == (False, frozenset({"pending"}))
    assert urgent.actions_for("warning") == (EscalationAction("notify", "team_lead"),)
    assert urgent.actions_for("breach") == (
        EscalationAction("raise_priority", "urgent"),
        EscalationAction("move_to", "escalation"),
        EscalationAction("notify", "team_lead"),
    )
    assert urgent.actions_for("second_breach") == (
        EscalationAction("page", "oncall@helpline.test"),
    )
    assert [spec.target for spec in spanish_chat.targets] == [FIRST_RESPONSE]
    assert spanish_chat.actions_for("breach") == ()
    assert default.when is None
    assert default.target(NEXT_RESPONSE) == sla.TargetSpec(NEXT_RESPONSE, 90 * M, 90 * M)
    resolution_default = default.target(RESOLUTION)
    assert resolution_default is not None
    assert resolution_default.pause_when == frozenset({"pending", "new"})
    assert resolution_default.warn_after == 30 * H  # the default warning is at 75%
    assert default.actions_for("breach")[0] == EscalationAction("notify", "lead-es@helpline.test")
    assert settings.team_leads == {
        "english": "lead-en@helpline.test",
        "spanish": "lead-es@helpline.test",
    }
    assert settings.team_lead("spanish") == "lead-es@helpline.test"
    assert settings.calendar_name(urgent, "spanish") == "always"
    assert settings.calendar_name(default, "spanish") == "madrid"
    assert settings.policy("spanish-chat") is spanish_chat
    assert settings.policy("vip") is None


@pytest.mark.parametrize(
    ("ticket", "expected"),
    [
        (
            {
                "priority": "urgent",
                "channel": "email",
                "team": "english",
                "tags": ["vip"],
                "language": "en",
            },
            "urgent",
        ),
        # "en-gb" is English for a condition on "en"
        (
            {
                "priority": "high",
                "channel": "chat",
                "team": "english",
                "tags": ["new", "vip"],
                "language": "en-gb",
            },
            "urgent",
        ),
        # every condition must hold: not a VIP
        (
            {
                "priority": "urgent",
                "channel": "email",
                "team": "english",
                "tags": [],
                "language": "en",
            },
            "default",
        ),
        (
            {
                "priority": "urgent",
                "channel": "whatsapp",
                "team": "english",
                "tags": ["vip"],
                "language": "en",
            },
            "default",
        ),
        (
            {
                "priority": "urgent",
                "channel": "email",
                "team": "english",
                "tags": ["vip"],
                "language": None,
            },
            "default",
        ),
        (
            {"priority": "low", "channel": "chat", "team": "spanish", "tags": [], "language": "es"},
            "spanish-chat",
        ),
        (
            {
                "priority": "low",
                "channel": "email",
                "team": "spanish",
                "tags": [],
                "language": "es",
            },
            "default",
        ),
    ],
)
def test_the_first_matching_policy_applies(ticket: dict[str, Any], expected: str) -> None:
    settings = settings_from(good())

    chosen = sla.choose_policy(
        settings,
        priority=ticket["priority"],
        channel=ticket["channel"],
        team=ticket["team"],
        customer_tags=ticket["tags"],
        language=ticket["language"],
    )

    assert chosen.name == expected


def test_without_a_section_the_builtin_default_applies_to_every_ticket() -> None:
    settings = settings_from(None)

    assert settings.builtin
    assert settings.policies == (DEFAULT_POLICY,)
    chosen = sla.choose_policy(
        settings,
        priority="urgent",
        channel="x",
        team="spanish",
        customer_tags=["vip"],
        language="ja",
    )
    assert chosen is DEFAULT_POLICY
    assert [(s.target, s.within, s.warn_after) for s in DEFAULT_POLICY.targets] == [
        (FIRST_RESPONSE, 4 * H, 3 * H),
        (NEXT_RESPONSE, 8 * H, 6 * H),
        (RESOLUTION, 40 * H, 32 * H),
    ]
    assert settings.calendar_name(chosen, "spanish") == "madrid"


def test_from_config_to_the_promise_in_the_customers_language() -> None:
    settings = settings_from(good())
    # A Spanish chat on Friday 5 June 2026 at 19:00, after the Friday 09:00-15:00 shift.
    policy = sla.choose_policy(
        settings, priority="normal", channel="chat", team="spanish", customer_tags=[], language="es"
    )
    calendar = CONFIG.calendars[settings.calendar_name(policy, "spanish")]
    created = datetime(2026, 6, 5, 19, tzinfo=MADRID)

    promised = sla.expected_first_response(policy, calendar, at=created)
    state = sla.start(policy, calendar, at=created, status="new")

    # Monday 09:00 + 30 min.
    assert promised == datetime(2026, 6, 8, 9, 30, tzinfo=MADRID)
    assert sla.next_due(state) == datetime(2026, 6, 8, 9, 22, 30, tzinfo=MADRID)  # 75%
    assert format_local_datetime(promised, "es") == "el lunes 8 de junio a las 09:30 (CEST)"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit of the good section: set (or with value DELETE, remove) a dotted path."""

    def edit(node: dict[str, Any]) -> None:
        *parents, last = _steps(path)
        target: Any = node
        for step in parents:
            target = target[step]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value

    return edit


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.split("."):
        name, *indexes = part.replace("]", "").split("[")
        steps.append(name)
        steps.extend(int(i) for i in indexes)
    return steps


DELETE = object()
P0 = "policies[0]"
P1 = "policies[1]"
P2 = "policies[2]"

MISTAKES = [
    # the edit, the field the error must name, what it must say
    (f"{P1}.targets.first_response.warn_at", "120%", "must be between 0 and 100%"),
    (f"{P1}.targets.first_response.warn_at", 0, "must be between 0 and 100%"),
    (f"{P1}.targets.first_response.warn_at", 75, "must be between 0 and 100%"),
    (f"{P1}.targets.first_response.warn_at", "75", "not a percentage like 75%"),
    (f"{P0}.targets.first_response.within", "2d", "days are ambiguous in business hours"),
    (f"{P0}.targets.first_response.within", "soon", "not a duration like 30m"),
    (f"{P0}.targets.first_response.within", 30, "not a duration like 30m"),
    (f"{P0}.targets.first_response.within", "0m", "longer than zero"),
    (f"{P0}.targets.resolution.within", "400d", "at most 365 days"),
    (f"{P0}.targets.first_response.hours", "office", "business or calendar"),
    (f"{P0}.targets.first_response.within_hours", 4, "unknown field"),
    (f"{P0}.targets.first_reply", {"within": "1h"}, "unknown field"),
    (f"{P0}.targets.first_response.pause_when", ["pending"], "first response never pauses"),
    (f"{P0}.targets.resolution.pause_when[0]", "waiting", "unknown status 'waiting'"),
    (f"{P0}.targets.resolution.pause_when[0]", "solved", "stops the clock"),
    (f"{P2}.targets", {}, "set at least one of"),
    (f"{P0}.when.teams[0]", "french", "unknown team 'french'"),
    (f"{P0}.when.channels[1]", "fax", "unknown channel 'fax'"),
    (f"{P0}.when.priorities[0]", "critical", "unknown priority 'critical'"),
    (f"{P0}.when.languages[0]", "fr", "unknown language 'fr' (known: en, es, ja)"),
    (f"{P0}.when.languages[0]", "english", "not a language code"),
    (f"{P0}.when.customer_tags", [], "list at least one value"),
    (f"{P0}.calendar", "tokyo", "unknown calendar 'tokyo' (known: always, london, madrid)"),
    (f"{P0}.escalation[0].on", "later", "must be one of warning, breach, second_breach"),
    (f"{P0}.escalation[1].on", "warning", "a second step for warning"),
    (f"{P0}.escalation[1].actions[0]", {"email": "x@helpline.test"}, "an action is one of"),
    (f"{P0}.escalation[1].actions[0].raise_priority", "critical", "must be one of low"),
    (f"{P0}.escalation[1].actions[1].move_to", "french", "must be escalation or a team"),
    (f"{P0}.escalation[2].actions[0].page", "oncall", "not an email address"),
    (f"{P0}.escalation[2].actions", [], "list at least one action"),
    (f"{P1}.name", "urgent", "policy 'urgent' is defined twice"),
    (f"{P1}.name", "Spanish Chat", "lower-case letters"),
    ("team_leads.french", "lead-fr@helpline.test", "unknown team 'french'"),
    ("team_leads.english", "nobody", "not an email address"),
    ("policies", [], "list at least one policy"),
    ("policy", [], "unknown field"),
]


@pytest.mark.parametrize(("field", "value", "message"), MISTAKES)
def test_each_mistake_names_its_field(field: str, value: Any, message: str) -> None:
    node = good()
    _set(field, value)(node)

    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        settings_from(node)

    assert caught.value.field == f"sla.{field}"


def _both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(node: dict[str, Any]) -> None:
        for one in edits:
            one(node)

    return edit


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        # only the last policy may go without `when`...
        (_set(f"{P0}.when", DELETE), f"{P0}.when", "is required: only the last policy"),
        # ...and the last one must: it is the fallback
        (
            _set(f"{P2}.when", {"teams": ["english"]}),
            f"{P2}.when",
            "the last policy is the fallback",
        ),
        (_set(f"{P1}.when", {}), f"{P1}.when", "list at least one condition"),
        (
            _set(f"{P2}.targets.first_response.within", DELETE),
            f"{P2}.targets.first_response.within",
            "is required",
        ),
        (_set("policies", DELETE), "policies", "is required"),
        # notify: team_lead needs a lead for every team the policy can apply to
        (
            _set("team_leads.english", DELETE),
            f"{P0}.escalation[0].actions[0].notify",
            "no team lead for english: add them to sla.team_leads",
        ),
        # the fallback can apply to any team: spanish has no lead any more
        (
            _both(
                _set("team_leads.spanish", DELETE),
                _set(f"{P2}.escalation[0].actions[0].notify", "team_lead"),
            ),
            f"{P2}.escalation[0].actions[0].notify",
            "no team lead for spanish",
        ),
    ],
)
def test_structural_mistakes_name_their_field(
    edit: Callable[[dict[str, Any]], None], field: str, message: str
) -> None:
    node = good()
    edit(node)

    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        settings_from(node)

    assert caught.value.field == f"sla.{field}"


def test_the_error_reads_as_one_sentence_naming_the_field() -> None:
    node = good()
    node["policies"][1]["targets"]["first_response"]["warn_at"] = "120%"

    with pytest.raises(ConfigError) as caught:
        settings_from(node)

    assert str(caught.value) == (
        "config error at sla.policies[1].targets.first_response.warn_at: must be between 0 and "
        "100% (more than 0, at most 100%), got '120%'"
    )


def test_the_section_path_is_the_callers() -> None:
    node = good()
    node["policies"][0]["calendar"] = "tokyo"

    with pytest.raises(ConfigError) as caught:
        sla.parse_sla(
            node,
            "support.sla",
            calendars=CONFIG.calendars,
            teams=CONFIG.teams,
            languages=CONFIG.languages.supported,
        )

    assert caught.value.field == "support.sla.policies[0].calendar"


@pytest.mark.parametrize(
    ("text", "business", "expected"),
    [
        ("30m", True, 30 * M),
        ("4h", True, 4 * H),
        ("1h30m", True, 90 * M),
        (" 1h 30m ", True, 90 * M),
        ("2d", False, 48 * H),
        ("1d12h", False, 36 * H),
        ("8760h", True, 365 * 24 * H),
    ],
)
def test_durations(text: str, business: bool, expected: timedelta) -> None:
    assert sla.parse_duration(text, "within", business=business) == expected


def test_a_business_day_is_refused_with_the_hours_to_write_instead() -> None:
    with pytest.raises(ConfigError, match=r"write working hours, e\.g\. 16h for 2 eight-hour days"):
        sla.parse_duration("2d", "sla.policies[0].targets.resolution.within", business=True)
