"""The chat widget in headless Chromium, against the protocol fake.

What a visitor notices: the launcher opens a panel they can use with the keyboard
alone; incoming messages reach screen readers; the panel follows the page's language
(Arabic right to left) and fits a phone; messages are text, never markup; a dropped
connection loses nothing; after hours they can leave their details; at the end they
can rate the chat and get the transcript.
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

XSS = "<img src=x onerror=alert(1)>"


def open_demo(page: Any, server: FakeChatServer, path: str = "/") -> Any:
    page.goto(server.base_url + path)
    launcher = page.locator(".launch")
    expect(launcher).to_be_visible()
    return launcher


def open_panel(page: Any, server: FakeChatServer, path: str = "/") -> Any:
    open_demo(page, server, path).click()
    panel = page.locator(".panel")
    expect(panel).to_be_visible()
    panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")  # opening slide
    return panel


def say(page: Any, text: str) -> None:
    """Type into the composer and press Enter, as a visitor does."""
    composer = page.locator("form.c textarea")
    composer.focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def chat_started(page: Any, server: FakeChatServer, text: str = "Hello") -> Any:
    """Open the panel and send a first message; returns the fake's session."""
    open_panel(page, server)
    say(page, text)
    server.wait_frame("message", lambda f: f.get("text") == text)
    return server.only_session()


def has_focus(locator: Any) -> bool:
    return bool(locator.evaluate("el => el.getRootNode().activeElement === el"))


def bubbles(page: Any) -> list[str]:
    return page.locator("ol .m .txt").all_inner_texts()


