"""Who did it: the users rows behind every fact's actor.

`resolve_actor` finds or creates the user for an observed actor in identity order
(gh_id → lower(gh_login) → git_email) and fills in what a later observation adds. Repositories are
`repos.py`'s; `resolver.py` resolves both at most once per actor and repository for a batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.logging import get_logger
from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.normalization.models import ActorRef

log = get_logger(__name__)

STALE_MARK = "#"

_Row = TypeVar("_Row", User, Repo)


# Actors ------------------------------------------------------------------------------------------


def resolve_actor(session: Session, actor: ActorRef) -> User:
    """Finds or creates the user an observed actor refers to.

    Lookup order is gh_id, then lower(gh_login), then git_email. A new actor becomes an
    identity-only user (no sign-up). A match gains what the observation adds: a missing gh_id,
    node id, avatar or login, and the current login of a known gh_id. When the login now belongs to
    another account, the stale row holding it is renamed `{login}#{its gh_id}`; a row known only by
    that login is the same person, so its facts move to the gh_id row.

    Args:
        session: The caller's session; the row is flushed (it has an id), nothing is committed.
        actor: The observed actor; it needs a gh_id, login or git email.

    Returns:
        The user row.

    Raises:
        ValueError: The actor has no identity at all.
    """
    if not actor.has_identity:
        raise ValueError("An actor needs a GitHub id, a login or a git email to be stored.")
    for _ in range(2):
        user = _find_or_create_user(session, actor)
        if user is not None:
            return user
    raise RuntimeError(f"Could not store the user for {actor!r}: it kept conflicting.")


def _find_or_create_user(session: Session, actor: ActorRef) -> User | None:
    by_id = _user_where(session, User.gh_id == actor.gh_id) if actor.gh_id is not None else None
    by_login = _user_by_login(session, actor.login) if actor.login else None
    if by_id is not None:
        if by_login is not None and login_is_stale(by_login, owner=by_id, gh_id=actor.gh_id):
            release_stale_login(session, stale=by_login, keeper=by_id)
        _fill_user(by_id, actor)
        session.flush()
        return by_id
    if by_login is not None:
        if login_is_stale(by_login, owner=None, gh_id=actor.gh_id):
            release_stale_login(session, stale=by_login, keeper=None)
        else:
            _fill_user(by_login, actor)
            session.flush()
            return by_login
    by_email = (
        _user_where(session, User.git_email == actor.git_email) if actor.git_email else None
    )
    if by_email is not None and _may_merge_into(by_email, actor):
        _fill_user(by_email, actor)
        session.flush()
        return by_email
    user = User(
        gh_id=actor.gh_id,
        gh_login=actor.login,
        gh_node_id=actor.node_id,
        git_email=actor.git_email if by_email is None else None,
        display_name=actor.git_name if actor.is_git_only else None,
        avatar_url=actor.avatar_url,
    )
    return insert_unless_taken(session, user)


def _user_where(session: Session, condition: Any) -> User | None:
    return session.exec(select(User).where(condition)).first()


def _user_by_login(session: Session, login: str) -> User | None:
    return _user_where(session, sa.func.lower(User.gh_login) == login.lower())


def _may_merge_into(user: User, actor: ActorRef) -> bool:
    """Whether a row found by git email may take the actor's GitHub identity."""
    if actor.gh_id is not None and user.gh_id not in (None, actor.gh_id):
        return False
    if actor.login and user.gh_login and user.gh_login.lower() != actor.login.lower():
        return False
    return True


def _fill_user(user: User, actor: ActorRef) -> None:
    if user.gh_id is None and actor.gh_id is not None:
        user.gh_id = actor.gh_id
    if actor.login and user.gh_login != actor.login:
        # A known account's login is current on GitHub; a bare login never renames a row.
        if user.gh_login is None or (actor.gh_id is not None and actor.gh_id == user.gh_id):
            user.gh_login = actor.login
    if user.gh_node_id is None and actor.node_id:
        user.gh_node_id = actor.node_id
    if user.avatar_url is None and actor.avatar_url:
        user.avatar_url = actor.avatar_url
    if user.display_name is None and actor.git_name and user.gh_login is None:
        user.display_name = actor.git_name


