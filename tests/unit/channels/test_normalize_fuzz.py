"""Whatever a platform (or an attacker) posts, normalize answers with a Delivery or a
RejectedInput, never another exception: a crash would make the platform retry forever.

Random JSON alone rarely gets past the envelope checks, so two more strategies go
deeper: JSON built from the field names and values the platforms really use, inside a
valid envelope; and real payloads (ours, and the corpora when present) with random
parts replaced by random values or deleted, which reaches every reader with every
wrong type in every place.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core.channels import instagram, messenger, telegram, whatsapp, x
from functions.core.channels.delivery import Delivery
from functions.core.channels.meta import normalize_meta
from functions.core.errors import RejectedInput
from tests.helpers import corpus
from tests.unit.channels.payloads import FIXTURES, RECEIVED

# field names the readers look for that the seed payloads below may not carry; the
# rest are taken from the seeds themselves
EXTRA_FIELDS = [
    "is_unsupported", "quick_reply", "standby", "changes", "mids", "watermark", "num_edit", "postback",
    "statuses", "message_echoes", "interactive", "button_reply", "list_reply", "nfm_reply", "order",
    "product_items", "errors", "error_data", "callback_query", "message_reaction", "new_reaction",
    "old_reaction", "reply_markup", "inline_keyboard", "callback_data", "sender_chat", "photo", "file_id",
    "direct_message_mark_read_events", "quick_reply_response", "video_info", "variants", "user_ref",
]  # fmt: skip


VALUES = [
    "page",
    "instagram",
    "whatsapp_business_account",
    "messages",
    "smb_message_echoes",
    "statuses",
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "button",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "order",
    "edit",
    "revoke",
    "system",
    "unsupported",
    "message_create",
    "react",
    "unreact",
    "sent",
    "delivered",
    "read",
    "played",
    "failed",
    "story_mention",
    "ig_reel",
    "share",
    "file",
    "/start",
    "/start@bot x",
    "emoji",
    "video/mp4",
    "image/jpeg",
    "wamid.X",
    "m_1",
    "1732540800050",
    "1732543200",
    "-100123",
    "",
    " ",
    "\x00",
    "\udcff",
    "é" * 300,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(VALUES),
)
any_json = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
Normalize = Callable[..., Delivery]


def _telegram(raw: Any, **kwargs: Any) -> Delivery:
    return telegram.normalize(raw, account="helpline_demo_bot", **kwargs)


NORMALIZERS: dict[str, Normalize] = {
    "meta": normalize_meta,
    "messenger": messenger.normalize,
    "instagram": instagram.normalize,
    "whatsapp": whatsapp.normalize,
    "telegram": _telegram,
    "x": x.normalize,
}

# envelopes that get past the top-level checks, so the readers below them are exercised
ENVELOPES: dict[str, Callable[[Any], Any]] = {
    "meta": lambda inner: {
        "object": "page",
        "entry": inner if isinstance(inner, list) else [inner],
    },
    "messenger": lambda inner: {"object": "page", "entry": [{"id": "1", "messaging": [inner]}]},
    "instagram": lambda inner: {
        "object": "instagram",
        "entry": [{"id": "1", "messaging": [inner], "standby": inner}],
    },
    "whatsapp": lambda inner: {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": inner}, inner]}],
    },
    "telegram": lambda inner: {
        "update_id": 1,
        "message": inner,
        "callback_query": inner,
        "message_reaction": inner,
    },
    "x": lambda inner: {
        "for_user_id": "1",
        "direct_message_events": [inner],
        "direct_message_mark_read_events": [inner],
    },
}


def _seeds() -> dict[str, list[Any]]:
    """Valid payloads per normalizer: our fixtures, plus the corpora when present."""
    seeds: dict[str, list[Any]] = {name: [] for name in NORMALIZERS}
    for path in sorted(FIXTURES.glob("*/*.json")):
        platform = path.parent.name
        seeds[platform].append(json.loads(path.read_text(encoding="utf-8")))
    updates = corpus("pywa", "tests", "data", "updates")
    for path in sorted(updates.glob("*.json")) if updates.is_dir() else []:
        if path.name != "EXPECTED.extracted.json":
            seeds["whatsapp"].extend(json.loads(path.read_text(encoding="utf-8")).values())
    telegram_dir = corpus("zammad", "test", "data", "telegram")
    for path in sorted(telegram_dir.glob("*/*.json")) if telegram_dir.is_dir() else []:
        seeds["telegram"].append(json.loads(path.read_text(encoding="utf-8")))
    seeds["x"].append(
        {
            "for_user_id": "2975699229",
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "1209117907864571908",
                    "created_timestamp": "1577111148216",
                    "message_create": {
                        "target": {"recipient_id": "2975699229"},
                        "sender_id": "1205290247124217856",
                        "message_data": {
                            "text": " https://t.co/amoKo1v19w",
                            "entities": {
                                "urls": [
                                    {
                                        "url": "https://t.co/amoKo1v19w",
                                        "expanded_url": "https://x.com/m",
                                    }
                                ]
                            },
                            "attachment": {
                                "type": "media",
                                "media": {
                                    "id_str": "1209117874389843969",
                                    "url": "https://t.co/amoKo1v19w",
                                    "type": "animated_gif",
                                    "media_url_https": "https://pbs.twimg.com/dm_gif_preview/1/a.jpg",
                                    "video_info": {
                                        "variants": [
                                            {
                                                "bitrate": 0,
                                                "content_type": "video/mp4",
                                                "url": "https://video.twimg.com/a.mp4",
                                            }
                                        ]
                                    },
                                },
                            },
                            "quick_reply_response": {"type": "options", "metadata": "csat:4"},
                        },
                    },
                },
                {
                    "type": "message_create",
                    "id": "1206724203514228741",
                    "message_create": {
                        "target": {"recipient_id": "1205290247124217856"},
                        "sender_id": "2975699229",
                        "message_data": {"text": "hi"},
                    },
                },
            ],
            "direct_message_mark_read_events": [
                {
                    "created_timestamp": "1576540445711",
                    "sender_id": "1205290247124217856",
                    "last_read_event_id": "1206724203514228741",
                }
            ],
            "users": {"1205290247124217856": {"name": "pennbrooke", "screen_name": "pennbrooke1"}},
        }
    )
    seeds["meta"] = seeds["messenger"] + seeds["instagram"] + seeds["whatsapp"]
    return seeds


SEEDS = _seeds()


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def _fields() -> list[str]:
    found = {key for seeds in SEEDS.values() for seed in seeds for key in _keys(seed)}
    return sorted(found | set(EXTRA_FIELDS))


FIELDS = _fields()


platform_json = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), children, max_size=6)
    ),
    max_leaves=60,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    raw = copy.deepcopy(draw(st.sampled_from(SEEDS[name])))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(_paths(raw))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = raw
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(platform_json)
    return raw


def _check(normalize: Normalize, raw: Any) -> None:
    try:
        delivery = normalize(raw, received_at=RECEIVED, raw_ref="s3://raw/x")
    except RejectedInput as exc:
        assert exc.status == 400 and exc.code == "bad_payload"
        return
    assert isinstance(delivery, Delivery)
    for message in delivery.messages:
        assert message.external_id and isinstance(message.external_id, str)
        assert message.received_at.tzinfo is not None
        assert message.received_at.utcoffset() == UTC.utcoffset(None)
        assert message.sender is not None and message.sender.value
        assert message.conversation_key and message.conversation_key.startswith(
            f"{message.channel.value}:"
        )
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in message.extra)
    for rejected in delivery.rejected:
        assert rejected.index and rejected.code and rejected.reason


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@FUZZ
@given(raw=any_json)
def test_arbitrary_json_never_crashes(name: str, raw: Any) -> None:
    _check(NORMALIZERS[name], raw)


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@FUZZ
@given(raw=platform_json)
def test_platform_shaped_json_never_crashes(name: str, raw: Any) -> None:
    _check(NORMALIZERS[name], raw)


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@FUZZ
@given(inner=platform_json)
def test_anything_inside_a_valid_envelope_never_crashes(name: str, inner: Any) -> None:
    _check(NORMALIZERS[name], ENVELOPES[name](inner))


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@FUZZ
@given(data=st.data())
def test_real_payloads_with_random_parts_broken_never_crash(name: str, data: st.DataObject) -> None:
    _check(NORMALIZERS[name], data.draw(mutated(name)))


def test_every_normalizer_has_real_payloads_to_break() -> None:
    for name, seeds in SEEDS.items():
        assert seeds, name
        assert any(NORMALIZERS[name](seed, received_at=RECEIVED).messages for seed in seeds), name


def test_the_envelopes_really_reach_the_readers() -> None:
    # guard against the fuzzing above silently stopping at the envelope checks
    for name, envelope in ENVELOPES.items():
        delivery = NORMALIZERS[name](envelope("not an object"), received_at=RECEIVED)
        assert isinstance(delivery, Delivery)
        assert delivery.rejected or delivery.ignored, name


def test_mapping_subclasses_are_read_like_dicts() -> None:
    class Frozen(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self._data = data

        def __getitem__(self, key: str) -> Any:
            return self._data[key]

        def __iter__(self) -> Any:
            return iter(self._data)

        def __len__(self) -> int:
            return len(self._data)

    raw = Frozen(
        {
            "update_id": 3,
            "message": Frozen(
                {"message_id": 1, "chat": {"id": 5}, "from": {"id": 5}, "text": "hi"}
            ),
        }
    )
    (message,) = _telegram(raw, received_at=RECEIVED).messages
    assert message.text == "hi"
