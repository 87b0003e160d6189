"""atheris harness: Raw mail bytes into `functions.core.mime.parse_mail`: only `RejectedInput(empty_mail)` may escape.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_mime -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["mime"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "mime"

if __name__ == "__main__":
    main(TARGET, sys.argv)