# Stale logins: one rule for the actors of facts and for sign-in (experience/auth/users.py) -----


@dataclass(frozen=True)
class LoginRelease:
    """What freeing a stale login does to the row that held it.

    Attributes:
        login: The row's `gh_login` afterwards (None: cleared).
        move_facts: The row's facts move to the account that now holds the login.
        delete: The row goes away (after its facts moved).
    """

    login: str | None
    move_facts: bool = False
    delete: bool = False


def login_is_stale(holder: User, *, owner: User | None, gh_id: int | None) -> bool:
    """Whether `holder`, the row found by a login GitHub now shows for account `gh_id` (stored as
    `owner`, None when not stored yet), holds that login stale.

    With the account stored, any other row holding its login is stale. Without it, a row of
    another GitHub account is stale (GitHub gave the login away); a row known only by the login
    (no gh_id), or a sighting without a gh_id, is the same person: the row is upgraded in place.
    """
    if owner is not None:
        return holder.id != owner.id
    return gh_id is not None and holder.gh_id is not None


def stale_login_release(holder: User, *, has_keeper: bool) -> LoginRelease:
    """Which name wins when `holder`'s login is stale: the current account's, always.

    A row of another GitHub account is renamed `{login}#{its gh_id}`. A row known only by the
    login is the keeper's account seen earlier, so its facts move to the keeper; the row keeps
    nothing when a git email still identifies it (login cleared), is deleted when it is a bare
    identity (no sign-up, not demo), and is renamed `{login}#{its id}` otherwise, as it is when
    there is no keeper to merge into.
    """
    login = holder.gh_login
    if holder.gh_id is not None:
        return LoginRelease(f"{login}{STALE_MARK}{holder.gh_id}")
    if not has_keeper:
        return LoginRelease(f"{login}{STALE_MARK}{holder.id}")
    if holder.git_email is not None:
        return LoginRelease(None, move_facts=True)
    if holder.signed_up_at is None and not holder.is_demo:
        return LoginRelease(login, move_facts=True, delete=True)
    return LoginRelease(f"{login}{STALE_MARK}{holder.id}", move_facts=True)


def release_stale_login(session: Session, *, stale: User, keeper: User | None) -> None:
    """Applies `stale_login_release` to `stale` (flushed, so the unique index sees it first)."""
    release = stale_login_release(stale, has_keeper=keeper is not None)
    if release.move_facts and keeper is not None:
        session.execute(
            sa.update(Event).where(Event.actor_id == stale.id).values(actor_id=keeper.id)
        )
    if release.delete:
        session.delete(stale)
    else:
        stale.gh_login = release.login
    log.info("Released a stale GitHub login", extra={"user_id": stale.id})
    session.flush()


def actor_of(user: User) -> ActorRef:
    """The actor a stored user stands for, as texts render it (login, else git name or email)."""
    return ActorRef(
        gh_id=user.gh_id,
        login=user.gh_login,
        node_id=user.gh_node_id,
        git_email=user.git_email,
        git_name=user.display_name if user.gh_login is None else None,
        avatar_url=user.avatar_url,
    )


def is_same_identity(actor: ActorRef, user: User) -> bool:
    """Whether an observed actor is the stored user (same gh_id, login or git email)."""
    if actor.gh_id is not None and actor.gh_id == user.gh_id:
        return True
    if actor.login and user.gh_login and actor.login.lower() == user.gh_login.lower():
        return True
    return actor.git_email is not None and actor.git_email == user.git_email


# Shared --------------------------------------------------------------------------------------------


def insert_unless_taken(session: Session, row: _Row) -> _Row | None:
    """Inserts `row`; None when a concurrent transaction inserted the same identity first.

    PostgreSQL guards the insert with a SAVEPOINT so the caller's transaction survives the
    conflict. SQLite serialises writers, so a plain flush cannot race there (and pysqlite's
    SAVEPOINT handling is unreliable).
    """
    if session.get_bind().dialect.name != "postgresql":
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
    except sa.exc.IntegrityError:
        return None
    return row
