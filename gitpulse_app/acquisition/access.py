"""Who can see which sources and repositories (docs/VISIBILITY.md).

`user_installations` is the only link between a user and a source. A user sees the linked sources
that are not deleted and, in them, the repositories they track: App (and demo) installations are
opt-out — every repository of the installation unless a `tracked_repos` row says `tracked=false` —
while PAT and server-token sources are opt-in (`tracked=true` rows only). A source's *syncable*
repositories are those tracked by at least one linked user.

Which *stored* repositories (and so which facts) a user sees is decided by GitHub ids, never by
names (`visible_repo_ids`, docs/VISIBILITY.md): a name can be freed and registered again by someone
else, an id cannot. Names stay what the sync asks GitHub for and what pages show.

Every function takes the caller's session so that checks and the writes they guard share one
transaction. Repository names are compared case-insensitively, as GitHub does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gitpulse_app.core.models import Event, Installation, Repo, TrackedRepo, UserInstallation

OPT_IN_KINDS = frozenset({"pat", "env_pat"})
DELETED = "deleted"


def is_opt_in(installation: Installation) -> bool:
    """True for token sources, whose repositories are tracked only by explicit choice."""
    return installation.kind in OPT_IN_KINDS


def linked_user_ids(session: Session, installation_id: int) -> list[int]:
    """Ids of the users linked to a source, in link order."""
    statement = (
        select(UserInstallation.user_id)
        .where(UserInstallation.installation_id == installation_id)
        .order_by(col(UserInstallation.id))
    )
    return list(session.exec(statement).all())


def is_linked(session: Session, user_id: int, installation_id: int) -> bool:
    """Whether a `user_installations` row links the user to the source (whatever its status)."""
    statement = select(UserInstallation.id).where(
        UserInstallation.user_id == user_id,
        UserInstallation.installation_id == installation_id,
    )
    return session.exec(statement).first() is not None


def can_see_installation(session: Session, user_id: int, installation_id: int) -> bool:
    """Whether the user may see the source: linked, and the source is not deleted."""
    installation = session.get(Installation, installation_id)
    if installation is None or installation.status == DELETED:
        return False
    return is_linked(session, user_id, installation_id)


def visible_installations(session: Session, user_id: int) -> list[Installation]:
    """The sources the user may see (linked, not deleted), oldest link first."""
    statement = (
        select(Installation)
        .join(UserInstallation, col(UserInstallation.installation_id) == col(Installation.id))
        .where(UserInstallation.user_id == user_id, Installation.status != DELETED)
        .order_by(col(UserInstallation.id))
    )
    return list(session.exec(statement).all())


def _choices(
    session: Session, installation_id: int, user_ids: Iterable[int]
) -> dict[int, dict[str, tuple[str, bool]]]:
    """Per user: lower-cased repo name → (name as stored, tracked)."""
    ids = list(user_ids)
    choices: dict[int, dict[str, tuple[str, bool]]] = {user_id: {} for user_id in ids}
    if not ids:
        return choices
    statement = (
        select(TrackedRepo)
        .where(
            TrackedRepo.installation_id == installation_id,
            col(TrackedRepo.user_id).in_(ids),
        )
        .order_by(col(TrackedRepo.id))
    )
    for row in session.exec(statement):
        choices[row.user_id][row.repo_full_name.lower()] = (row.repo_full_name, row.tracked)
    return choices


def _tracked_by(installation: Installation, choices: dict[str, tuple[str, bool]]) -> list[str]:
    """The repositories one user's choices track in a source."""
    if is_opt_in(installation):
        return [name for name, tracked in choices.values() if tracked]
    untracked = {key for key, (_name, tracked) in choices.items() if not tracked}
    return [name for name in installation.repositories if name.lower() not in untracked]


def tracked_repos_of_user(session: Session, user_id: int, installation: Installation) -> list[str]:
    """The repositories of a source the user tracks (empty when the user is not linked).

    Args:
        session: An open session.
        user_id: The user.
        installation: The source.

    Returns:
        Full names: for App sources in the installation's `repositories` order, for token sources
        in the order the user tracked them.
    """
    if installation.id is None or not is_linked(session, user_id, installation.id):
        return []
    choices = _choices(session, installation.id, [user_id])[user_id]
    return _tracked_by(installation, choices)


def syncable_repos(session: Session, installation: Installation) -> list[str]:
    """The repositories of a source tracked by at least one linked user, each named once.

    Returns:
        Full names, App sources' in `repositories` order, then token sources' in tracking order.
    """
    if installation.id is None:
        return []
    choices = _choices(session, installation.id, linked_user_ids(session, installation.id))
    seen: dict[str, str] = {}
    for user_choices in choices.values():
        for name in _tracked_by(installation, user_choices):
            seen.setdefault(name.lower(), name)
    if not is_opt_in(installation):
        # Keep the installation's own order however many users track a repository.
        return [name for name in installation.repositories if name.lower() in seen]
    return list(seen.values())


