"""The timeline: every fact a user may see, newest first, in keyset pages,
and the same facts as CSV rows.

Pages are cut by `(ts, id)` — the cursor is the last row's pair — so page 200 costs what page 1
costs, and facts arriving meanwhile never shift or repeat rows. Only facts in the repositories the
caller passes as visible are ever read (docs/VISIBILITY.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import iso_z
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.intelligence.analytics import TYPE_LABELS
from gitpulse_app.intelligence.windows import (
    ZoneLike,
    local_date,
    resolve_zone,
    start_of_local_day,
)

PAGE_SIZE = 50
EXPORT_DAYS = 30
EXPORT_BATCH = 2000
CSV_COLUMNS = (
    "ts_utc", "local_date", "type", "repo", "actor", "canonical_text", "source_url",
    "additions", "deletions", "files_changed", "content_hash",
)
# Spreadsheets run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class TimelineError(ValueError):
    """A timeline or export parameter is malformed; the message says which and how."""


@dataclass(frozen=True)
class TimelineFilters:
    """What the timeline shows.

    Attributes:
        repo: One repository (`owner/name`, case-insensitive), or None for all visible ones.
        actor_id: One person (a `users` id), or None.
        types: Fact types to keep (empty: all).
        start_date: First local date (inclusive), or None.
        end_date: Last local date (inclusive), or None.
    """

    repo: str | None = None
    actor_id: int | None = None
    types: tuple[str, ...] = ()
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    # Instants instead of local dates (the JSON API's `start`/`end`); they win when set.
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None

    def window(self, zone: ZoneLike) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The local date range as UTC instants `[start, end)`."""
        start = start_of_local_day(self.start_date, zone) if self.start_date else None
        end = (start_of_local_day(self.end_date + dt.timedelta(days=1), zone)
               if self.end_date else None)
        return self.start_at or start, self.end_at or end


@dataclass(frozen=True)
class TimelineRow:
    """One fact as the timeline lists it."""

    event_id: int
    ts: dt.datetime
    type: str
    repo: str
    actor: str
    canonical_text: str
    source_url: str


@dataclass(frozen=True)
class TimelinePage:
    """Up to `PAGE_SIZE` rows and the cursor of the next page (None at the end)."""

    rows: list[TimelineRow]
    next_cursor: str | None


def encode_cursor(ts: dt.datetime, event_id: int) -> str:
    return f"{ts.astimezone(dt.UTC).isoformat()}|{event_id}"


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """`(ts, id)` of a cursor made by `encode_cursor`."""
    try:
        stamp, _, event_id = cursor.rpartition("|")
        ts = dt.datetime.fromisoformat(stamp)
        if ts.tzinfo is None:
            raise ValueError(stamp)
        return ts.astimezone(dt.UTC), int(event_id)
    except ValueError:
        raise TimelineError("Invalid cursor: start again from the first page.") from None


def actor_label(login: str | None, name: str | None, git_email: str | None) -> str:
    """How a person is named: the GitHub login, else the git name, else the email's local part."""
    return login or name or (git_email or "").split("@", 1)[0] or "unknown"


def _visible_ids(session: Session, repo_ids: Collection[int], repo: str | None
                 ) -> list[int] | None:
    """The repository ids to read, narrowed to `repo`; None when nothing can match."""
    if repo:
        wanted = session.scalar(
            sa.select(Repo.id).where(sa.func.lower(Repo.full_name) == repo.lower())
        )
        return [wanted] if wanted is not None and wanted in repo_ids else None
    return sorted(repo_ids) or None


def _repo_condition(session: Session, repo_ids: Collection[int], repo: str | None
                    ) -> ColumnElement[bool] | None:
    """The visible-repository condition, narrowed to `repo`; None when nothing can match."""
    ids = _visible_ids(session, repo_ids, repo)
    if ids is None:
        return None
    return Event.repo_id == ids[0] if len(ids) == 1 else Event.repo_id.in_(ids)


def _conditions(filters: TimelineFilters, zone: ZoneLike) -> list[ColumnElement[bool]] | None:
    """Every condition but the repository one; None when nothing can match."""
    conditions: list[ColumnElement[bool]] = []
    if filters.actor_id is not None:
        conditions.append(Event.actor_id == filters.actor_id)
    known = sorted(set(filters.types) & set(TYPE_LABELS))
    if filters.types and not known:
        return None
    if known and len(known) < len(TYPE_LABELS):
        conditions.append(Event.type.in_(known))
    start, end = filters.window(zone)
    if start is not None:
        conditions.append(Event.ts >= start)
    if end is not None:
        conditions.append(Event.ts < end)
    return conditions


