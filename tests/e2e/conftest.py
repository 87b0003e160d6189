"""End-to-end tests: `helpline dev` as a subprocess, used through real clients and the CLI."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from infra.local.process import DevProcess
from tests.helpers import REPO


class Stack:
    def __init__(self, process: subprocess.Popen[str], state_dir: Path, ready: str) -> None:
        self.process = process
        self.state_dir = state_dir
        self.ready = ready
        self.info = json.loads((state_dir / "dev.json").read_text())

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "infra.cli", *args, "--state-dir", str(self.state_dir)],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helpline {' '.join(args)} failed: {result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def send(self, message: EmailMessage | bytes) -> None:
        with smtplib.SMTP(self.info["smtp_host"], self.info["smtp_port"], timeout=30) as smtp:
            if isinstance(message, bytes):
                smtp.sendmail("", ["support@helpline.test"], message)  # a bounce has a null sender
            else:
                smtp.send_message(message)

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    def tickets(self) -> list[dict[str, Any]]:
        return self.json("tickets", "list")

    def outbox(self) -> list[dict[str, Any]]:
        return self.json("outbox")

    def ticket_where(self, ticket_id: str, condition: Callable[[dict[str, Any]], bool]) -> Any:
        """`tickets show --json` of the ticket once `condition` holds, else None."""
        shown = self.json("tickets", "show", ticket_id)
        return shown if condition(shown) else None


def start_stack(state_dir: Path, *extra_args: str) -> Iterator[Stack]:
    """Run `helpline dev` on free ports until the generator is closed.

    The stack runs the packaged functions, each checking its AWS calls against its
    role's policy; a call the role would not allow in AWS fails the tests that used
    the stack, naming the grant that is missing."""
    with DevProcess(state_dir, extra_args=extra_args, ready_timeout=180) as dev:
        assert dev.process is not None
        yield Stack(dev.process, state_dir, dev.ready)
        denied = dev.iam_denials()
    assert not denied, "calls the functions' roles do not allow:\n" + "\n".join(
        f"  {d['function']}: {d['action']} on {d['resource']} ({d['call']})" for d in denied
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("helpline-state"))


def config_variant(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    """The demo config, changed by `change`, written to `folder` with its holiday table."""
    import shutil

    import yaml

    demo = REPO / "infra" / "config" / "demo.yaml"
    config = yaml.safe_load(demo.read_text(encoding="utf-8"))
    change(config)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    shutil.copy(demo.with_name("demo.holidays.json"), folder / f"{name}.holidays.json")
    return path


def _always_open(config: dict[str, Any]) -> None:
    for calendar in config["calendars"].values():
        calendar["hours"] = {"mon-sun": ["00:00-24:00"]}
        calendar.pop("holidays", None)
        calendar.pop("closures", None)


@pytest.fixture(scope="module")
def open_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo config with every team at work around the clock, for tests whose
    outcome must not depend on the hour they run at (queues, live agents)."""
    path = config_variant(tmp_path_factory.mktemp("open-config"), "open", _always_open)
    yield from start_stack(tmp_path_factory.mktemp("open-state"), "--config", str(path))
