"""The source's rate-limit budget, stored as GitHub reports it: after every response.

The sync policy reads `installations.rate_limit_*` to decide whether a sync may start, so the row
must follow every response, not only the job's heartbeats. `BudgetRecorder.observe` is the
client's `on_rate_limit` callback: it keeps the newest budget and one background write at a time
stores it, so a burst of responses costs one UPDATE per write and never an older value last.
"""

from __future__ import annotations

import asyncio

from sqlmodel import col, update

from gitpulse_app.acquisition.github import RateLimitInfo
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger
from gitpulse_app.core.models import Installation

log = get_logger(__name__)


def record_budget(installation_id: int, budget: RateLimitInfo) -> None:
    """Store the budget a response reported on the source."""
    with session_scope() as session:
        session.exec(
            update(Installation)
            .where(col(Installation.id) == installation_id)
            .values(rate_limit_remaining=budget.remaining, rate_limit_limit=budget.limit,
                    rate_limit_reset=budget.reset)
            .execution_options(synchronize_session=False)
        )


class BudgetRecorder:
    """Writes one source's newest budget in the background as responses report it.

    Args:
        installation_id: Our `installations.id` of the source.
    """

    def __init__(self, installation_id: int) -> None:
        self.installation_id = installation_id
        self._latest: RateLimitInfo | None = None
        self._written: RateLimitInfo | None = None
        self._writer: asyncio.Task[None] | None = None

    def observe(self, budget: RateLimitInfo) -> None:
        """The client's `on_rate_limit` callback (called on its event loop)."""
        self._latest = budget
        if self._writer is not None and not self._writer.done():
            return  # the running write picks the newest value up before it ends
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: write now
            self._write_latest()
            return
        self._writer = loop.create_task(self._write_until_current())

    def _write_latest(self) -> None:
        budget = self._latest
        if budget is None or budget == self._written:
            return
        try:
            record_budget(self.installation_id, budget)
        except Exception:
            # The next response writes again; the job itself must not fail over a budget row.
            log.warning("Could not store the rate-limit budget", exc_info=True,
                        extra={"installation_id": self.installation_id})
            return
        self._written = budget

    async def _write_until_current(self) -> None:
        while self._latest is not None and self._latest != self._written:
            before = self._latest
            await asyncio.to_thread(self._write_latest)
            if self._written != before and self._latest == before:
                return  # the write failed; leave it to the next response

    async def flush(self) -> None:
        """Wait for the write in flight (the job's end)."""
        if self._writer is not None:
            await self._writer
