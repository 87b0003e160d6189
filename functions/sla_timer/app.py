"""sla_timer: the scheduled SLA pass (every minute). Registration only."""

from __future__ import annotations

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent

from functions.sla_timer import wiring

app = Chalice(app_name="helpline-sla-timer")


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sla_pass(event: CloudWatchEvent) -> dict[str, object]:
    return wiring.run()
