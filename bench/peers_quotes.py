"""Reply and quote stripping side by side, each tool on every tool's own fixtures.

Tools: Helpline (`functions.core.quotes.split_reply` / `split_reply_html`), talon
(`quotations.extract_from_plain` / `extract_from_html`, signatures by
`signature.bruteforce`), email_reply_parser (the Python port, `EmailReplyParser.read`)
and mail-parser-reply (`EmailReplyParser(languages=...).read`).

Fixture sets: talon's, email_reply_parser's and mail-parser-reply's expected results
as extracted in ../shared/corpora (`EXPECTED.extracted.json`; talon's split in plain
text and HTML). Which cases apply, and what "met" means for each expectation, is the
rule tests/unit/test_quotes_corpus.py applies to Helpline: the same functions, imported
from it, judge every tool. They read the three parts Helpline returns (reply, quoted,
signature), so each peer's output is first mapped onto those parts:

* talon: reply = what `extract_from_plain` keeps, less the signature
  `bruteforce.extract_signature` finds in it; quoted = the input lines it dropped. HTML:
  the visible text of what `extract_from_html` keeps.
* email_reply_parser: reply = its own `reply` (fragments neither hidden nor quoted);
  signature = the other signature fragments; quoted = everything else.
* mail-parser-reply: reply = `replies[0].body`; signature = `replies[0].signatures`
  and disclaimers; quoted = the later replies' `content`. Languages: what its own
  test passes for its fixtures; on the other sets every language it knows.

Comparison (one rule for every tool): texts are compared with whitespace normalized
(runs of blanks and newlines read as one space, ends trimmed); talon's HTML cases
compare visible text (Helpline's `html_to_text` on both sides, quote marks dropped)
with all whitespace removed, as talon's test does. A case whose test sets a time limit
(email_reply_parser's ReDoS probe and 767 kB quote: 1 s) is met only within it. A tool
that raises misses the case; a tool that cannot take the input (HTML for the
plain-text-only parsers) is reported as such, not counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from functions.core.html import html_to_text
from functions.core.quotes import ReplyParts, split_reply, split_reply_html
from tests.unit.test_quotes_corpus import (  # the test's rules, so the bench cannot drift from them
    _erp_check,
    _first_text_part,
    _joined,
    _mpr_check,
    _norm,
    _squash,
    _unquote,
)

SETS = ("talon (plain text)", "talon (HTML)", "email_reply_parser", "mail-parser-reply")
TIME_LIMIT_S = 1.0  # email_reply_parser's tests: read() must finish within 1 s
# a miss that is a choice, with the reason a reader of the report needs
WHY_HELPLINE_DIFFERS = {
    "test_swedish_simple_body": (
        "mail-parser-reply does not recognise the attribution `Den fre 28 feb. 2025"
        " 10:15Anna Andersson <...> skrev:` (no space after the time), so its test files the"
        " `>`-quoted message below it under the reply's signature and counts one message;"
        " Helpline reads the attribution and the quoted history as history, which is what"
        " an agent should not see as the customer's new text."
    ),
}
_WARM_UP = "Thanks!\n\nOn Mon, Jan 5, 2026 at 9:00 AM Ana <ana@example.com> wrote:\n> Hi"


@dataclass(frozen=True, slots=True)
class Case:
    fixture_set: str
    name: str
    text: str
    html: bool
    check: Callable[[ReplyParts], str]  # "" when every expectation is met, else the first miss
    languages: tuple[str, ...] = ()  # what the owner's test configured (mail-parser-reply)
    time_limit_s: float | None = None


@dataclass(frozen=True, slots=True)
class Tool:
    status: PeerStatus
    plain: Callable[[str, tuple[str, ...]], ReplyParts] | None
    html: Callable[[str], ReplyParts] | None
    setup: str = ""  # what was called, for the table


# --------------------------------------------------------------------------- comparison


def same_text(got: str, want: str) -> bool:
    """Equal once whitespace is normalized (how plain-text expectations are compared)."""
    return _norm(got) == _norm(want)


def same_visible_html_text(got: str, want: str) -> bool:
    """Equal once quote marks and all whitespace are gone (talon's HTML comparison)."""
    return _squash(_unquote(got)) == _squash(_unquote(want))


def _equals_joined(expected: str) -> Callable[[ReplyParts], str]:
    def check(parts: ReplyParts) -> str:
        got = _joined(parts)
        return "" if same_text(got, expected) else f"got {_norm(got)[:70]!r}"

    return check


def _equals_joined_html(expected_text: str) -> Callable[[ReplyParts], str]:
    def check(parts: ReplyParts) -> str:
        got = _joined(parts)
        return "" if same_visible_html_text(got, expected_text) else f"got {_squash(got)[:70]!r}"

    return check


def _kept_without_headers(parts: ReplyParts) -> str:
    got = _joined(parts)
    return "" if got.strip() and "From" not in got else f"got {got[:70]!r}"


# --------------------------------------------------------------------------- cases


def _talon_cases(root: Path) -> Iterator[Case]:
    """talon's cases, chosen and read exactly as tests/unit/test_quotes_corpus.py does."""
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
            want = expected if "html_to_text" in function else html_to_text(expected)
            yield Case(SETS[1], name, source, True, _equals_joined_html(want))
        elif expected is None:
            yield Case(SETS[0], name, source, False, _kept_without_headers)
        else:
            yield Case(SETS[0], name, source, False, _equals_joined(expected))


def _erp_cases(root: Path) -> Iterator[Case]:
    base = root / "email_reply_parser"
    data = json.loads((base / "EXPECTED.extracted.json").read_text(encoding="utf-8"))
    for case in data["cases"]:
        if case["fixture"]:
            raw = (base / "test" / "emails" / case["fixture"]).read_bytes()
            text = raw.decode("utf-8", "replace")
        else:
            text = case["input"]
        check = _erp_case_check(case)
        limit = TIME_LIMIT_S if case.get("performance") else None
        yield Case(SETS[2], case["test"], text, False, check, time_limit_s=limit)


def _erp_case_check(case: dict[str, Any]) -> Callable[[ReplyParts], str]:
    def check(parts: ReplyParts) -> str:
        problem: str = _erp_check(case, parts)
        if case["fixture"] == "email_long_quote.txt" and not parts.reply.startswith("Hi folks"):
            problem = problem or "long quote: reply lost"
        return problem

    return check


def _mpr_cases(root: Path) -> Iterator[Case]:
    base = root / "mail-parser-reply"
    data = json.loads((base / "EXPECTED.extracted.json").read_text(encoding="utf-8"))
    for case in data["cases"]:
        if case.get("setup"):
            continue  # custom parser options (keep_hyphen_lists): no equivalent
        text = (base / case["fixture"]).read_text(encoding="utf-8")
        languages = tuple(case.get("languages") or ())
        yield Case(SETS[3], case["test"], text, False, _mpr_case_check(case), languages)


def _mpr_case_check(case: dict[str, Any]) -> Callable[[ReplyParts], str]:
    def check(parts: ReplyParts) -> str:
        problem: str = _mpr_check(case, parts)
        return problem

    return check


def load_cases(corpora: Path) -> list[Case]:
    cases: list[Case] = []
    for folder, reader in (
        ("talon", _talon_cases),
        ("email_reply_parser", _erp_cases),
        ("mail-parser-reply", _mpr_cases),
    ):
        if (corpora / folder / "EXPECTED.extracted.json").is_file():
            cases += reader(corpora)
    return cases


# --------------------------------------------------------------------------- tools


def _dropped_lines(original: str, kept: str) -> str:
    """The lines of `original` that are not in `kept` (for tools that only return the
    kept text): what they took to be the quotation."""
    kept_lines = {line.strip() for line in kept.splitlines() if line.strip()}
    lines = original.replace("\r\n", "\n").split("\n")
    return "\n".join(line for line in lines if line.strip() and line.strip() not in kept_lines)


def helpline_tool() -> Tool:
    return Tool(
        helpline_status(),
        lambda text, _languages: split_reply(text),
        split_reply_html,
        "`split_reply`, `split_reply_html`",
    )


def talon_tool() -> Tool:
    status = probe("talon", "talon", "talon.quotations")
    if not status.usable:
        return Tool(status, None, None)
    import talon
    from talon import quotations

    talon.init()
    # as talon's README imports it; `talon.signature` itself (the ML extractor) fails
    # to import with scikit-learn >= 0.23, which talon's __init__ tolerates
    from talon.signature.bruteforce import extract_signature

    def plain(text: str, _languages: tuple[str, ...]) -> ReplyParts:
        kept = quotations.extract_from_plain(text)
        reply, signature = extract_signature(kept)
        return ReplyParts(reply, _dropped_lines(text, kept), signature or "")

    def html(source: str) -> ReplyParts:
        kept = html_to_text(quotations.extract_from_html(source))
        return ReplyParts(kept, _dropped_lines(html_to_text(source), kept), "")

    ml = "available, not used" if talon.ML_ENABLED else "does not import with this scikit-learn"
    setup = f"`extract_from_plain`/`_html`; brute-force signatures (its ML extractor: {ml})"
    return Tool(status, plain, html, setup)


def email_reply_parser_tool() -> Tool:
    status = probe("email_reply_parser", "email-reply-parser", "email_reply_parser")
    if not status.usable:
        return Tool(status, None, None)
    from email_reply_parser import EmailReplyParser

    def plain(text: str, _languages: tuple[str, ...]) -> ReplyParts:
        message = EmailReplyParser.read(text)
        reply = message.reply  # its own answer: fragments neither hidden nor quoted
        shown = [f for f in message.fragments if not (f.hidden or f.quoted)]
        signature = [f.content for f in message.fragments if f.signature and f not in shown]
        rest = [
            f.content
            for f in message.fragments
            if f not in shown and not f.signature and f.content.strip()
        ]
        return ReplyParts(reply, "\n".join(rest), "\n".join(signature))

    return Tool(status, plain, None, "`EmailReplyParser.read`; plain text only")


def mail_parser_reply_tool() -> Tool:
    status = probe("mail-parser-reply", "mail-parser-reply", "mailparser_reply")
    if not status.usable:
        return Tool(status, None, None)
    from mailparser_reply import EmailReplyParser
    from mailparser_reply.constants import MAIL_LANGUAGES

    every_language = tuple(MAIL_LANGUAGES)

    def plain(text: str, languages: tuple[str, ...]) -> ReplyParts:
        parser = EmailReplyParser(languages=list(languages or every_language))
        replies = parser.read(text).replies
        if not replies:
            return ReplyParts("", "", "")
        first = replies[0]
        signature = "\n".join([first.signatures, *first.disclaimers]).strip()
        quoted = "\n\n".join(reply.content for reply in replies[1:])
        return ReplyParts(first.body, quoted, signature)

    setup = (
        "`EmailReplyParser(languages=...).read`: its own test's languages on its fixtures,"
        f" all {len(every_language)} it knows elsewhere; plain text only"
    )
    return Tool(status, plain, None, setup)


def tools() -> list[Tool]:
    return [helpline_tool(), talon_tool(), email_reply_parser_tool(), mail_parser_reply_tool()]


# --------------------------------------------------------------------------- run


@dataclass(frozen=True, slots=True)
class Verdict:
    met: bool | None  # None: the tool cannot take this input
    why: str
    seconds: float


def judge(tool: Tool, case: Case) -> Verdict:
    """Run one tool on one case and judge its output by the case's rule."""
    if case.html:
        if tool.html is None:
            return Verdict(None, "no HTML input", 0.0)
        result = timed(tool.html, case.text)
    else:
        if tool.plain is None:
            return Verdict(None, "not measured", 0.0)
        plain = tool.plain
        result = timed(lambda text: plain(text, case.languages), case.text)
    seconds = result.ns / 1e9
    if result.error is not None:
        return Verdict(False, f"raised {type(result.error).__name__}", seconds)
    problem = case.check(result.value)
    if not problem and case.time_limit_s is not None and seconds > case.time_limit_s:
        problem = f"took {seconds:.2f} s (limit {case.time_limit_s:g} s)"
    return Verdict(not problem, problem, seconds)


def run(corpora: Path, *, contestants: Sequence[Tool] | None = None) -> dict[str, Any]:
    """Every tool on every case; counts per fixture set and tool, with the misses."""
    cases = load_cases(corpora)
    entrants = list(contestants) if contestants is not None else tools()
    warm_up = Case("", "warm-up", _WARM_UP, False, lambda _parts: "")
    for tool in entrants:  # first-call costs (compiling patterns) are not a fixture's
        judge(tool, warm_up)
    figures: dict[str, dict[str, dict[str, Any]]] = {
        tool.status.label: {
            name: {"met": 0, "total": 0, "cannot_take": 0, "seconds": 0.0, "misses": []}
            for name in SETS
        }
        for tool in entrants
    }
    for turn, case in enumerate(cases):
        for tool in rotated(entrants, turn):
            verdict = judge(tool, case)
            cell = figures[tool.status.label][case.fixture_set]
            if verdict.met is None:
                cell["cannot_take"] += 1
                continue
            cell["total"] += 1
            cell["seconds"] += verdict.seconds
            if verdict.met:
                cell["met"] += 1
            else:
                cell["misses"].append(f"{case.name}: {verdict.why}")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cases": {name: sum(1 for c in cases if c.fixture_set == name) for name in SETS},
        "tools": [
            {"label": tool.status.label, "measured": tool.plain is not None, "setup": tool.setup}
            for tool in entrants
        ],
        "figures": figures,
    }


