"""Fixtures for the channel tests: a fake platform API and a recorded sleep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.channels.fake_platform import FakePlatform, Sleeps


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    server = FakePlatform().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
