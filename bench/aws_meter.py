"""Counting what a handler costs in AWS terms: API calls and DynamoDB write units.

Calls are counted with botocore's `before-parameter-build` event (once per API call) on every client the functions
use. Write units are computed from the items written, by DynamoDB's published rules,
because moto reports no consumed capacity for transactions: a standard write costs
ceil(size / 1 KB) units, a transactional write twice that, and every global secondary
index an item appears in costs another write of the item's projected size (ALL here).
Item size is the sum of attribute name lengths and value sizes (UTF-8 strings; numbers
about 1 byte per two digits plus 1; 3 bytes of overhead per list or map plus 1 per
element), as the DynamoDB developer guide describes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

GSI_KEYS = (("GSI1PK", "GSI1SK"), ("GSI2PK", "GSI2SK"), ("SlaShard", "SlaDue"))


def attribute_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = len(inner.replace("-", "").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(math.ceil(len(n) / 2) + 1 for n in inner)
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def write_units(item: dict[str, Any], *, transactional: bool) -> int:
    units = math.ceil(max(item_size(item), 1) / 1024)
    total = units * (2 if transactional else 1)
    for keys in GSI_KEYS:
        if all(k in item for k in keys):
            total += units
    return total


@dataclass
class Meter:
    calls: Counter[str] = field(default_factory=Counter)
    write_units: int = 0
    _pending_updates: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)

    def attach(self, clients: Iterable[Any]) -> None:
        for client in clients:
            client.meta.events.register("before-parameter-build", self._before_call)

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        self.calls[f"{service}.{model.name}"] += 1
        if service != "dynamodb":
            return
        if model.name == "PutItem":
            self.write_units += write_units(params["Item"], transactional=False)
        elif model.name == "UpdateItem":
            self._pending_updates.append((params["TableName"], params["Key"], False))
        elif model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    self.write_units += write_units(entry["Put"]["Item"], transactional=True)
                elif "Update" in entry:
                    self._pending_updates.append(
                        (entry["Update"]["TableName"], entry["Update"]["Key"], True)
                    )

    def settle(self, reader: Any) -> None:
        """Price updates by the item they produced (read with an unmetered client)."""
        for table, key, transactional in self._pending_updates:
            item = reader.get_item(TableName=table, Key=key).get("Item") or key
            self.write_units += write_units(item, transactional=transactional)
        self._pending_updates.clear()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.write_units = 0
        self._pending_updates.clear()
