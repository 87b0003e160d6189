"""Each function's IAM policy against the AWS calls its code really makes.

The functions' functional tests (the `recorded_by` modules in infra/deploy/functions.py)
run once, in a subprocess, under the call recorder (record_calls.py), which charges
each call to the function whose package made it. Every recorded
call is mapped to the IAM actions and resources it needs (iam.CallMapper:
TransactWriteItems to the per-item actions, SESv2 SendEmail with raw content to
ses:SendEmail and ses:SendRawEmail, a query on an index to that index, an object to
its bucket prefix, ...). The test fails on a permission the code needs and the policy
lacks, and on one the policy grants and the code never uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from infra.deploy import functions, iam

REPO = Path(__file__).resolve().parents[2]
# infra/shared.yaml with Stage=test, as tests/functional/conftest.py creates it
TABLE = "helpline-test-tickets"
BUCKET = "helpline-test-mail-123456789012-us-east-1"
QUEUE_URLS = {
    **{
        team: f"https://sqs.us-east-1.amazonaws.com/123456789012/helpline-test-route-{team}"
        for team in ("english", "spanish", "russian", "arabic")
    },
    "escalation": "https://sqs.us-east-1.amazonaws.com/123456789012/helpline-test-escalation",
}


def _recorded_functions() -> list[functions.FunctionSpec]:
    return [spec for spec in functions.discover() if spec.recorded_by]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """function name -> the calls its code made."""
    specs = _recorded_functions()
    modules = sorted({module for spec in specs for module in spec.recorded_by})
    out = tmp_path_factory.mktemp("calls") / "calls.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HELPLINE_"))}
    env["HELPLINE_RECORD_CALLS"] = str(out)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.deploy.record_calls",
            *modules,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    # a failing test records only part of what its function does: fix it first
    failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert result.returncode == 0, (
        "the functional tests the IAM check records did not pass:\n"
        + "\n".join(failed or result.stdout.splitlines()[-20:])
    )
    calls: dict[str, list[dict]] = defaultdict(list)
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        calls[record["function"]].append(record)
    return calls


def _needed(
    spec: functions.FunctionSpec, calls: dict[str, list[dict]]
) -> dict[tuple[str, str], str]:
    from functions.core.config import load_config
    from infra.deploy.package import function_secret_refs
    from infra.local.resources import DEMO_CONFIG

    secrets = {ref.name for ref in function_secret_refs(load_config(DEMO_CONFIG), spec)}
    mapper = iam.CallMapper(
        TABLE,
        BUCKET,
        QUEUE_URLS,
        frozenset(secrets),
        public_url_parameters=frozenset({f"/helpline/test/{spec.slug}/public-url"}),
    )
    needed: dict[tuple[str, str], str] = {}
    assert calls.get(spec.name), f"{spec.name} made no AWS call under the recorder"
    tests = {call["test"].split("::")[0] for call in calls[spec.name]}
    assert set(spec.recorded_by) <= tests, (
        f"{spec.name}: no call from {set(spec.recorded_by) - tests}"
    )
    for call in calls[spec.name]:
        for pair in mapper.needs(call["service"], call["operation"], call["params"]):
            needed.setdefault(
                pair,
                f"{call['service']}.{call['operation']} at {call.get('where')} in {call['test']}",
            )
    return needed


@pytest.mark.parametrize("name", [spec.name for spec in _recorded_functions()])
def test_the_policy_grants_exactly_what_the_code_calls(name, recorded):
    from functions.core.config import load_config
    from infra.deploy.package import function_secret_refs
    from infra.local.resources import DEMO_CONFIG

    spec = functions.spec(name)
    needed = _needed(spec, recorded)
    # a secrets grant renders only the references of its kind the config has (the demo
    # config's are all in SSM; tests/e2e/test_packaged.py runs Secrets Manager ones)
    schemes = {ref.scheme for ref in function_secret_refs(load_config(DEMO_CONFIG), spec)}
    granted = {
        (action, resource)
        for action, resource in iam.granted_pairs(spec.grants)
        if not resource.startswith("secrets/") or resource.split("/", 1)[1] in schemes
    }
    missing = {pair: where for pair, where in needed.items() if pair not in granted}
    extra = granted - set(needed)
    assert not missing, f"{name} calls AWS without permission: {missing}"
    assert not extra, f"{name} is granted what its code never uses: {sorted(extra)}"


def test_functions_without_a_recorded_run_are_named():
    """A function that exists must say which tests exercise it, or its policy is unchecked."""
    unrecorded = [spec.name for spec in functions.discover() if not spec.recorded_by]
    if unrecorded:
        pytest.skip(
            "no recorded run yet for "
            + ", ".join(unrecorded)
            + ": set recorded_by in infra/deploy/functions.py to its functional test modules"
        )


def test_transactions_need_the_action_of_each_item():
    mapper = iam.CallMapper(TABLE, BUCKET, QUEUE_URLS)
    params = {
        "TransactItems": [
            {"Put": {"TableName": TABLE}},
            {"Update": {"TableName": TABLE}},
            {"ConditionCheck": {"TableName": TABLE}},
            {"Delete": {"TableName": TABLE}},
        ]
    }
    assert mapper.needs("dynamodb", "TransactWriteItems", params) == {
        ("dynamodb:PutItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:ConditionCheckItem", "table"),
        ("dynamodb:DeleteItem", "table"),
    }


def test_calls_are_mapped_to_their_resources():
    mapper = iam.CallMapper(
        TABLE, BUCKET, QUEUE_URLS, frozenset({"/helpline/dev/chat-agent-secret"})
    )
    assert mapper.needs("dynamodb", "Query", {"TableName": TABLE, "IndexName": "SlaDue"}) == {
        ("dynamodb:Query", "index/SlaDue")
    }
    assert mapper.needs("s3", "PutObject", {"Bucket": BUCKET, "Key": "social/raw/x.json"}) == {
        ("s3:PutObject", "bucket/social/raw/")
    }
    assert mapper.needs("sqs", "SendMessage", {"QueueUrl": QUEUE_URLS["escalation"]}) == {
        ("sqs:SendMessage", "queue/escalation")
    }
    assert mapper.needs("sesv2", "SendEmail", {"Content": {"Simple": {}}}) == {
        ("ses:SendEmail", "ses/sender")
    }
    assert mapper.needs("ssm", "GetParameter", {"Name": "/helpline/dev/chat-agent-secret"}) == {
        ("ssm:GetParameter", "secrets/ssm")
    }
    # anything outside the deployment is named, so it can never match a grant
    assert mapper.needs("s3", "GetObject", {"Bucket": "elsewhere", "Key": "raw/x"}) == {
        ("s3:GetObject", "other:bucket:elsewhere")
    }
