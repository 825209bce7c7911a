"""Collecting: the facts of a report's window and scope.

Facts are those with `start ≤ ts < end`, in repositories the owner can see, by the scope's actors
(or in the scope's repository), newest first and at most 2,000 (the newest are kept). With a focus
query they are ranked by similarity instead and only the best 100 with a positive score are used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection as Ids, Sequence

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.intelligence.reports.models import CollectedFact, Collection

MAX_FACTS = 2000
MAX_FOCUSED_FACTS = 100


def resolve_logins(session: Session, logins: Sequence[str], repo_ids: Ids[int],
                   owner_id: int) -> dict[str, int]:
    """Lower-cased login → user id, among the people the owner may see: the owner and the actors
    of facts in `repo_ids` (the owner's visible repositories). Anyone else answers exactly like a
    login nobody has, so a report request never tells whether a login exists."""
    lowered = sorted({login.lower() for login in logins if login})
    if not lowered:
        return {}
    visible_actor = sa.exists().where(Event.actor_id == User.id,
                                      Event.repo_id.in_(sorted(repo_ids)))
    rows = session.execute(
        sa.select(User.id, User.gh_login).where(
            sa.func.lower(User.gh_login).in_(lowered),
            sa.or_(User.id == owner_id, visible_actor))
    ).all()
    return {login.lower(): user_id for user_id, login in rows}


def _actor_name(login: str | None, display_name: str | None, git_email: str | None) -> str:
    if login:
        return login
    if display_name:
        return display_name
    return (git_email or "").split("@", 1)[0] or "unknown"


_COLUMNS = (
    Event.id, Event.type, Event.ts, Repo.full_name, User.gh_login, User.display_name,
    User.git_email, Event.source_url, Event.canonical_text, Event.content_hash, Event.meta,
    Event.additions, Event.deletions, Event.files_changed,
)


def _fact(row: sa.Row) -> CollectedFact:
    (event_id, fact_type, ts, repo, login, display_name, git_email, url, text, content_hash,
     meta, additions, deletions, files_changed) = row
    return CollectedFact(
        event_id=event_id, type=fact_type, ts=ts, repo=repo,
        actor=_actor_name(login, display_name, git_email), source_url=url,
        canonical_text=text, content_hash=content_hash, meta=dict(meta or {}),
        additions=additions, deletions=deletions, files_changed=files_changed,
    )


def _window_filter(repo_ids: Ids[int], actor_ids: Ids[int] | None, start: dt.datetime,
                   end: dt.datetime) -> list[sa.ColumnElement[bool]]:
    conditions = [Event.repo_id.in_(sorted(repo_ids)), Event.ts >= start, Event.ts < end]
    if actor_ids is not None:
        conditions.append(Event.actor_id.in_(sorted(actor_ids)))
    return conditions


def fact_hashes(session: Session, *, repo_ids: Ids[int], actor_ids: Ids[int] | None,
                start: dt.datetime, end: dt.datetime) -> list[str]:
    """The content hashes of the facts `collect_facts` would give without a query (cheap: no
    rows are built), for the cache key."""
    if not repo_ids or (actor_ids is not None and not actor_ids):
        return []
    result = session.connection().execute(
        sa.select(Event.content_hash).where(*_window_filter(repo_ids, actor_ids, start, end))
        .order_by(Event.ts.desc(), Event.id.desc()).limit(MAX_FACTS))
    return [row[0] for row in result]


def collect_facts(
    session: Session,
    *,
    repo_ids: Ids[int],
    actor_ids: Ids[int] | None,
    start: dt.datetime,
    end: dt.datetime,
    query: str | None = None,
    actor_logins: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> Collection:
    """The facts a report of this window and scope is written from.

    Args:
        session: An open session.
        repo_ids: The repositories in scope, already limited to those the owner can see.
        actor_ids: Only facts by these users; None for every actor (a repository report).
        start: The window's start.
        end: The window's end (exclusive).
        query: A focus query: rank by similarity and keep the best 100 with a score above 0.
        actor_logins: The logins behind `actor_ids`, for the search filter.
        now: The clock reading (search availability checks).

    Returns:
        The facts, newest first (best match first with a query), and the count before any cap.
    """
    if not repo_ids or (actor_ids is not None and not actor_ids):
        return Collection([], 0)
    conditions = _window_filter(repo_ids, actor_ids, start, end)
    event_count = session.scalar(sa.select(sa.func.count(Event.id)).where(*conditions)) or 0
    if not event_count:
        return Collection([], 0)
    joined = (sa.select(*_COLUMNS).join(Repo, Repo.id == Event.repo_id)
              .join(User, User.id == Event.actor_id))
    if query:
        from gitpulse_app.intelligence.embeddings import search_facts

        hits = search_facts(session, query, repo_ids=set(repo_ids), actor_logins=actor_logins,
                            start=start, end=end, limit=MAX_FOCUSED_FACTS, now=now)
        ids = [hit.event_id for hit in hits if hit.score > 0]
        if not ids:
            return Collection([], event_count)
        rows = session.execute(joined.where(Event.id.in_(ids), *conditions)).all()
        by_id = {row[0]: _fact(row) for row in rows}
        return Collection([by_id[i] for i in ids if i in by_id], event_count)
    rows = session.execute(
        joined.where(*conditions).order_by(Event.ts.desc(), Event.id.desc()).limit(MAX_FACTS)
    ).all()
    facts = [_fact(row) for row in rows]
    return Collection(facts, event_count, omitted=max(0, event_count - len(facts)))


def facts_by_id(session: Session, event_ids: Sequence[int], repo_ids: Ids[int]
                ) -> list[CollectedFact]:
    """The facts `event_ids` in the order given, keeping only those in `repo_ids` (visibility)."""
    if not event_ids or not repo_ids:
        return []
    rows = session.execute(
        sa.select(*_COLUMNS).join(Repo, Repo.id == Event.repo_id)
        .join(User, User.id == Event.actor_id)
        .where(Event.id.in_(list(event_ids)), Event.repo_id.in_(sorted(repo_ids)))).all()
    by_id = {row[0]: _fact(row) for row in rows}
    return [by_id[event_id] for event_id in event_ids if event_id in by_id]
