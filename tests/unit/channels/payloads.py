"""Loading webhook payloads: the peers' corpora (read in place, skipped when absent)
and the payloads we wrote under tests/fixtures/social."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO, corpus

RECEIVED = datetime(2025, 11, 25, 10, 30, tzinfo=UTC)
FIXTURES = REPO / "tests" / "fixtures" / "social"

# Chatwoot's factories leave SecureRandom values as placeholders; give them fixed values
CHATWOOT_ENTRY_ID = "17841400000000001"
CHATWOOT_SENDER_SUFFIX = "a1b2c3d4"


def corpus_path(*parts: str) -> Path:
    path = corpus(*parts)
    if not path.exists():
        pytest.skip(
            f"corpus file {'/'.join(parts)} is absent (set HELPLINE_CORPORA or fetch ../shared/corpora)"
        )
    return path


def corpus_json(*parts: str) -> Any:
    return json.loads(corpus_path(*parts).read_text(encoding="utf-8"))


def fixture(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


def chatwoot(name: str) -> dict[str, Any]:
    raw = corpus_path("chatwoot", "spec", "factories_as_json", f"{name}.json").read_text(
        encoding="utf-8"
    )
    raw = raw.replace("{{SecureRandom.uuid}}", CHATWOOT_ENTRY_ID).replace(
        "{{SecureRandom.hex(4)}}", CHATWOOT_SENDER_SUFFIX
    )
    payload: dict[str, Any] = json.loads(raw)["payload"]
    return payload


def page_delivery(*events: dict[str, Any], page: str = "117172741761305") -> dict[str, Any]:
    """Chatwoot keeps only the messaging event; Meta wraps it like this."""
    return {
        "object": "page",
        "entry": [{"id": page, "time": 1648581633369, "messaging": list(events)}],
    }


class _RubyTagsIgnored(yaml.SafeLoader):
    """Zammad's YAML carries !ruby/hash tags; read them as plain mappings."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_RubyTagsIgnored.add_multi_constructor("!", _plain)


def zammad_twitter(name: str) -> dict[str, Any]:
    path = corpus_path("zammad", "test", "data", "twitter", "webhook_events", f"{name}.yml")
    loaded: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_RubyTagsIgnored)
    return loaded


def zammad_telegram(kind: str, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = corpus_json("zammad", "test", "data", "telegram", kind, f"{name}.json")
    return loaded


def pywa(file: str, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = corpus_json("pywa", "tests", "data", "updates", f"{file}.json")[name]
    return loaded
