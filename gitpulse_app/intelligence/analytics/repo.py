"""The repository page: KPIs, the stacked activity chart, the type breakdown and the top
contributors of one repository over a range of days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.intelligence.analytics.counts import (
    last_days,
    DEFAULT_RANGE,
    RANGES,
    TOP_CONTRIBUTORS,
    TYPE_LABELS,
    Kpi,
    local_date_expr,
    wall_clock_days_before,
)
from gitpulse_app.intelligence.windows import ZoneLike, local_date, start_of_local_day


# Repository detail --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepoSummary:
    """The header of a repository page."""

    full_name: str
    description: str | None = None
    language: str | None = None
    stars: int | None = None
    forks: int | None = None
    html_url: str | None = None


@dataclass(frozen=True)
class TypeShare:
    """One row of the event breakdown."""

    type: str
    label: str
    count: int
    per_day: float
    share: float


@dataclass(frozen=True)
class Contributor:
    login: str
    avatar_url: str | None
    count: int


@dataclass
class RepoAnalytics:
    """Everything the repository page shows for one range ending at a frozen instant."""

    repo: RepoSummary
    range_days: int
    start: dt.datetime
    end: dt.datetime
    days: list[dt.date]
    kpis: list[Kpi]
    breakdown: list[TypeShare]
    total: int
    daily: dict[dt.date, dict[str, int]]
    contributors: list[Contributor]


def _visible_repo(session: Session, repo_ids: Collection[int], visible_names: Iterable[str],
                  full_name: str) -> tuple[Repo | None, bool]:
    """The stored repo row the user may see under `full_name` (if any), and whether the page
    shows at all: a name the user's sources list but whose repository is not stored as one of
    theirs (not synced yet, or the name now held by another repository) shows an empty page."""
    repo = session.scalars(
        sa.select(Repo).where(sa.func.lower(Repo.full_name) == full_name.lower())
    ).first()
    if repo is not None and repo.id in repo_ids:
        return repo, True
    return None, full_name.lower() in {name.lower() for name in visible_names}


def _counts_by_type_and_actor(session: Session, repo_id: int, start: dt.datetime,
                              end: dt.datetime) -> dict[tuple[str, int], int]:
    """Facts of one repository in `[start, end)` per (type, actor): one pass over the range."""
    rows = session.execute(
        sa.select(Event.type, Event.actor_id, sa.func.count())
        .where(Event.repo_id == repo_id, Event.ts >= start, Event.ts < end)
        .group_by(Event.type, Event.actor_id)
    ).all()
    return {(fact_type, actor_id): int(count) for fact_type, actor_id, count in rows}


def _by_day_type_actor(session: Session, repo_id: int, zone: ZoneLike, start: dt.datetime,
                       end: dt.datetime) -> list[tuple[dt.date, str, int, int]]:
    """`(local date, type, actor, count)` rows: the chart, breakdown, KPIs and contributors of
    the current range from one pass over its facts."""
    day = local_date_expr(session, Event.ts, zone, start, end).label("day")
    rows = session.execute(
        sa.select(day, Event.type, Event.actor_id, sa.func.count())
        .where(Event.repo_id == repo_id, Event.ts >= start, Event.ts < end)
        .group_by(day, Event.type, Event.actor_id)
    ).all()
    return [(dt.date.fromisoformat(str(d)), t, a, int(n)) for d, t, a, n in rows]


def repo_analytics(
    session: Session, *, repo_ids: Collection[int], visible_names: Iterable[str], full_name: str,
    range_days: int, end: dt.datetime, zone: ZoneLike,
) -> RepoAnalytics | None:
    """A visible repository's activity over the `range_days` local dates ending at `end`.

    Args:
        session: An open session.
        repo_ids: Ids of the repositories the user may see.
        visible_names: Their full names (a tracked repository may not be stored yet).
        full_name: `owner/name`, case-insensitive.
        range_days: One of `RANGES` (anything else falls back to the default).
        end: The frozen end of the window (the page's load time).
        zone: The user's zone.

    Returns:
        The analytics, or None when the user may not see the repository ("Repository not found").
    """
    repo, visible = _visible_repo(session, repo_ids, visible_names, full_name)
    if not visible:
        return None
    range_days = range_days if range_days in RANGES else DEFAULT_RANGE
    days = last_days(local_date(end, zone), range_days)
    start = start_of_local_day(days[0], zone)
    previous_start = start_of_local_day(days[0] - dt.timedelta(days=range_days), zone)
    previous_end = wall_clock_days_before(end, range_days, zone)
    if repo is None:
        summary = RepoSummary(full_name=full_name)
        return RepoAnalytics(summary, range_days, start, end, days,
                             _repo_kpis({}, 0, {}, 0), [], 0, {}, [])
    assert repo.id is not None
    daily: dict[dt.date, dict[str, int]] = {}
    current: dict[str, int] = {}
    per_actor: dict[int, int] = {}
    for day, fact_type, actor_id, count in _by_day_type_actor(session, repo.id, zone, start, end):
        by_type = daily.setdefault(day, {})
        by_type[fact_type] = by_type.get(fact_type, 0) + count
        current[fact_type] = current.get(fact_type, 0) + count
        per_actor[actor_id] = per_actor.get(actor_id, 0) + count
    previous_rows = _counts_by_type_and_actor(session, repo.id, previous_start, previous_end)
    previous: dict[str, int] = {}
    for (fact_type, _), count in previous_rows.items():
        previous[fact_type] = previous.get(fact_type, 0) + count
    previous_actors = len({actor_id for _, actor_id in previous_rows})
    total = sum(current.values())
    breakdown = [
        TypeShare(fact_type, TYPE_LABELS.get(fact_type, fact_type), count,
                  count / range_days, count / total * 100 if total else 0.0)
        for fact_type, count in sorted(current.items(), key=lambda item: (-item[1], item[0]))
    ]
    return RepoAnalytics(
        repo=RepoSummary(repo.full_name, repo.description, repo.language, repo.stars, repo.forks,
                         repo.html_url),
        range_days=range_days, start=start, end=end, days=days,
        kpis=_repo_kpis(current, len(per_actor), previous, previous_actors),
        breakdown=breakdown, total=total, daily=daily,
        contributors=_contributors(session, per_actor),
    )


def _repo_kpis(current: dict[str, int], current_actors: int, previous: dict[str, int],
               previous_actors: int) -> list[Kpi]:
    return [
        Kpi("PRs Opened", current.get("pr_opened", 0), previous.get("pr_opened", 0)),
        Kpi("Commits", current.get("commit", 0), previous.get("commit", 0)),
        Kpi("Reviews", current.get("review_submitted", 0), previous.get("review_submitted", 0)),
        Kpi("Contributors", current_actors, previous_actors),
    ]


def _contributors(session: Session, per_actor: dict[int, int]) -> list[Contributor]:
    """The most active people (most facts, then login), with their names and avatars."""
    top = sorted(per_actor.items(), key=lambda item: -item[1])[:TOP_CONTRIBUTORS * 2]
    people = {
        row.id: row for row in session.execute(
            sa.select(User.id, User.gh_login, User.display_name, User.git_email, User.avatar_url)
            .where(User.id.in_([actor_id for actor_id, _ in top]))
        ).all()
    } if top else {}
    contributors = []
    for actor_id, count in top:
        row = people.get(actor_id)
        if row is None:
            continue
        name = row.gh_login or row.display_name or (row.git_email or "").split("@", 1)[0]
        contributors.append(Contributor(name or "unknown", row.avatar_url, count))
    contributors.sort(key=lambda person: (-person.count, person.login.lower()))
    return contributors[:TOP_CONTRIBUTORS]
