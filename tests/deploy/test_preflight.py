"""Bad input stops `helpline deploy` before anything is uploaded, with the reason; a
failed stack update exits non-zero naming the resource and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from functions.core.config import load_config
from infra.cli import main
from infra.deploy.stacks import Plan, StackError, Stacks, Waits
from infra.local.resources import DEMO_CONFIG, create_demo_secrets
from tests.deploy.conftest import demo_config_copy


def _nothing_uploaded(session):
    buckets = [b["Name"] for b in session.client("s3").list_buckets().get("Buckets", [])]
    assert not [b for b in buckets if "artifacts" in b], buckets
    assert session.client("cloudformation").describe_stacks()["Stacks"] == []


@pytest.fixture
def fresh(moto_server):
    moto_server.reset()
    return moto_server.session()


def test_a_stage_name_with_invalid_characters_stops_at_once(fresh, capsys, tmp_path):
    code = main(
        ["deploy", "--stage", "Prod_1", "--config", str(DEMO_CONFIG), "--out", str(tmp_path)]
    )
    assert code == 1
    assert "stage 'Prod_1' is not a valid name" in capsys.readouterr().err
    _nothing_uploaded(fresh)


def test_a_config_that_fails_validation_names_the_field(fresh, capsys, tmp_path):
    config = demo_config_copy(tmp_path, ("calendar: madrid", "calendar: madird"))
    code = main(
        ["deploy", "--stage", "test", "--config", str(config), "--out", str(tmp_path / "d")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "teams.spanish.calendar" in err and "madird" in err
    _nothing_uploaded(fresh)


def test_team_names_the_queues_cannot_tell_apart_are_refused():
    from infra.deploy import routing

    with pytest.raises(routing.RoutingError, match="differ only in punctuation"):
        routing.template(["russian_b2b", "russian-b2b"])
    assert set(routing.template(["english", "spanish-b2b"])["Resources"]) >= {
        "EnglishQueue",
        "SpanishB2bQueue",
        "SpanishB2bDeadLetterQueue",
        "SpanishB2bAgeAlarm",
    }


def _with_reservations(tmp_path, reservations):
    config = demo_config_copy(tmp_path)
    lines = "".join(f"    {name}: {count}\n" for name, count in reservations.items())
    with config.open("a", encoding="utf-8") as file:
        file.write(f"\ndeployment:\n  reserved_concurrency:\n{lines}")
    return config


@pytest.fixture
def small_account(fresh):
    """An account with the quota of 10 concurrent executions many new accounts have."""
    from infra.local import account

    saved = account.SETTINGS.concurrency_quota
    account.SETTINGS.concurrency_quota = 10
    create_demo_secrets(fresh, load_config(DEMO_CONFIG))
    yield fresh
    account.SETTINGS.concurrency_quota = saved


def test_reserved_concurrency_the_accounts_quota_cannot_give_stops_before_upload(
    small_account, capsys, tmp_path
):
    config = _with_reservations(tmp_path, {"email_ingest": 10, "sla_timer": 1})
    code = main(
        ["deploy", "--stage", "test", "--config", str(config), "--out", str(tmp_path / "d")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "quota is 10" in err and "keeps 100 unreserved" in err
    assert "deployment.reserved_concurrency" in err and "Service Quotas" in err
    _nothing_uploaded(small_account)


def test_without_reservations_a_small_account_passes_the_preflight(small_account, capsys, tmp_path):
    code = main(
        [
            "deploy",
            "--stage",
            "test",
            "--config",
            str(DEMO_CONFIG),
            "--out",
            str(tmp_path),
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ok      concurrency: no reserved concurrency (account quota 10" in out


def test_a_reservation_for_an_unknown_function_names_the_field(fresh, capsys, tmp_path):
    config = _with_reservations(tmp_path, {"email": 5})
    code = main(
        ["deploy", "--stage", "test", "--config", str(config), "--out", str(tmp_path / "d")]
    )
    assert code == 1
    assert "deployment.reserved_concurrency.email: no such function" in capsys.readouterr().err
    _nothing_uploaded(fresh)


def test_the_ses_checks_say_what_to_do(fresh, capsys, tmp_path):
    create_demo_secrets(fresh, load_config(DEMO_CONFIG))
    ses = fresh.client("ses")
    ses.create_receipt_rule_set(RuleSetName="company-mail")
    ses.set_active_receipt_rule_set(RuleSetName="company-mail")
    code = main(
        [
            "deploy",
            "--stage",
            "test",
            "--config",
            str(DEMO_CONFIG),
            "--out",
            str(tmp_path),
            "--dry-run",
            "--receive-mail-for",
            "support@helpline.test",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out  # warnings: the deploy goes on, the person decides
    assert "the active receipt rule set in us-east-1 is company-mail" in out
    assert "add Helpline's rule to company-mail" in out
    assert "is in the sandbox" in out and "production access" in out
    assert "ses-receiving" in out and "ses-sandbox" in out


def test_a_missing_secret_reference_is_named_and_nothing_is_uploaded(fresh, capsys, tmp_path):
    create_demo_secrets(fresh, load_config(DEMO_CONFIG))
    fresh.client("ssm").delete_parameter(Name="/helpline/dev/chat-agent-secret")
    code = main(
        [
            "deploy",
            "--stage",
            "test",
            "--config",
            str(DEMO_CONFIG),
            "--out",
            str(tmp_path),
            "--dry-run",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "ssm:/helpline/dev/chat-agent-secret" in err and "do not exist" in err
    _nothing_uploaded(fresh)


def test_a_template_cfn_lint_rejects_stops_before_upload(fresh, tmp_path):
    from infra.deploy.deploy import DeployError, lint_all

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicNam: x\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DeployError, match=r"cfn-lint rejects the templates:\n.*broken.yaml:5: E3002"
    ):
        lint_all([broken])


def test_a_failed_update_names_the_failing_resource_and_its_reason():
    client = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    now = datetime.now(UTC) + timedelta(seconds=5)
    stubber.add_response(
        "execute_change_set", {}, {"ChangeSetName": "cs-1", "StackName": "helpline-prod-chat"}
    )
    events = {
        "StackEvents": [
            {
                "StackId": "id",
                "EventId": "3",
                "StackName": "helpline-prod-chat",
                "LogicalResourceId": "helpline-prod-chat",
                "ResourceType": "AWS::CloudFormation::Stack",
                "Timestamp": now,
                "ResourceStatus": "UPDATE_ROLLBACK_COMPLETE",
            },
            {
                "StackId": "id",
                "EventId": "2",
                "StackName": "helpline-prod-chat",
                "LogicalResourceId": "APIHandler",
                "ResourceType": "AWS::Lambda::Function",
                "Timestamp": now,
                "ResourceStatus": "UPDATE_FAILED",
                "ResourceStatusReason": (
                    'Resource handler returned message: "Unzipped size must be smaller than '
                    '262144000 bytes"'
                ),
            },
        ]
    }
    stubber.add_response("describe_stack_events", events)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "helpline-prod-chat",
                    "CreationTime": now,
                    "StackStatus": "UPDATE_ROLLBACK_COMPLETE",
                }
            ]
        },
    )
    stubber.add_response("describe_stack_events", events)
    printed: list[str] = []
    with stubber:
        stacks = Stacks(client, out=printed.append, waits=Waits(delay_seconds=0, timeout_seconds=5))
        with pytest.raises(StackError) as failure:
            stacks.apply(Plan("helpline-prod-chat", "cs-1", "UPDATE"))
    message = str(failure.value)
    assert "helpline-prod-chat ended UPDATE_ROLLBACK_COMPLETE" in message
    assert "APIHandler (AWS::Lambda::Function)" in message and "Unzipped size" in message
    assert any("APIHandler" in line and "UPDATE_FAILED" in line for line in printed)


def test_destroy_without_a_terminal_asks_for_yes(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["destroy", "--stage", "test", "--shared"]) == 1
    assert "pass --yes to confirm" in capsys.readouterr().err


def test_config_plan_prints_what_each_function_uses(capsys):
    assert main(["config", "plan", str(DEMO_CONFIG), "--stage", "prod"]) == 0
    out = capsys.readouterr().out
    assert "email_ingest -> stack helpline-prod-email" in out
    assert "HELPLINE_TABLE                 export helpline-prod-TableName" in out
    assert "ssm:/helpline/dev/chat-session-secret" in out
    assert "index/SlaDue" in out and "execute-api:ManageConnections" in out
