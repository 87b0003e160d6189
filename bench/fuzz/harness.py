"""The atheris driver every bench/fuzz/fuzz_<target>.py runs.

One input, three checks, each a finding when it fails:

1. crash: `target.run(data)` raised something other than what the target allows
   (see targets.py), or broke its contract;
2. slow: one input took more than `SLOW_CPU_SECONDS` of CPU (an interval timer on the
   process's CPU time interrupts it, so the traceback shows where it was stuck);
3. super-linear: for one input in eight (chosen by content), the input made 8x larger
   (`target.amplify`) is timed; when that takes long enough to matter, both sizes are
   measured side by side (bench/fuzz/growth.py) and a ratio far above 8x is a finding
   named after the repository function that spent the time.

A finding is written to `$HELPLINE_FUZZ_FINDINGS` (one JSON line, with the input
saved beside it) and then raised, so libFuzzer stops and records the input too.
Signatures listed in `$HELPLINE_FUZZ_KNOWN` are not raised again: bench/fuzz/report.py
restarts a harness after each new finding with it added, so one budget can find
several different bugs instead of the same one over and over.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from bench.fuzz import growth

if TYPE_CHECKING:
    from bench.fuzz.targets import Target

ENV_FINDINGS = "HELPLINE_FUZZ_FINDINGS"
ENV_KNOWN = "HELPLINE_FUZZ_KNOWN"
ENV_ARTIFACTS = "HELPLINE_FUZZ_ARTIFACTS"
SLOW_CPU_SECONDS = 3.0  # far above any linear run on max_len bytes, even instrumented
AMPLIFIED_CPU_SECONDS = 20.0
WORTH_MEASURING = 0.25  # CPU seconds of the 8x input below which no blowup matters


class SlowInput(BaseException):
    """One input used more CPU than a linear parser could need. A BaseException, so the
    product's own `except Exception` fallbacks (mime tries a second email policy after
    any error) cannot swallow the interruption and carry on unbounded."""


class SuperLinearInput(Exception):
    """8x the input took far more than 8x the time."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


def _on_cpu_limit(signum: int, frame: FrameType | None) -> None:
    raise SlowInput(f"more than the CPU limit on one input (signal {signum})")


def _limited(run: Callable[[bytes], None], data: bytes, seconds: float) -> None:
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        run(data)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _known() -> set[str]:
    path = os.environ.get(ENV_KNOWN)
    if not path or not Path(path).is_file():
        return set()
    return set(json.loads(Path(path).read_text(encoding="utf-8")))


def _record(target: Target, kind: str, exc: BaseException, data: bytes, detail: str = "") -> str:
    """Append the finding to the findings file and save its input; returns the signature."""
    from bench.fuzz.targets import signature

    found = signature(exc)
    findings = os.environ.get(ENV_FINDINGS)
    if not findings:
        return found
    artifacts = Path(os.environ.get(ENV_ARTIFACTS) or Path(findings).parent)
    artifacts.mkdir(parents=True, exist_ok=True)
    input_path = artifacts / f"{target.name}-{hashlib.sha1(data).hexdigest()[:16]}.bin"
    input_path.write_bytes(data)
    lines = traceback.format_exception(exc)
    entry = {
        "target": target.name,
        "kind": kind,
        "signature": found,
        "exception": f"{type(exc).__name__}: {str(exc)[:500]}",
        "traceback": "".join(lines[-12:])[-4000:],
        "input": str(input_path),
        "input_size": len(data),
        "input_head": data[:200].decode("latin-1"),
        "detail": detail,
    }
    with open(findings, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    return found


def _check_growth(target: Target, data: bytes) -> None:
    """Time the 8x input once; only when that is long enough to matter, time both sizes
    side by side (the big one at most twice more: a blowup can take a while)."""
    assert target.amplify is not None
    big = target.amplify(data)

    def limited(sample: bytes) -> None:
        _limited(target.run, sample, AMPLIFIED_CPU_SECONDS)

    big_seconds = growth.cpu_seconds(lambda: limited(big))
    if big_seconds < WORTH_MEASURING:
        return
    small_seconds = min(growth.cpu_seconds(lambda: limited(data)) for _ in range(3))
    measured = growth.Growth(len(data), len(big), small_seconds, big_seconds)
    for _ in range(2):
        if measured.linear:
            return
        big_seconds = min(big_seconds, growth.cpu_seconds(lambda: limited(big)))
        measured = growth.Growth(len(data), len(big), small_seconds, big_seconds)
    if measured.linear:
        return
    where = growth.hotspot(limited, big)
    raise SuperLinearInput(f"8x the input: {measured.describe()}", where)


def one_input(target: Target, known: set[str]) -> Callable[[bytes], None]:
    from bench.fuzz.targets import sampled, signature

    def test_one_input(data: bytes) -> None:
        try:
            _limited(target.run, data, SLOW_CPU_SECONDS)
        except (Exception, SlowInput) as exc:
            kind = "slow" if isinstance(exc, SlowInput) else "crash"
            if signature(exc) in known:
                return
            _record(target, kind, exc, data)
            raise
        if target.amplify is None or not sampled(data):
            return
        try:
            _check_growth(target, data)
        except (Exception, SlowInput) as exc:
            if signature(exc) in known:
                return
            kind = "superlinear" if isinstance(exc, SuperLinearInput | SlowInput) else "crash"
            _record(target, kind, exc, data, detail="on the input amplified 8x")
            raise

    return test_one_input


# what coverage is collected from: the product, and the stdlib and third-party parsers
# it drives (the stdlib email package, html.parser, PyYAML). Instrumenting every loaded
# module instead (atheris.instrument_all) takes a minute per harness start.
INSTRUMENTED = ("functions", "email", "html", "yaml")


def main(name: str, argv: list[str] | None = None) -> None:
    """Fuzz one target with libFuzzer's command line (`-max_total_time=60 corpus/`)."""
    import atheris

    already = sorted(m for m in INSTRUMENTED if m in sys.modules)
    with atheris.instrument_imports(include=INSTRUMENTED):
        from bench.fuzz.targets import TARGETS
    if already:
        print(
            f"INFO: imported before instrumentation, not instrumented: {already}", file=sys.stderr
        )
    target = TARGETS[name]
    if target.setup is not None:
        target.setup()  # before the CPU limit is armed: building a world takes seconds
    known = _known()
    signal.signal(signal.SIGPROF, _on_cpu_limit)
    atheris.Setup(list(argv if argv is not None else sys.argv), one_input(target, known))
    atheris.Fuzz()
