"""The `agents:` and `chat:` sections of the config file.

```yaml
agents:                         # who can take chats, in which languages, how many at once
  - email: lucia@helpline.test
    name: Lucía
    languages: [es, en]
    max_chats: 3
chat:
  allowed_origins: [https://shop.helpline.test]          # the sites that embed the widget
  session_secret: ssm:/helpline/dev/chat-session-secret   # signs customer session tokens
  agent_secret: ssm:/helpline/dev/chat-agent-secret       # signs agent tokens
  session_hours: 2              # a session token is valid this long (API Gateway's max)
  resume_minutes: 30            # reconnecting within this continues the same chat
  overflow_after_seconds: 180   # a chat waiting this long moves to the fallback team
  fallback_team: english
  on_close: resolve             # resolve | keep_open (a chat no agent answered stays open)
  max_actions_per_second: 5
  max_message_chars: 4000
  default_handle_minutes: 6     # the wait estimate until real handle times exist
  verification_mails_per_session: 3         # codes to addresses a chat has not proven yet
  transcript_mails_per_address_per_day: 3   # and to one address, from all chats
  faq:                          # per locale; a confident match answers at once
    en:
      - question: Where is my order?
        keywords: [order, tracking, shipped, delivery]
        answer: You can follow your order at https://shop.example/orders ...
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from functions.core.config_fields import (
    email_address,
    integer,
    language,
    list_of,
    mapping,
    only,
    required,
    text,
)
from functions.core.errors import ConfigError
from functions.core.secrets import SecretRef

if TYPE_CHECKING:
    from functions.core.config import Team


@dataclass(frozen=True, slots=True)
class AgentSpec:
    email: str
    name: str
    languages: tuple[str, ...]
    max_chats: int = 3


@dataclass(frozen=True, slots=True)
class FaqEntry:
    question: str
    keywords: tuple[str, ...]
    answer: str


@dataclass(frozen=True, slots=True)
class ChatSettings:
    session_secret: SecretRef | None = None
    agent_secret: SecretRef | None = None
    # origins (scheme://host[:port]) of the sites whose pages may open chat sessions
    allowed_origins: tuple[str, ...] = ()
    session_hours: int = 2
    resume_minutes: int = 30
    overflow_after_seconds: int = 180
    fallback_team: str | None = None
    on_close: str = "resolve"
    max_actions_per_second: int = 5
    max_message_chars: int = 4000
    default_handle_minutes: int = 6
    faq: Mapping[str, tuple[FaqEntry, ...]] = field(default_factory=dict)
    # the mails a visitor can make us send: codes proving an address is theirs, per chat
    # (the transcript itself goes once, to a proven address), and codes and transcripts
    # to one address a day, whichever chats ask
    verification_mails_per_session: int = 3
    transcript_mails_per_address_per_day: int = 3

    @property
    def enabled(self) -> bool:
        return self.session_secret is not None


def parse_agents(node: Any, *, languages: Sequence[str]) -> tuple[AgentSpec, ...]:
    agents: list[AgentSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(list_of(node or [], "agents")):
        path = f"agents[{i}]"
        spec = mapping(item, path)
        only(spec, path, {"email", "name", "languages", "max_chats"})
        email = email_address(required(spec, "email", path), f"{path}.email")
        if email in seen:
            raise ConfigError(f"{path}.email", f"{email} is listed twice")
        seen.add(email)
        spoken = tuple(
            language(code, f"{path}.languages[{j}]")
            for j, code in enumerate(
                list_of(required(spec, "languages", path), f"{path}.languages")
            )
        )
        if not spoken:
            raise ConfigError(f"{path}.languages", "an agent speaks at least one language")
        for j, code in enumerate(spoken):
            if code not in languages:
                raise ConfigError(
                    f"{path}.languages[{j}]", f"{code!r} is not in languages.supported"
                )
        agents.append(
            AgentSpec(
                email=email,
                name=text(spec.get("name") or email.split("@")[0], f"{path}.name"),
                languages=spoken,
                max_chats=integer(spec.get("max_chats", 3), f"{path}.max_chats", minimum=1),
            )
        )
    return tuple(agents)


def parse_chat(
    node: Any, *, teams: Mapping[str, Team], languages: Sequence[str], default_team: str
) -> ChatSettings:
    if node is None:
        return ChatSettings(fallback_team=default_team)
    spec = mapping(node, "chat")
    only(
        spec,
        "chat",
        {
            "allowed_origins",
            "session_secret",
            "agent_secret",
            "session_hours",
            "resume_minutes",
            "overflow_after_seconds",
            "fallback_team",
            "on_close",
            "max_actions_per_second",
            "max_message_chars",
            "default_handle_minutes",
            "faq",
            "verification_mails_per_session",
            "transcript_mails_per_address_per_day",
        },
    )
    fallback = text(spec.get("fallback_team") or default_team, "chat.fallback_team")
    if fallback not in teams:
        raise ConfigError("chat.fallback_team", f"unknown team {fallback!r}")
    on_close = spec.get("on_close", "resolve")
    if on_close not in ("resolve", "keep_open"):
        raise ConfigError("chat.on_close", "must be resolve or keep_open")
    hours = integer(spec.get("session_hours", 2), "chat.session_hours", minimum=1)
    if hours > 24:
        raise ConfigError("chat.session_hours", "at most 24")
    chars = integer(spec.get("max_message_chars", 4000), "chat.max_message_chars", minimum=1)
    if chars > 30_000:
        raise ConfigError("chat.max_message_chars", "a WebSocket frame holds at most 32 KB")
    return ChatSettings(
        session_secret=SecretRef.parse(
            required(spec, "session_secret", "chat"), "chat.session_secret"
        ),
        agent_secret=SecretRef.parse(required(spec, "agent_secret", "chat"), "chat.agent_secret"),
        allowed_origins=_origins(spec.get("allowed_origins")),
        session_hours=hours,
        resume_minutes=integer(spec.get("resume_minutes", 30), "chat.resume_minutes", minimum=0),
        overflow_after_seconds=integer(
            spec.get("overflow_after_seconds", 180), "chat.overflow_after_seconds", minimum=0
        ),
        fallback_team=fallback,
        on_close=on_close,
        max_actions_per_second=integer(
            spec.get("max_actions_per_second", 5), "chat.max_actions_per_second", minimum=1
        ),
        max_message_chars=chars,
        default_handle_minutes=integer(
            spec.get("default_handle_minutes", 6), "chat.default_handle_minutes", minimum=1
        ),
        faq=_faq(spec.get("faq") or {}, languages),
        verification_mails_per_session=integer(
            spec.get("verification_mails_per_session", 3),
            "chat.verification_mails_per_session",
            minimum=0,
        ),
        transcript_mails_per_address_per_day=integer(
            spec.get("transcript_mails_per_address_per_day", 3),
            "chat.transcript_mails_per_address_per_day",
            minimum=0,
        ),
    )


def _origins(node: Any) -> tuple[str, ...]:
    """The sites whose pages may open chat sessions. Required with chat: an empty list
    would otherwise have to mean "any site", which nobody should get by leaving it out."""
    path = "chat.allowed_origins"
    if not node:
        raise ConfigError(
            path,
            "list the origins of the sites that embed the chat widget, "
            "like [https://shop.example] ('*' is not allowed)",
        )
    found: list[str] = []
    for i, value in enumerate(list_of(node, path)):
        normalized = _origin(value, f"{path}[{i}]")
        if normalized not in found:
            found.append(normalized)
    return tuple(found)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


def _origin(value: Any, path: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin` (lower case, no default
    port), so the comparison with the header is a plain string match."""
    example = "write it as https://shop.example (scheme, host and port only)"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, f"must be an origin: {example}")
    value = value.strip()
    if "*" in value:
        raise ConfigError(path, f"{value!r}: wildcards are not allowed, list each site; {example}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError(path, f"{value!r} is not an origin; {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise ConfigError(path, f"{value!r} has no http:// or https:// scheme; {example}")
    if parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ConfigError(path, f"{value!r} has a path; {example}")
    host = parts.hostname or ""  # lower case
    if parts.username is not None or not (":" in host or _HOST.fullmatch(host)):
        raise ConfigError(
            path, f"{value!r} is not an origin (an IDN host is written in its xn-- form); {example}"
        )
    if ":" in host:  # IPv6, which urlsplit gives without its brackets
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def _faq(node: Any, languages: Sequence[str]) -> dict[str, tuple[FaqEntry, ...]]:
    result: dict[str, tuple[FaqEntry, ...]] = {}
    for locale, entries in mapping(node, "chat.faq").items():
        path = f"chat.faq.{locale}"
        code = language(locale, path)
        if code.split("-")[0] not in languages and code not in languages:
            raise ConfigError(path, f"{code!r} is not in languages.supported")
        parsed = []
        for i, entry in enumerate(list_of(entries, path)):
            where = f"{path}[{i}]"
            item = mapping(entry, where)
            only(item, where, {"question", "keywords", "answer"})
            keywords = tuple(
                text(k, f"{where}.keywords[{j}]").lower()
                for j, k in enumerate(
                    list_of(required(item, "keywords", where), f"{where}.keywords")
                )
            )
            if not keywords:
                raise ConfigError(f"{where}.keywords", "list at least one keyword")
            parsed.append(
                FaqEntry(
                    question=text(required(item, "question", where), f"{where}.question"),
                    keywords=keywords,
                    answer=text(required(item, "answer", where), f"{where}.answer"),
                )
            )
        result[code] = tuple(parsed)
    return result


def faq_enabled(settings: ChatSettings) -> bool:
    return any(settings.faq.values())


__all__ = [
    "AgentSpec",
    "ChatSettings",
    "FaqEntry",
    "faq_enabled",
    "parse_agents",
    "parse_chat",
]
