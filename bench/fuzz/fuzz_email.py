"""atheris harness: Raw mail bytes into the email channel's `normalize` (one InboundMessage per mail).

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_email -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["email"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "email"

if __name__ == "__main__":
    main(TARGET, sys.argv)
