"""Installation events: `installation`, `installation_repositories`,
`github_app_authorization`.

Every effect is an upsert or a guarded request, so replaying a delivery changes nothing: rows are
written only where a value differs, links are inserted once, and sync requests go through the sync
service, which refuses a second batch while one runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.acquisition.webhooks import select_id
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope, try_insert
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import Installation, User, UserInstallation

INSTALLATION_EVENTS = frozenset(
    {"installation", "installation_repositories", "github_app_authorization"}
)
_BIGINT_MAX = 2**63 - 1

log = get_logger(__name__)


# Reading payloads defensively: the schema check guarantees only `installation.id`. ---------------
def _object(value: Any, key: str) -> Mapping[str, Any]:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _text(value: Any, key: str) -> str | None:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, str) and found else None


def github_id(value: Any, key: str = "id") -> int | None:
    """A GitHub numeric id from `value[key]` that fits a bigint column, else None."""
    found = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(found, bool) or not isinstance(found, int):
        return None
    return found if -_BIGINT_MAX - 1 <= found <= _BIGINT_MAX else None


def _full_names(value: Any) -> list[str]:
    """`[r.full_name for r in value]` without duplicates, in order; malformed entries skipped."""
    names = [_text(item, "full_name") for item in value] if isinstance(value, list) else []
    return _unique(name for name in names if name)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def repository_ids(value: Any) -> list[int]:
    """`[r.id for r in value]` without duplicates, in order; malformed entries skipped."""
    found = [github_id(item) for item in value] if isinstance(value, list) else []
    return list(dict.fromkeys(gh_id for gh_id in found if gh_id is not None))


# Sync requests -----------------------------------------------------------------------------------
def request_sync_logged(
    installation_id: int,
    trigger: str,
    *,
    repos: list[str] | None = None,
    now: dt.datetime | None = None,
) -> Any:
    """Ask the sync service for a sync and log what it answered.

    Args:
        installation_id: Our `installations.id`.
        trigger: `webhook` or `recovery`.
        repos: Only these repositories (the ones just added), or all syncable ones.
        now: The clock reading of the processing run.

    Returns:
        The service's `SyncRequestResult`.
    """
    result = request_sync(installation_id, trigger, repos=repos, now=now)
    log_fields(
        log,
        logging.INFO,
        "Sync requested by webhook" if result.started else "Sync requested by webhook not started",
        installation_id=installation_id,
        trigger=trigger,
        started=result.started,
        result_message=result.message,
    )
    return result


# Rows --------------------------------------------------------------------------------------------
def ensure_installation(
    gh_installation_id: int, *, now: dt.datetime | None = None, engine: Engine | None = None
) -> int:
    """Our `installations.id` for a GitHub installation id, creating a minimal App row if unknown.

    Facts from an installation we have not seen yet (its `installation.created` lost or not yet
    processed) are stored under this row and appear once a user links it.

    Args:
        gh_installation_id: `payload.installation.id`.
        now: The clock reading for the new row's timestamps.
        engine: The database (default: the process-wide engine).

    Returns:
        The row's id.
    """
    with session_scope(engine) as session:
        return _ensure_row(session, gh_installation_id, now or utcnow())


def _ensure_row(session: Session, gh_installation_id: int, now: dt.datetime) -> int:
    found = select_id(session, Installation, gh_installation_id=gh_installation_id)
    if found is not None:
        return found
    try_insert(
        session,
        Installation,
        {
            "gh_installation_id": gh_installation_id,
            "kind": "app",
            "repositories": [],
            "status": "active",
            "sync_status": "idle",
            "recovery_attempts": 0,
            "created_at": now,
            "updated_at": now,
        },
        ["gh_installation_id"],
    )
    created = select_id(session, Installation, gh_installation_id=gh_installation_id)
    assert created is not None  # inserted above, or by a concurrent process
    return created


def _set(row: Any, **values: Any) -> None:
    # Assign only what differs, so a replayed delivery leaves the row (and updated_at) untouched.
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _refresh_account(row: Installation, payload: Mapping[str, Any]) -> None:
    installation = _object(payload, "installation")
    account = _object(installation, "account")
    fresh = {
        "account_login": _text(account, "login"),
        "account_type": _text(account, "type"),
        "target_type": _text(installation, "target_type"),
        "repository_selection": _text(payload, "repository_selection")
        or _text(installation, "repository_selection"),
    }
    _set(row, **{name: value for name, value in fresh.items() if value is not None})


def _load(session: Session, gh_installation_id: int, now: dt.datetime) -> Installation:
    row_id = _ensure_row(session, gh_installation_id, now)
    row = session.get(Installation, row_id)
    assert row is not None
    return row


def _signed_up_user_id(session: Session, person: Mapping[str, Any]) -> int | None:
    gh_id = github_id(person)
    if gh_id is None:
        return None
    signed_up_at = User.signed_up_at.is_not(None)  # type: ignore[union-attr]
    return session.exec(select(User.id).where(User.gh_id == gh_id, signed_up_at)).first()


def _link(
    session: Session, user_id: int, installation_id: int, role: str, now: dt.datetime
) -> None:
    existing = session.exec(
        select(UserInstallation).where(
            UserInstallation.user_id == user_id, UserInstallation.installation_id == installation_id
        )
    ).first()
    if existing is None:
        try_insert(
            session,
            UserInstallation,
            {
                "user_id": user_id,
                "installation_id": installation_id,
                "role": role,
                "claimed_at": now,
                "created_at": now,
                "updated_at": now,
            },
            ["user_id", "installation_id"],
        )
    elif role == "owner" and existing.role != "owner":
        existing.role = "owner"


# Handlers ----------------------------------------------------------------------------------------
def handle_installation_event(
    event: str,
    payload: Mapping[str, Any],
    *,
    now: dt.datetime | None = None,
    engine: Engine | None = None,
) -> str:
    """Apply one installation-family delivery.

    Args:
        event: `installation`, `installation_repositories` or `github_app_authorization`.
        payload: The delivery's JSON object (schema-checked).
        now: The clock reading of the processing run.
        engine: The database (default: the process-wide engine).

    Returns:
        A short description of what was done, for the processing log.
    """
    now = now or utcnow()
    action = _text(payload, "action")
    if event == "github_app_authorization":
        return _authorization(payload, action, engine)
    gh_installation_id = github_id(_object(payload, "installation"))
    if gh_installation_id is None:
        return "no usable installation id"
    if event == "installation_repositories":
        return _repositories_changed(payload, gh_installation_id, now, engine)
    if action == "created":
        return _created(payload, gh_installation_id, now, engine)
    if action in {"deleted", "suspend", "unsuspend"}:
        return _status_changed(payload, action, gh_installation_id, now, engine)
    return f"installation {action or 'event'} acknowledged"


def _created(
    payload: Mapping[str, Any], gh_installation_id: int, now: dt.datetime, engine: Engine | None
) -> str:
    with session_scope(engine) as session:
        row = _load(session, gh_installation_id, now)
        _refresh_account(row, payload)
        if "repositories" in payload:
            _set(row, repositories=_full_names(payload.get("repositories")),
                 repository_ids=repository_ids(payload.get("repositories")))
        _set(row, status="active")
        installation_id = row.id
        assert installation_id is not None
        owner = _signed_up_user_id(session, _object(payload, "sender"))
        if owner is not None:
            _link(session, owner, installation_id, "owner", now)
        viewer = _signed_up_user_id(session, _object(payload, "requester"))
        if viewer is not None:
            _link(session, viewer, installation_id, "viewer", now)
    result = request_sync_logged(installation_id, "webhook", now=now)
    return f"installation created; sync: {result.message}"


def _status_changed(
    payload: Mapping[str, Any],
    action: str,
    gh_installation_id: int,
    now: dt.datetime,
    engine: Engine | None,
) -> str:
    status = {"deleted": "deleted", "suspend": "suspended", "unsuspend": "active"}[action]
    with session_scope(engine) as session:
        row = _load(session, gh_installation_id, now)
        _refresh_account(row, payload)
        _set(row, status=status)
        installation_id = row.id
    if action != "unsuspend":
        return f"installation {status}"
    assert installation_id is not None
    result = request_sync_logged(installation_id, "webhook", now=now)
    return f"installation active; sync: {result.message}"


def _repositories_changed(
    payload: Mapping[str, Any], gh_installation_id: int, now: dt.datetime, engine: Engine | None
) -> str:
    added = _full_names(payload.get("repositories_added"))
    removed = set(_full_names(payload.get("repositories_removed")))
    with session_scope(engine) as session:
        row = _load(session, gh_installation_id, now)
        _refresh_account(row, payload)
        merged = _unique([*(row.repositories or []), *added])
        _set(row, repositories=[name for name in merged if name not in removed])
        gone = set(repository_ids(payload.get("repositories_removed")))
        ids = [*(row.repository_ids or []), *repository_ids(payload.get("repositories_added"))]
        _set(row, repository_ids=[gh_id for gh_id in dict.fromkeys(ids) if gh_id not in gone])
        installation_id = row.id
    summary = f"repositories +{len(added)} -{len(removed)}"
    if not added:
        return summary
    assert installation_id is not None
    result = request_sync_logged(installation_id, "webhook", repos=added, now=now)
    return f"{summary}; sync: {result.message}"


def _authorization(
    payload: Mapping[str, Any], action: str | None, engine: Engine | None
) -> str:
    if action != "revoked":
        return f"authorization {action or 'event'} acknowledged"
    gh_id = github_id(_object(payload, "sender"))
    if gh_id is None:
        return "authorization revoked by an unknown sender"
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.gh_id == gh_id)).first()
        if user is None:
            return "authorization revoked by an unknown user"
        _set(user, oauth_access_token_enc=None, oauth_refresh_token_enc=None,
             oauth_token_expires_at=None)
    return "authorization revoked; stored OAuth tokens deleted"
