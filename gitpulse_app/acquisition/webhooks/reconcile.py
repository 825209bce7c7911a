"""Installation reconcile, the daily job of the tick's 02:15 UTC slot (the scheduler calls it).

Lists the GitHub App's installations and makes our rows agree: account, type, selection and status
(suspended when GitHub reports `suspended_at`), each linked to the signed-up user whose login is the
account login (role owner; other links kept), and `repositories` (names and ids) refreshed from
`GET /installation/repositories`. An App row GitHub no longer lists was uninstalled while its
webhook was lost: it becomes deleted (its facts stay). Without a configured App this does nothing.

Row timestamps use the tick's clock; the App JWT and token expiry use the real one (GitHub checks
them against its own clock).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.acquisition.github import (
    AppAuth,
    AppInstallationTokenSource,
    AppJWTTokenSource,
    GitHubClient,
    GitHubError,
    get_app_auth,
)
from gitpulse_app.acquisition.webhooks.installations import (
    ensure_installation,
    github_id,
    repository_ids,
)
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope, try_insert
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import Installation, User, UserInstallation

log = get_logger(__name__)


@dataclass(frozen=True)
class _Listed:
    """One installation as GitHub lists it, with its repositories when they could be read."""

    gh_installation_id: int
    data: Mapping[str, Any]
    repositories: list[str] | None
    repository_ids: list[int] | None = None


def _text(value: Any, key: str) -> str | None:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, str) and found else None


async def _list(auth: AppAuth) -> list[_Listed]:
    async with GitHubClient(AppJWTTokenSource(auth)) as app:
        installations = await app.list_app_installations()
    listed: list[_Listed] = []
    for data in installations:
        gh_id = github_id(data)
        if gh_id is None:
            continue
        repositories = ids = None
        if not data.get("suspended_at"):
            try:
                async with GitHubClient(AppInstallationTokenSource(auth, gh_id)) as client:
                    items = await client.list_installation_repositories()
                repositories = list(dict.fromkeys(
                    name for name in (_text(item, "full_name") for item in items) if name))
                ids = repository_ids(items)
            except GitHubError as exc:
                # The account data is still worth reconciling; repositories wait for tomorrow.
                log_fields(log, logging.WARNING, "Could not list an installation's repositories",
                           gh_installation_id=gh_id, error=str(exc))
        listed.append(_Listed(gh_id, data, repositories, ids))
    return listed


def _link_owner(session: Session, installation_id: int, login: str, now: dt.datetime) -> None:
    user_id = session.scalar(sa.select(User.id).where(
        sa.func.lower(User.gh_login) == login.lower(), User.signed_up_at.is_not(None)))
    if user_id is None:
        return
    inserted = try_insert(session, UserInstallation, {
        "user_id": user_id, "installation_id": installation_id, "role": "owner",
        "claimed_at": now, "created_at": now, "updated_at": now,
    }, ["user_id", "installation_id"])
    if not inserted:
        session.execute(sa.update(UserInstallation).where(
            UserInstallation.user_id == user_id,
            UserInstallation.installation_id == installation_id,
            UserInstallation.role != "owner").values(role="owner", updated_at=now))


def _apply(session: Session, row: Installation, listed: _Listed, now: dt.datetime) -> None:
    data = listed.data
    account = data.get("account") if isinstance(data.get("account"), Mapping) else {}
    fresh: dict[str, Any] = {
        "kind": "app",
        "account_login": _text(account, "login") or row.account_login,
        "account_type": _text(account, "type") or row.account_type,
        "target_type": _text(data, "target_type") or row.target_type,
        "repository_selection": _text(data, "repository_selection") or row.repository_selection,
        "status": "suspended" if data.get("suspended_at") else "active",
    }
    if listed.repositories is not None:
        fresh["repositories"] = listed.repositories
        fresh["repository_ids"] = listed.repository_ids
    changed = False
    for name, value in fresh.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = now
        session.add(row)


def reconcile_installations(now: dt.datetime, *, app_auth: AppAuth | None = None) -> int:
    """Make our App installation rows agree with GitHub's list (the daily 02:15 job).

    Args:
        now: The tick's clock reading (row timestamps).
        app_auth: The App's credentials (default: the process-wide ones from the settings).

    Returns:
        How many listed installations were reconciled; 0 when the App is not configured.

    Raises:
        GitHubError: Listing the App's installations failed (nothing was changed).
    """
    if app_auth is None:
        if not get_settings().app_configured:
            log.info("GitHub App not configured; installation reconcile skipped")
            return 0
        app_auth = get_app_auth()
    listed = asyncio.run(_list(app_auth))
    seen: set[int] = set()
    for item in listed:
        seen.add(item.gh_installation_id)
        installation_id = ensure_installation(item.gh_installation_id, now=now)
        with session_scope() as session:
            row = session.get(Installation, installation_id)
            if row is None:
                continue
            _apply(session, row, item, now)
            if row.account_login:
                _link_owner(session, installation_id, row.account_login, now)
    with session_scope() as session:
        gone = session.scalars(sa.select(Installation).where(
            Installation.kind == "app", Installation.gh_installation_id.is_not(None),
            Installation.status != "deleted")).all()
        for row in gone:
            if row.gh_installation_id not in seen:
                row.status = "deleted"
                row.updated_at = now
                session.add(row)
                log_fields(log, logging.WARNING, "GitHub no longer lists this installation; "
                           "marked deleted", installation_id=row.id,
                           gh_installation_id=row.gh_installation_id)
    return len(listed)
