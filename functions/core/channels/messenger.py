"""Facebook Messenger: page deliveries in, the Send API out.

A thin face on `meta`, which Messenger shares with Instagram: `normalize` reads
`{"object": "page", ...}` deliveries (the customer is `Identity("psid", ...)`, our
account the page id) and `MessengerSender` posts `/me/messages` with the page's
access token. The messaging window (24 h, or the HUMAN_AGENT tag up to 7 days) is
decided by `windows.decide` and arrives in the message headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from functions.core.channels.delivery import Delivery
from functions.core.channels.meta import GraphMessagingSender, normalize_graph
from functions.core.models import Channel

OBJECT = "page"


def normalize(
    raw: Mapping[str, Any], *, received_at: datetime, raw_ref: str | None = None, account: str = ""
) -> Delivery:
    return normalize_graph(
        raw, channel=Channel.MESSENGER, received_at=received_at, raw_ref=raw_ref, account=account
    )


class MessengerSender(GraphMessagingSender):
    channel = Channel.MESSENGER
    platform = "Messenger"
    max_text = 2000
