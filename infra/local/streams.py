"""The ticket table's stream, polled for a function as Lambda's event source mapping does.

moto keeps a table's stream but runs no event source mappings, so the local stack reads
each shard and does what the mapping in the function's template says: only records its
FilterCriteria accept reach the function (the others are passed over, as in AWS), in
batches of its BatchSize, in Lambda's event shape. A batch's ReportBatchItemFailures
answer is honoured (retry from the first failed record); a function error retries the
batch, split in halves when BisectBatchOnFunctionError is on; after MaximumRetryAttempts
the on-failure destination (an SQS queue) gets Lambda's invocation record, which names
the shard and the sequence range but holds no records: `helpline replay` reads them
back from the stream.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra.local.event_filter import FilterCriteria
from infra.local.ses import LambdaContext

log = logging.getLogger("helpline.dev.streams")

Handler = Callable[[dict[str, Any], Any], Any]


class StreamPoller:
    def __init__(
        self,
        *,
        streams_client: Any,
        stream_arn: str,
        handler: Handler,
        sqs_client: Any,
        dlq_url: str | None,
        interval: float = 0.5,
        max_attempts: int = 3,
        region: str = "us-east-1",
        start_at: str = "LATEST",  # or TRIM_HORIZON: every record the stream still holds
        filters: FilterCriteria | None = None,
        batch_size: int = 100,
        bisect: bool = False,
        function_arn: str = "",
        retry_delay: float = 0.2,
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
        self.filters = filters or FilterCriteria.from_template(None)
        self.batch_size = batch_size
        self.bisect = bisect
        self.function_arn = function_arn
        self.retry_delay = retry_delay
        self._iterators: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.filtered = 0
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
        """Read each shard once and deliver what its filters let through; the number of
        records read (delivered or passed over)."""
        handled = 0
        for shard_id, iterator in list(self._iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator, Limit=100)
            self._iterators[shard_id] = response.get("NextShardIterator") or iterator
            records = [self._lambda_shape(r) for r in response.get("Records", [])]
            handled += len(records)
            accepted = [r for r in records if self.filters.accepts(r)]
            self.filtered += len(records) - len(accepted)
            for start in range(0, len(accepted), self.batch_size):
                self._deliver(shard_id, accepted[start : start + self.batch_size])
        return handled

    def _lambda_shape(self, record: dict[str, Any]) -> dict[str, Any]:
        shaped = dict(record)
        shaped.setdefault("eventSource", "aws:dynamodb")
        shaped["eventSourceARN"] = self.stream_arn
        shaped["awsRegion"] = self.region
        dynamodb = dict(shaped.get("dynamodb") or {})
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        elif not isinstance(created, int | float):
            dynamodb["ApproximateCreationDateTime"] = int(time.time())
        shaped["dynamodb"] = dynamodb
        return shaped

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        pending = records
        for attempt in range(1, self.max_attempts + 1):
            try:
                result = self.handler({"Records": pending}, LambdaContext("stream"))
                failures = (result or {}).get("batchItemFailures") or []
            except Exception as exc:
                log.warning("the function failed on a stream batch (try %d): %s", attempt, exc)
                if self.bisect and len(pending) > 1:
                    # Lambda splits a failing batch and retries each half on its own
                    half = len(pending) // 2
                    self._deliver(shard_id, pending[:half])
                    self._deliver(shard_id, pending[half:])
                    return
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
            time.sleep(min(self.retry_delay * attempt, 1.0))
        self._dead_letter(shard_id, pending)

    def _dead_letter(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        self.dead_lettered += len(records)
        log.error(
            "%d stream records failed every try; the on-failure destination has their range",
            len(records),
        )
        if not self.dlq_url:
            return
        sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
        arrivals = [
            datetime.fromtimestamp(r["dynamodb"]["ApproximateCreationDateTime"], UTC).isoformat()
            for r in records
        ]
        # what Lambda sends an on-failure destination for a stream: the batch's place in
        # the shard, never the records themselves
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {
                        "requestId": str(uuid.uuid4()),
                        "functionArn": self.function_arn,
                        "condition": "RetryAttemptsExhausted",
                        "approximateInvokeCount": self.max_attempts,
                    },
                    "responseContext": {
                        "statusCode": 200,
                        "executedVersion": "$LATEST",
                        "functionError": "Unhandled",
                    },
                    "version": "1.0",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "DDBStreamBatchInfo": {
                        "shardId": shard_id,
                        "startSequenceNumber": sequence[0],
                        "endSequenceNumber": sequence[-1],
                        "approximateArrivalOfFirstRecord": arrivals[0],
                        "approximateArrivalOfLastRecord": arrivals[-1],
                        "batchSize": len(records),
                        "streamArn": self.stream_arn,
                    },
                }
            ),
        )


def read_batch(streams_client: Any, batch: dict[str, Any], *, region: str) -> list[dict[str, Any]]:
    """The records of an on-failure destination's batch, read back from the stream (it
    keeps them 24 hours), in Lambda's shape."""
    iterator = streams_client.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    end = int(batch["endSequenceNumber"])
    found: list[dict[str, Any]] = []
    poller = StreamPoller(
        streams_client=streams_client,
        stream_arn=batch["streamArn"],
        handler=lambda event, context: None,
        sqs_client=None,
        dlq_url=None,
        region=region,
    )
    for _ in range(1000):  # bounded: a shard is read page by page until the range ends
        response = streams_client.get_records(ShardIterator=iterator, Limit=100)
        for record in response.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return found
            found.append(poller._lambda_shape(record))
        iterator = response.get("NextShardIterator")
        if not iterator or not response.get("Records"):
            break
    return found
