"""A deployed stage, as the `helpline` operations commands reach it.

`helpline tickets|quarantine|replay|queues|report|sla tick|customers|agents token
--stage prod` talk to a stage in your AWS account (the standard AWS configuration:
profile, environment, role) instead of the local stack. They read the settings the
functions themselves run with, from the deployed email function's environment (table,
bucket, routing queues, secrets...) and the shared stack's outputs (the dead-letter
queues), so a command does exactly what the function would, with the same core
services. Only the config file comes from your checkout, the one the stage was deployed
with (`--config`, default infra/config/<stage>.yaml, as for `helpline deploy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.state import StackNotRunningError

SETTINGS_FUNCTION = "email-on-inbound-mail"  # every function gets the shared settings
CHAT_FUNCTION = "chat-api"


class StageNotFoundError(StackNotRunningError):
    """No such stage in this account and region (the CLI prints it and exits 3)."""


@dataclass(frozen=True)
class StageTarget:
    """What Connection needs of a target: the resources it names and the environment
    the functions' wiring reads."""

    stage: str
    region: str
    resources: dict[str, Any]
    environment: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)
    http_url: str | None = None  # a stage has no local pages or fake platforms


def read_stage(
    stage: str, *, region: str | None, config_path: Path, session: Any | None = None
) -> StageTarget:
    import boto3
    from botocore.exceptions import ClientError

    session = session or (
        boto3.session.Session(region_name=region) if region else boto3.session.Session()
    )
    where = session.region_name or "the default region"
    lam = session.client("lambda")
    name = f"helpline-{stage}-{SETTINGS_FUNCTION}"
    try:
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        raise StageNotFoundError(
            f"no deployed stage {stage!r} in {where}: {name} does not exist "
            f"(deploy it with `helpline deploy --stage {stage}`, or pass --region)"
        ) from None
    outputs = _shared_outputs(session, stage)
    environment = {k: v for k, v in variables.items() if k.startswith("HELPLINE_")}
    environment["HELPLINE_CONFIG"] = str(config_path)
    extra: dict[str, Any] = {}
    try:
        chat = lam.get_function_configuration(FunctionName=f"helpline-{stage}-{CHAT_FUNCTION}")
        extra["chat_ws_url"] = chat["Environment"]["Variables"].get("HELPLINE_CHAT_WS_URL", "")
    except ClientError:
        pass  # a stage without live chat
    return StageTarget(
        stage=stage,
        region=session.region_name or "",
        resources={
            "mail_dlq_url": environment.get("HELPLINE_MAIL_DLQ_URL")
            or outputs.get("InboundMailDeadLetterQueueUrl"),
            "stream_dlq_url": outputs.get("StreamDeadLetterQueueUrl"),
        },
        environment=environment,
        extra=extra,
    )


def _shared_outputs(session: Any, stage: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = session.client("cloudformation").describe_stacks(
            StackName=f"helpline-{stage}-shared"
        )["Stacks"]
    except ClientError:
        return {}
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
