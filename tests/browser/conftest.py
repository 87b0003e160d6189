"""Browser tests: Playwright driving Debian's chromium (never a downloaded browser).

Without the `playwright` package or /usr/bin/chromium every test here is skipped with
the reason, except when HELPLINE_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
Each test gets a fresh browser context (its own sessionStorage) with short timeouts,
and a fake chat server on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.fake_chat_server import FakeChatServer
from tests.e2e.conftest import open_stack  # noqa: F401  (the local stack, for test_real_stack.py)

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACTION_TIMEOUT_MS = 8_000


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the `playwright` package is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = _missing_browser()
    if missing:
        if os.environ.get("HELPLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HELPLINE_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"browser tests need Chromium: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, timeout=30_000
        )
        yield chromium
        chromium.close()


@pytest.fixture
def make_page(browser: Any) -> Iterator[Any]:
    """New pages in fresh contexts; any uncaught script error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture
def page(make_page: Any) -> Any:
    return make_page()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeChatServer]:
    """The fake chat server; `@pytest.mark.parametrize("server", [{...}], indirect=True)`
    passes its options."""
    options = getattr(request, "param", {})
    fake = FakeChatServer(**options).start()
    yield fake
    fake.stop()
