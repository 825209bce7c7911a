"""GitHub webhooks (docs/ARCHITECTURE.md): receive, store and process deliveries.

- `signature` — `X-Hub-Signature-256` verification (current, previous and demo seed keys).
- `receiver` — `POST /api/webhooks/github`: checks, then stores the envelope and acknowledges.
- `processor` — claims due envelopes, checks their schema, dispatches them, retries and reclaims.
- `installations` — installation, installation_repositories and github_app_authorization events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignoring_conflict(
    session: Session, model: type, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> bool:
    """`INSERT … ON CONFLICT (conflict_columns) DO NOTHING` on SQLite and PostgreSQL.

    Idempotent writes (a replayed delivery, a second sighting of an installation) must not fail
    or overwrite the stored row; the database decides, so two processes racing are both safe.

    Args:
        session: The session whose transaction runs the insert.
        model: A SQLModel table class.
        values: Column values; every NOT NULL column without a server default must be present.
        conflict_columns: The unique columns that identify an existing row.

    Returns:
        True when a row was inserted, False when one already existed.
    """
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(table).values(**values).on_conflict_do_nothing(
        index_elements=list(conflict_columns)
    )
    result = session.execute(statement)
    return bool(result.rowcount)


def select_id(session: Session, model: type, **criteria: Any) -> int | None:
    """The `id` of the row of `model` matching `criteria`, or None."""
    table = model.__table__  # type: ignore[attr-defined]
    clauses = [table.c[name] == value for name, value in criteria.items()]
    return session.execute(sa.select(table.c.id).where(*clauses)).scalar()
