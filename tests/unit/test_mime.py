"""Unit tests for `functions.core.mime`: raw mail bytes to `ParsedMail`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core.errors import RejectedInput
from functions.core.mime import Address, Bounce, ParsedMail, extract_message_ids, parse_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def mail(*header_lines: str, body: bytes | str = b"Hello.\n") -> ParsedMail:
    head = "\n".join(header_lines).encode("utf-8", "surrogateescape")
    data = body.encode("utf-8") if isinstance(body, str) else body
    return parse_mail(head + b"\n\n" + data)


def fixture(name: str) -> ParsedMail:
    return parse_mail((FIXTURES / name).read_bytes())


# --------------------------------------------------------------------------- headers


def test_encoded_words_are_joined_across_split_multibyte_characters() -> None:
    # "¿Dónde está mi pedido?" in two base64 words that split no character, plus one
    # where the UTF-8 bytes of "é" are split across two Q words
    parsed = mail(
        "From: a@example.com",
        "Subject: =?utf-8?B?wr9Ew7NuZGUgZXN0w6EgbWkg?=\n =?utf-8?B?cGVkaWRvPw==?=",
        "X-Split: =?utf-8?Q?caf=C3?= =?utf-8?Q?=A9_au_lait?=",
    )
    assert parsed.subject == "¿Dónde está mi pedido?"
    assert parsed.header("x-split") == "café au lait"


def test_whitespace_between_encoded_word_and_text_is_kept() -> None:
    parsed = mail("Subject: Re: =?iso-8859-1?Q?Gr=FC=DFe?= aus   =?utf-8?Q?M=C3=BCnchen?=")
    assert parsed.subject == "Re: Grüße aus München"


def test_encoded_word_with_spaces_inside_is_decoded() -> None:
    # not allowed by RFC 2047, written by real mailers (Zammad mail050)
    assert mail("Subject: =?us-ascii?Q?ABC / 123 / West?=").subject == "ABC / 123 / West"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("=?x-unknown?Q?Gr=FC=DFe?=", "Grüße"),  # unknown label: UTF-8, then Windows-1252
        ("=?gb2312?B?6UY=?=", "镕"),  # GBK-only character under a gb2312 label
        ("=?iso-gb2312?B?yP3Qx7Xn19M=?=", "三星电子"),
        ("=?ks_c_5601-1987?B?vsiz58fPvLy/5A==?=", "안녕하세요"),
        ("=?unicode-1-1-utf-7?Q?Hi_Mom_-+Jjo--!?=", "Hi Mom -☺-!"),
        ("=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=", "こんにちは"),
        ("=?utf-8*en?Q?hello?=", "hello"),  # RFC 2231 language suffix
        ("=?no-such-charset?B?SGVsbG8=?=", "Hello"),
        ("=?utf-8?B?SGVsbG8?=", "Hello"),  # missing base64 padding
    ],
)
def test_encoded_words_in_broken_or_exotic_charsets_decode(word: str, expected: str) -> None:
    assert mail(f"Subject: {word}").subject == expected


def test_raw_8bit_headers_are_utf8_or_the_declared_body_charset() -> None:
    utf8 = mail("From: José <jose@example.com>", "Subject: Año nuevo")
    assert utf8.from_ == Address("jose@example.com", "José")
    assert utf8.subject == "Año nuevo"

    gb = "转发：整体提升".encode("gb2312")
    parsed = parse_mail(
        b"From: a@example.com\nSubject: "
        + gb
        + b"\nContent-Type: text/plain; charset=gb2312\n\n"
        + "正文".encode("gb2312")
    )
    assert parsed.subject == "转发：整体提升"
    assert parsed.text == "正文"

    latin = parse_mail(
        b"From: =?utf-8?Q?x?= <a@example.com>\nSubject: M\xfcller\n"
        b"Content-Type: text/plain; charset=iso-8859-1\n\nGr\xfc\xdfe"
    )
    assert latin.subject == "Müller"
    assert latin.text == "Grüße"


def test_headers_are_all_kept_in_order_and_decoded() -> None:
    parsed = mail(
        "Received: from a",
        "Received: from b",
        "X-Custom: =?utf-8?Q?caf=C3=A9?=",
        "From: a@example.com",
        "X-Folded: one\n two\n\tthree",
    )
    assert [name for name, _ in parsed.headers] == [
        "Received", "Received", "X-Custom", "From", "X-Folded",
    ]  # fmt: skip
    assert parsed.header("RECEIVED") == "from a"
    assert parsed.header("x-custom") == "café"
    assert parsed.header("x-folded") == "one two\tthree"
    assert parsed.header("x-missing") is None


def test_date_is_aware() -> None:
    assert mail("Date: Wed, 5 Jun 2024 16:20:00 -0300").date == datetime(
        2024, 6, 5, 19, 20, tzinfo=UTC
    )
    # -0000 means "time zone unknown": read as UTC rather than naive
    assert mail("Date: 5 Jun 2024 16:20:00 -0000").date == datetime(2024, 6, 5, 16, 20, tzinfo=UTC)
    assert mail("Date: not a date").date is None
    assert mail("From: a@example.com").date is None


def test_date_keeps_its_offset() -> None:
    parsed = mail("Date: Tue, 14 May 2024 09:12:03 +0200 (CEST)")
    assert parsed.date is not None
    assert parsed.date.utcoffset() == timedelta(hours=2)


# --------------------------------------------------------------------------- addresses


def test_addresses_with_quoted_commas_comments_and_groups() -> None:
    parsed = mail(
        'From: "Müller, Bernd" <Bernd.Mueller@Example.com>',
        "To: undisclosed-recipients:;",
        "Cc: team: a@example.com, B <b@example.com>;, c@example.com (Carol C)",
        "Reply-To: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <andreas@example.com>",
        "Sender: MAILER-DAEMON (Mail Delivery System)",
    )
    assert parsed.from_ == Address("Bernd.Mueller@Example.com", "Müller, Bernd")
    assert parsed.to == ()
    assert parsed.cc == (
        Address("a@example.com", ""),
        Address("b@example.com", "B"),
        Address("c@example.com", "Carol C"),
    )
    # the comma inside the encoded word does not split the mailbox
    assert parsed.reply_to == (Address("andreas@example.com", "Bürling, Andreas"),)
    assert parsed.sender == Address("MAILER-DAEMON", "Mail Delivery System")


def test_missing_from_leaves_reply_to_and_sender_for_the_caller() -> None:
    parsed = mail(
        "To: support@helpline.example",
        "Reply-To: <vipyimin@example.com>",
        "Sender: Bulk Mailer <bulk@example.net>",
    )
    assert parsed.from_ is None
    assert parsed.reply_to == (Address("vipyimin@example.com", ""),)
    assert parsed.sender == Address("bulk@example.net", "Bulk Mailer")


def test_from_without_an_address_is_none() -> None:
    parsed = mail('From: "=?GB2312?B?ztI=?=" <>', "Reply-To: <real@example.com>")
    assert parsed.from_ is None
    assert parsed.reply_to[0].email == "real@example.com"


def test_the_from_header_with_an_address_wins_over_a_broken_one() -> None:
    parsed = mail("From: [??????]", "From: =?utf-8?B?6YO955C5?= <ghgbwum@example.cn>")
    assert parsed.from_ == Address("ghgbwum@example.cn", "都琹")


def test_odd_but_real_from_headers() -> None:
    assert mail("From: marc@example.com (Marc Smith)").from_ == Address(
        "marc@example.com", "Marc Smith"
    )
    assert mail('From: "finances@example.com"').from_ == Address("finances@example.com", "")
    assert mail("From: 'Max Kohl' <kohl@example.com>").from_ == Address(
        "kohl@example.com", "Max Kohl"
    )
    assert mail('From: "x" <power quadrant@example.com>').from_ == Address(
        "power quadrant@example.com", "x"
    )
    assert mail("From: <mailto:a@example.com>").from_ == Address("a@example.com", "")


def test_encoded_words_in_an_address_are_decoded_only_when_harmless() -> None:
    assert mail("From: =?utf-8?Q?agent?=@example.com").from_ == Address("agent@example.com", "")
    spoof = mail("From: =?utf-8?Q?attacker=40evil.example?=@victim.example").from_
    assert spoof is not None
    assert spoof.email.endswith("@victim.example")
    assert "evil.example@" not in spoof.email


def test_recipients_without_a_domain_are_dropped() -> None:
    assert mail("To: Recipients").to == ()


def test_address_formatting() -> None:
    assert Address("a@example.com", "").formatted() == "a@example.com"
    assert Address("a@example.com", "Ana").formatted() == "Ana <a@example.com>"
    assert Address("a@example.com", 'Gómez, "Ana"').formatted() == (
        '"Gómez, \\"Ana\\"" <a@example.com>'
    )


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@x> <b@y>", ("a@x", "b@y")),
        ("<a@x>,<b@y>", ("a@x", "b@y")),
        ("<a@x>\r\n\t<b@y> <a@x>", ("a@x", "b@y")),
        ("a@x b@y", ("a@x", "b@y")),
        ("a@x, b@y", ("a@x", "b@y")),
        ('<a@x> (Ana\'s message of "Mon, 1 Jan")', ("a@x",)),
        ("Your message of Mon <a@x>", ("a@x",)),
        ("<a@x", ("a@x",)),
        ("<>  <  > junk", ()),
        ("<<a@x>", ("a@x",)),
        ("", ()),
        ("no ids here", ()),
    ],
)
def test_extract_message_ids(value: str, expected: tuple[str, ...]) -> None:
    assert extract_message_ids(value) == expected


def test_threading_headers() -> None:
    parsed = mail(
        "Message-ID:   <CAF+abc@mail.example.com>  ",
        "In-Reply-To: <t-1.r@helpline.example>",
        "References: <t-1@helpline.example>\n <t-1.r@helpline.example> <t-1@helpline.example>",
    )
    assert parsed.message_id == "CAF+abc@mail.example.com"
    assert parsed.in_reply_to == ("t-1.r@helpline.example",)
    assert parsed.references == ("t-1@helpline.example", "t-1.r@helpline.example")
    assert mail("Message-ID: <>").message_id is None
    assert mail("Message-ID: bare@example.com").message_id == "bare@example.com"
    assert mail("From: a@example.com").message_id is None


# --------------------------------------------------------------------------- bodies


def test_multipart_alternative_related_and_attachments() -> None:
    parsed = fixture("related-alternative.eml")
    assert parsed.content_type == "text/html"
    assert parsed.text == "Hola, ¿dónde está mi pedido?\n[logo]"
    assert parsed.html is not None
    assert "<b>pedido</b>" in parsed.html
    assert "script" not in parsed.html
    assert "alert" not in parsed.html
    assert "ignored title" not in parsed.html
    logo, invoice = parsed.attachments
    assert (logo.filename, logo.content_type, logo.inline, logo.content_id) == (
        "image.png", "image/png", True, "logo@example.com",
    )  # fmt: skip
    assert logo.content == base64.b64decode("iVBORw0KGgo=")
    assert logo.sha256 == hashlib.sha256(logo.content).hexdigest()
    assert logo.size == len(logo.content)
    # RFC 2231 continuation with a charset
    assert (invoice.filename, invoice.inline) == ("Factura nº1234.pdf", False)
    assert invoice.content.startswith(b"%PDF")


def test_alternative_shows_the_last_part_that_can_be_displayed() -> None:
    parsed = parse_mail(
        b"Content-Type: multipart/alternative; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nplain version\n"
        b"--b\nContent-Type: text/html\n\n<p>html version</p>\n"
        b"--b\nContent-Type: text/plain\n\n\n"  # an empty stray part does not count
        b"--b\nContent-Type: application/x-unknown\n\nxx\n--b--\n"
    )
    assert parsed.content_type == "text/html"
    assert parsed.html is not None
    assert "html version" in parsed.html
    assert parsed.text == "plain version"


def test_html_only_mail_gets_text_from_the_html() -> None:
    parsed = mail(
        "Content-Type: text/html; charset=utf-8",
        body="<html><head><title>t</title></head><body><p>Hi <b>there</b></p>"
        "<blockquote>quoted</blockquote></body></html>",
    )
    assert parsed.content_type == "text/html"
    assert parsed.text == "Hi there\n\n> quoted"


def test_html_charset_from_meta_when_the_header_has_none() -> None:
    parsed = parse_mail(
        b"Content-Type: text/html\n\n<meta charset=windows-1251><p>\xcf\xf0\xe8\xe2\xe5\xf2</p>"
    )
    assert parsed.text == "Привет"


def test_mixed_inline_parts_are_concatenated_in_order() -> None:
    parsed = parse_mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/html\n\n<html><body><h1>First</h1></body></html>\n"
        b"--b\nContent-Type: text/plain\n\nsecond <line>\n"
        b"--b\nContent-Type: text/html\n\n<p>third (signature)</p>\n--b--\n"
    )
    assert parsed.content_type == "text/html"
    assert parsed.html is not None
    assert parsed.html.index("First") < parsed.html.index("second &lt;line&gt;")
    assert parsed.html.index("second") < parsed.html.index("third")
    assert parsed.text == "First\nsecond <line>\nthird (signature)"


def test_text_attachment_is_not_the_body() -> None:
    parsed = parse_mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nthe body\n"
        b'--b\nContent-Type: text/plain; name="notes.txt"\n'
        b"Content-Disposition: attachment\n\nthe file\n--b--\n"
    )
    assert parsed.text == "the body"
    assert [(a.filename, a.content) for a in parsed.attachments] == [("notes.txt", b"the file")]


def test_signed_mail_shows_the_signed_content_and_keeps_the_signature() -> None:
    parsed = parse_mail(
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s\n\n'
        b"--s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable"
        b"\n\nsigned =C3=A4\n"
        b"--s\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
        b"Content-Transfer-Encoding: base64\n\nMIIG\n--s--\n"
    )
    assert parsed.text == "signed ä"
    (signature,) = parsed.attachments
    assert (signature.filename, signature.content_type) == (
        "smime.p7s", "application/pkcs7-signature",
    )  # fmt: skip


def test_embedded_message_is_an_eml_attachment_named_after_its_subject() -> None:
    parsed = parse_mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nsee below\n"
        b"--b\nContent-Type: message/rfc822\n\n"
        b"Subject: =?utf-8?Q?Angebot_f=C3=BCr_Sie?=\nX-Empty:\n\ninner body\n--b--\n"
    )
    (eml,) = parsed.attachments
    assert eml.filename == "Angebot für Sie.eml"
    assert eml.content_type == "message/rfc822"
    assert eml.content == b"Subject: =?utf-8?Q?Angebot_f=C3=BCr_Sie?=\nX-Empty:\n\ninner body"


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [
        ("image/png", "image.png"),
        ("image/jpg", "image.jpg"),
        ("application/octet-stream", "file.bin"),
        ("application/x-made-up", "file.bin"),
        ("text/calendar", "file.ics"),
        ("message/rfc822", "message.eml"),
    ],
)
def test_missing_filenames_are_synthesized(content_type: str, filename: str) -> None:
    parsed = parse_mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n"
        b"--b\nContent-Type: " + content_type.encode() + b"\n\n\n--b--\n"
    )
    assert parsed.attachments[0].filename == filename


def test_filenames_lose_paths_and_control_characters() -> None:
    parsed = parse_mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n"
        b"--b\nContent-Type: application/pdf\nContent-Disposition: attachment; "
        b'filename="C:\\\\Users\\\\ana\\\\..\\\\inv\x01oice.pdf"\n\n%PDF\n'
        b'--b\nContent-Type: application/pdf; name="=?utf-8?B?w6TDtsO8LnBkZg==?="\n\n%PDF\n--b--\n'
    )
    assert [a.filename for a in parsed.attachments] == ["invoice.pdf", "äöü.pdf"]


def test_body_charsets_are_decoded_robustly() -> None:
    cases = {
        b"gb2312": "镕基".encode("gbk"),
        b"ks_c_5601-1987": "안녕".encode("cp949"),
        b"windows-1258": b"Ti\xea\xecng Vi\xea\xf2t",
        b"iso-2022-jp": "こんにちは".encode("iso2022_jp"),
        b"unicode-1-1-utf-7": "Hi ☺".encode("utf-7"),
        b"utf-8 content-transfer-encoding: 7bit": "ok ✓".encode(),
    }
    expected = ["镕基", "안녕", "Tiếng Việt", "こんにちは", "Hi ☺", "ok ✓"]
    for (charset, body), text in zip(cases.items(), expected, strict=True):
        parsed = parse_mail(b'Content-Type: text/plain; charset="' + charset + b'"\n\n' + body)
        assert parsed.text == text, charset


def test_unlabelled_8bit_bodies() -> None:
    assert parse_mail(b"Subject: x\n\nGr\xfc\xdfe").text == "Grüße"  # Windows-1252
    assert parse_mail("Subject: x\n\nGrüße ✓".encode()).text == "Grüße ✓"  # UTF-8
    chinese = "机房环境法规，请查收附件中的详细说明。".encode("gb2312")
    assert parse_mail(b"Subject: x\n\n" + chinese).text == "机房环境法规，请查收附件中的详细说明。"
    # a mislabelled UTF-8 body under us-ascii
    assert parse_mail(b"Content-Type: text/plain; charset=us-ascii\n\nd\xc3\xa9j\xc3\xa0").text == (
        "déjà"
    )


def test_transfer_encodings() -> None:
    body = "Grüße\n".encode()
    for cte, payload in [
        (b"base64", base64.encodebytes(body)),
        (b"quoted-printable", b"Gr=C3=BC=C3=9Fe=\n\n"),
        (b"8bit", body),
        (b"binary", body),
        (b"x-unknown-encoding", body),
    ]:
        parsed = parse_mail(
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
            + cte
            + b"\n\n"
            + payload
        )
        assert parsed.text == "Grüße", cte


def test_broken_base64_is_decoded_as_far_as_possible() -> None:
    parsed = parse_mail(
        b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nSGVsbG8g!!d29y\nbGQ"
    )
    assert parsed.text.startswith("Hello wor")


def _uuencode(name: str, data: bytes) -> bytes:
    lines = [binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)]
    return f"begin 644 {name}\n".encode() + b"".join(lines) + b"`\nend\n"


def test_inline_uuencode_blocks_become_attachments() -> None:
    data = bytes(range(256)) * 3
    parsed = parse_mail(
        b"Subject: report\n\nSee the attached report.\n\n"
        + _uuencode("report.csv", data)
        + b"\nRegards\n"
    )
    assert parsed.text == "See the attached report.\n\n\nRegards"
    (attachment,) = parsed.attachments
    assert (attachment.filename, attachment.content_type) == ("report.csv", "text/csv")
    assert attachment.content == data


def test_uuencode_as_content_transfer_encoding() -> None:
    data = b"%PDF-1.4 fake" * 20
    parsed = parse_mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n"
        b"--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: x-uuencode\n\n"
        + _uuencode("scan.pdf", data)
        + b"--b--\n"
    )
    assert parsed.text == "hi"
    (attachment,) = parsed.attachments
    assert (attachment.filename, attachment.content) == ("scan.pdf", data)


def test_text_that_only_looks_like_uuencode_stays_text() -> None:
    body = b"begin 644 not really\nthis is prose, not uuencode\nend\n"
    parsed = parse_mail(b"Subject: x\n\n" + body)
    assert parsed.attachments == ()
    assert "this is prose" in parsed.text


# --------------------------------------------------------------------------- bounces


def test_delivery_status_notification() -> None:
    parsed = fixture("dsn-postfix.eml")
    assert parsed.bounce == Bounce(
        original_message_id="ticket-4711.reply-2@helpline.example",
        failed_recipients=("ana.gomez@customer.example",),
        action="failed",
        status="5.1.1",
        diagnostic="550 5.1.1 <ana.gomez@customer.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
    )
    assert parsed.bounce.permanent
    assert parsed.from_ == Address("MAILER-DAEMON@mx.example.net", "Mail Delivery System")
    assert parsed.text.startswith("This is the mail system at host mx.example.net.")
    names = [a.filename for a in parsed.attachments]
    assert names == ["delivery-status.txt", "[#4711] Your order has shipped.eml"]


def test_delayed_dsn_with_rfc822_headers_is_not_permanent() -> None:
    parsed = parse_mail(
        b"From: postmaster@example.net\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
        b"--r\nContent-Type: text/plain\n\nStill trying.\n"
        b"--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        b"Final-Recipient: rfc822; <Bob@Example.com>\nAction: delayed\nStatus: 4.4.7\n\n"
        b"--r\nContent-Type: text/rfc822-headers\n\nFrom: us@helpline.example\n"
        b"Message-ID:\n <orig-1@helpline.example>\n--r--\n"
    )
    assert parsed.bounce == Bounce("orig-1@helpline.example", (), "delayed", "4.4.7", "")
    assert not parsed.bounce.permanent


def test_dsn_without_message_part_finds_the_id_in_the_text() -> None:
    parsed = parse_mail(
        b"From: MAILER-DAEMON@example.net\nX-Failed-Recipients: gone@example.com\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
        b"--r\nContent-Type: text/plain\n\nThe original message was:\n"
        b"> Message-ID: <orig-2@helpline.example>\n"
        b"--r\nContent-Type: message/delivery-status\n\n\n--r--\n"
    )
    assert parsed.bounce == Bounce(
        "orig-2@helpline.example", ("gone@example.com",), "failed", "", ""
    )


def test_classic_bounce_from_mailer_daemon() -> None:
    parsed = fixture("bounce-qmail.eml")
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "ticket-815.ack@helpline.example"
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.permanent


def test_ordinary_mail_is_not_a_bounce() -> None:
    quoted = b"> Message-ID: <x@example.com>\n"
    assert parse_mail(b"From: ana@example.com\n\n" + quoted).bounce is None
    # a postmaster writing without the original id is not a bounce either
    assert parse_mail(b"From: postmaster@example.com\n\nHello").bounce is None


# --------------------------------------------------------------------------- robustness


def test_empty_input_is_rejected() -> None:
    for raw in (b"", b"\n", b" \r\n\r\n\t"):
        with pytest.raises(RejectedInput) as caught:
            parse_mail(raw)
        assert caught.value.code == "empty_mail"


def test_body_without_headers_is_kept() -> None:
    assert parse_mail(b"just some text").text == "just some text"


def test_banner_line_and_unindented_continuations_do_not_lose_the_headers() -> None:
    parsed = parse_mail(
        b"---- Original email message ----\r\n"
        b"Return-Path: x@mail.example.cz\r\n"
        b"Received: from mail.example.cz\r\n"
        b"by mx.example.cz with ESMTP\r\n"
        b"To: helpdesk@example.cz\r\n"
        b"Subject: Contact from Server\r\n"
        b"From: web@example.cz\r\n"
        b"\r\n"
        b"Contact form\r\n"
    )
    assert parsed.from_ == Address("web@example.cz", "")
    assert parsed.subject == "Contact from Server"
    assert parsed.header("received") == "from mail.example.cz by mx.example.cz with ESMTP"
    assert parsed.text == "Contact form"


def test_missing_boundaries_leave_the_text_readable() -> None:
    parsed = parse_mail(
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=nope\n\nplain words\n"
    )
    assert parsed.text == "plain words"
    assert "StartBoundaryNotFoundDefect" in parsed.defects


def test_pathological_structures_parse() -> None:
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(1500)
    )
    parsed = parse_mail(b"From: a@example.com\n" + nested + b"Content-Type: text/plain\n\nhi\n")
    assert parsed.from_ == Address("a@example.com", "")

    params = b"Content-Type: text/plain; charset=utf-8" + b"; a*0*=x" * 3000 + b"\n\nbody"
    assert parse_mail(params).text == "body"

    deep_html = b"Content-Type: text/html\n\n" + b"<div>" * 30_000 + b"deep"
    parsed = parse_mail(deep_html)
    assert parsed.text == "deep"
    assert parsed.html is not None
    assert "<div>" not in parsed.html.replace("<div>deep", "")


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\xff\xfe",
        b"Content-Type: multipart/mixed; boundary=\n\n--\n--\n",
        b'Content-Type: text/plain; charset="\n\n\xff',
        b"Content-Type: text/plain; charset=base64\n\nabc",
        b"Content-Type: text/plain; charset=undefined\n\n\xe9",
        b"Content-Type: message/rfc822\n\n",
        b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n@@@",
        b'From: "\\\nTo: <<<>>>,,,;;;:::\nSubject: =?\n\n',
        b"Content-Disposition: attachment; filename*0*=x'y'%zz; filename*1*=%ff\n\nx",
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999\nMessage-ID: <<<\nReferences: >>>\n\nx",
    ],
)
def test_malformed_input_never_raises(raw: bytes) -> None:
    assert isinstance(parse_mail(raw), ParsedMail)


_PIECES = st.sampled_from(
    [
        b"From: ", b"To: ", b"Subject: ", b"Content-Type: ", b"multipart/mixed; boundary=b",
        b"multipart/alternative; boundary=b", b"message/rfc822", b"message/delivery-status",
        b"text/html", b"Content-Transfer-Encoding: base64", b"x-uuencode", b"quoted-printable",
        b"\n--b\n", b"\n--b--\n", b"\n", b"\r\n", b" ", b"=?utf-8?B?", b"=?gb2312?Q?", b"?=",
        b"charset=iso-2022-jp", b"\x1b$B", b"<", b">", b"\"", b"(", b",", b";", b":", b"@",
        b"begin 644 a\n", b"end\n", b"filename*0*=utf-8''%e2", b"cid:", b"&#", b"<div>",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_PIECES, st.binary(max_size=12)), max_size=40))
def test_any_bytes_parse_or_are_rejected(pieces: list[bytes]) -> None:
    try:
        parsed = parse_mail(b"".join(pieces))
    except RejectedInput:
        return
    assert isinstance(parsed, ParsedMail)
    assert parsed.content_type in ("text/plain", "text/html")
    for attachment in parsed.attachments:
        assert attachment.size == len(attachment.content)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_parse_or_are_rejected(raw: bytes) -> None:
    try:
        assert isinstance(parse_mail(raw), ParsedMail)
    except RejectedInput as rejected:
        assert rejected.code == "empty_mail"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
        # only input without any content is rejected: blanks, NULs, a bare ":", an
        # mbox "From " separator line with no message after it
        if text.startswith("From "):
            text = text.partition("\n")[2]
        # ISO-2022 escape sequences ("\x1b(A") switch a charset and carry no content
        text = re.sub(r"\x1b[()$*+][@-Z]", "", text)
        assert not any(char.isalnum() for char in text)