# --------------------------------------------------------------------------- report


def _cell(cell: dict[str, Any], measured: bool) -> str:
    if not measured:
        return "–"
    if cell["total"] == 0:
        return "cannot take HTML" if cell["cannot_take"] else "–"
    return f"{cell['met']} / {cell['total']} ({percent(cell['met'], cell['total'])})"


def markdown(result: dict[str, Any]) -> str:
    sets = [name for name in SETS if result["cases"][name]]
    lines = [
        "## Peers: reply and quote stripping",
        "",
        f"`{COMMAND}` (`bench/peers_quotes.py`), {result['date']}.",
        "",
        "Each tool on each tool's own fixtures (../shared/corpora, `EXPECTED.extracted.json`),",
        "judged by one rule: the cases and checks of tests/unit/test_quotes_corpus.py, with each",
        "peer's output mapped onto Helpline's three parts, reply, quoted and signature (the",
        "module docstring says how). Texts are compared with whitespace normalized (runs of",
        "spaces and newlines read as one space) and without the rule lines that may close",
        "them: the peers put the rule above an Outlook header on different sides of the cut",
        "(on the same mail, email_2_1.txt, in both corpora, email_reply_parser's test wants",
        "the reply without it, mail-parser-reply's with it). talon's HTML cases compare the visible text",
        "with all whitespace removed, as talon's own test does. A case whose test sets a time",
        "limit (email_reply_parser's ReDoS probe and 767 kB quote: 1 s) is met only within it.",
        "",
        "Expectations met / cases:",
        "",
    ]
    everything = sum(result["cases"][name] for name in sets)
    headers = [
        "tool",
        "set up",
        *[f"{name} ({result['cases'][name]})" for name in sets],
        f"all sets ({everything})",
    ]
    rows = []
    for tool in result["tools"]:
        cells = result["figures"][tool["label"]]
        met = _met_everywhere(result, tool["label"], sets)
        rows.append(
            [
                tool["label"],
                tool["setup"] or "–",
                *[_cell(cells[name], tool["measured"]) for name in sets],
                f"{met} / {everything} ({percent(met, everything)})" if tool["measured"] else "–",
            ]
        )
    lines += table(headers, rows, first_left=2)
    lines += [
        "",
        "All sets: every case of the four sets; a case a tool cannot take (HTML for the",
        "plain-text tools) counts as not met, since that mail's reply is not separated.",
    ]
    lines += ["", "Mean ms per case:", ""]
    rows = []
    for tool in result["tools"]:
        if not tool["measured"]:
            continue
        cells = result["figures"][tool["label"]]
        rows.append(
            [
                tool["label"],
                *[
                    f"{1000 * cells[name]['seconds'] / cells[name]['total']:.2f}"
                    if cells[name]["total"]
                    else "–"
                    for name in sets
                ],
            ]
        )
    lines += table(["tool", *sets], rows)
    misses = [
        f"- {tool['label']}, {name}: " + "; ".join(result["figures"][tool["label"]][name]["misses"])
        for tool in result["tools"]
        for name in sets
        if tool["label"].startswith("Helpline") and result["figures"][tool["label"]][name]["misses"]
    ]
    if misses:
        lines += ["", "Helpline's misses:", "", *misses]
        explained = [
            f"- {name}: {why}"
            for name, why in WHY_HELPLINE_DIFFERS.items()
            if any(name in miss for miss in misses)
        ]
        if explained:
            lines += [
                "",
                "Where Helpline differs from a peer's expectation on purpose:",
                "",
                *explained,
            ]
    lines += ["", *_reading(result, sets)]
    return "\n".join(lines) + "\n"


