"""chat_ws under moto: every customer and agent action, routing, queues, after hours,
resume, and the errors that change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.models import Direction, TicketStatus
from functions.core.store import deserialize
from functions.core.timeutil import to_iso
from tests.functional.chat_harness import build
from tests.helpers import body_text

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # London and Madrid are open
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


@pytest.fixture
def chat(aws):
    return build(aws, TUESDAY)


def test_a_customer_and_an_agent_who_speaks_their_language_chat_both_ways(chat):
    agent = chat.agent("lucia@helpline.test")
    customer = chat.customer("es-ES")
    got = customer.send(
        "message",
        text="Hola, necesito cambiar la dirección de facturación de mi cuenta",
        client_id="c1",
    )
    assert {"ack", "assigned"} <= {f["type"] for f in got}
    assert customer.last("assigned")["agent"] == {"name": "Lucía"}
    offer = agent.last("assigned")
    assert offer["language"] == "es" and offer["ticket_id"]
    [history] = [f for f in agent.of("history") if f.get("session_id") == offer["session_id"]]
    assert [m["text"] for m in history["messages"]] == [
        "Hola, necesito cambiar la dirección de facturación de mi cuenta"
    ]

    agent.send(
        "message",
        session_id=offer["session_id"],
        text="¡Claro! ¿Cuál es la nueva dirección?",
        client_id="a1",
    )
    assert customer.last("message")["message"]["from"] == "agent"
    assert customer.last("message")["message"]["name"] == "Lucía"
    customer.send("message", text="Calle Mayor 1, Madrid", client_id="c2")
    assert agent.last("message")["message"]["text"] == "Calle Mayor 1, Madrid"

    bundle = chat.ticket(offer["ticket_id"])
    assert bundle.ticket.channel.value == "chat" and bundle.ticket.queue == "spanish"
    texts = [
        (m.direction.value, m.text if m.direction is Direction.INBOUND else m.stripped_text)
        for m in bundle.messages
    ]
    assert texts == [
        ("inbound", "Hola, necesito cambiar la dirección de facturación de mi cuenta"),
        ("outbound", "¡Claro! ¿Cuál es la nueva dirección?"),
        ("inbound", "Calle Mayor 1, Madrid"),
    ]
    assert bundle.ticket.first_response_at is not None

    agent.send("close", session_id=offer["session_id"])
    assert customer.last("closed")["by"] == "agent" and customer.last("closed")["offer_rating"]
    assert chat.ticket(offer["ticket_id"]).ticket.status is TicketStatus.SOLVED


def test_waiting_customers_see_their_position_and_it_moves_up(chat):
    first = chat.customer("en-GB")
    first.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    second = chat.customer("en-US")
    second.send("message", text="I cannot log in to my account since this morning", client_id="1")
    assert first.last("queued")["position"] == 1
    assert second.last("queued")["position"] == 2
    assert second.last("queued")["estimated_wait_seconds"] is None  # nobody online yet

    agent = chat.agent("emma@helpline.test", online=False)
    agent.send("status", status="online", max_chats=1)
    assert first.last("assigned")["agent"]["name"] == "Emma"
    assert second.last("queued")["position"] == 1
    # an agent is online now, so there is an honest estimate: the configured default
    # until real handle times exist
    assert second.last("queued")["estimated_wait_seconds"] == 6 * 60
    assert second.last("queued")["estimate_basis"] == "default"


def test_the_wait_estimate_comes_from_recent_handle_times(chat):
    agent = chat.agent("emma@helpline.test", online=False)
    agent.send("status", status="online", max_chats=1)
    first = chat.customer()
    first.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    session = agent.last("assigned")["session_id"]
    chat.clock.advance(minutes=4)
    agent.send("close", session_id=session)  # a 4-minute chat
    busy = chat.customer()
    busy.send("message", text="Where can I download my invoice for last month?", client_id="1")
    waiting = chat.customer()
    waiting.send("message", text="My discount code does not work at checkout", client_id="1")
    queued = waiting.last("queued")
    assert queued["position"] == 1 and queued["estimate_basis"] == "recent"
    assert 4 * 60 <= queued["estimated_wait_seconds"] <= 4 * 60 + 10


def test_after_hours_the_customer_is_told_when_the_team_is_back_and_a_ticket_is_made(chat):
    chat.clock.now = SATURDAY
    customer = chat.customer("es-ES")
    assert (
        customer.last("after_hours")["next_open_text"]
        == "el lunes 30 de noviembre a las 09:00 (CET)"
    )
    got = customer.send(
        "message", text="Hola, mi pedido llegó roto. ¿Qué puedo hacer?", client_id="c1"
    )
    kinds = [f["type"] for f in got]
    assert "ack" in kinds and "after_hours" in kinds and "assigned" not in kinds
    reply = [f for f in got if f["type"] == "message"]
    assert reply and "lunes 30 de noviembre" in reply[0]["message"]["text"]
    [ticket] = chat.components.store.list_tickets()
    ticket_id = ticket.id
    bundle = chat.ticket(ticket_id)
    assert bundle.ticket.queue == "spanish" and bundle.ticket.status is TicketStatus.NEW
    assert [m.kind for m in bundle.messages] == ["message", "after_hours"]
    customer.send("contact", email="ana@example.com", name="Ana")
    assert customer.last("contact_saved")["email"] == "ana@example.com"


def test_a_confident_faq_match_answers_at_once_and_offers_a_person(chat):
    customer = chat.customer("en-GB")
    got = customer.send(
        "message", text="Where is my order? The tracking link shows nothing", client_id="1"
    )
    bot = [f for f in got if f["type"] == "bot"]
    assert bot and bot[0]["offer_agent"] and "helpline.test/orders" in bot[0]["message"]["text"]
    assert not customer.of("queued")
    customer.send("agent")
    assert customer.last("queued")["position"] == 1


def test_a_message_resent_after_a_reconnect_is_stored_once(chat):
    customer = chat.customer()
    customer.send("message", text="My invoice shows the wrong company name", client_id="same")
    customer.send("message", text="My invoice shows the wrong company name", client_id="same")
    acks = customer.of("ack")
    assert len(acks) == 2 and acks[0]["message"]["id"] == acks[1]["message"]["id"]
    ticket_id = chat.components.store.list_tickets()[0].id
    assert [m.direction for m in chat.ticket(ticket_id).messages] == [Direction.INBOUND]


def test_resuming_with_the_same_token_continues_the_chat_and_delivers_what_was_missed(chat):
    agent = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    last_seen = customer.last("ack")["message"]["cursor"]
    session = agent.last("assigned")["session_id"]
    customer.disconnect()
    agent.send(
        "message", session_id=session, text="Fixed it, you will get a new invoice.", client_id="a1"
    )
    assert agent.last("ack")["delivery"] == "failed"  # the customer was away...

    token = chat.tokens[customer.connection_id]
    body = chat.service.open_session({"token": token})
    assert body["resumed"] is True and body["session_id"] == session
    back = chat.customer(hello=False, token=body["token"])
    back.send("hello", locale="en-GB", last_seen=last_seen)
    welcome = back.last("welcome")
    assert welcome["resumed"] and welcome["state"] == "assigned"
    assert [m["text"] for m in back.last("history")["messages"]] == [
        "Fixed it, you will get a new invoice."
    ]  # ...and gets it on return


def test_internal_notes_never_reach_the_customer(chat):
    agent = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    session = agent.last("assigned")["session_id"]
    agent.send("note", session_id=session, text="VIP, check the contract first")
    assert agent.last("ack")["message"]["from"] == "note"
    assert all("VIP" not in str(frame) for frame in customer.frames)
    back = chat.customer(hello=False, token=chat.tokens[customer.connection_id])
    back.send("hello", locale="en-GB")
    assert all("VIP" not in m["text"] for f in back.of("history") for m in f["messages"])


def test_transfer_to_another_team_queues_the_chat_there(chat):
    emma = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    session = emma.last("assigned")["session_id"]
    emma.send("transfer", session_id=session, team="russian")
    assert emma.last("closed") == {"type": "closed", "session_id": session, "by": "transfer"}
    assert customer.last("queued")["team"] == "russian"
    ivan = chat.agent("ivan@helpline.test")
    assert ivan.last("waiting")["chats"][0]["session_id"] == session


def test_a_chat_waiting_too_long_overflows_to_the_fallback_team(chat):
    customer = chat.customer("ru-RU")
    customer.send("message", text="Здравствуйте, не могу оплатить заказ картой", client_id="1")
    assert customer.last("queued")["team"] == "russian"
    chat.clock.advance(seconds=200)
    assert chat.service.housekeeping()["overflowed"] == 1
    assert customer.last("queued")["team"] == "english"
    emma = chat.agent("emma@helpline.test")
    assert customer.last("assigned")["agent"]["name"] == "Emma"
    assert emma.last("assigned")["language"] == "ru"


def _code_mailed_to(chat, address: str) -> str:
    """The code in the newest verification mail to `address`, as its owner reads it."""
    import re

    mails = [m for m in chat.aws.sent_mail() if address in m.destinations]
    assert mails, f"nothing was mailed to {address}"
    return re.findall(r"\b[0-9]{6}\b", body_text(mails[-1]))[0]


def test_the_transcript_is_emailed_and_the_rating_recorded(chat):
    agent = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    session = agent.last("assigned")["session_id"]
    agent.send(
        "message", session_id=session, text="Done: the new invoice is on its way.", client_id="a"
    )
    customer.send("close")
    customer.send("transcript", email="ana@example.com")
    customer.send("verify", code=_code_mailed_to(chat, "ana@example.com"))  # her mailbox
    assert customer.last("transcript_sent")["email"] == "ana@example.com"
    [mail] = [
        m
        for m in chat.aws.sent_mail()
        if "ana@example.com" in m.destinations and "Done: the new invoice" in body_text(m)
    ]
    body = mail.get_body(("plain",)).get_content()
    assert "My invoice shows the wrong company name" in body and "Done: the new invoice" in body
    assert mail["Auto-Submitted"] == "auto-generated"
    customer.send("rate", score=5, comment="Quick and kind")
    assert customer.last("rated")["score"] == 5
    ticket_id = chat.components.store.list_tickets()[0].id
    rated = [e for e in chat.ticket(ticket_id).events if e.type == "chat_rated"]
    assert rated[0].detail["score"] == 5 and rated[0].detail["agent"] == "emma@helpline.test"
    # the rating is the chat's CSAT survey: it counts in the report
    from functions.core import reports
    from functions.core.surveystore import SurveyStore

    cells = SurveyStore(chat.components.store.table_name, chat.components.store.client).cells(
        "channel", "2026-11-01", "2026-12-31"
    )
    total = reports.build_report(cells, by="channel", granularity="day").to_dict()["total"]
    assert total["csat_scores"]["5"] == 1 and total["surveys_sent"] == 1


# -- bad input: an error event with a code, and nothing else changes --------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"text": "no action"}', "missing_field"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": "message"}', "missing_field"),
        ('{"action": "message", "text": 42}', "bad_field"),
        ('{"action": "status", "status": "online"}', "forbidden"),
        ('{"action": "rate", "score": 9}', "bad_score"),
        ('{"action": "transcript", "email": "nope"}', "bad_email"),
    ],
)
def test_bad_frames_get_an_error_and_change_nothing(chat, body, code):
    customer = chat.customer()
    got = customer.raw(body)
    assert [f["type"] for f in got] == ["error"] and got[0]["code"] == code
    assert chat.components.store.list_tickets() == []


def test_oversized_messages_are_refused_never_cut(chat):
    customer = chat.customer()
    [error] = customer.send("message", text="x" * 4001, client_id="big")
    assert error["code"] == "too_large" and error["client_id"] == "big"
    [error] = customer.raw('{"action":"message","text":"' + "y" * (130 * 1024) + '"}')
    assert error["code"] == "too_large"
    assert chat.components.store.list_tickets() == []


def test_a_message_before_hello_is_refused(chat):
    customer = chat.customer(hello=False)
    [error] = customer.send("message", text="hi there, I need help", client_id="1")
    assert error["code"] == "hello_first"


def test_a_customer_cannot_post_into_another_conversation(chat):
    victim = chat.customer()
    victim.send("message", text="My invoice shows the wrong company name", client_id="1")
    victim_session = chat.service.chats.get_connection(
        victim.connection_id, now=chat.clock()
    ).session_id
    attacker = chat.customer()
    [error] = attacker.send("message", text="injected", client_id="x", session_id=victim_session)
    assert error["code"] == "forbidden"
    assert all(
        "injected" not in (m.text or "")
        for m in chat.ticket(chat.components.store.list_tickets()[0].id).messages
    )


def test_an_agent_cannot_write_into_a_chat_that_is_not_theirs(chat):
    emma = chat.agent("emma@helpline.test")
    layla = chat.agent("layla@helpline.test")
    customer = chat.customer()
    customer.send("message", text="My invoice shows the wrong company name", client_id="1")
    session = emma.last("assigned")["session_id"]
    [error] = layla.send("message", session_id=session, text="hello", client_id="x")
    assert error["code"] == "forbidden"


def test_forged_and_expired_tokens_are_refused_at_the_handshake(chat):
    body = chat.service.open_session({})
    assert chat.service.connect("c-forged", {"token": body["token"][:-2] + "xx"}) == 401
    assert chat.service.connect("c-none", {}) == 401
    chat.clock.advance(hours=3)
    assert chat.service.connect("c-late", {"token": body["token"]}) == 401
    assert chat.service.connect("c-agent", {"agent_token": body["token"]}) == 401


def test_flooding_is_throttled_with_an_error(chat):
    customer = chat.customer()  # its hello used one of this second's five actions
    for _ in range(8):  # all within the same second
        chat.service.handle(customer.connection_id, '{"action": "typing", "typing": true}')
    errors = customer.of("error")
    assert len(errors) == 4 and {e["code"] for e in errors} == {"rate_limited"}
    chat.clock.advance(seconds=1)
    customer.send("message", text="Sorry, my keyboard was stuck", client_id="k")
    assert customer.last("ack")["client_id"] == "k"


def test_a_push_to_a_gone_connection_forgets_it_and_is_not_retried(chat):
    customer = chat.customer()
    connection = customer.connection_id
    chat.api.closed.add(connection)
    assert chat.service.pusher.push(connection, '{"type": "typing"}') is False
    assert chat.service.chats.get_connection(connection, now=chat.clock()) is None
    session = chat.service.chats.get_session(
        chat.service.open_session({"token": chat.tokens[connection]})["session_id"]
    )
    assert session.connection_id is None


def test_the_real_management_api_client_gone_error_is_recognised(chat):
    """botocore's own parsing of a 410, through its Stubber: the connection is deleted."""
    import boto3
    from botocore.stub import Stubber

    from functions.core.channels.chat import ChatPusher

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://example.execute-api.us-east-1.amazonaws.com/prod",
    )
    customer = chat.customer()
    forgotten = []
    pusher = ChatPusher(client_factory=lambda _url: client, on_gone=forgotten.append)
    with Stubber(client) as stub:
        stub.add_client_error(
            "post_to_connection", service_error_code="GoneException", http_status_code=410
        )
        stub.add_response(
            "post_to_connection",
            {},
            {"ConnectionId": customer.connection_id, "Data": b'{"type":"typing"}'},
        )
        assert pusher.push(customer.connection_id, '{"type":"typing"}') is False
        assert pusher.push(customer.connection_id, '{"type":"typing"}') is True
    assert forgotten == [customer.connection_id]


