"""Row factories for sync tests: each writes through the process-wide engine and commits.

Every field has a default and any can be overridden (`installation(status="suspended")`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, select

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    Event,
    IngestionJob,
    Installation,
    Repo,
    SyncBatch,
    TrackedRepo,
    User,
    UserInstallation,
)

NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
REPOS = ["acme/api", "acme/web"]

_ids = itertools.count(1000)
Row = TypeVar("Row", bound=SQLModel)


def save(*rows: Row) -> Row:
    """Insert or update rows, commit, and return the last."""
    with session_scope() as session:
        for row in rows:
            session.add(row)
        session.flush()
        for row in rows:
            session.refresh(row)
    return rows[-1]


def change(model: type[Row], row_id: int | None, **values: Any) -> Row:
    """Set columns of an existing row and commit; returns the row."""
    with session_scope() as session:
        row = session.get(model, row_id)
        assert row is not None, f"{model.__name__} {row_id} not found"
        for name, value in values.items():
            setattr(row, name, value)
        return row


def get(model: type[Row], row_id: int | None) -> Row:
    """The current state of one row, read in a fresh session."""
    with session_scope() as session:
        row = session.get(model, row_id)
        assert row is not None, f"{model.__name__} {row_id} not found"
        return row


def all_rows(model: type[Row], **equals: Any) -> list[Row]:
    """Every row of `model` whose columns equal `equals`, in id order."""
    with session_scope() as session:
        statement = select(model)
        for name, value in equals.items():
            statement = statement.where(getattr(model, name) == value)
        ordered = statement.order_by(col(model.id))  # type: ignore[attr-defined]
        return list(session.exec(ordered).all())


def user(**overrides: Any) -> User:
    number = next(_ids)
    values = {
        "gh_id": number,
        "gh_login": f"user{number}",
        "signed_up_at": NOW - dt.timedelta(days=30),
    }
    return save(User(**(values | overrides)))


def installation(**overrides: Any) -> Installation:
    values = {
        "gh_installation_id": next(_ids),
        "kind": "app",
        "account_login": "acme",
        "repositories": list(REPOS),
        "status": "active",
        "sync_status": "idle",
        "last_synced_at": NOW - dt.timedelta(hours=2),
    }
    return save(Installation(**(values | overrides)))


def link(person: User, source: Installation, role: str = "owner") -> UserInstallation:
    return save(UserInstallation(user_id=person.id, installation_id=source.id, role=role))


def track(person: User, source: Installation, repo: str, tracked: bool = True) -> TrackedRepo:
    return save(
        TrackedRepo(
            user_id=person.id, installation_id=source.id, repo_full_name=repo, tracked=tracked
        )
    )


def healthy_installation(**overrides: Any) -> tuple[Installation, User]:
    """An active App installation with one linked owner, two repos, synced 2 h ago."""
    source = installation(**overrides)
    owner = user()
    link(owner, source)
    return source, owner


def batch(source: Installation, **overrides: Any) -> SyncBatch:
    values = {
        "installation_id": source.id,
        "trigger": "manual",
        "status": "running",
        "since": NOW - dt.timedelta(days=1),
        "created_at": NOW,
    }
    return save(SyncBatch(**(values | overrides)))


def job(parent: SyncBatch, **overrides: Any) -> IngestionJob:
    values = {
        "batch_id": parent.id,
        "installation_id": parent.installation_id,
        "repo_full_name": f"acme/repo{next(_ids)}",
        "trigger": parent.trigger,
        "status": "pending",
        "since": NOW - dt.timedelta(days=1),
        "not_before": NOW,
        "created_at": NOW,
    }
    return save(IngestionJob(**(values | overrides)))


def batch_with_jobs(
    source: Installation, statuses: list[str], **overrides: Any
) -> tuple[SyncBatch, list[IngestionJob]]:
    """A running batch whose jobs have the given statuses."""
    parent = batch(source, total_repos=len(statuses), **overrides)
    jobs = [job(parent, status=status) for status in statuses]
    return parent, jobs


def repo(**overrides: Any) -> Repo:
    number = next(_ids)
    values = {
        "gh_id": number, "full_name": f"acme/r{number}", "owner": "acme", "name": f"r{number}"
    }
    return save(Repo(**(values | overrides)))


def event(source: Installation, actor: User, where: Repo, **overrides: Any) -> Event:
    number = next(_ids)
    values = {
        "type": "pr_opened",
        "repo_id": where.id,
        "actor_id": actor.id,
        "installation_id": source.id,
        "ts": NOW,
        "canonical_text": f"fact {number}",
        "source_url": f"https://github.com/{where.full_name}/pull/{number}",
        "content_hash": f"{number:064d}",
        "observed_via": "backfill",
    }
    return save(Event(**(values | overrides)))
