"""`IdentityResolver`: the actors and repositories of one batch of facts, each resolved at most once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.models import Repo, User
from gitpulse_app.normalization.changes import FactChange
from gitpulse_app.normalization.identity import is_same_identity, resolve_actor
from gitpulse_app.normalization.models import ActorRef, RepoRef
from gitpulse_app.normalization.repos import upsert_repo


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
