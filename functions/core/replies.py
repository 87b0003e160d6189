"""Automatic replies: whether to answer at once, and what to say.

One policy for every inbound channel. A new ticket gets an acknowledgement in business
hours and an after-hours reply outside them (saying when the team is back). Nothing
automatic ever goes to an auto-responder, a bounce, an out-of-office notice, our own
mail, an address that bounced, or (by default) spam. The rate limits (one automatic
reply per customer and ticket per window, and a cap per hour) are enforced by the
store's conditional write in the same transaction as the ticket, so two concurrent
deliveries cannot both answer.

An automatic reply goes only to the address the customer is identified by: for email
the From address, never Reply-To (or Sender), which anyone can set to anyone. Every
automatic mail also counts against `email.automatic_per_hour`, for all customers
together, when it is sent (`AUTOMATIC_MAIL_CAPPED` is counted when that cap refuses one).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from functions.core.config import Replies
from functions.core.localize import format_local_datetime, locale_chain, text_direction
from functions.core.models import Channel, Identity, InboundMessage

# the EMF metric counted when `email.automatic_per_hour` refuses a mail (namespace
# Helpline, dimensions service and kind); infra/shared.yaml alarms on its sum
AUTOMATIC_MAIL_CAPPED = "AutomaticMail_capped"
CAPPED_REASON = "the automatic mail cap (email.automatic_per_hour) was reached"


@dataclass(frozen=True, slots=True)
class ReplyDecision:
    send: bool
    template: str | None  # acknowledgement | after_hours
    reason: str  # why it is sent or not, for the ticket's event log


@dataclass(frozen=True, slots=True)
class ReplySituation:
    is_new_ticket: bool
    in_hours: bool
    auto_response: str | None = None
    out_of_office: bool = False
    bounce: bool = False
    spam: bool = False
    undeliverable: bool = False
    channel_can_reply: bool = True
    # live chat: in business hours the queue position and the agent's arrival are the
    # acknowledgement; a canned "we received your message" would only be noise
    live_channel: bool = False


def decide_reply(settings: Replies, situation: ReplySituation) -> ReplyDecision:
    template = "acknowledgement" if situation.in_hours else "after_hours"
    if not settings.enabled:
        return ReplyDecision(False, None, "automatic replies are off")
    if not situation.channel_can_reply:
        return ReplyDecision(False, None, "the channel cannot be answered")
    if situation.bounce:
        return ReplyDecision(False, None, "bounce")
    if situation.out_of_office:
        return ReplyDecision(False, None, "out-of-office notice")
    if situation.auto_response:
        return ReplyDecision(False, None, f"auto-responder ({situation.auto_response})")
    if situation.undeliverable:
        return ReplyDecision(False, None, "the address bounced before")
    if situation.spam and not settings.to_spam:
        return ReplyDecision(False, None, "marked as spam")
    if situation.live_channel and situation.in_hours:
        return ReplyDecision(False, None, "live chat in business hours: the queue answers")
    if not situation.is_new_ticket:
        if settings.on_follow_up == "never":
            return ReplyDecision(False, None, "follow-up")
        if settings.on_follow_up == "after_hours" and situation.in_hours:
            return ReplyDecision(False, None, "follow-up in business hours")
    return ReplyDecision(True, template, "new ticket" if situation.is_new_ticket else "follow-up")


def automatic_reply_address(message: InboundMessage, identity: Identity) -> str | None:
    """Where an automatic reply to `message` may go, or None for nowhere.

    Email: the From address only. Reply-To and Sender are the writer's claims about
    someone else: an acknowledgement quoting a phishing subject would carry it from our
    address to whoever they name. Without a usable From there is no automatic reply
    (the customer is still identified by Reply-To, and an agent can answer). Other
    channels: the platform's id of the sender, which the platform vouches for."""
    if message.channel is Channel.EMAIL:
        return message.sender.value if message.sender is not None else None
    return identity.value


@dataclass(frozen=True, slots=True)
class RenderedReply:
    subject: str
    text: str
    html: str | None
    locale: str  # the locale whose template was used


class TemplateRenderer:
    """Renders `templates/<purpose>/<name>.<locale>.<ext>.j2`, falling back along the
    locale chain (pt-BR -> pt -> default). Jinja is imported on first use."""

    def __init__(self, directory: Path, *, default_locale: str = "en") -> None:
        self.directory = directory
        self.default_locale = default_locale
        self._env: Any = None
        self._lock = threading.Lock()

    def _environment(self) -> Any:
        with self._lock:
            if self._env is None:
                from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context

                env = Environment(
                    loader=FileSystemLoader(str(self.directory)),
                    autoescape=lambda name: bool(name and name.endswith(".html.j2")),
                    undefined=StrictUndefined,
                    trim_blocks=True,
                    lstrip_blocks=True,
                    keep_trailing_newline=False,
                )

                @pass_context
                def local_datetime(context: Any, moment: datetime | None) -> str:
                    if moment is None:
                        return ""
                    return format_local_datetime(moment, context["locale"], tz=context.get("_tz"))

                env.filters["local_datetime"] = local_datetime
                self._env = env
            return self._env

    def resolve_locale(self, purpose: str, name: str, locale: str | None) -> str:
        for candidate in locale_chain(locale, self.default_locale):
            if (self.directory / purpose / f"{name}.{candidate}.txt.j2").is_file():
                return candidate
        raise FileNotFoundError(
            f"no template {purpose}/{name} for {locale!r} or {self.default_locale!r}"
        )

    def render(
        self,
        purpose: str,
        name: str,
        locale: str | None,
        variables: Mapping[str, Any],
        *,
        tz: ZoneInfo | None = None,
    ) -> RenderedReply:
        env = self._environment()
        chosen = self.resolve_locale(purpose, name, locale)
        context = {
            **variables,
            "locale": chosen,
            "direction": text_direction(chosen),
            "_tz": tz,
        }
        base = f"{purpose}/{name}.{chosen}"
        subject = env.get_template(f"{base}.subject.j2").render(context)
        text = env.get_template(f"{base}.txt.j2").render(context)
        html = None
        if (self.directory / purpose / f"{name}.{chosen}.html.j2").is_file():
            html = env.get_template(f"{base}.html.j2").render(context)
        return RenderedReply(" ".join(subject.split()), text.strip() + "\n", html, chosen)
