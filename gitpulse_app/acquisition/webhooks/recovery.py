"""Webhook recovery: stale claims back to pending, and a recovery sync for a dead letter's
installation (docs/recovery-clocks.md)."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gitpulse_app.acquisition.webhooks import installations
from gitpulse_app.acquisition.webhooks.envelopes import MAX_ATTEMPTS, STALE_CLAIM
from gitpulse_app.core.claims import holder_is_dead
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import Installation, WebhookEvent

log = get_logger(__name__)
_envelopes = WebhookEvent.__table__  # type: ignore[attr-defined]


def request_recovery(installation_gh_id: int | None, engine: Engine | None = None,
                     now: dt.datetime | None = None) -> None:
    """Request a `recovery` sync for the installation of a dead-lettered envelope (never raises)."""
    if installation_gh_id is None:
        return
    try:
        with session_scope(engine) as session:
            installation_id = session.execute(
                sa.select(Installation.id).where(  # type: ignore[call-overload]
                    Installation.gh_installation_id == installation_gh_id
                )
            ).scalar()
        if installation_id is None:
            log_fields(log, logging.WARNING, "No installation to recover for a dead letter",
                       installation_gh_id=installation_gh_id)
            return
        installations.request_sync_logged(installation_id, "recovery", now=now)
    except Exception:
        log.exception("Recovery sync request failed",
                      extra={"installation_gh_id": installation_gh_id})


def reclaim_stale(now: dt.datetime | None = None, engine: Engine | None = None) -> int:
    """Return abandoned claims to pending: untouched for 10 min, or held by a dead process.

    A claim that has already used its fifth attempt is dead-lettered instead, so a delivery that
    kills its processor every time cannot loop forever.

    Args:
        now: The clock reading (default: now).
        engine: The database (default: the process-wide engine).

    Returns:
        How many envelopes were reclaimed.
    """
    now = now or utcnow()
    with session_scope(engine) as session:
        claimed = session.execute(
            sa.select(
                _envelopes.c.id,
                _envelopes.c.claimed_by,
                _envelopes.c.updated_at,
                _envelopes.c.attempts,
                _envelopes.c.installation_gh_id,
            ).where(_envelopes.c.status == "processing")
        ).all()
    dead: dict[str | None, bool] = {}
    reclaimed = 0
    for row in claimed:
        if row.claimed_by not in dead:
            dead[row.claimed_by] = holder_is_dead(row.claimed_by)
        if not (dead[row.claimed_by] or row.updated_at < now - STALE_CLAIM):
            continue
        exhausted = row.attempts >= MAX_ATTEMPTS
        with session_scope(engine) as session:
            result = session.execute(
                sa.update(_envelopes)
                .where(
                    _envelopes.c.id == row.id,
                    _envelopes.c.status == "processing",
                    _envelopes.c.claimed_by.is_not_distinct_from(row.claimed_by),
                    _envelopes.c.updated_at == row.updated_at,
                )
                .values(
                    status="failed" if exhausted else "pending",
                    claimed_by=None,
                    error_message="Processing was interrupted (stale claim)",
                    updated_at=now,
                )
            )
        if result.rowcount != 1:
            continue
        reclaimed += 1
        log_fields(log, logging.WARNING, "Stale webhook claim reclaimed", envelope_id=row.id,
                   holder=row.claimed_by, dead_letter=exhausted)
        if exhausted:
            request_recovery(row.installation_gh_id, engine, now)
    return reclaimed
