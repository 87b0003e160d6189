"""The `social:` section of the config: which platforms are on, and where their secrets are.

```yaml
social:
  reopen_window_hours: 72        # optional, default 72
  meta:                          # optional: Messenger, Instagram and WhatsApp
    graph_base_url: https://graph.facebook.com   # optional, this default
    graph_version: v21.0                         # optional, this default
    app_secret: ssm:/helpline/dev/meta-app-secret
    verify_token: ssm:/helpline/dev/meta-verify-token
    pages:                       # optional: Messenger page id -> page access token
      "1234567890": ssm:/helpline/dev/page-token
    instagram:                   # optional: Instagram account id -> access token
      "17841400000000000": ssm:/helpline/dev/instagram-token
    whatsapp:                    # optional
      numbers:                   # phone_number_id -> access token
        "106540352242922": ssm:/helpline/dev/whatsapp-token
      template: {name: support_follow_up, language: en}   # optional
  telegram:                      # optional
    base_url: https://api.telegram.org           # optional, this default
    bot_id: "helpline_demo_bot"
    bot_token: ssm:/helpline/dev/telegram-bot-token
    secret_token: ssm:/helpline/dev/telegram-secret-token
  x:                             # optional
    base_url: https://api.x.com                  # optional, this default
    account_id: "1111111111"
    consumer_secret: ssm:/helpline/dev/x-consumer-secret
    access_token: ssm:/helpline/dev/x-access-token
```

Fields:

* `reopen_window_hours`: a message this many hours (or fewer) after its ticket was
  solved reopens that ticket instead of starting a new one; 0 never reopens.
* `meta.graph_base_url`, `telegram.base_url`, `x.base_url`: where the platform's API
  is. https; plain http only for this machine (127.0.0.1, localhost), which is how
  tests and the local stack point the senders at a fake platform.
* `meta.graph_version`: the Graph API version in every send URL, like `v21.0`.
* `meta.app_secret`: signs Meta's deliveries (`X-Hub-Signature-256`).
* `meta.verify_token`: the token Meta echoes in its GET verification handshake.
* `meta.pages`, `meta.instagram`, `meta.whatsapp.numbers`: our accounts, each id with
  the reference of its access token. Ids are written in quotes: unquoted, YAML reads
  them as numbers. A platform with no account listed is off.
* `meta.whatsapp.template`: the approved template (its name and language code, like
  `en` or `pt_BR`) sent when a reply falls outside WhatsApp's 24-hour window.
* `telegram.bot_id`: the bot's id or username; Telegram updates do not name the bot.
* `telegram.bot_token`: the bot token; `telegram.secret_token`: the
  `X-Telegram-Bot-Api-Secret-Token` set with `setWebhook`.
* `x.account_id`: our X user id; `x.consumer_secret`: the app's consumer secret (CRC
  and webhook signatures); `x.access_token`: a user-context token with `dm.write`.

Every secret is a reference (`ssm:/...` or `secretsmanager:...`), never the value. A
platform whose section is absent is disabled; a missing `social:` enables none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from functions.core.config_fields import integer, mapping, only, required, text
from functions.core.errors import ConfigError
from functions.core.models import Channel
from functions.core.secrets import SecretRef

DEFAULT_REOPEN_WINDOW_HOURS = 72
MAX_REOPEN_WINDOW_HOURS = 24 * 365
DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v21.0"
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org"
DEFAULT_X_BASE_URL = "https://api.x.com"

_NUMERIC_ID = re.compile(r"^\d{1,30}$")
_GRAPH_VERSION = re.compile(r"^v\d{1,3}\.\d{1,3}$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_TEMPLATE_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_BOT_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

_EMPTY: Mapping[str, SecretRef] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WhatsAppTemplate:
    name: str
    language: str


@dataclass(frozen=True, slots=True)
class MetaSettings:
    graph_base_url: str
    graph_version: str
    app_secret: SecretRef
    verify_token: SecretRef
    pages: Mapping[str, SecretRef] = field(default_factory=lambda: _EMPTY)
    instagram: Mapping[str, SecretRef] = field(default_factory=lambda: _EMPTY)
    whatsapp_numbers: Mapping[str, SecretRef] = field(default_factory=lambda: _EMPTY)
    whatsapp_template: WhatsAppTemplate | None = None


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    base_url: str
    bot_id: str
    bot_token: SecretRef
    secret_token: SecretRef


@dataclass(frozen=True, slots=True)
class XSettings:
    base_url: str
    account_id: str
    consumer_secret: SecretRef
    access_token: SecretRef


@dataclass(frozen=True, slots=True)
class SocialSettings:
    reopen_window_hours: int = DEFAULT_REOPEN_WINDOW_HOURS
    meta: MetaSettings | None = None
    telegram: TelegramSettings | None = None
    x: XSettings | None = None

    @property
    def enabled(self) -> frozenset[Channel]:
        channels: set[Channel] = set()
        if self.meta is not None:
            if self.meta.pages:
                channels.add(Channel.MESSENGER)
            if self.meta.instagram:
                channels.add(Channel.INSTAGRAM)
            if self.meta.whatsapp_numbers:
                channels.add(Channel.WHATSAPP)
        if self.telegram is not None:
            channels.add(Channel.TELEGRAM)
        if self.x is not None:
            channels.add(Channel.X)
        return frozenset(channels)

    def accounts(self, channel: Channel) -> Mapping[str, SecretRef]:
        """Our account ids on a channel with each one's access token reference."""
        if channel is Channel.TELEGRAM and self.telegram is not None:
            return MappingProxyType({self.telegram.bot_id: self.telegram.bot_token})
        if channel is Channel.X and self.x is not None:
            return MappingProxyType({self.x.account_id: self.x.access_token})
        if self.meta is None:
            return _EMPTY
        return {
            Channel.MESSENGER: self.meta.pages,
            Channel.INSTAGRAM: self.meta.instagram,
            Channel.WHATSAPP: self.meta.whatsapp_numbers,
        }.get(channel, _EMPTY)

    def secrets(self) -> tuple[tuple[str, SecretRef], ...]:
        """Every secret reference with its field path: to check or seed them at start."""
        found: list[tuple[str, SecretRef]] = []
        if self.meta is not None:
            found += [("social.meta.app_secret", self.meta.app_secret)]
            found += [("social.meta.verify_token", self.meta.verify_token)]
            found += [(f"social.meta.pages.{k}", v) for k, v in self.meta.pages.items()]
            found += [(f"social.meta.instagram.{k}", v) for k, v in self.meta.instagram.items()]
            found += [
                (f"social.meta.whatsapp.numbers.{k}", v)
                for k, v in self.meta.whatsapp_numbers.items()
            ]
        if self.telegram is not None:
            found += [("social.telegram.bot_token", self.telegram.bot_token)]
            found += [("social.telegram.secret_token", self.telegram.secret_token)]
        if self.x is not None:
            found += [("social.x.consumer_secret", self.x.consumer_secret)]
            found += [("social.x.access_token", self.x.access_token)]
        return tuple(found)


