"""`.helpline/dev.json`: how other commands find the running local stack."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STATE_DIR = Path(".helpline")
STATE_FILE = "dev.json"
REGION = "us-east-1"


class StackNotRunningError(RuntimeError):
    pass


@dataclass
class DevState:
    pid: int
    aws_endpoint: str
    http_url: str
    smtp_host: str
    smtp_port: int
    support_address: str
    config_path: str
    region: str
    resources: dict[str, Any]
    environment: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


def state_path(state_dir: Path | str | None) -> Path:
    return Path(state_dir or DEFAULT_STATE_DIR) / STATE_FILE


def write_state(state_dir: Path | str | None, state: DevState) -> Path:
    path = state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps(state.to_json(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    temporary.replace(path)
    return path


def read_state(state_dir: Path | str | None) -> DevState:
    path = state_path(state_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackNotRunningError(
            f"no local stack found ({path} is missing); start one with `helpline dev` or `make dev`"
        ) from None
    if not _alive(int(data.get("pid", 0))):
        raise StackNotRunningError(
            f"the local stack recorded in {path} is not running; start it with `make dev`"
        )
    data.pop("extra", None)
    known = {f for f in DevState.__dataclass_fields__} - {"extra"}
    return DevState(
        **{k: v for k, v in data.items() if k in known},
        extra={k: v for k, v in data.items() if k not in known},
    )


def remove_state(state_dir: Path | str | None) -> None:
    path = state_path(state_dir)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_aws_environment(endpoint: str, region: str = REGION) -> dict[str, str]:
    """What makes boto3 talk to the local moto server instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "helpline-local",
        "AWS_SECRET_ACCESS_KEY": "helpline-local",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
