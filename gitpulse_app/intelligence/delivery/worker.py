"""The in-process email drain every backend process runs.

Every 10 s it sweeps stale `sending` claims and sends every due email; the scheduler's tick also
drains, so a report's email goes out in the tick that made it. SMTP and database work run in a
thread so the event loop stays free.
"""

from __future__ import annotations

import logging

from gitpulse_app.core.polling import Poller
from gitpulse_app.core.workers import worker
from gitpulse_app.intelligence.delivery import channels
from gitpulse_app.intelligence.delivery.queue import drain

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 10.0


@worker("email")
async def email_worker() -> None:
    """Drain the email queue every 10 s for the life of the process."""
    # A bad round (database busy) must not stop email for the process.
    await Poller().run(drain, POLL_INTERVAL_S, log=log,
                       failure="Email drain failed; retrying at the next poll")


@worker("channels")
async def channel_worker() -> None:
    """Drain the channel queue (Slack, Discord, webhooks) every 10 s for the life of the process."""
    await Poller().run(channels.drain, POLL_INTERVAL_S, log=log,
                       failure="Channel drain failed; retrying at the next poll")
