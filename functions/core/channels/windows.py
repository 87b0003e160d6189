"""Messaging windows: whether a reply may go out on a platform now, and how.

Meta's platforms only let a business write within a window opened by the customer's
last message:

* Messenger and Instagram: any reply within 24 h (`messaging_type` RESPONSE); after
  that only a person may answer, with the HUMAN_AGENT tag, until 7 days have passed.
  Automatic replies after 24 h, and anything after 7 days, are refused.
* WhatsApp: free text within 24 h; outside it only an approved template, which the
  config names (`social.meta.whatsapp.template`). Without one the reply is refused.
* Telegram and X have no window (mode "none"); email and chat neither.

A refused decision carries a plain-English reason, shown to the agent on the ticket
and in the CLI; nothing is dropped silently. `WindowDecision.headers` are the message
headers the platform sender reads to choose its mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.core.models import Channel

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
_META_THREADS = {Channel.MESSENGER: "Messenger", Channel.INSTAGRAM: "Instagram"}


@dataclass(frozen=True, slots=True)
class WindowDecision:
    allowed: bool
    # "response" | "human_agent" | "template" | "none"; when refused, the mode the
    # reply would have needed ("none": no mode could carry it)
    mode: str
    reason: str
    template: str | None = None  # WhatsApp, mode "template"
    template_language: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """What to put in `Message.headers` for the platform sender."""
        if not self.allowed:
            return {}
        if self.mode == "response":
            return {"messaging_type": "RESPONSE"}
        if self.mode == "human_agent":
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        if self.mode == "template" and self.template:
            return {
                "whatsapp_template": self.template,
                "whatsapp_template_language": self.template_language or "en",
            }
        return {}


def _ago(elapsed: timedelta) -> str:
    minutes = int(elapsed.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = elapsed.total_seconds() / 3600
    if hours < 48:
        whole = max(1, int(hours))
        return f"{whole} hour{'s' if whole != 1 else ''} ago"
    days = int(hours // 24)
    return f"{days} days ago"


def decide(
    channel: Channel,
    *,
    last_inbound_at: datetime | None,
    now: datetime,
    human: bool,
    whatsapp_template: str | None,
    whatsapp_template_language: str | None = None,
) -> WindowDecision:
    """May we write to this customer on `channel` now? `human`: an agent's reply."""
    if channel in _META_THREADS:
        return _meta(_META_THREADS[channel], last_inbound_at, now, human)
    if channel is Channel.WHATSAPP:
        return _whatsapp(last_inbound_at, now, whatsapp_template, whatsapp_template_language)
    return WindowDecision(True, "none", f"{channel.value} has no messaging window")


def _elapsed(last_inbound_at: datetime, now: datetime) -> timedelta:
    # a clock a little ahead of ours must not close a window that is open
    return max(timedelta(0), now - last_inbound_at)


def _meta(platform: str, last: datetime | None, now: datetime, human: bool) -> WindowDecision:
    if last is None:
        return WindowDecision(
            False,
            "none",
            f"The customer has not written to us on {platform}, and {platform} only lets a "
            "business reply to people who wrote first.",
        )
    elapsed = _elapsed(last, now)
    if elapsed < STANDARD_WINDOW:
        return WindowDecision(
            True, "response", f"The customer wrote {_ago(elapsed)}, within 24 hours."
        )
    if elapsed >= HUMAN_AGENT_WINDOW:
        return WindowDecision(
            False,
            "none",
            f"The customer last wrote {_ago(elapsed)}. {platform} allows no reply more than 7 days "
            "after the customer's last message; answer by another channel, or wait for them to "
            "write again.",
        )
    if not human:
        return WindowDecision(
            False,
            "human_agent",
            f"The customer last wrote {_ago(elapsed)}. After 24 hours {platform} only accepts "
            "replies written by a person (up to 7 days), so no automatic reply was sent.",
        )
    return WindowDecision(
        True,
        "human_agent",
        f"The customer last wrote {_ago(elapsed)}; sent with the HUMAN_AGENT tag, which "
        f"{platform} allows for a person's reply up to 7 days.",
    )


def _whatsapp(
    last: datetime | None, now: datetime, template: str | None, language: str | None
) -> WindowDecision:
    if last is not None and _elapsed(last, now) < STANDARD_WINDOW:
        return WindowDecision(
            True, "response", f"The customer wrote {_ago(_elapsed(last, now))}, within 24 hours."
        )
    when = (
        "has not written to us yet" if last is None else f"last wrote {_ago(_elapsed(last, now))}"
    )
    if template:
        return WindowDecision(
            True,
            "template",
            f"The customer {when}; outside the 24-hour window WhatsApp only delivers the "
            f"approved template {template!r}, which is sent instead of the text.",
            template=template,
            template_language=language,
        )
    return WindowDecision(
        False,
        "template",
        f"The customer {when}. Outside the 24-hour window WhatsApp only delivers an approved "
        "template, and none is configured (social.meta.whatsapp.template).",
    )
