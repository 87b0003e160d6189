"""The generated templates: cfn-lint clean, least privilege, and the wiring every
function must have (events, retries, dead letters, logs, alarms, tracing, env)."""

from __future__ import annotations

import json

import pytest

from infra.deploy import cfn, functions, iam, lint, sam
from infra.deploy.deploy import SES_RECEIVING_TEMPLATE
from infra.deploy.package import SHARED_TEMPLATE

FUNCTION = "AWS::Serverless::Function"


def _functions(template):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == FUNCTION}


def test_every_generated_template_passes_cfn_lint(packaged):
    assert packaged, "no function was packaged"
    for item in packaged:
        assert [str(f) for f in lint.lint_file(item.template_path)] == [], item.spec.name


def test_the_shared_and_mail_receiving_templates_pass_cfn_lint():
    for path in (SHARED_TEMPLATE, SES_RECEIVING_TEMPLATE):
        assert [str(f) for f in lint.lint_file(path)] == [], path.name


def test_the_templates_as_deployed_after_the_sam_transform_pass_cfn_lint(packaged):
    for item in packaged:
        translated = sam.translate(
            item.template(),
            code_bucket="helpline-test-artifacts-123456789012-us-east-1",
            code_key=f"{item.spec.name}/code.zip",
            region="us-east-1",
        )
        assert not any(
            r["Type"].startswith("AWS::Serverless::") for r in translated["Resources"].values()
        )
        findings = lint.lint_text(json.dumps(translated), name=item.spec.name)
        assert [str(f) for f in findings] == [], item.spec.name


def test_cfn_lint_rejects_a_broken_template_with_the_place_and_rule(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimout: 30\n",
        encoding="utf-8",
    )
    findings = lint.lint_file(broken)
    assert findings and findings[0].rule == "E3002" and findings[0].line == 5


def test_each_function_has_one_role_and_its_policy_allows_no_wildcards(packaged):
    for item in packaged:
        template = item.template()
        roles = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
        assert list(roles) == ["DefaultRole"], item.spec.name
        props = roles["DefaultRole"]["Properties"]
        [policy] = props["Policies"]
        assert iam.wildcard_problems(policy["PolicyDocument"]) == []
        text = json.dumps(policy)
        assert '"*"' not in text and "arn:*" not in text, item.spec.name
        # the only managed policy is X-Ray's writer (X-Ray has no resource-level permissions)
        assert props["ManagedPolicyArns"] == [
            cfn.sub("arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess")
        ]
        for function in _functions(template).values():
            assert function["Properties"]["Role"] == cfn.get_att("DefaultRole", "Arn")


def test_policy_resources_are_the_shared_stacks_exports_and_the_configs_secrets(by_name):
    chat = by_name["chat_ws"].template()
    statements = {
        s["Sid"]: s
        for s in chat["Resources"]["DefaultRole"]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]
    }
    assert statements["Tickets"]["Resource"] == [cfn.shared_export("TableArn")]
    secrets = json.dumps(statements["ReadSecrets"]["Resource"])
    assert "parameter/helpline/dev/chat-session-secret" in secrets
    assert "parameter/helpline/dev/chat-agent-secret" in secrets
    assert "meta-app-secret" not in secrets  # chat reads only the chat section's secrets
    routes = json.dumps(statements["Route"]["Resource"])
    for team in ("english", "spanish", "russian", "arabic"):
        assert f"helpline-${{Stage}}-route-{team}" in routes
    assert "escalation" not in routes
    push = statements["Push"]["Resource"][0]["Fn::Sub"]
    assert push[0].endswith("/POST/@connections/*") and push[1] == {"Api": cfn.ref("WebsocketAPI")}


def test_functions_are_named_traced_sized_and_log_with_retention(packaged):
    for item in packaged:
        template = item.template()
        resources = template["Resources"]
        for logical_id, function in _functions(template).items():
            props = function["Properties"]
            assert props["FunctionName"]["Fn::Sub"].startswith(
                f"helpline-${{Stage}}-{item.spec.slug}-"
            )
            assert props["Tracing"] == "Active"
            assert props["MemorySize"] == item.spec.memory_mb
            assert props["Timeout"] == item.spec.timeout_seconds
            variables = props["Environment"]["Variables"]
            assert variables["POWERTOOLS_SERVICE_NAME"] == item.spec.name
            assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Helpline"
            assert variables["POWERTOOLS_LOG_LEVEL"] == cfn.ref("LogLevel")
            assert variables["HELPLINE_CONFIG"] == "/var/task/config/helpline.yaml"
            group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
            assert group["Properties"]["RetentionInDays"] == cfn.ref("LogRetentionDays")
            dimensions = [{"Name": "FunctionName", "Value": cfn.ref(logical_id)}]
            throttles = resources[f"{logical_id}ThrottlesAlarm"]["Properties"]
            assert throttles["MetricName"] == "Throttles" and throttles["Dimensions"] == dimensions
            # errors: a rate over a run of invocations, not any single failure
            errors = resources[f"{logical_id}ErrorsAlarm"]["Properties"]
            stats = {m["Id"]: m for m in errors["Metrics"] if "MetricStat" in m}
            assert stats["errors"]["MetricStat"]["Metric"]["Dimensions"] == dimensions
            assert stats["invocations"]["MetricStat"]["Metric"]["MetricName"] == "Invocations"
            [rate] = [m for m in errors["Metrics"] if m.get("ReturnData")]
            assert "100 * errors / invocations" in rate["Expression"]
            assert errors["EvaluationPeriods"] == errors["DatapointsToAlarm"] == 2
            for alarm in (errors, throttles):
                assert alarm["AlarmActions"] == [cfn.shared_export("AlarmTopicArn")]


