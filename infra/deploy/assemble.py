"""From Chalice's template to the one Helpline deploys: the rules every function follows.

Chalice writes the functions, their events and APIs; the merge template
(infra/functions/<name>.yaml) adds the function's own wiring and resources. What is the
same for every Lambda function is applied here, by resource type, so a new handler in
an app gets it without anyone remembering to:

- a name `helpline-<stage>-<slug>-<handler>`, the table's memory and timeout, X-Ray
  tracing, the shipped config's path in its environment;
- a log group with the stage's retention, and alarms on its errors and throttles;
- asynchronous invocations (SNS, schedules) with bounded retries and, for
  notifications, a dead-letter queue; SQS and stream mappings that report partial
  batch failures;
- reserved concurrency where the table sets it;
- one role with the least-privilege policy of iam.py instead of Chalice's
  `arn:*:logs:*:*:*` policy.

`assemble` also refuses a merge template that changes a resource the app does not
define (a renamed handler would otherwise leave a typeless resource behind).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.deploy import cfn, iam
from infra.deploy.functions import FunctionSpec

SAM_FUNCTION = "AWS::Serverless::Function"
CONFIG_PATH_IN_PACKAGE = "/var/task/config/helpline.yaml"
XRAY_WRITE_POLICY = "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
MAX_FUNCTION_NAME = 64
MAX_STAGE = 20  # infra/shared.yaml's AllowedPattern
REQUIRED_PARAMETERS = ("Stage", "LogLevel", "LogRetentionDays")

# Chalice's logical ids -> the short handler part of function names
_SHORT_NAMES = {
    "APIHandler": "api",
    "WebsocketConnect": "ws-connect",
    "WebsocketMessage": "ws-message",
    "WebsocketDisconnect": "ws-disconnect",
}
_ASYNC_EVENTS = ("SNS", "Schedule", "CloudWatchEvent", "EventBridgeRule")
_SCHEDULE_EVENTS = ("Schedule", "CloudWatchEvent", "EventBridgeRule")
# a scheduled sweep that fails is not retried: the next minute's run does the same work
_SCHEDULE_POLICY = {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}


class AssemblyError(ValueError):
    pass


@dataclass(frozen=True)
class AssemblyContext:
    architecture: str  # x86_64 | arm64: the machine the packages were built for
    sender_domain: str
    secret_refs: tuple[Any, ...]
    routing_queue_names: tuple[str, ...]
    escalation_queue_name: str


def handler_name(logical_id: str) -> str:
    if logical_id in _SHORT_NAMES:
        return _SHORT_NAMES[logical_id]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", logical_id).lower()


def function_name(spec: FunctionSpec, logical_id: str) -> dict[str, Any]:
    suffix = f"{spec.slug}-{handler_name(logical_id)}"
    longest = len("helpline-") + MAX_STAGE + 1 + len(suffix)
    if longest > MAX_FUNCTION_NAME:
        raise AssemblyError(
            f"{spec.name}: the function name helpline-<stage>-{suffix} can reach {longest} "
            f"characters with a {MAX_STAGE}-character stage; Lambda allows {MAX_FUNCTION_NAME}"
        )
    return cfn.sub(f"helpline-${{Stage}}-{suffix}")


def check_overrides(
    merge_template: Mapping[str, Any], merged: Mapping[str, Any], name: str
) -> None:
    """Every resource the merge template only changes (no Type) must come from the app."""
    defined = sorted(k for k, v in merged.get("Resources", {}).items() if "Type" in v)
    for logical_id, body in merge_template.get("Resources", {}).items():
        if "Type" not in body and "Type" not in merged["Resources"].get(logical_id, {}):
            raise AssemblyError(
                f"infra/functions/{name}.yaml changes {logical_id}, which functions/{name}/app.py "
                f"does not define (it defines: {', '.join(defined)})"
            )


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def apply_intrinsic_overrides(merge_template: Any, merged: Any) -> None:
    """Where the merge template gives an intrinsic (`!ImportValue ...`), it replaces
    Chalice's value. Chalice's deep merge would mix two intrinsics into one dict
    (`{"Fn::Sub": ..., "Fn::ImportValue": ...}`), which is no valid value."""
    if not isinstance(merge_template, dict) or not isinstance(merged, dict):
        return
    for key, value in merge_template.items():
        if key not in merged:
            continue
        if _is_intrinsic(value):
            merged[key] = copy.deepcopy(value)
        else:
            apply_intrinsic_overrides(value, merged[key])


def assemble(
    merged: Mapping[str, Any],
    spec: FunctionSpec,
    context: AssemblyContext,
    *,
    merge_template: Mapping[str, Any],
    code_uri: str,
) -> dict[str, Any]:
    check_overrides(merge_template, merged, spec.name)
    template = copy.deepcopy(dict(merged))
    apply_intrinsic_overrides(merge_template, template)
    parameters = template.setdefault("Parameters", {})
    missing = [p for p in REQUIRED_PARAMETERS if p not in parameters]
    if missing:
        raise AssemblyError(
            f"infra/functions/{spec.name}.yaml declares no parameter {', '.join(missing)}"
        )
    template["Description"] = f"Helpline {spec.name}: {spec.summary}"
    # the teams' queue URLs: a parameter `helpline deploy` sets, never an import (a team
    # added to the config changes them, and an imported export cannot change)
    parameters["RoutingQueueUrls"] = {
        "Type": "String",
        "Description": (
            "JSON: team (and escalation) -> SQS queue URL, from the routing and shared stacks"
        ),
    }
    resources = template["Resources"]
    outputs = template.setdefault("Outputs", {})

    # off unless the config's deployment.reserved_concurrency sets it (the preflight
    # checks the account's quota first)
    parameters["ReservedConcurrency"] = {
        "Type": "Number",
        "Default": -1,
        "MinValue": -1,
        "Description": (
            "Concurrent executions kept for (and the most allowed to) each of this stack's "
            "functions; -1 reserves none. AWS keeps 100 of the account's quota unreserved."
        ),
    }
    conditions = template.setdefault("Conditions", {})
    conditions["HasReservedConcurrency"] = {
        "Fn::Not": [{"Fn::Equals": [cfn.ref("ReservedConcurrency"), -1]}]
    }
    rest_api = _rest_api(resources)
    if rest_api is not None:
        parameters["PublicBaseUrl"] = {
            "Type": "String",
            "Default": "",
            "Description": (
                "The public address of this stack's REST API (a custom domain, "
                "https://help.example.com); empty: its API Gateway URL"
            ),
        }
        conditions["HasPublicBaseUrl"] = {
            "Fn::Not": [{"Fn::Equals": [cfn.ref("PublicBaseUrl"), ""]}]
        }

    websocket = _websocket(resources)
    if websocket is not None:
        _export_websocket(spec, websocket, outputs)
    if rest_api is not None:
        api, stage = rest_api
        public_url = {
            "Fn::If": [
                "HasPublicBaseUrl",
                cfn.ref("PublicBaseUrl"),
                {
                    "Fn::Sub": [
                        "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + stage,
                        {"Api": cfn.ref(api)},
                    ]
                },
            ]
        }
        resources["PublicUrlParameter"] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": cfn.sub(public_url_parameter(spec)),
                "Type": "String",
                "Description": f"The public address of {spec.name}'s REST API",
                "Value": public_url,
            },
        }
        outputs["PublicUrl"] = {
            "Description": "Where people and platforms reach this stack's REST API",
            "Value": copy.deepcopy(public_url),
        }

    for resource in resources.values():
        if resource.get("Type") == "AWS::Serverless::Api":
            # a name people recognise in the console (Chalice leaves it to the title)
            resource.setdefault("Properties", {}).setdefault(
                "Name", cfn.sub(f"helpline-${{Stage}}-{spec.slug}")
            )

    log_groups = []
    for logical_id, resource in list(resources.items()):
        if resource.get("Type") != SAM_FUNCTION:
            continue
        log_group = f"{logical_id}LogGroup"
        log_groups.append(log_group)
        _configure_function(
            spec,
            logical_id,
            resource,
            context=context,
            code_uri=code_uri,
            websocket=websocket,
            rest_api=rest_api,
            log_group=log_group,
        )
        resources[log_group] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "Properties": {
                "LogGroupName": cfn.sub(
                    f"/aws/lambda/helpline-${{Stage}}-{spec.slug}-{handler_name(logical_id)}"
                ),
                "RetentionInDays": cfn.ref("LogRetentionDays"),
            },
        }
        events = resource.get("Properties", {}).get("Events", {})
        stream = any(e.get("Type") in ("DynamoDB", "Kinesis") for e in events.values())
        resources.update(_function_alarms(logical_id, spec, stream=stream))
    if not log_groups:
        raise AssemblyError(f"functions/{spec.name}/app.py registers no handler")
    resources.update(_api_alarms(spec, resources))

    policy_context = iam.PolicyContext(
        routing_queue_names=context.routing_queue_names,
        escalation_queue_name=context.escalation_queue_name,
        sender_domain=context.sender_domain,
        secret_refs=context.secret_refs,
        log_group_resources=tuple(log_groups),
        websocket_connections=_connections_arn(*websocket) if websocket else None,
        public_url_parameter=public_url_parameter(spec) if rest_api is not None else None,
    )
    _least_privilege_role(resources, spec, policy_context)
    return template


def _configure_function(
    spec: FunctionSpec,
    logical_id: str,
    resource: dict[str, Any],
    *,
    context: AssemblyContext,
    code_uri: str,
    websocket: tuple[Any, str] | None,
    rest_api: tuple[str, str] | None,
    log_group: str,
) -> None:
    props = resource.setdefault("Properties", {})
    props["FunctionName"] = function_name(spec, logical_id)
    props["CodeUri"] = code_uri
    props["MemorySize"] = spec.memory_mb
    props["Timeout"] = spec.timeout_seconds
    props["Tracing"] = "Active"
    props["Architectures"] = [context.architecture]
    props["LoggingConfig"] = {"LogGroup": cfn.ref(log_group), "LogFormat": "Text"}
    props["Tags"] = {**props.get("Tags", {}), "app": "helpline", "helpline-function": spec.name}
    variables = props.setdefault("Environment", {}).setdefault("Variables", {})
    variables["HELPLINE_CONFIG"] = CONFIG_PATH_IN_PACKAGE
    variables["HELPLINE_QUEUE_URLS"] = cfn.ref("RoutingQueueUrls")
    variables["POWERTOOLS_SERVICE_NAME"] = spec.name
    variables["POWERTOOLS_METRICS_NAMESPACE"] = "Helpline"
    variables["POWERTOOLS_LOG_LEVEL"] = cfn.ref("LogLevel")
    if websocket is not None:
        api, stage = websocket
        host = "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        variables["HELPLINE_CHAT_WS_URL"] = {"Fn::Sub": [f"wss://{host}/{stage}", {"Api": api}]}
        variables["HELPLINE_CHAT_MANAGEMENT_URL"] = {
            "Fn::Sub": [f"https://{host}/{stage}", {"Api": api}]
        }
    if rest_api is not None:
        # where the function reads the URL people and platforms use (survey links): an
        # SSM parameter the stack writes once the API exists (the API's definition names
        # the function, so the URL cannot be in the function's own environment)
        variables["HELPLINE_PUBLIC_URL_PARAMETER"] = cfn.sub(public_url_parameter(spec))
    props["ReservedConcurrentExecutions"] = {
        "Fn::If": [
            "HasReservedConcurrency",
            cfn.ref("ReservedConcurrency"),
            cfn.ref("AWS::NoValue"),
        ]
    }

    events = props.get("Events", {})
    kinds = {event.get("Type") for event in events.values()}
    for event in events.values():
        if event.get("Type") in ("SQS", "DynamoDB", "Kinesis"):
            # Powertools' process_partial_response answers which records failed; without
            # this the whole batch would be retried for one bad record
            event.setdefault("Properties", {})["FunctionResponseTypes"] = [
                "ReportBatchItemFailures"
            ]
    if kinds & set(_SCHEDULE_EVENTS) and not kinds - set(_SCHEDULE_EVENTS):
        props["EventInvokeConfig"] = dict(_SCHEDULE_POLICY)
    elif kinds & set(_ASYNC_EVENTS):
        policy = spec.async_policy
        if policy is None:
            raise AssemblyError(
                f"{spec.name}.{logical_id} is invoked asynchronously ({', '.join(sorted(k for k in kinds if k))}); "
                "give it an async_policy in infra/deploy/functions.py"
            )
        props["EventInvokeConfig"] = {
            "MaximumRetryAttempts": policy.retries,
            "MaximumEventAgeInSeconds": policy.max_age_seconds,
        }
        if policy.dead_letter_export:
            props["DeadLetterQueue"] = {
                "Type": "SQS",
                "TargetArn": cfn.shared_export(policy.dead_letter_export),
            }


# an alarm should mean someone has to look: one failed invocation in a day (a platform
# sending garbage the code refused loudly) is not that, a run of them is
ERROR_RATE_PERCENT = 5
MIN_INVOCATIONS = 10


def _function_alarms(logical_id: str, spec: FunctionSpec, *, stream: bool) -> dict[str, Any]:
    name = f"helpline-${{Stage}}-{spec.slug}-{handler_name(logical_id)}"
    dimensions = [{"Name": "FunctionName", "Value": cfn.ref(logical_id)}]

    def metric(ident: str, metric_name: str) -> dict[str, Any]:
        return {
            "Id": ident,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric_name,
                    "Dimensions": dimensions,
                },
                "Period": 300,
                "Stat": "Sum",
            },
        }

    alarms: dict[str, Any] = {
        f"{logical_id}ErrorsAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": cfn.sub(f"{name}-errors"),
                "AlarmDescription": (
                    f"{spec.name} ({logical_id}) failed over {ERROR_RATE_PERCENT}% of at least "
                    f"{MIN_INVOCATIONS} invocations in two 5-minute periods running."
                ),
                "Metrics": [
                    metric("errors", "Errors"),
                    metric("invocations", "Invocations"),
                    {
                        "Id": "rate",
                        "Label": "percent of invocations that failed",
                        "Expression": (
                            f"IF(invocations >= {MIN_INVOCATIONS}, 100 * errors / invocations, 0)"
                        ),
                        "ReturnData": True,
                    },
                ],
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Threshold": ERROR_RATE_PERCENT,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [cfn.shared_export("AlarmTopicArn")],
            },
        },
        f"{logical_id}ThrottlesAlarm": _simple_alarm(
            f"{name}-throttles",
            f"{spec.name} ({logical_id}) was throttled more than 10 times in 5 minutes: its "
            "reserved concurrency or the account's quota is too small for the load.",
            "AWS/Lambda",
            "Throttles",
            dimensions,
            threshold=10,
        ),
    }
    if stream:
        alarms[f"{logical_id}IteratorAgeAlarm"] = _simple_alarm(
            f"{name}-stream-behind",
            f"{spec.name} ({logical_id}) is over 10 minutes behind the table's stream: "
            "surveys and report counters are late (a record failing and retrying?).",
            "AWS/Lambda",
            "IteratorAge",
            dimensions,
            threshold=600_000,
            statistic="Maximum",
        )
    return alarms


def _api_alarms(spec: FunctionSpec, resources: Mapping[str, Any]) -> dict[str, Any]:
    """Server errors of the stack's REST API and WebSocket API, as the callers see them."""
    alarms: dict[str, Any] = {}
    rest = _rest_api(resources)
    if rest is not None:
        api, stage = rest
        alarms["RestApiServerErrorsAlarm"] = _simple_alarm(
            f"helpline-${{Stage}}-{spec.slug}-api-5xx",
            f"Over 5% of the requests to {spec.name}'s REST API got a 5xx in 5 minutes "
            "(webhook platforms retry, then give up; the widget cannot open chats).",
            "AWS/ApiGateway",
            "5XXError",
            [
                {"Name": "ApiName", "Value": cfn.sub(f"helpline-${{Stage}}-{spec.slug}")},
                {"Name": "Stage", "Value": stage},
            ],
            threshold=0.05,
            statistic="Average",
        )
    websocket = _websocket(resources)
    if websocket is not None:
        api, stage = websocket
        alarms["WebsocketIntegrationErrorsAlarm"] = _simple_alarm(
            f"helpline-${{Stage}}-{spec.slug}-websocket-errors",
            f"{spec.name}'s WebSocket API could not reach its functions more than 10 times "
            "in 5 minutes: customers' chat messages are failing.",
            "AWS/ApiGateway",
            "IntegrationError",
            [{"Name": "ApiId", "Value": api}, {"Name": "Stage", "Value": stage}],
            threshold=10,
        )
    return alarms


