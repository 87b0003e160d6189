"""The local stack's web app: who it answers, what its pages may load, remote images."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import socket
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer

from infra.local.web import (
    PublicAddress,
    WebApp,
    block_remote_images,
    content_security_policy,
    mail_policy,
    template_style_hashes,
    widget_style_hashes,
)
from tests.helpers import REPO


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _policy(header: str) -> dict[str, list[str]]:
    parts = (p.split() for p in header.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


# -- remote images ------------------------------------------------------------------------


def test_a_remote_image_becomes_its_description_and_an_inline_one_stays() -> None:
    markup = (
        '<p>Hi</p><img src="https://track.example/p.gif?u=1&amp;m=2" alt="Logo" width="600">'
        '<img src="cid:part1.abc@mail" alt="scan">'
    )
    shown, blocked = block_remote_images(markup)
    assert blocked == 1
    assert "track.example/p.gif" not in shown
    assert '<img alt="[image from track.example: Logo]" width="600">' in shown
    assert '<img src="cid:part1.abc@mail" alt="scan">' in shown  # an attachment of the mail


@pytest.mark.parametrize(
    "tag",
    [
        "<IMG SRC='http://a.example/x.gif'>",
        "<img src=//a.example/x.gif>",
        '<img alt="a > b" src="http://a.example/x.gif" />',
        '<img\nsrc="HTTPS://a.example/x.gif">',
        '<img src=" http://a.example/x.gif">',
    ],
)
def test_every_way_of_writing_a_remote_image_is_blocked(tag: str) -> None:
    shown, blocked = block_remote_images(f"<p>{tag}</p>")
    assert blocked == 1 and "a.example/x.gif" not in shown


def test_mail_without_remote_images_is_unchanged() -> None:
    markup = "<p>No pictures, only <a href=\"https://shop.example\">a link</a>.</p><img alt='x'>"
    assert block_remote_images(markup) == (markup, 0)


# -- the policy -----------------------------------------------------------------------------


def test_the_pages_policy_loads_scripts_and_images_only_from_the_stack() -> None:
    strict = _policy(content_security_policy(PublicAddress(8080)))
    assert strict["default-src"] == ["'none'"] and strict["script-src"] == ["'self'"]
    assert strict["img-src"] == ["'self'", "data:"]
    assert strict["connect-src"] == ["'self'", "ws://127.0.0.1:8080", "ws://localhost:8080"]
    assert strict["frame-ancestors"] == ["'none'"] and strict["base-uri"] == ["'none'"]
    assert "frame-src" not in strict  # default-src 'none': only a ticket page has frames
    assert _policy(content_security_policy(PublicAddress(8080), frames=True))["frame-src"] == [
        "'self'"
    ]


def test_a_mail_document_loads_remote_images_only_when_the_agent_chose_to() -> None:
    blocked = _policy(mail_policy(remote_images=False))
    assert blocked["img-src"] == ["data:"] and "script-src" not in blocked
    assert blocked["default-src"] == ["'none'"] and "sandbox" in blocked
    assert blocked["frame-ancestors"] == ["'self'"]
    chosen = _policy(mail_policy(remote_images=True))
    assert chosen["img-src"] == ["data:", "http:", "https:"]


def test_the_hashes_cover_every_style_block_of_the_page_templates() -> None:
    hashes = template_style_hashes(REPO / "templates" / "web")
    for path in (REPO / "templates" / "web").glob("*.html.j2"):
        for block in re.findall(r"<style>(.*?)</style>", path.read_text(), re.DOTALL):
            assert "{{" not in block and "{%" not in block, f"a template expression in {path}"
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in hashes


def test_the_widget_styles_are_found_in_its_source() -> None:
    source = (REPO / "functions" / "chat_ws" / "widget" / "helpline-chat.js").read_text()
    elements, attributes = widget_style_hashes(source)
    assert len(elements) == 1 and len(attributes) == 1


# -- who may ask ----------------------------------------------------------------------------


class _Agents:
    def __call__(self, email: str | None) -> Any:
        return [] if email is None else {"token": "t0k3n", "ws_url": "ws://127.0.0.1/chat"}


def _ask(port: int, *requests: tuple[str, str, dict[str, str]]) -> list[tuple[int, str]]:
    app = WebApp(
        store=cast(Any, None),
        tickets=cast(Any, None),
        outbox=cast(Any, None),
        page_context={"support_address": "support@helpline.test", "smtp_port": 2525},
        quarantine=list,
        port=port,
        agents=_Agents(),
    )

    async def run() -> list[tuple[int, str]]:
        async with TestClient(TestServer(app.application(), host="127.0.0.1", port=port)) as client:
            answers = []
            for method, path, headers in requests:
                body = json.dumps({"email": "emma@helpline.test"}) if method == "POST" else None
                response = await client.request(method, path, headers=headers, data=body)
                answers.append((response.status, await response.text()))
            return answers

    return asyncio.run(run())


def test_only_the_stacks_own_names_are_served() -> None:
    port = _free_port()
    answers = _ask(
        port,
        ("GET", "/api/health", {}),
        ("GET", "/api/health", {"Host": f"localhost:{port}"}),
        ("GET", "/api/health", {"Host": f"evil.example:{port}"}),
        ("GET", "/api/health", {"Host": "127.0.0.1"}),  # another port's name
    )
    assert [status for status, _ in answers] == [200, 200, 421, 421]


def test_a_post_from_another_sites_page_is_refused() -> None:
    port = _free_port()
    own = f"http://127.0.0.1:{port}"
    answers = _ask(
        port,
        ("POST", "/api/agents/token", {"Origin": own}),
        ("POST", "/api/agents/token", {"Origin": f"http://localhost:{port}"}),
        ("POST", "/api/agents/token", {"Referer": own + "/agent"}),
        ("POST", "/api/agents/token", {}),  # no browser: curl, the benchmarks
        ("POST", "/api/agents/token", {"Origin": "https://evil.example"}),
        ("POST", "/api/agents/token", {"Origin": "null"}),
        ("POST", "/api/agents/token", {"Referer": "https://evil.example/form.html"}),
        ("POST", "/api/agents/token", {"Origin": f"http://127.0.0.1:{port + 1}"}),
    )
    assert [status for status, _ in answers] == [200, 200, 200, 200, 403, 403, 403, 403]
    assert all("t0k3n" not in text for _, text in answers[4:])


def test_widget_dir_without_the_widget_still_serves_pages(tmp_path: Path) -> None:
    app = WebApp(
        store=cast(Any, None),
        tickets=cast(Any, None),
        outbox=cast(Any, None),
        page_context={},
        quarantine=list,
        port=8080,
        widget_dir=tmp_path,
    )
    assert app.widget_styles == ((), ())
