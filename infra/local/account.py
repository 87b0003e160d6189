"""What moto lacks about the account itself, for `helpline deploy`'s preflight checks.

moto answers neither Lambda's GetAccountSettings (the account's concurrency quota and
what is left unreserved) nor SES v2's GetAccount (whether the region is out of the SES
sandbox). The local AWS answers both as a new account would (a quota of 1,000, in the
sandbox) unless told otherwise, so the preflight runs against it exactly as against AWS,
and a test can give the account the quota of 10 many new accounts have.

Reserved concurrency already set on moto's functions (PutFunctionConcurrency) is taken
off the unreserved figure, as Lambda does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_installed = False


@dataclass
class AccountSettings:
    concurrency_quota: int = 1000
    ses_production_access: bool = False  # a new account is in the SES sandbox


SETTINGS = AccountSettings()


def install(settings: AccountSettings | None = None) -> None:
    """Teach moto (in this process: the server the local stack runs) both answers."""
    global _installed
    if settings is not None:
        SETTINGS.concurrency_quota = settings.concurrency_quota
        SETTINGS.ses_production_access = settings.ses_production_access
    with _lock:
        if _installed:
            return
        _install_lambda()
        _install_sesv2()
        _installed = True


def _reserved(backend: Any) -> int:
    total = 0
    for function in backend.list_functions():
        reserved = getattr(function, "reserved_concurrency", None)
        if reserved:
            total += int(reserved)
    return total


def _install_lambda() -> None:
    from moto.awslambda import urls
    from moto.awslambda.responses import LambdaResponse

    def get_account_settings(self: Any) -> Any:
        reserved = _reserved(self.backend)
        quota = SETTINGS.concurrency_quota
        body = {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": quota,
                "UnreservedConcurrentExecutions": max(0, quota - reserved),
            },
            "AccountUsage": {
                "TotalCodeSize": 0,
                "FunctionCount": len(list(self.backend.list_functions())),
            },
        }
        return 200, {}, json.dumps(body)

    LambdaResponse.get_account_settings = get_account_settings  # type: ignore[attr-defined]
    urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch


def _install_sesv2() -> None:
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    def get_account(self: Any) -> Any:
        body = {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": SETTINGS.ses_production_access,
            "SendQuota": {
                "Max24HourSend": 50000.0 if SETTINGS.ses_production_access else 200.0,
                "MaxSendRate": 14.0 if SETTINGS.ses_production_access else 1.0,
                "SentLast24Hours": 0.0,
            },
            "SendingEnabled": True,
        }
        return 200, {}, json.dumps(body)

    SESV2Response.get_account = get_account  # type: ignore[attr-defined]
    urls.url_paths["{0}/v2/email/account$"] = SESV2Response.dispatch
