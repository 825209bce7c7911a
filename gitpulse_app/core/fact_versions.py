"""The fact version: a counter every transaction that writes `events` bumps (docs/SEARCH_MEMORY.md).

Readers that cache something derived from facts (search's candidate lists) read it before they
read the facts and keep their copy while it is unchanged. The bump is an upsert of one row in the
writer's own transaction, so it commits or rolls back with the facts and every process sees it.

Nothing has to remember to bump: importing this module (`core.models` does) hooks every
`Session`. An INSERT, UPDATE or DELETE statement on `events` run through `session.execute`, or a
flush of new, changed or deleted fact objects, marks the transaction; the bump runs as its last
statement, just before the commit, so PostgreSQL holds the counter's row lock only for the commit
and a transaction holding it never waits for another lock (no deadlock through it). Only SQL run
on a raw connection bypasses the hooks.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

FACTS_TABLE = "events"
_WROTE_FACTS = "gitpulse_wrote_facts"  # key in `Session.info` while the transaction is open
# Both SQLite (3.24+) and PostgreSQL speak this upsert; the row is created on first use.
_BUMP = sa.text(
    "INSERT INTO fact_versions (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = fact_versions.version + 1"
)
_READ = sa.text("SELECT version FROM fact_versions WHERE id = 1")


def fact_version(session: Session) -> int:
    """The committed fact version as `session` sees it (0 before any fact was written)."""
    return int(session.execute(_READ).scalar() or 0)


def _pending_facts(session: Session) -> bool:
    pending = (*session.new, *session.deleted, *session.dirty)
    return any(getattr(obj, "__tablename__", None) == FACTS_TABLE for obj in pending)


def mark_facts_written(session: Session) -> None:
    """Marks `session`'s transaction as writing facts (for SQL the hooks below cannot see)."""
    session.info[_WROTE_FACTS] = True


@sa.event.listens_for(Session, "do_orm_execute")
def _mark_fact_statements(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == FACTS_TABLE:
            state.session.info[_WROTE_FACTS] = True


@sa.event.listens_for(Session, "before_flush")
def _mark_fact_flushes(session: Session, _context: object, _instances: object) -> None:
    if _pending_facts(session):
        session.info[_WROTE_FACTS] = True


@sa.event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    # Objects still pending are flushed by the commit after this hook: they count too.
    if session.info.pop(_WROTE_FACTS, False) or _pending_facts(session):
        session.connection().execute(_BUMP)


@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_rollback")
def _forget_marks(session: Session) -> None:
    session.info.pop(_WROTE_FACTS, None)
