"""Staleness: a fact that lands in an existing report's window marks it stale.

On `fact_changed`, every non-deleted report whose window contains the fact's time, whose scope
includes it (its actor among `scope_logins`, or its repository = `scope_repo`), whose owner can see
the repository and which was generated before the change gets `is_stale = true` and
`stale_detected_at = now`, once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Repo, Report, User

log = logging.getLogger(__name__)


def _in_scope(report: Report, actor_login: str | None, repo_name: str | None) -> bool:
    if report.scope_repo:
        return bool(repo_name) and report.scope_repo.lower() == repo_name.lower()
    logins = {login.lower() for login in report.scope_logins or []}
    return bool(actor_login) and actor_login.lower() in logins


def mark_stale(changes: Sequence[Any], now: dt.datetime | None = None) -> int:
    """Mark the reports that `changes` (`FactChange`s) make out of date.

    Args:
        changes: Facts inserted or updated (each with `ts`, `repo_id`, `actor_id`).
        now: The clock reading; reports generated at or after it are left alone.

    Returns:
        How many reports were marked.
    """
    if not changes:
        return 0
    now = now or utcnow()
    earliest = min(change.ts for change in changes)
    latest = max(change.ts for change in changes)
    with session_scope() as session:
        reports = list(session.scalars(sa.select(Report).where(
            Report.deleted_at.is_(None), Report.is_stale.is_(False),
            Report.start_date <= latest, Report.end_date > earliest,
            Report.generated_at < now)))
        if not reports:
            return 0
        actor_ids = sorted({change.actor_id for change in changes})
        repo_ids = sorted({change.repo_id for change in changes})
        logins = dict(session.execute(
            sa.select(User.id, User.gh_login).where(User.id.in_(actor_ids))).all())
        names = dict(session.execute(
            sa.select(Repo.id, Repo.full_name).where(Repo.id.in_(repo_ids))).all())
        visible: dict[int, set[int]] = {}
        marked = 0
        for report in reports:
            for change in changes:
                if not report.start_date <= change.ts < report.end_date:
                    continue
                if not _in_scope(report, logins.get(change.actor_id), names.get(change.repo_id)):
                    continue
                if report.user_id not in visible:
                    visible[report.user_id] = visible_repo_ids(session, report.user_id)
                if change.repo_id not in visible[report.user_id]:
                    continue
                report.is_stale = True
                report.stale_detected_at = now
                session.add(report)
                marked += 1
                break
    if marked:
        log.info("Reports marked stale by new facts", extra={"reports": marked})
    return marked


def on_fact_changed(changes: Sequence[Any] = (), now: dt.datetime | None = None,
                    **_: Any) -> None:
    """The `fact_changed` receiver, on the writer's clock."""
    mark_stale(changes, now)
