"""The resources built from infra/shared.yaml by moto's CloudFormation."""

from __future__ import annotations


def test_table_has_every_index_the_store_queries_stream_and_ttl(aws):
    dynamodb = aws.session.client("dynamodb")
    table = dynamodb.describe_table(TableName=aws.resources.table)["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2", "SlaDue"}
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    ttl = dynamodb.describe_time_to_live(TableName=aws.resources.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_routing_queues_redrive_to_their_dead_letter_queues(aws):
    sqs = aws.session.client("sqs")
    assert set(aws.resources.queue_urls) == {
        "english",
        "spanish",
        "russian",
        "arabic",
        "escalation",
    }
    for team, url in aws.resources.queue_urls.items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]
        assert f"{team}-dlq" in attributes["RedrivePolicy"]


def test_every_dead_letter_queue_has_an_alarm(aws):
    alarms = aws.session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    watched = {d["Value"] for a in alarms for d in a["Dimensions"]}
    queues = aws.session.client("sqs").list_queues()["QueueUrls"]
    dead_letter = {url.rsplit("/", 1)[1] for url in queues if url.endswith("-dlq")}
    assert dead_letter and dead_letter <= watched


def test_mail_bucket_is_encrypted(aws):
    encryption = aws.session.client("s3").get_bucket_encryption(Bucket=aws.resources.bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
