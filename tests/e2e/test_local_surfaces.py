"""The local stack's own surfaces, as a hostile page or a big mail meets them.

`helpline dev` runs on a developer's laptop while their browser visits other sites: a
page that rebinds its own name to 127.0.0.1 (DNS rebinding), posts a form across sites
or opens a WebSocket to the stack must get nothing, and every page the stack serves
sends a strict Content-Security-Policy. Mail is taken up to what SES takes (40 MB):
bigger mail is refused during the SMTP conversation, as SES refuses it, and mail over a
lower `email.max_message_mb` is kept and quarantined as `too_large`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import smtplib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from infra.local.deployment import local_id
from tests.e2e.conftest import Stack, config_variant, start_stack

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
EVIL = "https://evil.example"


def _http(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, Any, bytes]:
    """(status, headers, body) of one request; an HTTP error is an answer, not a raise."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _port(stack: Stack) -> int:
    return int(stack.info["http_url"].rsplit(":", 1)[1])


def _ticket_from_mail(stack: Stack, subject: str) -> dict[str, Any]:
    message = EmailMessage()
    message["From"] = "Ada <ada@customer.example>"
    message["To"] = "support@helpline.test"
    message["Subject"] = subject
    message.set_content("My parcel arrived damaged. Can you send a new one?")
    stack.send(message)
    found = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["subject"] == subject], "ticket", timeout=60
    )
    return dict(found[0])


# -- Host: a page on another name (DNS rebinding) reads nothing --------------------------


def test_a_request_for_another_host_name_is_refused_on_pages_apis_and_rest_routes(
    stack: Stack,
) -> None:
    ticket = _ticket_from_mail(stack, "Rebinding probe")
    base = stack.info["http_url"]
    # the attacker's name resolves to 127.0.0.1, so the browser sends it with our port
    rebound = {"Host": f"evil.example:{_port(stack)}"}
    pages = ["/", "/agent", "/tickets", f"/tickets/{ticket['id']}", "/outbox", "/quarantine"]
    apis = ["/api/agents", "/api/outbox", "/api/health"]
    rest = ["/chat/widget.js", "/survey/not-a-token?score=5"]  # the functions' REST routes
    for path in pages + apis + rest:
        status, _, body = _http(base + path, headers=rebound)
        assert status in (421, 403), f"{path} answered {status} to Host evil.example"
        assert ticket["id"].encode() not in body and b"emma@helpline.test" not in body
        assert _http(base + path)[0] != status, f"{path} is refused to the stack's own name too"
    posted = json.dumps({"locale": "en"}).encode()
    status, _, _ = _http(
        base + "/chat/session",
        method="POST",
        body=posted,
        headers={**rebound, "Content-Type": "application/json"},
    )
    assert status in (421, 403)
    # both of the stack's own names are served
    status, _, body = _http(base + "/api/agents", headers={"Host": f"localhost:{_port(stack)}"})
    assert status == 200 and b"emma@helpline.test" in body


# -- Origin: a cross-site form post or WebSocket gets nothing ----------------------------


def test_a_cross_site_post_gets_no_agent_token_while_the_console_itself_gets_one(
    stack: Stack,
) -> None:
    url = stack.info["http_url"] + "/api/agents/token"
    # what <form enctype="text/plain"> on another site can send: no preflight needed
    body = b'{"email": "emma@helpline.test", "x": "="}'
    for foreign in ({"Origin": EVIL}, {"Origin": "null"}, {"Referer": EVIL + "/page.html"}):
        status, _, answer = _http(
            url, method="POST", body=body, headers={**foreign, "Content-Type": "text/plain"}
        )
        assert status == 403, f"{foreign} got {status}"
        assert b"token" not in answer
    status, _, answer = _http(
        url,
        method="POST",
        body=json.dumps({"email": "emma@helpline.test"}).encode(),
        headers={"Origin": stack.info["http_url"], "Content-Type": "application/json"},
    )
    assert status == 200 and json.loads(answer)["token"]


