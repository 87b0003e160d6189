"""atheris harness: HTML into `sanitize_html` and `html_to_text` (raw and sanitized) and `split_reply_html`.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_html -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["html"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "html"

if __name__ == "__main__":
    main(TARGET, sys.argv)
