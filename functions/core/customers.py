"""What admins do to customers: merge two, export everything about one, erase one.

- merge: a person who wrote by email and by Instagram is one customer. The second
  customer's identities move to the first (each with a condition on its old owner),
  its tickets follow with their version checks, and it keeps a `merged_into` pointer
  so anything that still names it is led to the first.
- export: every item stored about a customer (profile, identities, tickets with their
  messages and events, thread and dedupe records, chat sessions, surveys and answers)
  and the S3 objects those items point at (raw mail, attachments), as one JSON
  document. Nothing is found by scanning: keys and indexes lead to each item.
- erase: the same items and objects are deleted. Report counters are aggregates with
  no personal data and stay. Afterwards the export is empty.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from functions.core.blobs import BlobStore, MissingObjectError, ObjectRef
from functions.core.errors import NotFoundError, RejectedInput
from functions.core.models import Customer, TicketEvent
from functions.core.store import (
    PutCustomer,
    PutEvents,
    PutTicket,
    RepointIdentity,
    TicketStore,
    TransactionConflict,
)
from functions.core.timeutil import Clock, to_iso, utcnow

log = logging.getLogger("helpline.customers")

MAX_EXPORTED_OBJECT_BYTES = 10 * 1024 * 1024  # larger objects are listed, not inlined


@dataclass
class MergeResult:
    kept: str
    merged: str
    identities: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    already: bool = False


@dataclass
class EraseResult:
    customer_id: str
    items: int = 0
    objects: int = 0
    tickets: list[str] = field(default_factory=list)


class CustomerService:
    def __init__(
        self, *, store: TicketStore, blobs: BlobStore | None, clock: Clock = utcnow
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.clock = clock

    def _customer(self, customer_id: str) -> tuple[Customer, int]:
        found = self.store.get_customer(customer_id)
        if found is None:
            raise NotFoundError(f"no customer {customer_id}")
        return found

    # -- merge -------------------------------------------------------------------------------

    def merge(self, keep_id: str, gone_id: str, *, actor: str = "admin") -> MergeResult:
        if keep_id == gone_id:
            raise RejectedInput("same_customer", "a customer cannot be merged into itself")
        for _ in range(5):
            keep, keep_version = self._customer(keep_id)
            gone, gone_version = self._customer(gone_id)
            if keep.merged_into:
                raise RejectedInput(
                    "already_merged",
                    f"{keep_id} was itself merged into {keep.merged_into}; merge into that one",
                )
            if gone.merged_into == keep_id:
                result = MergeResult(keep_id, gone_id, already=True)
                result.tickets = self._move_tickets(gone_id, keep_id, actor)
                return result
            if gone.merged_into:
                raise RejectedInput(
                    "already_merged", f"{gone_id} was already merged into {gone.merged_into}"
                )
            moved = [i for i in gone.identities if i not in keep.identities]
            kept = replace(
                keep,
                identities=[*keep.identities, *moved],
                tags=sorted({*keep.tags, *gone.tags}),
                name=keep.name or gone.name,
                undeliverable=sorted({*keep.undeliverable, *gone.undeliverable}),
                merged_from=[*keep.merged_from, gone_id],
            )
            merged = replace(gone, merged_into=keep_id)
            try:
                self.store.transact(
                    [
                        PutCustomer(kept, keep_version),
                        PutCustomer(merged, gone_version),
                        *(RepointIdentity(i, gone_id, keep_id) for i in gone.identities),
                    ]
                )
            except TransactionConflict:
                continue  # one of them changed: read both again
            result = MergeResult(keep_id, gone_id, identities=[str(i) for i in gone.identities])
            result.tickets = self._move_tickets(gone_id, keep_id, actor)
            return result
        raise RuntimeError("the customers kept changing during the merge; try again")

    def _move_tickets(self, gone_id: str, keep_id: str, actor: str) -> list[str]:
        moved = []
        for ticket in self.store.customer_tickets(gone_id, limit=10_000):
            for _ in range(5):
                current = self.store.get_ticket(ticket.id)
                if current is None or current.customer_id != gone_id:
                    break
                changed = replace(current, customer_id=keep_id, tags=list(current.tags))
                event = TicketEvent(
                    ticket.id,
                    self.clock(),
                    "customer_merged",
                    {"from": gone_id, "into": keep_id},
                    actor=actor,
                )
                try:
                    self.store.transact([PutTicket(changed, current.version), PutEvents((event,))])
                except TransactionConflict:
                    continue
                moved.append(ticket.id)
                break
        return moved

    # -- export ---------------------------------------------------------------------------------

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything stored about the customer; an empty export when there is nothing."""
        data = self.store.customer_data(customer_id)
        objects = []
        for uri in data.s3_refs():
            objects.append(self._object(uri))
        return {
            "customer_id": customer_id,
            "exported_at": to_iso(self.clock()),
            "found": bool(data.all_items()),
            "records": [_plain(item) for item in data.items],
            "tickets": {
                ticket_id: [_plain(i) for i in items] for ticket_id, items in data.tickets.items()
            },
            "objects": objects,
        }

    def _object(self, uri: str) -> dict[str, Any]:
        ref = self._ref(uri)
        entry: dict[str, Any] = {"uri": uri}
        if self.blobs is None or ref is None:
            return entry
        try:
            data = self.blobs.get(ref)
        except MissingObjectError:
            entry["missing"] = True
            return entry
        entry["size"] = len(data)
        if len(data) <= MAX_EXPORTED_OBJECT_BYTES:
            entry["base64"] = base64.b64encode(data).decode("ascii")
        return entry

    def _ref(self, uri: str) -> ObjectRef | None:
        if uri.startswith("s3://"):
            return ObjectRef.parse(uri)
        if self.blobs is not None:  # attachment and body keys are kept without the bucket
            return ObjectRef(self.blobs.bucket, uri)
        return None

    # -- erase --------------------------------------------------------------------------------------

    def erase(self, customer_id: str) -> EraseResult:
        """Everything stored about the customer (and the profiles merged into theirs),
        and nothing of anyone else: a kept platform delivery that also carries other
        customers' messages is rewritten without theirs instead of deleted."""
        data = self.store.customer_data(customer_id)
        result = EraseResult(customer_id, tickets=sorted(data.tickets))
        if self.blobs is not None:
            for uri in data.s3_refs():
                ref = self._ref(uri)
                if ref is None:
                    continue
                if ref.key.startswith(SOCIAL_RAW_PREFIX):
                    result.objects += self._without(ref, data.platform_ids)
                else:
                    self.blobs.delete(ref)
                    result.objects += 1
        result.items = self.store.delete_items(data.all_items())
        log.info(
            "erased customer %s: %d items, %d objects", customer_id, result.items, result.objects
        )
        return result

    def _without(self, ref: ObjectRef, ids: set[str]) -> int:
        """A kept delivery without the customer's events: rewritten, or deleted when
        nothing of anyone else is in it. 1 when it changed."""
        import json

        from functions.core.channels.erasure import without

        assert self.blobs is not None
        try:
            payload = json.loads(self.blobs.get(ref))
        except MissingObjectError:
            return 0
        except ValueError:  # not JSON: nothing else can be told apart in it
            self.blobs.delete(ref)
            return 1
        platform = ref.key[len(SOCIAL_RAW_PREFIX) :].split("/", 1)[0]
        rest = without(platform, payload, ids)
        if rest is None:
            self.blobs.delete(ref)
        elif rest != payload:
            self.blobs.put(
                ref.key,
                json.dumps(rest, ensure_ascii=False).encode("utf-8"),
                content_type="application/json",
            )
        else:
            return 0
        return 1


SOCIAL_RAW_PREFIX = "social/raw/"  # the social_dm function keeps deliveries there


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item without the index attributes, which are how it is found, not what it says."""
    hidden = {"GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "SlaShard", "SlaDue"}
    return {k: v for k, v in item.items() if k not in hidden}
