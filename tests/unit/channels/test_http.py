"""The platform HTTP client against a real local server: retries, backoff, refusals, secrecy."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from functions.core.channels.http import JsonHttp, graph_transient
from functions.core.errors import DeliveryError
from tests.unit.channels.fake_platform import FakePlatform, Sleeps

GRAPH_RATE_LIMIT = {
    "error": {
        "message": "Calls to this api have exceeded the rate limit.",
        "type": "OAuthException",
        "code": 613,
    }
}


def _client(sleeps: Sleeps, **kwargs: float) -> JsonHttp:
    return JsonHttp(sleep=sleeps, **kwargs)  # type: ignore[arg-type]


def test_a_2xx_answer_is_returned_parsed_and_the_body_sent_as_utf8_json(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(200, {"message_id": "m_1"})
    status, body = _client(sleeps).post(
        f"{platform.url}/v21.0/me/messages", {"text": "¿Dónde está?"}, {"Authorization": "Bearer t"}
    )
    assert (status, body) == (200, {"message_id": "m_1"})
    (request,) = platform.requests
    assert request.body == {"text": "¿Dónde está?"}
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Authorization"] == "Bearer t"
    assert sleeps == []


def test_429_is_retried_after_the_time_the_platform_asks(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(429, {"title": "Too Many Requests"}, {"Retry-After": "3"})
    platform.answer(200, {"ok": True})
    assert _client(sleeps).post(f"{platform.url}/x", {})[0] == 200
    assert len(platform.requests) == 2
    assert sleeps == [3.0]


def test_server_errors_back_off_exponentially_then_fail_for_a_later_retry(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    for _ in range(4):
        platform.answer(503, {"error": {"message": "Service temporarily unavailable", "code": 2}})
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(f"{platform.url}/v21.0/me/messages", {})
    assert caught.value.permanent is False
    assert "failed after 4 attempts" in caught.value.reason
    assert "HTTP 503: Service temporarily unavailable (code 2)" in caught.value.reason
    assert len(platform.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_4xx_is_permanent_with_the_platforms_own_reason(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(
        400,
        {
            "error": {
                "message": "(#100) This message is sent outside of allowed window.",
                "code": 10,
                "error_subcode": 2018278,
            }
        },
    )
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(f"{platform.url}/v21.0/me/messages", {}, transient=graph_transient)
    assert caught.value.permanent is True
    assert "outside of allowed window" in caught.value.reason
    assert len(platform.requests) == 1 and sleeps == []


def test_a_graph_rate_limit_4xx_is_retried_when_marked_transient(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(400, GRAPH_RATE_LIMIT)
    platform.answer(200, {"message_id": "m_2"})
    assert _client(sleeps).post(f"{platform.url}/m", {}, transient=graph_transient)[1] == {
        "message_id": "m_2"
    }
    assert sleeps == [0.5]
    # without the classifier the same answer is final
    platform.answer(400, GRAPH_RATE_LIMIT)
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(f"{platform.url}/m", {})
    assert caught.value.permanent is True


def test_a_long_retry_after_ends_the_attempts_at_once(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(429, {}, {"Retry-After": "120"})
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(f"{platform.url}/x", {})
    assert caught.value.permanent is False
    assert "asks to wait 120 s" in caught.value.reason
    assert len(platform.requests) == 1 and sleeps == []


def test_telegrams_retry_after_in_the_body_is_honoured(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 2",
            "parameters": {"retry_after": 2},
        },
    )
    platform.answer(200, {"ok": True, "result": {}})
    _client(sleeps).post(f"{platform.url}/botX/sendMessage", {})
    assert sleeps == [2.0]


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port  # nothing listens there now


def test_a_refused_connection_is_retried_then_left_for_later(
    closed_port: int, sleeps: Sleeps
) -> None:
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(f"http://127.0.0.1:{closed_port}/x", {})
    assert caught.value.permanent is False
    assert "connection failed" in caught.value.reason
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_silent_server_times_out_and_is_retried(sleeps: Sleeps) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections in the backlog, never answers
        port = silent.getsockname()[1]
        with pytest.raises(DeliveryError) as caught:
            JsonHttp(sleep=sleeps, attempts=2).post(f"http://127.0.0.1:{port}/x", {}, timeout=0.2)
    assert caught.value.permanent is False
    assert "timed out" in caught.value.reason
    assert sleeps == [0.5]


def test_tokens_never_appear_in_errors(platform: FakePlatform, sleeps: Sleeps) -> None:
    token = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    platform.answer(
        401,
        {"ok": False, "error_code": 401, "description": f"Unauthorized: bot{token} is not known"},
    )
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(f"{platform.url}/bot{token}/sendMessage", {}, secrets=[token])
    text = str(caught.value)
    assert token not in text and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    assert "/bot***/sendMessage" in text
    # urllib's exception (which holds the full URL) is not chained onto ours
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_redirects_are_refused_so_the_token_is_not_sent_elsewhere(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    elsewhere = FakePlatform().start()
    try:
        platform.answer(307, {}, {"Location": f"{elsewhere.url}/steal"})
        with pytest.raises(DeliveryError) as caught:
            _client(sleeps).post(f"{platform.url}/x", {}, {"Authorization": "Bearer secret"})
        assert caught.value.permanent is True
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "no-scheme"])
def test_only_http_urls_are_opened(url: str, sleeps: Sleeps) -> None:
    with pytest.raises(DeliveryError) as caught:
        _client(sleeps).post(url, {})
    assert caught.value.permanent is True


def test_a_2xx_without_json_returns_none_for_the_caller_to_judge(
    platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.answer(200, b"<html>ok</html>")
    assert _client(sleeps).post(f"{platform.url}/x", {}) == (200, None)
