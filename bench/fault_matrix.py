"""The fault matrix: every AWS call of every scenario failed once, in every way.

For each scenario of tests/faults/harness.py (an inbound email, a chat message with an
agent online and one after hours, a Messenger delivery, an SLA pass, a survey) a clean
run records the AWS calls it makes, numbered per operation; then each (call, fault
kind) cell runs in a fresh moto environment with exactly that call failed once, the
platform retries as Lambda would, and the cell passes when every invariant holds (see
the harness's docstring). `run()` runs the cells, `markdown()` renders the "Fault
matrix" section of docs/BENCHMARKS.md: one table per scenario, the calls in order as
rows, the fault kinds as columns.

    python -c "from bench import fault_matrix as m; print(m.markdown(m.run()))"
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

PASS = "pass"
FAIL = "fail"
NOT_APPLICABLE = "n/a"
NOT_RUN = "not run"  # a quick run leaves most cells out
COMMAND = 'python -c "from bench import fault_matrix as m; print(m.markdown(m.run()))"'


def _quiet() -> None:
    """The handlers log every injected failure (that is their job); the matrix is the report."""
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)


def _cell(scenario: str, call: str, kind: str, baseline: Mapping[str, Any]) -> dict[str, Any]:
    """One cell, run in a worker process."""
    from tests.faults import harness

    _quiet()
    result = harness.run_cell(
        scenario, harness.Fault(harness.Call.parse(call), kind), dict(baseline)
    )
    return {
        "scenario": scenario,
        "call": call,
        "kind": kind,
        "passed": result.passed,
        "problems": list(result.problems),
        "tries": result.tries,
        "errors": list(result.errors),
        "dead_lettered": result.dead_lettered,
    }


def _record(scenario: str) -> dict[str, Any]:
    from tests.faults import harness

    _quiet()
    recording = harness.record(scenario)
    return {
        "calls": [str(c) for c in recording.calls],
        "made_by": {str(c): recording.made_by.get(c, "") for c in recording.calls},
        "sites": [(str(f.call), f.kind) for f in recording.sites()],
        "facts": recording.facts,
    }


def run(
    *,
    scenarios: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    workers: int = 2,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Record every scenario, then run all its cells (`workers` processes at once).

    `scenarios` and `kinds` narrow the matrix (default: all of them); `quick` runs one
    cell per call site (what `make test` runs) and leaves the other cells unrun."""
    from tests.faults import harness

    say = progress or (lambda _: None)
    names = list(scenarios or harness.SCENARIOS)
    wanted = tuple(kinds or harness.KINDS)
    started = time.perf_counter()
    context = get_context("spawn")  # each worker imports fresh: no moto state is inherited
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        recordings = dict(zip(names, pool.map(_record, names), strict=True))
        jobs = []
        for name in names:
            recorded = recordings[name]
            if quick:
                chosen = [(c, k) for c, k in recorded["sites"] if k in wanted]
            else:
                chosen = [
                    (call, kind)
                    for call in recorded["calls"]
                    for kind in harness.kinds_for(harness.Call.parse(call))
                    if kind in wanted
                ]
            say(f"fault matrix: {name}, {len(recorded['calls'])} calls, {len(chosen)} cells")
            jobs += [pool.submit(_cell, name, c, k, recorded["facts"]) for c, k in chosen]
        cells = [job.result() for job in jobs]
    seconds = time.perf_counter() - started
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seconds": round(seconds, 1),
        "workers": workers,
        "quick": quick,
        "kinds": list(wanted),
        "scenarios": [
            _scenario(name, recordings[name], [c for c in cells if c["scenario"] == name], wanted)
            for name in names
        ],
    }


