"""A small HTTPS JSON client for the platform send APIs, on urllib, with bounded retries.

`JsonHttp.post` sends one JSON body and returns `(status, parsed JSON)` for a 2xx.
Throttling (429), server errors (5xx), connection failures, and 4xx answers the
platform marks as transient (`transient=`, e.g. Graph's `is_transient`) are retried
with exponential backoff, a bounded number of times; a small `Retry-After` (or
Telegram's `parameters.retry_after`) is honoured, a large one ends the attempts at
once. What is left raises `DeliveryError(permanent=False)`, which the caller retries
later. Any other 4xx raises `DeliveryError(permanent=True)` with the platform's own
error message, so it can be recorded on the message.

Secrets never leave this module in text: callers name the values to hide
(`secrets=`, e.g. the Telegram bot token that sits in the URL path), error texts are
redacted, and urllib's exceptions (which carry the full URL) are not chained.
Redirects are refused: following one would resend the Authorization header elsewhere.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from functions.core.errors import DeliveryError
from functions.core.redact import redact_text

log = logging.getLogger("helpline.channels.http")

DEFAULT_ATTEMPTS = 4
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 1_000_000
MAX_REASON_CHARS = 300

Transient = Callable[[int, Any], bool]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as an HTTPError: a permanent failure


def _default_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_RefuseRedirects())


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def platform_error(body: Any) -> str:
    """The platform's own explanation in an error body (Graph, Telegram, X), or ""."""
    if not isinstance(body, Mapping):
        return ""
    error = body.get("error")
    if isinstance(error, Mapping):  # Graph API
        parts = [str(error.get("message") or "")]
        details = error.get("error_data")
        if isinstance(details, Mapping) and details.get("details"):
            parts.append(str(details["details"]))
        code = error.get("code")
        text = " ".join(p for p in parts if p)
        return f"{text} (code {code})" if code is not None else text
    if isinstance(body.get("description"), str):  # Telegram
        return str(body["description"])
    if isinstance(body.get("detail"), str):  # X API v2 problem
        return str(body["detail"])
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return str(errors[0].get("message") or errors[0].get("detail") or "")
    if isinstance(error, str):
        return error
    return ""


# Graph API error codes that mean "not now" although the HTTP status is 4xx: unknown
# and temporary errors, app/user/page rate limits, WhatsApp throughput and pair limits
_GRAPH_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80006, 130429, 131056})


def graph_transient(status: int, body: Any) -> bool:
    """Whether a Graph API 4xx is worth retrying (Meta marks some with is_transient)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return False
    return error.get("is_transient") is True or error.get("code") in _GRAPH_TRANSIENT_CODES


def _retry_after(headers: Mapping[str, str] | None, body: Any, now: datetime) -> float | None:
    if isinstance(body, Mapping):
        parameters = body.get("parameters")  # Telegram puts it in the body
        if isinstance(parameters, Mapping) and isinstance(parameters.get("retry_after"), int):
            return float(parameters["retry_after"])
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), "")
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None


class JsonHttp:
    """POST JSON, read JSON; retry what may pass, refuse what will not."""

    def __init__(
        self,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        max_retry_after: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        opener: urllib.request.OpenerDirector | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._opener = opener
        self._clock = clock

    @property
    def opener(self) -> urllib.request.OpenerDirector:
        if self._opener is None:
            self._opener = _default_opener()
        return self._opener

    def post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        *,
        secrets: Iterable[str] = (),
        transient: Transient | None = None,
    ) -> tuple[int, Any]:
        hidden = tuple(s for s in secrets if s)
        where = self._describe(url, hidden)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        request_headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            **(headers or {}),
        }
        last_problem = ""
        for attempt in range(1, self.attempts + 1):
            status, response_headers, parsed, problem = self._once(
                url, data, request_headers, timeout
            )
            if problem is None and 200 <= status < 300:
                return status, parsed
            if problem is None:
                # secrets first: redacting phone numbers could break up a token and hide it from us
                detail = redact_text(redact(platform_error(parsed), hidden))[:MAX_REASON_CHARS]
                problem = f"HTTP {status}" + (f": {detail}" if detail else "")
                retryable = (
                    status == 429
                    or status >= 500
                    or bool(transient and 400 <= status < 500 and transient(status, parsed))
                )
                if not retryable:
                    raise DeliveryError(f"{where} refused the request: {problem}", permanent=True)
                wait = _retry_after(response_headers, parsed, self._clock())
                if wait is not None and wait > self.max_retry_after:
                    raise DeliveryError(
                        f"{where} is rate limiting us ({problem}); it asks to wait {wait:.0f} s",
                        permanent=False,
                    )
            else:
                wait = None
            last_problem = problem
            if attempt < self.attempts:
                delay = (
                    wait
                    if wait is not None
                    else min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                )
                log.info(
                    "retrying %s after %s (attempt %d of %d)",
                    where,
                    problem,
                    attempt,
                    self.attempts,
                )
                self._sleep(delay)
        raise DeliveryError(
            f"{where} failed after {self.attempts} attempts: {last_problem}", permanent=False
        )

    def _once(
        self, url: str, data: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str] | None, Any, str | None]:
        """One request: (status, headers, parsed body, connection problem or None)."""
        request = urllib.request.Request(url, data=data, headers=dict(headers), method="POST")
        try:
            with self.opener.open(request, timeout=timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES)
                return response.status, dict(response.headers.items()), _parse(raw), None
        except urllib.error.HTTPError as exc:
            try:
                raw = exc.read(MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException):
                raw = b""
            found = dict(exc.headers.items()) if exc.headers else {}
            return exc.code, found, _parse(raw), None
        except urllib.error.URLError as exc:
            return 0, None, None, f"connection failed ({type(exc.reason).__name__})"
        except TimeoutError:
            return 0, None, None, "timed out"
        except (http.client.HTTPException, OSError) as exc:
            return 0, None, None, f"connection failed ({type(exc).__name__})"

    @staticmethod
    def _describe(url: str, hidden: tuple[str, ...]) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            # urllib would also open file: and ftp: URLs; a send API is never one
            raise DeliveryError("the platform URL must be http(s)", permanent=True)
        return redact(f"POST {parts.scheme}://{parts.netloc}{parts.path}", hidden)
