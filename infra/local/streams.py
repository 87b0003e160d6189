"""The ticket table's stream, polled for the survey function, as Lambda's event
source mapping does in AWS.

moto keeps a table's stream but runs no event source mappings, so the local stack
reads each shard from LATEST, hands batches to the survey handler in Lambda's event
shape, and honours its ReportBatchItemFailures answer: a failed record (and those after
it in the shard) is retried, and after the configured tries sent to the stream's
dead-letter queue with where it came from, as an on-failure destination does.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from infra.local.ses import LambdaContext

log = logging.getLogger("helpline.dev.streams")


class StreamPoller:
    def __init__(
        self,
        *,
        streams_client: Any,
        stream_arn: str,
        handler: Callable[[dict[str, Any], Any], Any],
        sqs_client: Any,
        dlq_url: str | None,
        interval: float = 0.5,
        max_attempts: int = 3,
        region: str = "us-east-1",
        start_at: str = "LATEST",  # or TRIM_HORIZON: every record the stream still holds
    ) -> None:
        self.start_at = start_at
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.handler = handler
        self.sqs = sqs_client
        self.dlq_url = dlq_url
        self.interval = interval
        self.max_attempts = max_attempts
        self.region = region
        self._iterators: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.dead_lettered = 0

    def open(self) -> None:
        """Position on the stream's shards (start() does it; tests poll by hand)."""
        self._refresh_shards(initial=True)

    def start(self) -> None:
        self.open()
        self._thread = threading.Thread(target=self._loop, name="table-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _refresh_shards(self, *, initial: bool = False) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.start_at if initial else "TRIM_HORIZON",
                )["ShardIterator"]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("reading the table stream failed; trying again")

    def poll_once(self) -> int:
        handled = 0
        for shard_id, iterator in list(self._iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator, Limit=100)
            self._iterators[shard_id] = response.get("NextShardIterator") or iterator
            records = [self._lambda_shape(r) for r in response.get("Records", [])]
            if records:
                self._deliver(records)
                handled += len(records)
        return handled

    def _lambda_shape(self, record: dict[str, Any]) -> dict[str, Any]:
        shaped = dict(record)
        shaped.setdefault("eventSource", "aws:dynamodb")
        shaped["eventSourceARN"] = self.stream_arn
        shaped["awsRegion"] = self.region
        dynamodb = dict(shaped.get("dynamodb") or {})
        if "ApproximateCreationDateTime" in dynamodb and not isinstance(
            dynamodb["ApproximateCreationDateTime"], int | float
        ):
            dynamodb["ApproximateCreationDateTime"] = time.time()
        shaped["dynamodb"] = dynamodb
        return shaped

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        pending = records
        for attempt in range(1, self.max_attempts + 1):
            try:
                result = self.handler({"Records": pending}, LambdaContext("survey"))
                failures = (result or {}).get("batchItemFailures") or []
            except Exception:
                log.exception("the survey function failed on a stream batch (try %d)", attempt)
                failures = [{"itemIdentifier": pending[0]["dynamodb"]["SequenceNumber"]}]
            if not failures:
                self.delivered += len(pending)
                return
            first = failures[0]["itemIdentifier"]
            index = next(
                (i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] == first), 0
            )
            self.delivered += index
            pending = pending[index:]
            time.sleep(min(0.2 * attempt, 1.0))
        self._dead_letter(pending)

    def _dead_letter(self, records: list[dict[str, Any]]) -> None:
        self.dead_lettered += len(records)
        log.error(
            "%d stream records failed every try; they are in the dead-letter queue", len(records)
        )
        if not self.dlq_url:
            return
        sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {
                        "condition": "RetryAttemptsExhausted",
                        "approximateInvokeCount": self.max_attempts,
                    },
                    "DDBStreamBatchInfo": {
                        "streamArn": self.stream_arn,
                        "startSequenceNumber": sequence[0],
                        "endSequenceNumber": sequence[-1],
                        "batchSize": len(records),
                    },
                    "records": records,
                },
                default=str,
            ),
        )
