from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.core.errors import RejectedInput
from functions.core.tokens import sign, verify

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SECRET = b"s3cret-for-tests"


def _token(**claims: object) -> str:
    return sign(
        "chat", claims or {"sid": "S1", "vid": "V1"}, secret=SECRET, now=NOW, ttl=timedelta(hours=2)
    )


def test_a_fresh_token_gives_back_its_claims():
    claims = verify(_token(), "chat", secret=SECRET, now=NOW + timedelta(minutes=5))
    assert claims["sid"] == "S1" and claims["vid"] == "V1"


def test_an_expired_token_is_refused_as_expired():
    with pytest.raises(RejectedInput) as error:
        verify(_token(), "chat", secret=SECRET, now=NOW + timedelta(hours=2))
    assert error.value.code == "expired_token" and error.value.status == 401


def test_a_token_for_another_purpose_is_refused():
    survey = sign("survey", {"sid": "S1"}, secret=SECRET, now=NOW, ttl=timedelta(days=1))
    with pytest.raises(RejectedInput) as error:
        verify(survey, "chat", secret=SECRET, now=NOW)
    assert error.value.code == "bad_token"


def test_a_token_signed_with_another_secret_is_refused():
    other = sign("chat", {"sid": "S1"}, secret=b"other", now=NOW, ttl=timedelta(hours=1))
    with pytest.raises(RejectedInput):
        verify(other, "chat", secret=SECRET, now=NOW)


def test_changing_the_claims_breaks_the_signature():
    import base64
    import json

    payload, _, signature = _token().partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sid"] = "SOMEONE-ELSES"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(RejectedInput) as error:
        verify(f"{forged}.{signature}", "chat", secret=SECRET, now=NOW)
    assert error.value.code == "bad_token"


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50), st.integers(), st.none()))
def test_no_input_raises_anything_but_rejected_input(value):
    with pytest.raises(RejectedInput):
        verify(value, "chat", secret=SECRET, now=NOW)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_.=", max_size=200))
def test_token_shaped_garbage_is_refused(value):
    with pytest.raises(RejectedInput):
        verify(value, "chat", secret=SECRET, now=NOW)
