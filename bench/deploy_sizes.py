"""Package sizes and cold starts of the deployed functions.

For each function that exists: `helpline package` builds its zip; the zip is unpacked
and its `app` module imported in a fresh interpreter whose only other packages are the
ones the Lambda Python runtime provides (boto3 and what boto3 needs, with their
bytecode compiled, as the runtime ships them), exactly as Lambda's init phase imports
the handler module. /var/task is read-only on Lambda, so the interpreter runs with -B
(it writes no bytecode) and uses what the zip ships: `helpline package` adds each
module's bytecode (unchecked hashes). The import time is reported as a ratio to the
same interpreter importing a bare handler that only imports boto3, measured side by
side in one run (median of several fresh processes each, alternating), so the numbers
compare across machines. A second figure imports the same zip with its bytecode
removed, as Chalice alone ships it, to show what the bytecode saves.

`run()` returns the measurements; `markdown()` renders them for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.artifacts import copy_runtime

BARE_HANDLER = (
    "import boto3\n\n\ndef handler(event, context):\n    return {'boto3': boto3.__version__}\n"
)
REPEATS = 5

_PROBE = """
import sys, time, json
sys.path[:0] = {paths!r}
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
json.dump({{"seconds": elapsed, "modules": len(sys.modules)}}, sys.stdout)
"""


@dataclass(frozen=True)
class FunctionMeasure:
    name: str
    zip_bytes: int
    unpacked_bytes: int
    import_seconds: float
    baseline_seconds: float
    modules: int
    source_import_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.import_seconds / self.baseline_seconds if self.baseline_seconds else 0.0

    @property
    def source_ratio(self) -> float:
        return self.source_import_seconds / self.baseline_seconds if self.baseline_seconds else 0.0


def lambda_runtime_site(target: Path) -> Path:
    """A directory holding only the Lambda runtime's packages, copied from here."""
    return copy_runtime(target)


def strip_bytecode(directory: Path) -> Path:
    for cached in list(directory.rglob("__pycache__")):
        shutil.rmtree(cached)
    return directory


def unpack(zip_path: Path, target: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)
    return target


def import_once(paths: list[str], module: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Import `module` in a fresh interpreter that sees only `paths` and the stdlib."""
    code = _PROBE.format(paths=paths, module=module)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {result.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(result.stdout))


def median_import(paths: list[str], module: str, repeats: int = REPEATS) -> tuple[float, int]:
    runs = [import_once(paths, module) for _ in range(repeats)]
    return statistics.median(r["seconds"] for r in runs), int(runs[-1]["modules"])


def run(repeats: int = REPEATS, out_dir: Path | None = None) -> list[FunctionMeasure]:
    from infra.deploy import functions, package
    from infra.local.resources import DEMO_CONFIG

    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
        root = Path(tmp)
        built = package.package_all(
            functions.discover(),
            stage="bench",
            config_path=DEMO_CONFIG,
            out_dir=out_dir or root / "dist",
        )
        runtime = lambda_runtime_site(root / "runtime")
        bare = root / "bare"
        bare.mkdir()
        (bare / "bare_handler.py").write_text(BARE_HANDLER, encoding="utf-8")
        measures = []
        for item in built:
            task = unpack(item.zip_path, root / "task" / item.spec.name)
            # interleave the two so a busy machine slows both alike
            source_only = strip_bytecode(unpack(item.zip_path, root / "source" / item.spec.name))
            app_times, bare_times, source_times, modules = [], [], [], 0
            for _ in range(repeats):
                app = import_once([str(task), str(runtime)], "app")
                app_times.append(app["seconds"])
                modules = int(app["modules"])
                bare_times.append(import_once([str(bare), str(runtime)], "bare_handler")["seconds"])
                source_times.append(import_once([str(source_only), str(runtime)], "app")["seconds"])
            measures.append(
                FunctionMeasure(
                    name=item.spec.name,
                    zip_bytes=item.zip_bytes,
                    unpacked_bytes=item.unpacked_bytes(),
                    import_seconds=statistics.median(app_times),
                    baseline_seconds=statistics.median(bare_times),
                    modules=modules,
                    source_import_seconds=statistics.median(source_times),
                )
            )
        return measures


def markdown(measures: list[FunctionMeasure] | None = None) -> str:
    measures = measures if measures is not None else run()
    lines = [
        "| function | zip | unpacked | handler import (as shipped) | bare boto3 handler | ratio "
        "| without the bytecode | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in measures:
        lines.append(
            f"| {m.name} | {m.zip_bytes / 1048576:.1f} MB | {m.unpacked_bytes / 1048576:.1f} MB | "
            f"{m.import_seconds * 1000:.0f} ms | {m.baseline_seconds * 1000:.0f} ms | "
            f"**{m.ratio:.2f}x** | {m.source_import_seconds * 1000:.0f} ms | "
            f"{m.source_ratio:.2f}x |"
        )
    lines.append("")
    lines.append(
        "Import of the unpacked zip's `app` module in a fresh interpreter with only the Lambda "
        f"runtime's packages (boto3 and its requirements, compiled), median of {REPEATS} runs, "
        "beside the same interpreter importing a handler that only imports boto3. The zip is "
        "imported as shipped (with the bytecode `helpline package` adds) and, in the last two "
        "columns, with its bytecode removed (as Chalice alone ships it: Lambda would compile "
        "every module on each cold start, /var/task is read-only)."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
