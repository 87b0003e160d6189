"""The chat protocol decoder and the config loader under hostile input.

`protocol.decode` answers any frame, from a customer or an agent, with an Action of
that role or a RejectedInput (400) the service can turn into an `error` event. The
config loader answers any file with a Config or a ConfigError naming a field: a
broken config must fail the function's start with a message, not a traceback."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bench.fuzz import seeds as seed_inputs
from functions.chat_ws.protocol import AGENT_ACTIONS, CUSTOMER_ACTIONS
from tests.fuzz.support import FAST, MANY, check, mutated

FIELDS = sorted({key for frame in seed_inputs.CHAT_FRAMES for key in frame} | {"page", "url"})
values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False), st.text(max_size=40),
        st.sampled_from(["a@b.co", "abc123def456", "online", "away", "x" * 5000, "\udcff",
                         "\ud83d", "Zo\ud83d", " \u200b\ufeff ", "x" * 40_000]),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@MANY
@given(
    action=st.sampled_from(sorted(CUSTOMER_ACTIONS | AGENT_ACTIONS | {"", "HELLO", "x" * 50})),
    fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=6),
)
def test_frames_of_every_action_with_any_fields(action: str, fields: dict[str, Any]) -> None:
    frame = {**fields, "action": action}
    check("chat", json.dumps(frame).encode("utf-8", "surrogatepass"))


@FAST
@given(raw=mutated("chat", most=6))
def test_edited_real_frames(raw: bytes) -> None:
    check("chat", raw)


@FAST
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_a_frame(raw: bytes) -> None:
    check("chat", raw)


def test_frame_over_the_websocket_limit_is_refused() -> None:
    check("chat", json.dumps({"action": "message", "text": "x" * 200_000}).encode())
    # over 32 KB with a text of allowed length: refused as API Gateway refuses the frame
    check("chat", json.dumps({"action": "message", "text": "x", "pad": "y" * 40_000}).encode())


def test_a_lone_surrogate_in_any_field_of_any_action_is_never_accepted() -> None:
    for action in sorted(CUSTOMER_ACTIONS | AGENT_ACTIONS):
        for name in FIELDS:
            for half in ("\ud83d", "\udfff", "Zo\ud83d", "\ude00\ud83d"):
                frame = {
                    "action": action, "session_id": "S1234567", "text": "hello", "score": 4,
                    "status": "online", "message_id": "M1", "email": "a@b.co", "team": "english",
                    name: half,
                }  # fmt: skip
                check("chat", json.dumps(frame).encode())


# --- config ---------------------------------------------------------------------------

YAML_VALUES = [
    "", "~", "null", "yes", "no", "on", "0", "-1", "1e9999", ".nan", ".inf", "0x1F", "0o17",
    "2025-12-25", "2025-12-25T10:00:00Z", "12:00", "25:99", "09:00-17:00", "17:00-09:00",
    "mon-fri", "sun-mon", "Europe/Berlin", "Mars/Olympus", "en", "xx-YY", "[]", "{}", "[en, de]",
    "{a: 1}", "&anchor x", "*anchor", "!!str 5", "!!binary aGk=", "!!set {a}", "'quoted'",
    "\"\\u0000\"", "|\n  block", "a: b: c", "- item", "?", "@", "`", "%", "\t", "x" * 300,
]  # fmt: skip


@st.composite
def edited_config(draw: st.DrawFn) -> bytes:
    """The demo config with 1-5 lines changed the way people get YAML wrong: a value
    replaced, a line dropped or repeated, its indentation shifted."""
    lines = seed_inputs.configs()[0].decode("utf-8").split("\n")
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        index = rng.randrange(len(lines))
        line = lines[index]
        choice = rng.randrange(4)
        if choice == 0 and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {draw(st.sampled_from(YAML_VALUES))}"
        elif choice == 1:
            del lines[index]
        elif choice == 2:
            lines.insert(index, line)
        else:
            lines[index] = " " * rng.randrange(0, 5) + line.lstrip()
        if not lines:
            break
    return "\n".join(lines).encode("utf-8")


@FAST
@given(raw=edited_config())
def test_demo_config_with_lines_changed(raw: bytes) -> None:
    check("config", raw)


@FAST
@given(raw=mutated("config", most=4))
def test_demo_config_with_bytes_edited(raw: bytes) -> None:
    check("config", raw)


@FAST
@given(text=st.text(max_size=400))
def test_any_text_as_a_config(text: str) -> None:
    check("config", text.encode("utf-8", "surrogatepass"))


def test_the_demo_config_loads() -> None:
    # the seed itself must be a valid config, or the edits above test nothing
    from functions.core.config import parse_config

    config = parse_config(seed_inputs.configs()[0].decode("utf-8"), holidays={})
    assert config.teams
