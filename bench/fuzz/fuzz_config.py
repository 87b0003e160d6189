"""atheris harness: Config file text into `functions.core.config.parse_config`: only `ConfigError` may escape.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_config -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["config"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "config"

if __name__ == "__main__":
    main(TARGET, sys.argv)
