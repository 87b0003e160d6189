"""Least-privilege IAM for each function, rendered into its template's role.

A function's access is a list of `Grant`s: IAM actions on named resources ("table",
"index/SlaDue", "bucket/raw/", "queue/routing", "secrets/ssm", ...). `render_policy` turns
them into policy statements with the shared stack's exports, the routing queues that
infra/shared.yaml defines, the sender identity and the secrets of the config file,
so a statement never has a `*` action or a bare `*` resource.

Two kinds of grant: what the function's code calls (checked against a recorded run in
tests/deploy/test_iam_matches_calls.py) and what Lambda itself does with the role on
the function's behalf (`platform=True`: reading a stream or queue it is mapped to,
writing its dead-letter queue, its logs). `CallMapper` is the other half of that check:
it names the IAM actions and resources one recorded AWS call needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.deploy import cfn

# -- what a function may do ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """`actions` on every resource in `resources` (resource names, see `RESOURCES`)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    platform: bool = False  # Lambda uses it for the function, the code does not call it

    def pairs(self) -> set[tuple[str, str]]:
        return {(action, resource) for action in self.actions for resource in self.resources}


# resource name -> what it means (also the vocabulary of `helpline config plan`)
RESOURCES: Mapping[str, str] = {
    "table": "the ticket table",
    "index/GSI1": "the table's GSI1 index (a customer's tickets, quarantine by time)",
    "index/GSI2": "the table's GSI2 index (lists: statuses, chat queues, agents, responses)",
    "index/SlaDue": "the table's sparse SlaDue index (tickets whose SLA clock is due)",
    "stream": "the table's stream",
    "stream-list": "the table's streams, to list them (Lambda's stream mapping does)",
    "queue/routing": "every team's routing queue",
    "queue/escalation": "the escalation queue",
    "queue/inbound-mail-dlq": "the inbound-mail dead-letter queue",
    "queue/stream-dlq": "the table-stream dead-letter queue (stream records that failed)",
    "bucket/raw/": "raw inbound mail (what SES stored)",
    "bucket/attachments/": "attachments of messages",
    "bucket/bodies/": "large message bodies",
    "bucket/social/raw/": "social deliveries as they arrived",
    "ses/sender": "the SES identity of the brand's mail domain",
    "secrets/ssm": "the SSM parameters this function's part of the config references",
    "secrets/secretsmanager": (
        "the Secrets Manager secrets this function's part of the config references"
    ),
    "websocket/connections": "connections of the chat WebSocket API",
    "logs": "the function's own log groups",
    "public-url": "the SSM parameter holding its stack's public REST API address",
    # and "own-queue/<LogicalId>": a queue the function's own stack defines
}

_OWN_QUEUE = re.compile(r"^own-queue/([A-Za-z0-9]+)$")  # a queue the function stack defines


class UnknownResourceError(ValueError):
    pass


# -- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyContext:
    """What the policy's resources are made from, besides the shared stack's exports."""

    routing_queue_names: Sequence[str]  # QueueName templates from infra/shared.yaml
    escalation_queue_name: str
    sender_domain: str
    secret_refs: Sequence[Any]  # SecretRef of this function's config sections
    log_group_resources: Sequence[str]  # logical ids of the function's log groups
    # ARN of the chat WebSocket API's connections (its own, or the chat stack's export)
    websocket_connections: Any = None
    # the SSM parameter with the stack's public URL (with ${Stage}), when it has an API
    public_url_parameter: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _arn(service: str, resource: str) -> dict[str, Any]:
    return cfn.sub(
        f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"
    )


def resource_arns(name: str, context: PolicyContext) -> list[Any]:
    """The ARNs (CloudFormation values) one resource name stands for."""
    table = cfn.shared_export("TableArn")
    bucket = cfn.shared_export("MailBucketArn")
    if name == "table":
        return [table]
    if name.startswith("index/"):
        return [{"Fn::Join": ["", [table, f"/index/{name[6:]}"]]}]
    if name == "stream":
        return [cfn.shared_export("TableStreamArn")]
    if name == "stream-list":  # ListStreams is granted on the table's streams, as SAM does
        return [{"Fn::Join": ["", [table, "/stream/*"]]}]
    if name == "queue/routing":
        return [_arn("sqs", queue) for queue in context.routing_queue_names]
    if name == "queue/escalation":
        return [_arn("sqs", context.escalation_queue_name)]
    if name == "queue/inbound-mail-dlq":
        return [cfn.shared_export("InboundMailDeadLetterQueueArn")]
    if name == "queue/stream-dlq":
        return [cfn.shared_export("StreamDeadLetterQueueArn")]
    if name.startswith("bucket/"):
        return [{"Fn::Join": ["", [bucket, f"/{name[7:]}*"]]}]
    if name == "ses/sender":
        return [_arn("ses", f"identity/{context.sender_domain}")]
    if name.startswith("secrets/"):
        scheme = name.split("/", 1)[1]
        return [secret_arn(ref) for ref in context.secret_refs if ref.scheme == scheme]
    if name == "websocket/connections":
        if context.websocket_connections is None:
            raise UnknownResourceError("websocket/connections needs the chat WebSocket API")
        return [context.websocket_connections]
    if name == "public-url":
        if context.public_url_parameter is None:
            return []
        return [_arn("ssm", "parameter" + context.public_url_parameter)]
    if name == "logs":
        return [cfn.get_att(group, "Arn") for group in context.log_group_resources]
    own = _OWN_QUEUE.match(name)
    if own:
        return [cfn.get_att(own.group(1), "Arn")]
    raise UnknownResourceError(f"unknown resource {name!r} (known: {', '.join(RESOURCES)})")


