"""The real inputs every fuzz target starts from, read where they live at run time.

Third-party corpora stay in ../shared/corpora (or `$HELPLINE_CORPORA`) and are never
copied into the repository: the fuzzers read them from there and put their working
copies in a temporary directory. A missing corpus only means fewer seeds; the
repository's own fixtures (tests/fixtures, infra/config/demo.yaml) are always there.

Every seed is bytes, exactly what the target's entry point receives: a raw mail, a
webhook body as posted, a chat frame, a config file, a token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
DEMO_CONFIG = REPO / "infra" / "config" / "demo.yaml"
# the fixed secret the token targets sign with (a fuzzer cannot guess an HMAC)
TOKEN_SECRET = b"fuzzing-secret-not-a-real-one"
TOKEN_NOW = datetime(2025, 11, 25, 10, 30, tzinfo=UTC)

# Chatwoot's factories leave SecureRandom values as placeholders
_CHATWOOT_PLACEHOLDERS = {
    "{{SecureRandom.uuid}}": "17841400000000001",
    "{{SecureRandom.hex(4)}}": "a1b2c3d4",
}


def corpora() -> Path:
    """$HELPLINE_CORPORA, else ../shared/corpora beside the checkout, else /work/shared."""
    configured = os.environ.get("HELPLINE_CORPORA")
    if configured:
        return Path(configured)
    for candidate in (REPO.parent / "shared" / "corpora", Path("/work/shared/corpora")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "corpora"


def _files(root: Path, patterns: Iterable[str]) -> list[Path]:
    if not root.is_dir():
        return []
    found = {path for pattern in patterns for path in root.glob(pattern) if path.is_file()}
    return sorted(found)


def _read(paths: Iterable[Path]) -> list[bytes]:
    return [path.read_bytes() for path in paths]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- mail -------------------------------------------------------------------------------


def mails() -> list[bytes]:
    """Raw mails: Zammad, Chatwoot, CPython's email tests, talon, and ours."""
    base = corpora()
    paths = [
        *_files(base / "zammad" / "test" / "data" / "mail", ["*.box"]),
        *_files(base / "chatwoot" / "spec" / "fixtures" / "files", ["*.eml"]),
        *_files(base / "cpython-email" / "Lib" / "test" / "test_email" / "data", ["msg_*.txt"]),
        *_files(base / "talon", ["**/*.eml"]),
        *_files(FIXTURES / "mail", ["*.eml"]),
    ]
    return _read(paths)


def reply_texts() -> list[bytes]:
    """Plain-text bodies with quotes and signatures (the reply parsers' fixtures)."""
    base = corpora()
    talon_text = [
        path
        for path in _files(base / "talon" / "tests" / "fixtures", ["**/*"])
        if path.suffix not in (".eml", ".html", ".json", ".md")
    ]
    return _read(
        [
            *_files(base / "email_reply_parser" / "test" / "emails", ["*.txt"]),
            *_files(base / "mail-parser-reply" / "test" / "emails", ["*.txt"]),
            *talon_text,
        ]
    )


def redos_probes() -> dict[str, bytes]:
    """email_reply_parser's ReDoS probe and its 767 kB quote (its MANIFEST names both)."""
    emails = corpora() / "email_reply_parser" / "test" / "emails"
    names = {"pathological": "pathological.txt", "long_quote": "email_long_quote.txt"}
    return {
        key: (emails / name).read_bytes()
        for key, name in names.items()
        if (emails / name).is_file()
    }


def html_bodies() -> list[bytes]:
    """HTML replies from talon, and the HTML parts of the mails."""
    base = corpora()
    found = _read(_files(base / "talon" / "tests" / "fixtures", ["*.html", "html_replies/*.html"]))
    from email import message_from_bytes, policy

    for raw in mails():
        for part in message_from_bytes(raw, policy=policy.compat32).walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes) and payload.strip():
                    found.append(payload)
    return found


# --- webhooks -------------------------------------------------------------------------


class _RubyTagsIgnored(yaml.SafeLoader):
    """Zammad's recorded X events carry !ruby/hash tags: read them as plain data."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_RubyTagsIgnored.add_multi_constructor("!", _plain)


def _chatwoot(name_filter: Callable[[str], bool]) -> list[dict[str, Any]]:
    root = corpora() / "chatwoot" / "spec" / "factories_as_json"
    found: list[dict[str, Any]] = []
    for path in _files(root, ["*.json"]):
        if not name_filter(path.stem):
            continue
        raw = path.read_text(encoding="utf-8")
        for placeholder, value in _CHATWOOT_PLACEHOLDERS.items():
            raw = raw.replace(placeholder, value)
        payload = json.loads(raw).get("payload")
        if isinstance(payload, dict):
            found.append(payload)
    return found


def _graph(payloads: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Chatwoot keeps either the entries or only the messaging events: wrap them as Meta does."""
    wrapped = []
    for payload in payloads:
        if "entry" in payload:
            wrapped.append({"object": kind, **payload})
        elif "messaging" in payload:
            entry = {
                "id": "117172741761305",
                "time": 1648581633369,
                "messaging": payload["messaging"],
            }
            wrapped.append({"object": kind, "entry": [entry]})
    return wrapped


def _own_social(platform: str) -> list[Any]:
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in _files(FIXTURES / "social" / platform, ["*.json"])
    ]


def messenger_bodies() -> list[bytes]:
    fb = _chatwoot(
        lambda name: not name.startswith(("instagram", "incoming_ig", "twitter", "messaging_seen"))
    )
    return [_json(body) for body in (*_graph(fb, "page"), *_own_social("messenger"))]


