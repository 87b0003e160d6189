"""CSAT and NPS surveys: the settings, who is asked what and when, and the answers.

Pure: no AWS, no clock. The survey function's handlers pass in facts read from the
store and `now`, and act on the decision.

Policy, in the order `decide_survey` checks it (the first rule that fails is the
reason recorded in the ticket's event log):

1. surveys on, and the ticket's channel among `surveys.channels` (all by default; X's
   question is a list the customer answers by typing the number);
2. the ticket is still solved (or closed) and was not reopened since: a reopened
   ticket gets its survey after its next solve, from that solve's stream record;
3. an agent solved it: tickets solved automatically (auto-close, merges) are not
   surveyed;
4. the customer is a person we can reach: not an auto-responder, not undeliverable;
5. WhatsApp only inside the customer's 24-hour window. A WhatsApp survey waits the
   configured delay only as long as the window allows: it is brought forward to 15
   minutes before the window closes rather than dropped (with the default 24 h delay
   it would otherwise never be sent); once that moment has passed it is not sent;
6. no survey within the quiet period before the planned send time;
7. what to ask: NPS is about the company, not the ticket, so it is asked at most once
   per customer per `nps.every_days`. When NPS is due it is asked *instead of* CSAT,
   so a customer answers one survey per solved ticket (CSAT loses the few tickets
   that carry an NPS question); `nps.with_csat: true` asks both ("both": two
   surveys, two tokens, CSAT first).

Rules 5-7 are judged at the planned send time, `max(now, send_at)`, because the
handler decides when the ticket is solved and decides again, with fresh facts, when
the delay is over: a decision with `send_at` in the future means "ask again then".

Survey ids are stable (`survey_id`): a retried stream record computes the same id, and
the store's conditional put of that id is what keeps it from sending a second survey.

Message templates (templates/survey/, rendered with TemplateRenderer, purpose
"survey"); every name has a `.subject.j2` and a `.txt.j2`, as the renderer needs:

- `csat`, `nps`: the email (subject, text, HTML) with one-click links;
- `csat_question`, `nps_question`: the messaging question. Subject: a short heading
  (at most 60 characters: a WhatsApp interactive header, the chat widget's title);
  text: the question;
- `csat_choices`, `nps_choices`: the answer labels, one line per score in ascending
  order (1-5, 0-10), each at most 20 characters (Messenger and Instagram quick
  replies, WhatsApp buttons). Subject: the button that opens the list where a
  platform needs one (WhatsApp list messages, at most 20 characters). `parse_choices`
  reads them; the same labels are the email links' text, so an email and a button
  say the same thing;
- `page_thanks`, `page_comment_saved`, `page_invalid`: the web pages (subject: the
  page title; text: the same message as plain text, for clients that ask for JSON).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from functions.core import ids
from functions.core.config_fields import boolean, integer, list_of, mapping, only, text
from functions.core.errors import ConfigError, RejectedInput
from functions.core.models import Channel, TicketStatus
from functions.core.secrets import SecretRef
from functions.core.timeutil import to_iso
from functions.core.tokens import sign, verify

SurveyKind = Literal["csat", "nps"]
DecisionKind = Literal["csat", "nps", "both"]
SolvedBy = Literal["agent", "automatic"]

TOKEN_PURPOSE = "survey"
SCORES: Mapping[str, range] = {"csat": range(1, 6), "nps": range(11)}
WHATSAPP_WINDOW = timedelta(hours=24)
# a survey planned for the very end of the window could arrive after it closed
WHATSAPP_SAFETY_MARGIN = timedelta(minutes=15)
MAX_CHOICE_LABEL = 20  # Messenger/Instagram quick replies and WhatsApp buttons
MAX_HISTORY = 100  # earlier scores kept per response: bounded, the item must stay small
MAX_COMMENT_LIMIT = 20_000  # a response must fit in one DynamoDB item with its history
MAX_DELAY_MINUTES = 30 * 24 * 60  # weeks after solving, a survey is no longer about it
DEFAULT_CHANNELS = tuple(Channel)
_SURVEY_ID = re.compile(r"^S[0-9A-Z]{16}$")
# C0/C1 controls except tab and newline, bidi embeddings/overrides/isolates (they can
# make a comment display as something else), lone surrogates and the BOM
_UNWANTED_CATEGORIES = frozenset({"Cc", "Cs"})
_UNWANTED_CHARS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


# --- settings ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurveySettings:
    """The `surveys` section. Without the section surveys are off; a section that is
    present is on unless it says `enabled: false`."""

    enabled: bool = False
    csat_enabled: bool = True
    nps_enabled: bool = True
    nps_every_days: int = 90
    nps_with_csat: bool = False
    delay_minutes: int = 1440
    quiet_period_days: int = 14
    token_secret: SecretRef | None = None
    link_ttl_days: int = 30
    base_url: str = ""
    channels: tuple[Channel, ...] = DEFAULT_CHANNELS
    low_score_follow_up: bool = True
    comment_max_chars: int = 5000

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.delay_minutes)

    @property
    def link_ttl(self) -> timedelta:
        return timedelta(days=self.link_ttl_days)


def parse_surveys(node: Any, path: str = "surveys") -> SurveySettings:
    """Validate the `surveys` section; a missing section means surveys are off."""
    if node is None:
        return SurveySettings()
    section = mapping(node, path)
    only(
        section,
        path,
        {
            "enabled", "csat", "nps", "delay_minutes", "quiet_period_days", "token_secret",
            "link_ttl_days", "base_url", "channels", "low_score_follow_up", "comment_max_chars",
        },
    )  # fmt: skip
    defaults = SurveySettings()
    enabled = boolean(section.get("enabled", True), f"{path}.enabled")

    csat = mapping(section.get("csat") or {}, f"{path}.csat")
    only(csat, f"{path}.csat", {"enabled"})
    nps = mapping(section.get("nps") or {}, f"{path}.nps")
    only(nps, f"{path}.nps", {"enabled", "every_days", "with_csat"})
    csat_enabled = boolean(csat.get("enabled", True), f"{path}.csat.enabled")
    nps_enabled = boolean(nps.get("enabled", True), f"{path}.nps.enabled")
    if enabled and not (csat_enabled or nps_enabled):
        raise ConfigError(
            f"{path}.csat.enabled",
            "CSAT and NPS are both off: turn one on, or set surveys.enabled: false",
        )

    delay = integer(
        section.get("delay_minutes", defaults.delay_minutes), f"{path}.delay_minutes", minimum=0
    )
    if delay > MAX_DELAY_MINUTES:
        raise ConfigError(f"{path}.delay_minutes", f"must be at most {MAX_DELAY_MINUTES} (30 days)")
    ttl = integer(
        section.get("link_ttl_days", defaults.link_ttl_days), f"{path}.link_ttl_days", minimum=1
    )
    if ttl > 365:
        raise ConfigError(f"{path}.link_ttl_days", "must be at most 365")
    comment_max = integer(
        section.get("comment_max_chars", defaults.comment_max_chars),
        f"{path}.comment_max_chars",
        minimum=1,
    )
    if comment_max > MAX_COMMENT_LIMIT:
        raise ConfigError(f"{path}.comment_max_chars", f"must be at most {MAX_COMMENT_LIMIT}")

    secret_node = section.get("token_secret")
    base_node = section.get("base_url")
    if enabled and secret_node is None:
        raise ConfigError(f"{path}.token_secret", "is required when surveys are enabled")
    # base_url may be left out: the deployment then gives the survey function its own
    # API's address (HELPLINE_PUBLIC_URL), known only once it is deployed

    return SurveySettings(
        enabled=enabled,
        csat_enabled=csat_enabled,
        nps_enabled=nps_enabled,
        nps_every_days=integer(
            nps.get("every_days", defaults.nps_every_days), f"{path}.nps.every_days", minimum=1
        ),
        nps_with_csat=boolean(nps.get("with_csat", False), f"{path}.nps.with_csat"),
        delay_minutes=delay,
        quiet_period_days=integer(
            section.get("quiet_period_days", defaults.quiet_period_days),
            f"{path}.quiet_period_days",
            minimum=0,
        ),
        token_secret=None
        if secret_node is None
        else SecretRef.parse(secret_node, f"{path}.token_secret"),
        link_ttl_days=ttl,
        base_url="" if base_node is None else _base_url(base_node, f"{path}.base_url"),
        channels=_channels(section.get("channels"), f"{path}.channels", required=enabled),
        low_score_follow_up=boolean(
            section.get("low_score_follow_up", True), f"{path}.low_score_follow_up"
        ),
        comment_max_chars=comment_max,
    )


def _base_url(value: Any, path: str) -> str:
    url = text(value, path)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(path, f"{url!r} is not a URL like 'https://support.example.com'")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(path, "must be a plain base URL, without user, query or fragment")
    return url.rstrip("/")


def _channels(value: Any, path: str, *, required: bool) -> tuple[Channel, ...]:
    if value is None:
        return DEFAULT_CHANNELS
    channels: list[Channel] = []
    for i, item in enumerate(list_of(value, path)):
        try:
            channel = Channel(str(item))
        except ValueError as exc:
            known = ", ".join(c.value for c in Channel)
            raise ConfigError(f"{path}[{i}]", f"unknown channel {item!r} (known: {known})") from exc
        if channel in channels:
            raise ConfigError(f"{path}[{i}]", f"{channel.value} is listed twice")
        channels.append(channel)
    if required and not channels:
        raise ConfigError(path, "list at least one channel, or set surveys.enabled: false")
    return tuple(channels)


# --- the decision --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurveyFacts:
    """What the handler knows about a solved ticket and its customer."""

    ticket_id: str
    channel: Channel
    status: TicketStatus  # now, freshly read
    solved_at: datetime
    solved_by: SolvedBy
    reopened_since_solved: bool = False
    customer_undeliverable: bool = False  # on this ticket's channel
    customer_is_auto_responder: bool = False  # all their messages on the ticket were automatic
    last_survey_at: datetime | None = None  # any survey sent to this customer
    last_nps_at: datetime | None = None
    whatsapp_last_inbound_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.solved_by not in ("agent", "automatic"):
            raise ValueError(f"solved_by is 'agent' or 'automatic', not {self.solved_by!r}")
        for name in ("solved_at", "last_survey_at", "last_nps_at", "whatsapp_last_inbound_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")


@dataclass(frozen=True, slots=True)
class SurveyDecision:
    send: bool
    kind: DecisionKind | None  # None when nothing is sent
    reason: str  # a sentence for the ticket's event log
    send_at: datetime  # when to send; later than now means "decide again then"

    @property
    def kinds(self) -> tuple[SurveyKind, ...]:
        """The surveys to create, in sending order."""
        if self.kind == "both":
            return ("csat", "nps")
        if self.kind is None:
            return ()
        return (self.kind,)

    def is_due(self, now: datetime) -> bool:
        return self.send and self.send_at <= now


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def decide_survey(settings: SurveySettings, facts: SurveyFacts, *, now: datetime) -> SurveyDecision:
    """Whether to survey this solved ticket, which survey, and when (see module doc)."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    send_at = facts.solved_at + settings.delay

    def skip(reason: str) -> SurveyDecision:
        return SurveyDecision(False, None, reason, send_at)

    if not settings.enabled:
        return skip("Surveys are turned off.")
    if facts.channel not in settings.channels:
        return skip(f"Surveys are not sent on the {facts.channel.value} channel.")
    if facts.reopened_since_solved or facts.status.is_active:
        return skip(
            "The ticket was reopened after it was solved; its next solve brings a new survey."
        )
    if facts.solved_by != "agent":
        return skip("The ticket was solved automatically, not by an agent.")
    if facts.customer_is_auto_responder:
        return skip("The customer is an auto-responder: every message from them was automatic.")
    if facts.customer_undeliverable:
        return skip(
            f"The customer cannot be reached on {facts.channel.value}: earlier sends failed."
        )

    if facts.channel is Channel.WHATSAPP:
        if facts.whatsapp_last_inbound_at is None:
            return skip("The customer has no open WhatsApp window: they never wrote on WhatsApp.")
        closes = facts.whatsapp_last_inbound_at + WHATSAPP_WINDOW
        latest = closes - WHATSAPP_SAFETY_MARGIN
        if latest <= now:
            return skip(
                f"The customer's 24-hour WhatsApp window closed at {_when(closes)}; "
                "outside it only approved templates may be sent."
            )
        send_at = min(send_at, latest)

    moment = max(now, send_at)
    if facts.last_survey_at is not None:
        quiet_until = facts.last_survey_at + timedelta(days=settings.quiet_period_days)
        if moment < quiet_until:
            return skip(
                f"The customer was surveyed on {_when(facts.last_survey_at)}, within the "
                f"{settings.quiet_period_days}-day quiet period."
            )

    nps_due = settings.nps_enabled and (
        facts.last_nps_at is None
        or moment >= facts.last_nps_at + timedelta(days=settings.nps_every_days)
    )
    when = f"at {_when(send_at)}" if send_at > now else "now"
    if nps_due and settings.csat_enabled and settings.nps_with_csat:
        return SurveyDecision(True, "both", f"CSAT and NPS surveys are sent {when}.", send_at)
    if nps_due:
        last = (
            "never asked" if facts.last_nps_at is None else f"last asked {_when(facts.last_nps_at)}"
        )
        instead = " instead of CSAT" if settings.csat_enabled else ""
        return SurveyDecision(
            True,
            "nps",
            f"An NPS survey is sent {when}{instead}: NPS is due ({last}, at most every "
            f"{settings.nps_every_days} days).",
            send_at,
        )
    if settings.csat_enabled:
        return SurveyDecision(True, "csat", f"A CSAT survey is sent {when}.", send_at)
    assert facts.last_nps_at is not None  # nps_due is False only with a recent NPS
    return skip(
        f"CSAT is off and the customer was asked NPS on {_when(facts.last_nps_at)} "
        f"(at most every {settings.nps_every_days} days)."
    )


