"""social_dm: platform webhooks -> the shared intake.

Every delivery is handled in the same order, so bad input is answered before it can
cost anything: a body over 1 MB is refused (413) unread; the signature over the raw
body is checked (401, nothing stored); the body must be JSON (400). A signed delivery
is then kept as it arrived (S3, `social/raw/...`) before anything else, normalized
into messages, and each message goes through the intake on its own: one bad entry is
quarantined with its reason and does not stop the others, and neither does a message
the intake refuses (`RejectedInput`: quarantined with its reason). Invalid Unicode in
the JSON (a lone surrogate such as an unpaired `\ud83d`) is replaced by U+FFFD when
the delivery is normalized, so the person's message still becomes a ticket; the raw
delivery keeps what was sent. A retried delivery finds its messages already claimed
and changes nothing, and still gets 200.

The messages are handled in the same invocation (bench/social_cost.py measures the
time per delivery against the platforms' answer limits: Meta 20 s, X 3 s), so there
is no hand-off queue: a failure of ours answers 500 and the platform's own retry runs
it again, which the dedupe makes safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core.blobs import BlobStore
from functions.core.channels import meta, signatures, telegram, x
from functions.core.channels.delivery import Delivery
from functions.core.config import Config
from functions.core.errors import RejectedInput
from functions.core.models import Channel
from functions.core.pipeline import Intake, Outcome
from functions.core.redact import redact_identity
from functions.core.secrets import SecretRef
from functions.core.timeutil import Clock, utcnow

log = logging.getLogger("helpline.social_dm")

MAX_BODY_BYTES = 1024 * 1024
RAW_PREFIX = "social/raw"

Normalizer = Callable[..., Delivery]


@dataclass
class WebhookResult:
    status: int
    body: dict[str, Any] | str
    outcomes: list[Outcome] = field(default_factory=list)
    ignored: tuple[str, ...] = ()
    content_type: str = "application/json"


class Secrets:
    """What the service needs from secrets: bytes or text of a reference."""

    def __init__(self, get: Callable[[SecretRef], str]) -> None:
        self._get = get

    def text(self, ref: SecretRef) -> str:
        return self._get(ref)

    def key(self, ref: SecretRef) -> bytes:
        return self._get(ref).encode("utf-8")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _refusal(exc: RejectedInput) -> WebhookResult:
    return WebhookResult(exc.status, {"code": exc.code, "reason": exc.reason})


class SocialIntakeService:
    def __init__(
        self,
        *,
        config: Config,
        intake: Intake,
        blobs: BlobStore,
        secrets: Secrets,
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.social = config.social
        self.intake = intake
        self.blobs = blobs
        self.secrets = secrets
        self.clock = clock

    # -- handshakes ---------------------------------------------------------------------------

    def meta_verification(self, params: Mapping[str, str]) -> WebhookResult:
        if self.social.meta is None:
            return WebhookResult(404, {"code": "not_configured", "reason": "Meta is not set up"})
        try:
            challenge = signatures.meta_verification_challenge(
                params, self.secrets.text(self.social.meta.verify_token)
            )
        except RejectedInput as exc:
            return _refusal(exc)
        return WebhookResult(200, challenge, content_type="text/plain")

    def x_crc(self, params: Mapping[str, str]) -> WebhookResult:
        if self.social.x is None:
            return WebhookResult(404, {"code": "not_configured", "reason": "X is not set up"})
        token = params.get("crc_token")
        if not token:
            return WebhookResult(400, {"code": "missing_field", "reason": "crc_token is required"})
        try:
            answer = signatures.x_crc_response(
                token, self.secrets.key(self.social.x.consumer_secret)
            )
        except RejectedInput as exc:
            return _refusal(exc)
        return WebhookResult(200, {"response_token": answer})

    # -- deliveries -----------------------------------------------------------------------------

    def meta_delivery(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        settings = self.social.meta
        if settings is None:
            return WebhookResult(404, {"code": "not_configured", "reason": "Meta is not set up"})

        def check() -> None:
            signatures.verify_meta_signature(
                raw_body,
                _header(headers, signatures.META_SIGNATURE_HEADER),
                self.secrets.key(settings.app_secret),
            )

        return self._delivery("meta", raw_body, check, meta.normalize_meta, account="")

    def telegram_delivery(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        settings = self.social.telegram
        if settings is None:
            return WebhookResult(
                404, {"code": "not_configured", "reason": "Telegram is not set up"}
            )

        def check() -> None:
            signatures.verify_telegram_secret(
                _header(headers, signatures.TELEGRAM_SECRET_HEADER),
                self.secrets.text(settings.secret_token),
            )

        return self._delivery(
            "telegram", raw_body, check, telegram.normalize, account=settings.bot_id
        )

    def x_delivery(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        settings = self.social.x
        if settings is None:
            return WebhookResult(404, {"code": "not_configured", "reason": "X is not set up"})

        def check() -> None:
            signatures.verify_x_signature(
                raw_body,
                _header(headers, signatures.X_SIGNATURE_HEADER),
                self.secrets.key(settings.consumer_secret),
            )

        return self._delivery("x", raw_body, check, x.normalize, account=settings.account_id)

    def _delivery(
        self,
        platform: str,
        raw_body: bytes,
        check_signature: Callable[[], None],
        normalize: Normalizer,
        *,
        account: str,
    ) -> WebhookResult:
        if len(raw_body) > MAX_BODY_BYTES:
            return WebhookResult(413, {"code": "too_large", "reason": "a delivery is at most 1 MB"})
        try:
            check_signature()
        except RejectedInput as exc:
            return _refusal(exc)
        try:
            data = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return WebhookResult(400, {"code": "not_json", "reason": "the body is not JSON"})
        now = self.clock()
        raw_ref = self._keep(platform, raw_body, now)
        replay = {"type": "social", "platform": platform, "raw_ref": raw_ref, "account": account}
        return self.process(
            platform,
            data,
            raw_ref=raw_ref,
            account=account,
            replay=replay,
            now=now,
            normalize=normalize,
        )

    def process(
        self,
        platform: str,
        data: Any,
        *,
        raw_ref: str | None,
        account: str,
        replay: dict[str, Any],
        now: datetime,
        normalize: Normalizer | None = None,
    ) -> WebhookResult:
        """Normalize a signed, kept delivery and run each of its messages (also replay)."""
        normalize = (
            normalize
            or {"meta": meta.normalize_meta, "telegram": telegram.normalize, "x": x.normalize}[
                platform
            ]
        )
        try:
            delivery = normalize(data, received_at=now, raw_ref=raw_ref, account=account)
        except RejectedInput as exc:
            outcome = self.intake.quarantine(
                channel=_channel_of(platform),
                reason=exc.code,
                detail=exc.reason,
                received_at=now,
                raw_ref=raw_ref,
                event=replay,
                external_id=f"{platform}:{raw_ref}",
            )
            return WebhookResult(exc.status, {"code": exc.code, "reason": exc.reason}, [outcome])
        outcomes: list[Outcome] = []
        for rejected in delivery.rejected:
            outcomes.append(
                self.intake.quarantine(
                    channel=_channel_of(platform),
                    reason=rejected.code,
                    detail=f"{rejected.index}: {rejected.reason}",
                    received_at=now,
                    raw_ref=raw_ref,
                    event=replay,
                    external_id=f"{platform}:{raw_ref}:{rejected.index}",
                )
            )
        for message in delivery.messages:
            try:
                outcome = self.intake.process(message, replay_event=replay)
            except RejectedInput as exc:
                # the sender's fault, in this message only: kept with its reason while the
                # others go on. Anything else is ours and fails the delivery, so the
                # platform retries it and the dedupe skips what was already done.
                log.info("quarantined one message of a %s delivery: %s", platform, exc.code)
                outcomes.append(
                    self.intake.quarantine(
                        channel=message.channel,
                        reason=exc.code,
                        detail=exc.reason,
                        received_at=now,
                        raw_ref=raw_ref,
                        event=replay,
                        external_id=message.external_id,
                        sender=redact_identity(message.sender),
                    )
                )
                continue
            outcomes.append(outcome)
            self._answer_button(message)
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return WebhookResult(
            200,
            {
                "received": len(delivery.messages),
                "outcomes": counts,
                "ignored": len(delivery.ignored),
            },
            outcomes,
            delivery.ignored,
        )

    def _answer_button(self, message: Any) -> None:
        """Telegram shows a spinner on a pressed button until the bot answers it."""
        callback = dict(message.extra).get("callback_query_id")
        sender = self.intake.senders.get(Channel.TELEGRAM)
        if callback and sender is not None and hasattr(sender, "answer_callback_query"):
            try:
                sender.answer_callback_query(callback)
            except Exception:
                log.warning("could not answer Telegram callback %s", callback, exc_info=True)

    def _keep(self, platform: str, raw_body: bytes, now: datetime) -> str:
        digest = hashlib.sha256(raw_body).hexdigest()
        key = f"{RAW_PREFIX}/{platform}/{now:%Y/%m/%d}/{digest}.json"
        self.blobs.put(key, raw_body, content_type="application/json")
        return f"s3://{self.blobs.bucket}/{key}"


def _channel_of(platform: str) -> Channel:
    # a delivery that cannot be read is filed under the platform's main channel
    return {"meta": Channel.MESSENGER, "telegram": Channel.TELEGRAM, "x": Channel.X}[platform]
