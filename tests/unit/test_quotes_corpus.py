"""How many of the peers' own expectations functions.core.quotes meets.

The peers' fixtures live outside the repository (../shared/corpora, or the directory
in HELPLINE_CORPORA) and are never copied in. Per corpus this counts the cases met,
prints a table (`pytest -s`), and fails if a count drops below
tests/fixtures/quotes-corpus-baseline.json; HELPLINE_UPDATE_BASELINE=1 rewrites it.

"Met" follows each peer's own test, mapped onto our three parts:

* talon: `extract_from_plain/html` keeps signatures and drops only the quotation,
  so reply + signature must equal the expected text (whitespace-normalised; HTML:
  visible text with all whitespace removed, as talon's test does). Cases whose test
  patches talon's internals are not applicable.
* email_reply_parser: `parse_reply` (visible text) must equal our reply; a fragment
  assertion is checked against the part its flags put it in (quoted -> quoted,
  signature -> signature, otherwise reply; without flags fragment 0 is the reply and
  later ones the quote); the flags also say whether quoted/signature may be empty.
* mail-parser-reply: replies[0].body/signatures/content are our reply / signature /
  both; replies[i>0] (older messages) must be found in our quoted part, and what
  their test says is not in their body must not leak into our reply; reply_count 1
  means nothing is quoted, more means something is. Cases with custom parser options
  and `raw` assertions are not applicable.
* zammad (signature detection): the signature Zammad finds for that sender must be
  inside ours (whitespace-insensitive), and none of it in our reply.
"""

from __future__ import annotations

import email
import json
import os
import re
from dataclasses import dataclass
from email import policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from functions.core.html import html_to_text
from functions.core.quotes import ReplyParts, split_reply, split_reply_html
from tests.helpers import CORPORA

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from email.message import Message

pytestmark = pytest.mark.corpus

_BASELINE = Path(__file__).resolve().parents[1] / "fixtures" / "quotes-corpus-baseline.json"


def _corpora() -> Path:
    return CORPORA


@dataclass
class Outcome:
    name: str
    met: bool
    why: str = ""


# a rule line that closes a part carries no words; the peers disagree on which side of
# the cut it goes: on the same Outlook mail (email_2_1.txt, in both corpora)
# email_reply_parser wants the reply without the rule above the header, mail-parser-reply
# with it
_CLOSING_RULES = re.compile(r"(?:\n[ \t]*[-_=*]{3,}[ \t]*)+\s*\Z")


def _norm(text: str) -> str:
    """Runs of whitespace read as one space; rule lines at the end are not compared."""
    return " ".join(_CLOSING_RULES.sub("", "\n" + text).split())


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _unquote(text: str) -> str:
    # html_to_text shows blockquotes as "> "; talon's visible text does not
    return "\n".join(re.sub(r"^(?:\s*>)+", "", line) for line in text.split("\n"))


def _joined(parts: ReplyParts) -> str:
    return "\n".join(p for p in (parts.reply, parts.signature) if p)


# --- talon --------------------------------------------------------------------------


