"""Shared composition: build the intake and its collaborators from plain settings.

Each function's own `wiring` module reads the environment once (through
`Settings.from_env`) and calls `build_intake`; tests and the local stack call it with
their own settings and clients. Nothing here touches the network until first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.core import aws
from functions.core.blobs import BlobStore
from functions.core.channels.chat import ChatPusher, ChatSender
from functions.core.channels.email import EmailSender
from functions.core.chatstore import ChatStore
from functions.core.config import (
    DEFAULT_TEMPLATES_DIR,
    ENV_BUCKET,
    ENV_CHAT_MANAGEMENT_URL,
    ENV_CHAT_WS_URL,
    ENV_CONFIG_PATH,
    ENV_MANAGEMENT_ENDPOINT,
    ENV_PUBLIC_URL_PARAMETER,
    ENV_QUEUE_URLS,
    ENV_TABLE,
    ENV_TEMPLATES_DIR,
    Config,
    load_config,
)
from functions.core.language import LanguageDetector
from functions.core.models import Channel
from functions.core.pipeline import Intake, Sender
from functions.core.replies import TemplateRenderer
from functions.core.routing import RoutingPublisher
from functions.core.secrets import SecretRef, SecretResolver
from functions.core.store import TicketStore
from functions.core.survey_answers import SurveyAnswers
from functions.core.surveystore import SurveyStore
from functions.core.tickets import TicketService


class MissingSettingError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    table: str
    bucket: str
    queue_urls: Mapping[str, str]
    config_path: str | None = None
    templates_dir: str | None = None
    chat_ws_url: str = ""
    chat_management_url: str | None = None
    management_endpoint_from_env: bool = False
    public_url_parameter: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        missing = [name for name in (ENV_TABLE, ENV_BUCKET, ENV_QUEUE_URLS) if not env.get(name)]
        if missing:
            raise MissingSettingError(
                f"environment variables not set: {', '.join(missing)} "
                "(the deployment templates and the local stack set them)"
            )
        try:
            queue_urls = json.loads(env[ENV_QUEUE_URLS])
        except ValueError as exc:
            raise MissingSettingError(f"{ENV_QUEUE_URLS} is not JSON: {exc}") from exc
        return cls(
            table=env[ENV_TABLE],
            bucket=env[ENV_BUCKET],
            queue_urls=queue_urls,
            config_path=env.get(ENV_CONFIG_PATH) or None,
            templates_dir=env.get(ENV_TEMPLATES_DIR) or None,
            chat_ws_url=env.get(ENV_CHAT_WS_URL, ""),
            chat_management_url=env.get(ENV_CHAT_MANAGEMENT_URL) or None,
            management_endpoint_from_env=bool(env.get(ENV_MANAGEMENT_ENDPOINT)),
            public_url_parameter=env.get(ENV_PUBLIC_URL_PARAMETER, ""),
            extra={k: v for k, v in env.items() if k.startswith("HELPLINE_")},
        )


@dataclass
class Components:
    config: Config
    store: TicketStore
    blobs: BlobStore
    publisher: RoutingPublisher
    renderer: TemplateRenderer
    detector: LanguageDetector
    senders: dict[Channel, Sender]
    intake: Intake
    tickets: TicketService
    chats: ChatStore
    pusher: ChatPusher
    secrets: SecretResolver
    public_url_parameter: str = ""  # where the stack keeps its REST API's public address

    def public_url(self) -> str:
        """The function's REST API as people reach it ("" when it has none); read once
        per container from the parameter its stack writes."""
        if not self.public_url_parameter:
            return ""
        return self.secrets.get(SecretRef("ssm", self.public_url_parameter)).rstrip("/")


def social_senders(config: Config, secrets: SecretResolver) -> dict[Channel, Sender]:
    """A sender for every platform the config turns on. Tokens are read from their
    secrets when a reply goes out (and cached), never at start."""
    from functions.core.channels.instagram import InstagramSender
    from functions.core.channels.messenger import MessengerSender
    from functions.core.channels.telegram import TelegramSender
    from functions.core.channels.whatsapp import WhatsAppSender
    from functions.core.channels.x import XSender

    social = config.social
    senders: dict[Channel, Sender] = {}

    def by_account(channel: Channel) -> Any:
        accounts = social.accounts(channel)

        def token(account: str) -> str:
            ref = accounts.get(account)
            if ref is None:
                raise LookupError(
                    f"no access token is configured for {channel.value} account {account}"
                )
            return secrets.get(ref)

        return token

    if social.meta is not None:
        meta = social.meta
        if meta.pages:
            senders[Channel.MESSENGER] = MessengerSender(
                base_url=meta.graph_base_url,
                version=meta.graph_version,
                token=by_account(Channel.MESSENGER),
            )
        if meta.instagram:
            senders[Channel.INSTAGRAM] = InstagramSender(
                base_url=meta.graph_base_url,
                version=meta.graph_version,
                token=by_account(Channel.INSTAGRAM),
            )
        if meta.whatsapp_numbers:
            senders[Channel.WHATSAPP] = WhatsAppSender(
                base_url=meta.graph_base_url,
                version=meta.graph_version,
                token=by_account(Channel.WHATSAPP),
            )
    if social.telegram is not None:
        telegram = social.telegram
        senders[Channel.TELEGRAM] = TelegramSender(
            base_url=telegram.base_url, token=lambda: secrets.get(telegram.bot_token)
        )
    if social.x is not None:
        x = social.x
        senders[Channel.X] = XSender(base_url=x.base_url, token=lambda: secrets.get(x.access_token))
    return senders


def survey_answers(components: Components) -> SurveyAnswers:
    """What chat_ws (widget ratings) and social_dm (tapped or typed scores) need of
    surveys: recording an answer, never sending a survey."""
    return SurveyAnswers(
        config=components.config,
        store=components.store,
        surveys_store=SurveyStore(
            components.store.table_name, client_factory=lambda: components.store.client
        ),
        publisher=components.publisher,
    )


def build(
    settings: Settings, *, clients: Mapping[str, Any] | None = None, config: Config | None = None
) -> Components:
    """Wire the intake. `clients` may supply boto3 clients by service name."""
    given = dict(clients or {})

    def factory(service: str) -> Any:
        return lambda: given.get(service) or aws.client(service)

    config = config or load_config(settings.config_path)
    store = TicketStore(settings.table, client_factory=factory("dynamodb"))
    blobs = BlobStore(settings.bucket, client_factory=factory("s3"))
    publisher = RoutingPublisher(settings.queue_urls, client_factory=factory("sqs"))
    renderer = TemplateRenderer(
        Path(settings.templates_dir) if settings.templates_dir else DEFAULT_TEMPLATES_DIR,
        default_locale=config.languages.default,
    )
    detector = LanguageDetector(
        config.languages.supported,
        config.languages.default,
        min_confidence=config.languages.min_confidence,
        min_length=config.languages.min_length,
    )
    senders: dict[Channel, Sender] = {
        Channel.EMAIL: EmailSender(
            from_name=config.brand.from_name, client_factory=factory("sesv2")
        ),
    }
    chats = ChatStore(settings.table, client_factory=factory("dynamodb"))
    pusher = ChatPusher(
        endpoint_url=None
        if settings.management_endpoint_from_env
        else settings.chat_management_url,
        client_factory=lambda url: (
            given.get("apigatewaymanagementapi")
            or aws.endpoint_client("apigatewaymanagementapi", url)
        ),
        on_gone=chats.delete_connection,
        learn_endpoint=not settings.management_endpoint_from_env,
    )
    tickets = TicketService(config=config, store=store, senders=senders, renderer=renderer)
    senders[Channel.CHAT] = ChatSender(
        store=store,
        chats=chats,
        pusher=pusher,
        agent_names={agent.email: agent.name for agent in config.agents},
        email_fallback=tickets.email_copy,
    )
    secrets = SecretResolver(
        client_factory=lambda service: given.get(service) or aws.client(service)
    )
    senders.update(social_senders(config, secrets))
    tickets.senders = dict(senders)
    intake = Intake(
        config=config,
        store=store,
        blobs=blobs,
        publisher=publisher,
        senders=senders,
        renderer=renderer,
        detector=detector,
    )
    return Components(
        config,
        store,
        blobs,
        publisher,
        renderer,
        detector,
        senders,
        intake,
        tickets,
        chats,
        pusher,
        secrets,
        settings.public_url_parameter,
    )
