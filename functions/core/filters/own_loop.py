"""20 own_loop: mail we sent, coming back to us.

A reply we sent to an address that forwards to our own mailbox would otherwise make a
ticket, which would be acknowledged, which would come back... Three signs: the sender is
one of our own addresses, an X-Loop header names one of them, or the Message-ID is one
we wrote (its intake record says outbound).
"""

from __future__ import annotations

from email.utils import getaddresses
from typing import TYPE_CHECKING

from functions.core.models import Channel, Direction
from functions.core.pipeline import Drop

if TYPE_CHECKING:
    from functions.core.pipeline import Context


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if message.channel is not Channel.EMAIL:
        return None
    ours = {address.lower() for address in ctx.config.email.addresses}
    if message.sender is not None and message.sender.value in ours:
        return Drop("own_loop", f"sent from our own address {message.sender.value}")
    named = {
        address.lower() for _, address in getaddresses(message.header_all("X-Loop")) if address
    }
    if named & ours:
        return Drop("own_loop", "X-Loop names our own address")
    record = ctx.snapshot.intake(message.channel, message.external_id)
    if record is not None and record.direction is Direction.OUTBOUND:
        return Drop("own_loop", "its Message-ID is one we sent")
    return None
