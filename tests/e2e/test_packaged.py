"""What ships, run as it runs in AWS: the local stack's functions are the packaged zips,
in processes of their own, allowed only what their roles' policies grant.

These are the deploy blockers a source-tree run could not see: a secret kept in Secrets
Manager (read with secretsmanager:GetSecretValue, which a role granting only
ssm:GetParameter refuses), and a function whose zip lacks a module it imports.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Stack, config_variant, start_stack

pytestmark = pytest.mark.e2e


def _secrets_in_secrets_manager(config: dict[str, Any]) -> None:
    """Every secret reference of the demo config, moved to Secrets Manager."""

    def move(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("ssm:/helpline/dev/"):
            return "secretsmanager:helpline/dev/" + value.removeprefix("ssm:/helpline/dev/")
        if isinstance(value, dict):
            return {key: move(item) for key, item in value.items()}
        if isinstance(value, list):
            return [move(item) for item in value]
        return value

    config.update(move(config))
    for calendar in config["calendars"].values():  # every team at work: replies go out
        calendar["hours"] = {"mon-sun": ["00:00-24:00"]}
        calendar.pop("holidays", None)
        calendar.pop("closures", None)


@pytest.fixture(scope="module")
def managed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    path = config_variant(
        tmp_path_factory.mktemp("managed-config"), "managed", _secrets_in_secrets_manager
    )
    yield from start_stack(tmp_path_factory.mktemp("managed-state"), "--config", str(path))


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _denials(stack: Stack) -> list[dict[str, Any]]:
    path = stack.state_dir / "lambda" / "iam-denials.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_secrets_kept_in_secrets_manager_are_read_under_the_functions_roles(managed_stack):
    stack = managed_stack
    base = stack.info["http_url"]
    # chat_ws signs the session with chat.session_secret
    status, session = _post(
        base + "/chat/session",
        json.dumps({"locale": "en"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, session
    assert session["token"] and session["ws_url"].startswith("ws://127.0.0.1:")

    # social_dm checks Telegram's secret token, then answers with the bot token
    update = {
        "update_id": 910001,
        "message": {
            "message_id": 41,
            "date": int(time.time()),
            "from": {"id": 5550042, "is_bot": False, "first_name": "Olga", "language_code": "ru"},
            "chat": {"id": 5550042, "type": "private"},
            "text": "Здравствуйте! Мой заказ до сих пор не пришёл, помогите, пожалуйста.",
        },
    }
    status, answer = _post(
        base + "/webhooks/telegram",
        json.dumps(update).encode(),
        {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": stack.info["telegram_secret_token"],
        },
    )
    assert status == 200 and answer["outcomes"] == {"created": 1}, answer
    sent = stack.wait_for(
        lambda: [m for m in stack.outbox() if m["channel"] == "telegram"], "the Telegram reply"
    )
    assert "sendMessage" in sent[0]["endpoint"]
    assert _denials(stack) == []


def test_every_function_of_the_stack_runs_from_its_package(managed_stack):
    stack = managed_stack
    names = stack.info["functions"]
    assert {
        "helpline-dev-email-on-inbound-mail",
        "helpline-dev-chat-ws-message",
        "helpline-dev-social-api",
        "helpline-dev-sla-sla-pass",
        "helpline-dev-survey-on-ticket-change",
    } <= set(names)
    task = stack.state_dir / "lambda" / "task"
    # what each worker runs is the zip `helpline package` built, unpacked
    for name in ("email_ingest", "chat_ws", "social_dm", "sla_timer", "survey"):
        assert (task / name / "app.py").is_file()
        assert (task / name / "config" / "helpline.yaml").is_file()
        assert not (task / name / "functions" / "survey").exists() or name == "survey"
        assert not (task / name / "boto3").exists()  # the runtime's, never the zip's


def test_the_deploy_preflight_runs_against_the_local_stack(managed_stack, tmp_path):
    """`helpline deploy --check` reads the account it is pointed at: here the local
    stack's AWS, whose secrets the stack created (all in Secrets Manager)."""
    import os
    import subprocess
    import sys

    from infra.local.state import local_aws_environment
    from tests.helpers import REPO

    stack = managed_stack
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HELPLINE_"))}
    env.update(local_aws_environment(stack.info["aws_endpoint"], stack.info["region"]))
    config = next((stack.state_dir / "config").glob("*.yaml"))
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "infra.cli", "deploy", "--stage", "dev", "--check"),
            *(
                "--config",
                str(config),
                "--out",
                str(tmp_path),
                "--receive-mail-for",
                "support@helpline.test",
            ),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ok      secrets: every secret the config references exists" in out
    assert "ok      concurrency: no reserved concurrency (account quota 1000" in out
    assert "ok      ses-receiving: no receipt rule set is active in us-east-1" in out
    assert "warning ses-sandbox" in out
    assert "preflight only: nothing was uploaded or changed" in out