def _agent_socket_url(stack: Stack) -> str:
    signed = stack.json("agents", "token", "emma@helpline.test")
    return str(signed["ws_url"]) + "?agent_token=" + str(signed["token"])


def test_a_chat_websocket_from_another_site_is_refused(stack: Stack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(_agent_socket_url(stack), origin=Origin(EVIL), open_timeout=15)
    assert refused.value.response.status_code == 403
    # the stack's own pages, a site of chat.allowed_origins, and a client that is no browser
    for origin in (Origin(stack.info["http_url"]), Origin("https://shop.helpline.test"), None):
        with connect(_agent_socket_url(stack), origin=origin, open_timeout=15) as socket:
            socket.send(json.dumps({"action": "status", "status": "away"}))
            frame = json.loads(socket.recv(timeout=15))
            assert frame["type"] == "status", frame


# -- the Management API is internal ------------------------------------------------------


def _connections_path(stack: Stack) -> str:
    """/{api}/{stage}/@connections, named as the stack names the chat WebSocket API."""
    template_path = Path(stack.info["lambda_dir"]) / "packages" / "chat_ws" / "template.yaml"
    resources = yaml.safe_load(template_path.read_text(encoding="utf-8"))["Resources"]
    logical = next(
        name
        for name, r in resources.items()
        if r["Type"] == "AWS::ApiGatewayV2::Api"
        and r["Properties"].get("ProtocolType") == "WEBSOCKET"
    )
    stage = next(
        r["Properties"]["StageName"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Stage"
        and r["Properties"].get("ApiId") == {"Ref": logical}
    )
    return f"/{local_id('helpline-dev-chat', logical)}/{stage}/@connections"


def test_the_connections_endpoint_is_on_the_internal_port_only(stack: Stack) -> None:
    connections = _connections_path(stack)
    public = stack.info["http_url"]
    for path in (f"{connections}/abc", "/@connections/abc"):
        status, _, _ = _http(public + path, method="POST", body=b'{"type":"x"}')
        assert status == 404, f"the public port answered {status} to POST {path}"
    # the internal port answers: no such connection is API Gateway's 410
    status, headers, _ = _http(
        stack.info["management_url"] + f"{connections}/abc", method="POST", body=b"{}"
    )
    assert status == 410 and headers["x-amzn-ErrorType"] == "GoneException"


# -- every page sends a strict Content-Security-Policy ----------------------------------


def _policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0]: (d[1] if len(d) > 1 else "") for d in directives}