# --- records ---------------------------------------------------------------------------


def survey_id(ticket_id: str, solved_at: datetime, kind: SurveyKind) -> str:
    """The same id for the same solve and kind, so a retried record finds its survey."""
    return "S" + ids.stable_id("survey", ticket_id, to_iso(solved_at), kind)


def is_survey_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_SURVEY_ID.match(value))


@dataclass(frozen=True, slots=True)
class Survey:
    id: str
    ticket_id: str
    customer_id: str
    channel: Channel
    kind: SurveyKind
    language: str
    team: str | None
    agent: str | None  # who solved the ticket
    sent_at: datetime
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class ScoreChange:
    score: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Response:
    """The customer's answer to one survey: the last score wins, earlier ones are kept."""

    survey_id: str
    score: int
    comment: str
    at: datetime  # when the current score was given
    history: tuple[ScoreChange, ...] = ()  # earlier scores, oldest first
    comment_at: datetime | None = None
    followed_up_at: datetime | None = None  # when the low-score follow-up was queued

    @classmethod
    def first(cls, survey_id: str, score: int, at: datetime) -> Response:
        return cls(survey_id, score, "", at)

    def with_score(self, score: int, at: datetime) -> Response:
        """A later click: a new score moves the current one into the history; the same
        score again changes nothing (a link clicked 100 times is one answer)."""
        if score == self.score:
            return self
        history = (*self.history, ScoreChange(self.score, self.at))[-MAX_HISTORY:]
        return replace(self, score=score, at=at, history=history)

    def with_comment(self, comment: str, at: datetime) -> Response:
        return replace(self, comment=comment, comment_at=at)


