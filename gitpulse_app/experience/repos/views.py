"""One repository as `/repos/[owner]/[name]` shows it: its analytics (only when one of the
user's sources can see it) and the display-ready rows of its breakdown and contributors.

Nothing here knows about Reflex.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import unquote

from gitpulse_app.acquisition import access
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.intelligence.analytics import RepoAnalytics, repo_analytics
from gitpulse_app.acquisition.access import visible_repo_ids


def full_name_from_path(path: str) -> str:
    """`owner/name` from `/repos/{owner}/{name}` (the static server may add a slash)."""
    parts = [unquote(part) for part in path.split("/") if part]
    return "/".join(parts[1:3]) if len(parts) >= 3 and parts[0] == "repos" else ""


def load_repo(user_id: int, full_name: str, range_days: int, end: dt.datetime
              ) -> tuple[RepoAnalytics | None, str | None]:
    """The analytics of a visible repository and the user's zone name."""
    with session_scope() as session:
        user = session.get(User, user_id)
        zone = user.timezone if user else None
        analytics = repo_analytics(
            session, repo_ids=visible_repo_ids(session, user_id),
            visible_names=access.visible_repo_names(session, user_id), full_name=full_name,
            range_days=range_days, end=end, zone=zone)
        return analytics, zone


@dataclass
class BreakdownRow:
    type: str = ""
    label: str = ""
    count: str = "0"
    per_day: str = ""
    share: str = ""
    bar: int = 0
    hidden: bool = False


@dataclass
class ContributorItem:
    login: str = ""
    avatar_url: str = ""
    count: str = ""
