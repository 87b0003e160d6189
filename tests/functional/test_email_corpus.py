"""Every mail in ../shared/corpora through email_ingest's real entry point.

Each must become a ticket or a follow-up, be recognised as a duplicate of one already
stored, or be quarantined with a named reason; none may crash the function, and each
outcome must be findable in the table afterwards (nothing lost).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.core.models import Channel
from tests.helpers import corpus

pytestmark = pytest.mark.corpus

SOURCES = {
    "zammad": ("zammad/test/data/mail", "*.box"),
    "chatwoot": ("chatwoot", "**/*.eml"),
    "cpython-email": ("cpython-email", "**/msg_*.txt"),
    "talon": ("talon", "**/*.eml"),
    "email_reply_parser": ("email_reply_parser/test/emails", "*.txt"),
}
NAMED_REASONS = {
    "virus", "spam", "own_loop", "bounce_unmatched", "no_sender", "unparseable", "too_large",
}  # fmt: skip


def _mails() -> list[tuple[str, Path]]:
    found = []
    for name, (folder, pattern) in SOURCES.items():
        root = corpus(folder)
        if root.is_dir():
            found += [(name, path) for path in sorted(root.glob(pattern)) if path.is_file()]
    return found


def test_every_corpus_mail_becomes_a_ticket_or_is_quarantined_with_a_reason(aws):
    mails = _mails()
    if not mails:
        pytest.skip(f"no corpora found under {corpus()} (set HELPLINE_CORPORA)")
    crashes: list[str] = []
    lost: list[str] = []
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    for index, (source, path) in enumerate(mails):
        name = f"{source}/{path.name}"
        try:
            outcome = aws.deliver(path.read_bytes(), received_at=start + timedelta(minutes=index))
        except Exception as exc:
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        outcomes[outcome["status"]] += 1
        if outcome["status"] == "quarantined":
            reasons[outcome["reason"]] += 1
            record = aws.store.get_quarantine(outcome["quarantine_id"])
            if record is None or outcome["reason"] not in NAMED_REASONS:
                lost.append(f"{name}: quarantined without a kept record or a named reason")
        elif outcome["status"] in ("created", "follow_up"):
            bundle = aws.store.ticket_bundle(outcome["ticket_id"])
            if bundle is None or outcome["message_id"] not in {m.id for m in bundle.messages}:
                lost.append(f"{name}: {outcome['status']} but its message is not on the ticket")
        elif outcome["status"] == "duplicate":
            if aws.store.get_ticket(outcome["ticket_id"]) is None:
                lost.append(f"{name}: a duplicate of nothing")
        else:
            lost.append(f"{name}: unexpected outcome {outcome}")
    print(f"\n{len(mails)} corpus mails: {dict(outcomes)}; quarantined: {dict(reasons)}")
    assert not crashes, "\n".join(crashes)
    assert not lost, "\n".join(lost)
    assert outcomes["created"] + outcomes["follow_up"] > len(mails) // 2
    assert aws.store.list_tickets(limit=1000)
    assert Channel.EMAIL  # every ticket here came through the email channel
