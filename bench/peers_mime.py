"""MIME parsing side by side: Helpline's `parse_mail` and mail-parser.

Mails: Zammad's `test/data/mail/mailNNN.box` that have the `mailNNN.yml` Zammad expects
from its own parser, and CPython's `Lib/test/test_email/data/msg_*.txt` (edge cases with
no expectation file: they count for crashes and time). Both tools read every mail in
the same run, taking turns going first; each mail is parsed `rounds` times per tool
and the median time kept.

Zammad's expectations are judged by tests/unit/test_mail_corpus.py's own checks
(imported: from_email, from_display_name, subject, to, cc, attachments, body). Those
read Helpline's `ParsedMail`, so mail-parser's result is mapped onto one the way an
intake built on it would do it:

* from: the first `from_` pair with an address (else the first); reply-to and to/cc
  from mail-parser's address lists; Sender (a plain header there) through the stdlib's
  `getaddresses`.
* text: the `text_plain` parts joined; when there is none, the visible text of the
  HTML parts (Helpline's `html_to_text`, as Helpline itself falls back); html: the
  `text_html` parts joined.
* attachments: mail-parser's payloads decoded as its own `write_attachments` does
  (base64 when `binary`, else UTF-8); one it cannot decode is left out, as it does.

A tool that raises on a mail misses every expectation of that mail and counts as a
crash; Helpline's `RejectedInput` (no mail at all) would be counted apart, as a refusal.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import yaml

from bench.peers_common import (
    COMMAND,
    PeerStatus,
    helpline_status,
    percent,
    probe,
    rotated,
    table,
    timed,
)
from functions.core.errors import RejectedInput
from functions.core.html import html_to_text
from functions.core.mime import Address, ParsedMail, parse_mail
from functions.core.models import Attachment
from tests.unit.test_mail_corpus import KEYS, _checks, _RubyLoader  # the test's own rules

ZAMMAD = ("zammad", "test", "data", "mail")
CPYTHON = ("cpython-email", "Lib", "test", "test_email", "data")
DEFAULT_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Parser:
    status: PeerStatus
    parse: Callable[[bytes], ParsedMail] | None  # None when it cannot be measured


# --------------------------------------------------------------------------- mail-parser


def _address(pair: Sequence[str]) -> Address:
    name, email = [*pair, "", ""][:2]
    return Address(email=str(email or "").strip(), name=str(name or "").strip())


def _addresses(pairs: Any) -> tuple[Address, ...]:
    return tuple(_address(pair) for pair in pairs or [] if pair)


def _attachment(item: dict[str, Any]) -> Attachment | None:
    from mailparser.utils import decode_base64_payload

    payload = item.get("payload") or ""
    try:
        content = (
            decode_base64_payload(payload)
            if item.get("binary")
            else payload.encode("utf-8", "surrogateescape")
        )
    except (ValueError, UnicodeError):
        return None  # write_attachments skips what it cannot decode
    return Attachment(
        filename=str(item.get("filename") or ""),
        content_type=str(item.get("mail_content_type") or "application/octet-stream"),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        content_id=str(item.get("content-id") or "") or None,
    )


def from_mail_parser(mail: Any) -> ParsedMail:
    """mail-parser's result as a `ParsedMail` (fields no check reads are left empty)."""
    senders = _addresses(mail.from_)
    from_ = next((a for a in senders if "@" in a.email), senders[0] if senders else None)
    sender_pairs = getaddresses([str(mail.sender or "")])
    sender = _address(sender_pairs[0]) if sender_pairs and sender_pairs[0][1] else None
    html = "\n".join(mail.text_html) if mail.text_html else None
    text = "\n".join(mail.text_plain)
    if not text.strip() and html is not None:
        text = html_to_text(html)
    attachments = tuple(a for a in map(_attachment, mail.attachments) if a is not None)
    return ParsedMail(
        message_id=str(mail.message_id or "") or None,
        from_=from_,
        reply_to=_addresses(mail.reply_to),
        sender=sender,
        to=_addresses(mail.to),
        cc=_addresses(mail.cc),
        subject=str(mail.subject or ""),
        date=None,
        in_reply_to=(),
        references=(),
        text=text,
        html=html,
        content_type="text/html" if html is not None else "text/plain",
        attachments=attachments,
        headers=(),
        bounce=None,
        defects=(),
    )