def _simple_alarm(
    name: str,
    description: str,
    namespace: str,
    metric_name: str,
    dimensions: list[dict[str, Any]],
    *,
    threshold: float,
    statistic: str = "Sum",
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": cfn.sub(name),
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric_name,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [cfn.shared_export("AlarmTopicArn")],
        },
    }


def public_url_parameter(spec: FunctionSpec) -> str:
    """The SSM parameter holding a stack's public REST API address (with ${Stage})."""
    return f"/helpline/${{Stage}}/{spec.slug}/public-url"


def _rest_api(resources: Mapping[str, Any]) -> tuple[str, str] | None:
    """(the REST API's logical id, its stage name) when the app has routes."""
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Api":
            stage = resource.get("Properties", {}).get("StageName")
            if not isinstance(stage, str):
                raise AssemblyError("the REST API has no stage with a literal name")
            return logical_id, stage
    return None


def _websocket(resources: Mapping[str, Any]) -> tuple[Any, str] | None:
    """(the API's Ref, its stage name) when the app defines a WebSocket API."""
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::ApiGatewayV2::Api" and (
            resource.get("Properties", {}).get("ProtocolType") == "WEBSOCKET"
        ):
            stage = next(
                (
                    r["Properties"]["StageName"]
                    for r in resources.values()
                    if r.get("Type") == "AWS::ApiGatewayV2::Stage"
                ),
                None,
            )
            if not isinstance(stage, str):
                raise AssemblyError("the WebSocket API has no stage with a literal name")
            return cfn.ref(logical_id), stage
    return None


