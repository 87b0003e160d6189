"""What the fuzzers found: one minimal reproduction per bug, now fixed; each stays as
its regression test.

Each test states the behaviour the product promises: a config typo is a ConfigError,
a token is refused cleanly, X links and uuencoded text and hostile HTML take linear
time. A new finding is added here as xfail(strict=True) until its fix lands.
"""

from __future__ import annotations

import json

import pytest

from bench.fuzz import seeds
from bench.fuzz.targets import TARGETS, signed_token
from functions.core.config import parse_config
from functions.core.errors import ConfigError, RejectedInput
from functions.core.html import html_to_text, sanitize_html
from functions.core.quotes import split_reply_html
from functions.core.tokens import verify
from tests.fuzz.support import assert_superlinear_is_gone

RECEIVED = seeds.TOKEN_NOW

# --- functions/core/config.py ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",
        "2026-13-01",
        "!!timestamp 2026-02-30",
        "!!timestamp {country: ES}",  # atheris, 2026-12-01: PyYAML's AttributeError
        "!!int 0x",
        "!!int r",
        "!!float x",
    ],
)
def test_config_values_yaml_cannot_build(value: str) -> None:
    text = f"version: 1\nbrand:\n  name: {value}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, holidays={})
    assert caught.value.field  # names where the file is wrong


# --- functions/core/tokens.py ---------------------------------------------------------


def test_signed_token_with_deeply_nested_claims() -> None:
    token = signed_token(b"[" * 1500)
    assert len(token) <= 4096  # within MAX_TOKEN_CHARS, so the signature is checked
    with pytest.raises(RejectedInput):
        verify(token, "survey", secret=seeds.TOKEN_SECRET, now=RECEIVED)


# --- functions/core/channels/x.py -----------------------------------------------------


def _x_delivery(text: str, urls: list[dict[str, str]]) -> bytes:
    return json.dumps(
        {
            "for_user_id": "2975699229",
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "1209117907864571908",
                    "message_create": {
                        "sender_id": "1205290247124217856",
                        "target": {"recipient_id": "2975699229"},
                        "message_data": {"text": text, "entities": {"urls": urls}},
                    },
                }
            ],
        }
    ).encode()


def test_x_links_that_contain_themselves_do_not_multiply_the_text() -> None:
    body = _x_delivery("a", [{"url": "a", "expanded_url": "aa"}] * 20)
    from functions.core.channels import x

    delivery = x.normalize(json.loads(body), received_at=RECEIVED)
    (message,) = delivery.messages
    assert len(message.text) <= len(body)


def test_x_many_links_are_expanded_in_linear_time() -> None:
    def body(n: int) -> bytes:
        urls = [
            {"url": f"https://t.co/{i:06d}", "expanded_url": f"https://example.com/{i}"}
            for i in range(n)
        ]
        return _x_delivery(" ".join(u["url"] for u in urls), urls)

    assert_superlinear_is_gone("x.normalize: t.co links", TARGETS["x"].run, body(800), body(6400))


# --- functions/core/mime.py -----------------------------------------------------------


def test_many_uuencode_begin_lines_parse_in_linear_time() -> None:
    def mail(n: int) -> bytes:
        return b"From: a@example.com\n\nhello\n" + b"begin 644 a\n" * n + b"end\n"

    assert_superlinear_is_gone(
        "parse_mail: uuencode begin lines", TARGETS["mime"].run, mail(3000), mail(24000)
    )


# --- functions/core/html.py and quotes.py on raw HTML ---------------------------------
# parse_mail is not affected today: it sanitizes first and guards deep nesting
# (mime._safe_html/_html_text). These public functions still promise linear time.


@pytest.mark.parametrize("unit", ["<a x", "<a b='"])
def test_html_to_text_on_unclosed_tags_is_linear(unit: str) -> None:
    assert_superlinear_is_gone(
        f"html_to_text: raw {unit!r}",
        lambda data: html_to_text(data.decode()),
        (unit * 250).encode(),
        (unit * 2000).encode(),
    )


def test_split_reply_html_on_unclosed_tags_is_linear() -> None:
    assert_superlinear_is_gone(
        "split_reply_html: raw '<a x'",
        lambda data: split_reply_html(data.decode()),
        b"<a x" * 250,
        b"<a x" * 2000,
    )


def test_sanitize_html_on_deep_nesting_is_linear() -> None:
    assert_superlinear_is_gone(
        "sanitize_html: nested <div>",
        lambda data: sanitize_html(data.decode()),
        b"<div>" * 2000,
        b"<div>" * 16000,
    )
