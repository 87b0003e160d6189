"""A pytest plugin that records every AWS call the functions' code makes.

Loaded with `-p tests.deploy.record_calls` into a run of a function's functional
tests, it registers a botocore `before-parameter-build` hook on the shared session the
functions build their clients from (functions/core/aws.py), and records pushes to the
chat tests' fake Management API, which botocore never sees. Each call is written as a
JSON line to $HELPLINE_RECORD_CALLS with the test that made it.

Each call is attributed to the function whose own package (functions/<name>/, not
functions/core) is on the call stack, so a test that sets up with another function
(delivering a mail to have a ticket) charges that call to that function. Calls with
no function on the stack are the tests' own (creating the stack, reading a result
through a function's store or client) and are not recorded.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_FUNCTIONS = str(Path(__file__).resolve().parents[2] / "functions") + os.sep
_CORE = _FUNCTIONS + "core" + os.sep


def _calling_function() -> tuple[str, str] | None:
    """(the function package nearest the call on the stack, the file:line in functions/
    that made the call), if a function made it."""
    frame = sys._getframe(2)
    where = ""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_FUNCTIONS):
            where = where or f"{filename[len(_FUNCTIONS) - len('functions/') :]}:{frame.f_lineno}"
            if not filename.startswith(_CORE):
                via = f"{filename[len(_FUNCTIONS) - len('functions/') :]}:{frame.f_lineno}"
                name = filename[len(_FUNCTIONS) :].split(os.sep, 1)[0]
                return name, where if where == via else f"{where} via {via}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _reduced(params: dict[str, Any]) -> dict[str, Any]:
    """What the IAM mapping needs of a call's parameters, and nothing of the data."""
    kept: dict[str, Any] = {}
    for name in ("TableName", "IndexName", "Bucket", "Key", "QueueUrl", "Name", "SecretId"):
        if name in params:
            kept[name] = params[name]
    if "Content" in params:
        kept["Content"] = {kind: {} for kind in params["Content"]}
    if "TransactItems" in params:
        kept["TransactItems"] = [
            {kind: {"TableName": body.get("TableName", "")}}
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if "RequestItems" in params:
        kept["RequestItems"] = {name: {} for name in params["RequestItems"]}
    return kept


def _write(
    path: str, caller: tuple[str, str], service: str, operation: str, params: dict[str, Any]
) -> None:
    function, where = caller
    record = {
        "function": function,
        "where": where,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "service": service,
        "operation": operation,
        "params": _reduced(params),
    }
    with _lock, open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def pytest_configure(config: Any) -> None:
    path = os.environ.get("HELPLINE_RECORD_CALLS")
    if not path:
        return
    from functions.core import aws

    def before(model: Any, params: dict[str, Any], **_: Any) -> None:
        caller = _calling_function()
        if caller:
            _write(path, caller, model.service_model.service_name, model.name, params)

    aws.add_session_hook(lambda session: session.events.register("before-parameter-build", before))

    from tests.functional import chat_harness

    original = chat_harness.FakeManagementApi.post_to_connection

    def post_to_connection(self: Any, **kwargs: Any) -> dict[str, Any]:
        caller = _calling_function()
        if caller:
            _write(path, caller, "apigatewaymanagementapi", "PostToConnection", {})
        return original(self, **kwargs)

    chat_harness.FakeManagementApi.post_to_connection = post_to_connection  # type: ignore[method-assign]
