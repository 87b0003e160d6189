"""Lambda's asynchronous invocation, for the local stack.

SNS invokes a function asynchronously: on an exception Lambda retries (twice by
default, after about a minute and then two), and after the last try it sends the event
to the function's dead-letter queue with RequestID, ErrorCode and ErrorMessage
attributes. This does the same with short delays, so a failure on a laptop ends
where it would in AWS: in the DLQ, ready for `helpline replay`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from infra.local.ses import LambdaContext

log = logging.getLogger("helpline.dev.invoker")


@dataclass
class InvocationRecord:
    request_id: str
    function: str
    attempts: int = 0
    result: Any = None
    error: str | None = None
    dead_lettered: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class AsyncInvoker:
    def __init__(
        self,
        function_name: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        dlq_url: str | None,
        sqs_client: Any,
        max_attempts: int = 3,
        retry_delays: tuple[float, ...] = (1.0, 2.0),
        workers: int = 4,
    ) -> None:
        self.function_name = function_name
        self.handler = handler
        self.dlq_url = dlq_url
        self.sqs = sqs_client
        self.max_attempts = max_attempts
        self.retry_delays = retry_delays
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=function_name)
        self._stopping = threading.Event()
        self.pending = 0
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> InvocationRecord:
        record = InvocationRecord(request_id=str(uuid.uuid4()), function=self.function_name)
        with self._lock:
            self.pending += 1
        future: Future[None] = self._pool.submit(self._run, event, record)
        future.add_done_callback(lambda _f: self._finished())
        return record

    def _finished(self) -> None:
        with self._lock:
            self.pending -= 1

    def _run(self, event: dict[str, Any], record: InvocationRecord) -> None:
        try:
            for attempt in range(1, self.max_attempts + 1):
                record.attempts = attempt
                try:
                    context = LambdaContext(self.function_name)
                    context.aws_request_id = record.request_id
                    record.result = self.handler(event, context)
                    record.error = None
                    return
                except Exception as exc:
                    # a packaged function's failure carries Lambda's errorType
                    record.error = f"{getattr(exc, 'error_type', type(exc).__name__)}: {exc}"
                    log.warning(
                        "%s attempt %d failed: %s", self.function_name, attempt, record.error
                    )
                    if attempt < self.max_attempts and not self._stopping.is_set():
                        time.sleep(self.retry_delays[min(attempt - 1, len(self.retry_delays) - 1)])
            self._dead_letter(event, record)
        finally:
            record.done.set()

    def _dead_letter(self, event: dict[str, Any], record: InvocationRecord) -> None:
        if not self.dlq_url:
            return
        error_code, _, error_message = (record.error or "Unhandled").partition(": ")
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": record.request_id},
                "ErrorCode": {"DataType": "String", "StringValue": error_code[:200] or "Unhandled"},
                "ErrorMessage": {"DataType": "String", "StringValue": error_message[:1000] or "-"},
            },
        )
        record.dead_lettered = True
        log.error(
            "%s gave up after %d attempts; the event is in the dead-letter queue",
            self.function_name,
            record.attempts,
        )

    def shutdown(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=False)
