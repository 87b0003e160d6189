"""cfn-lint over templates, through its Python API: the findings, or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} {self.message}"


def lint_text(text: str, *, name: str, regions: Sequence[str] = ("us-east-1",)) -> list[Finding]:
    """Errors and warnings cfn-lint finds (informational findings are not reported)."""
    from cfnlint.api import lint

    matches: list[Any] = lint(text, regions=list(regions))
    return [
        Finding(name, int(getattr(m, "linenumber", 0) or 0), m.rule.id, m.message) for m in matches
    ]


def lint_file(path: Path, *, regions: Sequence[str] = ("us-east-1",)) -> list[Finding]:
    return lint_text(path.read_text(encoding="utf-8"), name=str(path), regions=regions)
