"""Identifiers: short, unguessable, safe in subjects, URLs and DynamoDB keys.

Crockford base32 (no I, L, O, U) reads well aloud and survives case changes, which
matters for a ticket number a customer types from a phone call.
"""

from __future__ import annotations

import hashlib
import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TICKET_ID_LENGTH = 10  # 50 bits: collisions stay negligible at tens of millions of tickets


def random_id(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_ticket_id() -> str:
    return random_id(TICKET_ID_LENGTH)


def new_message_id() -> str:
    return random_id(16)


def new_customer_id() -> str:
    return "C" + random_id(12)


def stable_id(*parts: str, length: int = 16) -> str:
    """The same id for the same inputs: used where a retry must land on the same record."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 32)
        chars.append(_ALPHABET[index])
    return "".join(chars)


def normalize_ticket_id(text: str) -> str:
    """Accept what a person typed: lower case, O for 0, I/L for 1."""
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return text.strip().upper().translate(table)


def is_ticket_id(text: str) -> bool:
    return len(text) == TICKET_ID_LENGTH and all(c in _ALPHABET for c in text)
