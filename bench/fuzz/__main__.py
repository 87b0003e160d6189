"""`python -m bench.fuzz`: run the atheris harnesses for a time budget, write the results.

python -m bench.fuzz                      # every target, 600 s in all
python -m bench.fuzz --budget 60 mime x   # two targets, a minute between them

Writes bench/out/fuzz/results.json (the dict `report.run` returns) and results.md (the
docs/BENCHMARKS.md section `report.markdown` renders), and prints the section.
Exits 1 when something was found, so CI can tell.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.fuzz import report
from bench.fuzz.targets import TARGETS


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("targets", nargs="*", help=f"default: all of {', '.join(TARGETS)}")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for all targets")
    parser.add_argument("--out", default=str(report.OUT), help="where results and inputs go")
    args = parser.parse_args()
    unknown = [name for name in args.targets if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)}")
    out = Path(args.out)
    result = report.run(args.budget, names=args.targets or None, out=out)
    section = report.markdown(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(section, encoding="utf-8")
    print(section)
    found = any(target["findings"] for target in result["targets"].values())
    return 1 if found or result.get("problem") else 0


if __name__ == "__main__":
    raise SystemExit(main())
