"""A packaged function's template, deployed into the local stack.

`helpline package` writes each function's SAM template; `sam.translate` turns it into
the plain CloudFormation that `helpline deploy` creates. This reads that same
translated template the way CloudFormation would create it in an account, against the
local stack's resources instead:

- intrinsic functions are resolved: parameters (Stage, LogLevel...), pseudo parameters,
  the shared stack's exports (read from the local CloudFormation), Refs and GetAtts of
  the template's own resources, conditions;
- each `AWS::Lambda::Function` becomes a `LambdaFunction`: handler, runtime, timeout,
  memory, environment, reserved concurrency, its role's policy documents, its
  EventInvokeConfig and dead-letter queue;
- each event source becomes what the local stack drives: SNS subscriptions, EventBridge
  schedules, the DynamoDB stream mapping (batch size, filters, retries, on-failure
  destination), the REST API's Swagger body and the WebSocket API's routes.

API Gateway's own URLs (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`) do
not exist on a laptop: where a resolved environment variable holds one, it is mapped to
the local stack's address for that API, as a custom domain would map it in AWS.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from infra.local.event_filter import FilterCriteria
from infra.local.lambdas import LambdaFunction


class TemplateError(ValueError):
    """The template uses something the local stack cannot create as CloudFormation would."""


@dataclass(frozen=True)
class LocalContext:
    stack_name: str
    region: str
    account: str
    parameters: Mapping[str, str]
    exports: Mapping[str, str]
    # API Gateway URLs as the local stack serves them
    rest_url: str  # every REST API, at the root of the public port
    websocket_url: str  # ws://127.0.0.1:PORT/chat
    management_url: str  # the Management API, on the internal port


@dataclass(frozen=True)
class Schedule:
    rule: str  # the rule's ARN
    expression: str  # rate(1 minute) | cron(...)
    function: str

    @property
    def seconds(self) -> float:
        found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", self.expression)
        if found is None:
            raise TemplateError(f"the local stack runs rate() schedules only: {self.expression}")
        unit = {"minute": 60, "hour": 3600, "day": 86400}[found.group(2).rstrip("s")]
        return int(found.group(1)) * unit


@dataclass(frozen=True)
class StreamMapping:
    function: str
    stream_arn: str
    batch_size: int
    starting_position: str
    filters: FilterCriteria
    max_retries: int  # -1: until the record expires
    bisect_on_error: bool
    on_failure_arn: str | None
    max_record_age_seconds: int


@dataclass(frozen=True)
class RestApi:
    api_id: str
    stage: str
    swagger: dict[str, Any]  # resolved: integration URIs name the functions' ARNs


@dataclass(frozen=True)
class WebSocketApi:
    api_id: str
    stage: str
    routes: dict[str, str]  # route key -> function name


@dataclass
class LocalDeployment:
    """What one function stack creates, as the local stack runs it."""

    spec_name: str
    functions: list[LambdaFunction] = field(default_factory=list)
    subscriptions: list[tuple[str, str]] = field(default_factory=list)  # (topic ARN, function)
    schedules: list[Schedule] = field(default_factory=list)
    streams: list[StreamMapping] = field(default_factory=list)
    rest_apis: list[RestApi] = field(default_factory=list)
    websocket_apis: list[WebSocketApi] = field(default_factory=list)
    ssm_parameters: dict[str, str] = field(default_factory=dict)  # name -> value


def local_id(stack: str, logical_id: str) -> str:
    """A stable 10-character id, like API Gateway's, for a resource of this stack."""
    return hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:10]