def test_housekeeping_runs_after_an_agent_disconnects(chat):
    """An agent's connection goes (their presence loses it); the minute job still runs,
    marks them offline and, after the resume time, gives their chats to others."""
    emma = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    session = emma.last("assigned")["session_id"]
    emma.disconnect()
    presence = chat.service.chats.get_presence("emma@helpline.test")
    assert presence.status == "offline" and presence.connection_id is None
    lucia = chat.agent("lucia@helpline.test")
    chat.clock.advance(minutes=31)
    done = chat.service.housekeeping()
    assert done["requeued"] == 1
    assert lucia.last("assigned")["session_id"] == session


# -- long chats: every frame within what one push takes (issue 15, item 8) ---------------------

PUSH_LIMIT = 128 * 1024  # PostToConnection's limit, in bytes of UTF-8 as pushed


def long_text(index: int, unit: str, chars: int = 4000) -> str:
    """A message of the chat's maximum length, numbered so each is told apart."""
    head = f"{index:02d} "
    return (head + unit * (chars // len(unit) + 1))[:chars]


def pushed_sizes(chat) -> dict[str, list[int]]:
    """The bytes of every frame the fake Management API accepted, per connection, in
    the order of `Client.frames`; over 128 KB it answers 413 as API Gateway does."""
    from botocore.exceptions import ClientError

    sizes: dict[str, list[int]] = {}
    post = chat.api.post_to_connection

    def sized(*, ConnectionId: str, Data: bytes) -> dict:
        if len(Data) > PUSH_LIMIT:
            raise ClientError(
                {
                    "Error": {"Code": "PayloadTooLargeException", "Message": ""},
                    "ResponseMetadata": {"HTTPStatusCode": 413},
                },
                "PostToConnection",
            )
        answer = post(ConnectionId=ConnectionId, Data=Data)
        sizes.setdefault(ConnectionId, []).append(len(Data))
        return answer

    chat.api.post_to_connection = sized
    return sizes


def history_of(client, session: str | None = None) -> list[dict]:
    frames = [f for f in client.of("history") if session is None or f["session_id"] == session]
    assert frames, f"{client.connection_id} got no history"
    assert [f["more"] for f in frames] == [True] * (len(frames) - 1) + [False]
    return frames


def texts_in(frames: list[dict]) -> list[str]:
    return [m["text"] for f in frames for m in f["messages"]]


def test_a_long_russian_chat_resumes_and_opens_whole_in_frames_a_push_takes(chat):
    """Twenty messages of 4,000 Cyrillic characters (8 KB each): the customer who comes
    back and the agent who takes the chat both get every message once, in order, in
    `history` frames of at most 128 KB, split where one frame would be more."""
    sizes = pushed_sizes(chat)
    customer = chat.customer("ru-RU")
    texts = [
        long_text(i, "Не могу оплатить картой, банк отклоняет платёж без объяснений. ")
        for i in range(20)
    ]
    for i, text in enumerate(texts):
        customer.send("message", text=text, client_id=f"c{i}")
    assert len(customer.of("ack")) == 20 and customer.last("queued")["team"] == "russian"

    customer.disconnect()
    back = chat.customer(hello=False, token=chat.tokens[customer.connection_id])
    back.send("hello", locale="ru-RU")
    resumed = history_of(back)
    assert texts_in(resumed) == texts
    assert len(resumed) == 2  # 160 KB of messages: one frame would be over 128 KB
    assert back.last("welcome")["resumed"] and back.last("queued")["position"] == 1

    ivan = chat.agent("ivan@helpline.test")
    session = ivan.last("assigned")["session_id"]
    assert texts_in(history_of(ivan, session)) == texts
    assert back.last("assigned")["agent"]["name"] == "Иван"

    every = [n for connection in sizes.values() for n in connection]
    assert max(every) <= PUSH_LIMIT and max(every) > 64 * 1024
    history_sizes = [
        n
        for client in (back, ivan)
        for n, frame in zip(sizes[client.connection_id], client.frames, strict=True)
        if frame["type"] == "history"
    ]
    assert sum(history_sizes) > 2 * PUSH_LIMIT and max(history_sizes) <= PUSH_LIMIT


def test_a_long_chat_in_chinese_and_emoji_reaches_a_returning_agent_and_customer_whole(chat):
    """CJK is 3 bytes a character and emoji 4: a resumed chat of 4,000-character
    messages in them arrives whole and in order, in frames a push takes."""
    sizes = pushed_sizes(chat)
    emma = chat.agent("emma@helpline.test")
    customer = chat.customer("en-GB")
    first = "My card payment keeps failing at checkout, I will paste what the page shows"
    customer.send("message", text=first, client_id="c0")
    session = emma.last("assigned")["session_id"]
    pasted = [long_text(i, "支付失败请稍后再试银行拒绝了这笔交易") for i in range(1, 7)]
    pasted += [long_text(i, "💳❌😤🙏") for i in range(7, 13)]
    for i, text in enumerate(pasted, start=1):
        customer.send("message", text=text, client_id=f"c{i}")
    texts = [first, *pasted]
    live = [f["message"]["text"] for f in emma.of("message") if f["session_id"] == session]
    assert live == pasted

    emma.disconnect()  # the agent's browser reloads: her chats come back with history
    again = chat.agent("emma@helpline.test")
    assert texts_in(history_of(again, session)) == texts
    customer.disconnect()
    back = chat.customer(hello=False, token=chat.tokens[customer.connection_id])
    back.send("hello", locale="en-GB")
    resumed = history_of(back)
    assert texts_in(resumed) == texts and len(resumed) == 2
    assert [m["from"] for f in resumed for m in f["messages"]] == ["customer"] * 13
    assert max(n for connection in sizes.values() for n in connection) <= PUSH_LIMIT


def test_a_note_too_long_for_a_push_reaches_the_agent_cut_and_marked_never_dropped(chat):
    """Texts added to a chat's ticket outside the chat (a note through TicketService, an
    email) have no 4,000-character limit: one longer than a push holds still reaches
    the agent's history, its beginning marked `truncated`, between the messages around
    it; the ticket keeps it whole."""
    sizes = pushed_sizes(chat)
    ivan = chat.agent("ivan@helpline.test")
    customer = chat.customer("ru-RU")
    customer.send("message", text="Не могу оплатить картой, банк отклоняет платёж", client_id="1")
    session = ivan.last("assigned")["session_id"]
    ticket_id = ivan.last("assigned")["ticket_id"]
    huge = long_text(0, "Выписка из журнала платежей. ", chars=80_000)  # 146 KB
    chat.clock.advance(seconds=1)
    chat.components.tickets.add_note(ticket_id, huge, agent="ivan@helpline.test")
    customer.send("message", text="Жду ответа", client_id="2")

    ivan.disconnect()
    again = chat.agent("ivan@helpline.test")
    shown = [m for f in history_of(again, session) for m in f["messages"]]
    assert [m["text"][:10] for m in shown] == ["Не могу оп", huge[:10], "Жду ответа"]
    assert shown[1]["truncated"] is True and shown[1]["from"] == "note"
    assert huge.startswith(shown[1]["text"]) and len(shown[1]["text"]) > 60_000
    assert "truncated" not in shown[0] and "truncated" not in shown[2]
    [note] = [m for m in chat.ticket(ticket_id).messages if m.direction is Direction.NOTE]
    assert note.text == huge
    assert max(n for connection in sizes.values() for n in connection) <= PUSH_LIMIT


# -- POST /chat/session through the chat app: who may open a session, and for how long ----------

SHOP = "https://shop.helpline.test"  # chat.allowed_origins in the demo config


@pytest.fixture
def session_api(chat):
    """POST /chat/session as API Gateway hands it to the function (chalice.local)."""
    from chalice.config import Config
    from chalice.local import LocalGateway

    from functions.chat_ws import app as chat_app
    from functions.chat_ws import wiring as chat_wiring

    gateway = LocalGateway(chat_app.app, Config.create(chalice_app=chat_app.app))

    def post(body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        response = gateway.handle_request(
            method="POST",
            path="/chat/session",
            headers={"content-type": "application/json", **headers},
            body=json.dumps(body).encode(),
        )
        return response["statusCode"], json.loads(response["body"]), response["headers"]

    chat_wiring.use(chat.service)
    yield post
    chat_wiring.use(None)


def _session_items(chat) -> list[dict[str, Any]]:
    dynamodb = chat.aws.session.client("dynamodb")
    items = dynamodb.scan(
        TableName=chat.aws.resources.table,
        FilterExpression="begins_with(PK, :p)",
        ExpressionAttributeValues={":p": {"S": "CHATSESSION#"}},
    )["Items"]
    return [deserialize(item) for item in items]


def _expires_at(chat, session_id: str) -> datetime:
    [item] = [i for i in _session_items(chat) if i["id"] == session_id]
    return datetime.fromtimestamp(int(item["expires_at"]), UTC)


def test_the_shops_own_pages_open_a_session_and_may_read_the_answer(chat, session_api):
    status, body, headers = session_api({"locale": "en-GB"}, origin=SHOP)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == SHOP  # the page may read it; not `*`
    assert "Origin" in headers["Vary"]
    customer = chat.customer(token=body["token"])
    assert customer.last("welcome")["session_id"] == body["session_id"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://copycat.example",
        "https://shop.helpline.test.copycat.example",
        "http://shop.helpline.test",  # not the https site
        "null",  # a sandboxed frame or a file:// page
    ],
)
def test_a_page_on_another_site_is_refused_and_nothing_is_written(chat, session_api, origin):
    status, body, headers = session_api({"locale": "en-GB"}, origin=origin)
    assert status == 403 and body["code"] == "origin_not_allowed" and body["reason"]
    assert headers["Access-Control-Allow-Origin"] not in (origin, "*")  # its page cannot read
    assert _session_items(chat) == []


def test_a_refused_site_cannot_resume_a_session_either(chat, session_api):
    _, opened, _ = session_api({}, origin=SHOP)
    status, body, _ = session_api({"token": opened["token"]}, origin="https://copycat.example")
    assert status == 403 and "token" not in body
    assert [i["id"] for i in _session_items(chat)] == [opened["session_id"]]


def test_a_client_that_is_not_a_browser_opens_a_session_without_origin(chat, session_api):
    status, body, headers = session_api({"locale": "es-ES"})
    assert status == 200 and body["token"]
    assert headers["Access-Control-Allow-Origin"] != "*"
    assert [i["id"] for i in _session_items(chat)] == [body["session_id"]]


def test_a_session_item_expires_a_day_after_its_token_and_resuming_moves_it(chat, session_api):
    _, opened, _ = session_api({"locale": "en-GB"}, origin=SHOP)
    token_expires = TUESDAY + timedelta(hours=2)  # chat.session_hours
    assert opened["expires_at"] == to_iso(token_expires)
    first = _expires_at(chat, opened["session_id"])
    assert token_expires < first <= token_expires + timedelta(days=1)

    chat.clock.advance(minutes=90)
    _, resumed, _ = session_api({"token": opened["token"]}, origin=SHOP)
    assert resumed["resumed"] and resumed["session_id"] == opened["session_id"]
    assert _expires_at(chat, opened["session_id"]) == first + timedelta(minutes=90)


def test_a_chat_past_its_expiry_is_gone_though_dynamodb_has_not_deleted_it_yet(chat):
    """DynamoDB deletes expired items up to days late: until then no agent is offered
    the chat, and one naming it finds nothing."""
    customer = chat.customer()  # its $disconnect never came: the session still names it
    customer.send("message", text="My invoice shows the wrong company name", client_id="1")
    assert customer.last("queued")["position"] == 1
    [item] = _session_items(chat)

    chat.clock.advance(days=2)
    emma = chat.agent("emma@helpline.test")
    assert emma.of("assigned") == []
    assert emma.of("waiting") and all(f["chats"] == [] for f in emma.of("waiting"))
    [error] = emma.send("accept", session_id=item["id"])
    assert error["code"] == "not_found"
    assert [i["id"] for i in _session_items(chat)] == [item["id"]]  # not deleted yet


def test_an_expired_chat_still_frees_its_agents_slot_and_goes_to_nobody_else(chat):
    emma = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send("message", text="My invoice shows the wrong company name", client_id="1")
    assert emma.last("assigned")
    emma.disconnect()

    chat.clock.advance(days=2)
    assert chat.service.housekeeping()["requeued"] == 0
    assert chat.service.chats.get_presence("emma@helpline.test").active == 0
    lucia = chat.agent("lucia@helpline.test")
    assert lucia.of("assigned") == []


def test_a_customer_who_leaves_an_address_keeps_it_for_the_next_shift(chat):
    """After hours the answer comes on another day, by email, and the survey after it:
    the address lives on the session, so the session is kept as a closed ticket is."""
    chat.clock.now = SATURDAY
    customer = chat.customer("es-ES")
    customer.send("message", text="Hola, mi pedido llegó roto. ¿Qué puedo hacer?", client_id="1")
    customer.send("contact", email="ana@example.com", name="Ana")
    [item] = _session_items(chat)
    kept = datetime.fromtimestamp(int(item["expires_at"]), UTC)
    assert kept >= SATURDAY + timedelta(days=chat.service.config.retention.closed_ticket_days)


# -- invalid Unicode, frame size and invisible messages (issue 16, items 3 and 10) ------------


def test_a_lone_surrogate_in_a_message_or_hello_is_refused_and_the_chat_goes_on(chat):
    customer = chat.customer()
    # what a client sends when it cut an emoji in half: "\ud83d" with no second half
    [error] = customer.raw('{"action": "message", "text": "Hi \\ud83d there", "client_id": "u1"}')
    assert (error["type"], error["code"], error["client_id"]) == ("error", "bad_field", "u1")
    assert "`text`" in error["reason"]
    [error] = customer.raw('{"action": "hello", "name": "Zo\\ud83d", "locale": "en-GB"}')
    assert (error["type"], error["code"], error["action"]) == ("error", "bad_field", "hello")
    assert chat.components.store.list_tickets() == []

    got = customer.send("message", text="My invoice shows the wrong company name", client_id="u2")
    assert "ack" in [f["type"] for f in got]
    [ticket] = chat.components.store.list_tickets()
    assert [
        m.text for m in chat.ticket(ticket.id).messages if m.direction is Direction.INBOUND
    ] == ["My invoice shows the wrong company name"]


@pytest.mark.parametrize("size", [40 * 1024, 120 * 1024])
def test_a_frame_over_32_kb_is_refused(chat, size):
    customer = chat.customer()
    frame = {"action": "message", "text": "My invoice is wrong.", "client_id": "big"}
    frame["padding"] = "x" * (size - len(json.dumps(frame)) - 15)
    body = json.dumps(frame)
    assert len(body.encode()) > 32 * 1024
    [error] = customer.raw(body)
    assert (error["type"], error["code"]) == ("error", "too_large")
    assert chat.components.store.list_tickets() == []


@pytest.mark.parametrize(
    "text", ["   ", "\u200b", " \u200b\u200c\u200d\u2060\ufeff ", "\u200e\u3164\n"]
)
def test_a_message_that_shows_nothing_is_refused(chat, text):
    customer = chat.customer()
    [error] = customer.send("message", text=text, client_id="blank")
    assert (error["type"], error["code"], error["client_id"]) == ("error", "bad_field", "blank")
    assert chat.components.store.list_tickets() == []


# -- transcripts go only to an address the visitor proved (issue 16, item 2) ------------------

PHISHING = "URGENT: your account is locked. Unlock it at http://evil.example/unlock today"


def _mailed(chat) -> list[tuple[list[str], str]]:
    """Every mail sent: its destinations, and its subject and text together."""
    return [
        (sorted(set(m.destinations)), f"{m['Subject']}\n{body_text(m)}")
        for m in chat.aws.sent_mail()
    ]


def _emf(out: str, metric: str) -> list[dict[str, Any]]:
    """The EMF documents (CloudWatch metrics in the log) that count `metric`."""
    found = []
    for line in out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document and metric in document:
            found.append(document)
    return found


def test_a_visitor_asking_transcripts_to_five_addresses_mails_none_of_their_words(chat):
    customer = chat.customer()
    customer.send("message", text=PHISHING, client_id="1")
    targets = [f"victim{i}@example.org" for i in range(5)]
    answers = [customer.send("transcript", email=target)[-1] for target in targets]

    mailed = _mailed(chat)
    assert len(mailed) == 3  # chat.verification_mails_per_session
    for destinations, content in mailed:
        assert len(destinations) == 1 and destinations[0] in targets
        assert "evil.example" not in content and "locked" not in content
    assert [a["type"] for a in answers] == ["code_sent"] * 3 + ["error"] * 2
    assert [a["code"] for a in answers[3:]] == ["limit_reached"] * 2
    # guessing the code is no way around it
    for guess in ("000000", "123456", "999999"):
        assert customer.send("verify", code=guess)[-1]["code"] == "bad_code"
    assert len(chat.aws.sent_mail()) == 3
    [ticket] = chat.components.store.list_tickets()
    assert [e for e in chat.ticket(ticket.id).events if e.type == "transcript_sent"] == []


def test_the_transcript_goes_once_and_only_after_the_code_from_that_mailbox(chat):
    customer = chat.customer()
    customer.send(
        "message", text="My invoice shows the wrong company name, please fix it", client_id="1"
    )
    [answer] = customer.send("transcript", email="ana@example.com")
    assert (answer["type"], answer["email"]) == ("code_sent", "ana@example.com")
    [(to, content)] = _mailed(chat)
    assert to == ["ana@example.com"] and "invoice" not in content
    [ticket] = chat.components.store.list_tickets()
    assert ticket.id not in content  # nothing leads from the code mail to the chat

    code = _code_mailed_to(chat, "ana@example.com")
    [error] = customer.send("verify", code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert (error["type"], error["code"]) == ("error", "bad_code")
    assert len(chat.aws.sent_mail()) == 1
    customer.send("verify", code=code)
    assert customer.last("transcript_sent")["email"] == "ana@example.com"
    [_, (to, content)] = _mailed(chat)
    assert to == ["ana@example.com"] and "wrong company name" in content

    # once a chat, even to the proven address
    [error] = customer.send("transcript", email="ana@example.com")
    assert (error["type"], error["code"]) == ("error", "already_sent")
    assert len(chat.aws.sent_mail()) == 2
    events = [e.type for e in chat.ticket(ticket.id).events if e.type.startswith("transcript")]
    assert sorted(events) == [  # the last two happen in the same moment: sorted by name
        "transcript_address_verified",
        "transcript_code_sent",
        "transcript_sent",
    ]


def test_one_address_gets_at_most_three_chat_mails_a_day_whichever_chats_ask(chat):
    answers = []
    for i in range(4):
        visitor = chat.customer()
        visitor.send("message", text=f"{PHISHING} ({i})", client_id="1")
        answers.append(visitor.send("transcript", email="victim@example.org")[-1])

    assert [a["type"] for a in answers] == ["code_sent"] * 3 + ["error"]
    assert answers[-1]["code"] == "limit_reached"
    assert len(chat.aws.sent_mail()) == 3
    refused = [
        e.detail
        for t in chat.components.store.list_tickets()
        for e in chat.ticket(t.id).events
        if e.type == "transcript_not_sent"
    ]
    assert len(refused) == 1 and "today" in refused[0]["reason"]

    chat.clock.advance(days=1)  # a new day: the address may be asked again
    visitor = chat.customer()
    visitor.send("message", text="Where is my parcel?", client_id="1")
    assert visitor.send("transcript", email="victim@example.org")[-1]["type"] == "code_sent"


def test_the_hourly_cap_on_automatic_mail_stops_codes_too_and_is_counted(chat, capsys, monkeypatch):
    from dataclasses import replace

    # metrics on, whatever an earlier test in this process set (the CLI turns them off)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)

    config = chat.service.config
    chat.service.config = replace(config, email=replace(config.email, automatic_per_hour=2))
    answers = []
    for i in range(3):
        visitor = chat.customer()
        visitor.send("message", text=f"Where is my parcel number {i}?", client_id="1")
        answers.append(visitor.send("transcript", email=f"customer{i}@example.com")[-1])

    assert [a["type"] for a in answers] == ["code_sent", "code_sent", "error"]
    assert answers[-1]["code"] == "limit_reached"
    assert len(chat.aws.sent_mail()) == 2
    refused = [
        e.detail
        for t in chat.components.store.list_tickets()
        for e in chat.ticket(t.id).events
        if e.type == "transcript_not_sent"
    ]
    assert len(refused) == 1 and "email.automatic_per_hour" in refused[0]["reason"]
    [metric] = _emf(capsys.readouterr().out, "AutomaticMail_capped")
    assert (metric["service"], metric["kind"]) == ("chat_ws", "verification")


def test_a_visitor_who_mistyped_their_address_twice_still_gets_the_transcript(chat):
    customer = chat.customer()
    customer.send("message", text="Please fix the company name on invoice 7781", client_id="1")
    for typo in ("ana@exmaple.com", "ana@example.con"):
        assert customer.send("transcript", email=typo)[-1]["type"] == "code_sent"
    assert customer.send("transcript", email="ana@example.com")[-1]["type"] == "code_sent"
    customer.send("verify", code=_code_mailed_to(chat, "ana@example.com"))
    assert customer.last("transcript_sent")["email"] == "ana@example.com"
    # a fourth code would not have gone: three is the chat's limit for unproven addresses
    assert [to for to, _ in _mailed(chat)] == [
        ["ana@exmaple.com"],
        ["ana@example.con"],
        ["ana@example.com"],
        ["ana@example.com"],
    ]
