"""The local stack's pages in Chromium, under their Content-Security-Policy.

A ticket page does not fetch a mail's remote images when it opens (a sender would learn
that the agent read the mail) until the agent chooses to load them, and the policy
blocks a remote image even if one got past the page. The demo shop's chat widget and the
agent console work under the policy with no violation reported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.conftest import Stack

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips (or fails) every test before this is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.e2e
LOAD = "Load remote images (the sender may learn you opened this)"
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class PixelServer:
    """Another site's tracking pixel: records every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Pixel(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", str(len(GIF)))
                self.end_headers()
                self.wfile.write(GIF)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Pixel)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pixel() -> Iterator[PixelServer]:
    server = PixelServer()
    yield server
    server.stop()


def _csp_violations(page: Any) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda m: (
            found.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text
            else None
        ),
    )
    return found


def _ticket_with_remote_image(stack: Stack, pixel: PixelServer) -> str:
    message = EmailMessage()
    message["From"] = "Newsletter Shop <news@shop.example>"
    message["To"] = "support@helpline.test"
    message["Subject"] = "Where is my order? (with a tracking pixel)"
    message.set_content("Hello, my order 1234 has not arrived yet. Could you check it?")
    message.add_alternative(
        "<p>Hello, my order 1234 has not arrived yet. Could you check it?</p>"
        f'<p><img src="{pixel.url}/pixel.gif?reader=agent" alt="Shop logo" width="1" height="1"></p>',
        subtype="html",
    )
    stack.send(message)
    tickets = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["subject"] == message["Subject"]], "the ticket"
    )
    return str(tickets[0]["id"])


def _html_frame(page: Any) -> Any:
    inbound = page.get_by_role("article", name="inbound message")
    handle = inbound.locator("iframe[title='HTML version']").element_handle()
    frame = handle.content_frame()
    frame.wait_for_load_state("load")  # after its images have loaded or been refused
    return frame


def test_a_remote_image_loads_only_after_the_agent_chooses_to_load_it(
    open_stack: Stack, make_page: Any, pixel: PixelServer
) -> None:
    stack = open_stack
    ticket_id = _ticket_with_remote_image(stack, pixel)
    page = make_page()
    violations = _csp_violations(page)
    page.goto(f"{stack.info['http_url']}/tickets/{ticket_id}")
    load = page.get_by_role("link", name=LOAD)
    expect(load).to_be_visible()
    mail = page.get_by_role("article", name="inbound message")
    mail.get_by_text("HTML version").click()
    frame = _html_frame(page)
    expect(frame.get_by_text("has not arrived yet")).to_be_visible()
    expect(frame.locator("img")).to_have_attribute(
        "alt", f"[image from {pixel.url[7:]}: Shop logo]"
    )
    assert pixel.paths == [], "the page fetched the remote image as it opened"

    # the policy blocks a remote image even if one got into the page
    page.evaluate(
        "url => { const img = new Image(); img.src = url; document.body.append(img); }",
        pixel.url + "/missed.gif",
    )
    stack.wait_for(lambda: violations, "the policy to refuse the image", timeout=10)
    assert "img-src" in violations[0] and pixel.paths == []

    violations.clear()
    load.click()
    page.wait_for_url("**remote_images=1")
    _html_frame(page)
    stack.wait_for(lambda: pixel.paths, "the remote image, once chosen", timeout=10)
    assert pixel.paths == ["/pixel.gif?reader=agent"]
    assert violations == []
    expect(page.get_by_role("link", name="Block them again")).to_be_visible()


def test_the_demo_shop_and_the_agent_console_work_under_the_policy(
    open_stack: Stack, make_page: Any
) -> None:
    stack = open_stack
    base = stack.info["http_url"]
    shop = make_page()
    shop_violations = _csp_violations(shop)
    answer = shop.goto(base + "/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    shop.locator(".launch").click()
    shop.locator("form.c textarea").fill("Do you ship to Iceland?")
    shop.locator("form.c textarea").press("Enter")
    # acknowledged over the chat WebSocket after the session POST: both allowed
    expect(shop.locator("ol .m.me .st").last).to_have_text("Sent")

    console = make_page()
    console_violations = _csp_violations(console)
    answer = console.goto(base + "/agent")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    console.get_by_role("combobox", name="Agent").select_option("emma@helpline.test")
    console.get_by_role("button", name="Sign in").click()
    expect(console.locator("#ag-conn")).to_have_text("Connected")
    console.get_by_label("Online").check()
    console.get_by_role("button", name="Apply").click()
    expect(console.locator("#ag-status-text")).to_contain_text("Online")
    # the visitor who was waiting reaches the agent who just came online (offered or assigned)
    expect(console.locator("#ag-console")).to_contain_text("Do you ship to Iceland?")

    assert shop_violations == [] and console_violations == []
