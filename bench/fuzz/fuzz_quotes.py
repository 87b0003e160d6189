"""atheris harness: Plain text into `functions.core.quotes.split_reply` and `strip_reply`, which never raise.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_quotes -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["quotes"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "quotes"

if __name__ == "__main__":
    main(TARGET, sys.argv)
