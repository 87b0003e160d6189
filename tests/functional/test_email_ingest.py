"""email_ingest end to end under moto: mail in through the SNS entry point, tickets,
routing messages and automatic replies out. Resources come from infra/shared.yaml."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from functions.core.models import Direction, TicketStatus
from tests.helpers import body_text, make_mail

TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # London and Madrid are open
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


def _ticket(aws, outcome):
    bundle = aws.store.ticket_bundle(outcome["ticket_id"])
    assert bundle is not None
    return bundle


def test_new_mail_becomes_a_ticket_routed_by_language_and_acknowledged(aws):
    raw = make_mail(message_id="<order-1@example.com>")
    outcome = aws.deliver(raw, received_at=TUESDAY_MORNING)

    assert outcome["status"] == "created"
    bundle = _ticket(aws, outcome)
    assert bundle.ticket.language == "en"
    assert bundle.ticket.queue == "english"
    assert bundle.ticket.status is TicketStatus.NEW
    inbound = [m for m in bundle.messages if m.direction is Direction.INBOUND]
    assert len(inbound) == 1 and "has not arrived" in inbound[0].text

    [routed] = aws.queue_messages("english")
    assert routed["schema"] == "helpline.routing/v1"
    assert routed["event"] == "new_ticket"
    assert routed["ticket_id"] == bundle.ticket.id
    assert routed["language"] == "en" and routed["after_hours"] is False

    [ack] = aws.sent_mail()
    assert ack["To"] == "ana@example.com"
    assert f"[#{bundle.ticket.id}]" in ack["Subject"]
    assert ack["Subject"].startswith("Re: Question about my order")
    assert ack["In-Reply-To"] == "<order-1@example.com>"
    assert "<order-1@example.com>" in ack["References"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Message-ID"].endswith("@helpline.test>")
    assert bundle.ticket.id in body_text(ack)
    outbound = [m for m in bundle.messages if m.direction is Direction.OUTBOUND]
    assert len(outbound) == 1 and outbound[0].automatic and outbound[0].delivery.value == "sent"


def test_spanish_mail_goes_to_the_spanish_team_and_is_answered_in_spanish(aws):
    raw = make_mail(
        sender="Lucía Pérez <lucia@example.es>",
        subject="Problema con mi pedido",
        text=(
            "Hola, compré unas zapatillas la semana pasada y todavía no han llegado. "
            "¿Podrían decirme dónde está mi pedido? Gracias."
        ),
    )
    outcome = aws.deliver(raw, received_at=TUESDAY_MORNING)
    bundle = _ticket(aws, outcome)
    assert (bundle.ticket.language, bundle.ticket.queue) == ("es", "spanish")
    assert aws.queue_messages("spanish")[0]["ticket_id"] == bundle.ticket.id
    assert aws.queue_messages("english") == []
    [ack] = aws.sent_mail()
    assert ack["Content-Language"] == "es"
    assert "Lucía" in body_text(ack)


def test_after_hours_mail_gets_the_after_hours_reply_with_the_opening_time(aws):
    raw = make_mail(
        subject="Refund", text="I would like a refund for my last invoice, it was charged twice."
    )
    outcome = aws.deliver(raw, received_at=SATURDAY)
    bundle = _ticket(aws, outcome)
    [ack] = aws.sent_mail()
    text = body_text(ack)
    # the London team opens again on Monday 30 November at 09:00 GMT
    assert "Monday" in text and "09:00" in text and "30 November" in text
    assert [m.kind for m in bundle.messages if m.direction is Direction.OUTBOUND] == ["after_hours"]
    assert aws.queue_messages("english")[0]["after_hours"] is True


def test_reply_threaded_by_in_reply_to_lands_on_the_same_ticket_without_a_second_ack(aws):
    first = aws.deliver(make_mail(message_id="<first@example.com>"), received_at=TUESDAY_MORNING)
    [ack] = aws.sent_mail()
    aws.queue_messages("english")
    reply = make_mail(
        subject="Re: "
        + ack["Subject"].replace(f" [#{first['ticket_id']}]", ""),  # no token: headers only
        text="It is order number 1234. Thanks for looking into it.",
        in_reply_to=ack["Message-ID"],
        references=f"<first@example.com> {ack['Message-ID']}",
    )
    second = aws.deliver(reply, received_at=TUESDAY_MORNING + timedelta(minutes=5))

    assert second["status"] == "follow_up"
    assert second["ticket_id"] == first["ticket_id"]
    bundle = _ticket(aws, second)
    assert len([m for m in bundle.messages if m.direction is Direction.INBOUND]) == 2
    assert len(aws.sent_mail()) == 1  # follow-ups in business hours are not acknowledged again
    [routed] = aws.queue_messages("english")
    assert routed["event"] == "customer_reply"


def test_reply_threaded_by_subject_token_from_a_participant(aws):
    first = aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    token = f"[#{first['ticket_id']}]"
    outcome = aws.deliver(
        make_mail(subject=f"Re: Question about my order {token}", text="Any news about this?"),
        received_at=TUESDAY_MORNING + timedelta(hours=1),
    )
    assert outcome["status"] == "follow_up" and outcome["ticket_id"] == first["ticket_id"]


def test_a_pasted_token_from_a_stranger_does_not_open_someone_elses_ticket(aws):
    first = aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    token = f"[#{first['ticket_id']}]"
    outcome = aws.deliver(
        make_mail(
            sender="mallory@evil.example",
            subject=f"Re: {token}",
            text="Please send me the invoice details.",
        ),
        received_at=TUESDAY_MORNING,
    )
    assert outcome["status"] == "created"
    assert outcome["ticket_id"] != first["ticket_id"]
    events = [e.type for e in _ticket(aws, outcome).events]
    assert "follow_up.token_ignored" in events


def test_duplicate_delivery_of_the_same_object_or_message_id_makes_nothing_new(aws):
    raw = make_mail(message_id="<dup@example.com>")
    notification = aws.notification(raw, received_at=TUESDAY_MORNING)
    first = aws.invoke(notification)[0]
    again = aws.invoke(notification)[0]  # SNS delivered the same notification twice
    other_copy = aws.deliver(raw, received_at=TUESDAY_MORNING)  # same mail, another S3 object

    assert again["status"] == other_copy["status"] == "duplicate"
    assert again["ticket_id"] == other_copy["ticket_id"] == first["ticket_id"]
    assert len(aws.store.list_tickets()) == 1
    assert len(aws.sent_mail()) == 1
    assert len(aws.queue_messages("english")) == 1


def test_concurrent_deliveries_of_one_mail_make_one_ticket_and_one_reply(aws):
    raw = make_mail(message_id="<race@example.com>")
    notifications = [aws.notification(raw, received_at=TUESDAY_MORNING) for _ in range(4)]
    results = []
    threads = [
        threading.Thread(target=lambda n=n: results.extend(aws.invoke(n))) for n in notifications
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r["status"] for r in results) == [
        "created",
        "duplicate",
        "duplicate",
        "duplicate",
    ]
    assert len({r["ticket_id"] for r in results}) == 1
    assert len(aws.sent_mail()) == 1


def test_an_autoresponder_storm_gets_no_reply(aws):
    first = aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    [ack] = aws.sent_mail()
    for i in range(50):
        auto = make_mail(  # the customer's own mailbox answering us (a participant)
            subject=f"Auto: Re: {ack['Subject']}",
            text="This mailbox is not monitored. Your message has been received.",
            in_reply_to=ack["Message-ID"],
            headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
            message_id=f"<storm-{i}@example.com>",
        )
        outcome = aws.deliver(auto, received_at=TUESDAY_MORNING + timedelta(minutes=i))
        assert outcome["ticket_id"] == first["ticket_id"]
    assert len(aws.sent_mail()) == 1
    bundle = _ticket(aws, first)
    assert (
        bundle.ticket.status is TicketStatus.NEW
    )  # automatic mail does not reopen or touch status
    autos = [m for m in bundle.messages if m.direction is Direction.INBOUND and m.automatic]
    assert len(autos) == 50
    assert [r["event"] for r in aws.queue_messages("english")] == ["new_ticket"]


def test_an_auto_reply_from_an_address_not_on_the_ticket_does_not_join_it(aws):
    first = aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    [ack] = aws.sent_mail()
    auto = make_mail(
        sender="robot@example.com",
        subject=f"Auto: Re: {ack['Subject']}",
        text="This mailbox is not monitored. Your message has been received.",
        in_reply_to=ack["Message-ID"],
        headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
    )
    outcome = aws.deliver(auto, received_at=TUESDAY_MORNING + timedelta(minutes=1))

    assert outcome["status"] == "created" and outcome["ticket_id"] != first["ticket_id"]
    assert "email:robot@example.com" not in _ticket(aws, first).ticket.participants
    assert len(aws.sent_mail()) == 1  # still never answered
    assert [r["event"] for r in aws.queue_messages("english")] == ["new_ticket"]


def test_auto_replies_are_rate_limited_per_customer_across_tickets(aws):
    for i in range(8):
        aws.deliver(
            make_mail(
                subject=f"Question {i}",
                message_id=f"<many-{i}@example.com>",
                text=f"This is separate question number {i} about my account settings.",
            ),
            received_at=TUESDAY_MORNING,
        )
    assert len(aws.store.list_tickets()) == 8
    assert len(aws.sent_mail()) == 5  # replies.max_per_customer_per_hour in the demo config


def test_bounce_of_our_ack_is_attached_and_marks_the_address_undeliverable(aws):
    first = aws.deliver(make_mail(sender="ghost@example.com"), received_at=TUESDAY_MORNING)
    [ack] = aws.sent_mail()
    dsn = _dsn(ack["Message-ID"], "ghost@example.com")
    outcome = aws.deliver(dsn, received_at=TUESDAY_MORNING + timedelta(minutes=1))

    assert outcome["status"] == "follow_up" and outcome["ticket_id"] == first["ticket_id"]
    bundle = _ticket(aws, first)
    assert "delivery_failed" in [e.type for e in bundle.events]
    customer = aws.store.get_customer(bundle.ticket.customer_id)[0]
    assert "email:ghost@example.com" in customer.undeliverable
    [_routed_new, routed_failure] = aws.queue_messages("english")
    assert routed_failure["event"] == "delivery_failed"
    # the next mail from that address gets no automatic reply
    aws.deliver(
        make_mail(sender="ghost@example.com", subject="Another", message_id="<again@example.com>"),
        received_at=TUESDAY_MORNING + timedelta(hours=2),
    )
    assert len(aws.sent_mail()) == 1


def test_unmatched_bounce_is_quarantined(aws):
    outcome = aws.deliver(
        _dsn("<unknown@elsewhere.example>", "someone@example.com"), received_at=TUESDAY_MORNING
    )
    assert outcome["status"] == "quarantined" and outcome["reason"] == "bounce_unmatched"
    assert aws.store.list_tickets() == []


def test_out_of_office_is_threaded_but_does_not_reopen_a_solved_ticket(aws):
    from functions.core import wiring
    from functions.core.tickets import TicketService

    first = aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    [ack] = aws.sent_mail()
    components = wiring.build(wiring.Settings.from_env())
    TicketService(
        config=components.config, store=aws.store, senders={}, renderer=components.renderer
    ).resolve(first["ticket_id"], actor="agent@helpline.test")
    ooo = make_mail(
        subject="Automatic reply: " + ack["Subject"],
        text="I am out of the office until Monday with limited access to email.",
        in_reply_to=ack["Message-ID"],
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    outcome = aws.deliver(ooo, received_at=TUESDAY_MORNING + timedelta(hours=1))
    assert outcome["ticket_id"] == first["ticket_id"]
    bundle = _ticket(aws, first)
    assert bundle.ticket.status is TicketStatus.SOLVED
    # the notice is on the ticket (ordering against the acknowledgement depends on the
    # wall clock: the test pins arrival times, not the processing time of the reply)
    assert [m.kind for m in bundle.messages if m.direction.value == "inbound"] == [
        "message",
        "out_of_office",
    ]
    assert len(aws.sent_mail()) == 1


def test_a_customer_reply_reopens_a_solved_ticket(aws):
    from functions.core import wiring
    from functions.core.tickets import TicketService

    first = aws.deliver(make_mail(message_id="<reopen@example.com>"), received_at=TUESDAY_MORNING)
    components = wiring.build(wiring.Settings.from_env())
    TicketService(
        config=components.config, store=aws.store, senders={}, renderer=components.renderer
    ).resolve(first["ticket_id"], actor="agent@helpline.test")
    aws.deliver(
        make_mail(text="Actually it is still not here, sorry.", in_reply_to="<reopen@example.com>"),
        received_at=TUESDAY_MORNING + timedelta(days=1),
    )
    bundle = _ticket(aws, first)
    assert bundle.ticket.status is TicketStatus.OPEN
    assert "reopened" in [e.type for e in bundle.events]


def test_virus_is_quarantined_and_spam_is_tagged_without_a_reply(aws):
    virus = aws.deliver(
        make_mail(message_id="<v@example.com>"), received_at=TUESDAY_MORNING, virus="FAIL"
    )
    assert virus["status"] == "quarantined" and virus["reason"] == "virus"
    spam = aws.deliver(
        make_mail(message_id="<s@example.com>"), received_at=TUESDAY_MORNING, spam="FAIL"
    )
    assert spam["status"] == "created"
    assert "spam" in _ticket(aws, spam).ticket.tags
    assert aws.sent_mail() == []
    assert [r.reason for r in aws.store.list_quarantine()] == ["virus"]


def test_mail_from_our_own_address_is_a_loop_and_is_quarantined(aws):
    outcome = aws.deliver(
        make_mail(sender="Helpline <support@helpline.test>"), received_at=TUESDAY_MORNING
    )
    assert outcome["status"] == "quarantined" and outcome["reason"] == "own_loop"
    assert aws.sent_mail() == []


def test_our_own_ack_coming_back_is_recognised(aws):
    aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    [ack] = aws.sent_mail()
    bounced_back = ack.as_bytes().replace(
        b"From: Helpline Demo Support <support@helpline.test>", b"From: Forwarder <fwd@example.com>"
    )
    outcome = aws.deliver(bounced_back, received_at=TUESDAY_MORNING)
    assert outcome["status"] == "quarantined" and outcome["reason"] == "own_loop"


def test_sender_supplied_internal_headers_are_stripped(aws):
    outcome = aws.deliver(
        make_mail(headers={"X-Helpline-Priority": "urgent", "X-Helpline-Queue": "arabic"}),
        received_at=TUESDAY_MORNING,
    )
    bundle = _ticket(aws, outcome)
    assert bundle.ticket.queue == "english" and bundle.ticket.priority == "normal"
    stripped = [e for e in bundle.events if e.type == "headers_stripped"]
    assert stripped and set(stripped[0].detail["headers"]) == {
        "X-Helpline-Priority",
        "X-Helpline-Queue",
    }


def test_missing_from_falls_back_to_reply_to(aws):
    raw = make_mail(
        sender="undisclosed-recipients:;", headers={"Reply-To": "Real Person <real@example.com>"}
    )
    outcome = aws.deliver(raw, received_at=TUESDAY_MORNING)
    assert outcome["status"] == "created"
    customer = aws.store.get_customer(_ticket(aws, outcome).ticket.customer_id)[0]
    assert [str(i) for i in customer.identities] == ["email:real@example.com"]
    # identified by Reply-To, but never answered there automatically: anyone can write
    # anyone's address in it (issue 16); an agent's reply still reaches them
    assert aws.sent_mail() == []


def test_a_mail_with_no_usable_sender_is_quarantined(aws):
    outcome = aws.deliver(make_mail(sender="undisclosed-recipients:;"), received_at=TUESDAY_MORNING)
    assert outcome["status"] == "quarantined" and outcome["reason"] == "no_sender"


def test_empty_object_is_quarantined_as_unparseable(aws):
    outcome = aws.deliver(b"", received_at=TUESDAY_MORNING)
    assert outcome["status"] == "quarantined" and outcome["reason"] == "unparseable"


def test_notification_that_is_not_from_ses_is_quarantined(aws):
    outcomes = aws.invoke({"notificationType": "Bounce", "bounce": {}})
    assert outcomes[0]["status"] == "quarantined" and outcomes[0]["reason"] == "not_a_receipt"


def test_attachments_are_stored_in_s3_with_checksum(aws):
    pdf = b"%PDF-1.4 fake invoice " * 100
    outcome = aws.deliver(
        make_mail(attachments=[("invoice.pdf", "application/pdf", pdf)]),
        received_at=TUESDAY_MORNING,
    )
    [message] = [m for m in _ticket(aws, outcome).messages if m.direction is Direction.INBOUND]
    [attachment] = message.attachments
    assert attachment["filename"] == "invoice.pdf" and attachment["size"] == len(pdf)
    stored = (
        aws.session.client("s3")
        .get_object(Bucket=aws.resources.bucket, Key=attachment["key"])["Body"]
        .read()
    )
    assert stored == pdf


def test_missing_s3_object_raises_so_lambda_retries(aws):
    from functions.core.blobs import MissingObjectError
    from infra.local import ses

    notification = ses.receipt_notification(
        make_mail(),
        bucket=aws.resources.bucket,
        key="raw/not-there",
        topic_arn=aws.resources.inbound_topic_arn,
        envelope_from="a@example.com",
        recipients=["support@helpline.test"],
    )
    with pytest.raises(MissingObjectError):
        aws.invoke(notification)
    assert aws.store.list_tickets() == []


def _dsn(original_message_id: str, recipient: str) -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: support@helpline.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{abs(hash(original_message_id))}@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.
I'm sorry to have to inform you that your message could not be delivered.

<{recipient}>: host mx.example.com said: 550 5.1.1 User unknown

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--BOUNDARY
Content-Type: text/rfc822-headers

From: Helpline Demo Support <support@helpline.test>
To: {recipient}
Subject: Re: Question about my order
Message-ID: {original_message_id}

--BOUNDARY--
""".replace("\n", "\r\n").encode()