def instagram_bodies() -> list[bytes]:
    ig = _chatwoot(lambda name: name.startswith(("instagram", "incoming_ig", "messaging_seen")))
    return [_json(body) for body in (*_graph(ig, "instagram"), *_own_social("instagram"))]


def whatsapp_bodies() -> list[bytes]:
    found: list[Any] = list(_own_social("whatsapp"))
    root = corpora() / "pywa" / "tests" / "data" / "updates"
    for path in _files(root, ["*.json"]):
        if path.name.startswith("EXPECTED"):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        found.extend(value for value in data.values() if isinstance(value, dict))
    return [_json(body) for body in found]


def telegram_bodies() -> list[bytes]:
    root = corpora() / "zammad" / "test" / "data" / "telegram"
    found = [json.loads(path.read_text(encoding="utf-8")) for path in _files(root, ["*/*.json"])]
    return [_json(body) for body in (*found, *_own_social("telegram"))]


def x_bodies() -> list[bytes]:
    root = corpora() / "zammad" / "test" / "data" / "twitter" / "webhook_events"
    found: list[Any] = [
        yaml.load(path.read_text(encoding="utf-8"), Loader=_RubyTagsIgnored)
        for path in _files(root, ["*.yml"])
    ]
    found.extend(_chatwoot(lambda name: name.startswith("twitter")))
    return [_json(body) for body in found if isinstance(body, dict)]


def meta_bodies() -> list[bytes]:
    return [*messenger_bodies(), *instagram_bodies(), *whatsapp_bodies()]


def signature_vectors() -> list[dict[str, str]]:
    """Published signature vectors (secret, message, expected header)."""
    path = corpora() / "webhook-signature-vectors" / "vectors.json"
    if not path.is_file():
        return []
    vectors = json.loads(path.read_text(encoding="utf-8")).get("vectors", [])
    return [v for v in vectors if isinstance(v, dict) and "secret" in v and "message_utf8" in v]


# --- chat, config, tokens ---------------------------------------------------------------

# One frame per action of docs/chat-protocol.md section 3, with the fields it names.
CHAT_FRAMES: tuple[dict[str, Any], ...] = (
    {"action": "hello", "locale": "de-DE", "name": "Ana", "email": "ana@example.com",
     "page": {"url": "https://shop.example/cart", "title": "Cart", "referrer": "https://a.example/"},
     "last_seen": "01JDQ2M3X4Y5Z6A7B8C9D0E1F2", "session_id": "abc123def456"},
    {"action": "message", "text": "Hallo, wo ist meine Bestellung?", "client_id": "c-1:2"},
    {"action": "typing", "typing": False},
    {"action": "read", "message_id": "01JDQ2M3X4Y5Z6A7B8C9D0E1F2"},
    {"action": "agent"},
    {"action": "contact", "name": "Ana", "email": "ana@example.com"},
    {"action": "transcript", "email": "ana@example.com"},
    {"action": "rate", "score": 4, "comment": "quick, thanks"},
    {"action": "close"},
    {"action": "status", "status": "online", "languages": ["en", "de"], "max_chats": 3},
    {"action": "accept", "session_id": "abc123def456"},
    {"action": "message", "session_id": "abc123def456", "text": "On it.", "client_id": "a.1"},
    {"action": "note", "session_id": "abc123def456", "text": "VIP customer"},
    {"action": "typing", "session_id": "abc123def456", "typing": True},
    {"action": "transfer", "session_id": "abc123def456", "team": "spanish"},
    {"action": "transfer", "session_id": "abc123def456", "agent": "Bo@Example.com"},
    {"action": "close", "session_id": "abc123def456"},
)  # fmt: skip


def chat_frames() -> list[bytes]:
    return [_json(frame) for frame in CHAT_FRAMES]


def configs() -> list[bytes]:
    return [DEMO_CONFIG.read_bytes()]


def tokens() -> list[bytes]:
    """Real tokens of every purpose, signed with TOKEN_SECRET."""
    from functions.core.tokens import sign

    claims = (
        ("survey", {"sid": "S0123456789ABCDEF"}),
        ("survey", {"sid": "not a survey id"}),
        ("chat", {"session": "abc123def456", "locale": "de"}),
        ("agent", {"email": "bo@example.com", "name": "Bo"}),
    )
    found = [
        sign(purpose, body, secret=TOKEN_SECRET, now=TOKEN_NOW, ttl=timedelta(days=30))
        for purpose, body in claims
    ]
    found.append(
        sign(
            "survey",
            {"sid": "S0123456789ABCDEF"},
            secret=TOKEN_SECRET,
            now=TOKEN_NOW,
            ttl=timedelta(days=-1),
        )
    )
    return [token.encode("ascii") for token in found]


def survey_answers() -> list[bytes]:
    """Survey form input: "<score>\\n<comment>", as the response page posts them."""
    comments = (
        "",
        "Great, thanks!",
        "Zu langsam.\r\nBitte anrufen.",
        "٥",
        "５",
        "\u202eevil\u202c",
        "a\x00b",
    )
    scores = ("1", "5", "10", "0", " 3 ", "٥", "11", "-1", "1.0")
    return [f"{score}\n{comment}".encode() for score in scores for comment in comments]


def payload_bodies() -> list[bytes]:
    """Signed-token payloads: the JSON a token carries (reached only past the HMAC)."""
    return [
        _json({"aud": "survey", "exp": 1767225600, "sid": "S0123456789ABCDEF"}),
        _json({"aud": "chat", "exp": 1767225600, "session": "abc"}),
    ]