def test_keyboard_only_chat_with_live_region_and_escape(page: Any, server: FakeChatServer) -> None:
    launcher = open_demo(page, server)
    for _ in range(40):  # Tab through the shop page to the launcher
        page.keyboard.press("Tab")
        if has_focus(launcher):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    outline = launcher.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none", "the focused launcher shows no focus ring"

    page.keyboard.press("Enter")
    expect(page.locator(".panel")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    composer = page.locator("form.c textarea")
    expect(composer).to_be_focused()

    page.keyboard.type("Hello, where is my order?")
    page.keyboard.press("Enter")
    first = server.wait_frame("message")
    assert first["text"] == "Hello, where is my order?"
    expect(page.locator(".m.me .st")).to_have_text("Sent")
    expect(page.locator("li.note")).to_have_text("Lucía joined the chat.")

    page.keyboard.type("Order 1234")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("placed on Monday")
    page.keyboard.press("Enter")
    second = server.wait_frame("message", lambda f: f["text"] != first["text"])
    assert second["text"] == "Order 1234\nplaced on Monday"

    session = server.only_session()
    server.push_agent_message(session.session_id, "Let me check that for you.")
    live = page.locator(".hlc-live")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_contain_text("Lucía: Let me check that for you.")
    assert bubbles(page)[-1] == "Let me check that for you."

    page.keyboard.press("Escape")
    expect(page.locator(".panel")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()


# the launcher's title and the send button, as each language's speakers write them
LANGUAGES = {
    "en": ("Chat with us", "Send"),
    "es": ("Chatea con nosotros", "Enviar"),
    "fr": ("Discuter avec nous", "Envoyer"),
    "de": ("Chatten Sie mit uns", "Senden"),
    "pt": ("Fale conosco", "Enviar"),
    "ru": ("Напишите нам", "Отправить"),
    "ar": ("تحدث معنا", "إرسال"),
    "ja": ("チャットでお問い合わせ", "送信"),
}


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_the_panel_follows_the_page_language(page: Any, server: FakeChatServer, lang: str) -> None:
    title, send = LANGUAGES[lang]
    panel = open_panel(page, server, f"/?lang={lang}")
    assert page.evaluate("document.documentElement.lang") == lang
    expect(panel).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    expect(panel).to_have_attribute("lang", lang)
    expect(page.locator(".launch")).to_have_text(title)
    expect(page.locator(".panel h2")).to_have_text(title)
    expect(page.locator("form.c button[type=submit]")).to_have_text(send)
    post = server.wait_for(lambda: server.session_posts, "POST /chat/session")[0]
    assert post["locale"] == lang


def test_arabic_panel_reads_right_to_left(page: Any, server: FakeChatServer) -> None:
    open_panel(page, server, "/?lang=ar")
    say(page, "مرحبا")
    expect(page.locator("li.note")).to_have_text("انضم Lucía إلى المحادثة.")
    expect(page.locator(".panel .sub")).to_have_text("نحن متصلون الآن")
    # the visitor's own bubble sits on the left in a right-to-left panel
    mine = page.locator(".m.me").bounding_box()
    panel = page.locator(".panel").bounding_box()
    assert mine["x"] - panel["x"] < panel["x"] + panel["width"] - (mine["x"] + mine["width"])


def test_phone_screen_gets_a_full_width_panel(make_page: Any, server: FakeChatServer) -> None:
    page = make_page(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    open_panel(page, server)
    box = page.locator(".panel").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 640
    assert box["width"] >= 350, f"panel is {box['width']}px wide on a 360px screen"
    for part in ("form.c textarea", "form.c button[type=submit]", ".head .x"):
        inner = page.locator(part).bounding_box()
        assert inner["x"] >= 0 and inner["x"] + inner["width"] <= 360, part
        assert inner["y"] >= 0 and inner["y"] + inner["height"] <= 640, part
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_markup_in_messages_is_shown_as_text(page: Any, server: FakeChatServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    session = chat_started(page, server, XSS)
    server.push_agent_message(session.session_id, '<b>bold</b><img src=x onerror="window.pwned=1">')
    expect(page.locator(".hlc-live")).to_contain_text("<b>bold</b>")
    assert bubbles(page) == [XSS, '<b>bold</b><img src=x onerror="window.pwned=1">']
    images = page.evaluate(
        """() => document.querySelectorAll('img').length +
              document.querySelector('.hlc-host > div').shadowRoot.querySelectorAll('img, b').length"""
    )
    assert images == 0
    assert page.evaluate("window.pwned") is None
    assert dialogs == []


def test_reconnect_resends_the_unacked_message_with_the_same_client_id(
    page: Any, server: FakeChatServer
) -> None:
    session = chat_started(page, server, "First question")
    expect(page.locator(".m.me .st")).to_have_text("Sent")
    first_cursor = session.messages[0]["cursor"]

    server.drop_before_ack.add("Second question")
    say(page, "Second question")
    expect(page.locator(".bar").first).to_have_text("Reconnecting…")
    # a reply written while the visitor is away arrives with the resumed history
    server.push_agent_message(session.session_id, "Are you still there?")

    server.wait_for(
        lambda: len(server.frames("hello")) >= 2 and len(session.by_client_id) == 2,
        "the resumed hello",
    )

    def second_question() -> list[dict[str, Any]]:
        return [f for f in server.frames("message") if f["text"] == "Second question"]

    server.wait_for(lambda: len(second_question()) == 2, "the resend")
    sent = second_question()
    assert sent[0]["client_id"] == sent[1]["client_id"], "the resend got a new client_id"
    assert server.frames("hello")[1]["last_seen"] == first_cursor
    assert [m["text"] for m in session.messages if m["from"] == "customer"] == [
        "First question",
        "Second question",
    ]
    expect(page.locator(".m.me .st")).to_have_text(["Sent", "Sent"])
    expect(page.locator(".bar").first).to_be_hidden()
    expect(page.locator("ol .m")).to_have_count(3)
    assert bubbles(page) == ["First question", "Second question", "Are you still there?"]


def test_a_network_drop_brings_back_what_was_missed(page: Any, server: FakeChatServer) -> None:
    session = chat_started(page, server)
    expect(page.locator(".m.me .st")).to_have_text("Sent")
    page.context.set_offline(True)
    server.drop_customer(session.session_id)
    server.push_agent_message(session.session_id, "Sent while you were offline")
    expect(page.locator(".bar").first).to_have_text("Reconnecting…")
    page.context.set_offline(False)
    expect(page.locator(".hlc-live")).to_contain_text("Lucía: Sent while you were offline")
    expect(page.locator(".bar").first).to_be_hidden()
    assert bubbles(page) == ["Hello", "Sent while you were offline"]


def test_a_reload_resumes_the_same_session(page: Any, server: FakeChatServer) -> None:
    session = chat_started(page, server, "Remember me")
    server.push_agent_message(session.session_id, "Of course")
    expect(page.locator("ol .m")).to_have_count(2)

    page.reload()
    expect(page.locator(".panel")).to_be_visible()  # it was open before the reload
    expect(page.locator("ol .m")).to_have_count(2)
    assert bubbles(page) == ["Remember me", "Of course"]
    assert len(server.sessions) == 1
    assert server.session_posts[-1]["token"] == session.token
    assert "last_seen" not in server.frames("hello")[-1]  # nothing shown yet: all of it


def test_an_unacked_message_survives_a_reload(page: Any, server: FakeChatServer) -> None:
    session = chat_started(page, server, "Before")
    expect(page.locator(".m.me .st")).to_have_text("Sent")
    server.drop_before_store.add("Lost in transit?")
    say(page, "Lost in transit?")
    server.wait_for(lambda: not server.drop_before_store, "the frame lost with the connection")
    page.reload()  # before the widget reconnects: only its sessionStorage has the message
    expect(page.locator(".m.me .st")).to_have_text(["Sent", "Sent"])
    assert bubbles(page) == ["Before", "Lost in transit?"]
    stored = [m["text"] for m in session.messages if m["from"] == "customer"]
    assert stored == ["Before", "Lost in transit?"]
    ids = {f["client_id"] for f in server.frames("message") if f["text"] == "Lost in transit?"}
    assert len(ids) == 1, "the resend after the reload got a new client_id"


@pytest.mark.parametrize("server", [{"route": "after_hours", "hours_open": False}], indirect=True)
def test_after_hours_asks_for_contact_details(page: Any, server: FakeChatServer) -> None:
    open_panel(page, server)
    expect(page.locator(".panel .sub")).to_have_text("Back Monday 30 November at 09:00 (CET)")
    say(page, "My parcel never arrived")
    card = page.locator("[data-card=away]")
    expect(card).to_contain_text("We're closed right now.")
    expect(card).to_contain_text("Back Monday 30 November at 09:00 (CET).")
    expect(card).to_contain_text("Expect a reply by Monday 30 November at 10:00 (CET).")
    expect(page.locator(".hlc-live")).to_contain_text("We're closed right now.")

    page.get_by_label("Name").fill("Ana García")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_label("Email").press("Enter")
    contact = server.wait_frame("contact")
    assert contact == {"action": "contact", "email": "ana@example.com", "name": "Ana García"}
    expect(card).to_contain_text("Thanks! We'll reply to ana@example.com.")
    # the message box stays: an after-hours message still becomes a ticket
    expect(page.locator("form.c textarea")).to_be_visible()


@pytest.mark.parametrize("server", [{"route": "queue"}], indirect=True)
def test_queue_position_and_wait_update_live(page: Any, server: FakeChatServer) -> None:
    session = chat_started(page, server)
    bar = page.locator(".bar").nth(1)
    expect(bar).to_have_text("You're number 2 in line. Estimated wait: 3 minutes.")
    server.move_queue(session.session_id, 1, 45)
    expect(bar).to_have_text("You're number 1 in line. Estimated wait: 1 minute.")
    expect(page.locator(".hlc-live")).to_contain_text("You're number 1 in line.")
    server.move_queue(session.session_id, 1, None)
    expect(bar).to_have_text("You're number 1 in line. No one is online yet.")
    server.assign(session.session_id, "Marc")
    expect(bar).to_be_hidden()
    expect(page.locator("li.note")).to_have_text("Marc joined the chat.")


@pytest.mark.parametrize("server", [{"route": "bot"}], indirect=True)
def test_bot_answer_offers_a_person(page: Any, server: FakeChatServer) -> None:
    chat_started(page, server, "How do I return an order?")
    answer = page.locator("ol .m.bot")
    expect(answer.locator(".who")).to_contain_text("Automatic answer")
    expect(answer.locator(".txt")).to_have_text(
        "You can return an order within 30 days from My orders."
    )
    person = page.get_by_role("button", name="Talk to a person")
    person.focus()
    page.keyboard.press("Enter")
    server.wait_frame("agent")
    expect(page.locator("li.note")).to_have_text("Lucía joined the chat.")
    expect(person).to_have_count(0)


def test_typing_indicator_and_read_receipts(page: Any, server: FakeChatServer) -> None:
    session = chat_started(page, server)
    server.push(session.session_id, {"type": "typing", "from": "agent", "typing": True})
    typing = page.locator("p.typing")
    expect(typing).to_have_text("Lucía is typing…")
    server.push_agent_message(session.session_id, "Here I am")
    expect(typing).to_be_hidden()
    # the open panel tells the agent the reply was read
    reply_id = session.messages[-1]["id"]
    server.wait_frame("read", lambda f: f.get("message_id") == reply_id)
    server.push(session.session_id, {"type": "read", "message_id": session.messages[0]["id"]})
    expect(page.locator(".m.me .st")).to_have_text("Read")
    # and typing in the box tells the agent
    page.locator("form.c textarea").press("a")
    server.wait_frame("typing", lambda f: f.get("typing") is True)


def test_closed_chat_offers_rating_and_transcript(page: Any, server: FakeChatServer) -> None:
    chat_started(page, server)
    page.get_by_role("button", name="End chat").click()
    server.wait_frame("close")
    expect(page.locator("li.note").last).to_have_text("This chat has ended.")
    expect(page.locator("form.c")).to_be_hidden()

    stars = page.locator(".stars button")
    expect(stars).to_have_count(5)
    labels = [stars.nth(i).get_attribute("aria-label") for i in range(5)]
    assert labels == [f"{n} out of 5" for n in range(1, 6)]
    page.get_by_role("button", name="4 out of 5").click()
    expect(page.get_by_role("button", name="4 out of 5")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Comment (optional)").fill("Quick and kind")
    page.get_by_role("button", name="Send rating").click()
    assert server.wait_frame("rate") == {"action": "rate", "score": 4, "comment": "Quick and kind"}
    expect(page.locator("[data-card=end]")).to_contain_text("Thanks for your feedback!")

    page.get_by_label("Email me a copy of this chat").fill("ana@example.com")
    page.get_by_label("Email me a copy of this chat").press("Enter")
    assert server.wait_frame("transcript") == {"action": "transcript", "email": "ana@example.com"}
    expect(page.locator("[data-card=end]")).to_contain_text(
        "We've sent the transcript to ana@example.com."
    )

    page.get_by_role("button", name="Start a new chat").click()
    expect(page.locator("form.c textarea")).to_be_focused()
    server.wait_for(lambda: len(server.sessions) == 2, "a second session")


@pytest.mark.parametrize("server", [{"max_message_chars": 50}], indirect=True)
def test_a_too_long_message_is_refused_not_cut(page: Any, server: FakeChatServer) -> None:
    open_panel(page, server)
    server.wait_frame("hello")
    long_text = "x" * 60
    say(page, long_text)
    alert = page.locator(".hlc-alert")
    expect(alert).to_have_attribute("aria-live", "assertive")
    expect(alert).to_contain_text("This message is too long: at most 50 characters.")
    expect(page.locator("form.c textarea")).to_have_value(long_text)
    assert server.frames("message") == []


def test_the_session_api_defaults_to_the_script_origin_or_data_api(
    make_page: Any, server: FakeChatServer
) -> None:
    shop = FakeChatServer().start()
    try:
        shop.extra_pages["default"] = (
            f'<!doctype html><html lang="fr"><title>Shop</title><body><h1>Boutique</h1>'
            f'<script src="{server.base_url}/chat/widget.js" async></script></body></html>'
        )
        shop.extra_pages["explicit"] = (
            f'<!doctype html><html lang="en"><title>Shop</title><body>'
            f'<script src="/chat/widget.js" data-api="{server.base_url}/" data-title="Ask us" '
            f'data-position="left" async></script></body></html>'
        )
        page = make_page()
        open_panel(page, shop, "/default")
        expect(page.locator(".panel h2")).to_have_text("Discuter avec nous")
        server.wait_for(lambda: len(server.session_posts) == 1, "a cross-origin session")

        page = make_page()
        open_panel(page, shop, "/explicit")
        expect(page.locator(".panel h2")).to_have_text("Ask us")
        server.wait_for(lambda: len(server.session_posts) == 2, "the data-api session")
        launcher = page.locator(".launch").bounding_box()
        assert launcher["x"] < 100, "data-position=left puts the launcher bottom-left"
        assert shop.session_posts == []
    finally:
        shop.stop()


def test_page_styles_do_not_leak_in_and_the_widget_adds_none(
    page: Any, server: FakeChatServer
) -> None:
    server.extra_pages["hostile"] = (
        "<!doctype html><html lang=en><title>Hostile</title><style>"
        "body{color:rgb(255,0,0);font:40px serif} button{display:none!important} ol,li{margin:90px}"
        "</style><body><p>Styled page</p><script src='/chat/widget.js' async></script></body></html>"
    )
    launcher = open_demo(page, server, "/hostile")
    assert launcher.evaluate("el => getComputedStyle(el).fontSize") == "15px"
    assert launcher.evaluate("el => getComputedStyle(el).color") == "rgb(255, 255, 255)"
    assert page.evaluate("document.querySelectorAll('style, link[rel=stylesheet]').length") == 1
    assert page.evaluate("getComputedStyle(document.querySelector('p')).fontSize") == "40px"


def test_reduced_motion_turns_the_animation_off(make_page: Any, server: FakeChatServer) -> None:
    moving = make_page()
    assert (
        open_panel(moving, server).evaluate("el => getComputedStyle(el).animationName") == "hlc-in"
    )
    still = make_page(reduced_motion="reduce")
    assert open_panel(still, server).evaluate("el => getComputedStyle(el).animationName") == "none"


def test_demo_page_links_and_language_switcher(page: Any, server: FakeChatServer) -> None:
    page.goto(server.base_url + "/")
    expect(page.locator("h1")).to_have_text("Helpline Demo Shop")
    expect(page.get_by_role("link", name="Agent page")).to_have_attribute("href", "/agent")
    expect(page.get_by_role("link", name="Tickets")).to_have_attribute("href", "/tickets")
    assert page.locator("script[src]").count() == 1
    page.get_by_label("Language").select_option("ar")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(re.compile(r"\?lang=ar$"))
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "ar",
        "rtl",
    ]
    expect(page.locator(".launch")).to_have_text("تحدث معنا")
