"""atheris harness: WebSocket frames into `functions.chat_ws.protocol.decode`, as a customer and as an agent.

Run by `python -m bench.fuzz` (bench/fuzz/report.py), or alone with libFuzzer flags:
`python -m bench.fuzz.fuzz_chat -max_total_time=60 CORPUS_DIR`. The contract it checks
is `TARGETS["chat"]` in bench/fuzz/targets.py.
"""

from __future__ import annotations

import sys

from bench.fuzz.harness import main

TARGET = "chat"

if __name__ == "__main__":
    main(TARGET, sys.argv)
