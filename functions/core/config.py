"""Configuration: one validated YAML file, and the names of the environment variables.

The file holds teams, languages, routing rules, business-hours calendars, brand and
reply settings. Secrets are never in it, only references to them. A bad file fails at
start with a `ConfigError` naming the field (`teams.spanish.calendar: unknown calendar
'madird'`), because a typo that silently routes every mail to the wrong team is worse
than a function that does not start.

Services never read `os.environ`; each function's composition root reads these
variables once and passes plain values in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from functions.core.chat_settings import AgentSpec, ChatSettings, parse_agents, parse_chat
from functions.core.config_fields import WEEKDAYS as _WEEKDAYS
from functions.core.config_fields import (
    boolean as _boolean,
)
from functions.core.config_fields import (
    dates as _dates,
)
from functions.core.config_fields import (
    email_address as _email_address,
)
from functions.core.config_fields import (
    identifier as _identifier,
)
from functions.core.config_fields import (
    integer as _integer,
)
from functions.core.config_fields import (
    language as _language,
)
from functions.core.config_fields import (
    list_of as _list,
)
from functions.core.config_fields import (
    mapping as _mapping,
)
from functions.core.config_fields import (
    number as _number,
)
from functions.core.config_fields import (
    only as _only,
)
from functions.core.config_fields import (
    required as _required,
)
from functions.core.config_fields import (
    text as _text,
)
from functions.core.config_fields import (
    weekday_range as _weekday_range,
)
from functions.core.config_fields import (
    window as _window,
)
from functions.core.errors import ConfigError
from functions.core.social_config import SocialSettings, parse_social
from functions.core.surveys import SurveySettings, parse_surveys

if TYPE_CHECKING:
    from functions.core.sla import SlaSettings
from functions.core.hours import Calendar, CalendarSpec, CalendarSpecError
from functions.core.models import Channel

# -- environment variable names (read only by composition roots) ---------------------
ENV_CONFIG_PATH = "HELPLINE_CONFIG"
ENV_TABLE = "HELPLINE_TABLE"
ENV_BUCKET = "HELPLINE_BUCKET"
ENV_QUEUE_URLS = "HELPLINE_QUEUE_URLS"  # JSON: {"english": url, ..., "escalation": url}
ENV_TEMPLATES_DIR = "HELPLINE_TEMPLATES_DIR"
ENV_STAGE = "HELPLINE_STAGE"
ENV_MAIL_DLQ_URL = "HELPLINE_MAIL_DLQ_URL"
ENV_CHAT_WS_URL = "HELPLINE_CHAT_WS_URL"  # wss://{api}.execute-api.{region}.amazonaws.com/{stage}
# the WebSocket API's Management API; learnt from the first event when unset
ENV_CHAT_MANAGEMENT_URL = "HELPLINE_CHAT_MANAGEMENT_URL"
# the SSM parameter holding the public address of the function's REST API (a custom
# domain, or its API Gateway URL), written by its stack: survey links are made from it
# unless surveys.base_url is set
ENV_PUBLIC_URL_PARAMETER = "HELPLINE_PUBLIC_URL_PARAMETER"
# set by the local stack: boto3 then reaches the Management API there, whatever the event says
ENV_MANAGEMENT_ENDPOINT = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "infra" / "config" / "demo.yaml"
DEFAULT_TEMPLATES_DIR = REPO_ROOT / "templates"

_PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    support_address: str
    from_name: str
    message_id_domain: str
    website: str = ""


@dataclass(frozen=True, slots=True)
class Languages:
    supported: tuple[str, ...]
    default: str
    min_confidence: float = 0.9
    min_length: int = 24


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    languages: tuple[str, ...]
    calendar: str


@dataclass(frozen=True, slots=True)
class RuleCondition:
    languages: tuple[str, ...] = ()
    channels: tuple[Channel, ...] = ()
    keywords: tuple[str, ...] = ()  # lower-cased; matched in subject and text
    customer_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingRule:
    name: str
    when: RuleCondition
    team: str | None = None  # None: keep the language team, only set priority/tags
    priority: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Routing:
    default_team: str
    rules: tuple[RoutingRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Retention:
    """How long data is kept: solved tickets close after `close_solved_after_days`
    without a new customer message, and a closed ticket (its messages and events)
    expires `closed_ticket_days` later through the table's TTL; the stream then
    removes its stored attachments and bodies."""

    close_solved_after_days: int = 7
    closed_ticket_days: int = 365


@dataclass(frozen=True)
class Deployment:
    """How `helpline deploy` sets up the functions; the functions themselves never read
    it. Reserved concurrency is off unless set here, per function: it is taken from the
    account's quota, and AWS refuses a reservation that leaves fewer than 100 executions
    unreserved (new accounts often have 10 in all)."""

    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Replies:
    enabled: bool = True
    window_minutes: int = 60
    max_per_customer_per_hour: int = 5
    on_follow_up: str = "after_hours"  # never | after_hours | always
    to_spam: bool = False


@dataclass(frozen=True, slots=True)
class EmailSettings:
    addresses: tuple[str, ...]
    spam: str = "tag"  # tag | quarantine
    max_message_mb: int = 40
    # every mail the functions send without an agent (automatic replies, chat transcripts
    # and their verification mails), all customers together: a flood of throwaway
    # senders or chat visitors must not get the SES account paused
    automatic_per_hour: int = 300


@dataclass(frozen=True)
class Config:
    brand: Brand
    languages: Languages
    calendars: Mapping[str, Calendar]
    teams: Mapping[str, Team]
    routing: Routing
    replies: Replies
    email: EmailSettings
    social: SocialSettings
    sla: SlaSettings
    surveys: SurveySettings
    agents: tuple[AgentSpec, ...] = ()
    chat: ChatSettings = field(default_factory=ChatSettings)
    retention: Retention = field(default_factory=Retention)
    deployment: Deployment = field(default_factory=Deployment)
    # a chat or social message this soon after its ticket was solved reopens it
    reopen_window_hours: int = 72
    source: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def team(self, team_id: str) -> Team:
        return self.teams[team_id]

    def calendar_for_team(self, team_id: str) -> Calendar:
        return self.calendars[self.teams[team_id].calendar]

    def agent(self, email: str) -> AgentSpec | None:
        wanted = email.strip().lower()
        return next((a for a in self.agents if a.email == wanted), None)

    def team_for_language(self, language: str | None) -> Team | None:
        if language:
            base = language.split("-")[0]
            for team in self.teams.values():
                if language in team.languages or base in team.languages:
                    return team
        return None


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate the config file; the default is the demo config."""
    from functions.core import holiday_table

    source = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read {source}: {exc.strerror}") from exc
    return parse_config(
        text, source=str(source), holidays=holiday_table.load(holiday_table.table_path(source))
    )


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    holidays: Mapping[str, Mapping[int, Mapping[date, str]]] | None = None,
) -> Config:
    """Validate a config's text. `holidays` is a precomputed table (holiday_table.py)."""
    try:
        # libyaml's parser when the wheel has it: the config is read on every cold start
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)
    except (yaml.YAMLError, ValueError, AttributeError, RecursionError) as exc:
        # PyYAML raises a bare ValueError for values like 2026-02-30 or `!!int 0x`, and an
        # AttributeError for an explicit `!!timestamp` on what is no timestamp
        raise ConfigError("(file)", f"not valid YAML: {exc}") from exc
    root = _mapping(data, "(root)")
    _only(
        root,
        "(root)",
        {
            "version",
            "brand",
            "languages",
            "calendars",
            "teams",
            "routing",
            "replies",
            "email",
            "retention",
            "agents",
            "chat",
            "social",
            "sla",
            "surveys",
            "deployment",
        },
    )
    version = root.get("version", 1)
    if version != 1:
        raise ConfigError("version", f"unsupported version {version!r}; this release reads 1")

    brand = _brand(_mapping(_required(root, "brand", "(root)"), "brand"))
    languages = _languages(_mapping(_required(root, "languages", "(root)"), "languages"))
    calendars = _calendars(
        _mapping(_required(root, "calendars", "(root)"), "calendars"), holidays or {}
    )
    teams = _teams(_mapping(_required(root, "teams", "(root)"), "teams"), calendars, languages)
    routing = _routing(_mapping(root.get("routing") or {}, "routing"), teams, languages)
    replies = _replies(_mapping(root.get("replies") or {}, "replies"))
    retention = _retention(_mapping(root.get("retention") or {}, "retention"))
    deployment = _deployment(_mapping(root.get("deployment") or {}, "deployment"))
    email = _email(_mapping(root.get("email") or {}, "email"), brand)
    agents = parse_agents(root.get("agents"), languages=languages.supported)
    chat = parse_chat(
        root.get("chat"),
        teams=teams,
        languages=languages.supported,
        default_team=routing.default_team,
    )
    from functions.core.sla import parse_sla

    social = parse_social(root.get("social"))
    sla = parse_sla(
        root.get("sla"), calendars=calendars, teams=teams, languages=languages.supported
    )
    surveys = parse_surveys(root.get("surveys"))
    return Config(
        brand=brand,
        languages=languages,
        calendars=calendars,
        teams=teams,
        routing=routing,
        replies=replies,
        email=email,
        retention=retention,
        deployment=deployment,
        agents=agents,
        chat=chat,
        social=social,
        sla=sla,
        surveys=surveys,
        reopen_window_hours=social.reopen_window_hours,
        source=source,
        raw=root,
    )


