"""Repository visibility as ids: the access service's one rule (docs/VISIBILITY.md).

Every consumer — timeline, search, CSV export, reports, email, dashboard and repository pages —
asks `visible_repo_ids`; nothing else decides which facts a user sees.
"""

from __future__ import annotations

from sqlmodel import Session

from gitpulse_app.acquisition.access import visible_repo_ids

__all__ = ["can_see_repo", "visible_repo_ids"]


def can_see_repo(session: Session, user_id: int, repo_id: int) -> bool:
    """Whether `user_id` may see the repository `repo_id`."""
    return repo_id in visible_repo_ids(session, user_id)