def mail_parser_parser() -> Parser:
    status = probe("mail-parser", "mail-parser", "mailparser")
    if not status.usable:
        return Parser(status, None)
    import mailparser

    # it logs a warning for every MIME part type it does not handle; they would flood
    # the bench's output, and what it makes of those parts is what the checks judge
    logging.getLogger("mailparser").setLevel(logging.ERROR)

    def parse(raw: bytes) -> ParsedMail:
        return from_mail_parser(mailparser.parse_from_bytes(raw))

    return Parser(status, parse)


def parsers() -> list[Parser]:
    return [Parser(helpline_status(), parse_mail), mail_parser_parser()]


# --------------------------------------------------------------------------- run


def zammad_cases(corpora: Path) -> list[tuple[Path, dict[str, Any]]]:
    folder = corpora.joinpath(*ZAMMAD)
    if not folder.is_dir():
        return []
    return [
        (box, yaml.load(box.with_suffix(".yml").read_text(encoding="utf-8"), Loader=_RubyLoader))
        for box in sorted(folder.glob("*.box"))
        if box.with_suffix(".yml").is_file()
    ]


def cpython_mails(corpora: Path) -> list[Path]:
    return sorted(corpora.joinpath(*CPYTHON).glob("msg_*.txt"))


@dataclass(frozen=True, slots=True)
class Parsed:
    mail: ParsedMail | None
    crashed: str  # the exception's type when it raised (not RejectedInput), else ""
    refused: bool  # RejectedInput
    seconds: float  # median of the rounds


def parse_timed(parse: Callable[[bytes], ParsedMail], raw: bytes, rounds: int) -> Parsed:
    times, last = [], None
    for _ in range(max(rounds, 1)):
        last = timed(parse, raw)
        times.append(last.ns / 1e9)
    assert last is not None
    error = last.error
    if isinstance(error, RejectedInput):
        return Parsed(None, "", True, statistics.median(times))
    if error is not None:
        return Parsed(None, type(error).__name__, False, statistics.median(times))
    return Parsed(last.value, "", False, statistics.median(times))


def _blank() -> dict[str, Any]:
    return {"mails": 0, "crashes": [], "refused": 0, "seconds": []}


def run(
    corpora: Path, *, rounds: int = DEFAULT_ROUNDS, contestants: Sequence[Parser] | None = None
) -> dict[str, Any]:
    entrants = list(contestants) if contestants is not None else parsers()
    live = [p for p in entrants if p.parse is not None]
    cases = zammad_cases(corpora)
    extra = cpython_mails(corpora)
    figures: dict[str, dict[str, Any]] = {
        p.status.label: {
            "zammad": _blank(),
            "cpython": _blank(),
            "met": dict.fromkeys(KEYS, 0),
            "misses": {key: [] for key in KEYS},
        }
        for p in live
    }
    totals = dict.fromkeys(KEYS, 0)
    for _box, expected in cases:
        for key in KEYS:
            totals[key] += key in expected
    for turn, (box, expected) in enumerate(cases):
        raw = box.read_bytes()
        for parser in rotated(live, turn):
            assert parser.parse is not None
            result = parse_timed(parser.parse, raw, rounds)
            entry = figures[parser.status.label]
            _count(entry["zammad"], result, box.name)
            met = _checks(expected, result.mail) if result.mail is not None else {}
            for key in KEYS:
                if key not in expected:
                    continue
                if met.get(key):
                    entry["met"][key] += 1
                else:
                    entry["misses"][key].append(box.stem)
    for turn, path in enumerate(extra):
        raw = path.read_bytes()
        for parser in rotated(live, turn):
            assert parser.parse is not None
            _count(
                figures[parser.status.label]["cpython"],
                parse_timed(parser.parse, raw, rounds),
                path.name,
            )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": rounds,
        "zammad_mails": len(cases),
        "cpython_mails": len(extra),
        "expectations": totals,
        "parsers": [{"label": p.status.label, "measured": p.parse is not None} for p in entrants],
        "figures": {
            label: {
                **entry,
                "zammad": _summary(entry["zammad"]),
                "cpython": _summary(entry["cpython"]),
            }
            for label, entry in figures.items()
        },
    }