def _reading(result: dict[str, Any], sets: list[str]) -> list[str]:
    """Helpline's share of expectations met against the best measured peer's, per set."""
    measured = [t["label"] for t in result["tools"] if t["measured"]]
    ours = next((label for label in measured if label.startswith("Helpline")), None)
    peers = [label for label in measured if label != ours]
    if ours is None or not peers:
        return ["No peer measured: nothing to compare Helpline's figures with."]
    lines = []
    everything = sum(result["cases"][name] for name in sets)
    best = max(peers, key=lambda label: _met_everywhere(result, label, sets))
    mine, theirs = _met_everywhere(result, ours, sets), _met_everywhere(result, best, sets)
    lines.append(
        f"- All sets: Helpline ({percent(mine, everything)}) is "
        f"{'at or above' if mine >= theirs else 'below'} the best peer "
        f"({best}, {percent(theirs, everything)})."
    )
    for name in sets:
        best = max(peers, key=lambda label: _met_share(result, label, name))
        mine, theirs = _met_share(result, ours, name), _met_share(result, best, name)
        verdict = "at or above" if mine >= theirs else "below"
        lines.append(
            f"- {name}: Helpline ({100 * mine:.1f}%) is {verdict} the best peer "
            f"({best}, {100 * theirs:.1f}%)."
        )
    return lines


def _met_everywhere(result: dict[str, Any], label: str, sets: list[str]) -> int:
    return sum(int(result["figures"][label][name]["met"]) for name in sets)


def _met_share(result: dict[str, Any], label: str, fixture_set: str) -> float:
    """Share of the cases met; -1 where the tool could not take any of them."""
    cell = result["figures"][label][fixture_set]
    return int(cell["met"]) / int(cell["total"]) if cell["total"] else -1.0
