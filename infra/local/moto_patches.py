"""Corrections to moto, so local runs keep DynamoDB's guarantees and speed.

1. Atomic writes across threads. DynamoDB applies each conditional write and each
   transaction atomically; moto's backend takes no lock, so two threads (the local
   stack's workers, the concurrency tests) can both pass the same condition. Every write
   operation is serialized here.
2. Transactions in time proportional to what they touch. To be able to roll back, moto
   deep-copies the whole table once per item in every TransactWriteItems, so a commit
   costs ten copies of the entire table and slows down as tickets accumulate. Instead,
   moto's own transaction code runs unchanged with that copy made a no-op, while the
   items the transaction touches (and the table's stream length) are journaled first and
   restored if it is cancelled, which is what moto's rollback achieves.
3. Queries in time proportional to what they match. moto answers every Query, on the
   table or a global secondary index, by sorting the whole table and testing each item,
   so a load run of thousands of tickets spends its time sorting. Here a table query
   starts from its partition's items, and a GSI query from the items that carry its
   hash key value: each GSI's items are grouped by that value, and every write marks
   the key it wrote, so the groups are brought up to date before the next query reads
   them. moto's query code then runs unchanged on those candidates (all conditions,
   filters, order and pages are its own).
4. The server's per-request overhead: moto lists its own package directory on every
   request to find the backend (cached here, it does not change while running), and its
   werkzeug server speaks HTTP/1.0, so every boto3 call opened a new connection and a new
   thread; it now keeps connections alive, as AWS endpoints do. Stream records (already
   in their wire shape) are written as JSON directly rather than walked through moto's
   generic serializer, which cost more than the rest of a GetRecords call.
5. Sending to a queue in constant time. moto's SQS computes every queue attribute,
   counting each message held, whenever it reads one (SendMessage reads one), so a
   routing queue that nobody drains during a load run made each send slower than the
   last. Queue attributes are now computed when they are read, one by one.

`install()` is idempotent; the test fixtures and `helpline dev` call it.
"""

from __future__ import annotations

import copy as _copy
import datetime
import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

_installed = False
_lock = threading.RLock()


class _NoTableCopy:
    """Stands in for the `copy` module inside moto's DynamoDB backend during a transaction:
    tables are "copied" as themselves; everything else is copied as usual."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return _copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(_copy, name)


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        import moto.dynamodb.models as backend_module
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import DynamoType
        from moto.dynamodb.models.table import Table

        # BatchWriteItem's responses call put_item and delete_item one by one
        for name in ("put_item", "update_item", "delete_item"):
            original = getattr(DynamoDBBackend, name, None)
            if original is not None:
                setattr(DynamoDBBackend, name, _marks_written(original, DynamoType))
        for name in ("execute_statement", "execute_transaction", "batch_execute_statement"):
            original = getattr(DynamoDBBackend, name, None)
            if original is not None:  # PartiQL may write anything: groups are rebuilt
                setattr(DynamoDBBackend, name, _serialized(original, after=_forget_groups))

        original_transact = DynamoDBBackend.transact_write_items
        no_table_copy = _NoTableCopy(Table)

        @functools.wraps(original_transact)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            with _lock:
                journal = _journal(self, transact_items, DynamoType)
                real_copy = backend_module.copy
                backend_module.copy = no_table_copy  # type: ignore[assignment]
                try:
                    original_transact(self, transact_items)
                except BaseException:
                    _restore(journal)
                    raise
                finally:
                    backend_module.copy = real_copy

        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _index_queries(DynamoDBBackend, Table, DynamoType)
        _server_overhead()
        _lazy_queue_attributes()
        _installed = True


def _serialized(method: Any, *, after: Callable[[Any, dict[str, Any]], None]) -> Any:
    """`method` under the module lock, then `after(backend, arguments)` even if it failed
    (a write that raised midway may have changed items)."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            try:
                return method(self, *args, **kwargs)
            finally:
                after(self, signature.bind_partial(self, *args, **kwargs).arguments)

    return locked


