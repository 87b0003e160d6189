"""The two kinds of failure.

`RejectedInput` is the sender's fault: the input can never be processed as it is, so it
is answered with a clear reason (an HTTP 4xx, a quarantine record) and not retried.
Every other exception is ours: it is logged as an error and re-raised so the platform
retries, and after the configured tries the event lands in a dead-letter queue.
Callers branch on the exception type, never on its message text.
"""

from __future__ import annotations


def maybe_sent(exc: BaseException) -> bool:
    """Did a failed request possibly reach the provider? Read timeouts and connections
    dropped after sending are ambiguous (resending could deliver twice); refused
    connections and error answers are not."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    return isinstance(exc, ReadTimeoutError | ConnectionClosedError)


class HelplineError(Exception):
    """Base for errors we raise on purpose (ours: retried)."""


class RejectedInput(Exception):
    """The input is bad and retrying will not help.

    `code` is a short machine-readable reason ("not_json", "bad_signature", ...);
    `reason` is a sentence a person can act on.
    """

    def __init__(self, code: str, reason: str, *, status: int = 400) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.status = status


class ConfigError(HelplineError):
    """The configuration file is invalid; `field` names where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"config error at {field}: {problem}")
        self.field = field
        self.problem = problem


class NotFoundError(HelplineError):
    """A ticket, customer or record that was asked for does not exist."""


class ConflictError(HelplineError):
    """A conditional write lost a race; the caller may re-read and try again."""


class UnconfirmedSend(HelplineError):
    """A send that may have reached the provider before it failed (see `maybe_sent`):
    recorded as unknown, never sent again."""


class DeliveryError(HelplineError):
    """An outbound send failed. `permanent` failures are recorded, not retried."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
