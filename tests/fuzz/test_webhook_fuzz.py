"""Webhook bodies under hostile input: the platforms' real deliveries (pywa, Chatwoot,
Zammad, ours) with parts replaced by any JSON value (lone surrogates included),
deleted or repeated, and the JSON text itself edited. A normalizer answers with a
Delivery whose every text encodes as UTF-8, or `bad_payload`, never anything else.
The signature checks refuse with 400/401/403 whatever the headers say, and always
accept the signature computed for the body."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.fuzz import seeds as seed_inputs
from bench.fuzz.targets import _broken
from tests.fuzz.support import FAST, check, mutated, seeds

PLATFORMS = ("messenger", "instagram", "whatsapp", "telegram", "x", "meta")

# text with a lone surrogate in it: JSON carries it as an unpaired "\\ud83d" escape
broken_text = st.builds(
    lambda before, half, after: before + half + after,
    st.text(max_size=10),
    st.sampled_from(["\ud83d", "\udc00", "\udfff", "\ud800\ud800", "\ude00\ud83d"]),
    st.text(max_size=10),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    broken_text,
    st.sampled_from(["", " ", "\u0000", "\u202e", "1e400", "-1", "9" * 40, "x" * 300, "/start"]),
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10) | broken_text, inner, max_size=4)
    ),
    max_leaves=20,
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
def edited_delivery(draw: st.DrawFn, platform: str) -> bytes:
    """A real delivery with 1-4 of its parts replaced, deleted or repeated."""
    body = copy.deepcopy(json.loads(draw(st.sampled_from(seeds(platform)))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(_paths(body))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "repeat"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "repeat" and isinstance(parent, list):
            parent.extend([parent[path[-1]]] * draw(st.integers(min_value=1, max_value=5)))
        else:
            parent[path[-1]] = draw(any_json)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_real_deliveries_keep_the_contract(platform: str) -> None:
    for body in seeds(platform, limit=10**9):
        check(platform, body)


@pytest.mark.parametrize("platform", PLATFORMS)
@FAST
@given(data=st.data())
def test_real_deliveries_with_parts_broken(platform: str, data: st.DataObject) -> None:
    check(platform, data.draw(edited_delivery(platform)))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_real_deliveries_with_invalid_unicode_keep_the_contract(platform: str) -> None:
    # every text with a lone surrogate in it, and raw bytes that are a surrogate or not UTF-8
    for body in seeds(platform)[:40]:
        for broken in _broken(body):
            check(platform, broken)


@pytest.mark.parametrize("platform", PLATFORMS)
@FAST
@given(data=st.data())
def test_real_delivery_text_edited(platform: str, data: st.DataObject) -> None:
    check(platform, data.draw(mutated(platform, most=4)))


@pytest.mark.parametrize("platform", PLATFORMS)
@FAST
@given(body=any_json)
def test_any_json_body(platform: str, body: Any) -> None:
    check(platform, json.dumps(body).encode())


@FAST
@given(secret=st.binary(max_size=40), header=st.text(max_size=120), body=st.binary(max_size=400))
def test_signature_checks_refuse_or_pass(secret: bytes, header: str, body: bytes) -> None:
    line = header.replace("\n", " ").encode("utf-8", "surrogateescape")
    check("signatures", secret.replace(b"\n", b"") + b"\n" + line + b"\n" + body)


@FAST
@given(data=st.data())
def test_published_signature_vectors_edited(data: st.DataObject) -> None:
    check("signatures", data.draw(mutated("signatures", most=3)))


def test_published_signature_vectors_are_accepted() -> None:
    from functions.core.channels import signatures

    vectors = seed_inputs.signature_vectors()
    if not vectors:
        pytest.skip("webhook-signature-vectors corpus absent (set HELPLINE_CORPORA)")
    for vector in vectors:
        if vector["expected_header_value"].startswith("sha256=") and "x-crc" not in vector["id"]:
            signatures.verify_meta_signature(
                vector["message_utf8"].encode(),
                vector["expected_header_value"],
                vector["secret"].encode(),
            )
