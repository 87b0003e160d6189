"""social_dm: webhooks of Messenger, Instagram, WhatsApp, Telegram and X. Registration only."""

from __future__ import annotations

import json

from chalice import Chalice, Response

from functions.social_dm import wiring
from functions.social_dm.service import WebhookResult

app = Chalice(app_name="helpline-social")


def _response(result: WebhookResult) -> Response:
    body = result.body if isinstance(result.body, str) else json.dumps(result.body)
    return Response(
        body=body, status_code=result.status, headers={"Content-Type": result.content_type}
    )


def _request() -> tuple[bytes, dict[str, str]]:
    request = app.current_request
    assert request is not None
    raw = request.raw_body
    return (raw if isinstance(raw, bytes) else str(raw or "").encode()), dict(request.headers)


@app.route("/webhooks/meta", methods=["GET"])
def meta_verification() -> Response:
    assert app.current_request is not None
    return _response(
        wiring.service().meta_verification(wiring.params(app.current_request.query_params))
    )


@app.route("/webhooks/meta", methods=["POST"])
def meta_delivery() -> Response:
    return _response(wiring.delivery("meta", *_request()))


@app.route("/webhooks/telegram", methods=["POST"])
def telegram_delivery() -> Response:
    return _response(wiring.delivery("telegram", *_request()))


@app.route("/webhooks/x", methods=["GET"])
def x_crc() -> Response:
    assert app.current_request is not None
    return _response(wiring.service().x_crc(wiring.params(app.current_request.query_params)))


@app.route("/webhooks/x", methods=["POST"])
def x_delivery() -> Response:
    return _response(wiring.delivery("x", *_request()))