# --- answers -----------------------------------------------------------------------------


def _kind(kind: str) -> range:
    try:
        return SCORES[kind]
    except KeyError:
        raise ValueError(f"unknown survey kind {kind!r}") from None


def parse_score(kind: str, raw: Any) -> int:
    """A score as clicked or sent: an int, or a string of digits (any script's digits,
    so "٥" and "５" typed on a phone count); RejectedInput otherwise."""
    scores = _kind(kind)
    bounds = f"a whole number from {scores.start} to {scores.stop - 1}"
    reason = f"a {kind.upper()} score is {bounds}"
    if isinstance(raw, bool):
        raise RejectedInput("bad_score", reason, status=400)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        digits = raw.strip()
        if not digits or len(digits) > 3 or not digits.isdecimal():
            raise RejectedInput("bad_score", reason, status=400)
        value = int(digits)
    else:
        raise RejectedInput("bad_score", reason, status=400)
    if value not in scores:
        raise RejectedInput("bad_score", f"{reason}, not {value}", status=400)
    return value


# a whole message that is a score: "9", "9/10", "4 out of 5", "10!", "٥"; keycaps ("4️⃣",
# "🔟") and a row of stars ("⭐⭐⭐⭐") are read first
_TYPED_SCORE = re.compile(
    r"^\s*(\d{1,2})\s*(?:(?:/|out of|von|sur|de|из)\s*(?:5|10)\b)?\s*[.!)]*\s*$", re.IGNORECASE
)
_KEYCAP = "\ufe0f\u20e3"
_STARS = frozenset("⭐★🌟")
MAX_TYPED_SCORE_CHARS = 24  # longer text is a message, not an answer