def _scenario(
    name: str,
    recorded: Mapping[str, Any],
    cells: Iterable[Mapping[str, Any]],
    kinds: Sequence[str],
) -> dict[str, Any]:
    from tests.faults import harness

    driver = harness.SCENARIOS[name]
    calls: list[str] = recorded["calls"]
    grid: dict[str, dict[str, str]] = {
        call: {
            kind: NOT_APPLICABLE
            if kind not in harness.kinds_for(harness.Call.parse(call))
            else NOT_RUN
            for kind in kinds
        }
        for call in calls
    }
    failures = []
    for cell in cells:
        grid[cell["call"]][cell["kind"]] = PASS if cell["passed"] else FAIL
        if not cell["passed"]:
            failures.append(cell)
    total = sum(1 for row in grid.values() for v in row.values() if v in (PASS, FAIL))
    return {
        "name": name,
        "title": driver.title,
        "retry": driver.retry,
        "calls": calls,
        "made_by": recorded["made_by"],
        "cells": grid,
        "failures": failures,
        "passed": total - len(failures),
        "total": total,
    }


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _mark(value: str) -> str:
    return {PASS: "pass", FAIL: "**FAIL**", NOT_APPLICABLE: "–", NOT_RUN: " "}[value]


def markdown(result: Mapping[str, Any]) -> str:
    from tests.faults import harness

    kinds: list[str] = result["kinds"]
    scenarios: list[Mapping[str, Any]] = result["scenarios"]
    passed = sum(s["passed"] for s in scenarios)
    total = sum(s["total"] for s in scenarios)
    lines = [
        "## Fault matrix",
        "",
        f"Run on {result['date']} ({result['machine']}; {result['seconds']:.0f} s with "
        f"{result['workers']} worker processes): `{COMMAND}`.",
        "Each cell is one run in a fresh moto environment (in-process, the shared stack from",
        "infra/shared.yaml) through the function's real entry point, with exactly that AWS call",
        "failed once during the first try, then retried the way its platform retries",
        "(`tests/faults/harness.py`). Calls are numbered per operation in the order a clean run",
        "makes them. Fault kinds: throttle (ThrottlingException; DynamoDB",
        "ProvisionedThroughputExceededException; Management API LimitExceededException 429),",
        "5xx (InternalServerError 500), timeout (a ReadTimeoutError before the request is sent),",
        "timeout with the answer lost (the request is done, then the same ReadTimeoutError), and",
        "for the API Gateway Management API a 410 (GoneException: the connection is gone for good).",
        "Injected faults bypass botocore's own retries, as if every botocore retry had failed.",
        "",
        "A cell passes when: the customer's message is stored exactly once (one message item,",
        "one intake record), at most one automatic reply went out (and none is recorded as sent",
        "that did not), the ticket's index attributes agree with its fields and the customer and",
        "status lists find it, every routing message for the message names its ticket and team",
        "(at least one; consumers dedupe on `message_id`), and the chat is where a clean run",
        "leaves it; for the SLA pass every escalation is recorded once, published at least once",
        "and its mails sent; for surveys at most one is sent per solve and the solve is counted",
        "once. An event whose retries ran out passes only if it sits in its dead-letter queue.",
        "",
        (
            f"**{passed} of {total} cells pass** (a quick run: one cell per call site, the "
            "others left blank)."
            if result.get("quick")
            else f"**{passed} of {total} cells pass.**"
        ),
        "",
        "| scenario | AWS calls | cells | pass | fail |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in scenarios:
        lines.append(
            f"| {s['name']} | {len(s['calls'])} | {s['total']} | {s['passed']} "
            f"| {s['total'] - s['passed']} |"
        )
    for s in scenarios:
        lines += [
            "",
            f"### {s['name']}: {s['title']}",
            "",
            f"Retried as: {s['retry']}. {s['passed']}/{s['total']} cells pass.",
            "",
            "| # | call | made by | " + " | ".join(harness.KIND_TITLES[k] for k in kinds) + " |",
            "|---:|---|---|" + "---|" * len(kinds),
        ]
        for index, call in enumerate(s["calls"], 1):
            row = s["cells"][call]
            lines.append(
                f"| {index} | `{call}` | {_code(s['made_by'].get(call, ''))} | "
                + " | ".join(_mark(row.get(k, NOT_APPLICABLE)) for k in kinds)
                + " |"
            )
        if s["failures"]:
            lines += ["", "Failures:", ""]
            for cell in s["failures"]:
                lines.append(
                    f"- `{cell['call']}` {harness.KIND_TITLES[cell['kind']]}: "
                    f"{'; '.join(cell['problems'])} (tries: {cell['tries']}; "
                    f"errors: {', '.join(cell['errors']) or 'none'})"
                )
    return "\n".join(lines) + "\n"
