"""IAM for the local stack: which permissions a boto3 call needs, and whether a role's
identity-based policies grant them.

In AWS every call a packaged function makes is authorized against the policies of its
execution role; a missing `dynamodb:ConditionCheckItem` or a resource pattern one
character short only shows up after deploying. The local stack checks every AWS call a
function makes against the policy its template gives its role, as IAM would:
`required_permissions` names the (action, resource ARN) pairs IAM checks for a call
(after the Service Authorization Reference), and `evaluate`/`check` decide them the way
IAM decides identity-based policies (an explicit Deny wins, then an Allow, else the
implicit deny). `describe_denial` words a refusal as AWS's AccessDenied message does.

This module runs inside the Lambda worker process, whose sys.path holds the standard
library and botocore/boto3 only, so it imports nothing else (not even botocore: it gets
the service name, operation name and parameters as plain values).

What is not modelled: resource-based policies (bucket, queue, key policies), permission
boundaries, SCPs and session policies; Condition blocks and policy variables (see
`evaluate`). A call this module has no mapping for raises `UnmappedCallError`, which the
caller reports as a denial, so nothing unknown is ever silently allowed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "Decision",
    "Permission",
    "UnmappedCallError",
    "check",
    "describe_denial",
    "evaluate",
    "required_permissions",
]

ALLOWED = "allowed"
EXPLICIT_DENY = "explicit deny"
IMPLICIT_DENY = "no statement allows it"

# A secret's ARN ends in "-" and six random characters AWS picks; when the real ARN is
# unknown this stands in for them, so a policy's `secret:name-??????` matches it as it
# would the real one (and `secret:name` alone does not, as in AWS).
SECRET_SUFFIX_PLACEHOLDER = "XXXXXX"


@dataclass(frozen=True)
class Permission:
    """One authorization IAM performs: an action on a resource ARN ("*" if the action
    has no resource type)."""

    action: str
    resource: str


@dataclass(frozen=True)
class Decision:
    """The outcome for one Permission: `reason` is ALLOWED, EXPLICIT_DENY or
    IMPLICIT_DENY; `statement_id` is the Sid of the deciding statement, if it has one."""

    allowed: bool
    reason: str
    statement_id: str | None


class UnmappedCallError(Exception):
    """The call's IAM permissions are not known here: treat the call as denied."""


# --- which permissions a call needs -------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    endpoint_url: str | None
    secret_arns: Mapping[str, str]
    key_arns: Mapping[str, str]

    def unmapped(self, why: str = "") -> UnmappedCallError:
        message = f"no IAM mapping for {self.service}.{self.operation}"
        return UnmappedCallError(f"{message}: {why}" if why else message)

    def require(self, name: str) -> Any:
        if name not in self.params:
            raise self.unmapped(f"the call has no {name}")
        return self.params[name]


def required_permissions(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    region: str,
    account: str,
    endpoint_url: str | None = None,
    secret_arns: Mapping[str, str] | None = None,
    key_arns: Mapping[str, str] | None = None,
) -> list[Permission]:
    """Every (IAM action, resource ARN) pair IAM checks for a boto3 call.

    `service` is botocore's service name ("dynamodb", "sesv2", ...), `operation` its
    CamelCase operation name, `params` the parameters as passed to the client method.
    `endpoint_url` is the client's endpoint (needed for apigatewaymanagementapi).
    `secret_arns` maps secret names to their full ARNs (with AWS's random suffix);
    `key_arns` maps KMS alias names ("alias/x") to the ARN of the key they point at,
    which is what KMS authorizes a call made through an alias against.

    Raises UnmappedCallError when the call has no known mapping.
    """
    call = _Call(
        service=service,
        operation=operation,
        params=params,
        region=region,
        account=account,
        endpoint_url=endpoint_url,
        secret_arns=secret_arns or {},
        key_arns=key_arns or {},
    )
    mapper = _MAPPERS.get(service)
    if mapper is None:
        raise call.unmapped()
    return _unique(mapper(call))


def _unique(permissions: Iterable[Permission]) -> list[Permission]:
    # A transaction touching one table twice with the same action is one check, not two.
    return list(dict.fromkeys(permissions))


