"""infra/shared.yaml is valid CloudFormation and declares what the design needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_every_queue_has_a_dead_letter_queue_with_an_alarm():
    resources = load_template()["Resources"]
    queues = {name: r for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    alarmed = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"].split(".")[0]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    for name, queue in queues.items():
        if name.endswith("DeadLetterQueue"):
            assert name in alarmed, f"{name} has no alarm"
        else:
            target = str(
                queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"]
            ).split(".")[0]
            assert target.endswith("DeadLetterQueue"), f"{name} has no dead-letter queue"


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
