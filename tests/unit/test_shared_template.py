"""infra/shared.yaml is valid CloudFormation and declares what the design needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.deploy import routing
from infra.local.resources import SHARED_TEMPLATE, load_template


def test_shared_template_passes_cfn_lint():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(SHARED_TEMPLATE)],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "template",
    [load_template(), routing.template(["english", "spanish", "support-b2b"])],
    ids=["shared", "routing"],
)
def test_every_queue_has_a_dead_letter_queue_with_an_alarm(template):
    resources = template["Resources"]
    queues = {name: r for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    alarmed = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        if isinstance(r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"], list)
        else r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"].split(".")[0]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"
    }
    for name, queue in queues.items():
        if name.endswith("DeadLetterQueue"):
            assert name in alarmed, f"{name} has no alarm"
        else:
            source = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"]
            target = source[0] if isinstance(source, list) else str(source).split(".")[0]
            assert target.endswith("DeadLetterQueue"), f"{name} has no dead-letter queue"


def test_waiting_throttled_and_reputation_have_alarms():
    resources = load_template()["Resources"]
    metrics = {
        r["Properties"].get("MetricName")  # none on a Metrics Insights alarm
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {
        "ApproximateAgeOfOldestMessage",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "Reputation.BounceRate",
        "Reputation.ComplaintRate",
    } <= metrics
    ages = [
        r
        for r in routing.template(["english"])["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    ]
    assert ages


def test_topics_are_encrypted_with_a_key_ses_and_cloudwatch_may_use():
    resources = load_template()["Resources"]
    for topic in ("InboundMailTopic", "AlarmTopic"):
        assert resources[topic]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    statements = resources["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    services = {s for st in statements for s in (st["Principal"].get("Service") or [])}
    assert services == {"ses.amazonaws.com", "cloudwatch.amazonaws.com"}


def test_only_helplines_receipt_rule_may_store_mail_and_notify():
    resources = load_template()["Resources"]
    for policy, sid in (
        ("MailBucketPolicy", "AllowSesToStoreInboundMail"),
        ("InboundMailTopicPolicy", "AllowSesToPublish"),
    ):
        [statement] = [
            s
            for s in resources[policy]["Properties"]["PolicyDocument"]["Statement"]
            if s["Sid"] == sid
        ]
        source = statement["Condition"]["StringEquals"]["aws:SourceArn"]["Fn::Sub"]
        assert source.endswith(
            ":receipt-rule-set/helpline-${Stage}:receipt-rule/helpline-${Stage}-inbound"
        )


def test_the_table_cannot_be_deleted_by_mistake():
    table = load_template()["Resources"]["TicketTable"]["Properties"]
    assert table["DeletionProtectionEnabled"] is True


def test_table_and_bucket_keep_data_and_encrypt_it():
    resources = load_template()["Resources"]
    table, bucket = resources["TicketTable"], resources["MailBucket"]
    assert table["DeletionPolicy"] == bucket["DeletionPolicy"] == "Retain"
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r.get("Prefix") == "raw/" and "ExpirationInDays" in r for r in rules)
