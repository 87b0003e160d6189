"""The fuzzing machinery itself (bench/fuzz): what a harness does with a crash, a slow
input and a super-linear one, how the runner reads libFuzzer and shares the budget,
and what the BENCHMARKS.md section says. Runs without atheris: the harness's
per-input function is plain Python, and libFuzzer's output is text."""

from __future__ import annotations

import json
import signal
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.fuzz import harness, report
from bench.fuzz.targets import TARGETS, Target, repeat_json, sampled, signature
from tests.fuzz.support import FAST


def _target(run: Any, *, amplify: Any = None) -> Target:
    return Target("probe", "probe.run", "nothing", run, lambda: [b"x"], amplify, 1024, 1.0)


@pytest.fixture
def findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "findings.jsonl"
    monkeypatch.setenv(harness.ENV_FINDINGS, str(path))
    monkeypatch.setenv(harness.ENV_ARTIFACTS, str(tmp_path))
    previous = signal.signal(signal.SIGPROF, harness._on_cpu_limit)
    try:
        yield path
    finally:
        signal.signal(signal.SIGPROF, previous)


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _unsampled(prefix: bytes) -> bytes:
    return next(prefix + bytes([i]) for i in range(256) if not sampled(prefix + bytes([i])))


def _sampled(prefix: bytes) -> bytes:
    return next(
        prefix + i.to_bytes(2, "big")
        for i in range(65536)
        if zlib.crc32(prefix + i.to_bytes(2, "big")) % 8 == 0
    )


def test_a_new_crash_is_recorded_with_its_input_and_raised(findings: Path) -> None:
    def run(data: bytes) -> None:
        raise ValueError("boom")

    data = _unsampled(b"mail")
    with pytest.raises(ValueError):
        harness.one_input(_target(run), known=set())(data)
    (row,) = _rows(findings)
    assert row["kind"] == "crash"
    assert row["signature"] == "ValueError at (outside functions/)"
    assert Path(row["input"]).read_bytes() == data
    assert "boom" in row["exception"]


def test_a_known_crash_is_not_raised_again(findings: Path) -> None:
    def run(data: bytes) -> None:
        raise ValueError("boom")

    harness.one_input(_target(run), known={"ValueError at (outside functions/)"})(
        _unsampled(b"mail")
    )
    assert not findings.exists()


def test_an_input_stuck_in_a_loop_is_interrupted_as_slow(
    findings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "SLOW_CPU_SECONDS", 0.05)

    def run(data: bytes) -> None:
        while True:
            pass

    with pytest.raises(harness.SlowInput):
        harness.one_input(_target(run), known=set())(_unsampled(b"loop"))
    (row,) = _rows(findings)
    assert row["kind"] == "slow"


def test_a_quadratic_target_is_reported_as_super_linear(
    findings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "WORTH_MEASURING", 0.01)

    def run(data: bytes) -> None:
        for i in range(len(data)):
            for _ in range(i):
                pass

    data = _sampled(b"q" * 300)
    with pytest.raises(harness.SuperLinearInput) as caught:
        harness.one_input(_target(run, amplify=lambda d: d * 8), known=set())(data)
    assert "8x the input" in str(caught.value)
    (row,) = _rows(findings)
    assert row["kind"] == "superlinear"
    assert row["detail"] == "on the input amplified 8x"


def test_a_linear_target_passes_the_growth_check(
    findings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "WORTH_MEASURING", 0.005)

    def run(data: bytes) -> None:
        for _ in range(len(data) * 20):
            pass

    harness.one_input(_target(run, amplify=lambda d: d * 8), known=set())(_sampled(b"l" * 20_000))
    assert not findings.exists()


def test_signature_names_the_product_function_not_the_line() -> None:
    from functions.core.config import parse_config
    from functions.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config("version: [", holidays={})
    assert signature(caught.value) == "ConfigError at functions/core/config.py:parse_config"


@FAST
@given(
    body=st.recursive(
        st.none() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_json_amplification_is_at_most_eight_times_larger(body: Any) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert len(repeat_json(raw)) <= 8 * len(raw)


LIBFUZZER_OUTPUT = """INFO: Seed: 1620405271
#169	INITED cov: 1537 ft: 5635 corp: 135/503Kb exec/s: 84 rss: 62Mb
#2048	pulse  cov: 1660 ft: 7988 corp: 418/1334Kb lim: 16384 exec/s: 89 rss: 66Mb
#3795	DONE   cov: 1688 ft: 8504 corp: 522/1629Kb lim: 16384 exec/s: 92 rss: 67Mb
Done 3795 runs in 41 second(s)
stat::number_of_executed_units: 3795
stat::average_exec_per_sec:     92
stat::peak_rss_mb:              67
"""


def test_libfuzzer_figures_are_read() -> None:
    figures = report._parse_output(LIBFUZZER_OUTPUT)
    assert figures == {
        "executions": 3795,
        "coverage": 1688,
        "features": 8504,
        "corpus": 522,
        "peak_rss_mb": 67,
    }


def test_libfuzzer_stops_the_harness_cannot_record_are_named() -> None:
    assert report._unswallowable("==1== ERROR: libFuzzer: timeout after 61 seconds") == "timeout"
    assert report._unswallowable("==1== ERROR: libFuzzer: out-of-memory (used: 3100Mb)") == "oom"
    assert report._unswallowable("#3795 DONE cov: 1") is None


def test_the_budget_is_shared_by_weight() -> None:
    shares = report.plan(600, list(TARGETS))
    assert sum(shares.values()) == pytest.approx(600)
    assert max(shares, key=shares.__getitem__) == "mime"
    assert all(
        seconds >= report.MIN_RUN_SECONDS + report.STARTUP_ALLOWANCE for seconds in shares.values()
    )


def test_the_markdown_section_shows_every_target_and_finding() -> None:
    result = {
        "date": "2026-12-01 12:47 UTC",
        "machine": "x86_64, 2 cores, Python 3.11.7",
        "engine": "atheris 3.0.0 (libFuzzer)",
        "budget_seconds": 600,
        "out": "bench/out/fuzz",
        "targets": {
            "mime": {"entry_points": "parse_mail", "seconds_used": 100, "executions": 12345, "coverage": 1700,
                     "features": 8500, "seeds": 168, "findings": []},
            "config": {"entry_points": "parse_config", "seconds_used": 50, "executions": 7497, "coverage": 582,
                       "features": 2021, "seeds": 1, "findings": [
                           {"target": "config", "kind": "crash", "input_size": 604,
                            "signature": "ValueError at functions/core/config.py:parse_config"}]},
        },
    }  # fmt: skip
    section = report.markdown(result)
    assert "| mime | parse_mail | 100 | 12,345 | 1700 / 8500 | 168 | 0 |" in section
    assert "`ValueError at functions/core/config.py:parse_config`; input of 604 bytes" in section
    assert "1 distinct findings (inputs in bench/out/fuzz/)" in section


def test_without_atheris_the_section_says_nothing_ran() -> None:
    section = report.markdown({"date": "d", "machine": "m", "engine": None, "budget_seconds": 600,
                               "problem": "atheris is not installed", "targets": {}})  # fmt: skip
    assert "Not run: atheris is not installed." in section
