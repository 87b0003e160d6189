"""SLA policies and clocks: what a ticket owes the customer, and by when.

Pure: no AWS, no store, no clock of its own. Callers pass the moment of every event,
keep `SlaState.to_dict()` on the ticket and index `next_due(state)`.

Policies. The config's `sla.policies` is an ordered list; the first whose `when`
matches a new ticket applies (all the listed conditions must hold, any value of a list
may match), and the last one has no `when`: the fallback. The policy is chosen once,
at creation, and kept: an escalation that raises the priority does not re-choose it,
because a tighter policy would breach again at once. A policy sets up to three targets:

- `first_response`: from creation to the first agent reply. It never pauses.
- `next_response`: from a customer message that follows an agent reply to the next
  agent reply; further customer messages before that answer do not restart it.
- `resolution`: from creation to solved/closed. Reopening resumes it where it stopped:
  the time already used is kept, so the new deadline is now + the time that was left.

Time. `hours: business` targets count the calendar's open time (zone, split windows,
holidays, closures); `hours: calendar` targets count elapsed time, so across a
daylight-saving change `24h` lands an hour off on the wall clock. Durations are `30m`,
`4h`, `2d` or `1h30m`. `d` is refused for business targets: working days differ in
length (a Friday may be shorter), so "2 business days" has no single honest meaning;
write the working hours (`16h`). `warn_at` (default 75%) is a share of the target,
`75%` or `0.75`, more than 0 and at most 100%.

Escalation levels per target: 0 none, 1 warned, 2 breached, 3 second breach. A second
breach is a breached target still not met after a further full target period (its
clock has used twice the target). A timer run that finds several levels due at once
reports only the highest (a warning after the deadline helps nobody). Paused and met
targets never cross anything.

Solving or closing a ticket meets every target still running (an agent who solves a
ticket has answered it, whether or not a reply was sent); paused time and the time a
ticket spends solved are not counted against any target. Seconds are whole: time used
is rounded down, so a customer gains at most a second per pause.

Without an `sla` section the built-in policy `default` applies to every ticket:
first response 4 working hours (warn at 75%), next response 8 working hours (75%),
resolution 40 working hours (80%, paused while pending); on breach the priority is
raised to high and the ticket moves to the escalation queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from functions.core.config_fields import (
    email_address,
    identifier,
    language,
    list_of,
    mapping,
    number,
    only,
    required,
    text,
)
from functions.core.errors import ConfigError
from functions.core.models import Channel
from functions.core.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from functions.core.config import Team
    from functions.core.hours import Calendar

__all__ = [
    "BREACH",
    "CROSSING_LEVELS",
    "DEFAULT_POLICY",
    "ESCALATION_QUEUE",
    "FIRST_RESPONSE",
    "NEXT_RESPONSE",
    "PRIORITIES",
    "RESOLUTION",
    "SECOND_BREACH",
    "TARGETS",
    "TEAM_LEAD",
    "TICKET_STATUSES",
    "WARNING",
    "Crossing",
    "EscalationAction",
    "EscalationStep",
    "PolicyConditions",
    "SlaPolicy",
    "SlaSettings",
    "SlaState",
    "TargetClock",
    "TargetSpec",
    "TargetView",
    "agent_reply",
    "choose_policy",
    "crossings",
    "customer_message",
    "expected_first_response",
    "next_due",
    "parse_duration",
    "parse_sla",
    "record",
    "report",
    "start",
    "status_changed",
]

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
TARGETS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
TICKET_STATUSES = ("new", "open", "pending", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
WARNING = "warning"
BREACH = "breach"
SECOND_BREACH = "second_breach"
CROSSING_LEVELS: Mapping[str, int] = {WARNING: 1, BREACH: 2, SECOND_BREACH: 3}
ACTION_KINDS = ("notify", "raise_priority", "move_to", "page")
TEAM_LEAD = "team_lead"  # `notify: team_lead` mails the ticket team's entry in team_leads
ESCALATION_QUEUE = "escalation"  # `move_to: escalation`: the escalation queue
STATE_VERSION = 1

_STOPPED = frozenset({"solved", "closed"})
_PAUSABLE = frozenset({"new", "open", "pending"})
_KIND_OF_LEVEL = {level: kind for kind, level in CROSSING_LEVELS.items()}
_SECOND = timedelta(seconds=1)
_MAX_TARGET = timedelta(days=365)
_DURATION = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


# -- policies -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One target of a policy: met `within` this much time, warned after `warn_after`."""

    target: str  # first_response | next_response | resolution
    within: timedelta
    warn_after: timedelta
    business: bool = True  # False: calendar (elapsed) time
    pause_when: frozenset[str] = frozenset()  # ticket statuses that stop this clock

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown SLA target {self.target!r}")
        for name, amount in (("within", self.within), ("warn_after", self.warn_after)):
            if amount <= timedelta(0) or amount % _SECOND:
                raise ValueError(f"{self.target}.{name} must be whole seconds above zero")
        if self.warn_after > self.within:
            raise ValueError(f"{self.target}: warn_after is later than the target")
        if not self.pause_when <= _PAUSABLE:
            raise ValueError(f"{self.target}: only new, open and pending can pause a clock")
        if self.target == FIRST_RESPONSE and self.pause_when:
            raise ValueError("first_response never pauses")

    @property
    def hours(self) -> str:
        return "business" if self.business else "calendar"

    def _thresholds(self) -> tuple[tuple[int, int], ...]:
        """(level, seconds of clock time) at which each level is crossed."""
        within = self.within // _SECOND
        return ((1, self.warn_after // _SECOND), (2, within), (3, 2 * within))


@dataclass(frozen=True, slots=True)
class PolicyConditions:
    """A policy's `when`: every non-empty list must match the ticket."""

    priorities: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    customer_tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def matches(
        self,
        *,
        priority: str,
        channel: str,
        team: str | None,
        customer_tags: Sequence[str],
        language: str | None,
    ) -> bool:
        if self.priorities and priority not in self.priorities:
            return False
        if self.channels and str(channel) not in self.channels:
            return False
        if self.teams and team not in self.teams:
            return False
        if self.customer_tags and not set(self.customer_tags) & set(customer_tags):
            return False
        return not self.languages or _language_matches(language, self.languages)


@dataclass(frozen=True, slots=True)
class EscalationAction:
    """One thing to do on a crossing.

    kind / value: `notify` / "team_lead" or an address; `raise_priority` / a priority
    (never lowers one); `move_to` / "escalation" or a team id; `page` / an address.
    """

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class EscalationStep:
    on: str  # warning | breach | second_breach
    actions: tuple[EscalationAction, ...]


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    name: str
    targets: tuple[TargetSpec, ...]  # in TARGETS order, each at most once
    when: PolicyConditions | None = None  # None: the fallback
    escalation: tuple[EscalationStep, ...] = ()
    calendar: str | None = None  # overrides the team's calendar (e.g. a 24/7 desk)

    def target(self, name: str) -> TargetSpec | None:
        return next((spec for spec in self.targets if spec.target == name), None)

    def actions_for(self, kind: str) -> tuple[EscalationAction, ...]:
        """The actions of the step for `kind` (a Crossing's kind); () when none."""
        return next((step.actions for step in self.escalation if step.on == kind), ())


@dataclass(frozen=True)
class SlaSettings:
    policies: tuple[SlaPolicy, ...]  # the last has no `when`
    team_leads: Mapping[str, str]  # team id -> address for `notify: team_lead`
    team_calendars: Mapping[str, str]  # team id -> calendar name (from `teams`)
    builtin: bool = False  # True: the config has no `sla` section

    def policy(self, name: str) -> SlaPolicy | None:
        """The policy a stored state names; None if the config no longer has it."""
        return next((policy for policy in self.policies if policy.name == name), None)

    def calendar_name(self, policy: SlaPolicy, team: str) -> str:
        """The calendar a ticket of `team` under `policy` runs its clocks on."""
        if policy.calendar is not None:
            return policy.calendar
        try:
            return self.team_calendars[team]
        except KeyError:
            raise ValueError(f"unknown team {team!r}") from None

    def team_lead(self, team: str) -> str | None:
        return self.team_leads.get(team)


DEFAULT_POLICY = SlaPolicy(
    name="default",
    targets=(
        TargetSpec(FIRST_RESPONSE, timedelta(hours=4), timedelta(hours=3)),
        TargetSpec(NEXT_RESPONSE, timedelta(hours=8), timedelta(hours=6)),
        TargetSpec(
            RESOLUTION, timedelta(hours=40), timedelta(hours=32), pause_when=frozenset({"pending"})
        ),
    ),
    escalation=(
        EscalationStep(
            BREACH,
            (EscalationAction("raise_priority", "high"), EscalationAction("move_to", "escalation")),
        ),
    ),
)


def choose_policy(
    settings: SlaSettings,
    *,
    priority: str,
    channel: str,
    team: str | None,
    customer_tags: Sequence[str],
    language: str | None,
) -> SlaPolicy:
    """The first policy whose conditions all match; the fallback otherwise."""
    for policy in settings.policies:
        if policy.when is None or policy.when.matches(
            priority=priority,
            channel=channel,
            team=team,
            customer_tags=customer_tags,
            language=language,
        ):
            return policy
    # parse_sla guarantees a fallback; a hand-built settings object might not have one
    raise ValueError("the SLA settings have no fallback policy (one without `when`)")


def _language_matches(language: str | None, wanted: tuple[str, ...]) -> bool:
    if not language:
        return False
    code = language.lower()
    return code in wanted or code.split("-")[0] in wanted


# -- the config section -----------------------------------------------------------------


def parse_sla(
    node: Any,
    path: str = "sla",
    *,
    calendars: Mapping[str, Calendar],
    teams: Mapping[str, Team],
    languages: tuple[str, ...],
) -> SlaSettings:
    """Validate the `sla` section; None (no section) gives the built-in default policy.

    Raises ConfigError naming the field, e.g.
    `sla.policies[1].targets.first_response.warn_at: must be between 0 and 100%`.
    """
    team_calendars = {team_id: team.calendar for team_id, team in teams.items()}
    if node is None:
        return SlaSettings((DEFAULT_POLICY,), {}, team_calendars, builtin=True)
    section = mapping(node, path)
    only(section, path, {"policies", "team_leads"})
    leads = _team_leads(section.get("team_leads") or {}, f"{path}.team_leads", teams)
    items = list_of(required(section, "policies", path), f"{path}.policies")
    if not items:
        raise ConfigError(f"{path}.policies", "list at least one policy (the last is the fallback)")
    context = _Context(calendars, teams, languages, leads, path)
    policies: list[SlaPolicy] = []
    for i, item in enumerate(items):
        where = f"{path}.policies[{i}]"
        policy = _policy(item, where, context, last=i == len(items) - 1)
        if any(seen.name == policy.name for seen in policies):
            raise ConfigError(f"{where}.name", f"policy {policy.name!r} is defined twice")
        policies.append(policy)
    return SlaSettings(tuple(policies), leads, team_calendars)


def parse_duration(value: Any, path: str, *, business: bool) -> timedelta:
    """`30m`, `4h`, `2d`, `1h30m`; `d` only for calendar-hours targets (see the module)."""
    match = _DURATION.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise ConfigError(path, f"{value!r} is not a duration like 30m, 4h or 2d")
    days, hours, minutes = (int(group or 0) for group in match.groups())
    if days and business:
        raise ConfigError(
            path,
            "days are ambiguous in business hours (working days differ in length); "
            f"write working hours, e.g. {days * 8}h for {days} eight-hour days",
        )
    amount = timedelta(days=days, hours=hours, minutes=minutes)
    if amount <= timedelta(0):
        raise ConfigError(path, "must be longer than zero")
    if amount > _MAX_TARGET:
        raise ConfigError(path, "must be at most 365 days (8760h)")
    return amount


@dataclass(frozen=True)
class _Context:
    calendars: Mapping[str, Calendar]
    teams: Mapping[str, Team]
    languages: tuple[str, ...]
    leads: Mapping[str, str]
    path: str


def _team_leads(node: Any, path: str, teams: Mapping[str, Team]) -> dict[str, str]:
    leads: dict[str, str] = {}
    for team, address in mapping(node, path).items():
        if team not in teams:
            raise ConfigError(f"{path}.{team}", f"unknown team {team!r} (known: {_known(teams)})")
        leads[team] = email_address(address, f"{path}.{team}")
    return leads


def _policy(node: Any, path: str, context: _Context, *, last: bool) -> SlaPolicy:
    spec = mapping(node, path)
    only(spec, path, {"name", "when", "targets", "escalation", "calendar"})
    name = identifier(required(spec, "name", path), f"{path}.name")
    when: PolicyConditions | None = None
    if spec.get("when") is not None:
        if last:
            raise ConfigError(
                f"{path}.when", "the last policy is the fallback for every ticket: remove `when`"
            )
        when = _conditions(spec["when"], f"{path}.when", context)
    elif not last:
        raise ConfigError(
            f"{path}.when", "is required: only the last policy (the fallback) has none"
        )
    calendar = spec.get("calendar")
    if calendar is not None and calendar not in context.calendars:
        raise ConfigError(
            f"{path}.calendar",
            f"unknown calendar {calendar!r} (known: {_known(context.calendars)})",
        )
    targets = _targets(required(spec, "targets", path), f"{path}.targets")
    escalation = _escalation(spec.get("escalation") or [], f"{path}.escalation", when, context)
    return SlaPolicy(name, targets, when, escalation, calendar)


def _conditions(node: Any, path: str, context: _Context) -> PolicyConditions:
    spec = mapping(node, path)
    fields = {"priorities", "channels", "teams", "customer_tags", "languages"}
    only(spec, path, fields)
    if not spec:
        raise ConfigError(path, "list at least one condition, or remove `when`")
    channels = tuple(channel.value for channel in Channel)
    allowed: dict[str, tuple[str, ...] | None] = {
        "priorities": PRIORITIES,
        "channels": channels,
        "teams": tuple(context.teams),
        "customer_tags": None,  # free text
        "languages": context.languages,
    }
    values: dict[str, tuple[str, ...]] = {}
    for key in sorted(spec):
        items = list_of(spec[key], f"{path}.{key}")
        if not items:
            raise ConfigError(f"{path}.{key}", "list at least one value, or remove the field")
        parsed = []
        for j, item in enumerate(items):
            where = f"{path}.{key}[{j}]"
            value = language(item, where) if key == "languages" else text(item, where)
            known = allowed[key]
            if known is not None and value not in known:
                what = {"priorities": "priority", "languages": "language"}.get(key, key[:-1])
                raise ConfigError(
                    where, f"unknown {what} {value!r} (known: {', '.join(sorted(known))})"
                )
            parsed.append(value)
        values[key] = tuple(parsed)
    return PolicyConditions(**values)


def _targets(node: Any, path: str) -> tuple[TargetSpec, ...]:
    spec = mapping(node, path)
    only(spec, path, set(TARGETS))
    if not spec:
        raise ConfigError(path, f"set at least one of {', '.join(TARGETS)}")
    return tuple(_target(name, spec[name], f"{path}.{name}") for name in TARGETS if name in spec)


def _target(name: str, node: Any, path: str) -> TargetSpec:
    spec = mapping(node, path)
    only(spec, path, {"within", "hours", "warn_at", "pause_when"})
    hours = spec.get("hours", "business")
    if hours not in ("business", "calendar"):
        raise ConfigError(f"{path}.hours", "must be business or calendar")
    business = hours == "business"
    within = parse_duration(required(spec, "within", path), f"{path}.within", business=business)
    fraction = _fraction(spec.get("warn_at", "75%"), f"{path}.warn_at")
    # Whole seconds, at least one, and never past the target itself.
    warn_after = min(within, max(_SECOND, round(within.total_seconds() * fraction) * _SECOND))
    pause_when = list_of(spec.get("pause_when") or [], f"{path}.pause_when")
    if pause_when and name == FIRST_RESPONSE:
        raise ConfigError(f"{path}.pause_when", "first response never pauses")
    statuses: set[str] = set()
    for i, status in enumerate(pause_when):
        where = f"{path}.pause_when[{i}]"
        if status in _STOPPED:
            raise ConfigError(where, f"{status} stops the clock (it is met); it cannot pause it")
        if status not in TICKET_STATUSES:
            raise ConfigError(
                where, f"unknown status {status!r} (known: {', '.join(TICKET_STATUSES)})"
            )
        statuses.add(status)
    return TargetSpec(name, within, warn_after, business, frozenset(statuses))


def _fraction(value: Any, path: str) -> float:
    if isinstance(value, str):
        match = _PERCENT.fullmatch(value)
        if match is None:
            raise ConfigError(path, f"{value!r} is not a percentage like 75% or a share like 0.75")
        fraction = float(match.group(1)) / 100
    else:
        fraction = number(value, path)
    if not 0 < fraction <= 1:
        raise ConfigError(
            path, f"must be between 0 and 100% (more than 0, at most 100%), got {value!r}"
        )
    return fraction


def _escalation(
    node: Any, path: str, when: PolicyConditions | None, context: _Context
) -> tuple[EscalationStep, ...]:
    steps: list[EscalationStep] = []
    for i, item in enumerate(list_of(node, path)):
        where = f"{path}[{i}]"
        # YAML 1.1 (PyYAML, so config.py) reads the key `on` as the boolean true.
        raw: Mapping[Any, Any] = mapping(item, where)  # keys as YAML typed them
        spec = {"on" if key is True else key: value for key, value in raw.items()}
        only(spec, where, {"on", "actions"})
        on = required(spec, "on", where)
        if on not in CROSSING_LEVELS:
            raise ConfigError(f"{where}.on", f"must be one of {', '.join(CROSSING_LEVELS)}")
        if any(step.on == on for step in steps):
            raise ConfigError(f"{where}.on", f"a second step for {on}: list all its actions in one")
        actions = list_of(required(spec, "actions", where), f"{where}.actions")
        if not actions:
            raise ConfigError(f"{where}.actions", "list at least one action")
        steps.append(
            EscalationStep(
                on,
                tuple(
                    _action(action, f"{where}.actions[{j}]", when, context)
                    for j, action in enumerate(actions)
                ),
            )
        )
    return tuple(steps)


def _action(
    node: Any, path: str, when: PolicyConditions | None, context: _Context
) -> EscalationAction:
    spec = mapping(node, path)
    if len(spec) != 1 or next(iter(spec)) not in ACTION_KINDS:
        raise ConfigError(
            path, f"an action is one of {', '.join(f'{{{kind}: ...}}' for kind in ACTION_KINDS)}"
        )
    kind, value = next(iter(spec.items()))
    where = f"{path}.{kind}"
    if kind == "notify":
        if value != TEAM_LEAD:
            return EscalationAction(kind, email_address(value, where))
        # Every team this policy can apply to needs a lead, or the mail has nowhere to go.
        reachable = when.teams if when is not None and when.teams else tuple(context.teams)
        missing = [team for team in reachable if team not in context.leads]
        if missing:
            raise ConfigError(
                where,
                f"no team lead for {', '.join(missing)}: add them to {context.path}.team_leads",
            )
        return EscalationAction(kind, TEAM_LEAD)
    if kind == "raise_priority":
        if value not in PRIORITIES:
            raise ConfigError(where, f"must be one of {', '.join(PRIORITIES)}")
        return EscalationAction(kind, value)
    if kind == "move_to":
        if value != ESCALATION_QUEUE and value not in context.teams:
            raise ConfigError(
                where, f"must be escalation or a team (known: {_known(context.teams)})"
            )
        return EscalationAction(kind, value)
    return EscalationAction(kind, email_address(value, where))  # page


def _known(names: Mapping[str, Any]) -> str:
    return ", ".join(sorted(names))


# -- the clock state --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetClock:
    """One target's clock. Times are aware UTC; `used` and `paused_total` are whole
    seconds of the target's own time (working time for business targets).

    Running: `running_since` is set and the moments still ahead are scheduled. Paused:
    `paused_at` is set and moments still ahead are None (unknown until resumed). Met:
    `met_at` is set. Moments already passed keep their value in every state.
    """

    target: str
    started_at: datetime
    used: int = 0  # clock seconds used before the current run segment
    running_since: datetime | None = None
    paused_at: datetime | None = None
    paused_total: int = 0
    warn_at: datetime | None = None
    due_at: datetime | None = None
    second_due_at: datetime | None = None  # used reaches twice the target
    met_at: datetime | None = None
    warned_at: datetime | None = None  # when each crossing was recorded
    breached_at: datetime | None = None
    second_breached_at: datetime | None = None
    level: int = 0  # 0 none, 1 warned, 2 breached, 3 second breach

    @property
    def status(self) -> str:
        """running | paused | met | warned | breached (as recorded; see `report`)."""
        if self.met_at is not None:
            return "met"
        if self.paused_at is not None:
            return "paused"
        if self.level >= 2:
            return "breached"
        return "warned" if self.level == 1 else "running"

    def _moments(self) -> tuple[tuple[int, datetime | None], ...]:
        return ((1, self.warn_at), (2, self.due_at), (3, self.second_due_at))


@dataclass(frozen=True, slots=True)
class SlaState:
    """A ticket's SLA: the policy's terms as they were at creation, and the clocks.

    The terms are a snapshot, so the clocks keep running (and a stored ticket keeps its
    deadlines) even when the config no longer has the policy.
    """

    policy: str
    calendar: str
    ticket_status: str
    terms: tuple[TargetSpec, ...]
    clocks: tuple[TargetClock, ...] = ()  # started targets, in TARGETS order
    answered: bool = False  # an agent replied after the last customer message

    def spec(self, target: str) -> TargetSpec | None:
        return next((spec for spec in self.terms if spec.target == target), None)

    def clock(self, target: str) -> TargetClock | None:
        return next((clock for clock in self.clocks if clock.target == target), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (str, int, bool, list, dict; no floats, no nulls), so
        it is one DynamoDB map attribute. A clock's level is at
        `clocks.<target>.level` for the timer's conditional update; `status` is
        informational and recomputed by `from_dict`."""
        return {
            "version": STATE_VERSION,
            "policy": self.policy,
            "calendar": self.calendar,
            "ticket_status": self.ticket_status,
            "answered": self.answered,
            "terms": {spec.target: _spec_to_dict(spec) for spec in self.terms},
            "clocks": {clock.target: _clock_to_dict(clock) for clock in self.clocks},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaState:
        """Read `to_dict` output, also as boto3 returns it (numbers as Decimal).

        Raises ValueError on anything else: a stored state is ours, so a bad one is a
        bug to surface, not input to guess at.
        """
        try:
            version = _int(data["version"])
            if version != STATE_VERSION:
                raise ValueError(f"unsupported SLA state version {version}")
            terms = tuple(
                _spec_from_dict(target, data["terms"][target])
                for target in TARGETS
                if target in data["terms"]
            )
            clocks = tuple(
                _clock_from_dict(target, data["clocks"][target])
                for target in TARGETS
                if target in data["clocks"]
            )
            state = cls(
                policy=str(data["policy"]),
                calendar=str(data["calendar"]),
                ticket_status=_status(data["ticket_status"], "ticket_status"),
                terms=terms,
                clocks=clocks,
                answered=_bool(data["answered"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an SLA state: {exc!r}") from exc
        unknown = (set(data["terms"]) | set(data["clocks"])) - set(TARGETS)
        if unknown:
            raise ValueError(f"not an SLA state: unknown targets {sorted(unknown)}")
        if any(state.spec(clock.target) is None for clock in clocks):
            raise ValueError("not an SLA state: a clock without terms")
        return state


def _spec_to_dict(spec: TargetSpec) -> dict[str, Any]:
    return {
        "within": spec.within // _SECOND,
        "warn_after": spec.warn_after // _SECOND,
        "hours": spec.hours,
        "pause_when": sorted(spec.pause_when),
    }


def _spec_from_dict(target: str, data: Mapping[str, Any]) -> TargetSpec:
    hours = data["hours"]
    if hours not in ("business", "calendar"):
        raise ValueError(f"not an SLA state: {target}.hours is {hours!r}")
    return TargetSpec(
        target=target,
        within=_int(data["within"]) * _SECOND,
        warn_after=_int(data["warn_after"]) * _SECOND,
        business=hours == "business",
        pause_when=frozenset(str(status) for status in data["pause_when"]),
    )


def _clock_to_dict(clock: TargetClock) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": clock.status,
        "started_at": to_iso(clock.started_at),
        "used": clock.used,
        "paused": clock.paused_total,
        "level": clock.level,
    }
    moments = {
        "running_since": clock.running_since,
        "paused_at": clock.paused_at,
        "warn_at": clock.warn_at,
        "due_at": clock.due_at,
        "second_due_at": clock.second_due_at,
        "met_at": clock.met_at,
        "warned_at": clock.warned_at,
        "breached_at": clock.breached_at,
        "second_breached_at": clock.second_breached_at,
    }
    result.update({name: to_iso(moment) for name, moment in moments.items() if moment})
    return result


def _clock_from_dict(target: str, data: Mapping[str, Any]) -> TargetClock:
    def moment(name: str) -> datetime | None:
        value = data.get(name)
        return from_iso(value) if value else None

    level = _int(data["level"])
    if not 0 <= level <= 3:
        raise ValueError(f"not an SLA state: {target}.level is {level}")
    return TargetClock(
        target=target,
        started_at=from_iso(data["started_at"]),
        used=_int(data["used"]),
        running_since=moment("running_since"),
        paused_at=moment("paused_at"),
        paused_total=_int(data["paused"]),
        warn_at=moment("warn_at"),
        due_at=moment("due_at"),
        second_due_at=moment("second_due_at"),
        met_at=moment("met_at"),
        warned_at=moment("warned_at"),
        breached_at=moment("breached_at"),
        second_breached_at=moment("second_breached_at"),
        level=level,
    )


def _int(value: Any) -> int:
    # boto3 reads every DynamoDB number back as Decimal
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an SLA state: {value!r} is not a whole number")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"not an SLA state: {value!r} is not true or false")
    return value


# -- transitions: each returns a new state ------------------------------------------------


def start(policy: SlaPolicy, calendar: Calendar, *, at: datetime, status: str) -> SlaState:
    """A ticket was created at `at` with `status`: first response and resolution start."""
    status = _status(status, "status")
    at = _aware(at, "at")
    clocks = tuple(
        _new_clock(spec, calendar, at, paused=status in spec.pause_when)
        for spec in policy.targets
        if spec.target != NEXT_RESPONSE
    )
    state = SlaState(policy.name, calendar.name, status, policy.targets, clocks)
    return _meet_all(state, calendar, at) if status in _STOPPED else state


def customer_message(state: SlaState, calendar: Calendar, *, at: datetime) -> SlaState:
    """A customer wrote. After an agent reply this starts a next-response clock; more
    messages before the answer change nothing. On a solved ticket the clock starts
    when it is reopened (`status_changed`), whichever of the two calls comes first."""
    at = _aware(at, "at")
    if not state.answered:
        return state
    state = replace(state, answered=False)
    if state.ticket_status in _STOPPED:
        return state
    return _start_next_response(state, calendar, at, _rules(state, None))


def agent_reply(state: SlaState, calendar: Calendar, *, at: datetime) -> SlaState:
    """A person (not an automatic reply) answered: meets first and next response."""
    at = _aware(at, "at")
    clocks = tuple(
        _meet(_spec_of(state, clock), clock, calendar, at)
        if clock.target in (FIRST_RESPONSE, NEXT_RESPONSE)
        else clock
        for clock in state.clocks
    )
    return replace(state, clocks=clocks, answered=True)


def status_changed(
    state: SlaState,
    policy: SlaPolicy | None,
    calendar: Calendar,
    *,
    old: str,
    new: str,
    at: datetime,
) -> SlaState:
    """The ticket's status changed from `old` to `new` at `at`.

    Statuses in a target's `pause_when` pause it, others resume it; solved/closed meet
    every running target; leaving solved/closed resumes resolution with the time it
    had left (and starts next response if the customer wrote meanwhile). `policy` is
    the ticket's policy as configured now, whose pause rules apply; None when it can
    no longer be resolved, and the rules stored at creation apply.
    """
    old = _status(old, "old")
    new = _status(new, "new")
    at = _aware(at, "at")
    rules = _rules(state, policy)
    if new in _STOPPED:
        stopped = state if old in _STOPPED else _meet_all(state, calendar, at)
        return replace(stopped, ticket_status=new)
    state = replace(state, ticket_status=new)
    if old in _STOPPED:
        resolution = state.clock(RESOLUTION)
        if resolution is not None:
            spec = _spec_of(state, resolution)
            reopened = _reopen(spec, resolution, calendar, at, paused=new in rules[RESOLUTION])
            state = _with_clock(state, reopened)
        return state if state.answered else _start_next_response(state, calendar, at, rules)
    clocks = []
    for clock in state.clocks:
        spec = _spec_of(state, clock)
        if clock.met_at is None:
            pause = new in rules[clock.target]
            changed = (
                _pause(spec, clock, calendar, at) if pause else _resume(spec, clock, calendar, at)
            )
            clocks.append(changed)
        else:
            clocks.append(clock)
    return replace(state, clocks=tuple(clocks))


# -- the timer's view ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Crossing:
    """A warning or breach that is due and not yet recorded.

    The timer's conditional update should expect `clocks.<target>.level ==
    previous_level` and `clocks.<target>.started_at == to_iso(started_at)` (a new
    next-response cycle restarts at level 0).
    """

    kind: str  # warning | breach | second_breach
    target: str
    due_at: datetime  # when it was crossed
    policy: str
    level: int  # the level recording it sets
    previous_level: int
    started_at: datetime  # of the clock it belongs to

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "due_at": to_iso(self.due_at),
            "policy": self.policy,
            "level": self.level,
        }


def next_due(state: SlaState) -> datetime | None:
    """The earliest unrecorded warning or deadline of a running target: what the due
    index holds. It may be in the past (a crossing not yet recorded); None when no
    clock runs or every level is recorded."""
    moments = [
        moment
        for clock in state.clocks
        if clock.running_since is not None
        for level, moment in clock._moments()
        if moment is not None and level > clock.level
    ]
    return min(moments, default=None)


def crossings(state: SlaState, *, now: datetime) -> list[Crossing]:
    """What is due at `now` and not yet recorded, one per target (its highest level),
    earliest first. Nothing for paused or met targets."""
    now = _aware(now, "now")
    found = []
    for clock in state.clocks:
        if clock.running_since is None:
            continue
        due = [
            (level, moment)
            for level, moment in clock._moments()
            if moment is not None and level > clock.level and moment <= now
        ]
        if due:
            level, moment = max(due)
            found.append(
                Crossing(
                    _KIND_OF_LEVEL[level],
                    clock.target,
                    moment,
                    state.policy,
                    level,
                    clock.level,
                    clock.started_at,
                )
            )
    return sorted(found, key=lambda crossing: (crossing.due_at, TARGETS.index(crossing.target)))


def record(state: SlaState, crossing: Crossing, *, at: datetime) -> SlaState:
    """Mark `crossing` handled at `at` and raise its clock's level.

    A crossing already recorded, or of an earlier cycle of the clock, leaves the state
    as it is, so a retried timer run cannot escalate twice.
    """
    at = _aware(at, "at")
    clock = state.clock(crossing.target)
    if clock is None or clock.started_at != crossing.started_at or clock.level >= crossing.level:
        return state
    recorded = {1: clock.warned_at, 2: clock.breached_at, 3: clock.second_breached_at}
    recorded[crossing.level] = at
    marked = replace(
        clock,
        level=crossing.level,
        warned_at=recorded[1],
        breached_at=recorded[2],
        second_breached_at=recorded[3],
    )
    return _with_clock(state, marked)


@dataclass(frozen=True, slots=True)
class TargetView:
    """One row of `helpline tickets show`."""

    target: str
    status: str  # running | paused | met | warned | breached, as of `now`
    business: bool  # remaining and paused are working time; else elapsed time
    due_at: datetime | None  # in the calendar's zone; None while paused
    remaining: timedelta  # negative when breached; for a met target, what was left
    paused: timedelta
    met_at: datetime | None


def report(state: SlaState, calendar: Calendar, *, now: datetime) -> list[TargetView]:
    """Each started target as of `now`, in TARGETS order."""
    now = _aware(now, "now")
    views = []
    for clock in state.clocks:
        spec = _spec_of(state, clock)
        used = clock.used
        if clock.running_since is not None:
            used += _elapsed(spec, calendar, clock.running_since, now)
        paused = clock.paused_total
        if clock.paused_at is not None:
            paused += _elapsed(spec, calendar, clock.paused_at, now)
        warn, within, _ = (seconds for _, seconds in spec._thresholds())
        if clock.met_at is not None or clock.paused_at is not None:
            status = clock.status
        elif clock.level >= 2 or used >= within:
            status = "breached"
        elif clock.level == 1 or used >= warn:
            status = "warned"
        else:
            status = "running"
        views.append(
            TargetView(
                target=clock.target,
                status=status,
                business=spec.business,
                due_at=clock.due_at.astimezone(calendar.tz) if clock.due_at else None,
                remaining=(within - used) * _SECOND,
                paused=paused * _SECOND,
                met_at=clock.met_at,
            )
        )
    return views


def expected_first_response(
    policy: SlaPolicy, calendar: Calendar, *, at: datetime
) -> datetime | None:
    """When a ticket created at `at` is due its first response, in the calendar's zone
    (what the acknowledgement promises); the same instant `start` schedules. None if
    the policy has no first-response target."""
    spec = policy.target(FIRST_RESPONSE)
    if spec is None:
        return None
    due = _after(spec, calendar, _aware(at, "at"), spec.within // _SECOND)
    return due.astimezone(calendar.tz) if due else None


# -- clock arithmetic ---------------------------------------------------------------------


def _new_clock(spec: TargetSpec, calendar: Calendar, at: datetime, *, paused: bool) -> TargetClock:
    clock = TargetClock(spec.target, started_at=at)
    return replace(clock, paused_at=at) if paused else _run(spec, clock, calendar, at)


def _run(spec: TargetSpec, clock: TargetClock, calendar: Calendar, since: datetime) -> TargetClock:
    """Begin a run segment at `since`: schedule the levels the clock has not used up."""
    moments = {
        level: _after(spec, calendar, since, seconds - clock.used)
        for level, seconds in spec._thresholds()
        if seconds > clock.used
    }
    return _with_moments(replace(clock, running_since=since, paused_at=None), moments)


def _pause(spec: TargetSpec, clock: TargetClock, calendar: Calendar, at: datetime) -> TargetClock:
    if clock.running_since is None:
        return clock
    used = clock.used + _elapsed(spec, calendar, clock.running_since, at)
    stopped = replace(clock, used=used, running_since=None, paused_at=at)
    return _forget_ahead(spec, stopped)


def _resume(spec: TargetSpec, clock: TargetClock, calendar: Calendar, at: datetime) -> TargetClock:
    if clock.paused_at is None:
        return clock
    paused = clock.paused_total + _elapsed(spec, calendar, clock.paused_at, at)
    return _run(spec, replace(clock, paused_total=paused, paused_at=None), calendar, at)


def _meet(spec: TargetSpec, clock: TargetClock, calendar: Calendar, at: datetime) -> TargetClock:
    if clock.met_at is not None:
        return clock
    used, paused = clock.used, clock.paused_total
    if clock.running_since is not None:
        used += _elapsed(spec, calendar, clock.running_since, at)
    if clock.paused_at is not None:
        paused += _elapsed(spec, calendar, clock.paused_at, at)
    # The moments stay: "due 12:00, met 10:30" is what a report wants to show.
    return replace(
        clock, used=used, paused_total=paused, running_since=None, paused_at=None, met_at=at
    )


def _reopen(
    spec: TargetSpec, clock: TargetClock, calendar: Calendar, at: datetime, *, paused: bool
) -> TargetClock:
    """Resume a met clock with the time it had left: the new deadline is `at` plus
    what remained, never the old deadline (which may have passed while solved)."""
    clock = replace(clock, met_at=None)
    if paused:
        return _forget_ahead(spec, replace(clock, paused_at=at))
    return _run(spec, clock, calendar, at)


def _forget_ahead(spec: TargetSpec, clock: TargetClock) -> TargetClock:
    """Moments not yet reached are unknown while a clock stands still."""
    ahead: dict[int, datetime | None] = {
        level: None for level, seconds in spec._thresholds() if seconds > clock.used
    }
    return _with_moments(clock, ahead)


def _with_moments(clock: TargetClock, changes: Mapping[int, datetime | None]) -> TargetClock:
    """`clock` with the moments of the levels in `changes` replaced."""
    moments = dict(clock._moments())
    moments.update(changes)
    return replace(clock, warn_at=moments[1], due_at=moments[2], second_due_at=moments[3])


def _elapsed(spec: TargetSpec, calendar: Calendar, a: datetime, b: datetime) -> int:
    """Whole seconds of the target's time in [a, b), rounded down."""
    if b <= a:
        return 0
    span = calendar.business_time_between(a, b) if spec.business else b - a
    return span // _SECOND


def _after(spec: TargetSpec, calendar: Calendar, since: datetime, seconds: int) -> datetime | None:
    """The UTC instant at which `seconds` of the target's time has passed since `since`."""
    amount = seconds * _SECOND
    if not spec.business:
        return since + amount
    try:
        return calendar.add_business_time(since, amount).astimezone(UTC)
    except ValueError:
        # The arguments are aware and non-negative, so this is the calendar having no
        # opening within its 5-year horizon: the level never comes, and is not indexed.
        return None


def _meet_all(state: SlaState, calendar: Calendar, at: datetime) -> SlaState:
    clocks = tuple(_meet(_spec_of(state, clock), clock, calendar, at) for clock in state.clocks)
    return replace(state, clocks=clocks, answered=True)


def _start_next_response(
    state: SlaState, calendar: Calendar, at: datetime, rules: Mapping[str, frozenset[str]]
) -> SlaState:
    spec = state.spec(NEXT_RESPONSE)
    current = state.clock(NEXT_RESPONSE)
    if spec is None or (current is not None and current.met_at is None):
        return state
    paused = state.ticket_status in rules[NEXT_RESPONSE]
    return _with_clock(state, _new_clock(spec, calendar, at, paused=paused))


def _rules(state: SlaState, policy: SlaPolicy | None) -> dict[str, frozenset[str]]:
    """Pause rules by target: the current policy's, else those stored at creation."""
    rules = dict.fromkeys(TARGETS, frozenset[str]())
    rules.update((spec.target, spec.pause_when) for spec in state.terms)
    if policy is not None:
        if policy.name != state.policy:
            raise ValueError(f"the state is under policy {state.policy!r}, not {policy.name!r}")
        rules.update((spec.target, spec.pause_when) for spec in policy.targets)
    return rules


def _with_clock(state: SlaState, clock: TargetClock) -> SlaState:
    others = [existing for existing in state.clocks if existing.target != clock.target]
    ordered = sorted([*others, clock], key=lambda c: TARGETS.index(c.target))
    return replace(state, clocks=tuple(ordered))


def _spec_of(state: SlaState, clock: TargetClock) -> TargetSpec:
    spec = state.spec(clock.target)
    if spec is None:  # from_dict and the transitions never build such a state
        raise ValueError(f"SLA state has a {clock.target} clock without terms")
    return spec


def _status(value: Any, what: str) -> str:
    if not isinstance(value, str) or value not in TICKET_STATUSES:
        raise ValueError(f"{what} must be one of {', '.join(TICKET_STATUSES)}, got {value!r}")
    return str(value)


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)