def _first_text_part(raw: str) -> str:
    message: Message = email.message_from_string(raw, policy=policy.compat32)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def _talon_cases(root: Path) -> Iterator[Outcome]:
    base = root / "talon"
    data = json.loads((base / "EXPECTED.extracted.json").read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = [c for f in data["files"] for c in f["cases"]]
    cases += data["manual_cases"]
    for number, case in enumerate(cases):
        name = f"{case['test']}#{number}"
        if case.get("decorators"):
            continue  # the test patches talon's internals: no equivalent input
        function = case["function"]
        source = case.get("input")
        expected = case.get("expected")
        fixture = source.get("fixture", "") if isinstance(source, dict) else ""
        if isinstance(source, str) and "see tests/" in source:
            continue  # split_emails: a different function
        if fixture:
            path = base / fixture.removeprefix("file:")
            raw = path.read_text(encoding="utf-8", errors="replace")
            source = (
                _first_text_part(raw)
                if path.suffix == ".eml" and "standard_replies" in fixture
                else raw
            )
        assert isinstance(source, str)
        if "html" in function:
            if expected is None:
                continue  # asserts on talon's HTML output shape
            parts = split_reply_html(source)
            got = _squash(_unquote(_joined(parts)))
            want_text = expected if "html_to_text" in function else html_to_text(expected)
            want = _squash(_unquote(want_text))
            yield Outcome(name, got == want, f"got {got[:80]!r} want {want[:80]!r}")
        elif expected is None:
            parts = split_reply(source)
            got = _joined(parts)
            yield Outcome(name, bool(got.strip()) and "From" not in got, repr(got[:80]))
        else:
            parts = split_reply(source)
            got = _norm(_joined(parts))
            yield Outcome(name, got == _norm(expected), f"got {got[:80]!r}")


# --- email_reply_parser -------------------------------------------------------------


def _erp_part(case: dict[str, Any], index: int, parts: ReplyParts) -> str:
    quoted, signature = case.get("quoted"), case.get("signature")
    if quoted is None or signature is None:
        return parts.reply if index == 0 else parts.quoted
    if quoted[index]:
        return parts.quoted
    if signature[index]:
        return parts.signature
    return parts.reply


def _erp_check(case: dict[str, Any], parts: ReplyParts) -> str:
    """ "" if every assertion holds, else the first one that does not."""
    if "parse_reply" in case and _norm(parts.reply) != _norm(case["parse_reply"]):
        return f"parse_reply {parts.reply[:60]!r}"
    if case.get("fragment_count") == 1 and (parts.quoted or parts.signature):
        return "one fragment, but quoted/signature found"
    for flag, part in (("quoted", parts.quoted), ("signature", parts.signature)):
        if flag in case and any(case[flag]) != bool(part):
            return f"{flag} presence"
    for index, regexes in case.get("fragment_regex", {}).items():
        part = _erp_part(case, int(index), parts)
        for regex in [regexes] if isinstance(regexes, str) else regexes:
            if not re.search(regex, part, re.MULTILINE):
                return f"fragment {index} !~ {regex}"
    for key in ("fragment_equals", "fragment_contains"):
        for index, text in case.get(key, {}).items():
            if _norm(text) not in _norm(_erp_part(case, int(index), parts)):
                return f"fragment {index} lacks {text[:40]!r}"
    return ""


def _erp_cases(root: Path) -> Iterator[Outcome]:
    base = root / "email_reply_parser"
    data = json.loads((base / "EXPECTED.extracted.json").read_text(encoding="utf-8"))
    for case in data["cases"]:
        if case["fixture"]:
            raw = (base / "test" / "emails" / case["fixture"]).read_bytes()
            text = raw.decode("utf-8", "replace")
        else:
            text = case["input"]
        parts = split_reply(text)
        problem = _erp_check(case, parts)
        if case["fixture"] == "email_long_quote.txt" and not parts.reply.startswith("Hi folks"):
            problem = "long quote: reply lost"
        yield Outcome(case["test"], not problem, problem)


# --- mail-parser-reply --------------------------------------------------------------


def _mpr_field(assertion: dict[str, Any], parts: ReplyParts) -> str:
    if assertion["reply"] > 0:
        return parts.quoted
    return {
        "body": parts.reply,
        "signatures": parts.signature,
        "content": _joined(parts),
        "headers": parts.quoted,
    }[assertion["field"]]


def _mpr_check(case: dict[str, Any], parts: ReplyParts) -> str:
    for assertion in case["assertions"]:
        check, value = assertion["check"], assertion.get("value")
        if check == "raw":
            continue
        if check == "reply_count":
            if (value == 1) == bool(parts.quoted):
                return f"reply_count {value}, quoted={bool(parts.quoted)}"
            continue
        older = assertion["reply"] > 0
        part = _mpr_field(assertion, parts)
        if check == "not_contains":
            # older messages' headers are in our quoted part; they must not leak into the reply
            haystack = parts.reply if older else part
            if _norm(value) in _norm(haystack):
                return f"{assertion['field']}[{assertion['reply']}] has {value[:40]!r}"
        elif check in ("contains", "equals") and older:
            if _norm(value) not in _norm(part):
                return f"quoted lacks {value[:40]!r}"
        elif check == "contains" and _norm(value) not in _norm(part):
            return f"{assertion['field']} lacks {value[:40]!r}"
        elif check == "equals" and _norm(value) != _norm(part):
            return f"{assertion['field']} = {part[:60]!r}"
        elif check == "startswith" and not part.startswith(value):
            return f"{assertion['field']} starts {part[:40]!r}"
    return ""


def _mpr_cases(root: Path) -> Iterator[Outcome]:
    base = root / "mail-parser-reply"
    data = json.loads((base / "EXPECTED.extracted.json").read_text(encoding="utf-8"))
    for case in data["cases"]:
        if case.get("setup"):
            continue  # custom parser options (keep_hyphen_lists): no equivalent
        text = (base / case["fixture"]).read_text(encoding="utf-8")
        problem = _mpr_check(case, split_reply(text))
        yield Outcome(case["test"], not problem, problem)


# --- zammad -------------------------------------------------------------------------


def _zammad_cases(root: Path) -> Iterator[Outcome]:
    base = root / "zammad" / "test" / "data" / "email_signature_detection"
    data = json.loads((base / "EXPECTED.extracted.json").read_text(encoding="utf-8"))
    expectations: dict[str, str] = {}
    for group in data["find_signature"]:
        for name in group["inputs"]:
            expectations[name] = group["expected_signature"]
    for item in data["find_signature_line"]:
        expectations.setdefault(item["input"], item["signature"])
    for name, signature in sorted(expectations.items()):
        raw = (base / name).read_text(encoding="utf-8")
        parts = split_reply_html(raw) if name.endswith(".html") else split_reply(raw)
        # Zammad's signature (the part shared by all of a sender's mails) must be in
        # ours, and its first line must not have leaked into the reply
        first = next(line for line in signature.split("\n") if line.strip())
        met = _squash(signature) in _squash(parts.signature) and _squash(first) not in _squash(
            parts.reply
        )
        yield Outcome(name, met, f"signature {parts.signature[:60]!r}")


_CORPORA: dict[str, tuple[str, Callable[[Path], Iterator[Outcome]]]] = {
    "talon": ("talon", _talon_cases),
    "email_reply_parser": ("email_reply_parser", _erp_cases),
    "mail-parser-reply": ("mail-parser-reply", _mpr_cases),
    "zammad-signatures": ("zammad/test/data/email_signature_detection", _zammad_cases),
}


def test_corpus_counts_do_not_drop() -> None:
    root = _corpora()
    if not root.is_dir():
        pytest.skip(f"peer corpora not found at {root} (set HELPLINE_CORPORA)")
    counts: dict[str, dict[str, int]] = {}
    rows: list[str] = []
    for name, (folder, cases) in _CORPORA.items():
        if not (root / folder).is_dir():
            continue
        outcomes = list(cases(root))
        met = sum(o.met for o in outcomes)
        counts[name] = {"met": met, "total": len(outcomes)}
        rows.append(f"{name:<22}{met:>5} / {len(outcomes):<5}")
        rows += [f"    miss {o.name}: {o.why}" for o in outcomes if not o.met]
    print("\nquotes corpus: met / total\n" + "\n".join(rows))

    if os.environ.get("HELPLINE_UPDATE_BASELINE") == "1":
        _BASELINE.write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return
    baseline: dict[str, dict[str, int]] = json.loads(_BASELINE.read_text(encoding="utf-8"))
    drops = [
        f"{name}: {counts[name]['met']} < {base['met']}"
        for name, base in baseline.items()
        if name in counts and counts[name]["met"] < base["met"]
    ]
    assert not drops, "corpus counts dropped below the baseline: " + "; ".join(drops)
