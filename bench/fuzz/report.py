"""Run every atheris harness for a share of a time budget and say what they found.

`run(budget_seconds)` fuzzes each target of bench/fuzz/targets.py in turn, in its own
process (libFuzzer ends the process when it is done or finds something), starting
from the real inputs in bench/fuzz/seeds.py copied into a temporary corpus directory
that is deleted afterwards. After a finding the harness is started again for the rest
of the target's time with that finding's signature marked known, so one budget can
find several distinct bugs. The result is a plain dict (JSON-ready); `markdown(result)`
is the section of docs/BENCHMARKS.md.

Findings and their inputs are kept in bench/out/fuzz/ (git-ignored): `results.json`,
`findings.jsonl`, and one `<target>-<sha1>.bin` per reproducing input.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.fuzz.targets import TARGETS, Target

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench" / "out" / "fuzz"
COMMAND = "python -m bench.fuzz"
MIN_RUN_SECONDS = 8  # less than this is mostly start-up: not worth a restart
STARTUP_ALLOWANCE = 12  # seconds a harness needs to import, instrument and load its seeds
MAX_REPEATS = 2  # the same unswallowable finding (timeout, out of memory) twice: stop
RSS_LIMIT_MB = 3072
TIMEOUT_SECONDS = 60  # libFuzzer's own per-input limit, behind the harness's CPU limit

_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)
_PROGRESS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


def atheris_version() -> str | None:
    try:
        return metadata.version("atheris")
    except metadata.PackageNotFoundError:
        return None


def plan(budget_seconds: float, names: Sequence[str]) -> dict[str, float]:
    """Each target's share of the budget, by its weight."""
    weights = {name: TARGETS[name].weight for name in names}
    total = sum(weights.values())
    return {name: budget_seconds * weight / total for name, weight in weights.items()}


def _escape(word: bytes) -> str:
    return "".join(
        chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02x}" for b in word
    )


def _write_dictionary(target: Target, path: Path) -> bool:
    words = [w for w in dict.fromkeys(target.words()) if 0 < len(w) <= 64]
    if not words:
        return False
    path.write_text(
        "".join(f'w{i}="{_escape(w)}"\n' for i, w in enumerate(words)), encoding="ascii"
    )
    return True


def _write_seeds(target: Target, corpus: Path) -> int:
    count = 0
    for index, seed in enumerate(target.seeds()):
        (corpus / f"seed-{index:04d}").write_bytes(seed[: target.max_len])
        count += 1
    return count


def _parse_output(output: str) -> dict[str, int]:
    figures: dict[str, int] = {}
    progress = _PROGRESS.findall(output)
    if progress:
        executions, cov, ft, corp = (int(v) for v in progress[-1])
        figures.update(executions=executions, coverage=cov, features=ft, corpus=corp)
    stats = dict(_STAT.findall(output))
    if "number_of_executed_units" in stats:
        figures["executions"] = int(stats["number_of_executed_units"])
    if "peak_rss_mb" in stats:
        figures["peak_rss_mb"] = int(stats["peak_rss_mb"])
    return figures


def _unswallowable(output: str) -> str | None:
    """A stop the harness could not record itself (libFuzzer's timeout, memory limit)."""
    if "ALARM: working on the last Unit" in output or "libFuzzer: timeout" in output:
        return "timeout"
    if "out-of-memory" in output:
        return "oom"
    if "deadly signal" in output:
        return "signal"
    return None


def _read_findings(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    if not path.is_file():
        return [], offset
    with path.open(encoding="utf-8") as source:
        source.seek(offset)
        rows = [json.loads(line) for line in source if line.strip()]
        return rows, source.tell()


def fuzz_target(
    target: Target, seconds: float, *, work: Path, out: Path, known: list[str]
) -> dict[str, Any]:
    """Fuzz one target for about `seconds` of wall time, restarting after each finding."""
    corpus = work / target.name / "corpus"
    corpus.mkdir(parents=True)
    seed_count = _write_seeds(target, corpus)
    dictionary = work / target.name / "words.dict"
    has_dictionary = _write_dictionary(target, dictionary)
    known_path = work / target.name / "known.json"
    findings_path = out / "findings.jsonl"
    offset = findings_path.stat().st_size if findings_path.is_file() else 0
    result: dict[str, Any] = {
        "entry_points": target.entry_points,
        "allowed": target.allowed,
        "seconds_planned": round(seconds),
        "seeds": seed_count,
        "executions": 0,
        "coverage": 0,
        "features": 0,
        "corpus": 0,
        "runs": 0,
        "findings": [],
    }
    deadline = time.monotonic() + seconds
    repeats: dict[str, int] = {}
    while (remaining := deadline - time.monotonic()) >= MIN_RUN_SECONDS:
        known_path.write_text(json.dumps(known), encoding="utf-8")
        fuzz_seconds = max(1, int(remaining - STARTUP_ALLOWANCE))
        command = [
            sys.executable, "-m", f"bench.fuzz.fuzz_{target.name}",
            f"-max_total_time={fuzz_seconds}", f"-timeout={TIMEOUT_SECONDS}",
            f"-rss_limit_mb={RSS_LIMIT_MB}", f"-max_len={target.max_len}",
            "-print_final_stats=1", f"-artifact_prefix={out}/{target.name}-libfuzzer-",
            *([f"-dict={dictionary}"] if has_dictionary else []),
            str(corpus),
        ]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "HELPLINE_FUZZ_FINDINGS": str(findings_path),
            "HELPLINE_FUZZ_KNOWN": str(known_path),
            "HELPLINE_FUZZ_ARTIFACTS": str(out),
        }
        started = time.monotonic()
        completed = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, errors="replace",
            timeout=remaining + TIMEOUT_SECONDS + 60, check=False,
        )  # fmt: skip
        result["runs"] += 1
        output = completed.stdout + completed.stderr
        figures = _parse_output(output)
        result["executions"] += figures.get("executions", 0)
        for key in ("coverage", "features", "corpus", "peak_rss_mb"):
            result[key] = max(result.get(key, 0), figures.get(key, 0))
        if completed.returncode == 0:
            break
        rows, offset = _read_findings(findings_path, offset)
        for row in rows:
            row["seconds_into_target"] = round(time.monotonic() - started)
            result["findings"].append(row)
            known.append(row["signature"])
        if rows:
            continue
        kind = _unswallowable(output) or f"exit {completed.returncode}"
        artifact = _ARTIFACT.search(output)
        result["findings"].append(
            {
                "target": target.name,
                "kind": kind,
                "signature": f"{kind} in {target.name}",
                "input": artifact.group(1) if artifact else "",
                "detail": output[-1500:],
            }
        )
        repeats[kind] = repeats.get(kind, 0) + 1
        if repeats[kind] >= MAX_REPEATS:
            break
    result["seconds_used"] = round(seconds - max(0.0, deadline - time.monotonic()))
    return result