def test_stream_and_api_failures_have_alarms(by_name):
    survey = by_name["survey"].template()["Resources"]
    assert survey["OnTicketChangeIteratorAgeAlarm"]["Properties"]["MetricName"] == "IteratorAge"
    assert survey["RestApiServerErrorsAlarm"]["Properties"]["MetricName"] == "5XXError"
    chat = by_name["chat_ws"].template()["Resources"]
    websocket = chat["WebsocketIntegrationErrorsAlarm"]["Properties"]
    assert websocket["MetricName"] == "IntegrationError"
    assert websocket["Dimensions"][0]["Value"] == cfn.ref("WebsocketAPI")


def test_every_function_reads_the_shared_resources_by_import(packaged):
    for item in packaged:
        template = item.template()
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        assert variables["HELPLINE_TABLE"] == cfn.shared_export("TableName")
        assert variables["HELPLINE_BUCKET"] == cfn.shared_export("MailBucketName")
        assert variables["HELPLINE_STAGE"] == cfn.ref("Stage")
        # the teams' queues change with the config: a parameter, never an import (an
        # export another stack imports cannot change)
        assert "RoutingQueueUrls" in template["Parameters"]
        for resource in template["Resources"].values():
            if resource.get("Type") == "AWS::Serverless::Function":
                env = resource["Properties"]["Environment"]["Variables"]
                assert env["HELPLINE_QUEUE_URLS"] == cfn.ref("RoutingQueueUrls")


# what infra/shared.yaml exports, and none of it changes when the config does
STABLE_EXPORTS = {
    "TableName",
    "TableArn",
    "TableStreamArn",
    "MailBucketName",
    "MailBucketArn",
    "InboundMailTopicArn",
    "InboundMailDeadLetterQueueUrl",
    "InboundMailDeadLetterQueueArn",
    "StreamDeadLetterQueueUrl",
    "StreamDeadLetterQueueArn",
    "AlarmTopicArn",
    "EscalationQueueUrl",
}


def test_function_stacks_import_only_exports_no_config_change_touches(packaged):
    """A team added to the config must not change an export a function stack imports:
    CloudFormation would refuse the shared stack's update until every importer is gone."""
    shared = cfn.load(SHARED_TEMPLATE)["Outputs"]
    exported = {name for name, output in shared.items() if "Export" in output}
    assert exported == STABLE_EXPORTS
    for item in packaged:
        imported = set()
        for value in cfn.walk(item.template()):
            if isinstance(value, dict) and "Fn::ImportValue" in value:
                name = value["Fn::ImportValue"]["Fn::Sub"]
                imported.add(name.removeprefix("helpline-${Stage}-"))
        assert imported and imported <= STABLE_EXPORTS, (item.spec.name, imported)


def test_inbound_mail_is_retried_twice_then_kept_in_the_shared_dead_letter_queue(by_name):
    template = by_name["email_ingest"].template()
    props = template["Resources"]["OnInboundMail"]["Properties"]
    [event] = props["Events"].values()
    assert event["Type"] == "SNS"
    assert event["Properties"]["Topic"] == cfn.shared_export("InboundMailTopicArn")
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    assert props["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": cfn.shared_export("InboundMailDeadLetterQueueArn"),
    }
    # reserved concurrency is off unless the config asks for it (new accounts often
    # have a quota of 10, and AWS keeps 100 unreserved)
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == -1
    assert props["ReservedConcurrentExecutions"]["Fn::If"][0] == "HasReservedConcurrency"


def test_scheduled_sweeps_are_not_retried_and_chat_exports_its_websocket(by_name):
    template = by_name["chat_ws"].template()
    housekeeping = template["Resources"]["Housekeeping"]["Properties"]
    assert housekeeping["EventInvokeConfig"] == {
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 60,
    }
    outputs = template["Outputs"]
    for name in ("WebsocketApiId", "WebsocketUrl", "ManagementUrl", "ConnectionsArn"):
        assert outputs[f"Chat{name}"]["Export"]["Name"] == cfn.sub(
            f"helpline-${{Stage}}-chat-{name}"
        )
    connect = template["Resources"]["WebsocketConnect"]["Properties"]["Environment"]["Variables"]
    assert connect["HELPLINE_CHAT_WS_URL"]["Fn::Sub"][0].startswith("wss://${Api}.execute-api.")


