"""The agent page (/agent) in headless Chromium, chatting with a customer's widget.

Both talk to the protocol fake, which relays between them as the real server does:
the agent signs in, goes online, sees the waiting chat, accepts it, answers, writes
an internal note the customer never sees, and closes or transfers the chat.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.fake_chat_server import FakeChatServer

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips (or fails) every test before this is needed
    expect = None

pytestmark = pytest.mark.parametrize("server", [{"route": "queue"}], indirect=True)


def signed_in_online(page: Any, server: FakeChatServer) -> None:
    page.goto(server.base_url + "/agent")
    page.get_by_role("combobox", name="Agent").select_option("lucia@helpline.test")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#ag-conn")).to_have_text("Connected")
    page.get_by_label("Online").check()
    page.get_by_role("button", name="Apply").click()
    status = server.wait_frame("status")
    assert status == {
        "action": "status",
        "status": "online",
        "languages": ["es", "en"],
        "max_chats": 3,
    }
    expect(page.locator("#ag-status-text")).to_have_text("Online · 0 of 3 chats · es, en")


def customer_waiting(page: Any, server: FakeChatServer, text: str) -> None:
    page.goto(server.base_url + "/?lang=es")
    page.locator(".launch").click()
    page.locator("form.c textarea").fill(text)
    page.locator("form.c textarea").press("Enter")
    expect(page.locator(".bar").nth(1)).to_contain_text("Tienes el puesto 2 en la cola.")


def accepted(agent: Any) -> Any:
    waiting = agent.locator("#ag-waiting li")
    expect(waiting).to_have_count(1)
    waiting.get_by_role("button", name="Accept").click()
    tab = agent.get_by_role("tab")
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(agent.locator("#ag-waiting li")).to_have_count(0)
    return agent.get_by_role("tabpanel")


def test_agent_accepts_answers_notes_and_closes(make_page: Any, server: FakeChatServer) -> None:
    agent, customer = make_page(), make_page()
    signed_in_online(agent, server)
    customer_waiting(customer, server, "¿Dónde está mi pedido?")
    expect(agent.locator("#ag-waiting li")).to_contain_text("¿Dónde está mi pedido?")

    chat = accepted(agent)
    expect(chat.locator(".ag-log li.ag-customer .ag-text")).to_have_text(["¿Dónde está mi pedido?"])
    expect(chat.locator("h3")).to_have_text("Visitor")
    expect(customer.locator("li.note")).to_have_text("Lucía se ha unido al chat.")
    expect(chat.locator("textarea")).to_be_focused()

    agent.keyboard.type("Ya lo miro")
    agent.keyboard.press("Enter")
    expect(customer.locator("ol .m.them .txt")).to_have_text("Ya lo miro")
    # the customer's panel is open, so the reply is read at once and the agent sees it
    expect(chat.locator(".ag-mine .ag-state")).to_have_text("Read")

    chat.get_by_label("Internal note (never sent to the customer)").check()
    chat.locator("textarea").fill("VIP customer, be quick")
    chat.get_by_role("button", name="Add note").click()
    note = server.wait_frame("note")
    assert note["text"] == "VIP customer, be quick"
    expect(chat.locator(".ag-note .ag-who").first).to_have_text(
        re.compile(r"^Internal note · Lucía")
    )
    expect(chat.locator(".ag-note .ag-state")).to_have_text("Saved")
    chat.get_by_label("Internal note (never sent to the customer)").uncheck()
    expect(chat.get_by_role("button", name="Send")).to_be_visible()

    customer.locator("form.c textarea").fill("<img src=x onerror=alert(1)> gracias")
    customer.locator("form.c textarea").press("Enter")
    expect(chat.locator(".ag-log li.ag-customer .ag-text").last).to_have_text(
        "<img src=x onerror=alert(1)> gracias"
    )
    assert agent.evaluate("document.querySelectorAll('#ag-panels img').length") == 0
    expect(agent.locator("#ag-live")).to_contain_text(
        "Visitor: <img src=x onerror=alert(1)> gracias"
    )
    assert "VIP customer" not in customer.locator("ol").inner_text()

    chat.get_by_role("button", name="Close chat").click()
    expect(chat.locator(".ag-ended")).to_have_text("Chat closed.")
    expect(chat.locator("textarea")).to_be_disabled()
    expect(customer.locator("li.note").last).to_have_text("El chat ha terminado.")
    chat.get_by_role("button", name="Dismiss").click()
    expect(agent.get_by_role("tab")).to_have_count(0)


def test_agent_transfers_a_chat_to_a_team(make_page: Any, server: FakeChatServer) -> None:
    agent, customer = make_page(), make_page()
    signed_in_online(agent, server)
    customer_waiting(customer, server, "Tengo un problema con una factura")
    chat = accepted(agent)
    chat.get_by_label("Transfer to a team").fill("billing")
    chat.get_by_role("button", name="Transfer").click()
    transfer = server.wait_frame("transfer")
    assert transfer == {
        "action": "transfer",
        "session_id": server.only_session().session_id,
        "team": "billing",
    }
    expect(chat.locator(".ag-ended")).to_have_text("Transferred: this chat is no longer yours.")
    expect(customer.locator(".bar").nth(1)).to_contain_text("Tienes el puesto 1 en la cola.")


def test_tabs_switch_with_arrow_keys(make_page: Any, server: FakeChatServer) -> None:
    agent = make_page()
    signed_in_online(agent, server)
    customer_waiting(make_page(), server, "Primera consulta")
    accepted(agent)
    customer_waiting(make_page(), server, "Segunda consulta")
    agent.locator("#ag-waiting li").get_by_role("button", name="Accept").click()
    tabs = agent.get_by_role("tab")
    expect(tabs).to_have_count(2)
    tabs.first.click()
    expect(tabs.first).to_have_attribute("aria-selected", "true")
    agent.keyboard.press("ArrowRight")
    expect(tabs.nth(1)).to_be_focused()
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(agent.get_by_role("tabpanel")).to_contain_text("Segunda consulta")


def test_agent_reconnects_and_goes_online_again(page: Any, server: FakeChatServer) -> None:
    signed_in_online(page, server)
    server.drop_agent("lucia@helpline.test")
    server.wait_for(lambda: len(server.frames("status")) == 2, "the status sent again")
    assert server.frames("status")[1] == server.frames("status")[0]
    expect(page.locator("#ag-conn")).to_have_text("Connected")
    page.reload()  # the page remembers who signed in
    expect(page.locator("#ag-me")).to_have_text("Lucía <lucia@helpline.test>")
    expect(page.locator("#ag-conn")).to_have_text("Connected")
