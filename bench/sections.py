"""The sections of docs/BENCHMARKS.md: each one measured by its module, in one run.

Each section is kept between markers, so `python -m bench --only chat,social` can rerun
some benchmarks and leave the others' figures (and their dates) as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Runner = Callable[["Options"], str]
RESULTS: dict[str, Any] = {}  # each section's raw figures, for the cost section of the same run


# the load run's size by default: the full one (16,000 messages) takes hours on a laptop,
# where moto, not Helpline, is the bottleneck; `--long` runs it
LOAD_SCALE = 0.05


@dataclass(frozen=True)
class Options:
    quick: bool = False  # a smoke run: fewer samples, smaller data
    long: bool = False  # the full-size tables and load run
    corpora: Path | None = None
    fuzz_seconds: float = 600.0

    def flags(self) -> str:
        return "".join(f" --{name}" for name in ("quick", "long") if getattr(self, name))


def _email(options: Options) -> str:
    from bench import __main__ as legacy
    from bench import cold_start, email_cost

    samples = 3 if options.quick else 9
    costs = email_cost.measure(repeat=3 if options.quick else 5)
    cold = cold_start.measure(samples=samples)
    return legacy.render(costs, cold, samples)


def _chat(options: Options) -> str:
    from bench import chat_load

    result = chat_load.run(
        **({"chats": 10, "messages": 3, "agents": 2, "max_chats": 5} if options.quick else {})
    )
    RESULTS["chat"] = result
    return chat_load.markdown(result)


def _social(options: Options) -> str:
    from bench import social_cost

    result = social_cost.run(**({"samples": 3, "burst": 60, "repeat": 3} if options.quick else {}))
    RESULTS["social"] = result
    return social_cost.markdown(result)


def _sla(options: Options) -> str:
    from bench import sla_scale

    # full size (150,000 tickets) takes over an hour to load into moto: behind --long
    result = sla_scale.run(quick=not options.long, progress=print)
    return sla_scale.markdown(result)


def _report(options: Options) -> str:
    from bench import report_scale

    result = report_scale.run(quick=not options.long, progress=print)
    return report_scale.markdown(result)


def _deploy(options: Options) -> str:
    from bench import deploy_sizes

    result = deploy_sizes.run(**({"repeats": 3} if options.quick else {}))
    return deploy_sizes.markdown(result)


def _faults(options: Options) -> str:
    from bench import fault_matrix

    result = fault_matrix.run(**({"quick": True} if options.quick else {}))
    return fault_matrix.markdown(result)


def _fuzz(options: Options) -> str:
    from bench.fuzz import report

    result = report.run(60.0 if options.quick else options.fuzz_seconds)
    return report.markdown(result)


def _peers(options: Options) -> str:
    from bench import peers_common

    body = peers_common.section(options.corpora, quick=options.quick)
    # the section keeps its own markers for `--peers`; here the registry's markers wrap it
    return "\n".join(
        line for line in body.splitlines() if line not in (peers_common.BEGIN, peers_common.END)
    )


def _cost(options: Options) -> str:
    from bench import cost

    return cost.markdown(cost.run(RESULTS))


def _load(options: Options) -> str:
    from bench import load_run

    scale = 1.0 if options.long else 0.01 if options.quick else LOAD_SCALE
    # the full run's last tickets arrive well over an hour after the first on 2 cores
    timeout = 4 * 3600.0 if options.long else 3600.0
    return load_run.markdown(load_run.run(scale=scale, timeout=timeout))


SECTIONS: dict[str, Runner] = {
    "email": _email,
    "chat": _chat,
    "social": _social,
    "sla": _sla,
    "report": _report,
    "deploy": _deploy,
    "faults": _faults,
    "fuzz": _fuzz,
    "peers": _peers,
    "cost": _cost,
    "load": _load,
}
DEFAULT = list(SECTIONS)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- section {name}: begin -->", f"<!-- section {name}: end -->"


def wrap(name: str, body: str, flags: str = "") -> str:
    begin, end = _markers(name)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = f"python -m bench --only {name}{flags}"
    return f"{begin}\n<!-- measured {stamp} by `{command}` -->\n\n{body.strip()}\n\n{end}\n"


def splice(document: str, name: str, body: str, flags: str = "") -> str:
    """Replace section `name` in `document` (or append it in the registry's order)."""
    begin, end = _markers(name)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    block = wrap(name, body, flags)
    if pattern.search(document):
        return pattern.sub(lambda _m: block, document, count=1)
    return document.rstrip("\n") + "\n\n" + block


def head(machine: str) -> str:
    return (
        "# Benchmarks\n\n"
        "Written by `make bench` (`python -m bench`); each section says when and by which\n"
        f"command it was measured. Machine of the last full run: {machine}. Every figure\n"
        "comes from a command in this repository: rerun it to refresh its section.\n"
        "Ratios are measured side by side in one run; absolute times vary with the machine.\n"
    )


def run_sections(
    names: list[str],
    options: Options,
    document: str,
    *,
    log: Any = print,
    save: Callable[[str], None] | None = None,
) -> str:
    """Run each section in turn; `save` gets the document after each one, so a section
    that fails later loses none of the figures already measured."""
    for name in names:
        log(f"== {name} ...")
        body = SECTIONS[name](options)
        document = splice(document, name, body, options.flags())
        if save:
            save(document)
    return document
