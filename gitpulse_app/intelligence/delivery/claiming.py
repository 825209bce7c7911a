"""The at-most-once claim both delivery queues share (email and chat channels).

A row goes pending → sending under this process's claim before anything is sent, and its outcome is
written only while the claim is still ours (docs/decisions/at-most-once-delivery.md).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.db import session_scope


def claim_next(session: Session, table: sa.Table, now: dt.datetime, holder: str,
               returning: tuple[sa.Column, ...]) -> sa.Row | None:
    """Claim the next due pending row (oldest due first) and return its `returning` columns;
    None when none is due."""
    while True:
        due = session.scalars(
            sa.select(table.c.id)
            .where(table.c.status == "pending", table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(1)
        ).first()
        if due is None:
            return None
        # Conditional on status: if another process claimed it first, try the next one.
        row = session.execute(
            sa.update(table)
            .where(table.c.id == due, table.c.status == "pending")
            .values(status="sending", attempts=table.c.attempts + 1, claimed_by=holder,
                    updated_at=now)
            .returning(*returning)
        ).first()
        if row is not None:
            return row


def finish_claim(table: sa.Table, row_id: int, holder: str, now: dt.datetime,
                 **values: object) -> bool:
    """Record the outcome, only if this process still holds the claim."""
    with session_scope() as session:
        return bool(session.execute(
            sa.update(table)
            .where(table.c.id == row_id, table.c.status == "sending",
                   table.c.claimed_by == holder)
            .values(claimed_by=None, updated_at=now, **values)
        ).rowcount)
