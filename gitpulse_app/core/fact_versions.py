"""The fact version: a counter every transaction that writes `events` bumps (docs/SEARCH_MEMORY.md).

Readers that cache something derived from facts (search's candidate lists) read it before they
read the facts and keep their copy while it is unchanged. The bump is an upsert of one row in the
writer's own transaction, so it commits or rolls back with the facts and every process sees it.

Nothing has to remember to bump: importing this module (`core.models` does) hooks every
`Session` so that an INSERT, UPDATE or DELETE statement on `events` run through `session.execute`
and a flush of new, changed or deleted fact objects bump it first. Only SQL run on a raw
connection bypasses the hook.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

FACTS_TABLE = "events"
# Both SQLite (3.24+) and PostgreSQL speak this upsert; the row is created on first use.
_BUMP = sa.text(
    "INSERT INTO fact_versions (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = fact_versions.version + 1"
)
_READ = sa.text("SELECT version FROM fact_versions WHERE id = 1")


def fact_version(session: Session) -> int:
    """The committed fact version as `session` sees it (0 before any fact was written)."""
    return int(session.execute(_READ).scalar() or 0)


def _is_fact(obj: object) -> bool:
    return getattr(obj, "__tablename__", None) == FACTS_TABLE


@sa.event.listens_for(Session, "do_orm_execute")
def _bump_before_fact_statements(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == FACTS_TABLE:
            state.session.connection().execute(_BUMP)


@sa.event.listens_for(Session, "before_flush")
def _bump_before_fact_flushes(session: Session, _context: object, _instances: object) -> None:
    pending = (*session.new, *session.deleted, *session.dirty)
    if any(_is_fact(obj) for obj in pending):
        session.connection().execute(_BUMP)
