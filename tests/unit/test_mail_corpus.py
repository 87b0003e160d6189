"""`parse_mail` against other projects' real mail corpora (read in place, never copied).

1. Every mail in the corpora parses without raising.
2. Zammad's expected parse results (`mailNNN.yml` next to `mailNNN.box`) are compared
   key by key; the per-key counts of met expectations must not drop below the baseline
   in `tests/fixtures/mail-corpus-baseline.json` (`HELPLINE_UPDATE_BASELINE=1` rewrites
   it). Run with `pytest -s -m corpus` to see the table.

The corpora live next to the repository (`../shared/corpora`) or where
`HELPLINE_CORPORA` points; some are AGPL-licensed and must not ship in the product.
"""

from __future__ import annotations

import hashlib
import json
import os
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.core.errors import RejectedInput
from functions.core.html import html_to_text
from functions.core.mime import Address, ParsedMail, parse_mail

pytestmark = pytest.mark.corpus

CORPORA = Path(
    os.environ.get("HELPLINE_CORPORA") or Path(__file__).resolve().parents[3] / "shared" / "corpora"
)
BASELINE = Path(__file__).resolve().parents[1] / "fixtures" / "mail-corpus-baseline.json"
ZAMMAD_MAIL = CORPORA / "zammad" / "test" / "data" / "mail"
KEYS = ("from_email", "from_display_name", "subject", "to", "cc", "attachments", "body")

_MISSING = f"mail corpora not found at {CORPORA} (set HELPLINE_CORPORA to run these tests)"


def _mail_files() -> list[Path]:
    if not CORPORA.is_dir():
        return []
    patterns = (
        ("zammad/test/data/mail", "*.box"),
        ("chatwoot", "**/*.eml"),
        ("cpython-email", "**/msg_*.txt"),
        ("talon", "**/*.eml"),
    )
    files: list[Path] = []
    for folder, pattern in patterns:
        files.extend(sorted((CORPORA / folder).glob(pattern)))
    return files


def _file_id(path: Path) -> str:
    return str(path.relative_to(CORPORA)) if CORPORA in path.parents else path.name


@pytest.mark.skipif(not CORPORA.is_dir(), reason=_MISSING)
@pytest.mark.parametrize(
    "path", _mail_files() or [None], ids=lambda p: _file_id(p) if p else "none"
)
def test_corpus_mail_parses_without_raising(path: Path | None) -> None:
    assert path is not None, "no mail files found in the corpora"
    raw = path.read_bytes()
    try:
        mail = parse_mail(raw)
    except RejectedInput:
        assert not raw.strip(), f"{path.name}: rejected although it is not empty"
        return
    assert isinstance(mail, ParsedMail)
    assert mail.content_type in ("text/plain", "text/html")


# --------------------------------------------------------------------------- Zammad


class _RubyLoader(yaml.SafeLoader):
    """Reads Zammad's `!ruby/hash:...` dumps as plain dicts, lists and strings."""


def _ruby_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == "binary" and isinstance(node, yaml.ScalarNode):
        return loader.construct_yaml_binary(node)  # `!binary`: base64 bytes
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyLoader.add_multi_constructor("!", _ruby_tag)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _addresses(value: str | None) -> set[str]:
    # the stdlib reads the expectations, so our own address parser is not marking itself
    return {email.lower() for _, email in getaddresses([value or ""]) if "@" in email}


def _effective_from(mail: ParsedMail) -> Address | None:
    # Zammad falls back to Reply-To, then Sender, when From has no address;
    # the intake does the same with ParsedMail's alternates
    if mail.from_ is not None:
        return mail.from_
    return mail.reply_to[0] if mail.reply_to else mail.sender


def _digest(data: str | bytes) -> str:
    # Zammad stores text attachments as strings with LF line ends, binary ones as bytes
    if isinstance(data, str):
        data = data.replace("\r\n", "\n").encode("utf-8")
    return hashlib.md5(data).hexdigest()


def _our_digests(mail: ParsedMail) -> set[str]:
    digests = set()
    for attachment in mail.attachments:
        digests.add(hashlib.md5(attachment.content).hexdigest())
        text = attachment.content.replace(b"\r\n", b"\n")
        digests.add(hashlib.md5(text).hexdigest())
    return digests


