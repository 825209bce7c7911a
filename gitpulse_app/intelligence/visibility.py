"""Repository visibility as ids, on top of the access service (SPEC §11).

`acquisition.access` decides visibility by repository name; reports filter facts by `repo_id`, so
this turns the visible names into ids (names compare case-insensitively, as on GitHub).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.acquisition import access
from gitpulse_app.core.models import Repo


def visible_repo_ids(session: Session, user_id: int) -> set[int]:
    """The ids of every stored repository `user_id` may see."""
    names = sorted({name.lower() for name in access.visible_repo_names(session, user_id)})
    if not names:
        return set()
    statement = sa.select(Repo.id).where(sa.func.lower(Repo.full_name).in_(names))
    return set(session.scalars(statement).all())


def can_see_repo(session: Session, user_id: int, repo_id: int) -> bool:
    """Whether `user_id` may see the repository `repo_id`."""
    return repo_id in visible_repo_ids(session, user_id)
