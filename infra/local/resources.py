"""The shared resources, built from infra/shared.yaml through CloudFormation.

Tests (moto in-process) and `helpline dev` (moto server) both call
`create_shared_stack`, so there is one definition of the table, queues, bucket and
topic: the template. moto's CloudFormation does not apply a table's
TimeToLiveSpecification; `apply_template_gaps` reads it from the same template and
applies it through the DynamoDB API, so even that comes from the one file.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

INFRA_DIR = Path(__file__).resolve().parents[1]
SHARED_TEMPLATE = INFRA_DIR / "shared.yaml"
DEMO_CONFIG = INFRA_DIR / "config" / "demo.yaml"


@dataclass(frozen=True)
class SharedResources:
    stack_name: str
    stage: str
    table: str
    table_stream_arn: str
    bucket: str
    inbound_topic_arn: str
    mail_dlq_url: str
    alarm_topic_arn: str
    queue_urls: dict[str, str]
    stream_dlq_url: str = ""

    def environment(self, *, config_path: str | Path | None = None) -> dict[str, str]:
        """The environment variables a function is deployed with."""
        from functions.core.config import (
            ENV_BUCKET,
            ENV_CONFIG_PATH,
            ENV_MAIL_DLQ_URL,
            ENV_QUEUE_URLS,
            ENV_STAGE,
            ENV_TABLE,
        )

        env = {
            ENV_TABLE: self.table,
            ENV_BUCKET: self.bucket,
            ENV_QUEUE_URLS: json.dumps(self.queue_urls),
            ENV_STAGE: self.stage,
            ENV_MAIL_DLQ_URL: self.mail_dlq_url,
            "HELPLINE_INBOUND_TOPIC": self.inbound_topic_arn,
            "HELPLINE_TABLE_STREAM_ARN": self.table_stream_arn,
        }
        if config_path:
            env[ENV_CONFIG_PATH] = str(config_path)
        return env

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML, keeping intrinsic functions as plain values."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"Fn::{tag_suffix}" if tag_suffix != "Ref" else "Ref": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = SHARED_TEMPLATE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return loaded


DEMO_TEAMS = ("english", "spanish", "russian", "arabic")  # infra/config/demo.yaml's


def _create_stack(cloudformation: Any, name: str, body: str, stage: str) -> dict[str, str]:
    """Create the stack unless it exists; its outputs."""
    existing = {
        s["StackName"]
        for s in cloudformation.describe_stacks().get("Stacks", [])
        if s.get("StackStatus") != "DELETE_COMPLETE"
    }
    if name not in existing:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
            Capabilities=["CAPABILITY_IAM"],
        )
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def create_shared_stack(
    session: Any,
    *,
    stage: str = "dev",
    template: Path = SHARED_TEMPLATE,
    teams: tuple[str, ...] = DEMO_TEAMS,
) -> SharedResources:
    """Create (or reuse) the shared stack and the teams' routing stack in the account
    `session` points at, from the same templates `helpline deploy` creates."""
    from infra.deploy import routing

    cloudformation = session.client("cloudformation")
    stack_name = f"helpline-{stage}-shared"
    outputs = _create_stack(cloudformation, stack_name, template.read_text(encoding="utf-8"), stage)
    routing_outputs = _create_stack(
        cloudformation,
        routing.stack_name(stage),
        json.dumps(routing.template(teams)),
        stage,
    )
    queue_urls = json.loads(
        routing.queue_urls_parameter(routing_outputs, outputs["EscalationQueueUrl"])
    )
    resources = SharedResources(
        stack_name=stack_name,
        stage=stage,
        table=outputs["TableName"],
        table_stream_arn=outputs["TableStreamArn"],
        bucket=outputs["MailBucketName"],
        inbound_topic_arn=outputs["InboundMailTopicArn"],
        mail_dlq_url=outputs["InboundMailDeadLetterQueueUrl"],
        alarm_topic_arn=outputs["AlarmTopicArn"],
        queue_urls=queue_urls,
        stream_dlq_url=outputs.get("StreamDeadLetterQueueUrl", ""),
    )
    apply_template_gaps(session, resources, load_template(template))
    apply_template_gaps(session, resources, routing.template(teams))
    return resources


def apply_template_gaps(session: Any, resources: SharedResources, template: dict[str, Any]) -> None:
    """Apply what moto's CloudFormation ignores (TTL, alarms), read from the template."""
    table = (template["Resources"].get("TicketTable") or {}).get("Properties") or {}
    ttl = table.get("TimeToLiveSpecification") or {}
    if ttl.get("Enabled"):
        dynamodb = session.client("dynamodb")
        current = dynamodb.describe_time_to_live(TableName=resources.table)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=resources.table,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    _create_alarms(session, resources, template)


