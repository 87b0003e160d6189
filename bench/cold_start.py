"""Cold start of email_ingest next to a bare handler that only imports boto3.

Each sample is a fresh Python process (so nothing is cached in memory), measured from
the first line of the script: imports plus the first event. The bare handler imports
boto3 and returns; email_ingest imports its app and handles one real new-ticket mail
against a moto server on loopback (standing in for AWS's network). A third handler
makes the same seven AWS calls with plain boto3 and nothing else: the floor any
implementation of this job pays. Samples alternate, and ratios are of medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

BARE = """
import time
t0 = time.perf_counter()
import boto3

def handler(event, context):
    return None

handler({}, None)
print(round((time.perf_counter() - t0) * 1000, 1))
"""

# the least any handler doing this job pays: the same clients and the same seven calls
SAME_CALLS = """
import time
t0 = time.perf_counter()
import json, os, sys, uuid
import boto3

def handler(event, context):
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    action = message["receipt"]["action"]
    session = boto3.session.Session()
    s3, ddb = session.client("s3"), session.client("dynamodb")
    sqs, ses = session.client("sqs"), session.client("sesv2")
    raw = s3.get_object(Bucket=action["bucketName"], Key=action["objectKey"])["Body"].read()
    table = os.environ["HELPLINE_TABLE"]
    key = {"PK": {"S": "BARE#" + uuid.uuid4().hex}, "SK": {"S": "X"}}
    ddb.batch_get_item(RequestItems={table: {"Keys": [key]}})
    item = {**key, "raw": {"N": str(len(raw))}}
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}])
    url = json.loads(os.environ["HELPLINE_QUEUE_URLS"])["english"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    done = {":t": {"BOOL": True}}
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET r = :t", ExpressionAttributeValues=done)
    mime = b"From: support@helpline.test\\r\\nTo: a@customer.example\\r\\nSubject: x\\r\\n\\r\\nok"
    ses.send_email(FromEmailAddress="support@helpline.test", Destination={"ToAddresses": ["a@customer.example"]},
                   Content={"Raw": {"Data": mime}})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET s = :t", ExpressionAttributeValues=done)

handler(json.loads(open(sys.argv[1]).read()), None)
print(round((time.perf_counter() - t0) * 1000, 1))
"""

OURS = """
import time
t0 = time.perf_counter()
import json, sys
from functions.email_ingest.app import on_inbound_mail
t1 = time.perf_counter()
from infra.local.ses import LambdaContext
event = json.loads(open(sys.argv[1]).read())
outcome = on_inbound_mail(event, LambdaContext("email_ingest"))
t2 = time.perf_counter()
assert outcome[0]["status"] == "created", outcome
print(json.dumps({"total": round((t2 - t0) * 1000, 1), "import": round((t1 - t0) * 1000, 1)}))
"""


def measure(samples: int = 7) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    from bench.email_cost import TUESDAY, _mail
    from infra.local import ses
    from infra.local.resources import DEMO_CONFIG, create_shared_stack, verify_sender_domain
    from infra.local.stack import free_port
    from infra.local.state import local_aws_environment

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server.start()
    try:
        aws_env = local_aws_environment(f"http://127.0.0.1:{port}")
        os.environ.update(aws_env)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session = boto3.session.Session()
            resources = create_shared_stack(session, stage="cold")
            verify_sender_domain(session, "helpline.test")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env.update(aws_env)
        env.update(resources.environment(config_path=DEMO_CONFIG))
        env.update(PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="0")
        s3 = session.client("s3")
        bare: list[float] = []
        same: list[float] = []
        ours: list[float] = []
        imports: list[float] = []
        workdir = Path(tempfile.mkdtemp())
        for i in range(samples):
            raw = _mail(
                f"cold{i}@customer.example",
                "Cold start",
                "Hello, my order has not arrived yet, can you help?",
            )
            key = f"raw/cold-{i}"
            s3.put_object(Bucket=resources.bucket, Key=key, Body=raw)
            notification = ses.receipt_notification(
                raw,
                bucket=resources.bucket,
                key=key,
                topic_arn=resources.inbound_topic_arn,
                envelope_from="b@bench.example",
                recipients=["support@helpline.test"],
                received_at=TUESDAY,
            )
            event_file = workdir / f"event-{i}.json"
            event_file.write_text(
                json.dumps(ses.sns_event(notification, topic_arn=resources.inbound_topic_arn))
            )
            bare.append(float(_run(BARE, [], env)))
            same.append(float(_run(SAME_CALLS, [str(event_file)], env)))
            result = json.loads(_run(OURS, [str(event_file)], env))
            ours.append(result["total"])
            imports.append(result["import"])
        return {
            "samples": samples,
            "bare_ms": statistics.median(bare),
            "ours_ms": statistics.median(ours),
            "ours_import_ms": statistics.median(imports),
            "same_calls_ms": statistics.median(same),
            "ratio": statistics.median(ours) / statistics.median(bare),
            "ratio_to_same_calls": statistics.median(ours) / statistics.median(same),
        }
    finally:
        server.stop()


def _run(script: str, args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout.strip().splitlines()[-1]
