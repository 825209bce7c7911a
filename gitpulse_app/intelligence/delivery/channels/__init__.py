"""Slack, Discord and signed-webhook channels (docs/CHANNELS.md).

- `service` — add, list, test and remove channels (Settings and the CLI);
- `queue` — the once-only report × channel deliveries: enqueue, drain, sweep, Retry;
- `scheduled` — team digests written on the owner's schedule;
- `render` — the messages; `guard` — the SSRF rules; `transport`, `answers` — one POST and what
  its answer means.
"""

from gitpulse_app.intelligence.delivery.channels.queue import (
    OUTCOME_UNKNOWN,
    drain,
    enqueue_report_channels,
    recover_stale,
    retry_channel_delivery,
)

__all__ = [
    "OUTCOME_UNKNOWN",
    "drain",
    "enqueue_report_channels",
    "recover_stale",
    "retry_channel_delivery",
]
