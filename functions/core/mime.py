"""Raw inbound email (bytes) to one flat, decoded `ParsedMail`.

Mail arrives from every kind of client and server: mislabelled charsets, encoded words
in broken charsets, missing headers, boundaries that never start or never close,
uuencode, bounces. `parse_mail` reads all of it and never raises anything except
`RejectedInput` for input that holds no mail at all.

The stdlib parser (`policy.default`) splits the MIME tree. Headers are then read from
their raw values (`raw_items()`) and decoded here, because the policy's structured
headers raise on some malformed values when accessed and turn encoded words in unknown
charsets into replacement characters; one tolerant decoder gives the same answer for
every header. Payloads are decoded here too, for the same reason (`get_payload` reads
headers through the policy and re-decodes 8-bit text with the declared charset).
Everything is linear in the input: no regex can backtrack beyond a bounded window.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import html as html_lib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.policy import Policy
from email.utils import parsedate_to_datetime
from typing import Any, TypeGuard
from urllib.parse import unquote_to_bytes

from functions.core.errors import RejectedInput
from functions.core.html import html_to_text, sanitize_html
from functions.core.models import Attachment

__all__ = ["Address", "Bounce", "ParsedMail", "extract_message_ids", "parse_mail"]


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Address:
    email: str  # addr-spec as written ("" when none could be found)
    name: str  # decoded display name ("" when none)

    def formatted(self) -> str:
        """`Name <email>` (quoted when the name needs it), or the bare address."""
        if not self.name:
            return self.email
        if not self.email:
            return self.name
        if any(ch in _NAME_SPECIALS for ch in self.name):
            escaped = self.name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{escaped}" <{self.email}>'
        return f"{self.name} <{self.email}>"


_NAME_SPECIALS = frozenset('()<>[]:;@\\,."')
_BOUNCE_ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})


@dataclass(frozen=True, slots=True)
class Bounce:
    original_message_id: str | None
    failed_recipients: tuple[str, ...]
    action: str  # failed | delayed | delivered | relayed | expanded | unknown
    status: str  # e.g. "5.1.1" ("" if unknown)
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.action == "failed" or self.status.startswith("5")


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str | None
    from_: Address | None
    reply_to: tuple[Address, ...]
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str | None
    content_type: str
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    bounce: Bounce | None
    defects: tuple[str, ...]

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


# --------------------------------------------------------------------------- charsets

# Labels mail software writes that Python does not know, or knows as a narrower
# charset than the one actually used (what browsers do, per the WHATWG encoding list).
_CHARSET_ALIASES: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "iso-gb2312": ("gb18030",),
    "gb_2312-80": ("gb18030",),
    "csgb2312": ("gb18030",),
    "x-gbk": ("gb18030",),
    "gbk": ("gb18030",),
    "cp936": ("gb18030",),
    "euc-cn": ("gb18030",),
    "chinese": ("gb18030",),
    "cn-gb": ("gb18030",),
    "big5": ("big5hkscs", "cp950"),
    "x-big5": ("big5hkscs", "cp950"),
    "cn-big5": ("big5hkscs", "cp950"),
    "unicode-1-1-utf-7": ("utf-7",),
    "x-unicode-2-0-utf-7": ("utf-7",),
    "csunicode11utf7": ("utf-7",),
    "utf7": ("utf-7",),
    "ks_c_5601-1987": ("cp949",),
    "ks_c_5601": ("cp949",),
    "ks_c_5601-1989": ("cp949",),
    "ksc5601": ("cp949",),
    "euc-kr": ("cp949",),
    "x-windows-949": ("cp949",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3"),
    "csiso2022jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3"),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "x-sjis": ("cp932", "shift_jis_2004"),
    "windows-31j": ("cp932",),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
    "iso-8859-1": ("cp1252",),
    "iso8859-1": ("cp1252",),
    "iso_8859-1": ("cp1252",),
    "latin1": ("cp1252",),
    "latin-1": ("cp1252",),
    "l1": ("cp1252",),
    "iso-8859-9": ("cp1254",),
    "iso-8859-11": ("cp874",),
    "tis-620": ("cp874",),
    "windows-874": ("cp874",),
    "iso-8859-8-i": ("iso8859_8",),
    "iso-8859-6-i": ("iso8859_6",),
}
# Labels that say nothing about 8-bit bytes: guess (UTF-8, then Windows-1252).
_UNKNOWN_CHARSETS = frozenset(
    {"", "x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default", "us-ascii",
     "ascii", "ansi_x3.4-1968", "iso646-us", "us", "charset", "none", "8bit", "7bit"}
)  # fmt: skip
# Codecs that are not charsets for text a person wrote.
_REFUSED_CODECS = frozenset(
    {"undefined", "unicode-escape", "unicode_escape", "raw-unicode-escape",
     "raw_unicode_escape", "idna", "punycode", "escape_codec", "mbcs", "oem"}
)  # fmt: skip
_ISO2022_ESCAPES = re.compile(rb"\x1b[$(]")
_MULTIBYTE_PREFIXES = ("gb", "big5", "cp9", "euc", "iso2022", "shift", "utf-16", "utf-32", "hz")
_LABEL_TOKEN = re.compile(r"[A-Za-z0-9_.:+-]{1,40}")


def _codec_chain(label: str | None) -> list[str]:
    """Python codec names to try, in order, for a declared charset label."""
    if not label:
        return []
    match = _LABEL_TOKEN.search(label)
    if match is None:
        return []
    name = match.group(0).lower()
    if name in _UNKNOWN_CHARSETS:
        return []
    chain: list[str] = []
    for candidate in _CHARSET_ALIASES.get(name, (name,)):
        try:
            codec = codecs.lookup(candidate).name
        except (LookupError, ValueError):
            continue
        if codec not in _REFUSED_CODECS and codec not in chain:
            chain.append(codec)
    return chain


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        return None
    # Windows-1258 writes Vietnamese tones as combining marks: compose them
    return unicodedata.normalize("NFC", text) if codec == "cp1258" else text


def _common_gb(char: str) -> bool:
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return 0xA1 <= encoded[0] <= 0xD7  # punctuation, symbols and the common hanzi


def _sniff_chinese(data: bytes) -> str | None:
    """Unlabelled 8-bit text that is GB2312/GBK Chinese (common in mail from Chinese
    clients). Real Chinese text is dense in 8-bit bytes and mostly made of the 3755
    common hanzi; Latin text is not dense, and Cyrillic decodes to rare hanzi."""
    high = len(data.translate(None, _ASCII_BYTES))
    if high < 8 or high * 4 < len(data.translate(None, b" \t\r\n")):
        return None
    text = _try_decode(data, "gb18030")
    if text is None:
        return None
    sample = [char for char in text[:50_000] if ord(char) >= 0x80]
    common = sum(1 for char in sample if _common_gb(char))
    return text if common * 10 >= len(sample) * 9 else None


def _decode_unlabelled_line(line: bytes) -> str:
    if line.isascii():
        return line.decode("ascii")
    text = _try_decode(line, "utf-8") or _sniff_chinese(line)
    return text if text is not None else line.decode("cp1252", "replace")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared (maybe wrong, maybe unknown) charset; never raises.

    The declared charset (mapped to its real-world superset) is tried first, then UTF-8,
    then Windows-1252 when the declaration says nothing about 8-bit bytes (a wrong
    multi-byte label is better decoded with replacements than as Windows-1252). The
    last resort decodes with replacement characters.
    """
    chain = _codec_chain(charset)
    if _ISO2022_ESCAPES.search(data[:65536]):  # ISO-2022-JP, labelled or not
        chain = [*_codec_chain("iso-2022-jp"), *chain]
    if not chain:
        if data.isascii():
            return data.decode("ascii")
        text = _try_decode(data, "utf-8") or _sniff_chinese(data)
        if text is not None:
            return text
        # unlabelled and not UTF-8: decide line by line, as pasted or concatenated
        # text mixes encodings ("a GB2312 line" above "a Windows-1252 signature")
        return "\n".join(map(_decode_unlabelled_line, data.split(b"\n")))
    candidates = [*chain, "utf-8"]
    if not chain[0].startswith(_MULTIBYTE_PREFIXES):
        candidates.append("cp1252")
    for codec in dict.fromkeys(candidates):
        text = _try_decode(data, codec)
        if text is not None:
            return text
    try:
        return data.decode(chain[0], "replace")
    except (LookupError, ValueError):
        return data.decode("utf-8", "replace")


