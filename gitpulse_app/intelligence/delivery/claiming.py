"""The at-most-once claim both delivery queues share (email and chat channels).

A row goes pending → sending under this process's claim before anything is sent, and its outcome is
written only while the claim is still ours (docs/decisions/at-most-once-delivery.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope

T = TypeVar("T")


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


def send_due(claim: Callable[[Session, dt.datetime, str], T | None],
             send: Callable[[T, str, dt.datetime], str], now: dt.datetime | None,
             limit: int) -> int:
    """Claim and send due rows one at a time, each claim in its own transaction, until none is
    due or `limit` were handled; the number `send` reported as "sent".

    `now` is the injected clock (`tick --at`); None reads the real clock for each row.
    """
    holder = claim_id()
    sent = handled = 0
    while handled < limit:
        moment = now or utcnow()
        with session_scope() as session:
            claimed = claim(session, moment, holder)
        if claimed is None:
            break
        handled += 1
        if send(claimed, holder, moment) == "sent":
            sent += 1
    return sent