def typed_score(text: str) -> int | None:
    """The score a customer typed instead of tapping a button, when the whole message is
    one; None for anything else ("I called 5 times" is a message, not a score)."""
    stripped = unicodedata.normalize("NFKC", text).strip()
    if not stripped or len(stripped) > MAX_TYPED_SCORE_CHARS:
        return None
    if stripped == "🔟":
        return 10
    if stripped.endswith("\u20e3"):  # a keycap digit, with or without its FE0F
        digit = stripped.replace(_KEYCAP, "").replace("\u20e3", "")
        return int(digit) if len(digit) == 1 and digit.isdecimal() else None
    if set(stripped) <= _STARS | {" ", "\ufe0f"}:
        stars = sum(stripped.count(star) for star in _STARS)
        return stars if 1 <= stars <= 5 else None
    match = _TYPED_SCORE.match(stripped)
    return int(match.group(1)) if match else None


def clean_comment(comment: Any, max_chars: int) -> str:
    """The comment as it is stored: NFC, controls removed, trimmed; refused (never cut)
    when longer than `max_chars`. HTML stays text here and is escaped on display."""
    if not isinstance(comment, str):
        raise RejectedInput("bad_comment", "the comment must be text", status=400)
    normalized = unicodedata.normalize("NFC", comment.replace("\r\n", "\n").replace("\r", "\n"))
    cleaned = "".join(
        ch
        for ch in normalized
        if ch in "\n\t"
        or (unicodedata.category(ch) not in _UNWANTED_CATEGORIES and ch not in _UNWANTED_CHARS)
    ).strip()
    if len(cleaned) > max_chars:
        raise RejectedInput(
            "comment_too_long",
            f"the comment has {len(cleaned)} characters; at most {max_chars} are accepted",
            status=400,
        )
    return cleaned


