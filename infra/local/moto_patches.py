"""Two corrections to moto's DynamoDB, so local runs keep DynamoDB's guarantees and speed.

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

`install()` is idempotent; the test fixtures and `helpline dev` call it.
"""

from __future__ import annotations

import copy as _copy
import functools
import threading
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

        for name in ("put_item", "update_item", "delete_item", "batch_write_item"):
            original = getattr(DynamoDBBackend, name, None)
            if original is not None:
                setattr(DynamoDBBackend, name, _serialized(original))

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
        _installed = True


def _serialized(method: Any) -> Any:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(self, *args, **kwargs)

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