# -- sections ---------------------------------------------------------------------------


def _brand(node: Mapping[str, Any]) -> Brand:
    _only(node, "brand", {"name", "support_address", "from_name", "message_id_domain", "website"})
    support = _email_address(_required(node, "support_address", "brand"), "brand.support_address")
    domain = support.split("@", 1)[1]
    return Brand(
        name=_text(_required(node, "name", "brand"), "brand.name"),
        support_address=support,
        from_name=_text(node.get("from_name") or node["name"], "brand.from_name"),
        message_id_domain=_text(node.get("message_id_domain") or domain, "brand.message_id_domain"),
        website=_text(node.get("website") or "", "brand.website", allow_empty=True),
    )


def _languages(node: Mapping[str, Any]) -> Languages:
    _only(node, "languages", {"supported", "default", "min_confidence", "min_length"})
    supported = tuple(
        _language(item, f"languages.supported[{i}]")
        for i, item in enumerate(
            _list(_required(node, "supported", "languages"), "languages.supported")
        )
    )
    if not supported:
        raise ConfigError("languages.supported", "list at least one language")
    default = _language(_required(node, "default", "languages"), "languages.default")
    if default not in supported:
        raise ConfigError("languages.default", f"{default!r} is not in languages.supported")
    confidence = _number(node.get("min_confidence", 0.9), "languages.min_confidence")
    if not 0 <= confidence <= 1:
        raise ConfigError("languages.min_confidence", "must be between 0 and 1")
    length = _integer(node.get("min_length", 24), "languages.min_length", minimum=0)
    return Languages(supported, default, confidence, length)


