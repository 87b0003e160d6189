"""atheris harness: Telegram Bot API updates (after `json.loads`) into `telegram.normalize`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_telegram -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["telegram"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "telegram"

if __name__ == "__main__":
    main(TARGET, sys.argv)