class Resolver:
    """CloudFormation's intrinsic functions over one template and the local context."""

    def __init__(self, template: Mapping[str, Any], context: LocalContext) -> None:
        self.template = template
        self.context = context
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.parameters = self._parameters()
        self._conditions: dict[str, bool] = {}

    def _parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, declared in (self.template.get("Parameters") or {}).items():
            if name in self.context.parameters:
                values[name] = self.context.parameters[name]
            elif "Default" in declared:
                values[name] = declared["Default"]
            else:
                raise TemplateError(f"parameter {name} has no value and no default")
        return values

    # -- Ref and GetAtt --------------------------------------------------------------------

    def pseudo(self, name: str) -> Any:
        context = self.context
        return {
            "AWS::Region": context.region,
            "AWS::AccountId": context.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": context.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{context.region}:{context.account}:stack/"
                f"{context.stack_name}/{local_id(context.stack_name, 'stack')}"
            ),
            "AWS::NoValue": _NO_VALUE,
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"Ref to {name}, which the template does not define")
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::Lambda::Function":
            return self.resolve(props["FunctionName"])
        if kind == "AWS::Logs::LogGroup":
            return self.resolve(props["LogGroupName"])
        if kind == "AWS::IAM::Role":
            return self.role_name(name)
        if kind in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"):
            return local_id(self.context.stack_name, name)
        return f"{name}-{local_id(self.context.stack_name, name)}"

    def role_name(self, logical_id: str) -> str:
        props = self.resources[logical_id].get("Properties") or {}
        if "RoleName" in props:
            return str(self.resolve(props["RoleName"]))
        return f"{self.context.stack_name}-{logical_id}-{local_id(self.context.stack_name, logical_id)}"[
            :64
        ]

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"GetAtt of {name}, which the template does not define")
        kind = resource.get("Type")
        region, account = self.context.region, self.context.account
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{self.ref(name)}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{account}:role/{self.role_name(name)}"
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{region}:{account}:log-group:{self.ref(name)}:*"
        if kind == "AWS::SQS::Queue" and attribute in ("Arn", "QueueName"):
            queue = self.resolve((resource.get("Properties") or {}).get("QueueName"))
            return f"arn:aws:sqs:{region}:{account}:{queue}" if attribute == "Arn" else queue
        if kind == "AWS::ApiGatewayV2::Api" and attribute == "ApiEndpoint":
            return f"wss://{self.ref(name)}.execute-api.{region}.amazonaws.com"
        raise TemplateError(f"the local stack cannot give GetAtt {name}.{attribute} ({kind})")

    # -- conditions and values -----------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            declared = (self.template.get("Conditions") or {}).get(name)
            if declared is None:
                raise TemplateError(f"condition {name} is not declared")
            self._conditions[name] = bool(self.resolve(declared))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._intrinsics.get(key)
            if handler is not None:
                return handler(self, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self.resolve(v) for k, v in (variables or {}).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _import(self, argument: Any) -> str:
        name = self.resolve(argument)
        if name not in self.context.exports:
            raise TemplateError(
                f"Fn::ImportValue {name}: no stack of the local stack exports it "
                "(infra/shared.yaml's Outputs)"
            )
        return self.context.exports[name]

    def _get_att(self, argument: Any) -> Any:
        logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return self.get_att(logical, self.resolve(attribute))

    def _if(self, argument: Any) -> Any:
        name, then, otherwise = argument
        return self.resolve(then if self.condition(name) else otherwise)

    def _join(self, argument: Any) -> str:
        separator, items = argument
        return str(separator).join(str(v) for v in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.resolve(text)).split(separator)

    _intrinsics: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": lambda self, a: self.ref(a),
        "Fn::Sub": lambda self, a: self._sub(a),
        "Fn::ImportValue": lambda self, a: self._import(a),
        "Fn::GetAtt": lambda self, a: self._get_att(a),
        "Fn::If": lambda self, a: self._if(a),
        "Fn::Join": lambda self, a: self._join(a),
        "Fn::Select": lambda self, a: self._select(a),
        "Fn::Split": lambda self, a: self._split(a),
        "Fn::Equals": lambda self, a: self.resolve(a[0]) == self.resolve(a[1]),
        "Fn::Not": lambda self, a: not self.resolve(a[0]),
        "Fn::And": lambda self, a: all(self.resolve(v) for v in a),
        "Fn::Or": lambda self, a: any(self.resolve(v) for v in a),
        "Condition": lambda self, a: self.condition(a),
    }


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


# -- reading a translated template ---------------------------------------------------------


def _of_type(template: Mapping[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical, resource)
        for logical, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == kind
    ]


