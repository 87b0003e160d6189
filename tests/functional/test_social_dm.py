"""social_dm's webhooks under moto, through the real Chalice routes, with the
platforms' own payloads: handshakes, signatures, dedupe, bad input, replies back on
the same platform (to a local fake of its API) and the messaging windows."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.models import Channel, DeliveryStatus, Direction, TicketStatus
from tests.unit.channels.fake_platform import Answer, FakePlatform
from tests.unit.channels.payloads import (
    chatwoot,
    page_delivery,
    pywa,
    zammad_telegram,
    zammad_twitter,
)

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # London and Madrid are open


class Webhooks:
    """Posts to social_dm as the platforms do: through chalice.local's gateway."""

    def __init__(self, aws: Any, platform: FakePlatform, tmp_path: Any, monkeypatch: Any) -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway

        from functions.core import wiring
        from functions.social_dm import app as social_app
        from functions.social_dm import wiring as social_wiring
        from infra.local.resources import (
            DEMO_CONFIG,
            config_with_fake_platforms,
            create_demo_secrets,
        )

        path = config_with_fake_platforms(DEMO_CONFIG, tmp_path / "config", platform.url)
        monkeypatch.setenv("HELPLINE_CONFIG", str(path))
        components = wiring.build(wiring.Settings.from_env())
        self.secrets = create_demo_secrets(aws.session, components.config)
        self.components = components
        self.clock = [TUESDAY]
        components.intake.clock = lambda: self.clock[0]
        components.tickets.clock = lambda: self.clock[0]
        service = social_wiring.build(components)
        service.clock = lambda: self.clock[0]
        social_wiring.use(service)
        self.gateway = LocalGateway(social_app.app, Config.create(chalice_app=social_app.app))
        self.platform = platform

    def secret(self, name: str) -> str:
        return self.secrets[f"ssm:/helpline/dev/{name}"]

    def call(self, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, Any]:
        response = self.gateway.handle_request(
            method=method,
            path=path,
            headers={
                "content-type": "application/json",
                **{k.replace("_", "-"): v for k, v in headers.items()},
            },
            body=body,
        )
        raw = response.get("body") or ""
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return int(response["statusCode"]), parsed

    def meta(self, payload: Any, *, sign: bool = True, raw: bytes | None = None) -> tuple[int, Any]:
        body = raw if raw is not None else json.dumps(payload).encode()
        signature = (
            "sha256="
            + hmac.new(self.secret("meta-app-secret").encode(), body, hashlib.sha256).hexdigest()
        )
        extra = {"X-Hub-Signature-256": signature} if sign else {}
        return self.call("POST", "/webhooks/meta", body, **extra)

    def telegram(self, payload: Any, token: str | None = None) -> tuple[int, Any]:
        body = json.dumps(payload).encode()
        return self.call(
            "POST",
            "/webhooks/telegram",
            body,
            **{"X-Telegram-Bot-Api-Secret-Token": token or self.secret("telegram-secret-token")},
        )

    def x(self, payload: Any) -> tuple[int, Any]:
        import base64

        body = json.dumps(payload).encode()
        digest = hmac.new(self.secret("x-consumer-secret").encode(), body, hashlib.sha256).digest()
        return self.call(
            "POST",
            "/webhooks/x",
            body,
            **{"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()},
        )

    def tickets(self) -> list[Any]:
        return self.components.store.list_tickets()

    def bundle(self, ticket_id: str) -> Any:
        return self.components.store.ticket_bundle(ticket_id)


@pytest.fixture
def hooks(aws, tmp_path, monkeypatch):
    from functions.social_dm import wiring as social_wiring

    # what each platform answers a successful send with (one body fits all five)
    sent = {
        "recipient_id": "3383290475046708",
        "message_id": "m_sent_by_us",
        "messaging_product": "whatsapp",
        "messages": [{"id": "wamid.SENTBYUS"}],
        "ok": True,
        "result": {"message_id": 77, "chat": {"id": 1}},
        "data": {"dm_conversation_id": "1-2", "dm_event_id": "1800000000000000001"},
    }
    platform = FakePlatform(default=Answer(200, sent)).start()
    try:
        yield Webhooks(aws, platform, tmp_path, monkeypatch)
    finally:
        social_wiring.use(None)
        platform.close()


def _messenger(text: str, mid: str = "m_1", sender: str = "3383290475046708") -> dict[str, Any]:
    event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
    event["sender"]["id"] = sender
    event["message"] = {"mid": mid, "text": text}
    event["timestamp"] = int(TUESDAY.timestamp() * 1000)
    return page_delivery(event)


def _whatsapp(text: str | None = None) -> dict[str, Any]:
    delivery = copy.deepcopy(pywa("message", "text"))
    message = delivery["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(TUESDAY.timestamp()))
    if text is not None:
        message["text"]["body"] = text
    return delivery


# -- handshakes ------------------------------------------------------------------------------


def test_meta_verification_echoes_the_challenge_only_for_our_token(hooks):
    token = hooks.secret("meta-verify-token")
    status, body = hooks.call(
        "GET",
        f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
    )
    assert (status, body) == (200, 1158201444)
    status, _ = hooks.call(
        "GET", "/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"
    )
    assert status == 403


def test_x_crc_answers_with_the_signed_token(hooks):
    import base64

    status, body = hooks.call("GET", "/webhooks/x?crc_token=token-from-x")
    expected = base64.b64encode(
        hmac.new(
            hooks.secret("x-consumer-secret").encode(), b"token-from-x", hashlib.sha256
        ).digest()
    ).decode()
    assert status == 200 and body == {"response_token": "sha256=" + expected}


# -- deliveries --------------------------------------------------------------------------------


def test_a_messenger_message_becomes_a_ticket_and_is_acknowledged_on_messenger(hooks):
    status, body = hooks.meta(_messenger("Hola, mi pedido llegó roto. ¿Qué puedo hacer ahora?"))
    assert status == 200 and body["outcomes"] == {"created": 1}
    [ticket] = hooks.tickets()
    assert (ticket.channel, ticket.language, ticket.queue) == (Channel.MESSENGER, "es", "spanish")
    [sent] = hooks.platform.requests
    assert sent.path == "/fake/graph/v21.0/me/messages"
    assert sent.body["recipient"] == {"id": "3383290475046708"}
    assert sent.body["messaging_type"] == "RESPONSE"
    assert "Gracias por escribir" in sent.body["message"]["text"]
    assert sent.headers["Authorization"] == "Bearer " + hooks.secret("messenger-page-token")


def test_a_redelivery_makes_nothing_new_and_still_answers_200(hooks):
    payload = _messenger("Hola, mi pedido llegó roto. ¿Qué puedo hacer ahora?")
    hooks.meta(payload)
    status, body = hooks.meta(payload)
    assert status == 200 and body["outcomes"] == {"duplicate": 1}
    assert len(hooks.tickets()) == 1 and len(hooks.platform.requests) == 1


def test_a_whatsapp_message_from_pywa_joins_one_ticket_with_its_follow_up(hooks):
    hooks.meta(_whatsapp("Hello, my order has not arrived and the tracking page is empty."))
    follow_up = _whatsapp("It was order 1234, placed last Friday.")
    follow_up["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.second"
    hooks.meta(follow_up)
    [ticket] = hooks.tickets()
    assert ticket.channel is Channel.WHATSAPP and ticket.message_count == 2
    bundle = hooks.bundle(ticket.id)
    customer = hooks.components.tickets.customer(ticket.customer_id)
    assert customer.name == "Test Name"
    assert [m.direction for m in bundle.messages].count(Direction.INBOUND) == 2
    [ack] = hooks.platform.requests
    assert (
        ack.path == "/fake/graph/v21.0/1122334455667/messages" and ack.body["to"] == "972987654321"
    )


def test_a_whatsapp_status_marks_our_reply_delivered_then_read(hooks):
    hooks.meta(_whatsapp("Hello, my order has not arrived and the tracking page is empty."))
    [ticket] = hooks.tickets()
    [reply] = [m for m in hooks.bundle(ticket.id).messages if m.direction is Direction.OUTBOUND]
    statuses = copy.deepcopy(pywa("message_status", "read"))
    value = statuses["entry"][0]["changes"][0]["value"]
    value["statuses"][0]["id"] = reply.provider_id
    status, body = hooks.meta(statuses)
    assert status == 200 and body["outcomes"] == {"annotated": 1}
    [reply] = [m for m in hooks.bundle(ticket.id).messages if m.direction is Direction.OUTBOUND]
    assert reply.delivery is DeliveryStatus.READ


def test_telegram_and_x_direct_messages_become_tickets(hooks):
    status, body = hooks.telegram(zammad_telegram("private", "text"))
    assert status == 200 and body["outcomes"] == {"created": 1}
    status, body = hooks.x(zammad_twitter("direct_message-incoming"))
    assert status == 200 and body["outcomes"].get("created") == 1
    channels = sorted(t.channel.value for t in hooks.tickets())
    assert channels == ["telegram", "x"]
    paths = sorted(r.path.split("/")[2] for r in hooks.platform.requests)
    assert paths == ["2", "bot" + hooks.secret("telegram-bot-token")] or len(paths) == 2


def test_one_bad_entry_is_quarantined_and_the_others_are_kept(hooks):
    good = _messenger("Hello, my order has not arrived yet, can you help?")["entry"][0][
        "messaging"
    ][0]
    bad = copy.deepcopy(good)
    del bad["sender"]
    delivery = page_delivery(good, bad)
    status, body = hooks.meta(delivery)
    assert status == 200 and body["outcomes"]["created"] == 1
    assert len(hooks.tickets()) == 1
    assert len(hooks.components.store.list_quarantine()) == 1


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    ["flip_byte", "reserialize", "uppercase_hex", "no_prefix", "missing"],
)
def test_a_wrong_signature_is_401_and_nothing_is_stored(hooks, tamper):
    payload = _messenger("Hello, my order has not arrived yet, can you help?")
    body = json.dumps(payload).encode()
    digest = hmac.new(hooks.secret("meta-app-secret").encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": "sha256=" + digest}
    if tamper == "flip_byte":
        body = body[:20] + bytes([body[20] ^ 1]) + body[21:]
    elif tamper == "reserialize":
        body = json.dumps(payload, indent=2).encode()
    elif tamper == "uppercase_hex":
        headers = {"X-Hub-Signature-256": "sha256=" + digest.upper()}
    elif tamper == "no_prefix":
        headers = {"X-Hub-Signature-256": digest}
    else:
        headers = {}
    status, reply = hooks.call("POST", "/webhooks/meta", body, **headers)
    assert status == 401 and reply["code"] in ("bad_signature", "missing_signature", "unsigned")
    assert hooks.tickets() == [] and hooks.components.store.list_quarantine() == []
    s3 = hooks.components.blobs.client.list_objects_v2(
        Bucket=hooks.components.blobs.bucket, Prefix="social/"
    )
    assert s3.get("KeyCount", 0) == 0


def test_a_wrong_telegram_secret_is_401(hooks):
    status, _ = hooks.telegram(zammad_telegram("private", "text"), token="guess")
    assert status == 401 and hooks.tickets() == []


def test_not_json_is_400_and_over_1_mb_is_413(hooks):
    status, reply = hooks.meta(None, raw=b"this is not json")
    assert status == 400 and reply["code"] == "not_json"
    status, reply = hooks.meta(None, raw=b"{" + b" " * (1024 * 1024) + b"}")
    assert status == 413


def test_unknown_objects_are_acknowledged_and_ignored(hooks):
    status, body = hooks.meta(
        {"object": "permissions", "entry": [{"id": "1", "time": 1, "changes": []}]}
    )
    assert status == 200 and body["ignored"] >= 1 and hooks.tickets() == []


# -- replies --------------------------------------------------------------------------------------


def test_an_agent_reply_goes_back_on_messenger_and_outside_7_days_is_refused(hooks):
    hooks.meta(_messenger("Hello, my order has not arrived yet, can you help?"))
    [ticket] = hooks.tickets()
    hooks.clock[0] = TUESDAY + timedelta(hours=30)  # past 24 h: a person may still answer
    result = hooks.components.tickets.reply(
        ticket.id, "It ships today.", agent="emma@helpline.test"
    )
    assert result.delivery == "sent"
    sent = hooks.platform.requests[-1]
    assert sent.body["messaging_type"] == "MESSAGE_TAG" and sent.body["tag"] == "HUMAN_AGENT"
    assert sent.body["message"] == {"text": "It ships today."}

    hooks.clock[0] = TUESDAY + timedelta(days=8)
    refused = hooks.components.tickets.reply(ticket.id, "Any news?", agent="emma@helpline.test")
    assert refused.delivery == "refused" and "7 days" in refused.detail
    assert len(hooks.platform.requests) == 2  # nothing went out
    events = [e for e in hooks.bundle(ticket.id).events if e.type == "agent_reply_refused"]
    assert events and events[0].detail["reason"] == refused.detail


def test_whatsapp_outside_24_hours_uses_the_approved_template(hooks):
    hooks.meta(_whatsapp("Hello, my order has not arrived and the tracking page is empty."))
    [ticket] = hooks.tickets()
    hooks.clock[0] = TUESDAY + timedelta(hours=26)
    result = hooks.components.tickets.reply(ticket.id, "We found it.", agent="emma@helpline.test")
    assert result.delivery == "sent"
    body = hooks.platform.requests[-1].body
    assert body["type"] == "template" and body["template"]["name"] == "support_follow_up"


def test_a_platform_error_is_recorded_on_the_message(hooks):
    hooks.meta(_messenger("Hello, my order has not arrived yet, can you help?"))
    [ticket] = hooks.tickets()
    hooks.platform.answer(
        400, {"error": {"message": "(#551) This person isn't available right now.", "code": 551}}
    )
    result = hooks.components.tickets.reply(
        ticket.id, "It ships today.", agent="emma@helpline.test"
    )
    assert result.delivery == "failed" and "551" in result.detail
    [reply] = [m for m in hooks.bundle(ticket.id).messages if m.kind == "agent_reply"]
    assert reply.delivery is DeliveryStatus.FAILED and "isn't available" in reply.delivery_detail


def test_a_message_after_the_reopen_window_starts_a_new_ticket(hooks):
    hooks.meta(_messenger("Hello, my order has not arrived yet, can you help?"))
    [ticket] = hooks.tickets()
    hooks.components.tickets.resolve(ticket.id, actor="emma@helpline.test")
    later = _messenger("Hi again, a new question about invoices.", mid="m_later")
    later["entry"][0]["messaging"][0]["timestamp"] = int(
        (TUESDAY + timedelta(days=5)).timestamp() * 1000
    )
    hooks.clock[0] = TUESDAY + timedelta(days=5)
    hooks.meta(later)
    tickets = hooks.tickets()
    assert len(tickets) == 2
    assert hooks.components.store.get_ticket(ticket.id).status is TicketStatus.SOLVED


def test_a_quarantined_entry_can_be_replayed_and_nothing_is_doubled(hooks, aws):
    from functions.core import aws as aws_clients
    from functions.social_dm import wiring as social_wiring
    from infra.admin import Admin

    good = _messenger("Hello, my order has not arrived yet, can you help?")["entry"][0][
        "messaging"
    ][0]
    bad = copy.deepcopy(good)
    del bad["sender"]
    hooks.meta(page_delivery(good, bad))
    [record] = hooks.components.store.list_quarantine()
    admin = Admin(
        store=hooks.components.store,
        email=None,
        sqs_client=aws_clients.client("sqs"),
        mail_dlq_url=None,
        social=social_wiring.service(),
        blobs=hooks.components.blobs,
    )
    assert record.id in {e["id"] for e in admin.entries()}
    result = admin.replay(record.id)
    statuses = sorted(o["status"] for o in result["outcomes"])
    assert statuses == ["duplicate", "quarantined"]  # the good one is already a ticket
    assert len(hooks.tickets()) == 1 and len(hooks.components.store.list_quarantine()) == 1
    assert hooks.components.store.get_quarantine(record.id).replayed_at is not None


# -- invalid Unicode and one message's failure (issue 16, item 3) -----------------------------


def _text_event(text: str, *, mid: str, sender: str) -> dict[str, Any]:
    return _messenger(text, mid=mid, sender=sender)["entry"][0]["messaging"][0]


def test_a_lone_surrogate_in_one_message_does_not_block_the_delivery(hooks):
    # Meta cut an emoji in half: its JSON carries "\ud83d" with no second half
    delivery = page_delivery(
        _text_event("Hello, my order has not arrived yet, can you help?", mid="m_a", sender="1001"),
        _text_event("Hi, I was charged twice for one order this week.", mid="m_b", sender="1002"),
        _text_event("My parcel \ud83d arrived broken, what now?", mid="m_c", sender="1003"),
    )
    raw = json.dumps(delivery).encode()
    assert b'"My parcel \\ud83d arrived' in raw

    status, body = hooks.meta(None, raw=raw)
    assert status == 200 and body["outcomes"] == {"created": 3}
    texts = sorted(
        m.text
        for t in hooks.tickets()
        for m in hooks.bundle(t.id).messages
        if m.direction is Direction.INBOUND
    )
    assert texts == [
        "Hello, my order has not arrived yet, can you help?",
        "Hi, I was charged twice for one order this week.",
        "My parcel \ufffd arrived broken, what now?",
    ]
    assert hooks.components.store.list_quarantine() == []
    # the delivery is kept exactly as it came, broken character included
    s3 = hooks.components.blobs.client
    [kept] = s3.list_objects_v2(Bucket=hooks.components.blobs.bucket, Prefix="social/raw/meta/")[
        "Contents"
    ]
    assert (
        s3.get_object(Bucket=hooks.components.blobs.bucket, Key=kept["Key"])["Body"].read() == raw
    )
    status, body = hooks.meta(None, raw=raw)  # Meta's retry changes nothing
    assert status == 200 and body["outcomes"] == {"duplicate": 3} and len(hooks.tickets()) == 3


def test_a_lone_surrogate_in_a_telegram_first_name_still_makes_a_ticket(hooks):
    update = copy.deepcopy(zammad_telegram("private", "text"))
    update["message"]["from"]["first_name"] = "Zo\ud83d"
    status, body = hooks.telegram(update)
    assert status == 200 and body["outcomes"] == {"created": 1}
    [ticket] = hooks.tickets()
    customer = hooks.components.tickets.customer(ticket.customer_id)
    assert customer.name.startswith("Zo\ufffd")


def test_a_message_the_intake_refuses_is_quarantined_and_the_others_become_tickets(
    hooks, monkeypatch
):
    from functions.core.errors import RejectedInput

    intake = hooks.components.intake
    process = intake.process

    def refusing(message, **kwargs):
        if message.external_id == "m_b":
            raise RejectedInput("unreadable", "the message cannot be stored as it is")
        return process(message, **kwargs)

    monkeypatch.setattr(intake, "process", refusing)
    delivery = page_delivery(
        _text_event("Hello, my order has not arrived yet, can you help?", mid="m_a", sender="1001"),
        _text_event("Hi, I was charged twice for one order this week.", mid="m_b", sender="1002"),
        _text_event("My parcel arrived broken, what can I do now?", mid="m_c", sender="1003"),
    )
    status, body = hooks.meta(delivery)
    assert status == 200 and body["outcomes"] == {"created": 2, "quarantined": 1}
    assert len(hooks.tickets()) == 2
    [record] = hooks.components.store.list_quarantine()
    assert (record.reason, record.external_id) == ("unreadable", "m_b")
    assert record.detail == "the message cannot be stored as it is"


def test_an_error_of_ours_in_one_message_fails_the_delivery_so_meta_retries(hooks, monkeypatch):
    from botocore.exceptions import ClientError

    intake = hooks.components.intake
    process = intake.process
    failures = [1]

    def throttled(message, **kwargs):
        if message.external_id == "m_b" and failures:
            failures.pop()
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": ""}},
                "TransactWriteItems",
            )
        return process(message, **kwargs)

    monkeypatch.setattr(intake, "process", throttled)
    delivery = page_delivery(
        _text_event("Hello, my order has not arrived yet, can you help?", mid="m_a", sender="1001"),
        _text_event("Hi, I was charged twice for one order this week.", mid="m_b", sender="1002"),
    )
    status, _ = hooks.meta(delivery)
    assert status == 500 and hooks.components.store.list_quarantine() == []
    status, body = hooks.meta(delivery)  # the platform's retry
    assert status == 200 and body["outcomes"] == {"duplicate": 1, "created": 1}
    assert len(hooks.tickets()) == 2