def secret_arn(ref: Any) -> dict[str, Any]:
    if ref.scheme == "ssm":
        name = ref.name if ref.name.startswith("/") else "/" + ref.name
        return _arn("ssm", f"parameter{name}")
    # Secrets Manager appends six random characters to a secret's ARN
    return _arn("secretsmanager", f"secret:{ref.name}-??????")


def render_policy(grants: Iterable[Grant], context: PolicyContext) -> dict[str, Any]:
    """A policy document: one statement per grant, resources resolved."""
    statements = []
    for grant in grants:
        resources: list[Any] = []
        for name in grant.resources:
            resources.extend(resource_arns(name, context))
        if not resources:  # e.g. a function whose config section has no secrets
            continue
        statements.append(
            {
                "Sid": grant.sid,
                "Effect": "Allow",
                "Action": list(grant.actions),
                "Resource": resources,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def wildcard_problems(policy: Mapping[str, Any]) -> list[str]:
    """Statements that allow `*` actions or a bare `*` resource (none should)."""
    problems = []
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        for action in actions:
            if action == "*" or action.endswith(":*"):
                problems.append(f"{statement.get('Sid')}: action {action}")
        resources = statement.get("Resource", [])
        resources = [resources] if not isinstance(resources, list) else resources
        for resource in resources:
            if resource == "*" or (isinstance(resource, str) and re.search(r":\*(:|$)", resource)):
                problems.append(f"{statement.get('Sid')}: resource {resource}")
    return problems


# -- from AWS calls to IAM actions -------------------------------------------------------------

# operations whose IAM action is not "<prefix>:<OperationName>"
_PREFIX = {"sesv2": "ses", "apigatewaymanagementapi": "execute-api"}
_TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


@dataclass(frozen=True)
class CallMapper:
    """Names the (IAM action, resource name) pairs an AWS call needs, from its parameters.

    The resource names are the ones `Grant` uses; the deployment's own table, bucket and
    queues are recognised by name, anything else is reported as `other:<what>`.
    """

    table: str
    bucket: str
    queue_urls: Mapping[str, str]
    secret_names: frozenset[str] = frozenset()
    public_url_parameters: frozenset[str] = frozenset()

    def needs(
        self, service: str, operation: str, params: Mapping[str, Any]
    ) -> set[tuple[str, str]]:
        if service == "dynamodb":
            return self._dynamodb(operation, params)
        if service == "s3":
            return {
                (f"s3:{operation}", self._object(params.get("Bucket", ""), params.get("Key", "")))
            }
        if service == "sqs":
            return {(f"sqs:{_sqs_action(operation)}", self._queue(params.get("QueueUrl", "")))}
        if service == "sesv2" and operation == "SendEmail":
            actions = {"ses:SendEmail"}
            if "Raw" in (params.get("Content") or {}):
                # a raw MIME message needs ses:SendRawEmail as well (CDK's sendEmail grant
                # and the SES authorization reference give both for SESv2 SendEmail)
                actions.add("ses:SendRawEmail")
            return {(action, "ses/sender") for action in actions}
        if service == "ssm":
            name = params.get("Name", "")
            if name in self.public_url_parameters:
                return {(f"ssm:{operation}", "public-url")}
            where = "secrets/ssm" if name in self.secret_names else f"other:ssm:{name}"
            return {(f"ssm:{operation}", where)}
        if service == "secretsmanager":
            name = params.get("SecretId", "")
            where = (
                "secrets/secretsmanager" if name in self.secret_names else f"other:secret:{name}"
            )
            return {(f"secretsmanager:{operation}", where)}
        if service == "apigatewaymanagementapi":
            return {("execute-api:ManageConnections", "websocket/connections")}
        return {(f"{_PREFIX.get(service, service)}:{operation}", f"other:{service}")}

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> set[tuple[str, str]]:
        if operation in ("TransactWriteItems", "TransactGetItems"):
            found = set()
            for entry in params.get("TransactItems", []):
                for kind, body in entry.items():
                    found.add(
                        (_TRANSACT_ITEM_ACTIONS[kind], self._table(body.get("TableName", "")))
                    )
            return found
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {
                (f"dynamodb:{operation}", self._table(name))
                for name in params.get("RequestItems", {})
            }
        table = self._table(params.get("TableName", ""))
        index = params.get("IndexName")
        if index and table == "table":
            return {(f"dynamodb:{operation}", f"index/{index}")}
        return {(f"dynamodb:{operation}", table)}

    def _table(self, name: str) -> str:
        return "table" if name == self.table else f"other:table:{name}"

    def _object(self, bucket: str, key: str) -> str:
        if bucket != self.bucket:
            return f"other:bucket:{bucket}"
        for prefix in ("social/raw/", "raw/", "attachments/", "bodies/"):
            if key.startswith(prefix):
                return f"bucket/{prefix}"
        return f"other:key:{key}"

    def _queue(self, url: str) -> str:
        for team, queue_url in self.queue_urls.items():
            if url == queue_url:
                return "queue/escalation" if team == "escalation" else "queue/routing"
        return f"other:queue:{url}"


def _sqs_action(operation: str) -> str:
    # SendMessageBatch is authorized as sqs:SendMessage, DeleteMessageBatch as DeleteMessage
    return {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}.get(
        operation, operation
    )


def granted_pairs(grants: Iterable[Grant], *, platform: bool = False) -> set[tuple[str, str]]:
    """The (action, resource) pairs of the code's grants (or of the platform's)."""
    pairs: set[tuple[str, str]] = set()
    for grant in grants:
        if grant.platform == platform:
            pairs |= grant.pairs()
    return pairs
