"""Ask, step 1: the facts a question rests on (docs/API.md "Ask").

Semantic search over the asker's visible facts, narrowed by the dates, people and repositories the
question names (or the explicit `start`/`end`); when the search finds fewer than wanted, the newest
facts in that scope fill up. Nothing outside the asker's visibility is ever read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.intelligence.ask.question import (
    QuestionScope,
    named_logins,
    named_repos,
    named_window,
)
from gitpulse_app.intelligence.embeddings.search import search_facts
from gitpulse_app.intelligence.reports.collect import facts_by_id, resolve_logins
from gitpulse_app.intelligence.reports.models import CollectedFact
from gitpulse_app.intelligence.timeline import timeline_options
from gitpulse_app.intelligence.windows import Window
from gitpulse_app.normalization.text import collapse

MAX_QUESTION = 1000
FACTS_WANTED = 12


class AskError(ValueError):
    """The question cannot be answered as asked; the message says what to change."""


@dataclass
class Retrieval:
    """A question and the facts it rests on.

    Attributes:
        user_id: The asker.
        question: The question, trimmed.
        scope: The filters it named (window, people, repositories).
        facts: The facts, most relevant first.
        zone: The asker's zone (for dates in answers).
    """

    user_id: int
    question: str
    scope: QuestionScope
    facts: list[CollectedFact]
    zone: str | None


def _newest(session, repo_ids: set[int], actor_ids: set[int] | None, window: Window | None,
            limit: int) -> list[int]:
    query = sa.select(Event.id).where(Event.repo_id.in_(sorted(repo_ids)))
    if actor_ids is not None:
        query = query.where(Event.actor_id.in_(sorted(actor_ids)))
    if window is not None:
        query = query.where(Event.ts >= window.start, Event.ts < window.end)
    return list(session.scalars(query.order_by(Event.ts.desc(), Event.id.desc()).limit(limit)))


def retrieve(user_id: int, question: str, *, start: dt.datetime | None = None,
             end: dt.datetime | None = None, limit: int = FACTS_WANTED,
             now: dt.datetime | None = None) -> Retrieval:
    """The facts `user_id` can see that answer `question`.

    Args:
        user_id: The asker; only the repositories they can see are read.
        question: The question (1–1000 characters).
        start: Only facts at or after this instant (overrides a range the question names).
        end: Only facts before this instant.
        limit: How many facts at most.
        now: The clock reading (relative dates such as "last month").

    Raises:
        AskError: The question is empty or too long, or `start` is not before `end`.
    """
    text = collapse(question or "")
    if not text:
        raise AskError("The question is empty. Ask something about your team's work.")
    if len(text) > MAX_QUESTION:
        raise AskError(f"Keep the question under {MAX_QUESTION} characters.")
    if start is not None and end is not None and end <= start:
        raise AskError("The start must come before the end.")
    now = now or utcnow()
    with session_scope() as session:
        user = session.get(User, user_id)
        zone = user.timezone if user else None
        visible = visible_repo_ids(session, user_id)
        options = timeline_options(session, user_id)
        repos = named_repos(text, options.repos)
        logins = named_logins(text, [person.label for person in options.people],
                              user.gh_login if user else None)
        window = named_window(text, now, zone, user.week_start_day if user else 0)
        if start is not None or end is not None:
            window = Window(start or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                            end or now + dt.timedelta(days=1))
        scope = QuestionScope(window, logins, repos)
        repo_ids = visible
        if repos:
            named = set(session.scalars(sa.select(Repo.id).where(
                sa.func.lower(Repo.full_name).in_([name.lower() for name in repos]))))
            repo_ids = visible & named
        actor_ids = (set(resolve_logins(session, logins, visible, user_id).values()) if logins
                     else None)
        if not repo_ids or actor_ids == set():
            return Retrieval(user_id, text, scope, [], zone)
        hits = search_facts(session, text, repo_ids=repo_ids, actor_logins=list(logins) or None,
                            start=window.start if window else None,
                            end=window.end if window else None, limit=limit, now=now)
        ids = [hit.event_id for hit in hits]
        if len(ids) < limit:
            ids += [event_id for event_id in _newest(session, repo_ids, actor_ids, window, limit)
                    if event_id not in ids][: limit - len(ids)]
        facts = facts_by_id(session, ids, repo_ids)
    return Retrieval(user_id, text, scope, facts, zone)