def _calendars(
    node: Mapping[str, Any], table: Mapping[str, Mapping[int, Mapping[date, str]]]
) -> dict[str, Calendar]:
    if not node:
        raise ConfigError("calendars", "define at least one calendar")
    calendars: dict[str, Calendar] = {}
    for name, spec_node in node.items():
        path = f"calendars.{name}"
        _identifier(name, path)
        spec = _mapping(spec_node, path)
        _only(spec, path, {"timezone", "hours", "holidays", "closures", "openings"})
        windows = _hours(_mapping(_required(spec, "hours", path), f"{path}.hours"), f"{path}.hours")
        holidays = _mapping(spec.get("holidays") or {}, f"{path}.holidays")
        _only(holidays, f"{path}.holidays", {"country", "subdivision"})
        country = holidays.get("country")
        subdivision = holidays.get("subdivision")
        for key, value in (("country", country), ("subdivision", subdivision)):
            if value is not None and not isinstance(value, str):
                # YAML reads a bare NO (Norway) as false: the code must be a string
                raise ConfigError(
                    f"{path}.holidays.{key}", f'must be a code in quotes, like "NO" (got {value!r})'
                )
        calendar_spec = CalendarSpec(
            name=name,
            timezone=_text(_required(spec, "timezone", path), f"{path}.timezone"),
            windows=windows,
            holiday_country=str(country) if country else None,
            holiday_subdivision=str(subdivision) if subdivision else None,
            closures=frozenset(_dates(spec.get("closures") or [], f"{path}.closures")),
            openings=frozenset(_dates(spec.get("openings") or [], f"{path}.openings")),
            holiday_table=table.get(f"{country}/{subdivision}" if subdivision else str(country))
            if country
            else None,
        )
        try:
            calendars[name] = Calendar(calendar_spec)
        except CalendarSpecError as exc:
            field = {
                "windows": "hours",
                "holiday_country": "holidays.country",
                "holiday_subdivision": "holidays.subdivision",
            }.get(exc.field, exc.field)
            raise ConfigError(f"{path}.{field}", str(exc)) from exc
        except ValueError as exc:
            raise ConfigError(path, str(exc)) from exc
    return calendars


