"""What the peer comparisons (bench/peers_*.py) share: finding the peers, timing, tables.

A peer is a third-party library a team would use instead of Helpline's own code. It is
measured only when it is installed (`pip install -e '.[bench]'`); a peer that is missing,
or installed but failing to import, is reported as such and never replaced by anything.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

COMMAND = "python -m bench --peers"
NOT_INSTALLED = "not installed"


@dataclass(frozen=True, slots=True)
class PeerStatus:
    name: str  # as the tables show it
    distribution: str  # the PyPI name
    version: str | None  # None: not installed
    problem: str = ""  # why it cannot be measured ("" when it can)

    @property
    def usable(self) -> bool:
        return self.version is not None and not self.problem

    @property
    def label(self) -> str:
        """`name version`, or what keeps it from being measured."""
        if self.version is None:
            return f"{self.name} ({NOT_INSTALLED})"
        if self.problem:
            return f"{self.name} {self.version} ({self.problem})"
        return f"{self.name} {self.version}"


def probe(name: str, distribution: str, module: str) -> PeerStatus:
    """Is the peer installed, and does it import on this Python?"""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return PeerStatus(name, distribution, None)
    try:
        importlib.import_module(module)
    except Exception as exc:  # a peer broken on this Python is a finding, not a crash
        return PeerStatus(name, distribution, version, f"cannot import: {type(exc).__name__}")
    return PeerStatus(name, distribution, version)


def helpline_status() -> PeerStatus:
    try:
        version = metadata.version("helpline")
    except metadata.PackageNotFoundError:
        version = "(source tree)"
    return PeerStatus("Helpline", "helpline", version)


def default_corpora() -> Path:
    """The corpora the tests read: $HELPLINE_CORPORA or ../shared/corpora."""
    from tests.helpers import CORPORA

    return CORPORA


@dataclass(frozen=True, slots=True)
class Timed:
    value: Any  # what the call returned (None when it raised)
    ns: int  # wall time of the call
    error: BaseException | None = None


def timed(call: Callable[[T], Any], argument: T) -> Timed:
    """Run one call, timing it; an exception is returned, not raised (a crash is a figure)."""
    start = time.perf_counter_ns()
    try:
        value = call(argument)
    except Exception as exc:
        return Timed(None, time.perf_counter_ns() - start, exc)
    return Timed(value, time.perf_counter_ns() - start)


def rotated(items: Sequence[T], turn: int) -> list[T]:
    """`items` starting at position `turn`: who goes first alternates from call to call,
    so no tool always runs with the caches another one just warmed."""
    if not items:
        return []
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, first_left: int = 1
) -> list[str]:
    """A Markdown table; the first `first_left` columns are left-aligned, the rest right."""
    align = ["---" if i < first_left else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# --------------------------------------------------------------------------- the section

BEGIN = (
    "<!-- peers: begin (bench/peers_*.py; `python -m bench --peers` rewrites this part alone) -->"
)
END = "<!-- peers: end -->"
_BEGIN_PREFIX = "<!-- peers: begin"  # found whatever the rest of the marker says
QUICK_PER_LANGUAGE = 100


def _say(text: str) -> None:
    print(text, flush=True)


def section(
    corpora: Path | None = None, *, quick: bool = False, log: Callable[[str], None] = _say
) -> str:
    """Run the three peer comparisons and return their Markdown, between markers."""
    from bench import peers_language, peers_mime, peers_quotes

    root = corpora or default_corpora()
    if not root.is_dir():
        body = f"## Peers\n\nNot measured: the corpora were not found at `{root}` (set HELPLINE_CORPORA).\n"
        return f"{BEGIN}\n{body}{END}\n"
    per_language = QUICK_PER_LANGUAGE if quick else peers_language.DEFAULT_PER_LANGUAGE
    rounds = 1 if quick else peers_mime.DEFAULT_ROUNDS
    log(f"peers: language detection ({per_language} items per language and kind) ...")
    language = peers_language.markdown(peers_language.run(root, per_language=per_language))
    log("peers: reply and quote stripping ...")
    quotes = peers_quotes.markdown(peers_quotes.run(root))
    log("peers: MIME parsing ...")
    mime = peers_mime.markdown(peers_mime.run(root, rounds=rounds))
    installs = (
        "Peers are measured when installed (`pip install -e '.[bench]'`, which `make bench` does);"
        ' one that is missing shows as "not installed".'
    )
    return "\n".join([BEGIN, installs, "", language, quotes, mime.rstrip("\n"), END]) + "\n"


def splice(document: str, peers: str) -> str:
    """`document` with its peers section replaced by `peers` (appended when it has none)."""
    start = document.find(_BEGIN_PREFIX)
    end = document.find(END, max(start, 0))
    if start == -1 or end < start:
        return document.rstrip("\n") + "\n\n" + peers
    rest = document[end + len(END) :].lstrip("\n")
    return document[:start] + peers + ("\n" + rest if rest else "")