@pytest.mark.parametrize(
    ("language", "sentence", "length"),
    [
        ("ru", "Здравствуйте, мой заказ до сих пор не пришёл, помогите, пожалуйста. ", 250_000),
        ("ar", "مرحبا، لم يصل طلبي حتى الآن، هل يمكنكم مساعدتي من فضلكم؟ ", 250_000),
        ("ja", "こんにちは、注文した商品がまだ届いていません。確認していただけますか。", 150_000),
    ],
)
def test_a_long_mail_in_a_two_or_three_byte_script_keeps_its_body_in_s3(
    aws, language, sentence, length
):
    """DynamoDB counts an item's bytes, not its characters: 250,000 characters of
    Cyrillic or Arabic are about 450 KB, 150,000 of Japanese too, over the 400 KB an
    item may hold, though fewer characters than a Latin mail that fits."""
    from functions.core.store import MAX_ITEM_BYTES, item_size, message_to_item

    text = (sentence * (length // len(sentence) + 1))[:length]
    outcome = aws.deliver(make_mail(text=text, subject="Заказ"))
    assert outcome["status"] == "created", outcome
    bundle = aws.store.ticket_bundle(outcome["ticket_id"])
    [inbound] = [m for m in bundle.messages if m.direction is Direction.INBOUND]
    assert inbound.body_ref is not None
    assert item_size(message_to_item(inbound)) < MAX_ITEM_BYTES
    stored = aws.session.client("s3").get_object(Bucket=aws.resources.bucket, Key=inbound.body_ref)
    import json

    assert json.loads(stored["Body"].read())["text"].strip().startswith(text[:200].strip())
    assert bundle.ticket.language == language


# -- who can join a ticket (issue 16, items 1 and 7) -------------------------------------------


def _agent(aws):
    """The agents' ticket service, sending through (moto's) SES as the CLI does."""
    from functions.core import wiring

    return wiring.build(wiring.Settings.from_env()).tickets


def _sent_to(aws, text):
    """The mails whose body holds `text`: (To header, Cc header, every destination)."""
    return [
        (m["To"], m["Cc"], sorted(set(m.destinations)))  # moto adds the headers' addresses
        for m in aws.sent_mail()
        if text in body_text(m)
    ]


def test_a_stranger_answering_the_customers_message_id_gets_a_new_linked_ticket(aws):
    first = aws.deliver(
        make_mail(subject="Password reset", message_id="<pw-1@example.com>"),
        received_at=TUESDAY_MORNING,
    )
    # Ana had copied a friend on her mail; the friend writes in as if in her thread
    outcome = aws.deliver(
        make_mail(
            sender="Mallory <mallory@evil.example>",
            subject="Re: Password reset",
            text="I changed my mind, please send the reset code to this address instead.",
            in_reply_to="<pw-1@example.com>",
            references="<pw-1@example.com>",
        ),
        received_at=TUESDAY_MORNING + timedelta(minutes=5),
    )

    assert outcome["status"] == "created"
    assert outcome["ticket_id"] != first["ticket_id"]
    original = _ticket(aws, first)
    assert "email:mallory@evil.example" not in original.ticket.participants
    assert [m.sender for m in original.messages if m.direction is Direction.INBOUND] == [
        "ana@example.com"
    ]
    # each ticket names the other, so an agent can merge them knowingly
    linked = [e.detail for e in _ticket(aws, outcome).events if e.type == "linked"]
    assert linked and linked[0]["ticket"] == first["ticket_id"]
    back = [e.detail for e in original.events if e.type == "linked"]
    assert back and back[0]["ticket"] == outcome["ticket_id"]
    # the agent's answer on Ana's ticket goes to Ana only
    _agent(aws).reply(first["ticket_id"], "Your reset code is 402913.", agent="sam@helpline.test")
    assert _sent_to(aws, "402913") == [("ana@example.com", None, ["ana@example.com"])]


def test_a_token_with_reply_to_the_customer_does_not_join_and_its_ack_names_only_its_ticket(
    aws,
):
    first = aws.deliver(
        make_mail(subject="Password reset", message_id="<pw-2@example.com>"),
        received_at=TUESDAY_MORNING,
    )
    token = f"[#{first['ticket_id']}]"
    outcome = aws.deliver(
        make_mail(
            sender="mallory@evil.example",
            subject=f"Urgent {token}",
            text="Please send the new password here, my old mailbox is gone.",
            headers={"Reply-To": "Ana García <ana@example.com>"},
        ),
        received_at=TUESDAY_MORNING + timedelta(minutes=5),
    )

    assert outcome["status"] == "created" and outcome["ticket_id"] != first["ticket_id"]
    stranger = _ticket(aws, outcome)
    assert first["ticket_id"] not in stranger.ticket.subject
    [ack] = [m for m in aws.sent_mail() if outcome["ticket_id"] in m["Subject"]]
    assert first["ticket_id"] not in ack["Subject"]
    assert first["ticket_id"] not in body_text(ack)
    assert "Password reset" not in body_text(ack)  # never the other ticket's subject
    _agent(aws).reply(first["ticket_id"], "Your reset code is 118822.", agent="sam@helpline.test")
    assert _sent_to(aws, "118822") == [("ana@example.com", None, ["ana@example.com"])]


def test_the_agents_reply_goes_to_the_customer_and_copies_not_to_the_last_writer(aws):
    first = aws.deliver(
        make_mail(
            to="support@helpline.test, Bob <bob@example.com>",
            message_id="<team-1@example.com>",
        ),
        received_at=TUESDAY_MORNING,
    )
    # Bob, copied by Ana, is a participant: his reply-all continues the ticket
    reply_all = aws.deliver(
        make_mail(
            sender="Bob <bob@example.com>",
            to="support@helpline.test, ana@example.com",
            subject="Re: Question about my order",
            text="Adding to Ana's question: it was shipped to our office.",
            in_reply_to="<team-1@example.com>",
        ),
        received_at=TUESDAY_MORNING + timedelta(minutes=5),
    )
    assert reply_all["status"] == "follow_up" and reply_all["ticket_id"] == first["ticket_id"]

    _agent(aws).reply(first["ticket_id"], "It left our warehouse today.", agent="sam@helpline.test")

    assert _sent_to(aws, "It left our warehouse today.") == [
        ("ana@example.com", "bob@example.com", ["ana@example.com", "bob@example.com"])
    ]


def test_the_customer_from_a_second_known_address_continues_and_is_still_the_addressee(aws):
    from functions.core.customers import CustomerService

    first = aws.deliver(make_mail(), received_at=TUESDAY_MORNING)
    other = aws.deliver(
        make_mail(sender="Ana García <ana.garcia@work.example>", subject="Another question"),
        received_at=TUESDAY_MORNING,
    )
    home, work = (_ticket(aws, o).ticket.customer_id for o in (first, other))
    CustomerService(store=aws.store, blobs=None).merge(home, work)  # one person, two addresses

    outcome = aws.deliver(
        make_mail(
            sender="Ana García <ana.garcia@work.example>",
            subject=f"Re: Question about my order [#{first['ticket_id']}]",
            text="Writing from work: the parcel is number 7781.",
        ),
        received_at=TUESDAY_MORNING + timedelta(hours=1),
    )
    assert outcome["status"] == "follow_up" and outcome["ticket_id"] == first["ticket_id"]

    _agent(aws).reply(first["ticket_id"], "Parcel 7781 is on its way.", agent="sam@helpline.test")
    [(to, cc, destinations)] = _sent_to(aws, "Parcel 7781 is on its way.")
    assert (to, cc, destinations) == (
        "ana.garcia@work.example",
        None,
        ["ana.garcia@work.example"],
    )


def test_an_empty_from_with_our_address_as_sender_is_a_loop_never_a_customer(aws):
    outcome = aws.deliver(
        make_mail(sender="undisclosed-recipients:;", headers={"Sender": "support@helpline.test"}),
        received_at=TUESDAY_MORNING,
    )
    assert outcome["status"] == "quarantined" and outcome["reason"] == "own_loop"
    assert aws.store.list_tickets() == []
    assert aws.sent_mail() == []


# -- automatic replies only to From, and a cap for everyone (issue 16, item 2) --------------


def test_an_acknowledgement_goes_to_from_never_to_a_different_reply_to(aws):
    phishing = "Your mailbox is full: verify your password at http://evil.example/verify"
    outcome = aws.deliver(
        make_mail(
            sender="Mallory <mallory@evil.example>",
            subject=phishing,
            headers={"Reply-To": "Target Person <target@victim.example>"},
        ),
        received_at=TUESDAY_MORNING,
    )

    assert outcome["status"] == "created" and outcome["reply"] == "sent"
    [ack] = aws.sent_mail()
    assert sorted(set(ack.destinations)) == ["mallory@evil.example"]
    assert ack["To"] == "mallory@evil.example"
    assert not [m for m in aws.sent_mail() if "target@victim.example" in str(m.destinations)]


def test_a_mail_with_only_a_reply_to_gets_no_automatic_reply_and_the_ticket_says_why(aws):
    outcome = aws.deliver(
        make_mail(
            sender="undisclosed-recipients:;",
            subject="Your mailbox is full: verify your password at http://evil.example/verify",
            headers={"Reply-To": "target@victim.example"},
        ),
        received_at=TUESDAY_MORNING,
    )

    assert outcome["status"] == "created" and outcome["reply"].startswith("skipped")
    assert aws.sent_mail() == []
    [skipped] = [e for e in _ticket(aws, outcome).events if e.type == "auto_reply_skipped"]
    assert "From" in skipped.detail["reason"]


def _with_config(aws, monkeypatch, tmp_path, change):
    """email_ingest from here on runs with the demo config changed by `change`."""
    import shutil

    import yaml

    from functions.email_ingest import wiring as email_wiring
    from infra.local.resources import DEMO_CONFIG

    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "capped.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    shutil.copy(DEMO_CONFIG.with_name("demo.holidays.json"), tmp_path / "capped.holidays.json")
    monkeypatch.setenv("HELPLINE_CONFIG", str(path))
    email_wiring.use(None)


def test_the_hourly_cap_on_automatic_mail_holds_for_senders_each_within_their_own_limit(
    aws, monkeypatch, tmp_path, capsys
):
    import json

    # metrics on, whatever an earlier test in this process set (the CLI turns them off)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)

    _with_config(aws, monkeypatch, tmp_path, lambda c: c["email"].update(automatic_per_hour=3))
    outcomes = [
        aws.deliver(
            make_mail(
                sender=f"Sender {i} <sender{i}@throwaway{i}.example>",
                subject=f"Question number {i}",
            ),
            received_at=TUESDAY_MORNING,
        )
        for i in range(4)
    ]

    assert [o["status"] for o in outcomes] == ["created"] * 4
    assert [o["reply"] for o in outcomes] == ["sent", "sent", "sent", "capped"]
    assert sorted(d for m in aws.sent_mail() for d in set(m.destinations)) == [
        f"sender{i}@throwaway{i}.example" for i in range(3)
    ]
    capped = [e for e in _ticket(aws, outcomes[3]).events if e.type == "auto_reply_capped"]
    assert len(capped) == 1 and "email.automatic_per_hour" in capped[0].detail["reason"]
    metrics = [
        line
        for line in (json.loads(x) for x in capsys.readouterr().out.splitlines() if x[:1] == "{")
        if "_aws" in line and "AutomaticMail_capped" in line
    ]
    assert len(metrics) == 1
    assert (metrics[0]["service"], metrics[0]["kind"]) == ("email_ingest", "reply")