def _hours(node: Mapping[str, Any], path: str) -> dict[int, tuple[tuple[time, time], ...]]:
    windows: dict[int, list[tuple[time, time]]] = {}
    for key, spans in node.items():
        days = _weekday_range(str(key), f"{path}.{key}")
        parsed = [
            _window(item, f"{path}.{key}[{i}]")
            for i, item in enumerate(_list(spans, f"{path}.{key}"))
        ]
        for day in days:
            if day in windows:
                raise ConfigError(f"{path}.{key}", f"{_WEEKDAYS[day]} is listed twice")
            windows[day] = parsed
    return {day: tuple(sorted(spans)) for day, spans in windows.items()}


def _teams(
    node: Mapping[str, Any], calendars: Mapping[str, Calendar], languages: Languages
) -> dict[str, Team]:
    if not node:
        raise ConfigError("teams", "define at least one team")
    teams: dict[str, Team] = {}
    for team_id, team_node in node.items():
        path = f"teams.{team_id}"
        _identifier(team_id, path)
        spec = _mapping(team_node, path)
        _only(spec, path, {"name", "languages", "calendar"})
        team_languages = tuple(
            _language(item, f"{path}.languages[{i}]")
            for i, item in enumerate(_list(_required(spec, "languages", path), f"{path}.languages"))
        )
        for i, lang in enumerate(team_languages):
            if lang not in languages.supported:
                raise ConfigError(
                    f"{path}.languages[{i}]", f"{lang!r} is not in languages.supported"
                )
        calendar = _text(_required(spec, "calendar", path), f"{path}.calendar")
        if calendar not in calendars:
            known = ", ".join(sorted(calendars))
            raise ConfigError(f"{path}.calendar", f"unknown calendar {calendar!r} (known: {known})")
        teams[team_id] = Team(
            id=team_id,
            name=_text(spec.get("name") or team_id, f"{path}.name"),
            languages=team_languages,
            calendar=calendar,
        )
    return teams


def _routing(node: Mapping[str, Any], teams: Mapping[str, Team], languages: Languages) -> Routing:
    _only(node, "routing", {"default_team", "rules"})
    default_team = _text(node.get("default_team") or next(iter(teams)), "routing.default_team")
    if default_team not in teams:
        raise ConfigError("routing.default_team", f"unknown team {default_team!r}")
    rules = []
    for i, rule_node in enumerate(_list(node.get("rules") or [], "routing.rules")):
        path = f"routing.rules[{i}]"
        rule = _mapping(rule_node, path)
        _only(rule, path, {"name", "when", "team", "priority", "tags"})
        when = _mapping(_required(rule, "when", path), f"{path}.when")
        _only(when, f"{path}.when", {"languages", "channels", "keywords", "customer_tags"})
        if not when:
            raise ConfigError(f"{path}.when", "a rule needs at least one condition")
        channels = []
        for j, item in enumerate(_list(when.get("channels") or [], f"{path}.when.channels")):
            try:
                channels.append(Channel(str(item)))
            except ValueError as exc:
                known = ", ".join(c.value for c in Channel)
                raise ConfigError(
                    f"{path}.when.channels[{j}]", f"unknown channel {item!r} (known: {known})"
                ) from exc
        rule_languages = tuple(
            _language(item, f"{path}.when.languages[{j}]")
            for j, item in enumerate(_list(when.get("languages") or [], f"{path}.when.languages"))
        )
        for j, lang in enumerate(rule_languages):
            if lang not in languages.supported:
                raise ConfigError(
                    f"{path}.when.languages[{j}]", f"{lang!r} is not in languages.supported"
                )
        team = rule.get("team")
        if team is not None and team not in teams:
            raise ConfigError(f"{path}.team", f"unknown team {team!r}")
        priority = rule.get("priority")
        if priority is not None and priority not in _PRIORITIES:
            raise ConfigError(f"{path}.priority", f"must be one of {', '.join(_PRIORITIES)}")
        if team is None and priority is None and not rule.get("tags"):
            raise ConfigError(path, "a rule must set a team, a priority or tags")
        rules.append(
            RoutingRule(
                name=_text(rule.get("name") or f"rule {i + 1}", f"{path}.name"),
                when=RuleCondition(
                    languages=rule_languages,
                    channels=tuple(channels),
                    keywords=tuple(
                        _text(k, f"{path}.when.keywords").lower()
                        for k in _list(when.get("keywords") or [], f"{path}.when.keywords")
                    ),
                    customer_tags=tuple(
                        _text(t, f"{path}.when.customer_tags")
                        for t in _list(
                            when.get("customer_tags") or [], f"{path}.when.customer_tags"
                        )
                    ),
                ),
                team=team,
                priority=priority,
                tags=tuple(
                    _text(t, f"{path}.tags") for t in _list(rule.get("tags") or [], f"{path}.tags")
                ),
            )
        )
    return Routing(default_team=default_team, rules=tuple(rules))