def _function_of_arn(arn: str) -> str:
    """The function name in a Lambda ARN, or in API Gateway's integration URI for it."""
    found = re.search(r":function:([^/:]+)", arn)
    if found is None:
        raise TemplateError(f"no function in {arn}")
    return found.group(1)


def deploy(
    template: Mapping[str, Any],
    context: LocalContext,
    *,
    spec_name: str,
    task_root: Path,
) -> LocalDeployment:
    resolver = Resolver(template, context)
    deployment = LocalDeployment(spec_name)
    urls = _url_map(template, resolver, context)
    invoke_configs = {
        str(resolver.resolve(props.get("FunctionName"))): props
        for _, resource in _of_type(template, "AWS::Lambda::EventInvokeConfig")
        for props in [resource.get("Properties") or {}]
    }
    for logical, resource in _of_type(template, "AWS::Lambda::Function"):
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        name = str(props["FunctionName"])
        role = _role_logical_id(resource)
        environment = {
            key: _local_path(_local_url(str(value), urls), task_root)
            for key, value in ((props.get("Environment") or {}).get("Variables") or {}).items()
        }
        invoke = invoke_configs.get(name, {})
        deployment.functions.append(
            LambdaFunction(
                name=name,
                logical_id=logical,
                spec_name=spec_name,
                handler=str(props["Handler"]),
                runtime=str(props.get("Runtime", "python3.11")),
                timeout_seconds=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                environment=environment,
                role_name=resolver.role_name(role),
                policies=_role_policies(template, resolver, role),
                task_root=task_root,
                reserved_concurrency=(
                    int(props["ReservedConcurrentExecutions"])
                    if props.get("ReservedConcurrentExecutions") is not None
                    else None
                ),
                async_retries=int(invoke.get("MaximumRetryAttempts", 2)),
                async_max_age_seconds=int(invoke.get("MaximumEventAgeInSeconds", 21600)),
                dead_letter_arn=(props.get("DeadLetterConfig") or {}).get("TargetArn"),
            )
        )
    for _, resource in _of_type(template, "AWS::SSM::Parameter"):
        props = resolver.resolve(resource["Properties"])
        deployment.ssm_parameters[str(props["Name"])] = _local_url(str(props["Value"]), urls)
    for _, resource in _of_type(template, "AWS::SNS::Subscription"):
        props = resolver.resolve(resource["Properties"])
        if props.get("Protocol") == "lambda":
            deployment.subscriptions.append(
                (str(props["TopicArn"]), _function_of_arn(str(props["Endpoint"])))
            )
    for logical, resource in _of_type(template, "AWS::Events::Rule"):
        props = resolver.resolve(resource["Properties"])
        if "ScheduleExpression" not in props or props.get("State", "ENABLED") != "ENABLED":
            continue
        rule = f"arn:aws:events:{context.region}:{context.account}:rule/{logical}"
        for target in props.get("Targets", []):
            deployment.schedules.append(
                Schedule(rule, str(props["ScheduleExpression"]), _function_of_arn(target["Arn"]))
            )
    for _, resource in _of_type(template, "AWS::Lambda::EventSourceMapping"):
        props = resolver.resolve(resource["Properties"])
        failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        deployment.streams.append(
            StreamMapping(
                function=str(props["FunctionName"]),
                stream_arn=str(props["EventSourceArn"]),
                batch_size=int(props.get("BatchSize", 100)),
                starting_position=str(props.get("StartingPosition", "LATEST")),
                filters=FilterCriteria.from_template(props.get("FilterCriteria")),
                max_retries=int(props.get("MaximumRetryAttempts", -1)),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                on_failure_arn=failure,
                max_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
            )
        )
    for logical, resource in _of_type(template, "AWS::ApiGateway::RestApi"):
        swagger = resolver.resolve((resource.get("Properties") or {}).get("Body") or {})
        stages = [
            str(resolver.resolve(r["Properties"]["StageName"]))
            for _, r in _of_type(template, "AWS::ApiGateway::Stage")
            if (r["Properties"].get("RestApiId") or {}).get("Ref") == logical
        ]
        deployment.rest_apis.append(
            RestApi(str(resolver.ref(logical)), stages[0] if stages else "api", swagger)
        )
    for logical, resource in _of_type(template, "AWS::ApiGatewayV2::Api"):
        if (resource.get("Properties") or {}).get("ProtocolType") != "WEBSOCKET":
            continue
        deployment.websocket_apis.append(_websocket_api(template, resolver, logical))
    return deployment


