"""Injected AWS faults, for the local stack and the tests.

`FaultInjector` makes chosen operations fail the way AWS fails them (a throttling
error, a 5xx, a timeout) a set number of times, through botocore's `before-call`
event: the request never leaves the process, and the caller sees exactly the exception
boto3 would raise. `helpline dev --fault dynamodb.TransactWriteItems=3` uses it to show
what happens to a customer's mail when DynamoDB throttles.

In the local stack every function runs in processes of its own, so "the first three
calls" is counted across them: `SharedCounter` keeps the count in a file under an
exclusive lock. The module imports only the standard library and botocore: it is loaded
inside the Lambda worker processes, which have nothing else.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

KINDS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "dynamodb-throttle": (
        400,
        "ProvisionedThroughputExceededException",
        "Throughput exceeds the limit",
    ),
    "server": (500, "InternalServerError", "Internal server error"),
    "unavailable": (503, "ServiceUnavailable", "Service unavailable"),
}


@dataclass
class Fault:
    operation: str  # "dynamodb.TransactWriteItems"
    times: int = 1
    kind: str = "throttle"  # one of KINDS, or "timeout"


class SharedCounter:
    """How many times each fault fired, in a file shared by processes."""

    def __init__(self, path: str) -> None:
        self.path = path

    def claim(self, operation: str, limit: int) -> bool:
        """Count one firing of `operation` if fewer than `limit` happened; True if so."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "r+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            text = file.read()
            counts: dict[str, int] = json.loads(text) if text.strip() else {}
            if counts.get(operation, 0) >= limit:
                return False
            counts[operation] = counts.get(operation, 0) + 1
            file.seek(0)
            file.truncate()
            file.write(json.dumps(counts))
            return True


@dataclass
class FaultInjector:
    faults: list[Fault] = field(default_factory=list)
    fired: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # across processes (the local stack's workers); None: this process's count alone
    claim: Callable[[str, int], bool] | None = None

    @classmethod
    def parse(cls, specs: list[str]) -> FaultInjector:
        """`service.Operation=N[:kind]`, e.g. `dynamodb.TransactWriteItems=3:dynamodb-throttle`."""
        faults = []
        for spec in specs:
            operation, _, rest = spec.partition("=")
            count, _, kind = (rest or "1").partition(":")
            if (
                "." not in operation
                or not count.isdigit()
                or (kind and kind not in {*KINDS, "timeout"})
            ):
                raise ValueError(
                    f"bad fault {spec!r}: use service.Operation=N[:kind], kinds: {', '.join([*KINDS, 'timeout'])}"
                )
            faults.append(Fault(operation, int(count), kind or _default_kind(operation)))
        return cls(faults)

    def install(self, session: Any) -> None:
        session.events.register("before-call", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> Any:
        return self.fault_for(f"{model.service_model.service_name}.{model.name}")

    def fault_for(self, operation: str) -> Any:
        """None, or what botocore's before-call hook returns to fail this call."""
        with self._lock:
            self.calls[operation] += 1
            fault = next(
                (
                    f
                    for f in self.faults
                    if f.operation == operation
                    and (
                        self.claim(operation, f.times)
                        if self.claim is not None
                        else self.fired[operation] < f.times
                    )
                ),
                None,
            )
            if fault is None:
                return None
            self.fired[operation] += 1
        if fault.kind == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://{operation}.injected")
        status, code, message = KINDS[fault.kind]
        headers: Any = {}
        response = AWSResponse(f"https://{operation}.injected", status, headers, None)
        parsed = {
            "Error": {"Code": code, "Message": f"{message} (injected)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return response, parsed


def _default_kind(operation: str) -> str:
    return "dynamodb-throttle" if operation.startswith("dynamodb.") else "throttle"
