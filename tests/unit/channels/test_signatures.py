"""Webhook authenticity against the published vectors and their negative variants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.channels.signatures import (
    meta_signature,
    meta_verification_challenge,
    verify_meta_signature,
    verify_telegram_secret,
    verify_x_signature,
    x_crc_response,
    x_signature,
)
from functions.core.errors import ConfigError, RejectedInput
from tests.unit.channels.payloads import corpus_json

pytestmark = pytest.mark.corpus


def _vector(vector_id: str) -> dict[str, Any]:
    vectors = corpus_json("webhook-signature-vectors", "vectors.json")["vectors"]
    return next(v for v in vectors if v["id"] == vector_id)


def _refused(call: Any, *args: Any) -> RejectedInput:
    with pytest.raises(RejectedInput) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    "vector_id", ["meta-whatsapp-real-delivery", "github-docs-x-hub-signature-256"]
)
def test_published_meta_signatures_are_accepted(vector_id: str) -> None:
    vector = _vector(vector_id)
    body = vector["message_utf8"].encode("utf-8")
    secret = vector["secret"].encode("utf-8")
    verify_meta_signature(body, vector["expected_header_value"], secret)
    assert meta_signature(body, secret) == vector["expected_header_value"]


def _negative_variants(vector: dict[str, Any]) -> dict[str, tuple[bytes, str]]:
    body = vector["message_utf8"].encode("utf-8")
    header = vector["expected_header_value"]
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 0x01
    variants = {
        "one flipped byte of the body": (bytes(flipped), header),
        "uppercase hex": (body, "sha256=" + header.removeprefix("sha256=").upper()),
        "missing sha256= prefix": (body, header.removeprefix("sha256=")),
        "uppercase prefix": (body, "SHA256=" + header.removeprefix("sha256=")),
        "truncated digest": (body, header[:-2]),
        "empty header": (body, ""),
        "sha1 instead of sha256": (body, "sha1=" + header.removeprefix("sha256=")[:40]),
    }
    try:
        reserialized = json.dumps(json.loads(body), indent=1).encode("utf-8")
    except ValueError:
        reserialized = body + b" "
    variants["re-serialized JSON body"] = (reserialized, header)
    return variants


@pytest.mark.parametrize(
    "vector_id", ["meta-whatsapp-real-delivery", "github-docs-x-hub-signature-256"]
)
def test_every_negative_variant_is_refused_with_401(vector_id: str) -> None:
    vector = _vector(vector_id)
    secret = vector["secret"].encode("utf-8")
    for name, (body, header) in _negative_variants(vector).items():
        refused = _refused(verify_meta_signature, body, header, secret)
        assert (refused.code, refused.status) == ("bad_signature", 401), name


def test_the_right_signature_under_another_secret_is_refused() -> None:
    vector = _vector("meta-whatsapp-real-delivery")
    body = vector["message_utf8"].encode("utf-8")
    refused = _refused(
        verify_meta_signature, body, vector["expected_header_value"], b"another-app-secret"
    )
    assert refused.reason == "the X-Hub-Signature-256 signature does not match the body"


def test_a_missing_header_is_refused_and_says_so() -> None:
    refused = _refused(verify_meta_signature, b"{}", None, b"secret")
    assert refused.status == 401
    assert "missing" in refused.reason


def test_an_empty_app_secret_is_our_config_error_not_a_pass() -> None:
    with pytest.raises(ConfigError) as caught:
        verify_meta_signature(b"{}", meta_signature(b"{}", b"x"), b"")
    assert caught.value.field == "social.meta.app_secret"


def test_verification_handshake_echoes_the_challenge() -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "demo-verify",
        "hub.challenge": "1158201444",
    }
    assert meta_verification_challenge(params, "demo-verify") == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "demo-verify", "hub.challenge": "1"},
        {"hub.verify_token": "demo-verify", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "demo-verify ", "hub.challenge": "1"},
    ],
)
def test_verification_handshake_with_wrong_mode_or_token_is_403(params: dict[str, str]) -> None:
    refused = _refused(meta_verification_challenge, params, "demo-verify")
    assert (refused.code, refused.status) == ("verification_failed", 403)


@pytest.mark.parametrize("challenge", [None, "", "<script>alert(1)</script>", "x" * 300])
def test_a_challenge_that_is_not_a_plain_token_is_not_echoed(challenge: str | None) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "demo-verify"}
    if challenge is not None:
        params["hub.challenge"] = challenge
    refused = _refused(meta_verification_challenge, params, "demo-verify")
    assert refused.status == 400


def test_telegram_secret_token() -> None:
    verify_telegram_secret("s3cr3t-token_A", "s3cr3t-token_A")
    for header in (None, "", "s3cr3t-token_a", "s3cr3t-token_A ", "s3cr3t"):
        refused = _refused(verify_telegram_secret, header, "s3cr3t-token_A")
        assert (refused.code, refused.status) == ("bad_signature", 401)


def test_x_crc_matches_the_published_vector() -> None:
    vector = _vector("x-crc-vitest")
    token = x_crc_response(vector["message_utf8"], vector["secret"].encode("utf-8"))
    assert token == vector["expected_header_value"]
    assert {"response_token": token} == vector["expected_json_body"]


@pytest.mark.parametrize("crc_token", ["", "x" * 2000])
def test_x_crc_refuses_a_missing_or_oversized_token(crc_token: str) -> None:
    refused = _refused(x_crc_response, crc_token, b"consumer-secret")
    assert refused.status == 400


def test_x_signature_accepts_its_own_construction_and_refuses_variants() -> None:
    vector = _vector("x-crc-vitest")
    secret = vector["secret"].encode("utf-8")
    # X signs webhook bodies exactly as it answers the CRC: the CRC vector pins the scheme
    assert x_signature(vector["message_utf8"].encode(), secret) == vector["expected_header_value"]
    body = b'{"for_user_id":"2975699229","direct_message_events":[]}'
    header = x_signature(body, secret)
    verify_x_signature(body, header, secret)
    digest = header.removeprefix("sha256=")
    for bad in (None, "", digest, "sha256=" + digest.lower(), "SHA256=" + digest, header[:-1]):
        refused = _refused(verify_x_signature, body, bad, secret)
        assert refused.status == 401
    refused = _refused(verify_x_signature, body + b" ", header, secret)
    assert refused.reason == "the x-twitter-webhooks-signature signature does not match the body"


def test_headers_with_any_characters_are_refused_not_crashed() -> None:
    for header in ("sha256=é" * 10, "sha256=\udcff", "\x00", "sha256=" + "g" * 64):
        assert _refused(verify_meta_signature, b"{}", header, b"secret").status == 401
        assert _refused(verify_x_signature, b"{}", header, b"secret").status == 401
        assert _refused(verify_telegram_secret, header, "secret").status == 401
