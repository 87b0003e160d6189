"""Instagram direct messages: deliveries in, the Send API out.

A thin face on `meta`, which Instagram shares with Messenger: `normalize` reads
`{"object": "instagram", ...}` deliveries (the customer is `Identity("igsid", ...)`,
our account the Instagram professional account id; story replies and story mentions
are customer messages with `story_reply` / `story_mention` in `extra`), and
`InstagramSender` posts `/me/messages` with the account's token. Instagram has the
same windows as Messenger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from functions.core.channels.delivery import Delivery
from functions.core.channels.meta import GraphMessagingSender, normalize_graph
from functions.core.models import Channel

OBJECT = "instagram"


def normalize(
    raw: Mapping[str, Any], *, received_at: datetime, raw_ref: str | None = None, account: str = ""
) -> Delivery:
    return normalize_graph(
        raw, channel=Channel.INSTAGRAM, received_at=received_at, raw_ref=raw_ref, account=account
    )


class InstagramSender(GraphMessagingSender):
    channel = Channel.INSTAGRAM
    platform = "Instagram"
    max_text = 1000  # Instagram's limit is lower than Messenger's 2000
