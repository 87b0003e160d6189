"""20 own_loop: mail we sent, coming back to us.

A reply we sent to an address that forwards to our own mailbox would otherwise make a
ticket, which would be acknowledged, which would come back... Three signs: the sender is
one of our own addresses, an X-Loop header names one of them, or the Message-ID is one
we wrote (its intake record says outbound). "The sender" is the address the customer
would be identified by (`identify_customer.sender_identity`): with an empty From, the
Reply-To or Sender that would stand in for it, so our own address never becomes a
customer that we acknowledge.
"""

from __future__ import annotations

from email.utils import getaddresses
from typing import TYPE_CHECKING

from functions.core.filters.identify_customer import sender_identity
from functions.core.models import Channel, Direction
from functions.core.pipeline import Drop

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.pipeline import Context


def own_addresses(config: Config) -> frozenset[str]:
    """Our own mailboxes, lower-cased: never a customer, a participant or a recipient."""
    return frozenset(
        address.lower() for address in (*config.email.addresses, config.brand.support_address)
    )


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if message.channel is not Channel.EMAIL:
        return None
    ours = own_addresses(ctx.config)
    identity = sender_identity(message)
    if identity is not None and identity.value in ours:
        return Drop("own_loop", f"sent from our own address {identity.value}")
    named = {
        address.lower() for _, address in getaddresses(message.header_all("X-Loop")) if address
    }
    if named & ours:
        return Drop("own_loop", "X-Loop names our own address")
    record = ctx.snapshot.intake(message.channel, message.external_id)
    if record is not None and record.direction is Direction.OUTBOUND:
        return Drop("own_loop", "its Message-ID is one we sent")
    return None
