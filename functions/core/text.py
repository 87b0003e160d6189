"""Unicode rules for text that arrives as JSON, the same on every channel.

`json.loads` accepts a `\\ud83d` escape without its partner (and, from bytes, the
three-byte encoding of one) and returns a str holding a lone surrogate: a code point
UTF-8 cannot encode. Nothing fails then; it fails later, when boto3 or a push encodes
the text (DynamoDB refuses the item, moto cancels the transaction), after part of the
work is done. So it is dealt with where JSON is decoded, by one of two rules:

* a platform delivery (`replace_lone_surrogates`): a person's message must not be lost
  for one broken character, so every lone surrogate, in keys and values alike, becomes
  U+FFFD (the replacement character), which is what the ticket shows; the delivery as
  it came stays in S3 (`social/raw/...`).
* a chat frame (`lone_surrogate_path`): the widget can resend, so the frame is refused
  with `bad_field` naming the field.

`has_visible_text` says whether a text shows anything at all: a chat message of only
spaces or zero-width characters is refused rather than stored as an empty message.

Both walks are iterative, so a body nested as deep as `json.loads` allows cannot
exhaust the stack, and each visits every value once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"
MAX_PATH_CHARS = 80  # a field named in an error: keys can be as long as the frame
# a str holds a surrogate only when it is alone: json.loads joins a valid pair
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# default-ignorable letters and marks (Unicode's Default_Ignorable_Code_Point) that the
# categories below miss: Hangul fillers, Khmer inherent vowels, the combining grapheme
# joiner, Mongolian variation selectors, variation selectors
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)
# controls, format characters (U+200B-U+200D, U+2060, U+FEFF, bidi marks, U+00AD...),
# separators, surrogates
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cs"})


def has_lone_surrogate(text: str) -> bool:
    return not text.isascii() and _LONE_SURROGATE.search(text) is not None


def _replaced(text: str) -> tuple[str, int]:
    if text.isascii():
        return text, 0
    return _LONE_SURROGATE.subn(REPLACEMENT, text)


class _Container:
    """One list or mapping being copied: its entries so far and whether any changed."""

    __slots__ = ("changed", "entries", "is_map", "node", "out", "pending")

    def __init__(self, node: Mapping[Any, Any] | list[Any] | tuple[Any, ...]) -> None:
        self.node = node
        self.is_map = isinstance(node, Mapping)
        self.entries = iter(node.items()) if isinstance(node, Mapping) else iter(enumerate(node))
        self.out: list[tuple[Any, Any]] = []
        self.changed = False
        self.pending: Any = None  # the key of the child being copied

    def add(self, key: Any, value: Any, *, changed: bool) -> int:
        """Keep one entry; how many lone surrogates its key held."""
        in_key = 0
        if self.is_map and isinstance(key, str):
            key, in_key = _replaced(key)
        self.changed = self.changed or changed or in_key > 0
        self.out.append((key, value))
        return in_key

    def result(self) -> Any:
        if not self.changed:
            return self.node
        if self.is_map:
            return dict(self.out)
        return [value for _, value in self.out]


def replace_lone_surrogates(value: Any) -> tuple[Any, int]:
    """Decoded JSON with each lone surrogate in its strings and keys replaced by U+FFFD,
    and how many were. The input is not changed: what changed is copied, anything else
    is returned as it was (the same object when nothing needed replacing)."""
    if isinstance(value, str):
        return _replaced(value)
    if not isinstance(value, Mapping | list | tuple):
        return value, 0
    total = 0
    stack = [_Container(value)]
    while True:
        top = stack[-1]
        for key, child in top.entries:
            if isinstance(child, Mapping | list | tuple):
                top.pending = key
                stack.append(_Container(child))
                break
            kept, found = _replaced(child) if isinstance(child, str) else (child, 0)
            total += found + top.add(key, kept, changed=found > 0)
        else:
            stack.pop()
            if not stack:
                return top.result(), total
            parent = stack[-1]
            total += parent.add(parent.pending, top.result(), changed=top.changed)


def lone_surrogate_path(value: Any) -> str | None:
    """Where the first lone surrogate of decoded JSON is, as `page.url` or `items[2]`
    (shown safely: the path itself never holds one), or None when there is none."""
    # each entry: (value, its key, the entry of its parent): the path is only spelled
    # out for the value found, so a deep document costs no more than a flat one
    Trail = tuple[Any, Any, Any]
    stack: list[Trail] = [(value, None, None)]
    while stack:
        trail = stack.pop()
        node, key = trail[0], trail[1]
        if (isinstance(key, str) and has_lone_surrogate(key)) or (
            isinstance(node, str) and has_lone_surrogate(node)
        ):
            return _spelled(trail)
        if isinstance(node, Mapping):
            stack.extend((child, name, trail) for name, child in reversed(list(node.items())))
        elif isinstance(node, list | tuple):
            stack.extend((node[i], i, trail) for i in range(len(node) - 1, -1, -1))
    return None


def _spelled(trail: tuple[Any, Any, Any] | None) -> str:
    parts: list[str] = []
    while trail is not None and trail[1] is not None:
        key = trail[1]
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
        trail = trail[2]
    path = "".join(reversed(parts)).lstrip(".") or "the frame"
    path = _replaced(path)[0]
    return path if len(path) <= MAX_PATH_CHARS else path[: MAX_PATH_CHARS - 1] + "…"


def _invisible(char: str) -> bool:
    return char in _INVISIBLE or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def has_visible_text(text: str) -> bool:
    """Whether `text` shows anything: not only whitespace, controls, format characters
    (zero-width space and joiners, word joiner, BOM, bidi marks) and other characters
    that render as nothing."""
    return any(not _invisible(char) for char in text)
