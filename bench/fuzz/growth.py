"""Linear time, checked by ratio: the same code on an input of size n and of size 8n,
measured side by side in one process.

A linear parser takes about 8 times as long on the 8n input (a little more or less,
with caches and allocation); a quadratic one takes about 64 times as long. The check
never compares a time with a fixed number of seconds: the machine's speed cancels out
of the ratio. Times are CPU time of this process (`process_time`), so other processes
on a shared machine add little noise; each size is measured several times,
interleaved, and the fastest run of each is kept.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

FACTOR = 8
# linear code measures 7-12x side by side; quadratic 64x. 2.5x slack over linear
ALLOWED_RATIO = FACTOR * 2.5
_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Growth:
    small_size: int
    big_size: int
    small_seconds: float
    big_seconds: float

    @property
    def ratio(self) -> float:
        """How much longer the big input took (the size ratio is FACTOR for linear code)."""
        return self.big_seconds / max(self.small_seconds, 1e-7)

    @property
    def linear(self) -> bool:
        return self.ratio <= ALLOWED_RATIO

    def describe(self) -> str:
        return (
            f"{self.small_size} -> {self.big_size} bytes: {self.small_seconds * 1000:.2f} ms -> "
            f"{self.big_seconds * 1000:.2f} ms, {self.ratio:.1f}x (linear ~{FACTOR}x, "
            f"allowed {ALLOWED_RATIO:g}x)"
        )


def cpu_seconds(func: Callable[[], object]) -> float:
    """CPU time of one call, with the garbage collector paused around it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time()
        func()
        return time.process_time() - start
    finally:
        if enabled:
            gc.enable()


def measure(run: Callable[[bytes], object], small: bytes, big: bytes, *, repeat: int = 3) -> Growth:
    """The fastest of `repeat` interleaved runs on each input."""
    small_best = big_best = float("inf")
    for _ in range(repeat):
        small_best = min(small_best, cpu_seconds(lambda: run(small)))
        big_best = min(big_best, cpu_seconds(lambda: run(big)))
    return Growth(len(small), len(big), small_best, big_best)


def measure_confirmed(
    run: Callable[[bytes], object], small: bytes, big: bytes, *, repeat: int = 3
) -> Growth:
    """`measure`, and once more with more runs when the first looks super-linear, so a
    scheduling hiccup on a busy machine is not reported as a blowup."""
    first = measure(run, small, big, repeat=repeat)
    if first.linear:
        return first
    second = measure(run, small, big, repeat=repeat + 2)
    return min(first, second, key=lambda growth: growth.ratio)


def calibrated(
    run: Callable[[bytes], object],
    make: Callable[[int], bytes],
    *,
    start: int = 64,
    min_seconds: float = 0.004,
    max_units: int = 1 << 16,
) -> Growth:
    """Growth from `make(n)` to `make(FACTOR * n)`, with n doubled until the small input
    takes at least `min_seconds`: below that, timer resolution and call overhead would
    dominate the ratio."""
    units = start
    while units < max_units and cpu_seconds(partial(run, make(units))) < min_seconds:
        units *= 2
    return measure_confirmed(run, make(units), make(FACTOR * units))


def _repository_function(filename: str) -> str | None:
    path = Path(filename)
    if not path.is_absolute() or _REPO not in path.parents or ".venv" in path.parts:
        return None
    relative = path.relative_to(_REPO).as_posix()
    return relative if relative.startswith("functions/") else None


def hotspot(run: Callable[[bytes], object], data: bytes) -> str:
    """`path:function` of the repository function that spends the most time on `data`:
    its own time plus the time of the stdlib or third-party code it calls directly
    (`html_to_text` when the stdlib HTMLParser it drives is slow), as that caller is
    what to fix."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        run(data)
    except Exception:
        pass
    finally:
        profile.disable()
    raw = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    spent: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, own, _cum, callers) in raw.items():
        mine = _repository_function(filename)
        if mine is not None:
            key = f"{mine}:{function}"
            spent[key] = spent.get(key, 0.0) + own
            continue
        for (caller_file, _caller_line, caller_function), figures in callers.items():
            caller = _repository_function(caller_file)
            if caller is not None:
                key = f"{caller}:{caller_function}"
                spent[key] = spent.get(key, 0.0) + figures[3]
    return max(spent, key=spent.__getitem__) if spent else "(outside functions/)"
