"""CloudFormation templates as plain data: read YAML with intrinsic tags, write it back.

Templates are read with the short forms (`!Sub`, `!ImportValue`, ...) turned into their
long forms (`{"Fn::Sub": ...}`), so Python code, cfn-lint and the SAM translator all see
one shape, and written without YAML anchors (Chalice's output shares nodes, which
readers of a reviewed template should not have to resolve).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation's intrinsic tags as long-form dicts."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    key = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    return {key: value}


_Loader.add_multi_constructor("!", _intrinsic)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def loads(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_Loader)
    if not isinstance(data, dict):
        raise ValueError("a template is a mapping at its top level")
    return data


def load(path: Path) -> dict[str, Any]:
    return loads(path.read_text(encoding="utf-8"))


def dumps(template: dict[str, Any]) -> str:
    return yaml.dump(
        template, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def dump(template: dict[str, Any], path: Path) -> None:
    path.write_text(dumps(template), encoding="utf-8")


def to_json(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1, sort_keys=False)


# -- intrinsic builders -----------------------------------------------------------------


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def sub(text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Fn::Sub": [text, variables] if variables else text}


def get_att(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def shared_export(name: str) -> dict[str, Any]:
    """The shared stack's export `helpline-<stage>-<name>` (infra/shared.yaml Outputs)."""
    return {"Fn::ImportValue": {"Fn::Sub": f"helpline-${{Stage}}-{name}"}}


def walk(value: Any) -> Any:
    """Every nested value of a template, depth first (dicts, lists and scalars)."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
