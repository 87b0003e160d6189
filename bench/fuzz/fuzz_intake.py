"""atheris harness: social deliveries and chat frames through the real services into DynamoDB (moto).

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_intake -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["intake"]` in bench/fuzz/targets.py (bench/fuzz/intake_rig.py).
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "intake"

if __name__ == "__main__":
    main(TARGET, sys.argv)
