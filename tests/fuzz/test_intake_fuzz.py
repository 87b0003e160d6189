"""Deliveries and chat frames past the parsers, into the store: the `intake` target
(bench/fuzz/intake_rig.py) runs each through social_dm's and chat_ws's services into
DynamoDB under moto. Nothing may escape, every message of a delivery ends as a ticket
or a quarantine record, and every chat `message` is acknowledged (and stored) or
refused with an `error` event. A parser's contract alone missed invalid Unicode: a
lone surrogate passed `json.loads` and every normalizer, and failed in the store.

Bounded: a sample of the real inputs with invalid Unicode put in, and a few dozen
mutations; the world (the shared stack in moto) is built once for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.fuzz import intake_rig
from bench.fuzz import seeds as seed_inputs
from bench.fuzz.targets import RECEIVED, _broken
from functions.core.channels import telegram, x
from functions.core.channels.meta import normalize_meta
from functions.core.errors import RejectedInput
from functions.core.models import MessageKind
from tests.fuzz.support import FAST, check, mutated

FEW = settings(FAST, max_examples=25)
LONE = st.sampled_from(["\ud83d", "\udc00", "\udfff", "\ud800\ud800", "\ude00\ud83d"])
broken_text = st.builds(lambda a, s, b: a + s + b, st.text(max_size=12), LONE, st.text(max_size=12))


@pytest.fixture(scope="module", autouse=True)
def world() -> Iterator[intake_rig.IntakeRig]:
    try:
        yield intake_rig.rig()
    finally:
        intake_rig.stop()


def _with_messages(kind: str, body: bytes) -> bool:
    """Whether the body holds at least one message (many seeds are only statuses or
    broken on purpose, and would test the quarantine alone)."""
    if kind == "chat":
        return True
    normalize = {"meta": normalize_meta, "telegram": telegram.normalize, "x": x.normalize}[kind]
    try:
        found = normalize(json.loads(body), received_at=RECEIVED, account="1111111111")
    except (ValueError, RejectedInput):
        return False
    return any(m.kind is MessageKind.MESSAGE for m in found.messages)


def _sample(kind: str, bodies: list[bytes], count: int = 3) -> list[bytes]:
    usable = [body for body in bodies if _with_messages(kind, body)]
    chosen = usable[:: max(1, len(usable) // count)][:count]
    return [kind.encode() + b"\n" + v for body in chosen for v in (body, *_broken(body))]


@pytest.mark.parametrize(
    ("kind", "bodies"),
    [
        ("meta", seed_inputs.messenger_bodies),
        ("meta", seed_inputs.instagram_bodies),
        ("meta", seed_inputs.whatsapp_bodies),
        ("telegram", seed_inputs.telegram_bodies),
        ("x", seed_inputs.x_bodies),
        ("chat", seed_inputs.chat_frames),
    ],
)
def test_real_inputs_with_invalid_unicode_reach_the_store(kind: str, bodies: Any) -> None:
    found = bodies()
    if not found:
        pytest.skip(f"no {kind} seeds: ../shared/corpora is absent (set HELPLINE_CORPORA)")
    for data in _sample(kind, found):
        check("intake", data)


def test_a_broken_character_in_one_of_three_messages_loses_none(
    world: intake_rig.IntakeRig,
) -> None:
    def event(mid: str, sender: str, text: str) -> dict[str, Any]:
        return {
            "sender": {"id": sender},
            "recipient": {"id": "117172741761305"},
            "timestamp": 1795514400000,
            "message": {"mid": mid, "text": text},
        }

    body = {
        "object": "page",
        "entry": [
            {
                "id": "117172741761305",
                "time": 1795514400000,
                "messaging": [
                    event("m_fuzz_a", "9001", "Hello, where is my order?"),
                    event("m_fuzz_b", "9002", "I was charged twice."),
                    event("m_fuzz_c", "9003", "It arrived \ud83d broken."),
                ],
            }
        ],
    }
    world.forget()
    result = world.delivery("meta", json.dumps(body).encode())
    assert result.status == 200
    assert [o.status for o in result.outcomes] == ["created"] * 3


@FEW
@given(data=mutated("intake", most=4))
def test_edited_inputs_reach_the_store(data: bytes) -> None:
    check("intake", data)


@FEW
@given(
    action=st.sampled_from(["hello", "message", "contact", "rate", "typing", "read"]),
    field=st.sampled_from(["text", "name", "locale", "email", "comment", "message_id", "x"]),
    value=broken_text,
)
def test_chat_frames_with_a_lone_surrogate_are_answered(
    action: str, field: str, value: str
) -> None:
    frame = {"action": action, "client_id": "f1", "text": "Where is my order?", field: value}
    check("intake", b"chat\n" + json.dumps(frame).encode())
