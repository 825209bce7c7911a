"""Email and in-app delivery of reports.

- `enqueue_report_email` — called by the reports pipeline after a scheduled report is saved;
- `enqueue_report_channels` — the same for the owner's Slack, Discord and webhook channels
  (`delivery.channels`, docs/CHANNELS.md);
- `drain` / `recover_stale` — the queue's send loop and at-most-once sweep (scheduler and worker);
- `retry_delivery` — the report page's Retry button;
- `email_status`, `unread_count`, `mark_opened` — what the UI shows.

`SMTP_URL` forms and TLS trust (`GITPULSE_SMTP_CA_FILE`) are described in `delivery.smtp`. The
worker (`delivery.worker`) is loaded through the capability list, not by this package.
"""

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
    "recover_stale",
    "retry_delivery",
    "unread_count",
]
