"""Periodic report jobs: the sweep for interrupted runs.

A regeneration not updated for 10 minutes while still in an active stage was interrupted (the
process died or hung): it becomes failed "Interrupted; try again" at that stage. A user whose
`first_report_status` is still `generating` with no live run left moves to `failed`, so onboarding
shows Retry instead of waiting forever.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import ReportRegeneration, User
from gitpulse_app.intelligence.reports import stages

STALE_AFTER = dt.timedelta(minutes=10)
INTERRUPTED = "Interrupted; try again"


def sweep_interrupted(now: dt.datetime | None = None) -> int:
    """Fail regenerations idle for 10 minutes and first reports stuck in `generating`.

    Args:
        now: The clock reading (`tick --at`).

    Returns:
        How many regenerations were marked failed.
    """
    now = now or utcnow()
    cutoff = now - STALE_AFTER
    with session_scope() as session:
        stale = list(session.scalars(sa.select(ReportRegeneration).where(
            ReportRegeneration.status.in_(stages.ACTIVE),
            ReportRegeneration.updated_at < cutoff)))
        for row in stale:
            row.error_stage = row.status
            row.status = stages.FAILED
            row.error_message = INTERRUPTED
            row.message = INTERRUPTED
            row.completed_at = now
            row.updated_at = now
            flag_modified(row, "updated_at")
            session.add(row)
        session.flush()
        live_users = set(session.scalars(sa.select(ReportRegeneration.user_id).where(
            ReportRegeneration.status.in_(stages.ACTIVE),
            ReportRegeneration.updated_at >= cutoff)).all())
        stuck = session.scalars(sa.select(User).where(
            User.first_report_status == "generating", User.updated_at < cutoff))
        for user in stuck:
            if user.id in live_users:
                continue
            user.first_report_status = "failed"
            user.updated_at = now
            flag_modified(user, "updated_at")
            session.add(user)
    return len(stale)