def _journal(
    backend: Any, transact_items: list[dict[str, Any]], dynamo_type: type
) -> list[tuple[Any, ...]]:
    """The current state of every item the transaction may write, and stream lengths."""
    entries: list[tuple[Any, ...]] = []
    streams: dict[int, tuple[Any, int]] = {}
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            key = operation.get("Key") or operation.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = dynamo_type(key[table.hash_key_attr])
            range_value = (
                dynamo_type(key[table.range_key_attr]) if table.range_key_attr in key else None
            )
            current = (
                table.get_item(hash_value, range_value)
                if (range_value or not table.has_range_key)
                else None
            )
            entries.append(("item", table, hash_value, range_value, _copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
    for shard, length in streams.values():
        entries.append(("stream", shard, length))
    return entries


def _restore(journal: list[tuple[Any, ...]]) -> None:
    for entry in journal:
        if entry[0] == "stream":
            _, shard, length = entry
            del shard.items[length:]
            continue
        _, table, hash_value, range_value, previous = entry
        _mark(table, (hash_value, range_value))
        if range_value is not None:
            bucket = table.items[hash_value]
            if previous is None:
                bucket.pop(range_value, None)
            else:
                bucket[range_value] = previous
        elif previous is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = previous


# --- 3. queries from their candidates ------------------------------------------------

_GROUPS = "_helpline_gsi_groups"
_candidates = threading.local()


class _Groups:
    """One table's GSI items grouped by each index's hash key value, and the keys written
    since the groups were last brought up to date."""

    def __init__(self, table: Any) -> None:
        self.hash_attributes = _gsi_hash_attributes(table)
        self.groups: dict[str, dict[Any, dict[tuple[Any, Any], Any]]] = {
            name: {} for name in self.hash_attributes
        }
        self.placed: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.dirty: set[tuple[Any, Any]] = set()
        for bucket in table.items.values():
            for item in bucket.values() if table.range_key_attr else [bucket]:
                self._place((item.hash_key, item.range_key), item)

    def refresh(self, table: Any) -> None:
        for key in self.dirty:
            for name, value in self.placed.pop(key, {}).items():
                group = self.groups[name][value]
                group.pop(key, None)
                if not group:
                    del self.groups[name][value]
            item = _stored(table, key)
            if item is not None:
                self._place(key, item)
        self.dirty.clear()

    def _place(self, key: tuple[Any, Any], item: Any) -> None:
        placed = {}
        for name, attribute in self.hash_attributes.items():
            value = item.attrs.get(attribute)
            if value is not None:
                self.groups[name].setdefault(value, {})[key] = item
                placed[name] = value
        if placed:
            self.placed[key] = placed


def _gsi_hash_attributes(table: Any) -> dict[str, str]:
    """Index name -> its hash key attribute, for GSIs with a single-attribute hash key."""
    found = {}
    for index in table.global_indexes:
        hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        if len(hashes) == 1:
            found[index.name] = hashes[0]
    return found


def _stored(table: Any, key: tuple[Any, Any]) -> Any:
    hash_value, range_value = key
    bucket = table.items.get(hash_value)
    if bucket is None or not table.range_key_attr:
        return bucket
    return bucket.get(range_value)


def _mark(table: Any, key: tuple[Any, Any]) -> None:
    groups = table.__dict__.get(_GROUPS)
    if groups is not None:
        groups.dirty.add(key)


def _marks_written(method: Any, dynamo_type: type) -> Any:
    def mark_key(backend: Any, bound: dict[str, Any]) -> None:
        table = backend.tables.get(bound.get("table_name"))
        attributes = bound.get("item_attrs") or bound.get("key") or {}
        if table is not None and table.hash_key_attr in attributes:
            range_value = None
            if table.range_key_attr and table.range_key_attr in attributes:
                range_value = dynamo_type(attributes[table.range_key_attr])
            _mark(table, (dynamo_type(attributes[table.hash_key_attr]), range_value))

    return _serialized(method, after=mark_key)


def _forget_groups(backend: Any, bound: dict[str, Any]) -> None:
    for table in backend.tables.values():
        table.__dict__.pop(_GROUPS, None)


def _index_queries(backend_type: type, table_type: type, dynamo_type: type) -> None:
    original_query = table_type.query
    original_all_items = table_type.all_items
    signature = inspect.signature(original_query)

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            bound = signature.bind_partial(self, *args, **kwargs).arguments
            candidates = _query_candidates(
                self,
                bound.get("hash_key"),
                bound.get("index_name"),
                bound.get("hash_key_conditions"),
            )
            if candidates is None:
                return original_query(self, *args, **kwargs)
            chosen = _chosen_candidates()
            chosen[id(self)] = candidates
            try:
                return original_query(self, *args, **kwargs)
            finally:
                del chosen[id(self)]

    @functools.wraps(original_all_items)
    def all_items(self: Any) -> Any:
        candidates = _chosen_candidates().get(id(self))
        if candidates is not None:  # moto's query sorts what it keeps itself
            return candidates
        return original_all_items(self)

    table_type.query = query  # type: ignore[attr-defined]
    table_type.all_items = all_items  # type: ignore[attr-defined]


def _chosen_candidates() -> dict[int, list[Any]]:
    chosen = getattr(_candidates, "by_table", None)
    if chosen is None:
        chosen = _candidates.by_table = {}
    return chosen


def _query_candidates(
    table: Any, hash_key: Any, index_name: str | None, conditions: Any
) -> list[Any] | None:
    """The items a query can match, or None when moto must look at every item."""
    if not index_name:
        if hash_key is None:
            return None
        bucket = table.items.get(hash_key)
        if bucket is None:
            return []
        return list(bucket.values()) if table.range_key_attr else [bucket]
    groups = table.__dict__.get(_GROUPS)
    if groups is None or set(groups.hash_attributes) != set(_gsi_hash_attributes(table)):
        groups = _Groups(table)
        table.__dict__[_GROUPS] = groups
    attribute = groups.hash_attributes.get(index_name)
    if attribute is None:
        return None
    value = _hash_condition(attribute, hash_key, conditions)
    if value is None:
        return None
    groups.refresh(table)
    return list(groups.groups[index_name].get(value, {}).values())


def _hash_condition(attribute: str, hash_key: Any, conditions: Any) -> Any:
    for name, value in conditions or ():
        if name == attribute:
            return value
    return hash_key if not conditions else None


# --- 4. server overhead ----------------------------------------------------------------


def _server_overhead() -> None:
    from moto import backends
    from moto.server import MotoRequestHandler

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    MotoRequestHandler.protocol_version = "HTTP/1.1"

    from moto.core.utils import unix_time
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def wire_value(value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return unix_time(value)
        raise TypeError(f"{type(value).__name__} in a stream record")

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit")
        result = self.backend.get_records(
            self._get_param("ShardIterator"), 1000 if limit is None else limit
        )
        return json.dumps(result, default=wire_value)

    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign]


# --- 5. queue attributes when read -----------------------------------------------------


def _lazy_queue_attributes() -> None:
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs.models import Queue

    class QueueAttributes(Mapping[str, Any]):
        """What `Queue.attributes` returns, each value computed when it is read."""

        def __init__(self, queue: Any) -> None:
            self._queue = queue
            names = list(queue.BASE_ATTRIBUTES)
            if queue.fifo_queue:
                names += queue.FIFO_ATTRIBUTES
            if queue.kms_master_key_id:
                names += queue.KMS_ATTRIBUTES
            self._names = names

        def __getitem__(self, name: str) -> Any:
            if name not in self._names:
                raise KeyError(name)
            if name == "RedrivePolicy" and self._queue.redrive_policy:
                return json.dumps(self._queue.redrive_policy)
            value = getattr(self._queue, camelcase_to_underscores(name))
            return str(value).lower() if isinstance(value, bool) else value

        def __iter__(self) -> Iterator[str]:
            return iter(self._names)

        def __len__(self) -> int:
            return len(self._names)

    Queue.attributes = property(QueueAttributes)  # type: ignore[assignment,method-assign]
