"""Each function is a zip of its own: core and its own package, nothing of another function.

`helpline package` puts `functions/core/` and `functions/<name>/` in a function's zip and
nothing else, so an import of another function's package works in the source tree and
fails in Lambda (ModuleNotFoundError on the first event). This reads every module's
imports, lazy ones inside functions included, and names any that cross.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

FUNCTIONS = REPO / "functions"


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _function_packages() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))


def test_there_are_functions_to_check() -> None:
    assert {"email_ingest", "chat_ws", "social_dm", "sla_timer", "survey"} <= set(
        _function_packages()
    )


def test_no_function_imports_another_function() -> None:
    names = _function_packages()
    crossings = []
    for name in names:
        for path in sorted((FUNCTIONS / name).rglob("*.py")):
            if "vendor" in path.parts:
                continue
            for module in _imported_modules(path):
                parts = module.split(".")
                crosses = len(parts) >= 2 and parts[0] == "functions" and parts[1] in names
                if crosses and parts[1] != name:
                    crossings.append(f"{path.relative_to(REPO)} imports {module}")
    assert crossings == []


def test_core_imports_no_function() -> None:
    names = set(_function_packages())
    crossings = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sorted((FUNCTIONS / "core").rglob("*.py"))
        for module in _imported_modules(path)
        if module.split(".")[:1] == ["functions"] and module.split(".")[1:2][0] in names
    ]
    assert crossings == []
