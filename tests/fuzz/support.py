"""What the fuzz tests share: real seeds, mutations of them, the contract check, and
the linear-time check whose ratios the session prints at the end.

The contract is bench/fuzz/targets.py's, so the atheris harnesses and these tests
check the same thing. A finding already reproduced in tests/fuzz/test_found.py (an
xfail-strict test the lead turns green by fixing the product) is tolerated here by its
signature, so one known bug does not hide every other property behind a red test;
when it is fixed, its test_found entry XPASSes and must be deleted together with its
line in KNOWN_FINDINGS.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import cache

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bench.fuzz import growth
from bench.fuzz.targets import TARGETS, signature

# signature -> the test in test_found.py that reproduces it
KNOWN_FINDINGS: dict[str, str] = {}  # every finding so far is fixed

# hypothesis settings for the whole folder: bounded so `make test` stays quick
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MANY = settings(FAST, max_examples=100)

GROWTH_RESULTS: list[tuple[str, growth.Growth]] = []  # printed by conftest.py


def check(target: str, data: bytes) -> None:
    """Run the target's contract on `data`; a known finding is tolerated."""
    try:
        TARGETS[target].run(data)
    except Exception as exc:
        if signature(exc) in KNOWN_FINDINGS:
            return
        raise


@cache
def _seeds(target: str, limit: int) -> tuple[bytes, ...]:
    return tuple(dict.fromkeys(seed[:limit] for seed in TARGETS[target].seeds()))


def seeds(target: str, limit: int = 16 * 1024) -> tuple[bytes, ...]:
    """The target's real inputs, cut to `limit` bytes (large mails slow every example);
    skips the test when there are none (its corpus is absent)."""
    found = _seeds(target, limit)
    if not found:
        pytest.skip(
            f"no seed inputs for {target}: ../shared/corpora is absent (set HELPLINE_CORPORA)"
        )
    return found


@cache
def words(target: str) -> tuple[bytes, ...]:
    return tuple(TARGETS[target].words()) or (b"\n",)


def _mutate(data: bytes, rng: random.Random, vocabulary: Sequence[bytes], other: bytes) -> bytes:
    """One libFuzzer-like edit: a flipped byte, a token, a cut, a copy or a splice."""
    buffer = bytearray(data)
    size = len(buffer)
    at = rng.randrange(size + 1)
    choice = rng.randrange(7)
    if choice == 0 and size:
        buffer[min(at, size - 1)] ^= 1 << rng.randrange(8)
    elif choice == 1:
        buffer[at:at] = rng.choice(vocabulary)
    elif choice == 2 and size:
        del buffer[at : at + rng.randrange(1, 64)]
    elif choice == 3 and size:
        chunk = bytes(buffer[at : at + rng.randrange(1, 256)])
        buffer[at:at] = chunk * rng.randrange(1, 4)
    elif choice == 4:
        start = rng.randrange(len(other) + 1)
        buffer[at:at] = other[start : start + rng.randrange(1, 512)]
    elif choice == 5 and size:
        buffer[at : at + rng.randrange(1, 16)] = rng.randbytes(rng.randrange(0, 16))
    else:
        buffer = buffer[: rng.randrange(size + 1)]
    return bytes(buffer)


def mutated(target: str, *, most: int = 8) -> st.SearchStrategy[bytes]:
    """Real inputs of the target with up to `most` random edits; the edits are drawn
    from a seeded generator so a failing example shrinks to its seed and edit count."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        pool = seeds(target)  # looked up when drawn, so a missing corpus skips the test
        vocabulary = words(target)
        data = draw(st.sampled_from(pool))
        other = draw(st.sampled_from(pool))
        rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
        for _ in range(draw(st.integers(min_value=0, max_value=most))):
            data = _mutate(data, rng, vocabulary, other)
        return data

    return build()


def token_soup(target: str, *, max_size: int = 60) -> st.SearchStrategy[bytes]:
    """Inputs built from the target's dictionary words and random bytes."""
    pieces = st.one_of(st.sampled_from(words(target)), st.binary(max_size=12))
    return st.lists(pieces, max_size=max_size).map(b"".join)


def assert_linear(
    label: str, run: Callable[[bytes], object], make: Callable[[int], bytes], *, start: int = 64
) -> growth.Growth:
    """`run` on make(n) and make(8n) side by side: the time ratio must stay near 8x."""
    measured = growth.calibrated(run, make, start=start)
    GROWTH_RESULTS.append((label, measured))
    assert measured.linear, f"{label}: super-linear, {measured.describe()}"
    return measured


def assert_linear_between(
    label: str, run: Callable[[bytes], object], small: bytes, big: bytes
) -> growth.Growth:
    """Like assert_linear, for two given inputs (a real one and its 8x larger whole)."""
    measured = growth.measure_confirmed(run, small, big)
    GROWTH_RESULTS.append((label, measured))
    assert measured.linear, f"{label}: super-linear, {measured.describe()}"
    return measured


def assert_superlinear_is_gone(
    label: str, run: Callable[[bytes], object], small: bytes, big: bytes
) -> None:
    """For test_found.py: a known blowup measured side by side (the small input three
    times, the slow big one once: its ratio is far above the bound), failing while the
    blowup is there."""
    small_seconds = min(growth.cpu_seconds(lambda: run(small)) for _ in range(3))
    big_seconds = growth.cpu_seconds(lambda: run(big))
    measured = growth.Growth(len(small), len(big), small_seconds, big_seconds)
    GROWTH_RESULTS.append((f"[known] {label}", measured))
    assert measured.linear, f"{label}: super-linear, {measured.describe()}"
