"""Dollars per million inbound messages, per channel, from the measured figures.

Inputs are measured in the same run: the AWS calls by operation, the DynamoDB write
units and the handler CPU of one new message per channel (email: bench/email_cost.py;
social: bench/social_cost.py; chat: bench/chat_load.py), all under moto with every
client metered. Prices are AWS's public list prices for us-east-1 (on-demand, no free
tier), as written in PRICES with the page they come from; update them there.

Assumptions, stated so they can be checked: a Lambda invocation lasts the measured
handler CPU plus 20 ms per AWS call (a same-region round trip) at 512 MB; a read call
reads 4 KB items (BatchGetItem is counted at the number of keys the intake asks for,
10); an email is one SES inbound mail of one 256 KB chunk and its acknowledgement one
SES outbound mail; a chat message is one WebSocket message in and the pushes measured
out, and a chat lasts 10 connection-minutes; a social delivery is one REST API
request. Storage and logs are left out (they depend on retention, not on messages).
"""

from __future__ import annotations

from typing import Any

PRICES: dict[str, tuple[float, str]] = {
    # USD per unit; the unit is in the key
    "lambda_request": (0.20 / 1e6, "aws.amazon.com/lambda/pricing"),
    "lambda_gb_second": (0.0000166667, "aws.amazon.com/lambda/pricing (x86)"),
    "dynamodb_write_unit": (0.625 / 1e6, "aws.amazon.com/dynamodb/pricing/on-demand"),
    "dynamodb_read_unit": (0.125 / 1e6, "aws.amazon.com/dynamodb/pricing/on-demand"),
    "sqs_request": (0.40 / 1e6, "aws.amazon.com/sqs/pricing (standard)"),
    "s3_put": (0.005 / 1e3, "aws.amazon.com/s3/pricing (PUT, COPY, POST, LIST)"),
    "s3_get": (0.0004 / 1e3, "aws.amazon.com/s3/pricing (GET)"),
    "ses_inbound_mail": (0.10 / 1e3, "aws.amazon.com/ses/pricing (receiving)"),
    "ses_inbound_chunk": (0.09 / 1e3, "aws.amazon.com/ses/pricing (256 KB chunks)"),
    "ses_outbound_mail": (0.10 / 1e3, "aws.amazon.com/ses/pricing (sending)"),
    "sns_publish": (0.50 / 1e6, "aws.amazon.com/sns/pricing"),
    "websocket_message": (1.00 / 1e6, "aws.amazon.com/api-gateway/pricing (WebSocket)"),
    "websocket_minute": (0.25 / 1e6, "aws.amazon.com/api-gateway/pricing (WebSocket)"),
    "rest_request": (3.50 / 1e6, "aws.amazon.com/api-gateway/pricing (REST)"),
}
MEMORY_GB = 0.5
CALL_LATENCY_S = 0.020
BATCH_GET_KEYS = 10
CHAT_MINUTES = 10

# hosted products whose prices are per message or conversation, as they publish them
PEERS = [
    ("Intercom Fin AI agent", "$0.99 per resolution", "intercom.com/pricing"),
    (
        "Zendesk, Freshdesk, Help Scout",
        "per agent seat per month, not per message",
        "their pricing pages",
    ),
]


def _price(name: str) -> float:
    return PRICES[name][0]


def _reads(by_operation: dict[str, Any]) -> float:
    units = 0.0
    for operation, count in by_operation.items():
        if operation == "dynamodb.BatchGetItem":
            units += count * BATCH_GET_KEYS
        elif operation in ("dynamodb.GetItem", "dynamodb.Query"):
            units += count
    return units


def per_message(figures: dict[str, Any], *, extra: dict[str, float]) -> dict[str, float]:
    """The cost of one message from its measured figures, broken down by service."""
    by_operation = figures.get("by_operation", {})
    calls = float(figures.get("calls", 0))
    cpu_seconds = float(figures.get("cpu_ms", 0.0)) / 1000
    seconds = cpu_seconds + CALL_LATENCY_S * calls
    cost = {
        "lambda": _price("lambda_request") + seconds * MEMORY_GB * _price("lambda_gb_second"),
        "dynamodb": float(figures.get("write_units", 0)) * _price("dynamodb_write_unit")
        + _reads(by_operation) * _price("dynamodb_read_unit"),
        "sqs": by_operation.get("sqs.SendMessage", 0) * _price("sqs_request"),
        "s3": by_operation.get("s3.PutObject", 0) * _price("s3_put")
        + by_operation.get("s3.GetObject", 0) * _price("s3_get"),
        "ses": (by_operation.get("sesv2.SendEmail", 0)) * _price("ses_outbound_mail"),
    }
    for name, value in extra.items():
        cost[name] = cost.get(name, 0.0) + value
    return cost


