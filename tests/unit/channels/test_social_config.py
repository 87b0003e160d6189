"""The `social:` config section: a good file, and each kind of mistake named by its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from functions.core.errors import ConfigError
from functions.core.models import Channel
from functions.core.secrets import SecretRef
from functions.core.social_config import SocialSettings, WhatsAppTemplate, parse_social

GOOD = yaml.safe_load(
    """
social:
  reopen_window_hours: 72
  meta:
    graph_base_url: https://graph.facebook.com
    graph_version: v21.0
    app_secret: ssm:/helpline/dev/meta-app-secret
    verify_token: ssm:/helpline/dev/meta-verify-token
    pages:
      "1234567890": ssm:/helpline/dev/page-token
    instagram:
      "17841400000000000": ssm:/helpline/dev/instagram-token
    whatsapp:
      numbers:
        "106540352242922": ssm:/helpline/dev/whatsapp-token
      template: {name: support_follow_up, language: en}
  telegram:
    base_url: https://api.telegram.org
    bot_id: "helpline_demo_bot"
    bot_token: ssm:/helpline/dev/telegram-bot-token
    secret_token: ssm:/helpline/dev/telegram-secret-token
  x:
    base_url: https://api.x.com
    account_id: "1111111111"
    consumer_secret: ssm:/helpline/dev/x-consumer-secret
    access_token: secretsmanager:helpline/dev/x-access-token
