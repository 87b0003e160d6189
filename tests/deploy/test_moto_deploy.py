"""`helpline deploy` against a moto server: change sets for the shared stack and every
function, the deployed wiring, the endpoints, and `helpline destroy`.

moto has no WebSocket APIs, SES receipt rules, alarms or bucket and topic policies in
its CloudFormation; for those the test asserts on the template the stack was really
created from (GetTemplate), never skips them. moto_gaps.py patches what its change
sets lack (exports, and REST APIs from a Swagger body).
"""

from __future__ import annotations

import ast
import json

import pytest

from functions.core.config import load_config
from infra.cli import main
from infra.deploy import cfn, functions
from infra.deploy.package import SHARED_TEMPLATE
from infra.local.resources import DEMO_CONFIG, create_demo_secrets

STAGE = "test"


@pytest.fixture(scope="module")
def deployed(moto_server, tmp_path_factory):
    """A fresh moto server: a dry run, then the real deploy; their printed output."""
    moto_server.reset()
    session = moto_server.session()
    create_demo_secrets(session, load_config(DEMO_CONFIG))
    out = tmp_path_factory.mktemp("dist")
    return session, out


@pytest.fixture(scope="module")
def present():
    """The functions that exist when this module starts (others may land meanwhile)."""
    return functions.discover()


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _only(specs):
    return [arg for spec in specs for arg in ("--only", spec.name)]


def _deploy_args(out, *extra):
    return ["deploy", "--stage", STAGE, "--config", str(DEMO_CONFIG), "--out", str(out), *extra]


@pytest.fixture(scope="module")
def dry_run_output(deployed, present):
    import contextlib
    import io

    _, out = deployed
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            _deploy_args(
                out, "--dry-run", "--receive-mail-for", "support@helpline.test", *_only(present)
            )
        )
    return code, buffer.getvalue()


@pytest.fixture(scope="module")
def deploy_output(deployed, present, dry_run_output):
    import contextlib
    import io

    _, out = deployed
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            _deploy_args(out, "--receive-mail-for", "support@helpline.test", *_only(present))
        )
    return code, buffer.getvalue()


def test_a_dry_run_prints_the_change_sets_of_the_shared_stack_and_every_function(
    deployed, present, dry_run_output
):
    session, _ = deployed
    code, text = dry_run_output
    assert code == 0, text
    shared = cfn.load(SHARED_TEMPLATE)["Resources"]
    assert f"helpline-test-shared: create, {len(shared)} change(s)" in text
    assert "Add      TicketTable" in text and "AWS::DynamoDB::Table" in text
    for spec in present:
        assert f"{spec.stack_name(STAGE)}: create" in text, spec.name
    assert "Add      OnInboundMail " in text and "AWS::Lambda::Function" in text
    assert "AWS::SNS::Subscription" in text
    assert "dry run: nothing was changed" in text
    # and nothing was: no stack is left behind, only the artifacts bucket exists
    stacks = session.client("cloudformation").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_the_deploy_creates_every_stack_and_prints_the_endpoints(deployed, present, deploy_output):
    session, _ = deployed
    code, text = deploy_output
    assert code == 0, text
    statuses = {
        s["StackName"]: s["StackStatus"]
        for s in session.client("cloudformation").describe_stacks()["Stacks"]
    }
    expected = ["helpline-test-shared", "helpline-test-routing", "helpline-test-mail"] + [
        spec.stack_name(STAGE) for spec in present
    ]
    for name in expected:
        assert statuses.get(name) == "CREATE_COMPLETE", (name, statuses)
    assert "CREATE_COMPLETE" in text  # progress lines from the stack events
    assert "endpoints:" in text
    assert "/chat/widget.js" in text and "/chat/session" in text
    if "social_dm" in {s.name for s in present}:
        assert "/webhooks/meta" in text and "/webhooks/telegram" in text


