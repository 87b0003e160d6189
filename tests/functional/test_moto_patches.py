"""The local moto corrections keep DynamoDB's transaction semantics (infra/local/moto_patches.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError


def _put(table: str, pk: str, value: str, condition: str | None = None) -> dict:
    put = {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": "X"}, "v": {"S": value}}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(aws):
    dynamodb = aws.session.client("dynamodb")
    table = aws.resources.table
    dynamodb.put_item(
        TableName=table, Item={"PK": {"S": "A"}, "SK": {"S": "X"}, "v": {"S": "before"}}
    )
    streams = aws.session.client("dynamodbstreams")
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0][
        "ShardId"
    ]

    def stream_records() -> int:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        return len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])

    records_before = stream_records()
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                _put(table, "A", "changed"),  # applied first, must be rolled back
                _put(table, "B", "new"),  # new item, must disappear again
                _put(table, "C", "never", condition="attribute_exists(PK)"),  # fails
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    item = dynamodb.get_item(TableName=table, Key={"PK": {"S": "A"}, "SK": {"S": "X"}})["Item"]
    assert item["v"]["S"] == "before"
    assert "Item" not in dynamodb.get_item(
        TableName=table, Key={"PK": {"S": "B"}, "SK": {"S": "X"}}
    )
    assert stream_records() == records_before


def test_a_successful_transaction_writes_everything(aws):
    dynamodb = aws.session.client("dynamodb")
    table = aws.resources.table
    dynamodb.transact_write_items(TransactItems=[_put(table, "D", "1"), _put(table, "E", "2")])
    for pk in ("D", "E"):
        assert "Item" in dynamodb.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": "X"}})


# --- queries start from their candidates: same answers as looking at every item ------


def _index_answer(dynamodb, table: str, index: str, value: str) -> list[tuple[str, str]]:
    """Every page of a GSI query, as (PK, SK) in the order DynamoDB returns them."""
    keys, start = [], None
    while True:
        page = dynamodb.query(
            TableName=table,
            IndexName=index,
            KeyConditionExpression=f"{index}PK = :v" if index != "SlaDue" else "SlaShard = :v",
            ExpressionAttributeValues={":v": {"S": value}},
            Limit=3,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        keys += [(item["PK"]["S"], item["SK"]["S"]) for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return keys


def _scanned_answer(dynamodb, table: str, index: str, value: str) -> list[tuple[str, str]]:
    """The same answer from a Scan: the items carrying that hash value, in index order."""
    hash_name, range_name = (
        ("SlaShard", "SlaDue") if index == "SlaDue" else (f"{index}PK", f"{index}SK")
    )
    items = dynamodb.scan(TableName=table)["Items"]
    matching = [
        item for item in items if item.get(hash_name, {}).get("S") == value and range_name in item
    ]
    matching.sort(key=lambda item: (item[range_name]["S"], item["PK"]["S"], item["SK"]["S"]))
    return [(item["PK"]["S"], item["SK"]["S"]) for item in matching]


def test_index_and_table_queries_answer_as_a_full_scan_after_every_kind_of_write(aws):
    import random

    dynamodb = aws.session.client("dynamodb")
    table = aws.resources.table
    rng = random.Random(11)
    values = ["open#0", "open#1", "solved#0"]

    def item(pk: str, sk: str) -> dict:
        body = {"PK": {"S": pk}, "SK": {"S": sk}}
        for index in ("GSI1", "GSI2"):
            if rng.random() < 0.8:  # sparse: some items are not in an index at all
                body[f"{index}PK"] = {"S": rng.choice(values)}
                body[f"{index}SK"] = {"S": f"{rng.randrange(50):02d}"}
        return body

    keys = [(f"T#{n % 7}", f"M#{n}") for n in range(30)]
    for step in range(120):
        pk, sk = rng.choice(keys)
        kind = rng.choice(["put", "update", "remove", "delete", "transact", "cancelled"])
        key = {"PK": {"S": pk}, "SK": {"S": sk}}
        if kind == "put":
            dynamodb.put_item(TableName=table, Item=item(pk, sk))
        elif kind == "update":  # moves the item to another group of the index
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET GSI2PK = :v, GSI2SK = :s",
                ExpressionAttributeValues={
                    ":v": {"S": rng.choice(values)},
                    ":s": {"S": f"{step:03d}"},
                },
            )
        elif kind == "remove":  # takes it out of the index
            dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE GSI1PK")
        elif kind == "delete":
            dynamodb.delete_item(TableName=table, Key=key)
        else:
            other_pk, other_sk = rng.choice(keys)
            writes = [{"Put": {"TableName": table, "Item": item(pk, sk)}}]
            if (other_pk, other_sk) != (pk, sk):
                writes.append(
                    {
                        "Delete": {
                            "TableName": table,
                            "Key": {"PK": {"S": other_pk}, "SK": {"S": other_sk}},
                        }
                    }
                )
            if kind == "cancelled":
                writes.append(
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"PK": {"S": "never"}, "SK": {"S": "never"}},
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    }
                )
            try:
                dynamodb.transact_write_items(TransactItems=writes)
            except ClientError as error:
                assert kind == "cancelled", error
        if step % 10 == 9:
            for index in ("GSI1", "GSI2"):
                for value in values:
                    assert _index_answer(dynamodb, table, index, value) == _scanned_answer(
                        dynamodb, table, index, value
                    ), (step, index, value)
            for partition in {pk for pk, _ in keys}:
                got = dynamodb.query(
                    TableName=table,
                    KeyConditionExpression="PK = :p",
                    ExpressionAttributeValues={":p": {"S": partition}},
                )["Items"]
                scanned = sorted(
                    i["SK"]["S"]
                    for i in dynamodb.scan(TableName=table)["Items"]
                    if i["PK"]["S"] == partition
                )
                assert [i["SK"]["S"] for i in got] == scanned


# --- queue attributes computed when read; stream records written as JSON -------------


def test_queue_attributes_read_one_by_one_are_what_sqs_reports(aws):
    sqs = aws.session.client("sqs")
    dead = sqs.create_queue(QueueName="patch-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="patch-main",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3})
        },
    )["QueueUrl"]
    for n in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "4"
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == dead_arn
    assert "FifoQueue" not in attributes

    fifo = sqs.create_queue(
        QueueName="patch.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for _ in range(2):  # the same body twice: content-based deduplication keeps one
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    fifo_attributes = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert fifo_attributes["FifoQueue"] == "true"
    assert fifo_attributes["ContentBasedDeduplication"] == "true"
    assert fifo_attributes["ApproximateNumberOfMessages"] == "1"


def test_stream_records_carry_their_images_and_time(aws):
    dynamodb = aws.session.client("dynamodb")
    streams = aws.session.client("dynamodbstreams")
    table = aws.resources.table
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    dynamodb.put_item(TableName=table, Item={"PK": {"S": "S#1"}, "SK": {"S": "A"}, "n": {"N": "1"}})
    dynamodb.update_item(
        TableName=table,
        Key={"PK": {"S": "S#1"}, "SK": {"S": "A"}},
        UpdateExpression="SET n = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    page = streams.get_records(ShardIterator=iterator, Limit=10)
    records = page["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    created = records[0]["dynamodb"]["ApproximateCreationDateTime"]
    assert abs((datetime.now(UTC) - created).total_seconds()) < 300
    # the next iterator continues after what was read
    assert streams.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []
