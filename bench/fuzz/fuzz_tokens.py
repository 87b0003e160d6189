"""atheris harness: Tokens (raw, and validly signed around any payload) into `functions.core.tokens.verify`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_tokens -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["tokens"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "tokens"

if __name__ == "__main__":
    main(TARGET, sys.argv)
