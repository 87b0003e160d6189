"""atheris harness: Messenger webhook bodies (after `json.loads`) into `messenger.normalize`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_messenger -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["messenger"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "messenger"

if __name__ == "__main__":
    main(TARGET, sys.argv)