def _arn(call: _Call, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{call.region}:{call.account}:{resource}"


# dynamodb ---------------------------------------------------------------------------------

_DYNAMODB_TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Operations that act on no table (the Service Authorization Reference gives them no
# resource type, so IAM checks them against "*").
_DYNAMODB_ACCOUNT_OPERATIONS = {
    "ListTables",
    "ListBackups",
    "ListGlobalTables",
    "DescribeLimits",
    "DescribeEndpoints",
    "ListExports",
    "ListImports",
    "ListContributorInsights",
}
_DYNAMODB_STREAM_OPERATIONS = {"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}


def _table_arn(call: _Call, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return _arn(call, "dynamodb", f"table/{table}")


def _dynamodb(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op in _DYNAMODB_STREAM_OPERATIONS:
        return _dynamodb_streams(call)
    if op in ("BatchGetItem", "BatchWriteItem"):
        tables = call.require("RequestItems")
        return [Permission(f"dynamodb:{op}", _table_arn(call, table)) for table in tables]
    if op == "TransactWriteItems":
        permissions = []
        for item in call.require("TransactItems"):
            for kind, body in item.items():
                action = _DYNAMODB_TRANSACT_WRITE_ACTIONS.get(kind)
                if action is None:
                    raise call.unmapped(f"unknown transaction item {kind!r}")
                permissions.append(Permission(action, _table_arn(call, body["TableName"])))
        return permissions
    if op == "TransactGetItems":
        return [
            Permission("dynamodb:GetItem", _table_arn(call, item["Get"]["TableName"]))
            for item in call.require("TransactItems")
        ]
    if op in _DYNAMODB_ACCOUNT_OPERATIONS:
        return [Permission(f"dynamodb:{op}", "*")]
    if "TableName" in params:
        resource = _table_arn(call, params["TableName"])
        if op in ("Query", "Scan") and params.get("IndexName"):
            resource = f"{resource}/index/{params['IndexName']}"
        return [Permission(f"dynamodb:{op}", resource)]
    for key in ("ResourceArn", "BackupArn"):
        if key in params:
            return [Permission(f"dynamodb:{op}", params[key])]
    raise call.unmapped()


def _dynamodb_streams(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op == "ListStreams":
        # The table's streams when the call names one (what Lambda's own stream
        # permissions are scoped to), otherwise every stream: "*".
        table = params.get("TableName")
        resource = f"{_table_arn(call, table)}/stream/*" if table else "*"
        return [Permission("dynamodb:ListStreams", resource)]
    if op == "GetRecords" and "StreamArn" not in params:
        # A shard iterator is the stream ARN, "|", and an opaque part (in AWS and moto).
        stream_arn = str(call.require("ShardIterator")).split("|", 1)[0]
        if not stream_arn.startswith("arn:"):
            raise call.unmapped("the shard iterator does not start with its stream's ARN")
        return [Permission("dynamodb:GetRecords", stream_arn)]
    if op in _DYNAMODB_STREAM_OPERATIONS:
        return [Permission(f"dynamodb:{op}", call.require("StreamArn"))]
    raise call.unmapped()


# s3 ---------------------------------------------------------------------------------------

# Object operations: (action, action when a VersionId is given).
_S3_OBJECT_ACTIONS = {
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "SelectObjectContent": ("s3:GetObject", "s3:GetObject"),
    "PutObject": ("s3:PutObject", "s3:PutObject"),
    "CreateMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "UploadPart": ("s3:PutObject", "s3:PutObject"),
    "CompleteMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "s3:AbortMultipartUpload"),
    "ListParts": ("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "GetObjectAcl": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "PutObjectAcl": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    "GetObjectAttributes": ("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    "RestoreObject": ("s3:RestoreObject", "s3:RestoreObject"),
    "GetObjectRetention": ("s3:GetObjectRetention", "s3:GetObjectRetention"),
    "PutObjectRetention": ("s3:PutObjectRetention", "s3:PutObjectRetention"),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold", "s3:GetObjectLegalHold"),
    "PutObjectLegalHold": ("s3:PutObjectLegalHold", "s3:PutObjectLegalHold"),
}
# Bucket operations whose IAM action is not s3:<Operation>.
_S3_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
_S3_WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}
_S3_GRANTS = ("ACL", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")


def _s3_bucket_arn(bucket: str) -> str:
    return bucket if bucket.startswith("arn:") else f"arn:aws:s3:::{bucket}"


def _s3_object_arn(bucket: str, key: str) -> str:
    # Through an access point ARN, objects are "<access point ARN>/object/<key>".
    if bucket.startswith("arn:"):
        return f"{bucket}/object/{key}"
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3_copy_source(call: _Call) -> Permission:
    source = call.require("CopySource")
    if isinstance(source, Mapping):
        bucket, key, version = source["Bucket"], source["Key"], source.get("VersionId")
    else:
        # "bucket/key" or "bucket/key?versionId=v", URL-encoded, maybe with a leading "/".
        text, _, query = str(source).lstrip("/").partition("?versionId=")
        bucket, _, key = unquote(text).partition("/")
        version = query or None
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    return Permission(action, _s3_object_arn(bucket, key))


def _s3(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op == "ListBuckets":
        return [Permission("s3:ListAllMyBuckets", "*")]
    bucket = call.require("Bucket")
    if op == "DeleteObjects":
        return [
            Permission(
                "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject",
                _s3_object_arn(bucket, item["Key"]),
            )
            for item in call.require("Delete")["Objects"]
        ]
    if op in ("CopyObject", "UploadPartCopy"):
        permissions = [Permission("s3:PutObject", _s3_object_arn(bucket, call.require("Key")))]
        permissions.append(_s3_copy_source(call))
    elif op in _S3_OBJECT_ACTIONS:
        plain, versioned = _S3_OBJECT_ACTIONS[op]
        action = versioned if params.get("VersionId") else plain
        permissions = [Permission(action, _s3_object_arn(bucket, call.require("Key")))]
    elif "Key" in params:
        raise call.unmapped("unknown object operation")
    else:
        action = _S3_BUCKET_ACTIONS.get(op, f"s3:{op}")
        return [Permission(action, _s3_bucket_arn(bucket))]
    # Writing an object with tags or an ACL is also checked as setting them.
    if op in _S3_WRITES:
        target = permissions[0].resource
        if params.get("Tagging"):
            permissions.append(Permission("s3:PutObjectTagging", target))
        if any(params.get(grant) for grant in _S3_GRANTS):
            permissions.append(Permission("s3:PutObjectAcl", target))
    return permissions


# sqs --------------------------------------------------------------------------------------

_SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_SQS_HOST = re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


def _sqs_queue_arn(call: _Call, queue_url: str) -> str:
    # https://sqs.<region>.amazonaws.com/<account>/<name>, or a local endpoint such as
    # http://127.0.0.1:4566/<account>/<name>: account and name end the path either way.
    parts = urlsplit(queue_url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) < 2:
        raise call.unmapped(f"cannot read the account and queue name from {queue_url!r}")
    host = _SQS_HOST.match(parts.hostname or "")
    region = host.group(1) if host else call.region
    return f"arn:aws:sqs:{region}:{segments[-2]}:{segments[-1]}"


def _sqs(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op == "ListQueues":
        return [Permission("sqs:ListQueues", "*")]
    if op in ("GetQueueUrl", "CreateQueue"):
        owner = params.get("QueueOwnerAWSAccountId") or call.account
        resource = f"arn:aws:sqs:{call.region}:{owner}:{call.require('QueueName')}"
        return [Permission(f"sqs:{op}", resource)]
    queue = _sqs_queue_arn(call, call.require("QueueUrl"))
    return [Permission(_SQS_BATCH_ACTIONS.get(op, f"sqs:{op}"), queue)]


# ses / sesv2 ------------------------------------------------------------------------------


def _raw_from_address(data: bytes | str) -> str | None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    headers = BytesHeaderParser().parsebytes(raw)
    for _name, address in getaddresses(headers.get_all("From", [])):
        if "@" in address:
            return address
    return None


def _ses_identity(call: _Call, identity_arn: str | None, address: str | None) -> str:
    # IAM checks the sending identity: the identity ARN the call names, else the From
    # address's domain (the identity a domain-verified sender sends as).
    if identity_arn:
        return identity_arn
    if not address or "@" not in address:
        raise call.unmapped("cannot tell the sending identity (no From address)")
    _name, parsed = getaddresses([address])[0]
    domain = (parsed or address).rpartition("@")[2].lower()
    return _arn(call, "ses", f"identity/{domain}")


def _ses_send(call: _Call, actions: Sequence[str], identity: str) -> list[Permission]:
    resources = [identity]
    if call.params.get("ConfigurationSetName"):
        resources.append(
            _arn(call, "ses", f"configuration-set/{call.params['ConfigurationSetName']}")
        )
    return [Permission(action, resource) for resource in resources for action in actions]


def _sesv2(call: _Call) -> list[Permission]:
    params = call.params
    if call.operation != "SendEmail":
        return [Permission(f"ses:{call.operation}", "*")]
    raw = params.get("Content", {}).get("Raw")
    address = params.get("FromEmailAddress")
    if not address and raw is not None:
        address = _raw_from_address(raw["Data"])
    identity = _ses_identity(call, params.get("FromEmailAddressIdentityArn"), address)
    actions = ["ses:SendEmail", "ses:SendRawEmail"] if raw is not None else ["ses:SendEmail"]
    return _ses_send(call, actions, identity)


def _ses(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op in ("SendEmail", "SendTemplatedEmail"):
        identity = _ses_identity(call, params.get("SourceArn"), params.get("Source"))
        return _ses_send(call, [f"ses:{op}"], identity)
    if op == "SendRawEmail":
        address = params.get("Source") or _raw_from_address(call.require("RawMessage")["Data"])
        identity_arn = params.get("FromArn") or params.get("SourceArn")
        return _ses_send(call, ["ses:SendRawEmail"], _ses_identity(call, identity_arn, address))
    return [Permission(f"ses:{op}", "*")]


# ssm --------------------------------------------------------------------------------------


def _ssm_parameter_arn(call: _Call, name: str) -> str:
    # "name:3" or "name:label" selects a version; IAM checks the parameter itself.
    # Parameter names cannot contain ":", so a selector is whatever follows the last one.
    if name.startswith("arn:"):
        prefix, _, rest = name.partition(":parameter/")
        return f"{prefix}:parameter/{rest.split(':', 1)[0]}"
    name = name.split(":", 1)[0]
    return _arn(call, "ssm", f"parameter/{name.removeprefix('/')}")


def _ssm(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op == "DescribeParameters":
        return [Permission("ssm:DescribeParameters", "*")]
    if op == "GetParametersByPath":
        path = str(call.require("Path"))
        if path.startswith("arn:"):
            return [Permission(f"ssm:{op}", path)]
        trimmed = path.strip("/")
        return [Permission(f"ssm:{op}", _arn(call, "ssm", f"parameter/{trimmed}"))]
    if "Names" in params:
        return [Permission(f"ssm:{op}", _ssm_parameter_arn(call, n)) for n in params["Names"]]
    return [Permission(f"ssm:{op}", _ssm_parameter_arn(call, call.require("Name")))]


# secretsmanager ---------------------------------------------------------------------------

_SECRETSMANAGER_ACCOUNT_OPERATIONS = {"ListSecrets", "GetRandomPassword"}


def _secret_arn(call: _Call, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    known = call.secret_arns.get(secret_id)
    if known:
        return known
    return _arn(call, "secretsmanager", f"secret:{secret_id}-{SECRET_SUFFIX_PLACEHOLDER}")


def _secretsmanager(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op in _SECRETSMANAGER_ACCOUNT_OPERATIONS:
        return [Permission(f"secretsmanager:{op}", "*")]
    if op == "BatchGetSecretValue":
        if "SecretIdList" not in params:
            raise call.unmapped("a Filters call reads secrets that cannot be known here")
        return [Permission("secretsmanager:BatchGetSecretValue", "*")] + [
            Permission("secretsmanager:GetSecretValue", _secret_arn(call, secret_id))
            for secret_id in params["SecretIdList"]
        ]
    if op == "CreateSecret":
        return [Permission(f"secretsmanager:{op}", _secret_arn(call, call.require("Name")))]
    return [Permission(f"secretsmanager:{op}", _secret_arn(call, call.require("SecretId")))]


# apigatewaymanagementapi ------------------------------------------------------------------

_CONNECTION_METHODS = {
    "PostToConnection": "POST",
    "GetConnection": "GET",
    "DeleteConnection": "DELETE",
}
_EXECUTE_API_HOST = re.compile(r"^([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


def _execute_api_stage(call: _Call) -> tuple[str, str, str]:
    """(region, API id, stage) of the management endpoint the client was made for."""
    endpoint = call.endpoint_url or ""
    parts = urlsplit(endpoint)
    segments = [segment for segment in parts.path.split("/") if segment]
    host = _EXECUTE_API_HOST.match((parts.hostname or "").lower())
    if host and segments:
        return host.group(2), host.group(1), segments[0]
    # The local stack's endpoint ends in /<api id>/<stage>.
    if not host and len(segments) >= 2:
        return call.region, segments[-2], segments[-1]
    raise UnmappedCallError(
        f"no IAM mapping for {call.service}.{call.operation}: cannot read the API id "
        f"and stage from the endpoint {call.endpoint_url!r}"
    )


def _apigatewaymanagementapi(call: _Call) -> list[Permission]:
    method = _CONNECTION_METHODS.get(call.operation)
    if method is None:
        raise call.unmapped()
    region, api_id, stage = _execute_api_stage(call)
    connection = call.require("ConnectionId")
    resource = (
        f"arn:aws:execute-api:{region}:{call.account}:{api_id}/{stage}/{method}"
        f"/@connections/{connection}"
    )
    return [Permission("execute-api:ManageConnections", resource)]


# sts, cloudwatch, logs --------------------------------------------------------------------


def _sts(call: _Call) -> list[Permission]:
    if call.operation == "GetCallerIdentity":
        return []  # needs no permission: it works even under a deny-everything policy
    if call.operation in ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        return [Permission(f"sts:{call.operation}", call.require("RoleArn"))]
    return [Permission(f"sts:{call.operation}", "*")]


# CloudWatch metric operations have no resource type.
_CLOUDWATCH_METRIC_OPERATIONS = {
    "PutMetricData",
    "GetMetricData",
    "GetMetricStatistics",
    "ListMetrics",
    "GetMetricWidgetImage",
}


def _cloudwatch(call: _Call) -> list[Permission]:
    if call.operation in _CLOUDWATCH_METRIC_OPERATIONS:
        return [Permission(f"cloudwatch:{call.operation}", "*")]
    raise call.unmapped()


# Log stream operations; every other log group operation is checked against the group's
# ARN with ":*" appended, as CloudWatch Logs documents for IAM policies.
_LOGS_STREAM_OPERATIONS = {"PutLogEvents", "GetLogEvents"}


def _logs(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    group = params.get("logGroupName") or params.get("logGroupIdentifier")
    if group is None:
        if op == "DescribeLogGroups":
            return [Permission("logs:DescribeLogGroups", "*")]
        if "resourceArn" in params:
            return [Permission(f"logs:{op}", params["resourceArn"])]
        raise call.unmapped()
    if group.startswith("arn:"):
        if ":log-group:" not in group:
            raise call.unmapped(f"{group!r} is not a log group ARN")
        group = group.removesuffix(":*").split(":log-group:", 1)[1]
    base = _arn(call, "logs", f"log-group:{group}")
    if op in _LOGS_STREAM_OPERATIONS:
        return [Permission(f"logs:{op}", f"{base}:log-stream:{call.require('logStreamName')}")]
    return [Permission(f"logs:{op}", f"{base}:*")]


# sns, lambda, cognito-idp, kms, events ----------------------------------------------------


def _sns(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op == "ListTopics":
        return [Permission("sns:ListTopics", "*")]
    if op in ("Publish", "PublishBatch"):
        target = params.get("TopicArn") or params.get("TargetArn")
        # A Publish to a phone number has no resource: "*".
        return [Permission("sns:Publish", target or "*")]
    if op == "CreateTopic":
        return [Permission("sns:CreateTopic", _arn(call, "sns", call.require("Name")))]
    return [Permission(f"sns:{op}", call.require("TopicArn"))]


_LAMBDA_ACTIONS = {
    "Invoke": "lambda:InvokeFunction",
    "InvokeWithResponseStream": "lambda:InvokeFunction",
}


def _function_arn(call: _Call, function: str, qualifier: str | None) -> str:
    # "name", "name:qualifier", "account:function:name[:q]" or a full ARN; a qualified
    # call is checked against the qualified ARN (so `function:name` alone does not grant
    # it, `function:name:*` does).
    if function.startswith("arn:"):
        arn = function
    elif ":function:" in function:
        arn = f"arn:aws:lambda:{call.region}:{function}"
    else:
        arn = _arn(call, "lambda", f"function:{function}")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _lambda(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    action = _LAMBDA_ACTIONS.get(op, f"lambda:{op}")
    if op == "ListFunctions":
        return [Permission(action, "*")]
    function = _function_arn(call, call.require("FunctionName"), params.get("Qualifier"))
    return [Permission(action, function)]


# Cognito user pool operations a user calls with their own tokens: IAM is not involved.
_COGNITO_PUBLIC_OPERATIONS = {
    "InitiateAuth",
    "RespondToAuthChallenge",
    "SignUp",
    "ConfirmSignUp",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ResendConfirmationCode",
    "GetUser",
    "ChangePassword",
    "GlobalSignOut",
    "RevokeToken",
}


def _cognito_idp(call: _Call) -> list[Permission]:
    op, params = call.operation, call.params
    if op in _COGNITO_PUBLIC_OPERATIONS:
        return []
    if op == "ListUserPools":
        return [Permission("cognito-idp:ListUserPools", "*")]
    if "UserPoolId" in params:
        resource = _arn(call, "cognito-idp", f"userpool/{params['UserPoolId']}")
        return [Permission(f"cognito-idp:{op}", resource)]
    raise call.unmapped()


_KMS_ACCOUNT_OPERATIONS = {"GenerateRandom", "ListKeys", "ListAliases", "CreateKey"}


def _kms_key_arn(call: _Call, key_id: str) -> str:
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        # KMS authorizes against the key an alias points at; unknown here, the alias ARN.
        return call.key_arns.get(key_id) or _arn(call, "kms", key_id)
    return _arn(call, "kms", f"key/{key_id}")


def _kms(call: _Call) -> list[Permission]:
    op = call.operation
    if op in _KMS_ACCOUNT_OPERATIONS:
        return [Permission(f"kms:{op}", "*")]
    if "KeyId" not in call.params:
        # e.g. Decrypt of a symmetric ciphertext: the key is inside the blob.
        raise call.unmapped("the call names no KeyId")
    return [Permission(f"kms:{op}", _kms_key_arn(call, call.params["KeyId"]))]


def _events(call: _Call) -> list[Permission]:
    if call.operation != "PutEvents":
        raise call.unmapped()
    permissions = []
    for entry in call.require("Entries"):
        bus = entry.get("EventBusName") or "default"
        resource = bus if bus.startswith("arn:") else _arn(call, "events", f"event-bus/{bus}")
        permissions.append(Permission("events:PutEvents", resource))
    return permissions


_MAPPERS: dict[str, Callable[[_Call], list[Permission]]] = {
    "dynamodb": _dynamodb,
    "dynamodbstreams": _dynamodb_streams,
    "s3": _s3,
    "sqs": _sqs,
    "sesv2": _sesv2,
    "ses": _ses,
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "apigatewaymanagementapi": _apigatewaymanagementapi,
    "sts": _sts,
    "cloudwatch": _cloudwatch,
    "logs": _logs,
    "sns": _sns,
    "lambda": _lambda,
    "cognito-idp": _cognito_idp,
    "kms": _kms,
    "events": _events,
}


# --- evaluating identity-based policies ---------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    sid: str | None
    deny: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditional: bool


def _strings(value: Any, element: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"{element} must be a string or a list of strings, not {value!r}")
    for item in items:
        if not isinstance(item, str):
            raise ValueError(
                f"{element} {item!r} is not a string (an unresolved CloudFormation intrinsic?)"
            )
    return tuple(items)


def _one_of(statement: Mapping[str, Any], name: str) -> tuple[tuple[str, ...], bool]:
    """The statement's `name` or `Not<name>` element, and whether it was the Not form."""
    has, has_not = name in statement, f"Not{name}" in statement
    if has == has_not:
        raise ValueError(f"a statement needs exactly one of {name} and Not{name}: {statement!r}")
    key = f"Not{name}" if has_not else name
    return _strings(statement[key], key), has_not


def _parse(policies: Sequence[Mapping[str, Any]]) -> list[_Statement]:
    parsed = []
    for policy in policies:
        statements = policy.get("Statement", [])
        if isinstance(statements, Mapping):
            statements = [statements]
        for statement in statements:
            if not isinstance(statement, Mapping):
                raise ValueError(f"a statement must be an object, not {statement!r}")
            effect = statement.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise ValueError(f"Effect must be Allow or Deny, not {effect!r}")
            actions, not_action = _one_of(statement, "Action")
            resources, not_resource = _one_of(statement, "Resource")
            sid = statement.get("Sid")
            parsed.append(
                _Statement(
                    sid=sid if isinstance(sid, str) else None,
                    deny=effect == "Deny",
                    actions=actions,
                    not_action=not_action,
                    resources=resources,
                    not_resource=not_resource,
                    conditional=bool(statement.get("Condition")),
                )
            )
    return parsed


@functools.lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    # "*" is any run of characters (including "/" and ":"), "?" exactly one character.
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob
    )
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _resource_match(pattern: str, resource: str) -> bool | None:
    """Whether a Resource pattern matches; None when it holds a policy variable such as
    ${aws:username}, whose value this module does not know."""
    if "${" in pattern:
        return None
    return _pattern(pattern, False).fullmatch(resource) is not None


def _applies(statement: _Statement, action: str, resource: str) -> bool | None:
    """True if the statement covers the request, False if not, None if that depends on
    something not evaluated here (a Condition or a policy variable)."""
    action_hit = any(_pattern(p, True).fullmatch(action) for p in statement.actions)
    if action_hit == statement.not_action:
        return False
    matches = [_resource_match(p, resource) for p in statement.resources]
    if statement.not_resource:
        # NotResource covers the request only if no listed pattern matches it.
        resource_hit: bool | None = False if True in matches else None if None in matches else True
    else:
        resource_hit = True if True in matches else None if None in matches else False
    if resource_hit is False:
        return False
    if resource_hit is None or statement.conditional:
        return None
    return True


def evaluate(policies: Sequence[Mapping[str, Any]], action: str, resource: str) -> Decision:
    """Decide `action` on `resource` under identity-based `policies` as IAM does.

    An explicit Deny that matches wins; otherwise an Allow that matches allows;
    otherwise the request is implicitly denied. Actions match case-insensitively,
    resources case-sensitively; in both `*` matches any run of characters and `?`
    exactly one. NotAction/NotResource cover everything their list does not match.

    Conditions are not evaluated here, and neither are policy variables (${...}) in
    resources. Such a statement is treated conservatively: an Allow with a Condition
    does not apply (the call is not allowed on its strength) and a Deny with one does
    apply (the call is denied). A local run may so refuse a call AWS would allow, but
    never allow one AWS would refuse for that reason.

    Raises ValueError for a malformed policy, e.g. a resource that is not a string
    (an unresolved CloudFormation intrinsic such as {"Fn::GetAtt": [...]}).
    """
    allowed_by: _Statement | None = None
    for statement in _parse(policies):
        applies = _applies(statement, action, resource)
        if statement.deny and applies is not False:
            return Decision(False, EXPLICIT_DENY, statement.sid)
        if not statement.deny and applies is True and allowed_by is None:
            allowed_by = statement
    if allowed_by is not None:
        return Decision(True, ALLOWED, allowed_by.sid)
    return Decision(False, IMPLICIT_DENY, None)


def check(
    policies: Sequence[Mapping[str, Any]], permissions: Iterable[Permission]
) -> list[tuple[Permission, Decision]]:
    """The permissions `policies` do not grant, each with its Decision."""
    decisions = [(p, evaluate(policies, p.action, p.resource)) for p in permissions]
    return [(permission, decision) for permission, decision in decisions if not decision.allowed]


def describe_denial(
    role_name: str, permission: Permission, decision: Decision, *, account: str, session: str
) -> str:
    """AWS's AccessDenied message for a call the role's policies refuse."""
    if decision.allowed:
        raise ValueError(f"{permission.action} on {permission.resource} was allowed")
    principal = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
    # For actions without a resource type AWS leaves out the "on resource" part.
    target = "" if permission.resource == "*" else f" on resource: {permission.resource}"
    message = f"User: {principal} is not authorized to perform: {permission.action}{target}"
    if decision.reason == EXPLICIT_DENY:
        return f"{message} with an explicit deny in an identity-based policy"
    return f"{message} because no identity-based policy allows the {permission.action} action"