def _checks(expected: dict[str, Any], mail: ParsedMail) -> dict[str, bool]:
    """Which of the expected keys this parse meets (only keys the yml has)."""
    sender = _effective_from(mail)
    met: dict[str, bool] = {}
    if "from_email" in expected:
        met["from_email"] = (sender.email.lower() if sender else "") == str(
            expected["from_email"] or ""
        ).lower()
    if "from_display_name" in expected:
        name = sender.name if sender else ""
        met["from_display_name"] = _squash(name) == _squash(
            str(expected["from_display_name"] or "")
        )
    if "subject" in expected:
        met["subject"] = _squash(mail.subject) == _squash(str(expected["subject"] or ""))
    for key in ("to", "cc"):
        if key in expected:
            ours = {a.email.lower() for a in getattr(mail, key)}
            met[key] = ours == _addresses(expected[key])
    if "attachments" in expected:
        # `content-alternative` entries are Zammad's own copy of the HTML body
        # (`message.html`), not attachments the sender added: the body check covers them
        wanted = {
            _digest(item["data"] or "")
            for item in expected["attachments"] or []
            if not (item.get("preferences") or {}).get("content-alternative")
        }
        met["attachments"] = wanted <= _our_digests(mail)
    if "body" in expected:
        met["body"] = _body_matches(expected, mail)
    return met


# Zammad writes this placeholder for a mail without text; it is not mail content
_ZAMMAD_EMPTY_BODY = "no visible content"
# &lang; / &rang; were U+2329 / U+232A in HTML 4 and are U+27E8 / U+27E9 in HTML 5
_ANGLE_BRACKETS = str.maketrans({"\u2329": "\u27e8", "\u232a": "\u27e9"})


def _body_matches(expected: dict[str, Any], mail: ParsedMail) -> bool:
    body = str(expected["body"] or "")
    if expected.get("content_type") == "text/html":
        want = _squash(html_to_text(body))
        ours = _squash(html_to_text(mail.html) if mail.html is not None else mail.text)
    else:
        want = _squash(body)
        ours = _squash(mail.text)
    if want == _ZAMMAD_EMPTY_BODY:
        want = ""
    return want.translate(_ANGLE_BRACKETS) == ours.translate(_ANGLE_BRACKETS)


def _zammad_cases() -> list[tuple[Path, Path]]:
    if not ZAMMAD_MAIL.is_dir():
        return []
    return [
        (box, box.with_suffix(".yml"))
        for box in sorted(ZAMMAD_MAIL.glob("*.box"))
        if box.with_suffix(".yml").is_file()
    ]


@pytest.mark.skipif(not ZAMMAD_MAIL.is_dir(), reason=_MISSING)
def test_zammad_expectations_do_not_regress() -> None:
    cases = _zammad_cases()
    assert cases, f"no mailNNN.box/.yml pairs in {ZAMMAD_MAIL}"
    met = dict.fromkeys(KEYS, 0)
    total = dict.fromkeys(KEYS, 0)
    misses: dict[str, list[str]] = {key: [] for key in KEYS}
    for box, yml in cases:
        expected = yaml.load(yml.read_text(encoding="utf-8"), Loader=_RubyLoader)
        results = _checks(expected, parse_mail(box.read_bytes()))
        for key, ok in results.items():
            total[key] += 1
            met[key] += ok
            if not ok:
                misses[key].append(box.stem)

    print(f"\nZammad mail expectations ({len(cases)} mails)")
    print(f"{'key':<20}{'met':>6}{'total':>7}  misses")
    for key in KEYS:
        print(f"{key:<20}{met[key]:>6}{total[key]:>7}  {' '.join(misses[key])}")

    counts = {key: {"met": met[key], "total": total[key]} for key in KEYS}
    if os.environ.get("HELPLINE_UPDATE_BASELINE") == "1" or not BASELINE.is_file():
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    dropped = [
        f"{key}: {met[key]} < baseline {baseline[key]['met']}"
        for key in KEYS
        if key in baseline and met[key] < baseline[key]["met"]
    ]
    assert not dropped, "corpus expectations regressed: " + "; ".join(dropped)
