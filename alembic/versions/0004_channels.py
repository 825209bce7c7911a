"""Chat and webhook channels: `delivery_channels` and their once-only `channel_deliveries`.

A channel (Slack, Discord or a signed webhook) belongs to a user; its URL and secret are stored
encrypted. A delivery row is unique per report and channel, so a report reaches a channel at most
once (docs/CHANNELS.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gitpulse_app.core.db import UTCDateTime

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("scope_logins", sa.JSON(), nullable=False),
        sa.Column("scope_repo", sa.String(), nullable=True),
        sa.Column("report_kinds", sa.JSON(), nullable=False),
        sa.Column("url_enc", sa.String(), nullable=False),
        sa.Column("url_hint", sa.String(), nullable=False),
        sa.Column("secret_enc", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("disabled_reason", sa.String(), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("last_test_at", UTCDateTime(), nullable=True),
        sa.Column("last_test_result", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_delivery_channels_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_channels"),
    )
    op.create_index("ix_delivery_channels_user_id", "delivery_channels", ["user_id"])
    op.create_table(
        "channel_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("delivery_uuid", sa.String(36), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rate_limit_waits", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["delivery_channels.id"],
                                name="fk_channel_deliveries_channel_id_delivery_channels"),
        sa.PrimaryKeyConstraint("id", name="pk_channel_deliveries"),
        sa.UniqueConstraint("report_id", "channel_id",
                            name="uq_channel_deliveries_report_id_channel_id"),
        sa.UniqueConstraint("delivery_uuid", name="uq_channel_deliveries_delivery_uuid"),
    )
    op.create_index("ix_channel_deliveries_channel_id", "channel_deliveries", ["channel_id"])
    op.create_index("ix_channel_deliveries_status_next_attempt_at", "channel_deliveries",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("channel_deliveries")
    op.drop_table("delivery_channels")
