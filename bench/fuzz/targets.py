"""The fuzz targets: each parser's entry point, fed bytes, and the contract it must keep.

A target's `run(data)` hands the bytes to the product code as its caller would (a raw
mail, a webhook body after `json.loads`, a chat frame, the config file's text, a
token) and returns normally when the code kept its contract: it returned a result of
the right shape, or raised the one exception that means "the sender's fault"
(`RejectedInput`; `ConfigError` for the config file). Any other exception escaping
`run` is a finding; `ContractViolation` is raised when the code returned or refused
something it must not (a valid signature refused, a refusal with a 500 status).

The atheris harnesses (bench/fuzz/fuzz_*.py) and the hypothesis tests (tests/fuzz)
both call these, so the two check exactly the same property. Invalid Unicode is part
of every JSON target's dictionary (lone `\\ud83d` escapes, invalid UTF-8 bytes), and
what a parser accepts must encode as UTF-8, as boto3 and a push will encode it. The
`intake` target goes past the parsers: deliveries and chat frames through the real
services into DynamoDB under moto (bench/fuzz/intake_rig.py).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import re
import traceback
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fuzz import seeds
from bench.fuzz.intake_rig import KINDS, run_intake
from bench.fuzz.intake_rig import rig as intake_rig
from functions.chat_ws import protocol
from functions.core import mime, quotes, surveys, tokens
from functions.core.channels import email, instagram, messenger, signatures, telegram, whatsapp, x
from functions.core.channels.delivery import Delivery
from functions.core.channels.meta import normalize_meta
from functions.core.config import parse_config
from functions.core.errors import ConfigError, RejectedInput
from functions.core.html import html_to_text, sanitize_html

RECEIVED = datetime(2025, 11, 25, 10, 30, tzinfo=UTC)
_REPO = Path(__file__).resolve().parents[2]


class ContractViolation(AssertionError):
    """The code did not crash but broke its contract (wrong status, a valid input refused)."""


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ContractViolation(problem)


def _text(data: bytes) -> str:
    # what a caller holding text gets from bytes off the wire
    return data.decode("utf-8", "replace")


def _encodable(value: Any) -> bool:
    """Whether every text in `value` encodes as UTF-8 (a lone surrogate does not: boto3,
    DynamoDB and a push would fail on it after the parser accepted it)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        json.dumps(value, default=str, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    entry_points: str  # what `run` calls, for the report
    allowed: str  # what it may raise, for the report
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    amplify: Callable[[bytes], bytes] | None  # the input made about 8x larger
    max_len: int  # the largest input the fuzzer builds
    weight: float  # share of the fuzzing budget
    words: Callable[[], Iterable[bytes]] = field(default=lambda: ())  # a libFuzzer dictionary
    setup: Callable[[], object] | None = None  # run once before fuzzing, outside the CPU limit


# --- amplifiers: the same input, about 8 times larger -------------------------------------


def repeat_all(data: bytes) -> bytes:
    return data * 8


def repeat_body(data: bytes) -> bytes:
    """A mail with its body written 8 times (the headers stay one block)."""
    cut = data.find(b"\n\n")
    if cut < 0:
        return data * 8
    head, body = data[: cut + 2], data[cut + 2 :]
    return head + body * 8


def _grow(node: Any, inside_copy: bool) -> Any:
    if isinstance(node, list):
        grown = [_grow(item, True) for item in node]
        return grown if inside_copy else grown * 8
    if isinstance(node, dict):
        return {key: _grow(value, inside_copy) for key, value in node.items()}
    if isinstance(node, str) and not inside_copy:
        return node * 8
    return node


def repeat_json(data: bytes) -> bytes:
    """A JSON body whose every outermost list holds its items 8 times and every other
    string is 8 times as long: at most 8x the size, however deep the nesting."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return data * 8
    return json.dumps(_grow(body, False), ensure_ascii=False).encode("utf-8", "surrogatepass")


def repeat_after_first_line(data: bytes) -> bytes:
    first, newline, rest = data.partition(b"\n")
    return first + newline + rest * 8 if newline else data * 8


# --- mail -----------------------------------------------------------------------------


def _check_mail(parsed: mime.ParsedMail) -> None:
    _require(parsed.content_type in ("text/plain", "text/html"), "content_type is not a body type")
    _require(isinstance(parsed.text, str) and isinstance(parsed.subject, str), "text is not text")
    _require(parsed.html is None or isinstance(parsed.html, str), "html is not text")
    for attachment in parsed.attachments:
        _require(attachment.size == len(attachment.content), "attachment size disagrees")
        _require(bool(attachment.filename), "an attachment has no filename")


def run_mime(data: bytes) -> None:
    try:
        parsed = mime.parse_mail(data)
    except RejectedInput as exc:
        _require(exc.code == "empty_mail", f"parse_mail refused with {exc.code}")
        return
    _check_mail(parsed)


def run_email(data: bytes) -> None:
    try:
        (message,) = email.normalize(
            data, account="support@helpline.test", received_at=RECEIVED, raw_ref="s3://raw/fuzz"
        )
    except RejectedInput as exc:
        _require(exc.status == 400, f"a mail refused with status {exc.status}")
        return
    _require(bool(message.external_id), "a mail without a dedupe key")
    _require(len(message.references) <= email.MAX_REFERENCES, "references not capped")


MAIL_WORDS = (
    b"From: ", b"To: ", b"Cc: ", b"Reply-To: ", b"Subject: ", b"Message-ID: ", b"References: ",
    b"In-Reply-To: ", b"Date: ", b"Content-Type: ", b"Content-Transfer-Encoding: ",
    b"Content-Disposition: ", b"Content-ID: ", b"X-Failed-Recipients: ", b"MIME-Version: 1.0",
    b"multipart/mixed; boundary=", b"multipart/alternative", b"multipart/related; start=",
    b"multipart/report; report-type=delivery-status", b"multipart/signed", b"multipart/encrypted",
    b"message/rfc822", b"message/delivery-status", b"text/rfc822-headers", b"text/html", b"text/plain",
    b"base64", b"quoted-printable", b"x-uuencode", b"8bit", b"charset=", b"utf-8", b"gb2312",
    b"iso-2022-jp", b"shift_jis", b"windows-1258", b"utf-7", b"unknown-8bit", b"\x1b$B", b"\x1b(B",
    b"=?utf-8?B?", b"=?iso-8859-1?Q?", b"?=", b"filename*0*=utf-8''", b"filename*1*=", b"name=",
    b"attachment", b"inline", b"begin 644 ", b"\nend\n", b"\n--", b"--\n", b"\n\n", b"\r\n",
    b"Action: failed", b"Final-Recipient: rfc822; ", b"Status: 5.1.1", b"Diagnostic-Code: smtp; ",
    b"MAILER-DAEMON", b"<html><head><title>", b"</head><body>", b"<div>", b"<blockquote>",
    b"cid:", b"&#", b"<!--", b"mailto:", b"\"", b"<", b">", b"(", b")", b",", b";", b":", b"@",
)  # fmt: skip


# --- text and HTML ----------------------------------------------------------------------


def run_quotes(data: bytes) -> None:
    text = _text(data)
    parts = quotes.split_reply(text)
    _require(
        all(isinstance(p, str) for p in (parts.reply, parts.quoted, parts.signature)),
        "a part is not text",
    )
    _require(quotes.strip_reply(text) == parts.reply, "strip_reply disagrees with split_reply")


def run_html(data: bytes) -> None:
    """The sanitizer on anything, and both text readers on raw and on sanitized HTML."""
    markup = _text(data)
    safe = sanitize_html(markup)
    _require("<script" not in safe.lower(), "a script survived the sanitizer")
    html_to_text(safe)
    html_to_text(markup)
    quotes.split_reply_html(safe)


TEXT_WORDS = (
    b"\n> ", b"\n>", b"On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:", b" wrote:",
    b"Am 01.02.2020 um 10:00 schrieb ", b"-----Original Message-----", b"From: ", b"Sent: ",
    b"Subject: ", b"---------- Forwarded message ----------", b"\n-- \n", b"Regards,", b"Sent from my ",
    b"<blockquote type=\"cite\">", b"<div class=\"gmail_quote\">", b"<div id=\"divRplyFwdMsg\">",
    b"</div>", b"</blockquote>", b"<br>", b"<p>", b"<a href=\"", b"<script>", b"<!--", b"-->", b"<!",
    b"&nbsp;", b"&#x", b"<pre>", b"<style>", b"\xe5\x86\x99\xe9\x81\x93",
)  # fmt: skip


# --- webhooks ---------------------------------------------------------------------------


def _check_delivery(delivery: Delivery) -> None:
    _require(isinstance(delivery, Delivery), "normalize returned no Delivery")
    for message in delivery.messages:
        _require(bool(message.external_id), "a message without a dedupe key")
        _require(
            message.sender is not None and bool(message.sender.value), "a message without a sender"
        )
        _require(message.received_at.utcoffset() is not None, "a naive received_at")
        _require(
            bool(message.conversation_key)
            and str(message.conversation_key).startswith(f"{message.channel.value}:"),
            "a message outside its channel's conversations",
        )
        _require(
            all(isinstance(k, str) and isinstance(v, str) for k, v in message.extra),
            "extra holds something other than text",
        )
        _require(_encodable(message), "a message holds text UTF-8 cannot encode")
    for rejected in delivery.rejected:
        _require(
            bool(rejected.index and rejected.code and rejected.reason), "an unexplained rejection"
        )


def _webhook(normalize: Callable[..., Delivery], account: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            return  # not JSON: the webhook handler answers 400 before normalizing
        try:
            delivery = normalize(
                body, received_at=RECEIVED, raw_ref="s3://raw/fuzz", account=account
            )
        except RejectedInput as exc:
            _require(exc.status == 400 and exc.code == "bad_payload", f"refused with {exc.code}")
            return
        _check_delivery(delivery)

    return run


# invalid Unicode in JSON: lone surrogate escapes (json.loads accepts them), a surrogate
# as raw bytes (json.loads of bytes accepts that too), and bytes that are not UTF-8
INVALID_UNICODE_WORDS = (
    b'"\\ud83d"', b"\\ud83d", b"\\udfff", b"\\ud800\\ud800", b"\\ude00\\ud83d",
    b"\xed\xa0\xbd", b"\xff", b"\xc3", b"\xc0\xaf", b"\xf4\x90\x80\x80",
)  # fmt: skip


def _json_words(bodies: Callable[[], list[bytes]]) -> Callable[[], Iterable[bytes]]:
    """The field names and short string values of the seeds, as JSON tokens."""

    def words() -> Iterable[bytes]:
        found: set[bytes] = {
            b"{",
            b"}",
            b"[",
            b"]",
            b":",
            b",",
            b"null",
            b"true",
            b"false",
            b"-1",
            b"1e400",
            *INVALID_UNICODE_WORDS,
        }
        stack: list[Any] = []
        for raw in bodies():
            try:
                stack.append(json.loads(raw))
            except ValueError:
                continue
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    found.add(json.dumps(key).encode())
                    stack.append(value)
            elif isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, str) and len(node) <= 40:
                found.add(json.dumps(node).encode())
        return sorted(found)

    return words


# --- signatures -------------------------------------------------------------------------


def run_signatures(data: bytes) -> None:
    """`secret \\n header \\n body`: every check refuses with 401/403/400 or passes, an
    empty secret is a ConfigError, and the signature we compute is always accepted."""
    secret, _, rest = data.partition(b"\n")
    header_bytes, _, body = rest.partition(b"\n")
    header = header_bytes.decode("utf-8", "surrogateescape")
    secret_text = secret.decode("utf-8", "surrogateescape")
    checks: list[tuple[Callable[[], object], bool]] = [
        (lambda: signatures.verify_meta_signature(body, header, secret), not secret),
        (lambda: signatures.verify_x_signature(body, header, secret), not secret),
        (lambda: signatures.verify_telegram_secret(header, secret_text), not secret_text),
        (lambda: signatures.x_crc_response(header, secret), not secret),
    ]
    mode, _, rest_params = header.partition("&")
    token, _, challenge = rest_params.partition("&")
    params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
    checks.append(
        (lambda: signatures.meta_verification_challenge(params, secret_text), not secret_text)
    )
    for check, empty_secret in checks:
        try:
            check()
        except RejectedInput as exc:
            _require(exc.status in (400, 401, 403), f"a refusal with status {exc.status}")
        except ConfigError:
            _require(empty_secret, "ConfigError with a configured secret")
    if secret:
        signatures.verify_meta_signature(body, signatures.meta_signature(body, secret), secret)
        signatures.verify_x_signature(body, signatures.x_signature(body, secret), secret)
    if secret_text:
        signatures.verify_telegram_secret(secret_text, secret_text)
        answer = signatures.meta_verification_challenge(
            {
                "hub.mode": "subscribe",
                "hub.verify_token": secret_text,
                "hub.challenge": "1158201444",
            },
            secret_text,
        )
        _require(answer == "1158201444", "the right handshake was not echoed")


def signature_seeds() -> list[bytes]:
    found = [
        b"%s\n%s\n%s"
        % (
            v["secret"].encode(),
            v.get("expected_header_value", "").encode(),
            v["message_utf8"].encode(),
        )
        for v in seeds.signature_vectors()
    ]
    found.append(b'app-secret\nsubscribe&verify-me&1158201444\n{"object":"page","entry":[]}')
    found.append(b"\n\n")
    return found


def amplify_signatures(data: bytes) -> bytes:
    head, newline, rest = data.partition(b"\n")
    header, newline2, body = rest.partition(b"\n")
    return head + newline + header + newline2 + body * 8


# --- chat -------------------------------------------------------------------------------


def run_chat(data: bytes) -> None:
    """Both roles, the frame as bytes and as text (API Gateway hands either)."""
    frames: list[str | bytes] = [data, data.decode("utf-8", "surrogateescape")]
    for role, allowed in (
        ("customer", protocol.CUSTOMER_ACTIONS),
        ("agent", protocol.AGENT_ACTIONS),
    ):
        for frame in frames:
            try:
                action = protocol.decode(frame, role=role, max_chars=4000)
            except RejectedInput as exc:
                _require(exc.status == 400, f"a frame refused with status {exc.status}")
                protocol.error_event(exc)  # the answer the service sends must encode
                continue
            _require(action.name in allowed, f"{action.name!r} accepted for a {role}")
            text = action.get("text")
            _require(text is None or len(text) <= 4000, "text over max_chars accepted")
            _require(_encodable(dict(action.fields)), "a field UTF-8 cannot encode accepted")
            raw = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
            _require(len(raw) <= protocol.MAX_FRAME_BYTES, "a frame over 32 KB accepted")


# --- config -----------------------------------------------------------------------------


def run_config(data: bytes) -> None:
    try:
        parse_config(_text(data), source="fuzz.yaml", holidays={})
    except ConfigError as exc:
        _require(
            bool(exc.field) and isinstance(exc.field, str), "a ConfigError that names no field"
        )


CONFIG_WORDS = (
    b"version: 1", b"brand:", b"languages:", b"calendars:", b"teams:", b"routing:", b"replies:",
    b"email:", b"agents:", b"chat:", b"supported:", b"default:", b"timezone:", b"hours:", b"holidays:",
    b"mon-fri:", b"09:00-17:00", b"2025-12-25", b"2025-02-30", b"Europe/Berlin", b"calendar:",
    b"languages: [en]", b"- ", b": ", b"&a ", b"*a", b"!!binary ", b"!!timestamp ", b"!!float ",
    b"!!int ", b"!!str ", b"!!set ", b"!!omap ", b"? ", b"|\n", b">\n", b"---\n", b"...\n", b"~",
    b"0x", b"0o", b"1e9999", b".nan", b".inf", b"\"\\x", b"'", b"{", b"}", b"[", b"]", b"\t",
)  # fmt: skip


# --- tokens and surveys -----------------------------------------------------------------


def signed_token(payload: bytes) -> str:
    """A token carrying `payload` with a valid signature: what only we can mint, so the
    checks behind the HMAC are reached (docstring of functions/core/tokens.py)."""
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    mac = hmac.new(seeds.TOKEN_SECRET, encoded.encode("ascii"), hashlib.sha256).digest()
    return f"{encoded}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode('ascii')}"


def _verify(token: str, purpose: str) -> None:
    try:
        claims = tokens.verify(token, purpose, secret=seeds.TOKEN_SECRET, now=seeds.TOKEN_NOW)
    except RejectedInput as exc:
        _require(
            exc.status == 401 and exc.code in ("bad_token", "expired_token"),
            f"refused with {exc.code}",
        )
        return
    _require(claims.get("aud") == purpose, "a token accepted for another purpose")


def run_tokens(data: bytes) -> None:
    """The bytes as a token, and as the payload of a correctly signed one."""
    for purpose in ("survey", "chat"):
        _verify(data.decode("latin-1"), purpose)
        _verify(signed_token(data), purpose)


def run_surveys(data: bytes) -> None:
    """`<score>\\n<comment>` as the survey page posts them, the bytes as a message that
    may be a typed score, and the bytes as a token."""
    text = data.decode("utf-8", "surrogateescape")
    typed = surveys.typed_score(text)
    _require(
        typed is None or (type(typed) is int and 0 <= typed <= 99),
        f"{typed!r} read as a typed score",
    )
    score, _, comment = text.partition("\n")
    for kind in ("csat", "nps"):
        candidates: list[Any] = [score]
        with contextlib.suppress(ValueError, RecursionError):
            candidates.append(json.loads(score))  # a JSON answer carries a number
        for candidate in candidates:
            try:
                value = surveys.parse_score(kind, candidate)
            except RejectedInput as exc:
                _require(exc.status == 400, f"a score refused with status {exc.status}")
                continue
            _require(value in surveys.SCORES[kind], f"{value} accepted as a {kind} score")
    for limit in (5000, 20):
        try:
            cleaned = surveys.clean_comment(comment, limit)
        except RejectedInput as exc:
            _require(exc.code == "comment_too_long", f"a text comment refused with {exc.code}")
            continue
        _require(len(cleaned) <= limit, "a comment over the limit was kept")
        _require("\u202e" not in cleaned and "\x00" not in cleaned, "a control character was kept")
    for token in (data.decode("latin-1"), signed_token(data)):
        try:
            found = surveys.read_survey_token(token, secret=seeds.TOKEN_SECRET, now=seeds.TOKEN_NOW)
        except RejectedInput as exc:
            _require(exc.status == 401, f"a survey token refused with status {exc.status}")
            continue
        _require(surveys.is_survey_id(found), "a survey token that names no survey")


def token_seeds() -> list[bytes]:
    return [*seeds.tokens(), *seeds.payload_bodies()]


# --- the intake, into the store -------------------------------------------------------


# the fields people write in, where a broken character comes from
_TEXT_KEYS = frozenset(
    {"text", "body", "caption", "title", "name", "first_name", "last_name", "username",
     "screen_name", "emoji", "reaction", "description", "comment", "url", "locale"}
)  # fmt: skip
_TEXT_VALUE = re.compile(rb'"(?:text|body|first_name|name|title)":\s*"')


def _broken(body: bytes) -> list[bytes]:
    """A real body with invalid Unicode where people write: each text given a lone
    surrogate (as Meta sends an emoji cut in half), or the first one starting with a
    surrogate as raw bytes, or with a byte that is not UTF-8."""
    found = []
    opening = _TEXT_VALUE.search(body)
    if opening is not None:
        at = opening.end()
        found += [body[:at] + bad + body[at:] for bad in (b"\xed\xa0\xbd", b"\xff")]
    try:
        decoded = json.loads(body)
    except ValueError:
        return found
    stack, changed = [decoded], False
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, child in node.items():
                if key in _TEXT_KEYS and isinstance(child, str) and child:
                    node[key] = child[: len(child) // 2] + "\ud83d" + child[len(child) // 2 :]
                    changed = True
                else:
                    stack.append(child)
    if changed:
        found.append(json.dumps(decoded).encode())
    return found


def intake_seeds() -> list[bytes]:
    """`<kind>`, a newline, `<body>`: every platform's real deliveries and the chat
    frames, each also with invalid Unicode in it."""
    sources = {
        "meta": seeds.meta_bodies,
        "telegram": seeds.telegram_bodies,
        "x": seeds.x_bodies,
        "chat": seeds.chat_frames,
    }
    found: list[bytes] = []
    for kind, bodies in sources.items():
        for body in bodies():
            for variant in (body, *_broken(body)):
                found.append(kind.encode() + b"\n" + variant)
    return found


def intake_words() -> Iterable[bytes]:
    found = {kind.encode() + b"\n" for kind in KINDS}
    for bodies in (seeds.meta_bodies, seeds.telegram_bodies, seeds.x_bodies, seeds.chat_frames):
        found.update(_json_words(bodies)())
    return sorted(found)


# --- the registry -----------------------------------------------------------------------

# mails and bodies: 16 kB holds the headers and structure of nearly every real mail, and
# keeps the instrumented parser at ~100 inputs a second (64 kB: ~30)
_MAIL = 16 * 1024
_JSON = 32 * 1024
TARGETS: Mapping[str, Target] = {
    target.name: target
    for target in (
        Target("mime", "functions.core.mime.parse_mail", "RejectedInput(empty_mail)", run_mime,
               seeds.mails, repeat_body, _MAIL, 2.4, lambda: MAIL_WORDS),
        Target("email", "functions.core.channels.email.normalize", "RejectedInput", run_email,
               seeds.mails, repeat_body, _MAIL, 1.0, lambda: MAIL_WORDS),
        Target("quotes", "functions.core.quotes.split_reply, strip_reply", "nothing", run_quotes,
               seeds.reply_texts, repeat_all, _MAIL, 2.0, lambda: TEXT_WORDS),
        Target("html", "functions.core.html.sanitize_html, html_to_text; quotes.split_reply_html",
               "nothing", run_html, seeds.html_bodies, repeat_all, _MAIL, 1.5, lambda: TEXT_WORDS),
        Target("messenger", "functions.core.channels.messenger.normalize", "RejectedInput(bad_payload)",
               _webhook(messenger.normalize, "117172741761305"), seeds.messenger_bodies, repeat_json,
               _JSON, 0.8, _json_words(seeds.messenger_bodies)),
        Target("instagram", "functions.core.channels.instagram.normalize", "RejectedInput(bad_payload)",
               _webhook(instagram.normalize, "17841400000000001"), seeds.instagram_bodies, repeat_json,
               _JSON, 0.8, _json_words(seeds.instagram_bodies)),
        Target("whatsapp", "functions.core.channels.whatsapp.normalize", "RejectedInput(bad_payload)",
               _webhook(whatsapp.normalize, ""), seeds.whatsapp_bodies, repeat_json, _JSON, 1.0,
               _json_words(seeds.whatsapp_bodies)),
        Target("telegram", "functions.core.channels.telegram.normalize", "RejectedInput(bad_payload)",
               _webhook(telegram.normalize, "helpline_demo_bot"), seeds.telegram_bodies, repeat_json,
               _JSON, 0.8, _json_words(seeds.telegram_bodies)),
        Target("x", "functions.core.channels.x.normalize", "RejectedInput(bad_payload)",
               _webhook(x.normalize, ""), seeds.x_bodies, repeat_json, _JSON, 0.8,
               _json_words(seeds.x_bodies)),
        Target("meta", "functions.core.channels.meta.normalize_meta", "RejectedInput(bad_payload)",
               _webhook(normalize_meta, ""), seeds.meta_bodies, repeat_json, _JSON, 0.8,
               _json_words(seeds.meta_bodies)),
        Target("signatures", "functions.core.channels.signatures (Meta, X, Telegram, handshakes)",
               "RejectedInput 400/401/403; ConfigError for an empty secret", run_signatures,
               signature_seeds, amplify_signatures, 8 * 1024, 0.6,
               lambda: (b"sha256=", b"subscribe", b"&", b"\n", b"=", b"0123456789abcdef")),
        Target("chat", "functions.chat_ws.protocol.decode (customer and agent)", "RejectedInput",
               run_chat, seeds.chat_frames, repeat_json, 16 * 1024, 1.0,
               _json_words(seeds.chat_frames)),
        Target("intake", "functions.social_dm.service (meta, telegram, x), functions.chat_ws.service.handle; "
               "into DynamoDB under moto", "nothing: a status or an error event", run_intake,
               intake_seeds, None, 16 * 1024, 0.6, intake_words, setup=intake_rig),
        Target("config", "functions.core.config.parse_config", "ConfigError", run_config,
               seeds.configs, repeat_after_first_line, 16 * 1024, 1.5, lambda: CONFIG_WORDS),
        Target("tokens", "functions.core.tokens.verify (raw and validly signed)", "RejectedInput",
               run_tokens, token_seeds, None, 4096, 0.6,
               lambda: (b".", b"{", b"}", b"\"aud\":", b"\"exp\":", b"\"survey\"", b"\"chat\"", b"[")),
        Target("surveys", "functions.core.surveys.read_survey_token, parse_score, clean_comment, typed_score",
               "RejectedInput", run_surveys, seeds.survey_answers, repeat_after_first_line, 8 * 1024,
               0.6, lambda: ("\u202e".encode(), b"\r\n", "\u0665".encode(), "\uff15".encode(), b"\"sid\":")),
    )
}  # fmt: skip


# --- findings ---------------------------------------------------------------------------


def _repository_path(filename: str) -> str | None:
    path = Path(filename)
    if not path.is_absolute() or _REPO not in path.parents or ".venv" in path.parts:
        return None
    return path.relative_to(_REPO).as_posix()


def origin(exc: BaseException) -> str:
    """`functions/...py:function` of the innermost product frame the exception passed."""
    found = "(outside functions/)"
    for frame in traceback.extract_tb(exc.__traceback__):
        relative = _repository_path(frame.filename)
        if relative is not None and relative.startswith("functions/"):
            found = f"{relative}:{frame.name}"
    return found


def signature(exc: BaseException) -> str:
    """What makes two findings the same bug: the exception type and where it came from
    (no line numbers, so an unrelated edit does not make a known bug new)."""
    if isinstance(exc, ContractViolation):
        return f"ContractViolation: {str(exc)[:120]}"
    where = getattr(exc, "where", None) or origin(exc)
    return f"{type(exc).__name__} at {where}"


def sampled(data: bytes, every: int = 8) -> bool:
    """One input in `every`, chosen by content (so a rerun picks the same ones)."""
    return zlib.crc32(data) % every == 0
