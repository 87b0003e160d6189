"""Server frames within what one WebSocket push takes (issue 15, item 8).

PostToConnection accepts 128 KB of UTF-8 (API Gateway splits it into 32 KB frames
itself). What is checked:

1. `ChatPusher.push` sends up to 128 KB and refuses one byte more with a clear error,
   without calling the API;
2. `history_frames` pages by bytes, whatever the script: every message arrives once,
   in order, every frame is within the limit as pushed, frames are full (a new one
   starts only when the next message does not fit), and `more` is true on all but
   the last;
3. a message too long to travel even alone is cut to fit and marked `truncated`;
4. a frame carrying one message (`ack`, `message`) and a queue's `waiting` list stay
   within the limit.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.chat_ws.protocol import event, fit_message, history_frames, waiting_event
from functions.core.channels.chat import MAX_PUSH_BYTES, ChatPusher, FrameTooLargeError

# 4,000 characters (the chat's limit) in 1 to 6 bytes each as JSON: Latin, Cyrillic,
# CJK, emoji, and control characters that JSON escapes as \u00XX
SCRIPTS = {
    "latin": "Where is my parcel? ",
    "cyrillic": "Здравствуйте, где мой заказ? ",
    "cjk": "我的包裹在哪里请帮我查一下",
    "emoji": "📦🚚😡🙏",
    "escaped": "\x01\x02\x1f",
}


def text(script: str, n: int = 4000, *, tag: str = "") -> str:
    unit = SCRIPTS[script]
    return (tag + unit * (n // len(unit) + 1))[:n]


def message(index: int, body: str) -> dict[str, Any]:
    """The shape `chat_message` gives."""
    return {
        "id": f"M{index:026d}",
        "cursor": f"2026-11-24T10:00:{index % 60:02d}.000000Z#M{index:026d}",
        "at": f"2026-11-24T10:00:{index % 60:02d}.000000Z",
        "from": "customer" if index % 2 else "agent",
        "name": "" if index % 2 else "Иван",
        "text": body,
        "automatic": False,
    }


def size(frame: str) -> int:
    return len(frame.encode("utf-8"))


def delivered(frames: list[str]) -> list[dict[str, Any]]:
    return [m for f in frames for m in json.loads(f)["messages"]]


# -- 1. the push ------------------------------------------------------------------------


class FakeApi:
    def __init__(self) -> None:
        self.posted: list[bytes] = []

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        self.posted.append(Data)
        return {}


def frame_of(n_bytes: int) -> str:
    """A frame of exactly n bytes of UTF-8, mostly Cyrillic."""
    head, tail = '{"type":"history","text":"', '"}'
    room = n_bytes - len(head) - len(tail)
    return head + "ж" * (room // 2) + "x" * (room % 2) + tail


def test_a_push_of_128_kb_goes_and_one_byte_more_is_refused_without_a_call():
    api = FakeApi()
    pusher = ChatPusher(client_factory=lambda _url: api)
    assert pusher.push("conn=", frame_of(MAX_PUSH_BYTES)) is True
    assert len(api.posted) == 1 and len(api.posted[0]) == 128 * 1024
    with pytest.raises(FrameTooLargeError) as refused:
        pusher.push("conn=", frame_of(MAX_PUSH_BYTES + 1))
    assert refused.value.size == 128 * 1024 + 1 and refused.value.permanent
    assert "128 KB" in refused.value.reason
    assert len(api.posted) == 1


# -- 2. history paged by bytes ------------------------------------------------------------


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("count", [0, 1, 10, 12, 25])
def test_history_of_long_messages_in_any_script_is_paged_within_a_push(script, count):
    messages = [message(i, text(script, tag=f"{i}: ")) for i in range(count)]
    frames = history_frames(messages, session_id="S8K2ABCDEF")
    assert all(size(f) <= MAX_PUSH_BYTES for f in frames)
    assert delivered(frames) == messages  # each once, in order, unchanged
    decoded = [json.loads(f) for f in frames]
    assert [f["more"] for f in decoded] == [True] * (len(frames) - 1) + [False]
    assert all(f["type"] == "history" and f["session_id"] == "S8K2ABCDEF" for f in decoded)
    whole = size(event("history", messages=messages, more=False, session_id="S8K2ABCDEF"))
    assert (len(frames) > 1) == (whole > MAX_PUSH_BYTES)


def test_ten_messages_of_4000_characters_are_over_32_kb_in_every_script():
    """What the defect was: a page of ten did not fit in 32 KB, let alone emoji."""
    for script in ("cyrillic", "cjk", "emoji"):
        ten = [message(i, text(script)) for i in range(10)]
        assert size(event("history", messages=ten, more=False)) > 32 * 1024


def test_a_frame_of_exactly_the_limit_is_one_frame_and_a_byte_less_is_two():
    pair = [message(1, text("cyrillic", 700)), message(2, text("emoji", 300))]
    exact = size(event("history", messages=pair, more=False))
    assert len(history_frames(pair, limit=exact)) == 1
    smaller = history_frames(pair, limit=exact - 1)
    assert len(smaller) == 2 and delivered(smaller) == pair
    assert all(size(f) <= exact - 1 for f in smaller)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=["Cs"]),  # no lone surrogates
            max_size=400,
        ),
        max_size=30,
    ),
    limit=st.integers(min_value=600, max_value=6000),
)
def test_any_messages_are_paged_full_in_order_within_any_limit(texts, limit):
    messages = [message(i, body) for i, body in enumerate(texts)]
    frames = history_frames(messages, limit=limit)
    assert all(size(f) <= limit for f in frames)
    got = delivered(frames)
    assert [m["id"] for m in got] == [m["id"] for m in messages]
    for sent, arrived in zip(messages, got, strict=True):
        if arrived.get("truncated"):
            assert sent["text"].startswith(arrived["text"]) and arrived["text"] != sent["text"]
        else:
            assert arrived == sent
    # full: a frame ended only because its next message would not have fitted (the
    # budget counts `more` as false, one byte longer than true, so a frame can end one
    # byte short of the limit, never more)
    for current, following in pairwise(frames):
        page = json.loads(current)["messages"]
        first_next = json.loads(following)["messages"][0]
        more = event("history", messages=[*page, first_next], more=False)
        assert size(more) > limit


# -- 3. a message too long for any frame ----------------------------------------------------


@pytest.mark.parametrize("script", ["latin", "cyrillic", "emoji", "escaped"])
def test_a_message_too_long_for_one_push_is_cut_to_fit_and_marked_never_dropped(script):
    """An email or a CLI reply on a chat's ticket can be longer than any frame."""
    huge = message(2, text(script, 150_000))
    messages = [message(1, "before"), huge, message(3, "after")]
    frames = history_frames(messages, session_id="S8K2ABCDEF")
    assert all(size(f) <= MAX_PUSH_BYTES for f in frames)
    got = delivered(frames)
    assert [m["text"] for m in (got[0], got[2])] == ["before", "after"]
    cut = got[1]
    assert cut["truncated"] is True and cut["id"] == huge["id"]
    assert huge["text"].startswith(cut["text"])
    assert size(frames[1]) > MAX_PUSH_BYTES - 8  # as much as fits (one character less)


