"""GitHub webhooks (docs/ARCHITECTURE.md): receive, store and process deliveries.

- `signature` — `X-Hub-Signature-256` verification (current, previous and demo seed keys).
- `receiver` — `POST /api/webhooks/github`: checks, then stores the envelope and acknowledges.
- `envelopes` — claims due envelopes and records their outcomes.
- `processor` — checks each claimed envelope's schema, dispatches it, retries; the worker.
- `recovery` — stale claims back to pending; recovery syncs for dead letters.
- `installations` — installation, installation_repositories and github_app_authorization events.
- `reconcile` — the daily reconcile of our App installation rows with GitHub's list.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session


def select_id(session: Session, model: type, **criteria: Any) -> int | None:
    """The `id` of the row of `model` matching `criteria`, or None."""
    table = model.__table__  # type: ignore[attr-defined]
    clauses = [table.c[name] == value for name, value in criteria.items()]
    return session.execute(sa.select(table.c.id).where(*clauses)).scalar()