def _export_websocket(
    spec: FunctionSpec, websocket: tuple[Any, str], outputs: dict[str, Any]
) -> None:
    """What other function stacks (survey) need to push to chat connections."""
    api, stage = websocket
    host = "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    exported = {
        "WebsocketApiId": api,
        "WebsocketUrl": {"Fn::Sub": [f"wss://{host}/{stage}", {"Api": api}]},
        "ManagementUrl": {"Fn::Sub": [f"https://{host}/{stage}", {"Api": api}]},
        "ConnectionsArn": _connections_arn(api, stage),
    }
    for name, value in exported.items():
        outputs[f"Chat{name}"] = {
            "Value": value,
            "Export": {"Name": cfn.sub(f"helpline-${{Stage}}-{spec.slug}-{name}")},
        }


def _connections_arn(api: Any, stage: str) -> dict[str, Any]:
    return {
        "Fn::Sub": [
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
            f"${{Api}}/{stage}/POST/@connections/*",
            {"Api": api},
        ]
    }


def _least_privilege_role(
    resources: dict[str, Any], spec: FunctionSpec, context: iam.PolicyContext
) -> None:
    role = resources.get("DefaultRole")
    if role is None or role.get("Type") != "AWS::IAM::Role":
        raise AssemblyError(f"{spec.name}: Chalice's template has no DefaultRole to restrict")
    document = iam.render_policy(spec.grants, context)
    problems = iam.wildcard_problems(document)
    if problems:
        raise AssemblyError(f"{spec.name}: the policy allows wildcards: {'; '.join(problems)}")
    props = role["Properties"]
    props["Policies"] = [{"PolicyName": f"helpline-{spec.name}", "PolicyDocument": document}]
    # X-Ray's write actions have no resource-level permissions: AWS's managed policy is
    # the one place a `*` resource is allowed, and only for PutTraceSegments/Telemetry
    props["ManagedPolicyArns"] = [cfn.sub(XRAY_WRITE_POLICY)]
    props["Tags"] = [{"Key": "app", "Value": "helpline"}]
