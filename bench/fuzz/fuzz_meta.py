"""atheris harness: Any body posted to the shared Meta webhook into `meta.normalize_meta`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_meta -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["meta"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "meta"

if __name__ == "__main__":
    main(TARGET, sys.argv)