def run(
    budget_seconds: float, *, names: Iterable[str] | None = None, out: Path = OUT
) -> dict[str, Any]:
    """Fuzz every target (or `names`) for a total of about `budget_seconds`."""
    chosen = list(names) if names is not None else list(TARGETS)
    version = atheris_version()
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "engine": f"atheris {version} (libFuzzer)" if version else None,
        "budget_seconds": round(budget_seconds),
        "targets": {},
    }
    if version is None:
        result["problem"] = "atheris is not installed (pip install atheris): nothing was fuzzed"
        return result
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.jsonl").unlink(missing_ok=True)  # this run's findings only
    result["out"] = _shown(out)
    known: list[str] = []
    shares = plan(budget_seconds, chosen)
    with tempfile.TemporaryDirectory(prefix="helpline-fuzz-") as work:
        for name in chosen:
            print(f"fuzzing {name} for {shares[name]:.0f} s ...", flush=True)
            result["targets"][name] = fuzz_target(
                TARGETS[name], shares[name], work=Path(work), out=out, known=known
            )
    (out / "results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def _shown(path: Path) -> str:
    """The path relative to the repository when it is inside it."""
    resolved = path.resolve()
    return resolved.relative_to(REPO).as_posix() if REPO in resolved.parents else str(resolved)


def _findings(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for t in result.get("targets", {}).values() for f in t.get("findings", [])]


def markdown(result: dict[str, Any]) -> str:
    """The fuzzing section of docs/BENCHMARKS.md."""
    lines = [
        "## Fuzzing: hostile input to every parser",
        "",
        f"`{COMMAND}` on {result.get('date')} ({result.get('machine')}), "
        f"{result.get('engine') or 'no fuzzing engine'}, a budget of {result.get('budget_seconds')} s",
        "shared by weight. Each harness (bench/fuzz/fuzz_<target>.py) starts from the real inputs in",
        "../shared/corpora and tests/fixtures and checks the contract in bench/fuzz/targets.py: only",
        "the sender's-fault error may escape (`RejectedInput`; `ConfigError` for the config), no input",
        "may use more than 3 s of CPU, and one input in eight is also run 8x larger, where a time",
        "ratio above 20x (linear code: about 8x) is a super-linear finding.",
        "",
    ]
    if result.get("problem"):
        return "\n".join([*lines, f"Not run: {result['problem']}.", ""])
    lines += [
        "| target | entry points | seconds | executions | coverage (edges / features) | seeds | findings |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in result["targets"].items():
        lines.append(
            f"| {name} | {figures['entry_points']} | {figures.get('seconds_used', 0)} | "
            f"{figures['executions']:,} | {figures['coverage']} / {figures['features']} | "
            f"{figures['seeds']} | {len(figures['findings'])} |"
        )
    found = _findings(result)
    lines.append("")
    if not found:
        lines += ["No crash, slow input or super-linear input was found in the budget.", ""]
        return "\n".join(lines)
    lines += [f"{len(found)} distinct findings (inputs in {result.get('out', OUT)}/):", ""]
    for finding in found:
        detail = finding.get("detail", "")
        said = finding.get("exception", "") if finding["kind"] != "crash" else ""
        notes = "; ".join(p for p in (detail if len(detail) < 80 else "", said[:160]) if p)
        lines.append(
            f"- **{finding['target']}**, {finding['kind']}: `{finding['signature']}`"
            f"{f' ({notes})' if notes else ''}; input of {finding.get('input_size', '?')} bytes"
        )
    lines.append("")
    return "\n".join(lines)
