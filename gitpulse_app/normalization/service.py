"""Transactions around the fact store for callers that hold no session of their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Repo
from gitpulse_app.normalization.changes import FactChange
from gitpulse_app.normalization.repos import upsert_repo
from gitpulse_app.normalization.store import ingest_facts, publish_changes

__all__ = ["ingest_facts", "save_repo"]


def save_repo(
    raw_repo: Mapping[str, Any], *, github_url: str | None = None, engine: Engine | None = None
) -> Repo:
    """Upserts a repository in its own transaction (e.g. the sync job's `repo` stage, a
    `repository.renamed` webhook); a rename's rewritten facts go out on `fact_changed` after the
    commit.

    Args:
        raw_repo: GitHub's repository object.
        github_url: Web base of fact URLs; defaults to `GITHUB_URL`.
        engine: The database; defaults to the process-wide engine.

    Returns:
        The committed repository row (detached, attributes loaded).
    """
    changes: list[FactChange] = []
    with session_scope(engine) as session:
        repo = upsert_repo(
            session,
            raw_repo,
            github_url=github_url or get_settings().github_url,
            changes=changes,
        )
    publish_changes(changes)
    return repo
