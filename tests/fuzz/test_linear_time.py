"""No input takes more than linear time: every parser on an input of size n and of
size 8n, side by side (bench/fuzz/growth.py). Each case grows the one thing an
attacker controls without bound: headers, addresses, encoded words, parts, quoted
lines, events in a delivery, rules in a config. The ratios are printed at the end of
the run; a case fails only when its ratio is far above the 8x that linear code shows.

The two probes email_reply_parser ships for this (its MANIFEST.md: a ReDoS probe that
"must parse in < 1 s" and a 767 kB quote) are checked the same way, as plain text and
as the body of a mail. Known blowups live in test_found.py instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bench.fuzz import seeds as seed_inputs
from bench.fuzz.targets import TARGETS
from functions.chat_ws.protocol import MAX_FRAME_BYTES
from functions.core.html import html_to_text, sanitize_html
from functions.core.quotes import split_reply
from tests.fuzz.support import assert_linear, assert_linear_between, seeds

Make = Callable[[int], bytes]

# --- mail: each grows one part of the mail n times --------------------------------------


def _mail(head: bytes, unit: bytes, tail: bytes = b"") -> Make:
    return lambda n: head + unit * n + tail


MAIL_CASES: dict[str, Make] = {
    "header lines": _mail(b"", b"X-Note: b\n", b"\nbody"),
    "one folded header": _mail(b"Subject: a\n", b" b\n", b"\nbody"),
    "encoded words, two charsets": _mail(b"Subject: ", b"=?utf-8?q?a?= =?gb2312?q?b?= ", b"\n\nx"),
    "broken encoded words": _mail(b"Subject: ", b"=?a?q?", b"\n\nbody"),
    "addresses": _mail(b"To: ", b'"B, b" <b@example.com>, ', b"\n\nbody"),
    "unclosed quotes and comments": _mail(b"To: ", b'"(<', b"\n\nbody"),
    "group colons": _mail(b"To: ", b"a:", b"\n\nbody"),
    "encoded words in an address": _mail(b"From: ", b"=?utf-8?q?a?=@", b"\n\nbody"),
    "references": _mail(b"References: ", b"<a@b> ", b"\n\nbody"),
    "unclosed message-id brackets": _mail(b"References: ", b"<a ", b">\n\nbody"),
    "content-type parameters": _mail(b"Content-Type: text/plain", b"; a=b", b"\n\nbody"),
    "RFC 2231 continuations": _mail(
        b"Content-Disposition: attachment", b"; filename*0*=a", b"\n\nx"
    ),
    "parts": _mail(
        b"Content-Type: multipart/mixed; boundary=b\n\n",
        b"--b\nContent-Type: text/plain\n\nx\n",
        b"--b--\n",
    ),
    "alternative parts": _mail(
        b"Content-Type: multipart/alternative; boundary=b\n\n",
        b"--b\nContent-Type: text/html\n\n<b>x</b>\n",
        b"--b--\n",
    ),
    "related parts, unmatched start": _mail(
        b'Content-Type: multipart/related; boundary=b; start="<zz>"\n\n',
        b"--b\nContent-ID: <y>\n\nx\n",
        b"--b--\n",
    ),
    "boundary lines only": _mail(b"Content-Type: multipart/mixed; boundary=b\n\n", b"--b\n"),
    "uuencode begins without end": _mail(b"\n", b"begin 644 a\n"),
    "base64 with junk": _mail(b"Content-Transfer-Encoding: base64\n\n", b"Q@\n"),
    "quoted-printable soft breaks": _mail(
        b"Content-Transfer-Encoding: quoted-printable\n\n", b"=4=\n"
    ),
    "html tags": _mail(b"Content-Type: text/html\n\n", b"<b>x</b><p>y"),
    "html unclosed tags": _mail(b"Content-Type: text/html\n\n", b"<a x"),
    "html unclosed attributes": _mail(b"Content-Type: text/html\n\n", b"<a b='"),
    "html comments never closed": _mail(b"Content-Type: text/html\n\n", b"<!--"),
    "html cid references": _mail(b"Content-Type: text/html\n\n", b"<img src=cid:"),
    "unlabelled 8-bit lines": _mail(b"\n", b"\xe9a\n"),
    "unlabelled GB2312": _mail(b"\n", "中文".encode("gb2312")),
    "8-bit header": _mail(b"Subject: ", b"\xe9\xe9 ", b"\n\nx"),
    "delivery-status blocks": _mail(
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\n",
        b"Action: failed\nFinal-Recipient: rfc822; a@b\n\n",
        b"--b--\n",
    ),
    "bounce message-ids": _mail(b"From: MAILER-DAEMON@x\n\n", b"Message-ID: <a@b>\n"),
    "stray header lines": _mail(b"Received: a\n", b"stray\n", b"From: a@b\n\nx"),
    "bare CR line ends": _mail(b"From: a@b\r\r", b"x\r"),
}


@pytest.mark.parametrize("case", sorted(MAIL_CASES))
def test_parse_mail_is_linear(case: str) -> None:
    assert_linear(f"parse_mail: {case}", TARGETS["mime"].run, MAIL_CASES[case])


def test_normalize_mail_is_linear() -> None:
    make = _mail(b"From: a@example.com\nReferences: ", b"<r@example.com> ", b"\nCc: x@y.z\n\nbody")
    assert_linear("email.normalize: references", TARGETS["email"].run, make)


# --- reply text and HTML --------------------------------------------------------------

TEXT_CASES: dict[str, str] = {
    "quoted lines": "> quoted line\n",
    "attribution headers": "Hello\n\nOn Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n> hi\n",
    "interleaved reply": "Reply\n> quoted\nmore\n> again\n",
    "Outlook blocks": "From: a\nSent: b\nTo: c\nSubject: d\n\n",
    "headers sharing a line": "reply On 1 a@b wrote:\n",
    "sign-offs": "Regards,\nBob\n\n-Bob\n--\n\n",
    "dates with addresses": "2012-01-01 12:00 a@b " * 20 + "\n",
    "one long line": "word " * 50,
    "wrapped attributions": "On Tue, Apr 29, 2014\nat 4:22 PM, Dev\n<dev@example.com>\n",
}


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_split_reply_is_linear(case: str) -> None:
    unit = TEXT_CASES[case].encode()
    assert_linear(f"split_reply: {case}", TARGETS["quotes"].run, lambda n: unit * n)


def _sanitize_then_read(data: bytes) -> None:
    html_to_text(sanitize_html(data.decode("utf-8", "replace")))


@pytest.mark.parametrize(
    "unit", [b"<b>x</b><p>y", b"<a x", b"<!--", b"&amp;&#", b'<img src="cid:a" onerror=x>', b"</"]
)
def test_sanitized_html_is_read_in_linear_time(unit: bytes) -> None:
    # what the mail path does with any HTML body that is not deeply nested
    assert_linear(
        f"sanitize_html+html_to_text: {unit.decode()}", _sanitize_then_read, lambda n: unit * n
    )


def _probe(name: str) -> bytes:
    probes = seed_inputs.redos_probes()
    if name not in probes:
        pytest.skip(f"email_reply_parser's {name} probe is absent (set HELPLINE_CORPORA)")
    return probes[name]


def _reply_mail(text: bytes) -> bytes:
    return (
        b"From: dev@example.com\nSubject: Re: x\nContent-Type: text/plain; charset=utf-8\n\n" + text
    )


@pytest.mark.corpus
def test_redos_probe_is_linear() -> None:
    probe = _probe("pathological")
    assert_linear(
        "split_reply: ReDoS probe repeated", TARGETS["quotes"].run, lambda n: probe * n, start=1
    )
    assert_linear(
        "parse_mail: ReDoS probe as the body",
        TARGETS["mime"].run,
        lambda n: _reply_mail(probe * n),
        start=1,
    )


@pytest.mark.corpus
def test_long_quote_probe_is_linear() -> None:
    """767 kB of quoted text: its first eighth against the whole of it."""
    probe = _probe("long_quote")
    assert len(probe) > 700_000
    # an exact cut: the probe is mostly one 707 kB line of ">"
    eighth = probe[: len(probe) // 8]
    assert_linear_between(
        "split_reply: 767 kB quote, 1/8 vs all", TARGETS["quotes"].run, eighth, probe
    )
    assert_linear_between(
        "parse_mail: 767 kB quote as the body, 1/8 vs all",
        TARGETS["mime"].run,
        _reply_mail(eighth),
        _reply_mail(probe),
    )


# --- webhooks, chat, config, surveys ---------------------------------------------------


def _with_lists_repeated(node: Any, times: int, inside: bool = False) -> Any:
    """Every outermost list of a delivery holding its items `times` times."""
    if isinstance(node, list):
        items = [_with_lists_repeated(item, times, True) for item in node]
        return items if inside else items * times
    if isinstance(node, dict):
        return {key: _with_lists_repeated(value, times, inside) for key, value in node.items()}
    return node


def _busiest_seed(platform: str) -> Any:
    return max(
        (json.loads(seed) for seed in seeds(platform)), key=lambda body: len(json.dumps(body))
    )


@pytest.mark.parametrize("platform", ["messenger", "instagram", "whatsapp", "x", "meta"])
def test_deliveries_with_many_events_are_linear(platform: str) -> None:
    body = _busiest_seed(platform)

    def make(n: int) -> bytes:
        return json.dumps(_with_lists_repeated(body, n)).encode()

    assert_linear(f"{platform}.normalize: every list x n", TARGETS[platform].run, make, start=4)


def test_telegram_keyboards_are_linear() -> None:
    def make(n: int) -> bytes:
        rows = [[{"text": f"b{i}", "callback_data": f"d{i}"}] for i in range(n)]
        update = {
            "update_id": 1,
            "callback_query": {
                "id": "7", "from": {"id": 5, "first_name": "A"}, "data": "nope",
                "message": {"message_id": 3, "chat": {"id": 5}, "reply_markup": {"inline_keyboard": rows}},
            },
        }  # fmt: skip
        return json.dumps(update).encode()

    assert_linear("telegram.normalize: inline keyboard rows", TARGETS["telegram"].run, make)


def test_signatures_are_linear_in_the_body() -> None:
    assert_linear(
        "signatures: body", TARGETS["signatures"].run, lambda n: b"secret\nsha256=00\n" + b"{}" * n
    )


# (frame with n repeats, n for about 3.5 kB): the 8x frame stays under the 32 kB frame
# limit, or it would be refused before it is read and the ratio would say nothing
CHAT_FRAMES: dict[str, tuple[Callable[[int], dict[str, Any]], int]] = {
    "long text": (lambda n: {"action": "message", "text": "é" * n, "client_id": "c1"}, 600),
    "many languages": (
        lambda n: {"action": "status", "status": "online", "languages": ["en"] * n},
        600,
    ),
    "many page fields": (
        lambda n: {"action": "hello", "page": {f"k{i}": "v" for i in range(n)}},
        280,
    ),
}


@pytest.mark.parametrize("case", sorted(CHAT_FRAMES))
def test_chat_frames_are_linear(case: str) -> None:
    frame, n = CHAT_FRAMES[case]
    small, big = (json.dumps(frame(size)).encode() for size in (n, 8 * n))
    assert len(big) <= MAX_FRAME_BYTES
    assert_linear_between(f"chat.decode: {case}", TARGETS["chat"].run, small, big)


_SMALL_CONFIG = """version: 1
brand: {name: Demo, support_address: support@helpline.test, from_name: Demo, message_id_domain: helpline.test}
languages: {supported: [en, de], default: en}
calendars:
  london: {timezone: Europe/London, hours: {mon-fri: ["09:00-17:30"]}}
