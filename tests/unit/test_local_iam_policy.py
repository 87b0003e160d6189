"""The local stack's IAM check (infra/local/lambda_runtime/iam_policy.py): the
permissions each boto3 call needs, and how a role's identity-based policies decide
them, as AWS IAM does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local.lambda_runtime.iam_policy import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Decision,
    Permission,
    UnmappedCallError,
    check,
    describe_denial,
    evaluate,
    required_permissions,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/helpline-tickets"
STREAM = f"{TABLE}/stream/2024-05-01T10:00:00.000"


def needs(service: str, operation: str, params: dict[str, Any], **kwargs: Any) -> list[Permission]:
    return required_permissions(
        service, operation, params, region=REGION, account=ACCOUNT, **kwargs
    )


def pairs(permissions: list[Permission]) -> list[tuple[str, str]]:
    return [(p.action, p.resource) for p in permissions]


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# --- dynamodb -----------------------------------------------------------------------------


def test_transact_write_items_needs_each_items_action_on_its_table() -> None:
    key = {"pk": {"S": "TICKET#T-1"}, "sk": {"S": "META"}}
    params = {
        "TransactItems": [
            {
                "Put": {
                    "TableName": "helpline-tickets",
                    "Item": {**key, "status": {"S": "open"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": "helpline-tickets",
                    "Key": {"pk": {"S": "CUSTOMER#c-9"}, "sk": {"S": "META"}},
                    "UpdateExpression": "ADD open_tickets :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "helpline-tickets",
                    "Key": {"pk": {"S": "QUEUE#billing"}, "sk": {"S": "META"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Delete": {"TableName": "helpline-outbox", "Key": key}},
        ]
    }
    assert pairs(needs("dynamodb", "TransactWriteItems", params)) == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
        ("dynamodb:DeleteItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/helpline-outbox"),
    ]


def test_the_same_action_on_the_same_table_is_one_check() -> None:
    update = {"TableName": "helpline-tickets", "UpdateExpression": "SET #s = :s"}
    params = {
        "TransactItems": [
            {"Update": {**update, "Key": {"pk": {"S": "TICKET#T-1"}}}},
            {"Update": {**update, "Key": {"pk": {"S": "TICKET#T-2"}}}},
        ]
    }
    assert pairs(needs("dynamodb", "TransactWriteItems", params)) == [
        ("dynamodb:UpdateItem", TABLE)
    ]


def test_transact_get_items_needs_get_item_per_table() -> None:
    params = {
        "TransactItems": [
            {"Get": {"TableName": "helpline-tickets", "Key": {"pk": {"S": "a"}}}},
            {"Get": {"TableName": "helpline-agents", "Key": {"pk": {"S": "b"}}}},
        ]
    }
    assert pairs(needs("dynamodb", "TransactGetItems", params)) == [
        ("dynamodb:GetItem", TABLE),
        ("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/helpline-agents"),
    ]


def test_query_on_an_index_needs_the_index_arn_and_a_plain_scan_the_table() -> None:
    query = {
        "TableName": "helpline-tickets",
        "IndexName": "by-customer",
        "KeyConditionExpression": "customer_id = :c",
        "ExpressionAttributeValues": {":c": {"S": "c-9"}},
    }
    assert pairs(needs("dynamodb", "Query", query)) == [
        ("dynamodb:Query", f"{TABLE}/index/by-customer")
    ]
    assert pairs(needs("dynamodb", "Scan", {"TableName": "helpline-tickets"})) == [
        ("dynamodb:Scan", TABLE)
    ]


def test_batch_operations_need_their_own_action_once_per_table() -> None:
    write = {
        "RequestItems": {
            "helpline-tickets": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}],
            "helpline-outbox": [{"DeleteRequest": {"Key": {"pk": {"S": "b"}}}}],
        }
    }
    assert pairs(needs("dynamodb", "BatchWriteItem", write)) == [
        ("dynamodb:BatchWriteItem", TABLE),
        ("dynamodb:BatchWriteItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/helpline-outbox"),
    ]
    read = {"RequestItems": {"helpline-tickets": {"Keys": [{"pk": {"S": "a"}}]}}}
    assert pairs(needs("dynamodb", "BatchGetItem", read)) == [("dynamodb:BatchGetItem", TABLE)]


def test_single_table_operations_and_a_table_given_as_an_arn() -> None:
    assert pairs(needs("dynamodb", "DescribeTable", {"TableName": "helpline-tickets"})) == [
        ("dynamodb:DescribeTable", TABLE)
    ]
    other = "arn:aws:dynamodb:eu-west-1:210987654321:table/shared"
    assert pairs(needs("dynamodb", "GetItem", {"TableName": other, "Key": {}})) == [
        ("dynamodb:GetItem", other)
    ]
    assert pairs(needs("dynamodb", "ListTables", {})) == [("dynamodb:ListTables", "*")]


def test_stream_operations_are_checked_on_the_stream_arn() -> None:
    iterator = f"{STREAM}|1|AAAAAAAAAAGQ0rv6ZE8xfBGh"
    assert pairs(needs("dynamodbstreams", "DescribeStream", {"StreamArn": STREAM})) == [
        ("dynamodb:DescribeStream", STREAM)
    ]
    shard = {"StreamArn": STREAM, "ShardId": "shardId-1", "ShardIteratorType": "LATEST"}
    assert pairs(needs("dynamodbstreams", "GetShardIterator", shard)) == [
        ("dynamodb:GetShardIterator", STREAM)
    ]
    # GetRecords carries only the iterator, which starts with the stream's ARN.
    assert pairs(needs("dynamodbstreams", "GetRecords", {"ShardIterator": iterator})) == [
        ("dynamodb:GetRecords", STREAM)
    ]
    with pytest.raises(UnmappedCallError, match="shard iterator"):
        needs("dynamodbstreams", "GetRecords", {"ShardIterator": "opaque-token"})


def test_list_streams_is_scoped_to_the_table_when_named() -> None:
    assert pairs(needs("dynamodbstreams", "ListStreams", {"TableName": "helpline-tickets"})) == [
        ("dynamodb:ListStreams", f"{TABLE}/stream/*")
    ]
    assert pairs(needs("dynamodbstreams", "ListStreams", {})) == [("dynamodb:ListStreams", "*")]


# --- s3 -----------------------------------------------------------------------------------


def test_object_reads_and_writes() -> None:
    obj = "arn:aws:s3:::helpline-mail/inbound/2024/msg-1.eml"
    key = {"Bucket": "helpline-mail", "Key": "inbound/2024/msg-1.eml"}
    assert pairs(needs("s3", "GetObject", key)) == [("s3:GetObject", obj)]
    assert pairs(needs("s3", "GetObject", {**key, "VersionId": "v3"})) == [
        ("s3:GetObjectVersion", obj)
    ]
    assert pairs(needs("s3", "HeadObject", key)) == [("s3:GetObject", obj)]
    assert pairs(needs("s3", "PutObject", {**key, "Body": b"x"})) == [("s3:PutObject", obj)]
    assert pairs(needs("s3", "DeleteObject", key)) == [("s3:DeleteObject", obj)]


def test_put_object_with_tags_also_needs_put_object_tagging() -> None:
    params = {"Bucket": "helpline-mail", "Key": "a.eml", "Body": b"x", "Tagging": "kind=mail"}
    assert pairs(needs("s3", "PutObject", params)) == [
        ("s3:PutObject", "arn:aws:s3:::helpline-mail/a.eml"),
        ("s3:PutObjectTagging", "arn:aws:s3:::helpline-mail/a.eml"),
    ]


def test_delete_objects_needs_delete_object_per_key() -> None:
    params = {
        "Bucket": "helpline-mail",
        "Delete": {"Objects": [{"Key": "a.eml"}, {"Key": "b.eml", "VersionId": "v1"}]},
    }
    assert pairs(needs("s3", "DeleteObjects", params)) == [
        ("s3:DeleteObject", "arn:aws:s3:::helpline-mail/a.eml"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::helpline-mail/b.eml"),
    ]


def test_copy_object_needs_put_on_the_target_and_get_on_the_source() -> None:
    target = {"Bucket": "helpline-archive", "Key": "2024/msg 1.eml"}
    as_string = {**target, "CopySource": "helpline-mail/inbound/msg%201.eml"}
    assert pairs(needs("s3", "CopyObject", as_string)) == [
        ("s3:PutObject", "arn:aws:s3:::helpline-archive/2024/msg 1.eml"),
        ("s3:GetObject", "arn:aws:s3:::helpline-mail/inbound/msg 1.eml"),
    ]
    as_dict = {
        **target,
        "CopySource": {"Bucket": "helpline-mail", "Key": "inbound/a.eml", "VersionId": "v2"},
    }
    assert pairs(needs("s3", "CopyObject", as_dict))[1] == (
        "s3:GetObjectVersion",
        "arn:aws:s3:::helpline-mail/inbound/a.eml",
    )


def test_bucket_operations_are_checked_on_the_bucket_arn() -> None:
    bucket = "arn:aws:s3:::helpline-mail"
    listing = {"Bucket": "helpline-mail", "Prefix": "inbound/"}
    assert pairs(needs("s3", "ListObjectsV2", listing)) == [("s3:ListBucket", bucket)]
    assert pairs(needs("s3", "ListObjects", listing)) == [("s3:ListBucket", bucket)]
    assert pairs(needs("s3", "HeadBucket", {"Bucket": "helpline-mail"})) == [
        ("s3:ListBucket", bucket)
    ]
    assert pairs(needs("s3", "GetBucketLocation", {"Bucket": "helpline-mail"})) == [
        ("s3:GetBucketLocation", bucket)
    ]
    notification = needs("s3", "GetBucketNotificationConfiguration", {"Bucket": "helpline-mail"})
    assert pairs(notification) == [("s3:GetBucketNotification", bucket)]


# --- sqs ----------------------------------------------------------------------------------


def test_queue_arn_from_aws_and_local_queue_urls() -> None:
    aws = "https://sqs.us-east-1.amazonaws.com/123456789012/helpline-intake"
    local = "http://127.0.0.1:4566/000000000000/helpline-intake.fifo"
    assert pairs(needs("sqs", "SendMessage", {"QueueUrl": aws, "MessageBody": "{}"})) == [
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:helpline-intake")
    ]
    assert pairs(needs("sqs", "ReceiveMessage", {"QueueUrl": local})) == [
        ("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:000000000000:helpline-intake.fifo")
    ]


def test_sqs_batch_operations_need_the_single_message_actions() -> None:
    url = "http://localhost:4566/123456789012/helpline-intake"
    queue = "arn:aws:sqs:us-east-1:123456789012:helpline-intake"
    entries = [{"Id": "1", "ReceiptHandle": "r1"}]
    assert pairs(needs("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": entries})) == [
        ("sqs:SendMessage", queue)
    ]
    assert pairs(needs("sqs", "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})) == [
        ("sqs:DeleteMessage", queue)
    ]
    visibility = {"QueueUrl": url, "Entries": [{**entries[0], "VisibilityTimeout": 30}]}
    assert pairs(needs("sqs", "ChangeMessageVisibilityBatch", visibility)) == [
        ("sqs:ChangeMessageVisibility", queue)
    ]


def test_get_queue_url_is_checked_on_the_named_queue_of_its_owner() -> None:
    assert pairs(needs("sqs", "GetQueueUrl", {"QueueName": "helpline-intake"})) == [
        ("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:123456789012:helpline-intake")
    ]
    shared = {"QueueName": "shared", "QueueOwnerAWSAccountId": "210987654321"}
    assert pairs(needs("sqs", "GetQueueUrl", shared)) == [
        ("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:210987654321:shared")
    ]


# --- ses ----------------------------------------------------------------------------------

RAW_REPLY = (
    b"From: Support <support@helpline.test>\r\n"
    b"To: Ana Silva <ana@example.com>\r\n"
    b"Subject: Re: [T-1042] Refund\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello Ana,\r\nyour refund is on its way.\r\n"
)
IDENTITY = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/helpline.test"


def test_sesv2_raw_email_needs_send_and_send_raw_on_the_from_domain() -> None:
    params = {
        "Destination": {"ToAddresses": ["ana@example.com"]},
        "Content": {"Raw": {"Data": RAW_REPLY}},
    }
    assert pairs(needs("sesv2", "SendEmail", params)) == [
        ("ses:SendEmail", IDENTITY),
        ("ses:SendRawEmail", IDENTITY),
    ]
    # The raw message may also be handed over as text.
    as_text = {"Content": {"Raw": {"Data": RAW_REPLY.decode()}}}
    assert pairs(needs("sesv2", "SendEmail", as_text))[0] == ("ses:SendEmail", IDENTITY)


def test_sesv2_simple_email_with_a_configuration_set() -> None:
    params = {
        "FromEmailAddress": "Helpline <Support@Helpline.test>",
        "Destination": {"ToAddresses": ["ana@example.com"]},
        "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
        "ConfigurationSetName": "helpline-outbound",
    }
    assert pairs(needs("sesv2", "SendEmail", params)) == [
        ("ses:SendEmail", IDENTITY),
        ("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/helpline-outbound"),
    ]


def test_sesv2_identity_arn_is_the_resource_when_given() -> None:
    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/support@helpline.test"
    params = {
        "FromEmailAddress": "support@helpline.test",
        "FromEmailAddressIdentityArn": identity,
        "Content": {"Simple": {}},
    }
    assert pairs(needs("sesv2", "SendEmail", params)) == [("ses:SendEmail", identity)]


def test_sesv2_raw_email_without_a_from_header_is_unmapped() -> None:
    params = {"Content": {"Raw": {"Data": b"Subject: no sender\r\n\r\nbody"}}}
    with pytest.raises(UnmappedCallError, match=r"sesv2\.SendEmail"):
        needs("sesv2", "SendEmail", params)


def test_sesv2_other_operations_are_checked_on_star() -> None:
    assert pairs(needs("sesv2", "GetAccount", {})) == [("ses:GetAccount", "*")]


def test_ses_v1_send_email_and_send_raw_email() -> None:
    simple = {"Source": "support@helpline.test", "Destination": {}, "Message": {}}
    assert pairs(needs("ses", "SendEmail", simple)) == [("ses:SendEmail", IDENTITY)]
    raw = {"RawMessage": {"Data": RAW_REPLY}}
    assert pairs(needs("ses", "SendRawEmail", raw)) == [("ses:SendRawEmail", IDENTITY)]
    delegated = f"arn:aws:ses:{REGION}:210987654321:identity/partner.test"
    with_arn = {**raw, "FromArn": delegated}
    assert pairs(needs("ses", "SendRawEmail", with_arn)) == [("ses:SendRawEmail", delegated)]


# --- ssm, secretsmanager ------------------------------------------------------------------


def test_ssm_parameters() -> None:
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/helpline/prod/meta-app-secret"
    name = {"Name": "/helpline/prod/meta-app-secret", "WithDecryption": True}
    assert pairs(needs("ssm", "GetParameter", name)) == [("ssm:GetParameter", arn)]
    # A version selector names the same parameter.
    versioned = {"Name": "/helpline/prod/meta-app-secret:3"}
    assert pairs(needs("ssm", "GetParameter", versioned)) == [("ssm:GetParameter", arn)]
    other = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shared/smtp"
    names = {"Names": ["/helpline/prod/meta-app-secret", other, "plain"]}
    assert pairs(needs("ssm", "GetParameters", names)) == [
        ("ssm:GetParameters", arn),
        ("ssm:GetParameters", other),
        ("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain"),
    ]
    assert pairs(needs("ssm", "GetParametersByPath", {"Path": "/helpline/prod/"})) == [
        ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/helpline/prod")
    ]


def test_secret_arn_from_the_known_arns_or_a_placeholder_suffix() -> None:
    real = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/meta-AbC123"
    known = needs(
        "secretsmanager",
        "GetSecretValue",
        {"SecretId": "prod/meta"},
        secret_arns={"prod/meta": real},
    )
    assert pairs(known) == [("secretsmanager:GetSecretValue", real)]
    unknown = needs("secretsmanager", "GetSecretValue", {"SecretId": "prod/meta"})
    placeholder = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/meta-XXXXXX"
    assert pairs(unknown) == [("secretsmanager:GetSecretValue", placeholder)]
    assert pairs(needs("secretsmanager", "DescribeSecret", {"SecretId": real})) == [
        ("secretsmanager:DescribeSecret", real)
    ]


def test_a_policy_with_the_six_character_pattern_matches_the_placeholder_too() -> None:
    pattern = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/meta-??????"
    role = [policy(allow("secretsmanager:GetSecretValue", pattern))]
    [permission] = needs("secretsmanager", "GetSecretValue", {"SecretId": "prod/meta"})
    assert evaluate(role, permission.action, permission.resource).allowed
    # Without the suffix the pattern names no secret, in AWS as here.
    exact = [policy(allow("secretsmanager:GetSecretValue", pattern.removesuffix("-??????")))]
    assert not evaluate(exact, permission.action, permission.resource).allowed


# --- execute-api --------------------------------------------------------------------------


def test_manage_connections_from_the_aws_endpoint() -> None:
    endpoint = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
    params = {"ConnectionId": "L0SM9cOFvHcCIhw=", "Data": b"{}"}
    assert pairs(
        needs("apigatewaymanagementapi", "PostToConnection", params, endpoint_url=endpoint)
    ) == [
        (
            "execute-api:ManageConnections",
            f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:a1b2c3d4e5/prod/POST/@connections/"
            "L0SM9cOFvHcCIhw=",
        )
    ]


def test_manage_connections_from_the_local_endpoint() -> None:
    endpoint = "http://127.0.0.1:5000/abc123/api"
    base = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/api"
    for operation, method in [("GetConnection", "GET"), ("DeleteConnection", "DELETE")]:
        permissions = needs(
            "apigatewaymanagementapi", operation, {"ConnectionId": "c-1"}, endpoint_url=endpoint
        )
        assert pairs(permissions) == [
            ("execute-api:ManageConnections", f"{base}/{method}/@connections/c-1")
        ]


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:5000/", "http://h:1/only-one"])
def test_manage_connections_without_api_id_and_stage_is_unmapped(endpoint: str | None) -> None:
    with pytest.raises(UnmappedCallError, match=re.escape(repr(endpoint))):
        needs(
            "apigatewaymanagementapi",
            "PostToConnection",
            {"ConnectionId": "c-1", "Data": b""},
            endpoint_url=endpoint,
        )


# --- the other services -------------------------------------------------------------------


def test_sts() -> None:
    assert needs("sts", "GetCallerIdentity", {}) == []
    assert pairs(needs("sts", "GetSessionToken", {})) == [("sts:GetSessionToken", "*")]


def test_cloudwatch_and_logs() -> None:
    metric = {"Namespace": "Helpline", "MetricData": [{"MetricName": "Tickets", "Value": 1.0}]}
    assert pairs(needs("cloudwatch", "PutMetricData", metric)) == [
        ("cloudwatch:PutMetricData", "*")
    ]
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/intake"
    events = {"logGroupName": "/aws/lambda/intake", "logStreamName": "s1", "logEvents": []}
    assert pairs(needs("logs", "PutLogEvents", events)) == [
        ("logs:PutLogEvents", f"{group}:log-stream:s1")
    ]
    stream = {"logGroupName": "/aws/lambda/intake", "logStreamName": "s1"}
    assert pairs(needs("logs", "CreateLogStream", stream)) == [
        ("logs:CreateLogStream", f"{group}:*")
    ]


def test_sns_publish() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:helpline-alerts"
    assert pairs(needs("sns", "Publish", {"TopicArn": topic, "Message": "x"})) == [
        ("sns:Publish", topic)
    ]
    endpoint = f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/APNS/helpline/1"
    assert pairs(needs("sns", "Publish", {"TargetArn": endpoint, "Message": "x"})) == [
        ("sns:Publish", endpoint)
    ]


def test_lambda_invoke_needs_invoke_function_on_the_possibly_qualified_arn() -> None:
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:helpline-survey"
    assert pairs(needs("lambda", "Invoke", {"FunctionName": "helpline-survey"})) == [
        ("lambda:InvokeFunction", function)
    ]
    assert pairs(needs("lambda", "Invoke", {"FunctionName": "helpline-survey:live"})) == [
        ("lambda:InvokeFunction", f"{function}:live")
    ]
    qualified = {"FunctionName": function, "Qualifier": "7"}
    assert pairs(needs("lambda", "Invoke", qualified)) == [
        ("lambda:InvokeFunction", f"{function}:7")
    ]


def test_cognito_kms_and_events() -> None:
    pool = {"UserPoolId": "us-east-1_AbCdEf123", "Username": "agent-7"}
    assert pairs(needs("cognito-idp", "AdminGetUser", pool)) == [
        (
            "cognito-idp:AdminGetUser",
            f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/us-east-1_AbCdEf123",
        )
    ]
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert pairs(needs("kms", "Encrypt", {"KeyId": key_id, "Plaintext": b"x"})) == [
        ("kms:Encrypt", key)
    ]
    alias = {"KeyId": "alias/helpline", "Plaintext": b"x"}
    assert pairs(needs("kms", "Encrypt", alias)) == [
        ("kms:Encrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/helpline")
    ]
    assert pairs(needs("kms", "Encrypt", alias, key_arns={"alias/helpline": key})) == [
        ("kms:Encrypt", key)
    ]
    entries = {
        "Entries": [
            {"Source": "helpline", "DetailType": "x", "Detail": "{}"},
            {"EventBusName": "helpline-bus", "Source": "helpline"},
        ]
    }
    assert pairs(needs("events", "PutEvents", entries)) == [
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/helpline-bus"),
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("rekognition", "DetectText", {}),
        ("cloudwatch", "PutMetricAlarm", {"AlarmName": "x"}),
        ("kms", "Decrypt", {"CiphertextBlob": b"x"}),
    ],
)
def test_unknown_calls_are_unmapped_not_allowed(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    with pytest.raises(UnmappedCallError, match=f"^no IAM mapping for {service}.{operation}"):
        needs(service, operation, params)


# --- evaluation ---------------------------------------------------------------------------


def test_an_index_needs_its_own_resource_pattern() -> None:
    index = f"{TABLE}/index/by-customer"
    table_only = [policy(allow("dynamodb:Query", TABLE))]
    assert not evaluate(table_only, "dynamodb:Query", index).allowed
    with_indexes = [policy(allow("dynamodb:Query", [TABLE, f"{TABLE}/index/*"]))]
    assert evaluate(with_indexes, "dynamodb:Query", index).allowed
    assert evaluate(with_indexes, "dynamodb:Query", TABLE).allowed
    # "table/x/index/*" does not cover the table itself.
    assert not evaluate(
        [policy(allow("dynamodb:Query", f"{TABLE}/index/*"))], "dynamodb:Query", TABLE
    ).allowed


def test_question_mark_matches_exactly_one_character() -> None:
    role = [
        policy(
            allow(
                "secretsmanager:GetSecretValue",
                f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:name-??????",
            )
        )
    ]
    prefix = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
    assert evaluate(role, "secretsmanager:GetSecretValue", f"{prefix}name-AbC123").allowed
    assert not evaluate(role, "secretsmanager:GetSecretValue", f"{prefix}name-AbC12").allowed
    assert not evaluate(role, "secretsmanager:GetSecretValue", f"{prefix}name-x-AbC123").allowed
    assert not evaluate(role, "secretsmanager:GetSecretValue", f"{prefix}name-extra-AbC123").allowed


def test_star_crosses_slashes_and_colons_and_star_alone_matches_all() -> None:
    role = [policy(allow("logs:PutLogEvents", "arn:aws:logs:*:*:log-group:/aws/lambda/*"))]
    stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/intake:log-stream:2024/x"
    assert evaluate(role, "logs:PutLogEvents", stream).allowed
    assert not evaluate(role, "logs:PutLogEvents", stream.replace("/aws/lambda", "/ecs")).allowed
    assert evaluate([policy(allow("*", "*"))], "kms:Decrypt", "arn:aws:kms:x").allowed


def test_actions_match_case_insensitively_resources_case_sensitively() -> None:
    role = [policy(allow(["DynamoDB:putitem", "S3:Get*"], [TABLE, "arn:aws:s3:::helpline-mail/*"]))]
    assert evaluate(role, "dynamodb:PutItem", TABLE).allowed
    assert evaluate(role, "s3:GetObjectVersion", "arn:aws:s3:::helpline-mail/a").allowed
    assert not evaluate(role, "s3:PutObject", "arn:aws:s3:::helpline-mail/a").allowed
    assert not evaluate(role, "dynamodb:PutItem", TABLE.replace("helpline", "Helpline")).allowed
    wildcard_service = [policy(allow("dynamo*:Get*", "*"))]
    assert evaluate(wildcard_service, "dynamodb:GetItem", TABLE).allowed
    assert not evaluate(wildcard_service, "s3:GetObject", TABLE).allowed


def test_an_explicit_deny_beats_any_allow() -> None:
    policies = [
        policy({"Sid": "Everything", **allow("dynamodb:*", "*")}),
        policy({"Sid": "NoDeletes", **deny("dynamodb:DeleteItem", TABLE)}),
    ]
    assert evaluate(policies, "dynamodb:DeleteItem", TABLE) == Decision(
        False, EXPLICIT_DENY, "NoDeletes"
    )
    assert evaluate(policies, "dynamodb:PutItem", TABLE) == Decision(True, ALLOWED, "Everything")
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::b/k") == Decision(
        False, IMPLICIT_DENY, None
    )


def test_not_action_and_not_resource() -> None:
    role = [
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        }
    ]
    assert evaluate(role, "s3:GetObject", "arn:aws:s3:::b/k").allowed
    assert not evaluate(role, "iam:PassRole", "arn:aws:iam::123456789012:role/x").allowed
    fenced = [
        policy(
            allow("dynamodb:*", "*"),
            {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": [TABLE, f"{TABLE}/*"]},
        )
    ]
    assert evaluate(fenced, "dynamodb:GetItem", TABLE).allowed
    assert evaluate(fenced, "dynamodb:GetItem", f"{TABLE}/index/by-customer").allowed
    other = TABLE.replace("tickets", "agents")
    assert evaluate(fenced, "dynamodb:GetItem", other).reason == EXPLICIT_DENY


def test_conditions_are_conservative_allow_does_not_apply_deny_does() -> None:
    condition = {"StringEquals": {"aws:RequestedRegion": REGION}}
    conditional_allow = [policy(allow("sqs:SendMessage", "*", Condition=condition))]
    assert evaluate(conditional_allow, "sqs:SendMessage", "arn:aws:sqs:x") == Decision(
        False, IMPLICIT_DENY, None
    )
    conditional_deny = [
        policy(
            allow("sqs:SendMessage", "*"),
            {
                "Sid": "OnlyTls",
                **deny("sqs:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
            },
        )
    ]
    assert evaluate(conditional_deny, "sqs:SendMessage", "arn:aws:sqs:x") == Decision(
        False, EXPLICIT_DENY, "OnlyTls"
    )
    # A conditional Deny of another action leaves the Allow in force.
    narrow = [
        policy(
            allow("sqs:*", "*"),
            deny("sqs:DeleteQueue", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
        )
    ]
    assert evaluate(narrow, "sqs:SendMessage", "arn:aws:sqs:x").allowed
    assert not evaluate(narrow, "sqs:DeleteQueue", "arn:aws:sqs:x").allowed


def test_policy_variables_are_treated_like_conditions() -> None:
    variable = "arn:aws:s3:::helpline-mail/${aws:username}/*"
    assert not evaluate(
        [policy(allow("s3:GetObject", variable))],
        "s3:GetObject",
        "arn:aws:s3:::helpline-mail/ana/a",
    ).allowed
    guarded = [policy(allow("s3:*", "*"), deny("s3:GetObject", variable))]
    assert evaluate(guarded, "s3:GetObject", "arn:aws:s3:::helpline-mail/ana/a").reason == (
        EXPLICIT_DENY
    )
    assert evaluate(guarded, "s3:PutObject", "arn:aws:s3:::helpline-mail/ana/a").allowed


def test_an_unresolved_intrinsic_resource_is_a_value_error() -> None:
    role = [policy(allow("dynamodb:GetItem", [{"Fn::GetAtt": ["TicketsTable", "Arn"]}]))]
    with pytest.raises(ValueError, match="Fn::GetAtt"):
        evaluate(role, "dynamodb:GetItem", TABLE)
    # Even when another statement would already decide the request.
    mixed = [policy(deny("*", "*"), allow("s3:GetObject", {"Ref": "Bucket"}))]
    with pytest.raises(ValueError, match="Ref"):
        evaluate(mixed, "s3:GetObject", "arn:aws:s3:::b/k")


def test_malformed_statements_are_value_errors() -> None:
    with pytest.raises(ValueError, match="Effect"):
        evaluate([policy({"Effect": "allow", "Action": "*", "Resource": "*"})], "s3:X", "*")
    with pytest.raises(ValueError, match="Resource"):
        evaluate([policy({"Effect": "Allow", "Action": "*"})], "s3:X", "*")


def test_check_returns_only_what_the_role_lacks() -> None:
    role = [policy(allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], TABLE))]
    params = {
        "TransactItems": [
            {"Put": {"TableName": "helpline-tickets", "Item": {}}},
            {
                "ConditionCheck": {
                    "TableName": "helpline-tickets",
                    "Key": {},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
    }
    denied = check(role, needs("dynamodb", "TransactWriteItems", params))
    assert denied == [
        (Permission("dynamodb:ConditionCheckItem", TABLE), Decision(False, IMPLICIT_DENY, None))
    ]


def test_describe_denial_words_it_as_aws_does() -> None:
    permission = Permission("dynamodb:ConditionCheckItem", TABLE)
    implicit = describe_denial(
        "helpline-intake-role",
        permission,
        Decision(False, IMPLICIT_DENY, None),
        account=ACCOUNT,
        session="helpline-intake",
    )
    assert implicit == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/helpline-intake-role/helpline-intake "
        f"is not authorized to perform: dynamodb:ConditionCheckItem on resource: {TABLE} "
        "because no identity-based policy allows the dynamodb:ConditionCheckItem action"
    )
    explicit = describe_denial(
        "r", permission, Decision(False, EXPLICIT_DENY, "NoWrites"), account=ACCOUNT, session="s"
    )
    assert explicit == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/r/s is not authorized to perform: "
        f"dynamodb:ConditionCheckItem on resource: {TABLE} "
        "with an explicit deny in an identity-based policy"
    )
    metric = describe_denial(
        "r",
        Permission("cloudwatch:PutMetricData", "*"),
        Decision(False, IMPLICIT_DENY, None),
        account=ACCOUNT,
        session="s",
    )
    assert "on resource" not in metric
    assert metric.endswith("allows the cloudwatch:PutMetricData action")
    with pytest.raises(ValueError):
        describe_denial(
            "r", permission, Decision(True, ALLOWED, None), account=ACCOUNT, session="s"
        )


def test_the_module_imports_with_the_standard_library_alone() -> None:
    # -S -I: no site-packages, no user paths, so botocore or anything else is not found.
    folder = Path(__file__).resolve().parents[2] / "infra" / "local" / "lambda_runtime"
    code = f"import sys; sys.path.insert(0, {str(folder)!r}); import iam_policy"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
