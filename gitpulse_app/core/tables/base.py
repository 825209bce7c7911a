"""The naming convention and the column helpers every table module shares (`core/models.py`)."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

USERS_LOGIN_INDEX = "uq_users_lower_gh_login"
RUNNING_BATCH_INDEX = "uq_sync_batches_running_installation_id"
EVERY_DAY = "1234567"  # users.work_days default: every ISO weekday


# Column helpers: each call returns a fresh FieldInfo, so every table gets its own Column. ---------
def _ts(*, index: bool = False) -> Any:
    """A required timestamp."""
    return Field(sa_type=UTCDateTime, nullable=False, index=index)


def _ts_now(*, index: bool = False) -> Any:
    """A required timestamp that defaults to now."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _ts_opt(*, index: bool = False) -> Any:
    """An optional timestamp."""
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


def _updated_at() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON, nullable=False)


def _sha256_hex(*, index: bool = False, unique: bool = False) -> Any:
    """A SHA-256 hex digest, 64 characters."""
    if unique:
        return Field(sa_type=sa.String(64), nullable=False, unique=True)
    return Field(sa_type=sa.String(64), nullable=False, index=index)


class _Row(SQLModel):
    """Columns every table with a surrogate key shares."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = _ts_now()
    updated_at: dt.datetime = _updated_at()