def test_the_survey_stream_filter_lets_through_only_the_ticket_changes_it_acts_on():
    """New tickets, a first response, the move into solved or closed (what
    functions/survey/service.py on_record counts and surveys), nothing else."""
    from moto.events.models import EventPattern

    template = cfn.load(functions.spec("survey").merge_template)
    event = template["Resources"]["OnTicketChange"]["Properties"]["Events"][
        "OnTicketChangeDynamodbEventSource"
    ]["Properties"]
    patterns = [EventPattern.load(f["Pattern"]) for f in event["FilterCriteria"]["Filters"]]

    def item(kind="ticket", **fields):
        return {"type": {"S": kind}, **{k: {"S": v} for k, v in fields.items()}}

    def delivered(event_name, old=None, new=None):
        images = {"Keys": {"PK": {"S": "TICKET#T1"}, "SK": {"S": "TICKET"}}}
        if old is not None:
            images["OldImage"] = old
        if new is not None:
            images["NewImage"] = new
        record = {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": images}
        return any(p.matches_event(record) for p in patterns)

    answered = "2026-11-24T10:05:00Z"
    assert delivered("INSERT", new=item(status="new"))
    assert not delivered("INSERT", new=item("message"))
    assert delivered("MODIFY", item(status="open"), item(status="solved"))
    assert delivered("MODIFY", item(status="pending"), item(status="closed"))
    assert not delivered("MODIFY", item(status="solved"), item(status="closed"))
    assert not delivered("MODIFY", item(status="solved"), item(status="open"))  # reopened
    assert delivered("MODIFY", item(status="open"), item(status="open", first_response_at=answered))
    assert not delivered(
        "MODIFY",
        item(status="open", first_response_at=answered),
        item(status="pending", first_response_at=answered),
    )
    assert not delivered("MODIFY", item(status="open"), item(status="pending"))
    assert not delivered("REMOVE", old=item(status="closed"))
    assert not delivered("MODIFY", item("chat_session"), item("chat_session"))
    assert event["DestinationConfig"]["OnFailure"]["Destination"] == cfn.shared_export(
        "StreamDeadLetterQueueArn"
    )
    assert event["MaximumRetryAttempts"] == 5 and event["BisectBatchOnFunctionError"] is True


def test_every_function_in_the_table_has_a_merge_template_with_the_required_parameters():
    for spec in functions.FUNCTIONS:
        template = cfn.load(spec.merge_template)
        assert {"Stage", "LogLevel", "LogRetentionDays"} <= set(template["Parameters"]), spec.name
        assert template["Parameters"]["Stage"]["AllowedPattern"] == "^[a-z][a-z0-9-]{0,19}$"


@pytest.mark.parametrize("name", [f.name for f in functions.FUNCTIONS])
def test_each_functions_grants_render_without_wildcards(name):
    from functions.core.config import load_config
    from infra.deploy.package import assembly_context, function_secret_refs
    from infra.local.resources import DEMO_CONFIG

    spec = functions.spec(name)
    config = load_config(DEMO_CONFIG)
    context = assembly_context(config, spec)
    document = iam.render_policy(
        spec.grants,
        iam.PolicyContext(
            routing_queue_names=context.routing_queue_names,
            escalation_queue_name=context.escalation_queue_name,
            sender_domain=context.sender_domain,
            secret_refs=function_secret_refs(config, spec),
            log_group_resources=("HandlerLogGroup",),
            websocket_connections=cfn.get_att("Api", "Arn"),
        ),
    )
    assert document["Statement"] and iam.wildcard_problems(document) == []


def test_an_sqs_event_source_reports_partial_batch_failures():
    from infra.deploy.assemble import AssemblyContext, assemble

    spec = functions.spec("social_dm")
    chalice_template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Parameters": {
            "Stage": {"Type": "String"},
            "LogLevel": {"Type": "String"},
            "LogRetentionDays": {"Type": "Number"},
        },
        "Resources": {
            "DefaultRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": []}},
            "Handoff": {
                "Type": FUNCTION,
                "Properties": {
                    "Handler": "app.handoff",
                    "Events": {
                        "HandoffSqsEventSource": {
                            "Type": "SQS",
                            "Properties": {"Queue": "arn:q", "BatchSize": 10},
                        }
                    },
                },
            },
        },
    }
    context = AssemblyContext(
        "x86_64",
        "helpline.test",
        (),
        ("helpline-${Stage}-route-english",),
        "helpline-${Stage}-escalation",
    )
    template = assemble(chalice_template, spec, context, merge_template={}, code_uri="./x.zip")
    event = template["Resources"]["Handoff"]["Properties"]["Events"]["HandoffSqsEventSource"]
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_merge_template_that_changes_a_handler_the_app_does_not_have_is_refused():
    from infra.deploy.assemble import AssemblyError, check_overrides

    merged = {"Resources": {"OnTicketSolved": {"Properties": {}}, "APIHandler": {"Type": FUNCTION}}}
    with pytest.raises(
        AssemblyError,
        match=r"changes OnTicketSolved, which functions/survey/app\.py does not define",
    ):
        check_overrides({"Resources": {"OnTicketSolved": {"Properties": {}}}}, merged, "survey")