def _role_logical_id(function: Mapping[str, Any]) -> str:
    role = (function.get("Properties") or {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    raise TemplateError(f"a function's Role must be its stack's role (GetAtt ...Arn), not {role}")


def _role_policies(
    template: Mapping[str, Any], resolver: Resolver, role: str
) -> list[dict[str, Any]]:
    """The role's inline policies, resolved (managed policies hold nothing our code calls:
    X-Ray's write access only)."""
    props = (template["Resources"][role].get("Properties")) or {}
    return [resolver.resolve(policy["PolicyDocument"]) for policy in props.get("Policies") or []]


def _websocket_api(template: Mapping[str, Any], resolver: Resolver, logical: str) -> WebSocketApi:
    integrations = {
        integration: _function_of_arn(
            str(resolver.resolve(resource["Properties"]["IntegrationUri"]))
        )
        for integration, resource in _of_type(template, "AWS::ApiGatewayV2::Integration")
    }
    routes: dict[str, str] = {}
    for _, resource in _of_type(template, "AWS::ApiGatewayV2::Route"):
        props = resource["Properties"]
        if (props.get("ApiId") or {}).get("Ref") != logical:
            continue
        target = props.get("Target") or {}
        parts = target.get("Fn::Join", ["", []])[1] if isinstance(target, dict) else []
        integration = next((p["Ref"] for p in parts if isinstance(p, dict) and "Ref" in p), None)
        if integration in integrations:
            routes[str(props["RouteKey"])] = integrations[integration]
    stage = next(
        str(resolver.resolve(r["Properties"]["StageName"]))
        for _, r in _of_type(template, "AWS::ApiGatewayV2::Stage")
        if (r["Properties"].get("ApiId") or {}).get("Ref") == logical
    )
    return WebSocketApi(str(resolver.ref(logical)), stage, routes)


def _url_map(
    template: Mapping[str, Any], resolver: Resolver, context: LocalContext
) -> list[tuple[str, str]]:
    """(API Gateway URL, local URL) for each API the template defines."""
    region = context.region
    mapped: list[tuple[str, str]] = []
    for logical, _ in _of_type(template, "AWS::ApiGateway::RestApi"):
        api = resolver.ref(logical)
        for _, stage in _of_type(template, "AWS::ApiGateway::Stage"):
            name = resolver.resolve(stage["Properties"]["StageName"])
            mapped.append(
                (f"https://{api}.execute-api.{region}.amazonaws.com/{name}", context.rest_url)
            )
    for logical, resource in _of_type(template, "AWS::ApiGatewayV2::Api"):
        if (resource.get("Properties") or {}).get("ProtocolType") != "WEBSOCKET":
            continue
        api = resolver.ref(logical)
        for _, stage in _of_type(template, "AWS::ApiGatewayV2::Stage"):
            name = resolver.resolve(stage["Properties"]["StageName"])
            host = f"{api}.execute-api.{region}.amazonaws.com/{name}"
            mapped.append((f"wss://{host}", context.websocket_url))
            mapped.append((f"https://{host}", f"{context.management_url}/{api}/{name}"))
    return mapped


def _local_url(value: str, urls: list[tuple[str, str]]) -> str:
    for remote, local in urls:
        if value == remote or value.startswith(remote + "/"):
            return local + value[len(remote) :]
    return value


LAMBDA_TASK_ROOT = "/var/task"


def _local_path(value: str, task_root: Path) -> str:
    """Lambda unpacks the zip into /var/task; here that is the unpacked folder."""
    if value == LAMBDA_TASK_ROOT or value.startswith(LAMBDA_TASK_ROOT + "/"):
        return str(task_root) + value[len(LAMBDA_TASK_ROOT) :]
    return value
