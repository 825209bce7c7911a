"""Covering index for search candidates: a user's facts by repo, newest first, with their hashes.

Search selects (id, content hash) of every fact in the user's visible repos ordered by time; with
the hash in the index SQLite and PostgreSQL answer from the index alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_events_repo_id_ts_content_hash"


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.create_index(INDEX, ["repo_id", "ts", "content_hash"])


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index(INDEX)