def _count(tally: dict[str, Any], result: Parsed, name: str) -> None:
    tally["mails"] += 1
    tally["seconds"].append(result.seconds)
    tally["refused"] += result.refused
    if result.crashed:
        tally["crashes"].append(f"{name} ({result.crashed})")


def _summary(tally: dict[str, Any]) -> dict[str, Any]:
    seconds = tally["seconds"]
    return {
        "mails": tally["mails"],
        "crashes": tally["crashes"],
        "refused": tally["refused"],
        "ms_per_mail": 1000 * statistics.fmean(seconds) if seconds else 0.0,
        "ms_median": 1000 * statistics.median(seconds) if seconds else 0.0,
    }


# --------------------------------------------------------------------------- report


def markdown(result: dict[str, Any]) -> str:
    totals = result["expectations"]
    all_expected = sum(totals.values())
    lines = [
        "## Peers: MIME parsing",
        "",
        f"`{COMMAND}` (`bench/peers_mime.py`), {result['date']}.",
        "",
        f"Zammad's {result['zammad_mails']} mails that come with the parse Zammad expects",
        "(`mailNNN.box` + `.yml`), judged by the checks of tests/unit/test_mail_corpus.py, and",
        f"CPython's {result['cpython_mails']} `test_email` messages (no expectations: crashes and",
        "time). mail-parser's result is mapped onto Helpline's `ParsedMail` as an intake built",
        "on it would (the module docstring says how). Both parsers read each mail in the same",
        "run, taking turns going first; a mail's time is "
        + ("one parse." if result["rounds"] == 1 else f"the median of {result['rounds']} parses."),
        "",
    ]
    headers = [
        "parser",
        f"all ({all_expected})",
        *[f"{key} ({totals[key]})" for key in KEYS],
    ]
    rows = []
    for parser in result["parsers"]:
        if not parser["measured"]:
            rows.append([parser["label"], *["–"] * (len(KEYS) + 1)])
            continue
        entry = result["figures"][parser["label"]]
        met = entry["met"]
        rows.append(
            [
                parser["label"],
                f"**{percent(sum(met.values()), all_expected)}**",
                *[f"{met[key]} ({percent(met[key], totals[key])})" for key in KEYS],
            ]
        )
    lines += ["Zammad expectations met:", "", *table(headers, rows), ""]
    rows = []
    for parser in result["parsers"]:
        if not parser["measured"]:
            rows.append([parser["label"], "–", "–", "–", "–"])
            continue
        entry = result["figures"][parser["label"]]
        zammad, cpython = entry["zammad"], entry["cpython"]
        rows.append(
            [
                parser["label"],
                f"{len(zammad['crashes'])} / {zammad['mails']}",
                f"{zammad['ms_per_mail']:.2f} (median {zammad['ms_median']:.2f})",
                f"{len(cpython['crashes'])} / {cpython['mails']}",
                f"{cpython['ms_per_mail']:.2f} (median {cpython['ms_median']:.2f})",
            ]
        )
    lines += [
        "Crashes and time (ms per mail, mean over the mails):",
        "",
        *table(["parser", "Zammad crashes", "Zammad ms", "CPython crashes", "CPython ms"], rows),
    ]
    notes = []
    for parser in result["parsers"]:
        if not parser["measured"]:
            continue
        entry = result["figures"][parser["label"]]
        crashed = entry["zammad"]["crashes"] + entry["cpython"]["crashes"]
        if crashed:
            notes.append(f"- {parser['label']} raised on: " + ", ".join(crashed))
        refused = entry["zammad"]["refused"] + entry["cpython"]["refused"]
        if refused:
            notes.append(f"- {parser['label']} refused {refused} mails as holding no mail")
        missed = [f"{key}: {' '.join(names)}" for key, names in entry["misses"].items() if names]
        if missed and parser["label"].startswith("Helpline"):
            notes.append(f"- {parser['label']} misses: " + "; ".join(missed))
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
