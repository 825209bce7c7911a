"""Who did it and where: the users and repos rows behind every fact.

`resolve_actor` finds or creates the user for an observed actor in identity order
(gh_id → lower(gh_login) → git_email) and fills in what a later observation adds. `upsert_repo`
patches the repository row by gh_id from GitHub's repository object and carries a rename through
to the repository's facts. `IdentityResolver` does both at most once per actor and repository for
a batch of facts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.logging import get_logger
from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.normalization.models import ActorRef, RepoRef
from gitpulse_app.normalization.readers import (
    get_bool,
    get_dict,
    get_int,
    get_str,
    get_text,
    parse_timestamp,
)

if TYPE_CHECKING:
    from gitpulse_app.normalization.store import FactChange

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
        if by_login is not None and by_login.id != by_id.id:
            _release_login(session, stale=by_login, keeper=by_id)
        _fill_user(by_id, actor)
        session.flush()
        return by_id
    if by_login is not None:
        if actor.gh_id is not None and by_login.gh_id is not None:
            # GitHub gave the login to another account: the row we had is stale.
            _release_login(session, stale=by_login, keeper=None)
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
    return _insert_row(session, user)


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


def _release_login(session: Session, *, stale: User, keeper: User | None) -> None:
    """Frees `stale`'s login for another row (flushed, so the unique index sees it first)."""
    login = stale.gh_login
    if stale.gh_id is not None or keeper is None:
        stale.gh_login = f"{login}{STALE_MARK}{stale.gh_id}"
    else:
        # Known only by this login, which now names the keeper's account: the same person.
        session.execute(
            sa.update(Event).where(Event.actor_id == stale.id).values(actor_id=keeper.id)
        )
        if stale.git_email is not None:
            stale.gh_login = None
        elif stale.signed_up_at is None and not stale.is_demo:
            session.delete(stale)
        else:
            stale.gh_login = f"{login}{STALE_MARK}{stale.id}"
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


# Repositories ------------------------------------------------------------------------------------


def upsert_repo(
    session: Session,
    raw_repo: Mapping[str, Any],
    *,
    github_url: str,
    changes: list[FactChange] | None = None,
    now: dt.datetime | None = None,
) -> Repo:
    """Creates or patches the repository row from GitHub's repository object, by gh_id.

    Every field present in `raw_repo` is patched (absent keys keep the stored value; push webhooks'
    epoch-second timestamps are accepted). When `full_name` changes, the repository's facts move
    from `{github_url}/{old}/` to `{github_url}/{new}/` in the same transaction, re-rendered and
    re-hashed. A different row still holding the new name is stale and is renamed
    `{full_name}#{its gh_id}` (its facts' URLs with it, so they cannot collide with the new ones).

    Args:
        session: The caller's session; the row is flushed, nothing is committed.
        raw_repo: A REST or webhook repository object (`id` and `full_name` or `owner.login` +
            `name` required).
        github_url: Web base of fact URLs (`GITHUB_URL`).
        changes: Receives a `FactChange` per fact a rename rewrote; send them with `fact_changed`
            after the commit (`store.publish_changes`).
        now: The write time (aware); defaults to now.

    Returns:
        The repository row.

    Raises:
        ValueError: The object has no id or name.
    """
    fields = repo_fields(raw_repo)
    for _ in range(2):
        repo = _upsert_repo_once(session, fields, github_url, changes, now)
        if repo is not None:
            return repo
    raise RuntimeError(f"Could not store the repository {fields['full_name']}: it kept conflicting.")


def _upsert_repo_once(
    session: Session,
    fields: dict[str, Any],
    github_url: str,
    changes: list[FactChange] | None,
    now: dt.datetime | None,
) -> Repo | None:
    full_name = fields["full_name"]
    repo = session.exec(select(Repo).where(Repo.gh_id == fields["gh_id"])).first()
    if repo is None or repo.full_name != full_name:
        holder = session.exec(select(Repo).where(Repo.full_name == full_name)).first()
        if holder is not None and (repo is None or holder.id != repo.id):
            stale_name = f"{holder.full_name}{STALE_MARK}{holder.gh_id}"
            _rename_repo(session, holder, stale_name, github_url, changes, now)
    if repo is None:
        return _insert_row(session, Repo(**fields))
    old_name = repo.full_name
    for name, value in fields.items():
        if name != "full_name" and getattr(repo, name) != value:
            setattr(repo, name, value)
    if old_name != full_name:
        _rename_repo(session, repo, full_name, github_url, changes, now)
    session.flush()
    return repo


def _rename_repo(
    session: Session,
    repo: Repo,
    new_name: str,
    github_url: str,
    changes: list[FactChange] | None,
    now: dt.datetime | None,
) -> None:
    # Lazy import: the fact store resolves repositories through this module.
    from gitpulse_app.normalization.store import rewrite_repo_urls

    old_name = repo.full_name
    repo.full_name = new_name
    session.flush()
    rewritten = rewrite_repo_urls(
        session, repo.id, old_name, new_name, github_url=github_url, now=now
    )
    log.info(
        "Repository renamed",
        extra={"repo_id": repo.id, "from": old_name, "to": new_name, "facts": len(rewritten)},
    )
    if changes is not None:
        changes.extend(rewritten)