def test_functions_get_the_shared_resources_in_their_environment(deployed, deploy_output):
    session, _ = deployed
    lam = session.client("lambda")
    deployed_functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}

    def outputs(stack):
        return {
            o["OutputKey"]: o["OutputValue"]
            for o in session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0][
                "Outputs"
            ]
        }

    # the teams' queues (the routing stack) and the escalation queue (the shared one)
    queue_urls = {
        **json.loads(outputs("helpline-test-routing")["RoutingQueueUrls"]),
        "escalation": outputs("helpline-test-shared")["EscalationQueueUrl"],
    }
    assert set(queue_urls) == {"english", "spanish", "russian", "arabic", "escalation"}
    mail = deployed_functions["helpline-test-email-on-inbound-mail"]
    variables = mail["Environment"]["Variables"]
    assert variables["HELPLINE_TABLE"] == "helpline-test-tickets"
    assert variables["HELPLINE_BUCKET"].startswith("helpline-test-mail-")
    assert json.loads(variables["HELPLINE_QUEUE_URLS"]) == queue_urls
    assert variables["HELPLINE_MAIL_DLQ_URL"].endswith("/helpline-test-inbound-mail-dlq")
    assert variables["HELPLINE_CONFIG"] == "/var/task/config/helpline.yaml"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "email_ingest"
    assert mail["MemorySize"] == 512 and mail["Timeout"] == 60
    # nothing reserved unless the config's deployment section asks (the preflight checks)
    concurrency = lam.get_function_concurrency(FunctionName="helpline-test-email-on-inbound-mail")
    assert "ReservedConcurrentExecutions" not in concurrency
    # moto's CloudFormation passes no tracing, dead-letter or logging settings on to the
    # function: they are checked in the template the stack was created from
    template = session.client("cloudformation").get_template(StackName="helpline-test-email")[
        "TemplateBody"
    ]
    props = (template if isinstance(template, dict) else json.loads(template))["Resources"][
        "OnInboundMail"
    ]["Properties"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["DeadLetterConfig"]["TargetArn"] == {
        "Fn::ImportValue": {"Fn::Sub": "helpline-${Stage}-InboundMailDeadLetterQueueArn"}
    }
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "OnInboundMailLogGroup"}
    groups = session.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/lambda/helpline-test-"
    )
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups["logGroups"]}[
        "/aws/lambda/helpline-test-email-on-inbound-mail"
    ] == 30
    for name in ("api", "ws-connect", "ws-message", "ws-disconnect", "housekeeping"):
        chat = deployed_functions[f"helpline-test-chat-{name}"]["Environment"]["Variables"]
        assert chat["HELPLINE_TABLE"] == "helpline-test-tickets"
        assert chat["POWERTOOLS_SERVICE_NAME"] == "chat_ws"


def test_event_sources_are_wired(deployed, deploy_output):
    session, _ = deployed
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in session.client("cloudformation").describe_stacks(StackName="helpline-test-shared")[
            "Stacks"
        ][0]["Outputs"]
    }
    # SES -> SNS -> email_ingest: SNS may invoke the function (moto has no SNS
    # subscriptions in CloudFormation: the subscription is read from the template)
    policy = json.loads(
        session.client("lambda").get_policy(FunctionName="helpline-test-email-on-inbound-mail")[
            "Policy"
        ]
    )
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == outputs["InboundMailTopicArn"]
    mail_template = session.client("cloudformation").get_template(StackName="helpline-test-email")[
        "TemplateBody"
    ]
    mail_resources = (
        mail_template if isinstance(mail_template, dict) else json.loads(mail_template)
    )["Resources"]
    [subscription] = [r for r in mail_resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["Properties"]["Protocol"] == "lambda"
    assert subscription["Properties"]["Endpoint"] == {"Fn::GetAtt": ["OnInboundMail", "Arn"]}
    assert subscription["Properties"]["TopicArn"] == {
        "Fn::ImportValue": {"Fn::Sub": "helpline-${Stage}-InboundMailTopicArn"}
    }
    # the chat housekeeping schedule
    events = session.client("events")
    rules = [
        r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "rate(1 minute)"
    ]
    assert rules, "no one-minute schedule"
    targets = [
        t["Arn"]
        for rule in rules
        for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    ]
    assert any(arn.endswith(":function:helpline-test-chat-housekeeping") for arn in targets)
    # the WebSocket routes (moto has no ApiGatewayV2 in CloudFormation: read the template)
    template = session.client("cloudformation").get_template(StackName="helpline-test-chat")[
        "TemplateBody"
    ]
    resources = (template if isinstance(template, dict) else json.loads(template))["Resources"]
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]["Target"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert set(routes) == {"$connect", "$default", "$disconnect"}
    assert resources["WebsocketConnect"]["Type"] == "AWS::Lambda::Function"


def test_the_routing_queues_redrive_to_their_dead_letter_queues(deployed, deploy_output):
    session, _ = deployed
    sqs = session.client("sqs")
    for team in ("english", "spanish", "russian", "arabic"):
        url = sqs.get_queue_url(QueueName=f"helpline-test-route-{team}")["QueueUrl"]
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
                "RedrivePolicy"
            ]
        )
        assert policy["deadLetterTargetArn"].endswith(f":helpline-test-route-{team}-dlq")
        assert int(policy["maxReceiveCount"]) == 5


