"""atheris harness: Secrets, headers and bodies into every check of `functions.core.channels.signatures`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_signatures -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["signatures"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "signatures"

if __name__ == "__main__":
    main(TARGET, sys.argv)
