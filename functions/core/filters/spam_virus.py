"""15 spam_virus: honour the receiving service's verdicts.

SES scans inbound mail. An infected mail is quarantined and never reaches an agent;
spam is tagged (or quarantined, if the config says so) and never answered by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.pipeline import Drop

if TYPE_CHECKING:
    from functions.core.pipeline import Context


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if (message.verdict("virus") or "").upper() == "FAIL":
        return Drop("virus", "the virus scan failed this mail")
    if (message.verdict("spam") or "").upper() == "FAIL":
        if ctx.config.email.spam == "quarantine":
            return Drop("spam", "the spam scan failed this mail")
        ctx.findings.spam = True
        ctx.findings.add_tag("spam")
    return None
