"""10 trust: strip headers a sender must not be able to set.

`X-Helpline-*` headers are ours to set internally; a customer who writes them into a
mail could otherwise steer routing or priority. The message is replaced by a copy
without them and the names are noted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop

INTERNAL_PREFIXES = ("x-helpline-",)


def run(ctx: Context) -> Drop | None:
    headers = ctx.message.headers
    kept = tuple((k, v) for k, v in headers if not k.lower().startswith(INTERNAL_PREFIXES))
    if len(kept) != len(headers):
        ctx.findings.stripped_headers = sorted(
            {k for k, _ in headers if k.lower().startswith(INTERNAL_PREFIXES)}
        )
        ctx.message = replace(ctx.message, headers=kept)
    return None
