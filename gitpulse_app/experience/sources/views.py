"""What a user's sources look like: the token sources /settings lists and the source cards of
/repos (a page of repositories at a time), each with its repositories and tracking choices, and the
GitHub App install link.

Nothing here knows about Reflex: pages call these functions and keep the display-ready results.
Only sources the user can see are listed (`access.visible_installations`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.acquisition import access
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import decrypt_token
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User, UserInstallation, WebhookEvent
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.operators import is_operator


def role_of(session: Session, user_id: int, installation_id: int) -> str | None:
    """The user's role on a source they can see; None for a source they cannot see."""
    if not access.can_see_installation(session, user_id, installation_id):
        return None
    return session.scalar(select(UserInstallation.role).where(
        UserInstallation.user_id == user_id, UserInstallation.installation_id == installation_id))


# Token sources, as /settings lists them -----------------------------------------------------------
@dataclass(frozen=True)
class PatSource:
    """A personal-access-token source as /settings lists it (never the token itself)."""

    installation_id: int
    account_login: str
    token_hint: str
    repos: list[str]
    is_owner: bool
    readable: bool


def pat_sources(session: Session, user_id: int) -> list[PatSource]:
    """The user's visible token sources, inside the caller's session."""
    sources = []
    for installation in access.visible_installations(session, user_id):
        if installation.kind != "pat" or installation.id is None:
            continue
        role = session.scalar(select(UserInstallation.role).where(
            UserInstallation.user_id == user_id,
            UserInstallation.installation_id == installation.id))
        sources.append(PatSource(
            installation_id=installation.id,
            account_login=installation.account_login or "",
            token_hint=installation.token_hint or "",
            repos=access.tracked_repos_of_user(session, user_id, installation),
            is_owner=role == "owner",
            readable=decrypt_token(installation.token_enc) is not None,
        ))
    return sources


# Source cards, as /repos and onboarding list them -------------------------------------------------
@dataclass(frozen=True)
class SourceRepo:
    """One repository row of a source card."""

    full_name: str
    tracked: bool
    language: str | None
    is_private: bool
    html_url: str
    stored: bool


@dataclass(frozen=True)
class SourceView:
    """A source card of /repos (its sync status comes from the sync status view)."""

    installation_id: int
    account_login: str
    kind: str
    status: str
    role: str
    last_synced_at: dt.datetime | None
    failed_deliveries: int
    repos: list[SourceRepo]
    can_retry_deliveries: bool = False  # what `retry_failed_deliveries` allows: owner or operator


def list_sources(user_id: int) -> list[SourceView]:
    """The user's visible sources with their repositories and tracking choices."""
    github_url = get_settings().github_url
    with session_scope() as session:
        installations = access.visible_installations(session, user_id)
        views = []
        viewer = session.get(User, user_id)
        operator = viewer is not None and is_operator(viewer)
        for source in installations:
            assert source.id is not None
            tracked = {name.lower()
                       for name in access.tracked_repos_of_user(session, user_id, source)}
            failed = 0
            if source.gh_installation_id is not None:
                failed = int(session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)
                    .where(WebhookEvent.installation_gh_id == source.gh_installation_id,
                           WebhookEvent.status == "failed")) or 0)
            # Stored rows by GitHub id only: a listed name held by another repository shows as
            # not stored yet, never with that repository's details.
            repos = {repo.full_name.lower(): repo for repo in access.source_repos(session, source)}
            shown = access.repo_ids_of_user(session, user_id, source)
            listed = {name.lower(): name for name in source.repositories}
            rows = []
            for key, name in {**listed, **{k: r.full_name for k, r in repos.items()
                                           if k not in listed}}.items():
                repo = repos.get(key)
                rows.append(SourceRepo(
                    full_name=repo.full_name if repo else name,
                    tracked=repo.id in shown if repo else key in tracked,
                    language=repo.language if repo else None,
                    is_private=bool(repo.is_private) if repo else False,
                    html_url=(repo.html_url if repo and repo.html_url
                              else f"{github_url}/{name}"),
                    stored=repo is not None,
                ))
            role = role_of(session, user_id, source.id) or "viewer"
            views.append(SourceView(
                installation_id=source.id, account_login=source.account_login or "",
                kind=source.kind, status=source.status, role=role,
                last_synced_at=source.last_synced_at, failed_deliveries=failed, repos=rows,
                can_retry_deliveries=role == "owner" or operator,
            ))
        return views


# The cards as /repos shows them ------------------------------------------------------------------
KIND_LABELS = {"app": "App", "pat": "PAT", "env_pat": "Server token", "demo": "Demo"}


def install_url() -> str:
    """The GitHub App install link, or "" when no `GITHUB_APP_SLUG` is set (links hidden)."""
    settings = get_settings()
    if not settings.github_app_slug:
        return ""
    return f"{settings.github_url}/apps/{settings.github_app_slug}/installations/new"


@dataclass
class RepoItem:
    full_name: str = ""
    tracked: bool = False
    language: str = ""
    is_private: bool = False
    html_url: str = ""
    detail_url: str = ""


@dataclass
class SourceCard:
    installation_id: int = 0
    key: str = ""
    account: str = ""
    kind: str = ""
    kind_label: str = ""
    status: str = ""
    is_owner: bool = False
    failed_deliveries: int = 0
    can_retry: bool = False
    repos: list[RepoItem] = field(default_factory=list)
    more: int = 0
    total: int = 0


def source_card(view: SourceView, limit: int) -> SourceCard:
    repos = [
        RepoItem(repo.full_name, repo.tracked, repo.language or "", repo.is_private,
                 repo.html_url, routes.repo_url(repo.full_name))
        for repo in view.repos[:limit]
    ]
    return SourceCard(
        installation_id=view.installation_id, key=str(view.installation_id),
        account=view.account_login, kind=view.kind, kind_label=KIND_LABELS.get(view.kind, view.kind),
        status=view.status, is_owner=view.role == "owner",
        failed_deliveries=view.failed_deliveries, can_retry=view.can_retry_deliveries,
        repos=repos,
        more=max(0, len(view.repos) - limit), total=len(view.repos),
    )
