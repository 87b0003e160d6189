"""Tokens, survey links and survey answers under hostile input: whatever a link or a
form carries, the answer is the claims, a score, a cleaned comment, or RejectedInput.
Random bytes cannot pass the HMAC, so payloads are also signed with the test secret,
which reaches the decoding behind it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.support import FAST, check, mutated

claims = st.dictionaries(
    st.sampled_from(["aud", "exp", "sid", "session", "email"]),
    st.one_of(
        st.sampled_from(["survey", "chat", "agent", "S0123456789ABCDEF", "s0123456789abcdef"]),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=3),
    ),
    max_size=5,
)


@FAST
@given(token=st.text(max_size=300))
def test_any_text_as_a_token(token: str) -> None:
    check("tokens", token.encode("utf-8", "surrogatepass"))


@FAST
@given(raw=mutated("tokens", most=5))
def test_edited_real_tokens(raw: bytes) -> None:
    check("tokens", raw)


@FAST
@given(body=claims)
def test_signed_tokens_with_any_claims(body: dict[str, Any]) -> None:
    # run_tokens also signs the bytes: these payloads pass the HMAC and reach the claims
    check("tokens", json.dumps(body).encode())
    check("surveys", json.dumps(body).encode())


@FAST
@given(
    score=st.text(alphabet=st.characters(categories=["Nd", "Zs", "Pd", "Po"]), max_size=5),
    comment=st.text(max_size=300),
)
def test_survey_answers(score: str, comment: str) -> None:
    check("surveys", f"{score.replace(chr(10), '')}\n{comment}".encode("utf-8", "surrogatepass"))


@FAST
@given(raw=mutated("surveys", most=5))
def test_edited_real_survey_answers(raw: bytes) -> None:
    check("surveys", raw)