def test_the_roles_are_the_least_privilege_ones(deployed, deploy_output):
    session, _ = deployed
    iam_client = session.client("iam")
    roles = [r for r in iam_client.list_roles()["Roles"] if "email" in r["RoleName"]]
    assert roles
    found = []
    for role in roles:
        for name in iam_client.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
            document = iam_client.get_role_policy(RoleName=role["RoleName"], PolicyName=name)[
                "PolicyDocument"
            ]
            if isinstance(document, str):
                # moto keeps a policy created by CloudFormation as the Python repr of it
                document = ast.literal_eval(document)
            found += document["Statement"]
    actions = {
        a for s in found for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "s3:GetObject" in actions and "logs:CreateLogGroup" not in actions
    resources = [
        r
        for s in found
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert resources and "*" not in resources
    assert any(r.endswith(":helpline-test-route-english") for r in resources)  # imports resolved


def test_a_second_dry_run_finds_no_changes(deployed, present, deploy_output, capsys):
    _, out = deployed
    code, text, _ = _run(capsys, *_deploy_args(out, "--dry-run", *_only(present)))
    assert code == 0
    assert "helpline-test-shared: no changes" in text
    # packaging is deterministic, so an unchanged tree plans nothing; in a working tree
    # others edit meanwhile, new code may only update functions in place
    for spec in present:
        name = spec.stack_name(STAGE)
        if f"{name}: no changes" in text:
            continue
        section = text.split(f"{name}: update", 1)[1].split("\nhelpline-", 1)[0]
        rows = [line.split() for line in section.splitlines()[2:] if line.strip()]
        assert rows and all(
            # moto reports no Replacement ("-"); CloudFormation says False
            row[0] == "Modify" and row[2] == "AWS::Lambda::Function" and row[3] in ("False", "-")
            for row in rows
        ), section


def test_the_operations_commands_reach_the_deployed_stage(deployed, deploy_output, capsys):
    """A mail dead-lettered in the stage (as Lambda does after its retries) is listed,
    replayed into the stage's table and found there: the commands read the settings of
    the deployed functions, not the local stack."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    from infra.local import ses

    session, _ = deployed
    lam = session.client("lambda")
    variables = lam.get_function_configuration(FunctionName="helpline-test-email-on-inbound-mail")[
        "Environment"
    ]["Variables"]
    mail = EmailMessage()
    mail["From"] = "Jonas Berg <jonas@kund.example>"
    mail["To"] = "support@helpline.test"
    mail["Subject"] = "Wrong size delivered"
    mail["Message-ID"] = make_msgid(domain="kund.example")
    mail.set_content("Hello, I ordered the jacket in M and received an XL. Can I swap it?")
    raw = mail.as_bytes()
    session.client("s3").put_object(Bucket=variables["HELPLINE_BUCKET"], Key="inbound/x1", Body=raw)
    topic = variables.get("HELPLINE_INBOUND_TOPIC", "arn:aws:sns:us-east-1:123456789012:t")
    event = ses.sns_event(
        ses.receipt_notification(
            raw,
            bucket=variables["HELPLINE_BUCKET"],
            key="inbound/x1",
            topic_arn=topic,
            envelope_from="jonas@kund.example",
            recipients=["support@helpline.test"],
        ),
        topic_arn=topic,
    )
    session.client("sqs").send_message(
        QueueUrl=variables["HELPLINE_MAIL_DLQ_URL"],
        MessageBody=json.dumps(event),
        MessageAttributes={
            "ErrorCode": {"DataType": "String", "StringValue": "ThrottlingException"},
            "ErrorMessage": {"DataType": "String", "StringValue": "Rate exceeded"},
        },
    )
    stage = ["--stage", STAGE, "--stage-config", str(DEMO_CONFIG)]

    code, out, err = _run(capsys, "quarantine", *stage, "--json")
    assert code == 0, err
    [entry] = [e for e in json.loads(out) if e["source"] == "dead_letter"]
    assert "ThrottlingException" in entry["detail"]

    code, out, err = _run(capsys, "replay", entry["id"], *stage, "--json")
    assert code == 0, err
    # the moto server runs in this process, and prints its own Docker warnings to stdout
    out = out[out.index("{\n") :]
    assert [o["status"] for o in json.loads(out)["outcomes"]] == ["created"]

    code, out, err = _run(capsys, "tickets", "list", *stage, "--json")
    assert code == 0, err
    [ticket] = [t for t in json.loads(out) if t["subject"] == "Wrong size delivered"]
    assert ticket["channel"] == "email" and ticket["queue"] == "english"
    code, out, _ = _run(capsys, "quarantine", *stage, "--json")
    assert [e for e in json.loads(out) if e["source"] == "dead_letter"] == []  # it left the DLQ

    code, _, err = _run(
        capsys, "tickets", "list", "--stage", "nosuchstage", "--stage-config", str(DEMO_CONFIG)
    )
    assert code == 3 and "no deployed stage 'nosuchstage'" in err


def test_destroy_removes_function_stacks_and_the_shared_one_only_when_asked(
    deployed, deploy_output, capsys
):
    session, _ = deployed
    cloudformation = session.client("cloudformation")

    def live():
        return {
            s["StackName"]
            for s in cloudformation.describe_stacks()["Stacks"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        }

    code, text, _ = _run(capsys, "destroy", "--stage", STAGE, "--only", "email_ingest", "--yes")
    assert code == 0 and "helpline-test-email" not in live()
    assert "helpline-test-chat" in live() and "helpline-test-shared" in live()

    code, text, _ = _run(capsys, "destroy", "--stage", STAGE, "--yes")
    assert code == 0
    assert live() == {"helpline-test-shared", "helpline-test-routing", "helpline-test-mail"}

    code, text, _ = _run(capsys, "destroy", "--stage", STAGE, "--shared", "--yes")
    assert code == 0 and live() == set()
    assert "kept (DeletionPolicy Retain)" in text