def _resolve(value: Any, template: dict[str, Any], context: dict[str, str]) -> Any:
    """Resolve the few intrinsics the alarms use: Ref, Sub, the alarm topic's import and
    GetAtt Queue.QueueName."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return context.get(argument, argument)
        if name == "Fn::ImportValue":
            return context["AlarmTopic"]
        if name == "Fn::Sub":
            text = str(argument)
            for key, replacement in context.items():
                text = text.replace("${" + key + "}", replacement)
            return text
        if name == "Fn::GetAtt":
            logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            if attribute == "QueueName":
                properties = template["Resources"][logical]["Properties"]
                return _resolve(properties["QueueName"], template, context)
            raise ValueError(f"cannot resolve GetAtt {logical}.{attribute}")
    if isinstance(value, list):
        return [_resolve(v, template, context) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, template, context) for k, v in value.items()}
    return value


def _create_alarms(session: Any, resources: SharedResources, template: dict[str, Any]) -> None:
    cloudwatch = session.client("cloudwatch")
    context = {
        "Stage": resources.stage,
        "AlarmTopic": resources.alarm_topic_arn,
        "TicketTable": resources.table,
    }
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = _resolve(resource["Properties"], template, context)
        # one metric, or a query over several (`Metrics`, as a Metrics Insights alarm)
        metric: dict[str, Any] = (
            {"Metrics": props["Metrics"]}
            if "Metrics" in props
            else {
                "Namespace": props["Namespace"],
                "MetricName": props["MetricName"],
                "Dimensions": props.get("Dimensions", []),
                "Statistic": props["Statistic"],
                "Period": int(props["Period"]),
            }
        )
        cloudwatch.put_metric_alarm(
            AlarmName=props["AlarmName"],
            AlarmDescription=props.get("AlarmDescription", ""),
            EvaluationPeriods=int(props["EvaluationPeriods"]),
            Threshold=float(props["Threshold"]),
            ComparisonOperator=props["ComparisonOperator"],
            TreatMissingData=props.get("TreatMissingData", "missing"),
            AlarmActions=props.get("AlarmActions", []),
            **metric,
        )


def verify_sender_domain(session: Any, domain: str) -> None:
    """Let SES (moto) send from our domain, as a verified domain identity does in AWS."""
    sesv2 = session.client("sesv2")
    with contextlib.suppress(sesv2.exceptions.AlreadyExistsException):
        sesv2.create_email_identity(EmailIdentity=domain)
    # moto checks the v1 verified list when sending raw mail
    session.client("ses").verify_domain_identity(Domain=domain)


def secret_refs(config: Any) -> list[Any]:
    """Every secret reference a config holds (chat, social, surveys...), found by walking it."""
    import dataclasses
    from collections.abc import Mapping

    from functions.core.secrets import SecretRef

    found: list[SecretRef] = []
    seen: set[int] = set()

    def walk(value: Any) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, SecretRef):
            if value not in found:
                found.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for item in dataclasses.fields(value):
                if item.name != "raw":
                    walk(getattr(value, item.name))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | frozenset | set):
            for item in value:
                walk(item)

    walk(config)
    return found


def create_demo_secrets(session: Any, config: Any) -> dict[str, str]:
    """Give every secret the config references a fresh random value in the embedded
    AWS (SSM SecureString or Secrets Manager), as an admin would in their account."""
    import secrets as random

    values: dict[str, str] = {}
    ssm = session.client("ssm")
    manager = session.client("secretsmanager")
    for ref in secret_refs(config):
        value = random.token_urlsafe(32)
        if ref.scheme == "ssm":
            ssm.put_parameter(Name=ref.name, Value=value, Type="SecureString", Overwrite=True)
        else:
            try:
                manager.create_secret(Name=ref.name, SecretString=value)
            except manager.exceptions.ResourceExistsException:
                manager.put_secret_value(SecretId=ref.name, SecretString=value)
        values[str(ref)] = value
    return values


def config_with_fake_platforms(
    source: Path, folder: Path, base_url: str, *, survey_links: bool = True
) -> Path:
    """A copy of a config whose social platforms send to `base_url`/fake/<platform>
    (the local stack's fake platform API) instead of the real APIs. With `survey_links`
    survey links go to `base_url` too; the local stack leaves them to the survey
    function's own API address, as a deployment does. `base_url`'s origin joins
    `chat.allowed_origins`: the stack serves its demo shop page, widget included, there."""
    import shutil
    from urllib.parse import urlsplit

    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    chat = data.get("chat") or {}
    if chat:
        parts = urlsplit(base_url)
        origins = list(chat.get("allowed_origins") or [])
        # the demo shop as a browser opens it: 127.0.0.1 or localhost, same port
        for host in (parts.hostname, "localhost"):
            own = (
                f"{parts.scheme}://{host}:{parts.port}"
                if parts.port
                else f"{parts.scheme}://{host}"
            )
            if own not in origins:
                origins.append(own)
        chat["allowed_origins"] = origins
    surveys = data.get("surveys") or {}
    if surveys and survey_links:
        surveys["base_url"] = base_url  # the answer links open these /survey pages
    elif surveys:
        surveys.pop("base_url", None)
    social = data.get("social") or {}
    if social.get("meta"):
        social["meta"]["graph_base_url"] = f"{base_url}/fake/graph"
    if social.get("telegram"):
        social["telegram"]["base_url"] = f"{base_url}/fake/telegram"
    if social.get("x"):
        social["x"]["base_url"] = f"{base_url}/fake/x"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "config.yaml"
    target.write_text(
        "# written by helpline dev from "
        + str(source)
        + ": platform APIs point at the fake\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    holidays = source.with_name(source.stem + ".holidays.json")
    if holidays.is_file():
        shutil.copy(holidays, folder / "config.holidays.json")
    return target
