"""The email drain runs in every backend process."""

from __future__ import annotations

import asyncio

from gitpulse_app.core.workers import registered_workers
from gitpulse_app.experience.wiring import CAPABILITIES, load_capabilities
from gitpulse_app.intelligence.delivery import enqueue_report_email
from gitpulse_app.intelligence.delivery import worker as email
from tests.intelligence.delivery.conftest import make_report


def test_the_email_worker_is_a_registered_capability():
    assert "gitpulse_app.intelligence.delivery.worker" in CAPABILITIES
    load_capabilities()
    assert "email" in registered_workers()
    assert email.POLL_INTERVAL_S == 10.0


def test_the_worker_sends_due_email_on_its_first_round(session, owner, smtp_env):
    enqueue_report_email(make_report(session, owner).id)

    async def scenario():
        task = asyncio.create_task(email.email_worker())
        try:
            await asyncio.to_thread(smtp_env.wait_for_messages, 1, 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert len(smtp_env.messages) == 1
