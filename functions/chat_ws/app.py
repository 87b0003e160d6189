"""chat_ws: API Gateway WebSocket chat, its session route and widget. Registration only."""

from __future__ import annotations

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, WebsocketEvent

from functions.chat_ws import wiring

app = Chalice(app_name="helpline-chat")
app.experimental_feature_flags.update(["WEBSOCKETS"])  # chalice package asks apps to opt in


@app.on_ws_connect()
def connect(event: WebsocketEvent) -> dict[str, object]:
    return wiring.on_connect(event)


@app.on_ws_message()
def message(event: WebsocketEvent) -> dict[str, object]:
    return wiring.on_message(event)


@app.on_ws_disconnect()
def disconnect(event: WebsocketEvent) -> dict[str, object]:
    return wiring.on_disconnect(event)


@app.route(
    "/chat/session", methods=["POST"], cors=True, content_types=["application/json", "text/plain"]
)
def open_session() -> Response:
    # cors=True gives the route API Gateway's mock OPTIONS preflight, answered with `*`:
    # that only lets the browser send the POST. Whether the page may read the answer is
    # this answer's own Access-Control-Allow-Origin, which names the allowed origin that
    # asked (CORSConfig takes one origin, not a list; Chalice adds its `*` only where the
    # handler set none). A site not allowed gets 403 and nothing is written.
    request = app.current_request
    assert request is not None  # Chalice sets it for every HTTP call
    status, body, cors = wiring.open_session(request.raw_body, origin=request.headers.get("origin"))
    return Response(body=body, status_code=status, headers={"Cache-Control": "no-store", **cors})


@app.route("/chat/widget.js", methods=["GET"], cors=True)
def widget() -> Response:
    return Response(
        body=wiring.WIDGET.read_text(encoding="utf-8"),
        status_code=200,
        headers={
            "Content-Type": "application/javascript; charset=utf-8",
            "Cache-Control": "public, max-age=300",
        },
    )


@app.schedule(Rate(1, unit=Rate.MINUTES))
def housekeeping(event: CloudWatchEvent) -> dict[str, int]:
    return wiring.housekeeping()