def parse_social(node: Any, path: str = "social") -> SocialSettings:
    if node is None:
        return SocialSettings()
    section = mapping(node, path)
    only(section, path, {"reopen_window_hours", "meta", "telegram", "x"})
    hours = DEFAULT_REOPEN_WINDOW_HOURS
    if section.get("reopen_window_hours") is not None:
        hours = integer(section["reopen_window_hours"], f"{path}.reopen_window_hours", minimum=0)
        if hours > MAX_REOPEN_WINDOW_HOURS:
            raise ConfigError(
                f"{path}.reopen_window_hours", f"must be at most {MAX_REOPEN_WINDOW_HOURS} (a year)"
            )
    return SocialSettings(
        reopen_window_hours=hours,
        meta=_meta(section["meta"], f"{path}.meta") if section.get("meta") is not None else None,
        telegram=_telegram(section["telegram"], f"{path}.telegram")
        if section.get("telegram") is not None
        else None,
        x=_x(section["x"], f"{path}.x") if section.get("x") is not None else None,
    )


def _given(node: Mapping[str, Any], key: str, default: str) -> Any:
    return default if node.get(key) is None else node[key]


def base_url(value: Any, path: str) -> str:
    url = text(value, path).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(path, f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise ConfigError(path, "must use https (plain http only for 127.0.0.1 or localhost)")
    if parts.query or parts.fragment or parts.username:
        raise ConfigError(path, "a base URL has no query, fragment or credentials")
    return url


def _account_id(key: Any, path: str) -> str:
    if not isinstance(key, str):
        raise ConfigError(
            path,
            f'write the id in quotes, like "{key}": unquoted, YAML reads it as a number '
            "and may change it",
        )
    if not _NUMERIC_ID.match(key.strip()):
        raise ConfigError(path, f"{key!r} is not a numeric account id")
    return key.strip()


def _accounts(value: Any, path: str) -> Mapping[str, SecretRef]:
    node = mapping(value, path)
    if not node:
        raise ConfigError(path, "lists no account; leave the field out to turn the platform off")
    found: dict[str, SecretRef] = {}
    for key, ref in node.items():
        where = f"{path}.{key}"
        found[_account_id(key, where)] = SecretRef.parse(ref, where)
    return MappingProxyType(found)


def _meta(value: Any, path: str) -> MetaSettings:
    node = mapping(value, path)
    only(
        node,
        path,
        {
            "graph_base_url",
            "graph_version",
            "app_secret",
            "verify_token",
            "pages",
            "instagram",
            "whatsapp",
        },
    )
    version = text(_given(node, "graph_version", DEFAULT_GRAPH_VERSION), f"{path}.graph_version")
    if not _GRAPH_VERSION.match(version):
        raise ConfigError(
            f"{path}.graph_version", f"{version!r} is not a Graph API version like 'v21.0'"
        )
    numbers: Mapping[str, SecretRef] = _EMPTY
    template = None
    if node.get("whatsapp") is not None:
        numbers, template = _whatsapp(node["whatsapp"], f"{path}.whatsapp")
    settings = MetaSettings(
        graph_base_url=base_url(
            _given(node, "graph_base_url", DEFAULT_GRAPH_BASE_URL), f"{path}.graph_base_url"
        ),
        graph_version=version,
        app_secret=SecretRef.parse(required(node, "app_secret", path), f"{path}.app_secret"),
        verify_token=SecretRef.parse(required(node, "verify_token", path), f"{path}.verify_token"),
        pages=_accounts(node["pages"], f"{path}.pages")
        if node.get("pages") is not None
        else _EMPTY,
        instagram=_accounts(node["instagram"], f"{path}.instagram")
        if node.get("instagram") is not None
        else _EMPTY,
        whatsapp_numbers=numbers,
        whatsapp_template=template,
    )
    if not (settings.pages or settings.instagram or settings.whatsapp_numbers):
        raise ConfigError(
            path, "names no page, Instagram account or WhatsApp number (pages, instagram, whatsapp)"
        )
    return settings


def _whatsapp(value: Any, path: str) -> tuple[Mapping[str, SecretRef], WhatsAppTemplate | None]:
    node = mapping(value, path)
    only(node, path, {"numbers", "template"})
    numbers = _accounts(required(node, "numbers", path), f"{path}.numbers")
    template = None
    if node.get("template") is not None:
        where = f"{path}.template"
        spec = mapping(node["template"], where)
        only(spec, where, {"name", "language"})
        name = text(required(spec, "name", where), f"{where}.name")
        if not _TEMPLATE_NAME.match(name):
            raise ConfigError(
                f"{where}.name", "template names are lower-case letters, digits and _"
            )
        language = text(required(spec, "language", where), f"{where}.language")
        if not _TEMPLATE_LANGUAGE.match(language):
            raise ConfigError(
                f"{where}.language",
                f"{language!r} is not a template language code like 'en' or 'pt_BR'",
            )
        template = WhatsAppTemplate(name, language)
    return numbers, template


def _telegram(value: Any, path: str) -> TelegramSettings:
    node = mapping(value, path)
    only(node, path, {"base_url", "bot_id", "bot_token", "secret_token"})
    bot_id = required(node, "bot_id", path)
    if not isinstance(bot_id, str):
        raise ConfigError(f"{path}.bot_id", "write the bot id in quotes (a username or numeric id)")
    if not _BOT_ID.match(bot_id.strip()):
        raise ConfigError(
            f"{path}.bot_id", "a bot id is letters, digits and _ (the bot's username or id)"
        )
    return TelegramSettings(
        base_url=base_url(_given(node, "base_url", DEFAULT_TELEGRAM_BASE_URL), f"{path}.base_url"),
        bot_id=bot_id.strip(),
        bot_token=SecretRef.parse(required(node, "bot_token", path), f"{path}.bot_token"),
        secret_token=SecretRef.parse(required(node, "secret_token", path), f"{path}.secret_token"),
    )


def _x(value: Any, path: str) -> XSettings:
    node = mapping(value, path)
    only(node, path, {"base_url", "account_id", "consumer_secret", "access_token"})
    return XSettings(
        base_url=base_url(_given(node, "base_url", DEFAULT_X_BASE_URL), f"{path}.base_url"),
        account_id=_account_id(required(node, "account_id", path), f"{path}.account_id"),
        consumer_secret=SecretRef.parse(
            required(node, "consumer_secret", path), f"{path}.consumer_secret"
        ),
        access_token=SecretRef.parse(required(node, "access_token", path), f"{path}.access_token"),
    )
