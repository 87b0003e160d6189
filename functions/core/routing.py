"""Routing: which team's queue a ticket goes to, and the message put on that queue.

Rules from the config are tried in order; the first rule that names a team decides the
team, and every matching rule may raise the priority and add tags. With no team from a
rule, the team that speaks the ticket's language takes it, else the default team.

The queue message is a versioned JSON document (docs/routing-message.md, schema in
docs/schemas/routing-message.v1.json). Consumers must treat `message_id` as an
idempotency key: a message is published at least once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.core.config import Config, RoutingRule
from functions.core.errors import HelplineError
from functions.core.models import Channel
from functions.core.timeutil import to_iso

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SCHEMA = "helpline.routing/v1"
_PRIORITY_ORDER = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    team: str
    priority: str
    tags: tuple[str, ...]
    rules: tuple[str, ...]  # names of the rules that matched, for the event log
    reason: str  # "rule", "language" or "default"


_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@functools.lru_cache(maxsize=1024)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A keyword matched from the start of a word: "site down" must not match "website
    downtime", but "outage" matches "outages" and "متوقف" matches "متوقفة" (endings
    inflect). Scripts written without spaces (Thai, Japanese, Chinese) get no boundary."""

    def spaced(char: str) -> bool:
        return char.isalnum() and not _UNSPACED.match(char)

    start = r"(?<!\w)" if keyword and spaced(keyword[0]) else ""
    return re.compile(start + re.escape(keyword))


def _rule_matches(
    rule: RoutingRule,
    *,
    language: str | None,
    channel: Channel,
    haystack: str,
    customer_tags: Sequence[str],
) -> bool:
    when = rule.when
    if when.languages and (language or "") not in when.languages:
        base = (language or "").split("-")[0]
        if base not in when.languages:
            return False
    if when.channels and channel not in when.channels:
        return False
    if when.keywords and not any(_keyword_pattern(k).search(haystack) for k in when.keywords):
        return False
    return not (when.customer_tags and not set(when.customer_tags) & set(customer_tags))


def decide_route(
    config: Config,
    *,
    language: str | None,
    channel: Channel,
    subject: str,
    text: str,
    customer_tags: Sequence[str] = (),
    current_priority: str = "normal",
) -> RouteDecision:
    haystack = f"{subject}\n{text[:20000]}".lower()
    team: str | None = None
    priority = current_priority if current_priority in _PRIORITY_ORDER else "normal"
    tags: list[str] = []
    matched: list[str] = []
    for rule in config.routing.rules:
        if not _rule_matches(
            rule, language=language, channel=channel, haystack=haystack, customer_tags=customer_tags
        ):
            continue
        matched.append(rule.name)
        if team is None and rule.team is not None:
            team = rule.team
        if rule.priority and _PRIORITY_ORDER.index(rule.priority) > _PRIORITY_ORDER.index(priority):
            priority = rule.priority
        tags.extend(t for t in rule.tags if t not in tags)
    if team is not None:
        reason = "rule"
    else:
        speaking = config.team_for_language(language)
        if speaking is not None:
            team, reason = speaking.id, "language"
        else:
            team, reason = config.routing.default_team, "default"
    return RouteDecision(team, priority, tuple(tags), tuple(matched), reason)


def routing_message(
    *,
    event: str,
    message_id: str,
    ticket_id: str,
    team: str,
    queue: str,
    priority: str,
    language: str | None,
    channel: Channel,
    subject: str,
    preview: str,
    customer_id: str,
    customer_name: str,
    status: str,
    at: datetime,
    tags: Sequence[str] = (),
    after_hours: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The v1 routing message. `event` is new_ticket, customer_reply or delivery_failed."""
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "event": event,
        "message_id": message_id,
        "ticket_id": ticket_id,
        "team": team,
        "queue": queue,
        "priority": priority,
        "language": language,
        "channel": channel.value,
        "subject": subject[:300],
        "preview": preview[:500],
        "customer": {"id": customer_id, "name": customer_name[:200]},
        "status": status,
        "tags": list(tags),
        "after_hours": after_hours,
        "at": to_iso(at),
    }
    if extra:
        body["extra"] = dict(extra)
    return body


class QueueNotConfiguredError(HelplineError):
    pass


class RoutingPublisher:
    """Sends routing messages to the team queues (SQS). Client injected or built lazily."""

    def __init__(
        self,
        queue_urls: Mapping[str, str],
        client: SQSClient | None = None,
        *,
        client_factory: Callable[[], SQSClient] | None = None,
    ) -> None:
        self.queue_urls = dict(queue_urls)
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3

                self._client = boto3.client("sqs")
        return self._client

    def url_for(self, queue: str) -> str:
        try:
            return self.queue_urls[queue]
        except KeyError:
            known = ", ".join(sorted(self.queue_urls)) or "none"
            raise QueueNotConfiguredError(
                f"no queue URL for {queue!r} (configured: {known}); see infra/shared.yaml"
            ) from None

    def publish(self, body: Mapping[str, Any]) -> str:
        response = self.client.send_message(
            QueueUrl=self.url_for(str(body["queue"])),
            MessageBody=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            MessageAttributes={
                "schema": {"DataType": "String", "StringValue": str(body["schema"])},
                "event": {"DataType": "String", "StringValue": str(body["event"])},
                "priority": {"DataType": "String", "StringValue": str(body["priority"])},
            },
        )
        return response["MessageId"]
