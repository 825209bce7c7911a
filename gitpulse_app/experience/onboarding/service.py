"""What onboarding writes: the moment a user finished it, and their first report.

Nothing here knows about Reflex: the page calls these functions in a worker thread. Sources are
added through `sources/service.py` and the schedule is saved through `settings/service.py`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm.attributes import flag_modified

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.intelligence.reports.flows import generate_first_report


def complete_onboarding(user_id: int, now: dt.datetime | None = None) -> None:
    """Stamp `onboarding_completed_at` (once): the scheduler and pages treat the user as set up."""
    now = now or utcnow()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is not None and user.onboarding_completed_at is None:
            user.onboarding_completed_at = now
            user.updated_at = now
            flag_modified(user, "updated_at")
            session.add(user)


def first_report_id(user_id: int) -> int:
    """Write the user's first report (`generate_first_report`) and return its id."""
    outcome = generate_first_report(user_id)
    if outcome.report is None or outcome.report.id is None:
        raise RuntimeError("No first report was written")
    return outcome.report.id
