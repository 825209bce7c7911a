"""The work week: `users.work_days`, the ISO weekday digits a user works ("12345" = Monday–Friday).

Daily reports are written only for work days (docs/SCHEDULING.md). Existing users and users created by
ingestion keep every day ("1234567"), so nothing changes for them until they choose otherwise.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("work_days", sa.String(), nullable=False,
                                   server_default="1234567"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("work_days")