"""
)["social"]


def _mistake(change: Any) -> ConfigError:
    node = copy.deepcopy(GOOD)
    change(node)
    with pytest.raises(ConfigError) as caught:
        parse_social(node)
    return caught.value


def test_the_documented_example_parses() -> None:
    settings = parse_social(GOOD)
    assert settings.reopen_window_hours == 72
    assert settings.enabled == {
        Channel.MESSENGER,
        Channel.INSTAGRAM,
        Channel.WHATSAPP,
        Channel.TELEGRAM,
        Channel.X,
    }
    assert settings.meta is not None
    assert settings.meta.graph_version == "v21.0"
    assert settings.meta.app_secret == SecretRef("ssm", "/helpline/dev/meta-app-secret")
    assert dict(settings.meta.pages) == {"1234567890": SecretRef("ssm", "/helpline/dev/page-token")}
    assert settings.meta.whatsapp_template == WhatsAppTemplate("support_follow_up", "en")
    assert settings.accounts(Channel.WHATSAPP) == {
        "106540352242922": SecretRef("ssm", "/helpline/dev/whatsapp-token")
    }
    assert settings.accounts(Channel.TELEGRAM) == {
        "helpline_demo_bot": SecretRef("ssm", "/helpline/dev/telegram-bot-token")
    }
    assert settings.x is not None and settings.x.access_token == SecretRef(
        "secretsmanager", "helpline/dev/x-access-token"
    )
    assert len(settings.secrets()) == 9
    assert (
        "social.x.consumer_secret",
        SecretRef("ssm", "/helpline/dev/x-consumer-secret"),
    ) in settings.secrets()


def test_a_missing_section_enables_nothing() -> None:
    assert parse_social(None) == SocialSettings()
    assert parse_social(None).enabled == frozenset()
    assert parse_social({}).reopen_window_hours == 72


def test_each_platform_is_optional_and_defaults_fill_the_urls() -> None:
    settings = parse_social(
        {
            "telegram": {
                "bot_id": "helpline_demo_bot",
                "bot_token": "ssm:/t",
                "secret_token": "ssm:/s",
            }
        }
    )
    assert settings.enabled == {Channel.TELEGRAM}
    assert (
        settings.telegram is not None and settings.telegram.base_url == "https://api.telegram.org"
    )
    assert settings.accounts(Channel.MESSENGER) == {}
    only_whatsapp = parse_social(
        {
            "meta": {
                "app_secret": "ssm:/a",
                "verify_token": "ssm:/v",
                "whatsapp": {"numbers": {"1": "ssm:/w"}},
            }
        }
    )
    assert only_whatsapp.enabled == {Channel.WHATSAPP}
    assert only_whatsapp.meta is not None and only_whatsapp.meta.whatsapp_template is None
    assert only_whatsapp.meta.graph_base_url == "https://graph.facebook.com"


def test_a_local_fake_platform_may_use_plain_http() -> None:
    node = copy.deepcopy(GOOD)
    node["telegram"]["base_url"] = "http://127.0.0.1:8765/"
    settings = parse_social(node)
    assert settings.telegram is not None and settings.telegram.base_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda n: n.update(reopen=1), "social.reopen", "unknown field"),
        (lambda n: n.update(reopen_window_hours=-1), "social.reopen_window_hours", "at least 0"),
        (
            lambda n: n.update(reopen_window_hours="72"),
            "social.reopen_window_hours",
            "whole number",
        ),
        (lambda n: n.update(reopen_window_hours=10**6), "social.reopen_window_hours", "at most"),
        (lambda n: n["meta"].pop("app_secret"), "social.meta.app_secret", "is required"),
        (
            lambda n: n["meta"].update(app_secret="hunter2"),
            "social.meta.app_secret",
            "secret reference",
        ),
        (
            lambda n: n["meta"].update(verify_token="vault:x"),
            "social.meta.verify_token",
            "unknown secret reference",
        ),
        (
            lambda n: n["meta"].update(graph_version="21.0"),
            "social.meta.graph_version",
            "Graph API version",
        ),
        (
            lambda n: n["meta"].update(graph_base_url="http://graph.facebook.com"),
            "social.meta.graph_base_url",
            "https",
        ),
        (
            lambda n: n["meta"].update(graph_base_url="ftp://x"),
            "social.meta.graph_base_url",
            "http(s)",
        ),
        (
            lambda n: n["meta"].update(graph_base_url="https://h/?a=1"),
            "social.meta.graph_base_url",
            "no query",
        ),
        (
            lambda n: n["meta"].update(pages={1234567890: "ssm:/p"}),
            "social.meta.pages.1234567890",
            "in quotes",
        ),
        (
            lambda n: n["meta"].update(pages={"my-page": "ssm:/p"}),
            "social.meta.pages.my-page",
            "numeric account id",
        ),
        (lambda n: n["meta"].update(pages={}), "social.meta.pages", "lists no account"),
        (lambda n: n["meta"].update(pages=["1"]), "social.meta.pages", "must be a mapping"),
        (
            lambda n: [n["meta"].pop(k) for k in ("pages", "instagram", "whatsapp")],
            "social.meta",
            "names no page",
        ),
        (
            lambda n: n["meta"]["whatsapp"].pop("numbers"),
            "social.meta.whatsapp.numbers",
            "is required",
        ),
        (
            lambda n: n["meta"]["whatsapp"].update(
                template={"name": "Follow Up", "language": "en"}
            ),
            "social.meta.whatsapp.template.name",
            "lower-case",
        ),
        (
            lambda n: n["meta"]["whatsapp"].update(template={"name": "x", "language": "english"}),
            "social.meta.whatsapp.template.language",
            "language code",
        ),
        (
            lambda n: n["meta"]["whatsapp"].update(template={"name": "x"}),
            "social.meta.whatsapp.template.language",
            "is required",
        ),
        (
            lambda n: n["meta"]["whatsapp"]["template"].update(lang="en"),
            "social.meta.whatsapp.template.lang",
            "unknown field",
        ),
        (
            lambda n: n["telegram"].pop("secret_token"),
            "social.telegram.secret_token",
            "is required",
        ),
        (lambda n: n["telegram"].update(bot_id=123), "social.telegram.bot_id", "in quotes"),
        (
            lambda n: n["telegram"].update(bot_id="helpline bot"),
            "social.telegram.bot_id",
            "letters, digits",
        ),
        (lambda n: n["x"].update(account_id=1111111111), "social.x.account_id", "in quotes"),
        (lambda n: n["x"].pop("access_token"), "social.x.access_token", "is required"),
        (lambda n: n["x"].update(base_url=""), "social.x.base_url", "non-empty"),
        (lambda n: n.update(x="on"), "social.x", "must be a mapping"),
    ],
)
def test_each_mistake_names_its_field(change: Any, field: str, words: str) -> None:
    error = _mistake(change)
    assert error.field == field
    assert words in error.problem


def test_the_section_itself_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_social(["meta"])
    assert caught.value.field == "social"
