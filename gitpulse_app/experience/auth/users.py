"""What a sign-in writes: the user row, its tokens, installation links and a session.

Identity: a user is found by gh_id, then by lower(login). A row created by ingestion
(identity-only, no sign-up) is upgraded in place, so its facts stay attributed to it; a row holding
the login under another gh_id is stale (GitHub gave the login away) and is renamed
`{login}#{its gh_id}`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import AuthSession, Installation, User, UserInstallation
from gitpulse_app.experience.auth.oauth import GitHubIdentity, OAuthTokens, store_tokens
from gitpulse_app.experience.auth.sessions import start_session, token_hash
from gitpulse_app.normalization.identity import login_is_stale, release_stale_login


@dataclass(frozen=True)
class SignIn:
    """The outcome of a completed sign-in."""

    user_id: int
    session_token: str = field(repr=False)
    onboarded: bool
    reconnected: bool
    installations_to_sync: list[int] = field(default_factory=list)


class DemoNotSeeded(Exception):
    """`GITPULSE_DEMO=1` but no demo user exists yet."""


# Users ------------------------------------------------------------------------------------------
def _by_login(session: Session, login: str) -> User | None:
    return session.exec(select(User).where(sa.func.lower(User.gh_login) == login.lower())).first()


def upsert_user(session: Session, identity: GitHubIdentity, now: dt.datetime) -> User:
    """Find or create the user behind `identity` and copy the profile onto it.

    Args:
        session: The caller's transaction (flushed, not committed).
        identity: The GitHub account that signed in.
        now: The clock reading.

    Returns:
        The signed-up user row (with an id).
    """
    user = session.exec(select(User).where(User.gh_id == identity.gh_id)).first()
    holder = _by_login(session, identity.login)
    if user is None and holder is not None and holder.gh_id is None:
        user, holder = holder, None  # an identity-only row known by login: upgrade it
    if holder is not None and login_is_stale(holder, owner=user, gh_id=identity.gh_id):
        release_stale_login(session, stale=holder, keeper=user)
    if user is None:
        user = User(gh_id=identity.gh_id, gh_login=identity.login)
        session.add(user)
    user.gh_id = identity.gh_id
    user.gh_login = identity.login
    user.gh_node_id = identity.node_id or user.gh_node_id
    user.display_name = identity.name or user.display_name
    for key, value in identity.profile.items():
        setattr(user, key, value)
    # A confirmed edit of the delivery address outlives later sign-ins.
    if identity.email and not user.email:
        user.email = identity.email
    if user.signed_up_at is None:
        user.signed_up_at = now
    user.last_login_at = now
    session.add(user)
    session.flush()
    return user


# Installations ----------------------------------------------------------------------------------
def _role_for(user: User, account_login: str | None) -> str:
    if account_login and user.gh_login and account_login.lower() == user.gh_login.lower():
        return "owner"
    return "viewer"


def link_installations(
    session: Session, user: User, listed: list[dict[str, Any]], now: dt.datetime
) -> list[int]:
    """Upsert the App installations the user can see and link the user to each.

    Owner when the installation's account is the user's own, else viewer; an existing link is
    upgraded to owner but never downgraded (the install webhook may have made the installer owner).

    Args:
        session: The caller's transaction.
        user: The signed-in user.
        listed: `installations` entries of `GET /user/installations`.
        now: The clock reading.

    Returns:
        Our ids of newly linked, never-synced, active installations (they get a `webhook` sync).
    """
    to_sync: list[int] = []
    for raw in listed:
        gh_installation_id = raw.get("id")
        if not isinstance(gh_installation_id, int):
            continue
        account = raw.get("account") if isinstance(raw.get("account"), dict) else {}
        account_login = account.get("login") if isinstance(account.get("login"), str) else None
        installation = session.exec(
            select(Installation).where(Installation.gh_installation_id == gh_installation_id)
        ).first()
        if installation is None:
            installation = Installation(gh_installation_id=gh_installation_id, kind="app")
        installation.account_login = account_login or installation.account_login
        installation.account_type = account.get("type") or installation.account_type
        installation.target_type = raw.get("target_type") or installation.target_type
        installation.repository_selection = (
            raw.get("repository_selection") or installation.repository_selection
        )
        installation.status = "suspended" if raw.get("suspended_at") else "active"
        session.add(installation)
        session.flush()

        role = _role_for(user, account_login)
        link = session.exec(
            select(UserInstallation).where(
                UserInstallation.user_id == user.id,
                UserInstallation.installation_id == installation.id,
            )
        ).first()
        if link is None:
            session.add(UserInstallation(user_id=user.id, installation_id=installation.id,
                                         role=role, claimed_at=now))
            if installation.last_synced_at is None and installation.status == "active":
                to_sync.append(installation.id)
        elif role == "owner" and link.role != "owner":
            link.role = "owner"
            session.add(link)
    session.flush()
    return to_sync


# Sign-in ----------------------------------------------------------------------------------------
def record_sign_in(
    identity: GitHubIdentity,
    tokens: OAuthTokens,
    installations: list[dict[str, Any]] | None,
    *,
    user_agent: str | None,
    previous_token: str | None,
    now: dt.datetime | None = None,
) -> SignIn:
    """Store a completed OAuth sign-in in one transaction.

    Args:
        identity: The GitHub account.
        tokens: Its OAuth tokens (stored encrypted).
        installations: `GET /user/installations` entries, or None when the listing failed.
        user_agent: The browser's `User-Agent`.
        previous_token: The session cookie the browser already had; that session is replaced.
        now: The clock reading.

    Returns:
        The new session and where the user goes next.
    """
    now = now or utcnow()
    with session_scope() as session:
        previous_user_id = _end_previous(session, previous_token, now)
        user = upsert_user(session, identity, now)
        store_tokens(user, tokens)
        session.add(user)
        to_sync = link_installations(session, user, installations, now) if installations else []
        token = start_session(session, user.id, user_agent, now)
        return SignIn(
            user_id=user.id,
            session_token=token,
            onboarded=user.onboarding_completed_at is not None,
            reconnected=previous_user_id == user.id,
            installations_to_sync=to_sync,
        )


def _end_previous(session: Session, previous_token: str | None, now: dt.datetime) -> int | None:
    """Delete the session the browser held (a new one replaces it); its user if it was live."""
    if not previous_token:
        return None
    row = session.exec(
        select(AuthSession).where(AuthSession.token_hash == token_hash(previous_token))
    ).first()
    if row is None:
        return None
    user_id = row.user_id if row.expires_at > now else None
    session.delete(row)
    return user_id


def sign_in_demo_user(user_agent: str | None, now: dt.datetime | None = None) -> str:
    """Start a session for the seeded demo user.

    Returns:
        The session cookie token.

    Raises:
        DemoNotSeeded: No `is_demo` user exists.
    """
    now = now or utcnow()
    with session_scope() as session:
        user = session.exec(select(User).where(User.is_demo.is_(True)).order_by(User.id)).first()
        if user is None:
            raise DemoNotSeeded()
        if user.signed_up_at is None:
            user.signed_up_at = now
        user.last_login_at = now
        session.add(user)
        return start_session(session, user.id, user_agent, now)