def test_every_page_sends_a_strict_content_security_policy(stack: Stack) -> None:
    ticket = _ticket_from_mail(stack, "Policy probe")
    base = stack.info["http_url"]
    pages = ["/", "/?lang=ar", "/agent", "/tickets", f"/tickets/{ticket['id']}"]
    for path in [*pages, "/outbox", "/quarantine"]:
        status, headers, body = _http(base + path)
        assert status == 200, path
        assert headers["Content-Security-Policy"], f"{path} sends no Content-Security-Policy"
        policy = _policy(headers["Content-Security-Policy"])
        assert policy["default-src"] == "'none'", path
        assert policy["script-src"] == "'self'", path
        assert policy["img-src"] == "'self' data:", path  # a remote image never loads
        assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'", path
        assert policy["form-action"] == "'self'", path
        assert policy["connect-src"].split()[0] == "'self'", path
        assert f"ws://127.0.0.1:{_port(stack)}" in policy["connect-src"].split(), path
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        html = body.decode("utf-8")
        # what the policy would block must not be what the page relies on
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {path}"
        assert " style=" not in html, f"a style attribute in {path}"
        for block in re.findall(r"<style>(.*?)</style>", html, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy["style-src"].split(), f"a <style> of {path}"
    # a message's HTML is a document of its own, sandboxed, with nothing to fetch
    page = _http(f"{base}/tickets/{ticket['id']}")[2].decode()
    frames = re.findall(r'<iframe sandbox [^>]*src="(/tickets/[^"]+/html)"', page)
    assert frames, "the acknowledgement's HTML is not on the ticket page"
    for frame in frames:
        status, headers, _ = _http(base + frame)
        policy = _policy(headers["Content-Security-Policy"])
        assert status == 200 and policy["default-src"] == "'none'" and "sandbox" in policy
        assert policy["img-src"] == "data:" and "script-src" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"


# -- mail size: SES takes 40 MB, and so does the local listener -------------------------


def _big_mail(subject: str, total_bytes: int) -> tuple[bytes, int]:
    """A mail of about `total_bytes` with one base64 attachment, built as bytes at once
    (EmailMessage would hold several copies); returns it and the attachment's size."""
    boundary = "helpline-" + uuid.uuid4().hex
    head = (
        "From: Big Sender <big@customer.example>\r\n"
        "To: support@helpline.test\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@customer.example>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The photos of the damaged parcel are attached.\r\n"
        f"--{boundary}\r\nContent-Type: application/zip\r\n"
        'Content-Disposition: attachment; filename="photos.zip"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = (total_bytes - len(head) - len(tail)) * 57 // 78  # 57 bytes a 78-byte line
    encoded = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    return head + encoded + tail, size


def _send_raw(stack: Stack, raw: bytes) -> None:
    """As a mail server sends it: smtplib declares the size up front (RFC 1870 SIZE)
    when the server offers it."""
    with smtplib.SMTP(stack.info["smtp_host"], stack.info["smtp_port"], timeout=120) as smtp:
        smtp.sendmail("big@customer.example", ["support@helpline.test"], raw)


def _raw_mail_count(stack: Stack) -> int:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.info["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = stack.info["resources"]["bucket"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="raw/")
    return sum(page.get("KeyCount", 0) for page in pages)


def test_a_35_mb_mail_becomes_a_ticket_with_its_attachment(stack: Stack) -> None:
    raw, attached = _big_mail("Photos of the damaged parcel", 35 * MiB)
    assert 32 * MiB < len(raw) < 40 * MiB  # over aiosmtpd's default, under SES's limit
    _send_raw(stack, raw)
    del raw
    tickets = stack.wait_for(
        lambda: [t for t in stack.tickets() if t["subject"] == "Photos of the damaged parcel"],
        "the big mail's ticket",
        timeout=180,
    )
    shown = stack.json("tickets", "show", tickets[0]["id"])
    attachments = [a for m in shown["messages"] for a in m["attachments"]]
    assert [(a["filename"], a["size"]) for a in attachments] == [("photos.zip", attached)]


def test_a_mail_over_40_mb_is_refused_during_the_smtp_conversation(stack: Stack) -> None:
    before = _raw_mail_count(stack)
    raw, _ = _big_mail("Too big for SES", 40 * MiB + 512 * 1024)
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        _send_raw(stack, raw)
    del raw
    # what the sender's own server puts in its bounce: 552, message too big for the system
    assert refused.value.smtp_code == 552
    assert b"5.3.4" in refused.value.smtp_error
    assert _raw_mail_count(stack) == before  # nothing was stored


@pytest.fixture(scope="module")
def small_limit_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo config with `email.max_message_mb: 1`."""

    def one_megabyte(config: dict[str, Any]) -> None:
        config["email"]["max_message_mb"] = 1

    path = config_variant(tmp_path_factory.mktemp("small-config"), "small", one_megabyte)
    yield from start_stack(tmp_path_factory.mktemp("small-state"), "--config", str(path))


def test_mail_over_max_message_mb_is_kept_and_quarantined_as_too_large(
    small_limit_stack: Stack,
) -> None:
    stack = small_limit_stack
    raw, _ = _big_mail("Over the configured limit", 2 * MiB)
    _send_raw(stack, raw)  # accepted: SES takes it, the function decides
    records = stack.wait_for(
        lambda: [q for q in stack.json("quarantine") if q["reason"] == "too_large"],
        "the too_large quarantine record",
        timeout=60,
    )
    assert len(records) == 1
    assert not [t for t in stack.tickets() if t["subject"] == "Over the configured limit"]
