"""Visibility by GitHub id: `installations.repository_ids`, `tracked_repos.repo_gh_id`, and an
index of facts by source and repository (docs/VISIBILITY.md).

Existing rows are filled from the repositories stored at upgrade time, matching names
case-insensitively: the same repositories the name-based rule showed before, now pinned to their
ids, so a name freed and registered again later exposes nothing.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_events_installation_id_repo_id"

_installations = sa.table("installations", sa.column("id", sa.Integer),
                          sa.column("repositories", sa.JSON),
                          sa.column("repository_ids", sa.JSON))
_tracked = sa.table("tracked_repos", sa.column("id", sa.Integer),
                    sa.column("repo_full_name", sa.String), sa.column("repo_gh_id", sa.BigInteger))
_repos = sa.table("repos", sa.column("gh_id", sa.BigInteger), sa.column("full_name", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("repository_ids", sa.JSON(), nullable=False,
                                   server_default="[]"))
    with op.batch_alter_table("tracked_repos") as batch:
        batch.add_column(sa.Column("repo_gh_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.create_index(INDEX, ["installation_id", "repo_id"])
    _backfill(op.get_bind())


def _backfill(bind: sa.engine.Connection) -> None:
    ids = {name.lower(): gh_id for gh_id, name in bind.execute(
        sa.select(_repos.c.gh_id, _repos.c.full_name))}
    if not ids:
        return
    for row_id, names in bind.execute(sa.select(_installations.c.id,
                                                _installations.c.repositories)).all():
        listed = list(dict.fromkeys(ids[name.lower()] for name in names or []
                                    if isinstance(name, str) and name.lower() in ids))
        if listed:
            bind.execute(sa.update(_installations).where(_installations.c.id == row_id)
                         .values(repository_ids=listed))
    for row_id, name in bind.execute(sa.select(_tracked.c.id, _tracked.c.repo_full_name)).all():
        if name.lower() in ids:
            bind.execute(sa.update(_tracked).where(_tracked.c.id == row_id)
                         .values(repo_gh_id=ids[name.lower()]))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index(INDEX)
    with op.batch_alter_table("tracked_repos") as batch:
        batch.drop_column("repo_gh_id")
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("repository_ids")