def _email_figures(repeat: int = 5) -> dict[str, Any]:
    """A new mail with its acknowledgement through email_ingest's entry point, metered:
    calls, write units and the function's own CPU (moto's answering time taken out)."""
    import tempfile
    import uuid
    from email.message import EmailMessage
    from email.utils import make_msgid
    from pathlib import Path

    from bench.chat_load import median_sample, metered_aws, open_config
    from functions.email_ingest import wiring as email_wiring
    from infra.local import ses
    from infra.local.resources import verify_sender_domain

    with tempfile.TemporaryDirectory() as folder, metered_aws(open_config(Path(folder))) as aws:
        verify_sender_domain(aws.session, "helpline.test")
        email_wiring.use(None)
        from functions.email_ingest.app import on_inbound_mail

        samples = []
        for n in range(repeat + 1):
            mail = EmailMessage()
            mail["From"], mail["To"] = f"cost{n}@customers.example", "support@helpline.test"
            mail["Subject"], mail["Message-ID"] = (
                f"Order {n}",
                make_msgid(domain="customers.example"),
            )
            mail.set_content("Hello, my order has not arrived yet. Could you check where it is?")
            raw = mail.as_bytes()
            key = f"raw/{uuid.uuid4().hex}"
            aws.session.client("s3").put_object(Bucket=aws.resources.bucket, Key=key, Body=raw)
            notification = ses.receipt_notification(
                raw,
                bucket=aws.resources.bucket,
                key=key,
                topic_arn=aws.resources.inbound_topic_arn,
                envelope_from="bounce@customers.example",
                recipients=("support@helpline.test",),
            )
            event = ses.sns_event(notification, topic_arn=aws.resources.inbound_topic_arn)
            _, sample = aws.measure(
                lambda e=event: on_inbound_mail(e, ses.LambdaContext("email_ingest"))
            )
            if n:  # the first is the cold container's
                samples.append(sample)
        email_wiring.use(None)
    return median_sample(samples)


def run(results: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-channel cost per million messages, from `results` of the other sections
    (the same run) where present, else measured here in-process."""
    results = results or {}
    email = results.get("email_figures") or _email_figures()
    social = results.get("social")
    chat = results.get("chat")
    if social is None:
        from bench import social_cost

        social_calls = social_cost._calls_in_process(1)
    else:
        social_calls = social["calls"]
    if chat is None:
        from bench import chat_load

        chat_calls = chat_load._calls_in_process(2, 1)
    else:
        chat_calls = chat["calls"]
    # a social delivery: one REST request; the raw body is kept in S3 (s3.PutObject)
    social_new = social_calls["warm"]["messenger"]["new"]
    chat_message = chat_calls["customer"]
    pushes = float(
        chat_message.get("by_operation", {}).get("apigatewaymanagementapi.PostToConnection", 2)
    )
    channels = {
        "email (new ticket + acknowledgement)": per_message(
            email,
            extra={
                "ses": _price("ses_inbound_mail") + _price("ses_inbound_chunk"),
                "s3": _price("s3_put"),  # SES's S3 action stores the raw mail
                "sns": _price("sns_publish"),
            },
        ),
        "social DM (new ticket + acknowledgement)": per_message(
            social_new, extra={"api_gateway": _price("rest_request")}
        ),
        "chat message (customer to agent)": per_message(
            chat_message,
            extra={
                "api_gateway": (1 + pushes) * _price("websocket_message")
                + CHAT_MINUTES * _price("websocket_minute") / 5,  # a chat of ~5 messages
            },
        ),
    }
    table = {
        name: {
            "per_million": {k: v * 1e6 for k, v in cost.items()},
            "total": sum(cost.values()) * 1e6,
        }
        for name, cost in channels.items()
    }
    return {"channels": table, "prices": {k: v for k, v in PRICES.items()}}


def markdown(result: dict[str, Any]) -> str:
    services = ["lambda", "dynamodb", "sqs", "s3", "ses", "sns", "api_gateway"]
    lines = [
        "## Cost: dollars per million inbound messages",
        "",
        "From the calls, write units and handler CPU measured in this run (`bench/cost.py`) at",
        "AWS list prices for us-east-1 (on demand, no free tier); the assumptions are in the",
        "module's docstring. Storage and logs are not included.",
        "",
        "| channel | " + " | ".join(services) + " | total |",
        "|---|" + "---:|" * (len(services) + 1),
    ]
    for name, row in result["channels"].items():
        cells = [f"${row['per_million'].get(s, 0.0):,.2f}" for s in services]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | **${row['total']:,.2f}** |")
    lines += ["", "Prices used:", ""]
    for name, (price, source) in result["prices"].items():
        lines.append(f"- {name}: ${price:.10g} ({source})")
    lines += ["", "Hosted products, for comparison, as they publish their prices:", ""]
    for product, price, source in PEERS:
        lines.append(f"- {product}: {price} ({source})")
    return "\n".join(lines) + "\n"
