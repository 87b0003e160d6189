"""Fixtures for the deployment tests: the packages, built once, and a moto server.

Everything is offline: packaging copies from this environment, cfn-lint and the SAM
translator run locally, and the AWS the deploy talks to is a moto server on 127.0.0.1.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import functions, package
from infra.local.resources import DEMO_CONFIG

REGION = "us-east-1"


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> list[package.PackagedFunction]:
    """Every function that exists, packaged for the stage `test` with the demo config."""
    out = tmp_path_factory.mktemp("dist")
    return package.package_all(
        functions.discover(), stage="test", config_path=DEMO_CONFIG, out_dir=out, region=REGION
    )


@pytest.fixture(scope="session")
def by_name(packaged: list[package.PackagedFunction]) -> dict[str, package.PackagedFunction]:
    return {item.spec.name: item for item in packaged}


class MotoServer:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        from infra.local import account
        from tests.deploy import moto_gaps

        moto_gaps.install()
        account.install(account.AccountSettings())  # a new account: quota 1000, SES sandbox
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def session(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    saved = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "HELPLINE_"))}
    for name in saved:
        del os.environ[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = MotoServer()
        os.environ.update(
            AWS_ENDPOINT_URL=server.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
        )
        try:
            yield server
        finally:
            server.server.stop()
            for name in [k for k in os.environ if k.startswith(("AWS_", "HELPLINE_"))]:
                del os.environ[name]
            os.environ.update(saved)


def demo_config_copy(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    """The demo config (and its holiday table) in tmp_path, optionally with one edit."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    if replace:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    target = tmp_path / "stage.yaml"
    target.write_text(text, encoding="utf-8")
    holidays = DEMO_CONFIG.with_name(DEMO_CONFIG.stem + ".holidays.json")
    if holidays.is_file():
        (tmp_path / "stage.holidays.json").write_bytes(holidays.read_bytes())
    return target
