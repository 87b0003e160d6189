"""atheris harness: Instagram webhook bodies (after `json.loads`) into `instagram.normalize`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_instagram -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["instagram"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "instagram"

if __name__ == "__main__":
    main(TARGET, sys.argv)
