"""The MIME path under hostile input: real mails from five corpora, edited at random,
and mails built from MIME's own tokens. `parse_mail` may only refuse an empty mail;
the email channel's `normalize` may only refuse with RejectedInput."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.support import FAST, MANY, check, mutated, seeds, token_soup


def test_every_real_mail_parses_whole() -> None:
    # the seeds themselves, uncut: every corpus mail keeps the contract
    mails = seeds("mime", limit=10**9)
    assert len(mails) >= 3  # the repository's own fixtures at least
    for raw in mails:
        check("mime", raw)


@MANY
@given(raw=mutated("mime"))
def test_edited_real_mails_parse_or_are_refused(raw: bytes) -> None:
    check("mime", raw)


@MANY
@given(raw=token_soup("mime", max_size=80))
def test_mails_built_from_mime_tokens_parse_or_are_refused(raw: bytes) -> None:
    check("mime", raw)


@FAST
@given(raw=mutated("email"))
def test_edited_real_mails_normalize_or_are_refused(raw: bytes) -> None:
    check("email", raw)


@FAST
@given(raw=st.binary(max_size=3000))
def test_random_bytes_normalize_or_are_refused(raw: bytes) -> None:
    check("email", raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" \r\n\t",
        b"From: <>\n\n",
        b'Content-Type: multipart/mixed; boundary=""\n\n--\n\n----\n',
        b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n====",
        b'Content-Type: multipart/related; start="<"\n\n',
        b"Content-Disposition: attachment; filename*0*=''; filename*99999*=%\n\nx",
        b"Content-Type: text/html\n\n<html><head><title>" + b"\x00" * 50,
        b"From: =?utf-8?B?" + b"=" * 500 + b"?= <a@b>\n\nx",
        b"Subject: =?x-unknown?Q?=FF?= =?unicode-escape?Q?\\N{?=\n\n",
    ],
)
def test_hand_made_traps_parse_or_are_refused(raw: bytes) -> None:
    check("mime", raw)
    check("email", raw)
