"""What onboarding shows besides the settings: the user's sources as its Sources step lists them,
and how far the first syncs have come.

Nothing here knows about Reflex: the page calls these functions in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitpulse_app.acquisition.sync.status import sync_statuses_for_user
from gitpulse_app.core.config import get_settings
from gitpulse_app.experience.sources.banner import ACTIVE_STATES
from gitpulse_app.experience.sources.views import KIND_LABELS
from gitpulse_app.experience.sources.views import list_sources


@dataclass
class OnboardingSource:
    installation_id: int = 0
    account: str = ""
    kind_label: str = ""
    repos: str = ""


def onboarding_sources(user_id: int) -> list[OnboardingSource]:
    return [
        OnboardingSource(view.installation_id, view.account_login or "server token",
                         KIND_LABELS.get(view.kind, view.kind),
                         f"{len(view.repos)} repositor{'y' if len(view.repos) == 1 else 'ies'}")
        for view in list_sources(user_id)
    ]


def sync_progress(user_id: int) -> tuple[bool, int, int]:
    """Whether any of the user's sources is syncing, and repositories done / in the batches."""
    views = sync_statuses_for_user(user_id, github_url=get_settings().github_url)
    active = [view for view in views if view.state in ACTIVE_STATES]
    done = total = 0
    for view in active:
        if view.batch_progress is not None:
            done += view.batch_progress.completed + view.batch_progress.failed
            total += view.batch_progress.total
    return bool(active), done, total
