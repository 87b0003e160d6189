"""atheris harness: Survey answers and links into `read_survey_token`, `parse_score` and `clean_comment`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_surveys -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["surveys"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "surveys"

if __name__ == "__main__":
    main(TARGET, sys.argv)
