"""The local moto corrections keep DynamoDB's transaction semantics (infra/local/moto_patches.py)."""

from __future__ import annotations

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