def _row_query() -> sa.Select:
    return (
        sa.select(Event.id, Event.ts, Event.type, Repo.full_name, User.gh_login,
                  User.display_name, User.git_email, Event.canonical_text, Event.source_url)
        .join(Repo, Repo.id == Event.repo_id)
        .join(User, User.id == Event.actor_id)
    )


_NEWEST = (Event.ts.desc(), Event.id.desc())


def _newest_ids(session: Session, repo_ids: list[int], conditions: list[ColumnElement[bool]],
                limit: int, by_actor: bool) -> list[int]:
    """Ids of the newest `limit` facts matching, newest first.

    A fact list over several repositories is read repository by repository — each part a short
    walk down that repository's `(repo_id, ts)` index — and the parts merged: one `repo_id IN …`
    query would make the database sort every matching fact to return fifty. A person filter
    walks the `(actor_id, ts)` index instead.
    """
    if len(repo_ids) == 1 or by_actor:
        repo = Event.repo_id == repo_ids[0] if len(repo_ids) == 1 else Event.repo_id.in_(repo_ids)
        return list(session.scalars(
            sa.select(Event.id).where(repo, *conditions).order_by(*_NEWEST).limit(limit)))
    parts = [
        sa.select(Event.id, Event.ts).where(Event.repo_id == repo_id, *conditions)
        .order_by(*_NEWEST).limit(limit).subquery()
        for repo_id in repo_ids
    ]
    merged = sa.union_all(*[sa.select(part.c.id, part.c.ts) for part in parts]).subquery()
    return list(session.scalars(
        sa.select(merged.c.id).order_by(merged.c.ts.desc(), merged.c.id.desc()).limit(limit)))


