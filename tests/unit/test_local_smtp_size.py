"""The local SMTP listener takes what SES receiving takes, and refuses bigger mail."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.smtp import SES_MAX_MESSAGE_BYTES, SesLikeHandler, controller


class _Bucket:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:
        self.sizes.append(len(Body))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[tuple[int, _Bucket, list[dict[str, Any]]]]:
    bucket = _Bucket()
    delivered: list[dict[str, Any]] = []
    handler = SesLikeHandler(
        s3_client=bucket,
        bucket="mail",
        topic_arn="arn:aws:sns:us-east-1:123456789012:inbound",
        domains=["helpline.test"],
        deliver=delivered.append,
        max_bytes=64 * 1024,  # small here; the stack leaves it at SES's 40 MB
    )
    port = _free_port()
    server = controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    yield port, bucket, delivered
    server.stop()


def _mail(size: int) -> bytes:
    head = b"From: a@customer.example\r\nTo: support@helpline.test\r\nSubject: Big\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    return head + line * ((size - len(head)) // len(line))


def test_the_default_limit_is_what_ses_stores() -> None:
    handler = SesLikeHandler(s3_client=None, bucket="b", topic_arn="t", domains=[], deliver=print)
    assert handler.max_bytes == SES_MAX_MESSAGE_BYTES == 40 * 1024 * 1024
    port = _free_port()
    server = controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            # aiosmtpd's default of 32 MiB would refuse mail that SES takes
            assert int(smtp.esmtp_features["size"]) > SES_MAX_MESSAGE_BYTES
    finally:
        server.stop()


def test_mail_up_to_the_limit_is_stored_and_handed_on(listener: Any) -> None:
    port, bucket, delivered = listener
    raw = _mail(60 * 1024)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("a@customer.example", ["support@helpline.test"], raw)  # declares SIZE
    assert bucket.sizes == [len(raw)] and len(delivered) == 1


def test_a_declared_size_over_the_limit_is_refused_at_mail_from(listener: Any) -> None:
    port, bucket, _ = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail("a@customer.example", [f"SIZE={64 * 1024 + 1}"])
    assert (code, reply[:5]) == (552, b"5.3.4")
    assert bucket.sizes == []


def test_mail_over_the_limit_is_refused_after_data_and_not_stored(listener: Any) -> None:
    port, bucket, delivered = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail("a@customer.example")[0] == 250  # a sender that declares no size
        assert smtp.rcpt("support@helpline.test")[0] == 250
        code, reply = smtp.data(_mail(70 * 1024))
    assert (code, reply[:5]) == (552, b"5.3.4")
    assert bucket.sizes == [] and delivered == []