teams:
  english: {name: English, languages: [en, de], calendar: london}
routing:
  default_team: english
  rules:
RULES
agents:
AGENTS
"""


@pytest.mark.parametrize(
    ("rules", "agents"),
    [
        (
            lambda i: (
                f"    - {{name: r{i}, when: {{keywords: [k{i}, 'w {i}']}}, priority: high}}\n"
            ),
            lambda i: "",
        ),
        (
            lambda i: "",
            lambda i: (
                f"  - {{email: a{i}@helpline.test, name: A, languages: [en], max_chats: 2}}\n"
            ),
        ),
    ],
    ids=["routing rules", "agents"],
)
def test_config_is_linear(rules: Callable[[int], str], agents: Callable[[int], str]) -> None:
    def make(n: int) -> bytes:
        text = _SMALL_CONFIG.replace("RULES\n", "".join(rules(i) for i in range(n)) or "    []\n")
        return text.replace("AGENTS\n", "".join(agents(i) for i in range(n)) or "  []\n").encode()

    label = "routing rules" if rules(0) else "agents"
    assert_linear(f"parse_config: {label}", TARGETS["config"].run, make, start=16)


@pytest.mark.parametrize("unit", ["Gut, danke.\r\n", "e\u0301\u0323", "\u202e\x00a"])
def test_survey_comments_are_linear(unit: str) -> None:
    assert_linear(
        "surveys.clean_comment", TARGETS["surveys"].run, lambda n: b"5\n" + (unit * n).encode()
    )


def test_split_reply_probe_sanity() -> None:
    # the linear cases above measure real work: the splitter finds the quote they repeat
    assert split_reply(TEXT_CASES["attribution headers"] * 3).quoted


@pytest.mark.parametrize("unit", ["注文した商品がまだ届いていません。", "a", "x@" * 3])
def test_language_detection_is_linear(unit: str) -> None:
    """A long run with no spaces (Japanese, Chinese, or a hostile one) was rescanned by
    the address pattern from each of its characters: a 450 KB mail took 87 s."""
    from functions.core.language import LanguageDetector

    detector = LanguageDetector(("en", "ja", "ru"), "en")
    encoded = unit.encode()
    assert_linear(
        f"language detection: {unit[:12]}",
        lambda data: detector.detect(data.decode()),
        lambda n: encoded * n,
    )