def timeline_page(
    session: Session, *, repo_ids: Collection[int], filters: TimelineFilters, zone: ZoneLike,
    cursor: str | None = None, limit: int = PAGE_SIZE,
) -> TimelinePage:
    """One page of visible facts, newest first (`ts` desc, then `id` desc).

    Args:
        session: An open session.
        repo_ids: The repositories the user may see; nothing else is read.
        filters: Repository, person, types and local date range.
        zone: The user's zone (for the date range).
        cursor: The previous page's `next_cursor`, or None for the first page.
        limit: Rows per page.

    Raises:
        TimelineError: The cursor is malformed.
    """
    repo_list = _visible_ids(session, repo_ids, filters.repo)
    conditions = _conditions(filters, zone)
    if repo_list is None or conditions is None:
        return TimelinePage([], None)
    if cursor:
        ts, event_id = decode_cursor(cursor)
        # `ts <= :ts` lets the index seek; the OR only trims rows sharing that instant.
        conditions += [Event.ts <= ts, sa.or_(Event.ts < ts, Event.id < event_id)]
    ids = _newest_ids(session, repo_list, conditions, limit + 1,
                      by_actor=filters.actor_id is not None)
    rows = session.execute(
        _row_query().where(Event.id.in_(ids)).order_by(*_NEWEST)).all() if ids else []
    page = [
        TimelineRow(row.id, row.ts, row.type, row.full_name,
                    actor_label(row.gh_login, row.display_name, row.git_email),
                    row.canonical_text, row.source_url)
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(page[-1].ts, page[-1].event_id) if len(rows) > limit else None
    return TimelinePage(page, next_cursor)


def load_timeline_page(user_id: int, filters: TimelineFilters, zone: ZoneLike,
                       cursor: str | None = None) -> TimelinePage:
    """`timeline_page` over the repositories `user_id` may see, in its own session."""
    with session_scope() as session:
        return timeline_page(session, repo_ids=visible_repo_ids(session, user_id),
                             filters=filters, zone=zone, cursor=cursor)


@dataclass(frozen=True)
class Person:
    actor_id: int
    label: str


@dataclass(frozen=True)
class TimelineOptions:
    """What the filters offer: visible repositories and the people acting in them."""

    repos: list[str]
    people: list[Person]


def timeline_options(session: Session, user_id: int) -> TimelineOptions:
    """Visible repositories (stored ones) and the people who appear as actors of their facts."""
    ids = sorted(visible_repo_ids(session, user_id))
    if not ids:
        return TimelineOptions([], [])
    repos = sorted(session.scalars(sa.select(Repo.full_name).where(Repo.id.in_(ids))).all(),
                   key=str.lower)
    # Per person one probe of the (actor_id, ts) index, instead of a DISTINCT over every fact.
    acts_here = sa.exists().where(Event.actor_id == User.id, Event.repo_id.in_(ids))
    people = [
        Person(row.id, actor_label(row.gh_login, row.display_name, row.git_email))
        for row in session.execute(
            sa.select(User.id, User.gh_login, User.display_name, User.git_email).where(acts_here)
        ).all()
    ]
    return TimelineOptions(repos, sorted(people, key=lambda person: person.label.lower()))


# CSV export ---------------------------------------------------------------------------------------
def parse_bound(value: str, zone: ZoneLike, *, name: str, is_end: bool) -> dt.datetime:
    """`YYYY-MM-DD` (a local date; an end date is inclusive) or an ISO-8601 instant (UTC if naive).

    Raises:
        TimelineError: "Invalid {name}: expected YYYY-MM-DD or an ISO-8601 timestamp".
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return start_of_local_day(day + dt.timedelta(days=1) if is_end else day, zone)
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimelineError(
            f"Invalid {name}: expected YYYY-MM-DD or an ISO-8601 timestamp"
        ) from None
    return (instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def export_window(start: str | None, end: str | None, zone: ZoneLike, now: dt.datetime
                  ) -> tuple[dt.datetime, dt.datetime]:
    """The export's `[start, end)`: given bounds, else the 30 local days ending today."""
    tz = resolve_zone(zone)
    start_at = parse_bound(start, tz, name="start", is_end=False) if start else None
    end_at = parse_bound(end, tz, name="end", is_end=True) if end else None
    if end_at is None:
        end_at = start_of_local_day(local_date(now, tz) + dt.timedelta(days=1), tz)
    if start_at is None:
        first = local_date(end_at - dt.timedelta(microseconds=1), tz)
        start_at = start_of_local_day(first - dt.timedelta(days=EXPORT_DAYS - 1), tz)
    return start_at, end_at


def csv_safe(value: object) -> str:
    """A cell's text, prefixed with `'` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_rows(
    user_id: int, *, start: dt.datetime, end: dt.datetime, zone: ZoneLike,
    repo: str | None = None,
) -> Iterator[list[str]]:
    """CSV rows (no header) of the facts `user_id` may see in `[start, end)`, oldest first.

    Facts are read in batches, each in its own short session, so a large export never holds a
    transaction open while the response streams.
    """
    tz = resolve_zone(zone)
    last: tuple[dt.datetime, int] | None = None
    while True:
        with session_scope() as session:
            repo_condition = _repo_condition(session, visible_repo_ids(session, user_id), repo)
            if repo_condition is None:
                return
            conditions = [repo_condition, Event.ts >= start, Event.ts < end]
            if last is not None:
                conditions += [Event.ts >= last[0],
                               sa.or_(Event.ts > last[0], Event.id > last[1])]
            rows = session.execute(
                sa.select(Event.id, Event.ts, Event.type, Repo.full_name, User.gh_login,
                          User.display_name, User.git_email, Event.canonical_text,
                          Event.source_url, Event.additions, Event.deletions,
                          Event.files_changed, Event.content_hash)
                .join(Repo, Repo.id == Event.repo_id)
                .join(User, User.id == Event.actor_id)
                .where(*conditions)
                .order_by(Event.ts, Event.id)
                .limit(EXPORT_BATCH)
            ).all()
        for row in rows:
            yield [csv_safe(cell) for cell in (
                iso_z(row.ts), local_date(row.ts, tz).isoformat(), row.type, row.full_name,
                actor_label(row.gh_login, row.display_name, row.git_email), row.canonical_text,
                row.source_url, row.additions, row.deletions, row.files_changed,
                row.content_hash,
            )]
        if len(rows) < EXPORT_BATCH:
            return
        last = (rows[-1].ts, rows[-1].id)


def user_zone(user_id: int) -> str | None:
    """The stored zone name of a user (None: UTC)."""
    with session_scope() as session:
        user = session.get(User, user_id)
        return user.timezone if user is not None else None


def can_see_repo_named(user_id: int, full_name: str) -> bool:
    """Whether `user_id` may see the stored repository `full_name` (case-insensitive)."""
    with session_scope() as session:
        return _repo_condition(session, visible_repo_ids(session, user_id), full_name) is not None


@dataclass(frozen=True)
class ScoredRow:
    """A search hit shown on the timeline: the fact and its cosine score (0–1)."""

    row: TimelineRow
    score: float


def search_timeline(user_id: int, query: str, filters: TimelineFilters, zone: ZoneLike,
                    actor_login: str | None = None, limit: int = PAGE_SIZE) -> list[ScoredRow]:
    """Rank the visible facts matching `filters` by similarity to `query`.

    Raises:
        SearchError: The query is empty.
    """
    from gitpulse_app.intelligence.embeddings import search_for_user

    start, end = filters.window(zone)
    with session_scope() as session:
        hits = search_for_user(
            session, user_id, query, actor_logins=[actor_login] if actor_login else None,
            repo=filters.repo, types=list(filters.types) or None, start=start, end=end,
            limit=limit)
    return [
        ScoredRow(TimelineRow(hit.event_id, hit.ts, hit.type, hit.repo, hit.actor or "unknown",
                              hit.canonical_text, hit.source_url), hit.score)
        for hit in hits
    ]