def repo_fields(raw_repo: Mapping[str, Any]) -> dict[str, Any]:
    """The `repos` columns a repository object sets (only those whose keys are present).

    Raises:
        ValueError: The object has no id or name.
    """
    gh_id = get_int(raw_repo, "id")
    owner = get_text(get_dict(raw_repo, "owner"), "login")
    name = get_text(raw_repo, "name")
    full_name = get_text(raw_repo, "full_name") or (owner and name and f"{owner}/{name}")
    if gh_id is None or not full_name:
        raise ValueError("A repository object needs an `id` and a `full_name` to be stored.")
    split_owner, _, split_name = full_name.partition("/")
    fields: dict[str, Any] = {
        "gh_id": gh_id,
        "full_name": full_name,
        "owner": owner or split_owner,
        "name": name or split_name,
    }
    for column, (key, read) in _REPO_COLUMNS.items():
        if key in raw_repo:
            value = read(raw_repo, key)
            if value is not None or column not in _REQUIRED_FLAGS:
                fields[column] = value
    return fields


def _timestamp(raw: Mapping[str, Any], key: str) -> dt.datetime | None:
    value = raw.get(key)
    # Push webhooks send the repository's created_at and pushed_at as epoch seconds.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_timestamp(value)


_Reader = Callable[[Mapping[str, Any], str], Any]
_REPO_COLUMNS: dict[str, tuple[str, _Reader]] = {
    "gh_node_id": ("node_id", get_text),
    "description": ("description", get_str),
    "html_url": ("html_url", get_str),
    "homepage": ("homepage", get_str),
    "language": ("language", get_str),
    "default_branch": ("default_branch", get_str),
    "is_private": ("private", get_bool),
    "is_fork": ("fork", get_bool),
    "is_archived": ("archived", get_bool),
    "stars": ("stargazers_count", get_int),
    "forks": ("forks_count", get_int),
    "open_issues": ("open_issues_count", get_int),
    "watchers": ("watchers_count", get_int),
    "size": ("size", get_int),
    "gh_created_at": ("created_at", _timestamp),
    "gh_updated_at": ("updated_at", _timestamp),
    "gh_pushed_at": ("pushed_at", _timestamp),
}
# NOT NULL columns: an absent or malformed flag keeps the stored value (default false).
_REQUIRED_FLAGS = frozenset({"is_private", "is_fork", "is_archived"})


# Shared --------------------------------------------------------------------------------------------


def _insert_row(session: Session, row: _Row) -> _Row | None:
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


class IdentityResolver:
    """Resolves the actors and repositories of one batch of facts, each at most once.

    Attributes:
        renamed: `FactChange`s of facts that repository renames rewrote during the batch.
    """

    def __init__(
        self, session: Session, *, github_url: str, now: dt.datetime | None = None
    ) -> None:
        self.session = session
        self.github_url = github_url
        self.now = now
        self.renamed: list[FactChange] = []
        # actor → (its user, the resolution count when that answer was last checked)
        self._actors: dict[ActorRef, tuple[User, int]] = {}
        self._resolutions = 0
        self._repos: dict[int, Repo] = {}
        self._users_by_id: dict[int, User] = {}

    def actor(self, ref: ActorRef) -> User:
        """The user for an observed actor (resolved on first use in the batch)."""
        cached = self._actors.get(ref)
        if cached is not None:
            user, checked = cached
            # Only `resolve_actor` renames, merges or deletes users, so an answer checked since
            # the last resolution still holds.
            if checked == self._resolutions:
                return user
            # A row another resolution of this batch renamed or merged away no longer answers.
            if not sa.inspect(user).deleted and is_same_identity(ref, user):
                self._actors[ref] = (user, self._resolutions)
                return user
        user = resolve_actor(self.session, ref)
        self._resolutions += 1
        self._actors[ref] = (user, self._resolutions)
        self._users_by_id[user.id] = user
        return user

    @property
    def resolutions(self) -> int:
        """How many actors this batch resolved against the database so far: while it stays the
        same, `actor` answers every actor as before."""
        return self._resolutions

    def repo(self, ref: RepoRef) -> Repo:
        """The repository row for a fact's repository (upserted on first use in the batch)."""
        repo = self._repos.get(ref.gh_id)
        if repo is None:
            raw = {
                "id": ref.gh_id,
                "full_name": ref.full_name,
                "name": ref.name,
                "owner": {"login": ref.owner},
                **ref.raw,
            }
            repo = upsert_repo(
                self.session, raw, github_url=self.github_url, changes=self.renamed, now=self.now
            )
            self._repos[ref.gh_id] = repo
        return repo

    def users(self, ids: set[int]) -> dict[int, User]:
        """The stored users with these ids (loaded once per batch)."""
        missing = [user_id for user_id in ids if user_id not in self._users_by_id]
        if missing:
            for user in self.session.exec(select(User).where(User.id.in_(missing))):
                self._users_by_id[user.id] = user
        return {user_id: self._users_by_id[user_id] for user_id in ids if user_id in self._users_by_id}
