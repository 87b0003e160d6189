"""70 identify_customer: who wrote this, as one customer across channels.

The sender's identity (From for email), falling back to Reply-To and Sender when From
is missing or broken (`sender_identity`, the same address the own-loop check looked at).
A known identity leads to its customer (following a merge); an unknown one becomes a
new customer. With no usable identity at all the message cannot be answered or
threaded, so it is quarantined with that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.ids import stable_id
from functions.core.models import Customer, Identity, InboundMessage
from functions.core.pipeline import Drop

if TYPE_CHECKING:
    from functions.core.pipeline import Context


def customer_id_for(identity: Identity) -> str:
    """A new customer's id, derived from the identity that first reached us, so the
    intake can fetch a likely profile in the same batch as the identity record."""
    return "C" + stable_id(identity.kind, identity.value, length=12)


def sender_identity(message: InboundMessage) -> Identity | None:
    """The identity the customer is identified by: From, else Reply-To, else Sender.

    The own-loop filter checks this very address, so a mail with an empty From and our
    own address in Sender is a loop, never a ticket whose customer is us."""
    if message.sender is not None:
        return message.sender
    return message.alternates[0] if message.alternates else None


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    identity = sender_identity(message)
    if identity is None:
        return Drop("no_sender", "no usable sender address (From, Reply-To or Sender)")
    bounce = ctx.findings.bounce
    if bounce is not None and ctx.findings.ticket is not None:
        # a delivery report is about the ticket's customer, not from a new one
        ctx.findings.identity = identity
        owner = ctx.customer(ctx.findings.ticket.customer_id)
        if owner is not None:
            ctx.findings.customer, ctx.findings.customer_version = owner
            return None
    if message.sender is None:
        ctx.findings.note("identify.fallback", {"identity": identity.kind})
    ctx.findings.identity = identity
    customer_id = ctx.snapshot.customer_id_for(identity)
    if customer_id is not None:
        found = ctx.customer(customer_id)
        if found is not None:
            customer, version = found
            # follow merges: a merged customer points at the one that absorbed it
            hops = 0
            while customer.merged_into and hops < 5:
                merged = ctx.customer(customer.merged_into)
                if merged is None:
                    break
                customer, version = merged
                hops += 1
            ctx.findings.customer = customer
            ctx.findings.customer_version = version
            return None
    ctx.findings.customer = Customer(
        id=customer_id or customer_id_for(identity),
        name=message.sender_name,
        identities=[identity],
        created_at=ctx.now,
    )
    ctx.findings.customer_version = None
    return None
