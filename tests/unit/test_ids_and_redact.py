"""Ticket ids a person can read out and type back, and logs that do not identify anyone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.core.ids import (
    TICKET_ID_LENGTH,
    is_ticket_id,
    new_customer_id,
    new_message_id,
    new_ticket_id,
    normalize_ticket_id,
    stable_id,
)
from functions.core.models import Identity
from functions.core.redact import redact_email, redact_identity, redact_text

CROCKFORD = re.compile(r"^[0-9ABCDEFGHJKMNPQRSTVWXYZ]+$")


def test_ticket_ids_are_ten_crockford_characters() -> None:
    ticket_ids = {new_ticket_id() for _ in range(500)}

    assert len(ticket_ids) == 500
    for ticket_id in ticket_ids:
        assert len(ticket_id) == TICKET_ID_LENGTH == 10
        assert CROCKFORD.match(ticket_id), ticket_id
        assert is_ticket_id(ticket_id)


def test_message_and_customer_ids_use_the_same_alphabet() -> None:
    message_id = new_message_id()
    customer_id = new_customer_id()

    assert len(message_id) == 16 and CROCKFORD.match(message_id)
    assert customer_id.startswith("C") and len(customer_id) == 13
    assert CROCKFORD.match(customer_id[1:])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("K7Q2M4XD01", "K7Q2M4XD01"),
        ("k7q2m4xd01", "K7Q2M4XD01"),
        ("K7Q2M4XDO1", "K7Q2M4XD01"),  # O for 0
        ("k7q2m4xdoi", "K7Q2M4XD01"),  # o for 0, i for 1
        ("K7Q2M4XD0L", "K7Q2M4XD01"),  # L for 1
        ("  k7q2m4xd01 ", "K7Q2M4XD01"),
    ],
)
def test_a_typed_ticket_id_is_understood(typed: str, expected: str) -> None:
    normalized = normalize_ticket_id(typed)

    assert normalized == expected
    assert is_ticket_id(normalized)


@pytest.mark.parametrize("text", ["K7Q2M4XD0", "K7Q2M4XD012", "K7Q2M4XDU1", "K7Q2-M4XD1", ""])
def test_what_is_not_a_ticket_id(text: str) -> None:
    assert not is_ticket_id(normalize_ticket_id(text))


@given(st.builds(new_ticket_id))
def test_a_ticket_id_survives_being_read_out_in_lower_case(ticket_id: str) -> None:
    assert normalize_ticket_id(ticket_id.lower()) == ticket_id


def test_stable_ids_repeat_for_the_same_inputs_only() -> None:
    assert stable_id("email", "abc@x") == stable_id("email", "abc@x")
    assert stable_id("email", "abc@x") != stable_id("email", "abd@x")
    assert stable_id("email", "abc@x") != stable_id("emailabc", "@x")  # parts are separated
    assert len(stable_id("a", length=12)) == 12
    assert CROCKFORD.match(stable_id("a"))


@pytest.mark.parametrize(
    ("address", "redacted"),
    [
        ("ana.garcia@example.com", "a***@example.com"),
        ("Z@mail.example.org", "Z***@mail.example.org"),
        ("not-an-address", "***"),
    ],
)
def test_redact_email_keeps_the_first_letter_and_the_domain(address: str, redacted: str) -> None:
    assert redact_email(address) == redacted


def test_redact_identity() -> None:
    assert redact_identity(Identity.email("ana@example.com")) == "email:a***@example.com"
    assert redact_identity(Identity("wa_id", "34600111222")) == "wa_id:***222"
    assert redact_identity(None) is None


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("Call me on +44 20 7946 0958 today", "7946", "***958"),
        ("móvil 600-111-222, gracias", "600-111", "***222"),
        ("tel (030) 123 45678", "123 45", "***678"),
    ],
)
def test_redact_text_hides_phone_numbers(text: str, hidden: str, kept: str) -> None:
    redacted = redact_text(text)

    assert hidden not in redacted
    assert kept in redacted


def test_redact_text_hides_addresses_and_keeps_the_rest() -> None:
    text = "550 5.1.1 <ana.garcia@example.com>: Recipient address rejected"

    redacted = redact_text(text)

    assert "ana.garcia" not in redacted
    assert "a***@example.com" in redacted
    assert redacted.startswith("550 5.1.1 <")
    assert redacted.endswith(">: Recipient address rejected")