def _replies(node: Mapping[str, Any]) -> Replies:
    _only(
        node,
        "replies",
        {"enabled", "window_minutes", "max_per_customer_per_hour", "on_follow_up", "to_spam"},
    )
    on_follow_up = node.get("on_follow_up", "after_hours")
    if on_follow_up not in ("never", "after_hours", "always"):
        raise ConfigError("replies.on_follow_up", "must be never, after_hours or always")
    return Replies(
        enabled=_boolean(node.get("enabled", True), "replies.enabled"),
        window_minutes=_integer(
            node.get("window_minutes", 60), "replies.window_minutes", minimum=0
        ),
        max_per_customer_per_hour=_integer(
            node.get("max_per_customer_per_hour", 5), "replies.max_per_customer_per_hour", minimum=0
        ),
        on_follow_up=on_follow_up,
        to_spam=_boolean(node.get("to_spam", False), "replies.to_spam"),
    )


def _retention(node: Mapping[str, Any]) -> Retention:
    _only(node, "retention", {"close_solved_after_days", "closed_ticket_days"})
    return Retention(
        close_solved_after_days=_integer(
            node.get("close_solved_after_days", 7), "retention.close_solved_after_days", minimum=1
        ),
        closed_ticket_days=_integer(
            node.get("closed_ticket_days", 365), "retention.closed_ticket_days", minimum=1
        ),
    )


def _deployment(node: Mapping[str, Any]) -> Deployment:
    _only(node, "deployment", {"reserved_concurrency"})
    reserved = _mapping(node.get("reserved_concurrency") or {}, "deployment.reserved_concurrency")
    counts = {}
    for function, count in reserved.items():
        path = f"deployment.reserved_concurrency.{function}"
        _identifier(function, path)
        counts[function] = _integer(count, path, minimum=0)
    return Deployment(reserved_concurrency=counts)


def _email(node: Mapping[str, Any], brand: Brand) -> EmailSettings:
    _only(node, "email", {"addresses", "spam", "virus", "max_message_mb", "automatic_per_hour"})
    addresses = tuple(
        _email_address(item, f"email.addresses[{i}]")
        for i, item in enumerate(
            _list(node.get("addresses") or [brand.support_address], "email.addresses")
        )
    )
    if brand.support_address not in addresses:
        addresses = (brand.support_address, *addresses)
    spam = node.get("spam", "tag")
    if spam not in ("tag", "quarantine"):
        raise ConfigError("email.spam", "must be tag or quarantine")
    if node.get("virus", "quarantine") != "quarantine":
        raise ConfigError("email.virus", "infected mail is always quarantined; set quarantine")
    size = _integer(node.get("max_message_mb", 40), "email.max_message_mb", minimum=1)
    if size > 40:
        raise ConfigError("email.max_message_mb", "SES receives at most 40 MB")
    automatic = _integer(node.get("automatic_per_hour", 300), "email.automatic_per_hour", minimum=0)
    return EmailSettings(
        addresses=addresses, spam=spam, max_message_mb=size, automatic_per_hour=automatic
    )
