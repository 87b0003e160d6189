"""100 hours: is the team that will answer at work now, and if not, when is it back?

The team's calendar (time zone, windows, holidays, closures) decides; the message's
arrival time is what counts, not when we got round to processing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop


def run(ctx: Context) -> Drop | None:
    route = ctx.findings.route
    team_id = route.team if route else ctx.config.routing.default_team
    calendar = ctx.config.calendar_for_team(team_id)
    at = ctx.message.received_at
    ctx.findings.calendar = calendar
    ctx.findings.in_hours = calendar.is_open(at)
    ctx.findings.next_open = None if ctx.findings.in_hours else calendar.next_open(at)
    return None
