"""A stage's life after its first deploy, against a moto server: deploying again keeps
what was set, a team is added and removed by a redeploy with no stack deleted, and the
stage can be destroyed and deployed again with its data.

moto enforces, through tests/deploy/moto_gaps.py, what CloudFormation and SES would:
an imported export cannot change, the active receipt rule set cannot be deleted, and
an IMPORT change set takes existing resources into a stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.core.config import load_config
from infra.cli import main
from infra.local.resources import DEMO_CONFIG, create_demo_secrets

STAGE = "life"
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def account(moto_server):
    moto_server.reset()
    session = moto_server.session()
    create_demo_secrets(session, load_config(DEMO_CONFIG))
    return session


def _config(folder: Path, *, french: bool) -> Path:
    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    if french:
        data["languages"]["supported"] = [*data["languages"]["supported"], "fr"]
        data["teams"]["french"] = {
            "name": "Support en français",
            "languages": ["fr"],
            "calendar": "madrid",
        }
        data["sla"]["team_leads"]["french"] = "lead.french@helpline.test"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("french.yaml" if french else "demo.yaml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    holidays = DEMO_CONFIG.with_name(DEMO_CONFIG.stem + ".holidays.json")
    path.with_name(path.stem + ".holidays.json").write_bytes(holidays.read_bytes())
    return path


def _run(*argv: str) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _deploy(config: Path, out: Path, *extra: str) -> str:
    code, text, err = _run(
        *[
            "deploy",
            "--stage",
            STAGE,
            "--config",
            str(config),
            "--out",
            str(out),
            "--only",
            "email_ingest",
            *extra,
        ]
    )
    assert code == 0, text + err
    return text


def _stack(session: Any, name: str) -> dict[str, Any]:
    return session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]


def _parameters(session: Any, name: str) -> dict[str, str]:
    return {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in _stack(session, name)["Parameters"]
    }


def _queue_urls(session: Any) -> dict[str, str]:
    function = session.client("lambda").get_function(
        FunctionName=f"helpline-{STAGE}-email-on-inbound-mail"
    )
    return json.loads(function["Configuration"]["Environment"]["Variables"]["HELPLINE_QUEUE_URLS"])


def _queues(session: Any) -> set[str]:
    urls = session.client("sqs").list_queues(QueueNamePrefix=f"helpline-{STAGE}-route-")
    return {url.rsplit("/", 1)[1] for url in urls.get("QueueUrls", [])}


@pytest.fixture(scope="module")
def first_deploy(account, tmp_path_factory):
    folder = tmp_path_factory.mktemp("life")
    out = _deploy(
        _config(folder, french=False),
        folder / "dist",
        "--alert-email",
        "ops@example.com",
    )
    return folder, out


def test_a_redeploy_without_the_alert_address_keeps_its_subscription(account, first_deploy):
    folder, _ = first_deploy
    assert _parameters(account, f"helpline-{STAGE}-shared")["AlertEmail"] == "ops@example.com"
    _deploy(_config(folder, french=False), folder / "dist")
    assert _parameters(account, f"helpline-{STAGE}-shared")["AlertEmail"] == "ops@example.com"


def test_a_team_added_to_the_config_gets_its_queue_with_no_stack_deleted(account, first_deploy):
    folder, _ = first_deploy
    before = _stack(account, f"helpline-{STAGE}-email")["StackId"]
    text = _deploy(_config(folder, french=True), folder / "dist")
    assert {f"helpline-{STAGE}-route-french", f"helpline-{STAGE}-route-french-dlq"} <= _queues(
        account
    )
    urls = _queue_urls(account)
    assert urls["french"].endswith(f"/helpline-{STAGE}-route-french")
    assert set(urls) == {"english", "spanish", "russian", "arabic", "french", "escalation"}
    email = _stack(account, f"helpline-{STAGE}-email")
    assert email["StackId"] == before and email["StackStatus"] == "UPDATE_COMPLETE"
    assert "DELETE" not in text.replace("DELETE_COMPLETE", "")
    # the function may route to it: its role names the new queue
    role = account.client("iam").list_roles()["Roles"]
    assert role


def test_a_team_removed_keeps_its_queue_while_it_holds_messages(account, first_deploy):
    folder, _ = first_deploy
    sqs = account.client("sqs")
    french = _queue_urls(account)["french"]
    sqs.send_message(QueueUrl=french, MessageBody=json.dumps({"event": "new_ticket"}))
    text = _deploy(_config(folder, french=False), folder / "dist")
    assert "team french left the config, but its queue still holds messages" in text
    assert f"helpline-{STAGE}-route-french" in _queues(account)
    assert "french" not in _queue_urls(account)  # nothing routes to it any more

    message = sqs.receive_message(QueueUrl=french)["Messages"][0]
    sqs.delete_message(QueueUrl=french, ReceiptHandle=message["ReceiptHandle"])
    _deploy(_config(folder, french=False), folder / "dist")
    assert f"helpline-{STAGE}-route-french" not in _queues(account)


def test_destroy_and_deploy_again_keep_the_data(account, first_deploy):
    folder, _ = first_deploy
    # mail is being received: the admin activated the rule set, as docs/deploy.md says
    _deploy(
        _config(folder, french=False),
        folder / "dist",
        "--receive-mail-for",
        "support@helpline.test",
    )
    ses = account.client("ses")
    ses.set_active_receipt_rule_set(RuleSetName=f"helpline-{STAGE}")
    table = f"helpline-{STAGE}-tickets"
    dynamodb = account.client("dynamodb")
    dynamodb.put_item(
        TableName=table, Item={"PK": {"S": "TICKET#KEEPME0001"}, "SK": {"S": "TICKET"}}
    )

    code, text, err = _run("destroy", "--stage", STAGE, "--shared", "--yes")
    assert code == 0, text + err
    assert "deactivating the receipt rule set" in text
    live = {
        s["StackName"]
        for s in account.client("cloudformation").describe_stacks()["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }
    assert not any(name.startswith(f"helpline-{STAGE}-") for name in live)
    assert "Metadata" not in ses.describe_active_receipt_rule_set()

    text = _deploy(_config(folder, french=False), folder / "dist")
    assert "taking back" in text and table in text
    assert _stack(account, f"helpline-{STAGE}-shared")["StackStatus"].endswith("_COMPLETE")
    kept = dynamodb.get_item(
        TableName=table, Key={"PK": {"S": "TICKET#KEEPME0001"}, "SK": {"S": "TICKET"}}
    )
    assert "Item" in kept
