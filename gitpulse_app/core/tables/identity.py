"""Identity and sources: users, GitHub App installations, tracked repositories, sessions and API tokens."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field

from gitpulse_app.core.tables.base import (
    EVERY_DAY, USERS_LOGIN_INDEX, _Row, _json_list, _sha256_hex, _ts, _ts_now, _ts_opt,
)


class User(_Row, table=True):
    """A GitHub identity; signed-up users also hold preferences and OAuth tokens (encrypted)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "gh_id IS NOT NULL OR gh_login IS NOT NULL OR git_email IS NOT NULL",
            name="has_identity",
        ),
    )

    gh_id: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    gh_login: str | None = None
    gh_node_id: str | None = None
    git_email: str | None = Field(default=None, unique=True)
    display_name: str | None = None
    email: str | None = None
    avatar_url: str | None = None
    bio: str | None = None
    company: str | None = None
    location: str | None = None
    blog: str | None = None
    twitter_username: str | None = None
    followers: int | None = None
    following: int | None = None
    public_repos: int | None = None
    timezone: str | None = None
    daily_reports_enabled: bool = True
    weekly_reports_enabled: bool = True
    email_reports_enabled: bool = True
    daily_enabled_at: dt.datetime | None = _ts_opt()
    weekly_enabled_at: dt.datetime | None = _ts_opt()
    week_start_day: int = Field(default=0, sa_type=sa.SmallInteger)
    # ISO weekday digits of the days the user works ("12345" = Monday–Friday); dailies are written
    # only for these days (docs/SCHEDULING.md).
    work_days: str = Field(default=EVERY_DAY, sa_column_kwargs={"server_default": EVERY_DAY})
    onboarding_completed_at: dt.datetime | None = _ts_opt()
    first_report_status: str | None = None
    signed_up_at: dt.datetime | None = _ts_opt()
    last_login_at: dt.datetime | None = _ts_opt()
    oauth_access_token_enc: str | None = None
    oauth_refresh_token_enc: str | None = None
    oauth_token_expires_at: dt.datetime | None = _ts_opt()
    is_demo: bool = False


# Logins are case-insensitive on GitHub. Kept in the model (not only in 0001) so PostgreSQL's drift
# check compares it; SQLite cannot reflect expression indexes, so Alembic skips it there.
sa.Index(USERS_LOGIN_INDEX, sa.func.lower(User.__table__.c.gh_login), unique=True)


class Installation(_Row, table=True):
    """A source of facts: a GitHub App installation or a personal access token (PAT)."""

    __tablename__ = "installations"

    gh_installation_id: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    kind: str
    account_login: str | None = None
    account_type: str | None = None
    target_type: str | None = None
    repository_selection: str | None = None
    repositories: list[str] = _json_list()
    # GitHub ids of the listed repositories: visibility follows these, never the names
    # (docs/VISIBILITY.md).
    repository_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON, nullable=False,
                                      sa_column_kwargs={"server_default": "[]"})
    status: str = "active"
    sync_status: str = "idle"
    last_synced_at: dt.datetime | None = _ts_opt()
    last_reconciled_at: dt.datetime | None = _ts_opt()
    last_manual_sync_at: dt.datetime | None = _ts_opt()
    next_sync_at: dt.datetime | None = _ts_opt()
    last_sync_error: str | None = None
    rate_limit_remaining: int | None = None
    rate_limit_limit: int | None = None
    rate_limit_reset: dt.datetime | None = _ts_opt()
    recovery_attempts: int = 0
    last_recovery_at: dt.datetime | None = _ts_opt()
    token_enc: str | None = None
    token_hint: str | None = None
    created_by_user_id: int | None = None


class UserInstallation(_Row, table=True):
    """The only link between a user and a source, with the user's role on it."""

    __tablename__ = "user_installations"
    __table_args__ = (sa.UniqueConstraint("user_id", "installation_id"),)

    user_id: int
    installation_id: int
    role: str
    claimed_at: dt.datetime = _ts_now()


class TrackedRepo(_Row, table=True):
    """A user's choice to track (or not) one repository of a source."""

    __tablename__ = "tracked_repos"
    __table_args__ = (sa.UniqueConstraint("user_id", "installation_id", "repo_full_name"),)

    user_id: int
    installation_id: int
    repo_full_name: str
    tracked: bool
    # The repository's GitHub id when known (as GitHub confirmed it); None for a name-only choice.
    repo_gh_id: int | None = Field(default=None, sa_type=sa.BigInteger)


class AuthSession(_Row, table=True):
    """A signed-in browser session; only the SHA-256 of the cookie token is stored."""

    __tablename__ = "auth_sessions"

    token_hash: str = _sha256_hex(unique=True)
    user_id: int
    expires_at: dt.datetime = _ts(index=True)
    last_seen_at: dt.datetime = _ts_now()
    user_agent: str | None = None



# Personal API tokens (docs/API.md) ----------------------------------------------------------------
class ApiToken(_Row, table=True):
    """A personal API token: it acts as its user; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    user_id: int = Field(index=True)
    name: str
    scope: str = "read"  # read | write
    token_hash: str = _sha256_hex(unique=True)
    prefix: str  # the first characters of the secret, shown in lists to tell tokens apart
    last_used_at: dt.datetime | None = _ts_opt()
    expires_at: dt.datetime | None = _ts_opt()
    revoked_at: dt.datetime | None = _ts_opt()
