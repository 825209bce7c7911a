"""Sources as /repos shows them: a card per source with its repositories (a page at a time),
and the GitHub App install link.

Nothing here knows about Reflex.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.settings_service import SourceView

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