def visible_repo_names(session: Session, user_id: int) -> set[str]:
    """Full names the user's sources list and the user tracks, stored or not yet.

    For naming a repository that is not synced yet (its page); which facts a user sees is
    `visible_repo_ids`' call, by GitHub id.
    """
    names: set[str] = set()
    for installation in visible_installations(session, user_id):
        names.update(tracked_repos_of_user(session, user_id, installation))
    return names


# Visibility by GitHub id -------------------------------------------------------------------------
def source_repos(session: Session, installation: Installation) -> list[Repo]:
    """The stored repositories of a source: those GitHub listed for it (by id) and those whose
    facts were delivered under it, in listing order, then by name."""
    if installation.id is None:
        return []
    delivered = sa.exists().where(col(Event.installation_id) == installation.id,
                                  col(Event.repo_id) == col(Repo.id))
    listed = sorted({int(gh_id) for gh_id in installation.repository_ids or []})
    condition = sa.or_(col(Repo.gh_id).in_(listed), delivered) if listed else delivered
    rows = session.exec(select(Repo).where(condition)).all()
    order = {gh_id: index for index, gh_id in enumerate(installation.repository_ids or [])}
    return sorted(rows, key=lambda row: (order.get(row.gh_id, len(order)), row.full_name.lower()))


def repo_ids_of_user(session: Session, user_id: int, installation: Installation) -> set[int]:
    """The stored repositories of one source the user sees; the caller checked the link."""
    choices = session.exec(select(TrackedRepo).where(
        TrackedRepo.installation_id == installation.id, TrackedRepo.user_id == user_id)).all()
    if is_opt_in(installation):
        confirmed = sorted({row.repo_gh_id for row in choices
                            if row.tracked and row.repo_gh_id is not None})
        if not confirmed:
            return set()
        return set(session.scalars(sa.select(Repo.id).where(col(Repo.gh_id).in_(confirmed))))
    untracked = [row for row in choices if not row.tracked]
    hidden_ids = {row.repo_gh_id for row in untracked if row.repo_gh_id is not None}
    # A choice made before the repository was stored knows only its name; it can only hide.
    hidden_names = {row.repo_full_name.lower() for row in untracked if row.repo_gh_id is None}
    return {repo.id for repo in source_repos(session, installation) if repo.id is not None
            and repo.gh_id not in hidden_ids and repo.full_name.lower() not in hidden_names}


def visible_repo_ids(session: Session, user_id: int) -> set[int]:
    """The ids of every stored repository `user_id` may see: the one visibility rule.

    Per visible source: an App (or demo) source gives the repositories GitHub listed for it by
    id plus those whose facts were delivered under it, less those the user untracked; a token
    source gives the repositories the user tracks, by the id GitHub confirmed for them.
    """
    ids: set[int] = set()
    for installation in visible_installations(session, user_id):
        ids |= repo_ids_of_user(session, user_id, installation)
    return ids


def add_listed(installation: Installation, repos: Mapping[str, int]) -> None:
    """Add repositories GitHub confirmed (full name → id) to a source's names and ids."""
    known = {name.lower() for name in installation.repositories}
    # New lists: JSON columns notice only a new value.
    installation.repositories = [*installation.repositories,
                                 *(name for name in repos if name.lower() not in known)]
    installation.repository_ids = list(dict.fromkeys(
        [*(installation.repository_ids or []), *repos.values()]))


def set_choice(session: Session, user_id: int, installation_id: int, full_name: str,
               tracked: bool, gh_id: int | None = None) -> None:
    """Record a user's choice to track (or not) one repository of a source.

    `gh_id` is the id GitHub confirmed for the name; without one, a known id is kept.
    """
    row = session.exec(select(TrackedRepo).where(
        TrackedRepo.user_id == user_id, TrackedRepo.installation_id == installation_id,
        sa.func.lower(TrackedRepo.repo_full_name) == full_name.lower())).first()
    if row is None:
        row = TrackedRepo(user_id=user_id, installation_id=installation_id,
                          repo_full_name=full_name, tracked=tracked)
    row.tracked = tracked
    if gh_id is not None:
        row.repo_gh_id = gh_id
    session.add(row)


def confirm_listed(session: Session, installation_id: int, full_name: str, gh_id: int) -> None:
    """Pin a name a source lists to the id GitHub answered for it through the source's own
    credentials (a sync): added to the source's ids, and set on choices that knew only the name.
    """
    installation = session.get(Installation, installation_id, with_for_update=True)
    wanted = full_name.lower()
    if installation is None or all(name.lower() != wanted for name in installation.repositories):
        return
    if gh_id not in (installation.repository_ids or []):
        installation.repository_ids = [*(installation.repository_ids or []), gh_id]
        session.add(installation)
    for row in session.exec(select(TrackedRepo).where(
            TrackedRepo.installation_id == installation_id,
            sa.func.lower(TrackedRepo.repo_full_name) == wanted,
            col(TrackedRepo.repo_gh_id).is_(None))):
        row.repo_gh_id = gh_id
        session.add(row)