def test_fit_message_leaves_what_fits_alone():
    short = message(1, text("emoji", 4000))
    assert fit_message(short, room=MAX_PUSH_BYTES) == short
    assert "truncated" not in fit_message(short, room=MAX_PUSH_BYTES)


# -- 4. the other frames ------------------------------------------------------------------------


def test_an_ack_or_relay_of_one_message_stays_within_a_push():
    normal = message(1, text("emoji", 4000))
    frame = event("message", session_id="S8K2ABCDEF", message=normal)
    assert json.loads(frame)["message"] == normal  # a chat message is never touched
    huge = message(2, text("escaped", 30_000))  # 180 KB of JSON escapes
    frame = event("ack", client_id="c1", session_id="S8K2ABCDEF", message=huge)
    assert size(frame) <= MAX_PUSH_BYTES
    decoded = json.loads(frame)
    assert decoded["message"]["truncated"] is True and decoded["client_id"] == "c1"


def waiting(index: int, preview: str) -> dict[str, Any]:
    return {
        "session_id": f"S{index:015d}",
        "language": "ru",
        "team": "russian",
        "waiting_since": "2026-11-24T10:00:00.000000Z",
        "overflowed": False,
        "preview": preview,
    }


def test_a_short_queue_is_listed_whole():
    chats = [waiting(i, text("cyrillic", 140)) for i in range(20)]
    decoded = json.loads(waiting_event("russian", chats))
    assert decoded == {"type": "waiting", "team": "russian", "chats": chats, "total": 20}


def test_a_queue_too_long_for_one_push_lists_the_longest_waiting_that_fit():
    chats = [waiting(i, text("emoji", 140)) for i in range(400)]
    frame = waiting_event("russian", chats)
    assert size(frame) <= MAX_PUSH_BYTES
    decoded = json.loads(frame)
    listed = decoded["chats"]
    assert decoded["total"] == 400 and 100 < len(listed) < 400
    assert listed == chats[: len(listed)]  # the oldest first, as the queue is ordered
    one_more = event("waiting", team="russian", chats=chats[: len(listed) + 1], total=400)
    assert size(one_more) > MAX_PUSH_BYTES
