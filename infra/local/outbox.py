"""Everything the local stack sent, read from where it went (moto's SES)."""

from __future__ import annotations

import email
import threading
from email.policy import default as default_policy
from typing import Any

from functions.core.html import html_to_text

REGION = "us-east-1"


class Outbox:
    """A view of moto's SES backend in this process (the dev stack runs moto here)."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self._lock = threading.Lock()
        self._parsed: dict[str, dict[str, Any]] = {}
        self.extra_sources: list[Any] = []  # later channels add their fake platforms here

    def _ses_messages(self) -> list[Any]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages)

    def entries(self) -> list[dict[str, Any]]:
        result = []
        with self._lock:
            for sent in self._ses_messages():
                if sent.id not in self._parsed:
                    self._parsed[sent.id] = self._describe_ses(sent)
                result.append(self._parsed[sent.id])
            for source in self.extra_sources:
                for entry in source.entries():
                    # one order across SES and the fake platforms: when first seen here
                    if entry["id"] not in self._parsed:
                        self._parsed[entry["id"]] = {**entry, "seq": len(self._parsed)}
                    result.append(self._parsed[entry["id"]])
        result.sort(key=lambda entry: entry.get("seq", 0))
        return result

    def _describe_ses(self, sent: Any) -> dict[str, Any]:
        raw = getattr(sent, "raw_data", None)
        seq = len(self._parsed)
        if raw is None:  # a simple (non-raw) send
            return {
                "seq": seq,
                "channel": "email",
                "id": sent.id,
                "from": sent.source,
                "to": list(getattr(sent, "destinations", {}).get("ToAddresses", [])),
                "subject": getattr(sent, "subject", ""),
                "headers": {},
                "text": getattr(sent, "body", ""),
                "html": None,
            }
        message = email.message_from_string(raw, policy=default_policy)
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        html = html_part.get_content() if html_part is not None else None
        text = text_part.get_content() if text_part is not None else html_to_text(html or "")
        return {
            "seq": seq,
            "channel": "email",
            "id": sent.id,
            "from": str(message.get("From", "")),
            "to": list(dict.fromkeys(str(d) for d in sent.destinations)),
            "subject": str(message.get("Subject", "")),
            "headers": {name: str(value) for name, value in message.items()},
            "text": text,
            "html": html,
        }