def is_low_score(kind: str, score: int) -> bool:
    """CSAT 1-2 and NPS 0-6 (a detractor) are low."""
    scores = _kind(kind)
    if score not in scores:
        raise ValueError(f"{score} is not a {kind} score")
    return score <= 2 if kind == "csat" else score <= 6


def needs_follow_up(settings: SurveySettings, kind: str, score: int, comment: str) -> bool:
    """A low score with a comment opens a follow-up task (someone calls back)."""
    return settings.low_score_follow_up and bool(comment.strip()) and is_low_score(kind, score)


# --- links and labels --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    score: int
    label: str


def parse_choices(kind: str, rendered: str) -> tuple[Choice, ...]:
    """Read a rendered `<kind>_choices` template: one label per score, ascending.

    A wrong line count or an overlong label is a template bug (ours): ValueError.
    """
    scores = _kind(kind)
    labels = [line.strip() for line in rendered.splitlines() if line.strip()]
    if len(labels) != len(scores):
        raise ValueError(f"{kind} choices need {len(scores)} labels, one a line, not {len(labels)}")
    for label in labels:
        if len(label) > MAX_CHOICE_LABEL:
            raise ValueError(f"choice label {label!r} is over {MAX_CHOICE_LABEL} characters")
    return tuple(Choice(score, label) for score, label in zip(scores, labels, strict=True))


def survey_token(survey: Survey, *, secret: bytes, now: datetime) -> str:
    """The signed link token: the survey id, valid until the survey expires."""
    ttl = survey.expires_at - now
    if ttl <= timedelta(0):
        raise ValueError("the survey has already expired")
    return sign(TOKEN_PURPOSE, {"sid": survey.id}, secret=secret, now=now, ttl=ttl)


def read_survey_token(token: Any, *, secret: bytes, now: datetime) -> str:
    """The survey id in a valid token; RejectedInput `bad_token`/`expired_token` otherwise."""
    claims = verify(token, TOKEN_PURPOSE, secret=secret, now=now)
    survey = claims.get("sid")
    if not is_survey_id(survey):
        raise RejectedInput("bad_token", "the token names no survey", status=401)
    return str(survey)


def invalid_link_reason(error: RejectedInput) -> Literal["expired", "invalid"]:
    """What `page_invalid` tells the customer: an expired link, or a broken one."""
    return "expired" if error.code == "expired_token" else "invalid"


def survey_url(base_url: str, token: str, score: int | None = None) -> str:
    """`<base>/survey/<token>`, with `?score=N` for a one-click rating link."""
    url = f"{base_url.rstrip('/')}/survey/{quote(token, safe='')}"
    return url if score is None else f"{url}?score={score}"


def survey_links(base_url: str, token: str, choices: Sequence[Choice]) -> list[dict[str, Any]]:
    """The `links` template variable: one {score, url, label} per choice."""
    return [
        {"score": c.score, "url": survey_url(base_url, token, c.score), "label": c.label}
        for c in choices
    ]
