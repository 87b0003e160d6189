"""The local stack's Lambda: packaged functions in processes of their own, each AWS call
checked against the role's policy.

Every handler of every packaged function must import from its zip with only what
Lambda's Python runtime provides (a module the zip lacks is Lambda's ImportModuleError
here too, not a working source tree), and a call its role does not allow must fail as
IAM fails it, naming the grant.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import sam
from infra.local import artifacts
from infra.local.deployment import LocalContext, deploy
from infra.local.lambdas import LambdaFunction, LambdaService, RuntimeSettings

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _context(spec_name: str) -> LocalContext:
    exports = {
        f"helpline-test-{name}": value
        for name, value in {
            "TableName": "helpline-test-tickets",
            "TableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/helpline-test-tickets",
            "TableStreamArn": (
                f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/helpline-test-tickets/stream/x"
            ),
            "MailBucketName": "helpline-test-mail",
            "MailBucketArn": "arn:aws:s3:::helpline-test-mail",
            "RoutingQueueUrls": json.dumps({"english": "http://127.0.0.1:1/1/q"}),
            "InboundMailTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:helpline-test-inbound-mail",
            "InboundMailDeadLetterQueueUrl": "http://127.0.0.1:1/1/dlq",
            "InboundMailDeadLetterQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq",
            "StreamDeadLetterQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:stream-dlq",
            "AlarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
        }.items()
    }
    return LocalContext(
        stack_name=f"helpline-test-{spec_name}",
        region=REGION,
        account=ACCOUNT,
        parameters={
            "Stage": "test",
            "LogLevel": "WARNING",
            "RoutingQueueUrls": json.dumps({"english": "http://127.0.0.1:1/1/q"}),
        },
        exports=exports,
        rest_url="http://127.0.0.1:1",
        websocket_url="ws://127.0.0.1:1/chat",
        management_url="http://127.0.0.1:2",
    )


def _service(tmp_path: Path) -> LambdaService:
    return LambdaService(
        RuntimeSettings(
            runtime_site=artifacts.runtime_site(),
            work_dir=tmp_path / "lambda",
            account=ACCOUNT,
            region=REGION,
            # nothing listens there: a call that passes the IAM check fails to connect
            aws_environment={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
        )
    )


def test_every_packaged_handler_imports_from_its_zip_alone(packaged, tmp_path):
    service = _service(tmp_path)
    started = []
    try:
        for item in packaged:
            task_root = artifacts.unpack(item.zip_path, tmp_path / "task" / item.spec.name)
            template = sam.translate(item.template(), code_bucket="b", code_key="k", region=REGION)
            deployment = deploy(
                template, _context(item.spec.name), spec_name=item.spec.name, task_root=task_root
            )
            assert deployment.functions, item.spec.name
            for function in deployment.functions:
                service.add(function)
                environment = service._start(function)
                started.append(environment)
                init = environment.wait_ready(120)
                assert init["init"] == "ok", (function.name, _log(service, function))
    finally:
        for environment in started:
            environment.stop()


def _log(service: LambdaService, function: LambdaFunction) -> str:
    path = service.settings.work_dir / "logs" / f"{function.name}.log"
    return path.read_text(encoding="utf-8")[-3000:] if path.is_file() else ""


def _function(
    tmp_path: Path, name: str, source: str, policies: list[dict[str, Any]]
) -> LambdaFunction:
    task_root = tmp_path / name
    task_root.mkdir()
    (task_root / "app.py").write_text(source, encoding="utf-8")
    return LambdaFunction(
        name=name,
        logical_id=name,
        spec_name="example",
        handler="app.handler",
        runtime="python3.11",
        timeout_seconds=10,
        memory_mb=128,
        environment={},
        role_name=f"{name}-role",
        policies=policies,
        task_root=task_root,
    )


def test_a_module_missing_from_the_zip_is_lambdas_import_error(packaged, tmp_path):
    chat = next(item for item in packaged if item.spec.name == "email_ingest")
    task_root = artifacts.unpack(chat.zip_path, tmp_path / "task")
    # as if packaging had left out the function's own package
    shutil.rmtree(task_root / "functions" / "email_ingest")
    service = _service(tmp_path)
    function = LambdaFunction(
        name="helpline-test-email",
        logical_id="OnInboundMail",
        spec_name="email_ingest",
        handler="app.on_inbound_mail",
        runtime="python3.11",
        timeout_seconds=10,
        memory_mb=128,
        environment={},
        role_name="role",
        policies=[],
        task_root=task_root,
    )
    service.add(function)
    invocation = service.invoke(function.name, {"Records": []})
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'functions.email_ingest'" in invocation.error["errorMessage"]


CALLS_DYNAMODB = """
import boto3

def handler(event, context):
    try:
        boto3.client("dynamodb").get_item(TableName="tickets", Key={"PK": {"S": "x"}})
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return {"raised": type(exc).__name__, "code": code}
    return {"raised": None}
"""

ALLOW_GET = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/tickets"],
        }
    ],
}


def test_a_call_the_role_does_not_allow_is_refused_and_named(tmp_path):
    service = _service(tmp_path)
    function = _function(tmp_path, "reader", CALLS_DYNAMODB, [])
    service.add(function)
    invocation = service.invoke("reader", {})
    assert invocation.result == {"raised": "ClientError", "code": "AccessDeniedException"}
    [denial] = service.denials()
    assert denial["action"] == "dynamodb:GetItem"
    assert denial["resource"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/tickets"
    assert denial["function"] == "reader" and denial["spec"] == "example"
    log = _log(service, function)
    assert "may not dynamodb:GetItem" in log and "infra/deploy/functions.py" in log


def test_a_call_the_role_allows_goes_through(tmp_path):
    service = _service(tmp_path)
    service.add(_function(tmp_path, "reader", CALLS_DYNAMODB, [ALLOW_GET]))
    invocation = service.invoke("reader", {})
    # past IAM, it reaches the endpoint (nothing listens there in this test)
    assert invocation.result["raised"] == "EndpointConnectionError"
    assert service.denials() == []


def test_an_environment_is_kept_warm_and_a_timeout_kills_it(tmp_path):
    source = """
import os, time
STARTED = time.time()

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"pid": os.getpid(), "remaining": context.get_remaining_time_in_millis()}
"""
    service = _service(tmp_path)
    function = _function(tmp_path, "sleeper", source, [])
    service.add(function)
    first = service.invoke("sleeper", {})
    second = service.invoke("sleeper", {})
    assert first.cold and not second.cold
    assert first.result["pid"] == second.result["pid"]
    assert 0 < first.result["remaining"] <= 10_000
    timed_out = service.invoke("sleeper", {"sleep": 30})
    assert timed_out.error is not None and timed_out.error["errorType"] == "Sandbox.Timedout"
    after = service.invoke("sleeper", {})
    assert after.cold and after.result["pid"] != first.result["pid"]
    service.stop()


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
