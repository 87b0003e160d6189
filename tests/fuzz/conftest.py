"""Print the linear-time ratios measured in this run (`pytest tests/fuzz` shows them at
the end): each is the time on an 8x larger input divided by the time on the smaller one,
measured side by side, so about 8 is linear and the bound is bench.fuzz.growth's."""

from __future__ import annotations

from typing import Any

from bench.fuzz.growth import ALLOWED_RATIO, FACTOR
from tests.fuzz.support import GROWTH_RESULTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not GROWTH_RESULTS:
        return
    terminalreporter.section(
        f"input x{FACTOR}: time ratios (linear ~{FACTOR}, allowed {ALLOWED_RATIO:g})"
    )
    for label, measured in GROWTH_RESULTS:
        mark = "" if measured.linear else "   <-- super-linear"
        terminalreporter.write_line(
            f"{measured.ratio:7.1f}x  {label}  ({measured.small_size:,} -> {measured.big_size:,} bytes){mark}"
        )