# --------------------------------------------------------------------------- headers

# An RFC 2047 encoded word. The classes exclude "?", so each attempt stops at the next
# "?" and the scan stays linear. Spaces inside the text are not allowed by the RFC but
# some mailers write them ("=?us-ascii?Q?a / b?="): accepted.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([QqBb])\?([^?]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_SPACE_RUN = re.compile(r"[ \t\r\n\f\v]+")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]+")


def _to_bytes(value: object) -> bytes:
    """The original bytes of a value read by the bytes parser (surrogate-escaped)."""
    text = value if isinstance(value, str) else str(value)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _b64decode(data: bytes) -> bytes:
    """Base64 that tolerates junk, missing padding and stray padding."""
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    clean = _BASE64_JUNK.sub(b"", data)
    clean = clean[: len(clean) - (len(clean) % 4 == 1)]
    clean += b"=" * (-len(clean) % 4)
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        return b""


def _decode_word(encoding: str, text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    if encoding in "Bb":
        return _b64decode(raw)
    return binascii.a2b_qp(raw, header=True)


def _decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words, tolerating broken charsets and split characters.

    Adjacent words in the same charset are joined as bytes before decoding, because
    encoders split multi-byte characters across words; whitespace between encoded
    words is dropped (RFC 2047 section 6.2).
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    last_end = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(_decode_bytes(bytes(pending), pending_charset))
        pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(text):
        gap = text[last_end : match.start()]
        if gap and (pending_charset is None or gap.strip(" \t\r\n")):
            flush()
            out.append(gap)
        charset = match.group(1).split("*", 1)[0]
        if pending_charset is not None and charset.lower() != pending_charset.lower():
            flush()
        pending_charset = charset
        pending.extend(_decode_word(match.group(2), match.group(3)))
        last_end = match.end()
    flush()
    out.append(text[last_end:])
    return "".join(out)


def _is_multibyte(label: str) -> bool:
    chain = _codec_chain(label)
    return bool(chain) and chain[0].startswith(_MULTIBYTE_PREFIXES)


_HEADER_WORD_SPLIT = re.compile(rb'[\s"<>(),;]+')
_ASCII_BYTES = bytes(range(128))


def _decode_header_bytes(data: bytes, hints: tuple[str, ...]) -> str:
    """Raw 8-bit header bytes: UTF-8 (RFC 6532) first, then the charsets the mail
    declares for its bodies. Text that is mostly 8-bit (CJK) tries the multi-byte
    charsets first; text with a few 8-bit letters (umlauts) tries the others first,
    because a multi-byte charset decodes such bytes "successfully" into wrong glyphs."""
    if _ISO2022_ESCAPES.search(data):
        return _decode_bytes(data, "iso-2022-jp")  # raw JIS in old Japanese mail
    if data.isascii():
        return data.decode("ascii")
    text = _try_decode(data, "utf-8")
    if text is not None:
        return text
    # density within the words that hold 8-bit bytes, not the ASCII address beside them
    words = [word for word in _HEADER_WORD_SPLIT.split(data) if not word.isascii()]
    high = sum(len(word.translate(None, _ASCII_BYTES)) for word in words)
    dense = high * 2 >= sum(map(len, words))
    ordered = sorted(hints, key=lambda label: _is_multibyte(label) != dense)
    for label in ordered:
        for codec in _codec_chain(label):
            text = _try_decode(data, codec)
            if text is not None:
                return text
    return _decode_bytes(data, None)


def _decode_header_value(value: object, hints: tuple[str, ...] = ()) -> str:
    """One header value as text: unfolded, 8-bit bytes and encoded words decoded."""
    data = _FOLD.sub(b"", _to_bytes(value))
    text = _decode_header_bytes(data, hints)
    return _LINE_BREAKS.sub(" ", _decode_words(text))


def _normalize_space(text: str) -> str:
    return _SPACE_RUN.sub(" ", text).strip()


class _Headers:
    """The raw headers of one part, read without the policy's structured parsing."""

    def __init__(self, part: Message, hints: tuple[str, ...]) -> None:
        self.items: list[tuple[str, Any]] = list(part.raw_items())
        self.hints = hints

    def raw(self, name: str) -> str | None:
        found = self.all_raw(name)
        return found[0] if found else None

    def all_raw(self, name: str) -> list[str]:
        wanted = name.lower()
        return [
            value if isinstance(value, str) else str(value)
            for key, value in self.items
            if str(key).lower() == wanted
        ]

    def text(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else _decode_header_value(value, self.hints)

    def unfolded(self, name: str) -> str | None:
        """Unfolded, 8-bit decoded, encoded words left alone (for structured parsing)."""
        value = self.raw(name)
        return None if value is None else self._unfold(value)

    def all_unfolded(self, name: str) -> list[str]:
        return [self._unfold(value) for value in self.all_raw(name)]

    def _unfold(self, value: str) -> str:
        data = _FOLD.sub(b"", _to_bytes(value))
        return _LINE_BREAKS.sub(" ", _decode_header_bytes(data, self.hints))

    def params(self, name: str) -> tuple[str, dict[str, str]]:
        value = self.unfolded(name)
        if value is None:
            return "", {}
        return _parse_params(value, self.hints)

    def decoded_items(self) -> tuple[tuple[str, str], ...]:
        return tuple(
            (_decode_header_bytes(_to_bytes(key), ()), _decode_header_value(val, self.hints))
            for key, val in self.items
        )


def _unquote(value: str) -> str:
    """Strip a quoted-string's quotes; unescape only \\\\ and \\" (Windows paths)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    if value.startswith('"'):
        return value[1:]
    return value


def _split_unquoted(value: str, separator: str) -> list[str]:
    """Split on `separator` outside quoted strings (one linear pass)."""
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(value[start:index])
            start = index + 1
    parts.append(value[start:])
    return parts


def _parse_params(value: str, hints: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """`main; a=1; b*0*=...` into the main value and decoded parameters.

    RFC 2231 continuations and charsets are joined and decoded; encoded words inside
    quoted values (not standard, but common in filenames) are decoded too.
    """
    segments = _split_unquoted(value, ";")
    main = segments[0].strip()
    plain: dict[str, str] = {}
    extended: dict[str, dict[int, tuple[str, bool]]] = {}
    for segment in segments[1:]:
        key, sep, raw_value = segment.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        raw_value = raw_value.strip()
        if "*" not in key:
            plain.setdefault(key, _unquote(raw_value))
            continue
        base, _, rest = key.partition("*")
        encoded = rest.endswith("*") or rest == ""
        number = rest.rstrip("*")
        index = int(number) if number.isdigit() and len(number) < 6 else 0
        extended.setdefault(base, {}).setdefault(index, (_unquote(raw_value), encoded))
    params = {key: _decode_words(val) for key, val in plain.items()}
    for base, pieces in extended.items():
        params[base] = _join_rfc2231(pieces, hints)
    return main, params


def _join_rfc2231(pieces: dict[int, tuple[str, bool]], hints: tuple[str, ...]) -> str:
    data = bytearray()
    charset: str | None = None
    order = sorted(pieces)
    for index in order:
        text, encoded = pieces[index]
        if index == order[0] and encoded and text.count("'") >= 2:  # charset'lang'value
            charset, _, rest = text.partition("'")
            text = rest.partition("'")[2]
        data.extend(unquote_to_bytes(text) if encoded else _to_bytes(text))
    if charset and _codec_chain(charset):
        return _decode_bytes(bytes(data), charset)
    return _decode_header_bytes(bytes(data), hints)


# --------------------------------------------------------------------------- addresses


@dataclass(slots=True)
class _Token:
    text: str
    quoted: bool
    space_before: bool


@dataclass(slots=True)
class _Mailbox:
    tokens: list[_Token] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    angle: str | None = None
    phrase_before_angle: list[_Token] = field(default_factory=list)
    has_at: bool = False  # kept up to date so a ":" never rescans the tokens

    def add(self, token: _Token) -> None:
        self.tokens.append(token)
        self.has_at = self.has_at or "@" in token.text


def _read_quoted(value: str, start: int) -> tuple[str, int]:
    """The content of a quoted string starting at `start` (a quote), and the end index."""
    out: list[str] = []
    index = start + 1
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            out.append(value[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), index + 1
        out.append(char)
        index += 1
    return "".join(out), index


def _read_comment(value: str, start: int) -> tuple[str, int]:
    depth = 0
    out: list[str] = []
    index = start
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            out.append(value[index + 1])
            index += 2
            continue
        if char == "(":
            depth += 1
            if depth > 1:
                out.append(char)
        elif char == ")":
            depth -= 1
            if depth == 0:
                return "".join(out), index + 1
            out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out), index


class _AddressScanner:
    """One linear pass over an address-list: quoted strings, comments, <angle>, groups."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.boxes: list[_Mailbox] = []
        self.box = _Mailbox()
        self.atom: list[str] = []
        self.space = False

    def end_atom(self) -> None:
        if self.atom:
            self.box.add(_Token("".join(self.atom), False, self.space))
            self.atom.clear()
            self.space = False

    def scan(self) -> list[_Mailbox]:
        value = self.value
        index = 0
        while index < len(value):
            char = value[index]
            if char == "=" and value.startswith("=?", index):
                word = _ENCODED_WORD.match(value, index)
                if word is not None:  # an encoded word may hold commas or quotes
                    self.atom.append(word.group(0))
                    index = word.end()
                    continue
            if char in '"(<':
                self.end_atom()
                index = self.structured(char, index)
                continue
            self.plain(char)
            index += 1
        self.end_atom()
        self.boxes.append(self.box)
        return self.boxes

    def structured(self, char: str, index: int) -> int:
        """A quoted string, a comment or an <angle-addr>; returns the index after it."""
        if char == '"':
            text, index = _read_quoted(self.value, index)
            self.box.add(_Token(text, True, self.space))
            self.space = False
            return index
        if char == "(":
            text, index = _read_comment(self.value, index)
            self.box.comments.append(text)
            self.space = True
            return index
        end = self.value.find(">", index + 1)
        end = len(self.value) if end < 0 else end
        if self.box.angle is None:
            self.box.angle = self.value[index + 1 : end]
            self.box.phrase_before_angle = list(self.box.tokens)
        self.space = True
        return end + 1

    def plain(self, char: str) -> None:
        box = self.box
        if char in ",;":
            self.end_atom()
            self.boxes.append(box)
            self.box = _Mailbox()
        elif char == ":" and box.angle is None and not box.has_at:
            self.end_atom()
            self.box = _Mailbox()  # "group name:" starts a group; the name is no address
        elif char in " \t\r\n":
            self.end_atom()
            self.space = True
        elif char != ">":  # a stray ">" is never part of an address
            self.atom.append(char)


_SAFE_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")


def _clean_addr_spec(spec: str) -> str:
    spec = spec.strip()
    if spec.lower().startswith("mailto:"):
        spec = spec[7:]
    if spec.startswith("@") and ":" in spec:  # obsolete source route "@a,@b:user@host"
        spec = spec.rsplit(":", 1)[1]
    if "=?" in spec:
        # Decode an encoded word inside an address only when it yields plain address
        # characters: "=?utf-8?Q?a=40evil?=@victim" must not become another address.
        def safe(match: re.Match[str]) -> str:
            decoded = _decode_words(match.group(0))
            return decoded if _SAFE_LOCAL.fullmatch(decoded) else match.group(0)

        spec = _ENCODED_WORD.sub(safe, spec)
    return spec.strip()


def _join_tokens(tokens: list[_Token], *, quote: bool) -> str:
    out: list[str] = []
    for token in tokens:
        text = f'"{token.text}"' if quote and token.quoted else token.text
        if out and token.space_before:
            out.append(" ")
        out.append(text)
    return "".join(out)


def _bare_mailbox(box: _Mailbox) -> tuple[str, str]:
    """A mailbox without <angle brackets>: `user@host (Name)`, `"user"@host`, `MAILER-DAEMON`."""
    pieces: list[list[str]] = []  # tokens not separated by whitespace form one word
    for token in box.tokens:
        text = f'"{token.text}"' if token.quoted else token.text
        if pieces and not token.space_before:
            pieces[-1].append(text)
        else:
            pieces.append([text])
    words = ["".join(piece) for piece in pieces]
    comment = " ".join(box.comments)
    with_at = [index for index, word in enumerate(words) if "@" in word]
    if not with_at:
        # a single word is a local address (MAILER-DAEMON); several are a name alone
        return (words[0], comment) if len(words) == 1 else ("", "")
    word = words[with_at[-1]]
    if word.startswith("@") or word.endswith("@"):  # obsolete "user @ host"
        return "".join(words), comment
    if len(word) > 2 and word[0] == word[-1] == '"' and word.count('"') == 2:
        word = word[1:-1]  # the whole address quoted: "user@example.com"
    others = [w.strip('"') for i, w in enumerate(words) if i != with_at[-1]]
    return word, comment or " ".join(others)


def _mailbox_address(box: _Mailbox) -> Address | None:
    if box.angle is not None:
        email = _clean_addr_spec(box.angle)
        name = _join_tokens(box.phrase_before_angle, quote=False)
        if not name.strip() and box.comments:
            name = " ".join(box.comments)
    else:
        email, name = _bare_mailbox(box)
        if not email:
            return None
        email = _clean_addr_spec(email)
    name = _normalize_space(_decode_words(name))
    if len(name) >= 2 and name[0] == name[-1] == "'":
        name = name[1:-1].strip()  # Outlook writes 'Name' <addr>
    if not email:
        return None
    return Address(email=email, name=name)


def _parse_addresses(value: str | None) -> tuple[Address, ...]:
    """Mailboxes from an (unfolded, 8-bit decoded) address-list header value."""
    if not value:
        return ()
    found: list[Address] = []
    for box in _AddressScanner(value).scan():
        address = _mailbox_address(box)
        if address is not None:
            found.append(address)
    return tuple(found)


def _recipients(value: str | None) -> tuple[Address, ...]:
    # "To: Recipients" and similar junk has no domain: nobody can be reached there
    return tuple(a for a in _parse_addresses(value) if "@" in a.email)


def _single(value: str | None) -> Address | None:
    addresses = _parse_addresses(value)
    for address in addresses:
        if "@" in address.email:
            return address
    return addresses[0] if addresses and " " not in addresses[0].email else None


# --------------------------------------------------------------------------- message ids


def extract_message_ids(value: str) -> tuple[str, ...]:
    """Message ids from an In-Reply-To / References value, in order, de-duplicated.

    Bracketed ids win; without any, bare words that contain "@" are taken. Comments,
    quoted phrases and other junk around them are ignored.
    """
    if not value:
        return ()
    found: list[str] = []
    start = value.find("<")
    while start >= 0:
        end = value.find(">", start + 1)
        if end < 0:
            break
        inner = value[start + 1 : end]
        if "<" in inner:  # "<a <b@c>": restart at the inner bracket
            start = start + 1 + inner.rfind("<")
            continue
        candidate = "".join(inner.split()).strip("\"'")
        if candidate:
            found.append(candidate)
        start = value.find("<", end + 1)
    if not found:
        for word in re.split(r"[\s,;]+", value):
            candidate = word.strip("\"'()[]<>")
            if "@" in candidate:
                found.append(candidate)
    return tuple(dict.fromkeys(found))


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    ids = extract_message_ids(value)
    if ids:
        return ids[0]
    bare = value.strip().strip("<>").strip()
    return bare or None


# --------------------------------------------------------------------------- payloads

_UU_BEGIN = re.compile(r"begin(?:-base64)? [0-7]{3,4} (\S.{0,1000})")
_MIME_TYPES = mimetypes.MimeTypes(filenames=())  # built-in table only: same on every host
_EXTENSIONS = {  # common in mail; missing from (or odd in) the built-in table
    "text/calendar": ".ics",
    "text/vcard": ".vcf",
    "image/pjpeg": ".jpg",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/ms-tnef": ".dat",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
_HTML_META_CHARSET = re.compile(rb"""charset\s{0,8}=\s{0,8}["']?\s{0,8}([A-Za-z0-9_.:-]{1,40})""")
_CID_END = frozenset("\"'>) \t\r\n")


def _decode_cte(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return _b64decode(data)
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        found = _uudecode_text(data.decode("latin-1"))
        return found[0][1] if found else data
    return data  # 7bit, 8bit, binary and unknown encodings: the bytes as they are


def _uu_line(line: str) -> bytes | None:
    """One uuencoded line, or None when the line is not uuencode."""
    if not line:
        return b""
    raw = line.encode("latin-1", "replace")
    length = (raw[0] - 32) & 63
    if length == 0:
        return b""
    needed = (length * 4 + 5) // 3
    if len(raw) < needed - 1 or any(ch < 32 or ch > 96 for ch in raw[:needed]):
        return None
    try:
        return binascii.a2b_uu(raw[:needed])
    except binascii.Error:
        return None


def _uudecode_text(text: str) -> list[tuple[str, bytes, int, int]]:
    """Every `begin 644 name` ... `end` block: (name, bytes, first line, last line)."""
    if "begin" not in text:
        return []
    lines = text.split("\n")
    # the next "end" line for every index, from one backwards pass (keeps it linear)
    next_end = [len(lines)] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        is_end = lines[index].rstrip("\r").strip() == "end"
        next_end[index] = index if is_end else next_end[index + 1]
    blocks: list[tuple[str, bytes, int, int]] = []
    index = 0
    while index < len(lines):
        begin = _UU_BEGIN.fullmatch(lines[index].rstrip("\r").rstrip())
        end = next_end[index + 1] if begin else len(lines)
        if begin is None or end >= len(lines):
            index += 1
            continue
        data = bytearray()
        # by position, not a slice: a slice per "begin" line made many of them quadratic
        for position in range(index + 1, end):
            decoded = _uu_line(lines[position].rstrip("\r"))
            if decoded is None:
                break
            data.extend(decoded)
        else:
            blocks.append((begin.group(1).strip(), bytes(data), index, end))
            index = end + 1
            continue
        index += 1
    return blocks


def _payload(part: Message) -> Any:
    # the raw payload: get_payload() reads headers through the policy and re-decodes
    # 8-bit text with the declared charset, losing the original bytes
    return getattr(part, "_payload", None)


def _header_line(name: str, value: object, sep: str) -> str:
    text = value if isinstance(value, str) else str(value)
    return f"{name}: {text}{sep}" if text else f"{name}:{sep}"  # "Name:" stays as written


def _serialize(part: Message, sep: str, depth: int = 0) -> bytes:
    """A part's headers and body as bytes, close to how they arrived."""
    head = "".join(_header_line(key, value, sep) for key, value in part.raw_items())
    return _to_bytes(head + sep if head else "") + _serialize_body(part, sep, depth)


def _serialize_body(part: Message, sep: str, depth: int) -> bytes:
    payload = _payload(part)
    if payload is None:
        return b""
    if not isinstance(payload, list):
        return _to_bytes(payload)
    if depth > _MAX_DEPTH:
        return b""
    ctype, params = _content_type(_Headers(part, ()), part)
    children = [p for p in payload if isinstance(p, Message)]
    if ctype == "message/delivery-status":
        blocks = ["".join(_header_line(k, v, sep) for k, v in b.raw_items()) for b in children]
        return _to_bytes(sep.join(blocks))
    if not ctype.startswith("multipart/"):
        return b"".join(_serialize(child, sep, depth + 1) for child in children)
    boundary = params.get("boundary", "")
    out: list[bytes] = []
    if part.preamble is not None:
        out.append(_to_bytes(part.preamble + sep))
    for index, child in enumerate(children):
        out.append(_to_bytes(("" if index == 0 else sep) + f"--{boundary}{sep}"))
        out.append(_serialize(child, sep, depth + 1))
    out.append(_to_bytes(f"{sep}--{boundary}--{sep}"))
    if part.epilogue:
        out.append(_to_bytes(part.epilogue))
    return b"".join(out)


def _content_type(headers: _Headers, part: Message) -> tuple[str, dict[str, str]]:
    main, params = headers.params("content-type")
    ctype = "".join(main.split()).lower()
    if ctype.count("/") != 1 or ctype.startswith("/") or ctype.endswith("/"):
        # RFC 2045 section 5.2: a missing or invalid type means the default
        ctype = part.get_default_type()
    return ctype, params


_TAG_END = frozenset(("/", ">", " ", "\t", "\r", "\n"))


def _cut_element(html: str, tag: str) -> str:
    """`html` without its first <tag>...</tag> element (tag name matched exactly)."""
    lower = html.lower()
    opening = f"<{tag}"
    start = lower.find(opening)
    while start >= 0 and lower[start + len(opening) : start + len(opening) + 1] not in _TAG_END:
        start = lower.find(opening, start + 1)  # "<header" is not "<head"
    if start < 0:
        return html
    close = lower.find(f"</{tag}", start)
    if close < 0:
        return html
    close_end = lower.find(">", close)
    return html[:start] + html[close_end + 1 if close_end >= 0 else len(html) :]


def _html_fragment(html: str) -> str:
    """The visible part of an HTML document: without <head> and <title>, whose text
    the sanitizer would otherwise keep. Text around <html> stays: clients show it."""
    return _cut_element(_cut_element(html, "head"), "title")


def _text_to_html(text: str) -> str:
    return "<div>" + html_lib.escape(text).replace("\n", "<br>\n") + "</div>"


def _referenced_cids(html: str) -> set[str]:
    found: set[str] = set()
    lower = html.lower()
    start = lower.find("cid:")
    while start >= 0:
        end = start + 4
        while end < len(lower) and end - start < 1000 and lower[end] not in _CID_END:
            end += 1
        found.add(lower[start + 4 : end].strip())
        start = lower.find("cid:", end)
    return found


def _clean_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f")
    name = _normalize_space(name)
    return "" if name in (".", "..") else name[:255]


def _synthesized_filename(ctype: str) -> str:
    major, _, minor = ctype.partition("/")
    if ctype == "message/delivery-status":
        return "delivery-status.txt"
    if ctype == "text/rfc822-headers":
        return "rfc822-headers.txt"
    if major == "message":
        return "message.eml"
    extension = _EXTENSIONS.get(ctype) or _MIME_TYPES.guess_extension(ctype, strict=False)
    if extension is None:
        if major == "text":
            extension = ".txt"
        elif major in ("image", "audio", "video") and minor.isalnum() and len(minor) <= 5:
            extension = "." + minor
        else:
            extension = ".bin"
    base = major if major in ("image", "audio", "video") else "file"
    return base + extension


def _guess_type(filename: str) -> str:
    guessed, _ = _MIME_TYPES.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


# --------------------------------------------------------------------------- the walk

_MAX_DEPTH = 40
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_EMBEDDED_TYPES = frozenset({"message/rfc822", "message/global"})


@dataclass(slots=True)
class _Body:
    text: str | None = None  # plain text
    html: str | None = None  # an HTML fragment, not yet sanitized


@dataclass(slots=True)
class _Pending:
    content: bytes
    content_type: str
    filename: str
    content_id: str | None
    disposition: str


@dataclass(slots=True)
class _Walk:
    """What one pass over the MIME tree collects."""

    hints: tuple[str, ...]
    sep: str
    attachments: list[_Pending] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    dsn_texts: list[str] = field(default_factory=list)
    embedded_ids: list[str] = field(default_factory=list)
    report_seen: bool = False

    def defect(self, part: Message) -> None:
        for defect in getattr(part, "defects", ()):
            self.defects.append(type(defect).__name__)

    def render(self, part: Message, depth: int = 0) -> _Body | None:
        self.defect(part)
        headers = _Headers(part, self.hints)
        ctype, params = _content_type(headers, part)
        payload = _payload(part)
        if depth > _MAX_DEPTH:
            self.defects.append("NestingTooDeepDefect")
            return None
        if ctype.startswith("multipart/") and isinstance(payload, list):
            children = [p for p in payload if isinstance(p, Message)]
            return self._multipart(ctype, params, children, depth)
        if ctype.startswith("multipart/"):
            # no boundary, or it never starts: the body is text as it stands
            return self._text_leaf(headers, "text/plain", params, payload)
        return self._leaf(part, headers, ctype, params)

    def _multipart(
        self, ctype: str, params: dict[str, str], children: list[Message], depth: int
    ) -> _Body | None:
        if not children:
            return None
        subtype = ctype.partition("/")[2]
        if subtype == "alternative":
            return self._alternative([self.render(c, depth + 1) for c in children])
        if subtype == "related":
            root = _related_root(children, params.get("start", ""), self.hints)
            body = self.render(children[root], depth + 1)
            for index, child in enumerate(children):
                if index != root:
                    self._attach_any(child, depth + 1)
            return body
        if subtype == "signed":
            body = self.render(children[0], depth + 1)
            for child in children[1:]:  # the signature: kept, as Zammad does
                self._attach_any(child, depth + 1)
            return body
        if subtype == "encrypted":
            for child in children:  # nothing we can read: keep every part
                self._attach_any(child, depth + 1)
            return None
        if subtype == "report" and params.get("report-type", "").lower() == "delivery-status":
            self.report_seen = True
        return _concatenate([self.render(c, depth + 1) for c in children])

    @staticmethod
    def _alternative(bodies: list[_Body | None]) -> _Body | None:
        # an empty alternative (often a stray part after a missing close boundary)
        # is not one a reader could display
        shown = [b for b in bodies if _has_content(b)]
        if not shown:
            return None
        chosen = shown[-1]  # the last alternative we can display is the richest
        texts = [b.text for b in shown if b.text is not None and b.text.strip()]
        text = texts[-1] if texts else chosen.text
        return _Body(text=text, html=chosen.html)

    def _attach_any(self, part: Message, depth: int) -> None:
        """A part that is not the body (related resources, signatures)."""
        headers = _Headers(part, self.hints)
        ctype, params = _content_type(headers, part)
        if ctype.startswith("multipart/"):
            # a nested tree in a non-body position: its bodies would be lost, so keep
            # its leaves as attachments by rendering it and attaching any text it has
            body = self.render(part, depth)
            if body is not None and body.html is not None:
                self._add_text_attachment(body.html, "text/html")
            elif body is not None and body.text:
                self._add_text_attachment(body.text, "text/plain")
            return
        self.defect(part)
        self._attach(part, headers, ctype, params)

    def _add_text_attachment(self, text: str, ctype: str) -> None:
        name = _synthesized_filename(ctype)
        self.attachments.append(_Pending(text.encode("utf-8"), ctype, name, None, "attachment"))

    def _leaf(
        self, part: Message, headers: _Headers, ctype: str, params: dict[str, str]
    ) -> _Body | None:
        disposition = headers.params("content-disposition")[0].lower()
        filename = _filename(headers, params)
        cte = _cte(headers)
        is_body = (
            ctype in _BODY_TYPES
            and disposition != "attachment"
            and not (filename and disposition != "inline")
            and cte not in ("x-uuencode", "uuencode", "x-uue", "uue")
        )
        if is_body:
            return self._text_leaf(headers, ctype, params, _payload(part))
        self._attach(part, headers, ctype, params)
        return None

    def _text_leaf(
        self, headers: _Headers, ctype: str, params: dict[str, str], payload: Any
    ) -> _Body:
        data = _decode_cte(_to_bytes(payload or ""), _cte(headers))
        charset = params.get("charset")
        if ctype == "text/html" and not charset:
            meta = _HTML_META_CHARSET.search(data[:4096])
            charset = meta.group(1).decode("ascii") if meta else None
        text = _decode_bytes(data, charset or None).replace("\r\n", "\n").replace("\r", "\n")
        text = text.replace("\x00", "")
        if ctype == "text/html":
            return _Body(html=_html_fragment(text))
        return _Body(text=self._strip_uuencoded(text))

    def _strip_uuencoded(self, text: str) -> str:
        blocks = _uudecode_text(text)
        if not blocks:
            return text
        lines = text.split("\n")
        keep: list[str] = []
        last = 0
        for name, data, first, end in blocks:
            keep.extend(lines[last:first])
            last = end + 1
            filename = _clean_filename(name) or "file.bin"
            self.attachments.append(
                _Pending(data, _guess_type(filename), filename, None, "attachment")
            )
        keep.extend(lines[last:])
        return "\n".join(keep)

    def _attach(self, part: Message, headers: _Headers, ctype: str, params: dict[str, str]) -> None:
        cte = _cte(headers)
        disposition = headers.params("content-disposition")[0].lower()
        filename = _filename(headers, params)
        payload = _payload(part)
        if isinstance(payload, list):
            content = _decode_cte(_serialize_body(part, self.sep, 0), cte)
        else:
            content = _decode_cte(_to_bytes(payload or ""), cte)
        if ctype in _EMBEDDED_TYPES:
            embedded = payload[0] if isinstance(payload, list) and payload else None
            if cte in ("base64", "quoted-printable"):
                # not allowed for message/rfc822, but sent: the stdlib parsed the
                # encoded text as a message, so read the headers of the decoded one
                embedded = BytesParser(policy=policy.compat32).parsebytes(content, headersonly=True)
            if isinstance(embedded, Message):
                inner = _Headers(embedded, self.hints)
                self.embedded_ids.extend(filter(None, [_message_id(inner.text("message-id"))]))
                subject = _clean_filename(_normalize_space(inner.text("subject") or ""))
                filename = filename or (f"{subject}.eml" if subject else "message.eml")
        elif ctype == "message/delivery-status":
            self.dsn_texts.append(_decode_bytes(content, None))
        elif ctype == "text/rfc822-headers":
            found = _message_id(_header_in_text(_decode_bytes(content, None), "message-id"))
            self.embedded_ids.extend(filter(None, [found]))
        if cte in ("x-uuencode", "uuencode", "x-uue", "uue") and not filename:
            blocks = _uudecode_text(_to_bytes(payload or "").decode("latin-1"))
            filename = _clean_filename(blocks[0][0]) if blocks else ""
        content_id = headers.text("content-id")
        content_id = content_id.strip().strip("<>").strip() if content_id else None
        self.attachments.append(
            _Pending(
                content=content,
                content_type=ctype,
                filename=filename or _synthesized_filename(ctype),
                content_id=content_id or None,
                disposition=disposition,
            )
        )


def _html_text(html: str) -> str:
    return html_to_text(html)  # guarded against hostile markup in html.py


def _safe_html(html: str) -> str:
    return sanitize_html(html)  # guarded against hostile markup in html.py


def _has_content(body: _Body | None) -> TypeGuard[_Body]:
    return body is not None and bool((body.text or "").strip() or (body.html or "").strip())


def _concatenate(bodies: list[_Body | None]) -> _Body | None:
    """Inline text parts of a multipart/mixed, in order, as mail clients show them."""
    shown = [b for b in bodies if _has_content(b)]
    if not shown:
        return None
    if len(shown) == 1:
        return shown[0]
    texts = [b.text if b.text is not None else _html_text(b.html or "") for b in shown]
    text = "\n".join(t.strip("\n") for t in texts if t.strip())
    if all(b.html is None for b in shown):
        return _Body(text=text)
    html = "".join(b.html if b.html is not None else _text_to_html(b.text or "") for b in shown)
    return _Body(text=text, html=html)


def _related_root(children: list[Message], start: str, hints: tuple[str, ...]) -> int:
    wanted = start.strip().strip("<>").strip()
    if wanted:
        for index, child in enumerate(children):
            cid = _Headers(child, hints).text("content-id") or ""
            if cid.strip().strip("<>").strip() == wanted:
                return index
    return 0


def _filename(headers: _Headers, ctype_params: dict[str, str]) -> str:
    disposition_params = headers.params("content-disposition")[1]
    for candidate in (disposition_params.get("filename"), ctype_params.get("name")):
        if candidate:
            cleaned = _clean_filename(candidate)
            if cleaned:
                return cleaned
    return ""


def _cte(headers: _Headers) -> str:
    value = headers.text("content-transfer-encoding") or ""
    return value.strip().split(";", 1)[0].strip().strip("\"'").lower()


def _header_in_text(text: str, name: str) -> str | None:
    """The first `name:` header (unfolded) in a block of header text."""
    lines = text.replace("\r\n", "\n").split("\n")
    wanted = name.lower() + ":"
    for index, line in enumerate(lines):
        if line.lower().startswith(wanted):
            value = [line[len(wanted) :]]
            for follow in lines[index + 1 : index + 20]:
                if not follow.startswith((" ", "\t")):
                    break
                value.append(follow)
            return " ".join(v.strip() for v in value)
    return None


# --------------------------------------------------------------------------- bounces

_STATUS_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_QUOTED_MESSAGE_ID = re.compile(r"(?im)^[> \t]{0,20}message-id:[ \t]{0,20}([^\r\n]{1,998})")
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})


def _dsn_blocks(text: str) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status body (unfolded, names lower-cased)."""
    blocks: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                last.append(line.strip())
        elif ":" in line:
            key, _, value = line.partition(":")
            last = [value.strip()]
            current.setdefault(key.strip().lower(), last)  # the first field of a name wins
    if current:
        blocks.append(current)
    return [{key: " ".join(parts) for key, parts in block.items()} for block in blocks]


def _after_type(value: str) -> str:
    """`rfc822; user@example.com` -> `user@example.com`."""
    return value.partition(";")[2].strip() if ";" in value else value.strip()


def _parse_dsn(texts: list[str]) -> tuple[list[str], str, str, str]:
    failed: dict[str, None] = {}  # ordered and de-duplicated
    recipients: list[dict[str, str]] = []
    for text in texts:
        for block in _dsn_blocks(text):
            if "action" in block or "final-recipient" in block or "status" in block:
                recipients.append(block)
    for block in recipients:
        if block.get("action", "").strip().lower().startswith("failed"):
            for key in ("final-recipient", "original-recipient"):
                address = _after_type(block.get(key, "")).strip("<> ").lower()
                if address:
                    failed.setdefault(address)
    chosen = next(
        (b for b in recipients if b.get("action", "").strip().lower().startswith("failed")),
        recipients[0] if recipients else {},
    )
    words = chosen.get("action", "").strip().lower().split()
    action = words[0] if words and words[0] in _BOUNCE_ACTIONS else "unknown"
    diagnostic = _normalize_space(_after_type(chosen.get("diagnostic-code", "")))
    status_match = _STATUS_CODE.search(chosen.get("status", "")) or _STATUS_CODE.search(diagnostic)
    return list(failed), action, status_match.group(1) if status_match else "", diagnostic


def _original_id_in_text(texts: list[str]) -> str | None:
    for text in texts:
        for match in _QUOTED_MESSAGE_ID.finditer(text):
            found = _message_id(match.group(1))
            if found:
                return found
    return None


def _bounce(
    walk: _Walk, from_: Address | None, texts: list[str], x_failed: tuple[str, ...]
) -> Bounce | None:
    """`x_failed`: X-Failed-Recipients (Exim, Gmail), set only for permanent failures."""
    original = (walk.embedded_ids[0] if walk.embedded_ids else None) or _original_id_in_text(
        texts + walk.dsn_texts
    )
    if walk.dsn_texts or walk.report_seen:
        failed, action, status, diagnostic = _parse_dsn(walk.dsn_texts)
        if not failed and x_failed:
            failed = list(x_failed)
            action = "failed" if action == "unknown" else action
        return Bounce(original, tuple(failed), action, status, diagnostic)
    if from_ is None or original is None:
        return None
    local = from_.email.partition("@")[0].lower()
    if local not in _BOUNCE_SENDERS and from_.name.lower() not in _BOUNCE_SENDERS:
        return None
    code = _STATUS_CODE.search("\n".join(texts)[:200_000])
    action = "failed" if x_failed else "unknown"
    return Bounce(original, x_failed, action, code.group(1) if code else "", "")


# --------------------------------------------------------------------------- entry point

_HEADER_LINE = re.compile(rb"[!-9;-~]{1,100}[ \t]{0,20}:")
_FIRST_HEADERS = frozenset(
    {b"return-path", b"received", b"from", b"to", b"subject", b"date", b"message-id",
     b"delivered-to", b"mime-version", b"reply-to", b"sender", b"cc", b"content-type",
     b"dkim-signature", b"authentication-results", b"arc-seal", b"x-original-to"}
)  # fmt: skip


def _skip_leading_junk(raw: bytes) -> bytes:
    """Drop blank lines or a banner line ("---- Original email message ----") before
    the headers, as archivers and forwarders add them; the stdlib would otherwise read
    the whole mail as a body without headers."""
    position = 0
    for _ in range(6):
        end = raw.find(b"\n", position, position + 2000)
        line = raw[position : end if end >= 0 else position + 2000].rstrip(b"\r")
        match = _HEADER_LINE.match(line)
        if match or line.startswith(b"From "):
            if position == 0:
                return raw
            known = match is None or _is_known_header(_header_name(line))
            return raw[position:] if known else raw
        if end < 0:
            break
        position = end + 1
    first_end = raw.find(b"\n", 0, 2000)
    if raw[: first_end if first_end >= 0 else 2000].strip():
        # no header at all: say so with an empty header block, or the stdlib drops a
        # first line that starts with a blank or a ":" as a broken header
        return b"\n" + raw
    return raw


_BLOCK_END = re.compile(rb"\n\r?\n")


def _header_name(line: bytes) -> bytes | None:
    match = _HEADER_LINE.match(line)
    return match.group(0).rstrip(b": \t").lower() if match else None


def _is_known_header(name: bytes | None) -> bool:
    return name is not None and (
        name in _FIRST_HEADERS or name.startswith((b"x-", b"content-", b"list-", b"resent-"))
    )


def _repair_header_block(raw: bytes) -> bytes:
    """Indent continuation lines that lost their indentation ("Received: from a" /
    "by b with ESMTP"): the stdlib would end the headers at the first such line and read
    From, To and Subject below it as body text. A stray line only counts as a
    continuation when well-known headers follow it before the blank line."""
    end = _BLOCK_END.search(raw)
    if end is None:
        return raw
    lines = raw[: end.start() + 1].split(b"\n")
    names = [_header_name(line) for line in lines]
    stray = [
        index
        for index, line in enumerate(lines)
        if line.strip() and names[index] is None and line[:1] not in (b" ", b"\t")
    ]
    if not stray:
        return raw
    known_after = [False] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        known_after[index] = known_after[index + 1] or _is_known_header(names[index])
    if not known_after[stray[0] + 1] or _first_header_index(names) > stray[0]:
        return raw
    for index in stray:
        if known_after[index + 1] and len(lines[index]) < 2000:
            lines[index] = b" " + lines[index]
    return b"\n".join(lines) + raw[end.start() + 1 :]


def _first_header_index(names: list[bytes | None]) -> int:
    return next((index for index, name in enumerate(names) if name is not None), len(names))


def _charset_hints(message: Message) -> tuple[str, ...]:
    """The charsets the mail declares for its bodies, in order: raw 8-bit bytes in
    headers were most likely written by the same client in one of them."""
    hints: list[str] = []
    queue = [message]
    for _ in range(50):
        if not queue:
            break
        part = queue.pop(0)
        charset = _Headers(part, ()).params("content-type")[1].get("charset", "")
        if _codec_chain(charset) and charset.lower() not in hints:
            hints.append(charset.lower())
        payload = _payload(part)
        if isinstance(payload, list):
            queue.extend(p for p in payload if isinstance(p, Message))
    return tuple(hints)


_CONTENT_TYPE_LINE = re.compile(rb"(?im)^content-type[ \t]{0,20}:")
_MAX_CONTENT_TYPE = 4096  # real ones are < 500 bytes
_MAX_BOUNDARY_LINES = 2000


def _policy_for(raw: bytes) -> Policy:
    """`policy.default`, unless the mail would make it slow: it parses every part's
    Content-Type into a header object while splitting the tree, which is quadratic in
    the number of parameters and costs ~0.1 ms per part. This module reads headers raw
    either way, so `compat32` (plain strings) gives the same tree, fast."""
    if raw.count(b"\n--") > _MAX_BOUNDARY_LINES:
        return policy.compat32
    for match in _CONTENT_TYPE_LINE.finditer(raw):
        end = match.end()
        while True:  # the header runs on while lines are folded
            newline = raw.find(b"\n", end)
            if newline < 0 or raw[newline + 1 : newline + 2] not in (b" ", b"\t"):
                end = len(raw) if newline < 0 else newline
                break
            end = newline + 1
            if end - match.start() > _MAX_CONTENT_TYPE:
                break
        if end - match.start() > _MAX_CONTENT_TYPE:
            return policy.compat32
    return policy.default


def _parse_bytes(raw: bytes) -> tuple[Message, list[str]]:
    chosen = _policy_for(raw)
    for attempt in dict.fromkeys((chosen, policy.compat32)):
        try:
            return BytesParser(policy=attempt).parsebytes(raw), []
        except RecursionError:
            break  # nesting deeper than the stdlib parser can recurse: headers only
        except Exception:  # the default policy raises on some headers: try compat32
            continue
    parsed = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    return parsed, ["NestingTooDeepDefect"]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _attachments(walk: _Walk, html: str | None) -> tuple[Attachment, ...]:
    cids = _referenced_cids(html) if html else set()
    result: list[Attachment] = []
    for item in walk.attachments:
        referenced = item.content_id is not None and item.content_id.lower() in cids
        inline_image = item.disposition == "inline" and item.content_type.startswith("image/")
        result.append(
            Attachment(
                filename=item.filename,
                content_type=item.content_type,
                size=len(item.content),
                sha256=hashlib.sha256(item.content).hexdigest(),
                content=item.content,
                inline=referenced or inline_image,
                content_id=item.content_id,
            )
        )
    return tuple(result)


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one raw mail. Raises only `RejectedInput` (when there is no mail at all)."""
    if not raw or not raw.strip():
        raise RejectedInput("empty_mail", "The mail is empty: no headers and no body.")
    raw = _repair_header_block(_skip_leading_junk(raw))
    message, parse_defects = _parse_bytes(raw)
    hints = _charset_hints(message)
    walk = _Walk(hints=hints, sep="\r\n" if b"\r\n" in raw[:65536] else "\n")
    walk.defects.extend(parse_defects)
    body = walk.render(message) or _Body()
    headers = _Headers(message, hints)
    has_body = (body.text or "").strip() or body.html or walk.attachments
    if not headers.items and not has_body:
        raise RejectedInput("empty_mail", "The mail has no headers and no body.")

    safe_html = _safe_html(body.html) if body.html is not None else None
    text = body.text or ""
    if not text.strip() and body.html is not None:
        text = _html_text(body.html)
    # some mailers write two From headers, the first without an address
    from_ = next(
        (a for a in map(_single, headers.all_unfolded("from")) if a and "@" in a.email),
        _single(headers.unfolded("from")),
    )
    texts = [text] if text else []
    references = extract_message_ids(headers.text("references") or "")
    failed_recipients = tuple(
        dict.fromkeys(a.email.lower() for a in _recipients(headers.unfolded("x-failed-recipients")))
    )
    return ParsedMail(
        message_id=_message_id(headers.text("message-id")),
        from_=from_,
        reply_to=_parse_addresses(headers.unfolded("reply-to")),
        sender=_single(headers.unfolded("sender")),
        to=_recipients(headers.unfolded("to")),
        cc=_recipients(headers.unfolded("cc")),
        subject=_normalize_space(headers.text("subject") or ""),
        date=_date(headers.text("date")),
        in_reply_to=extract_message_ids(headers.text("in-reply-to") or ""),
        references=references,
        text=text.strip("\n"),
        html=safe_html,
        content_type="text/html" if safe_html is not None else "text/plain",
        attachments=_attachments(walk, body.html),
        headers=headers.decoded_items(),
        bounce=_bounce(walk, from_, texts, failed_recipients),
        defects=tuple(dict.fromkeys(walk.defects)),
    )
