"""Email and in-app delivery of reports.

- `enqueue_report_email` — run by `on_report_ready` when the reports pipeline saved a final
  scheduled report (`core.signals.report_ready`, connected on import);
- `enqueue_report_channels` — the same for the owner's Slack, Discord and webhook channels
  (`delivery.channels`, docs/CHANNELS.md);
- `drain` / `recover_stale` — the queue's send loop and at-most-once sweep (scheduler and worker);
- `retry_delivery` — the report page's Retry button;
- `email_status`, `unread_count`, `mark_opened` — what the UI shows.

`SMTP_URL` forms and TLS trust (`GITPULSE_SMTP_CA_FILE`) are described in `delivery.smtp`. The
worker (`delivery.worker`) is loaded through the capability list, not by this package.
"""

import datetime as dt
import logging

from gitpulse_app.core.signals import report_ready
from gitpulse_app.intelligence.delivery.channels import enqueue_report_channels
from gitpulse_app.intelligence.delivery.queue import (
    NOT_CONFIGURED,
    OUTCOME_UNKNOWN,
    drain,
    enqueue_report_email,
    recover_stale,
    retry_delivery,
)
from gitpulse_app.intelligence.delivery.status import (
    EmailStatus,
    email_status,
    mark_opened,
    mask_address,
    unread_count,
)

log = logging.getLogger(__name__)


def on_report_ready(report_id: int, now: dt.datetime | None = None, **_: object) -> None:
    """Queue a saved report's email, then its owner's chat and webhook channels (docs/CHANNELS.md).

    The injected clock (tick --at) stamps the delivery rows too. A delivery problem is logged: the
    saved report stands.
    """
    for enqueue in (enqueue_report_email, enqueue_report_channels):
        try:
            enqueue(report_id, now=now)
        except Exception:
            log.exception("Could not queue the report delivery",
                          extra={"report_id": report_id, "hook": enqueue.__name__})


report_ready.connect(on_report_ready)

__all__ = [
    "NOT_CONFIGURED",
    "OUTCOME_UNKNOWN",
    "EmailStatus",
    "drain",
    "email_status",
    "enqueue_report_channels",
    "enqueue_report_email",
    "mark_opened",
    "mask_address",
    "on_report_ready",
    "recover_stale",
    "retry_delivery",
    "unread_count",
]
