"""Activity aggregates for the dashboard and repository pages, computed in SQL.

Counts are grouped in the database, never by loading facts: the dashboard reads one row per fact
type for its KPIs and one row per (local date, type) for its chart, whatever the number of facts.
Days are the user's *local* dates: the local date of a fact is computed in SQL from its UTC `ts`
(PostgreSQL: `timezone(zone, ts)`; SQLite: the zone's UTC offset per interval between DST changes,
so a day of a DST change still buckets exactly). The module holds the dashboard's and the repository
page's aggregates together because both share the local-date SQL, the layers and the trend rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from gitpulse_app.core.models import Event, Repo, Report, User
from gitpulse_app.intelligence.formatting import (
    format_date_range,
    format_report_date,
    format_work_day,
)
from gitpulse_app.intelligence.windows import (
    ZoneLike,
    latest_week_start,
    local_date,
    resolve_zone,
    start_of_local_day,
)

TYPE_LABELS: dict[str, str] = {
    "pr_opened": "PRs opened",
    "pr_merged": "PRs merged",
    "pr_closed": "PRs closed",
    "review_submitted": "Reviews",
    "review_comment": "Review comments",
    "issue_opened": "Issues opened",
    "issue_closed": "Issues closed",
    "issue_comment": "Issue comments",
    "commit": "Commits",
    "release": "Releases",
}

# Dashboard KPI cards: (label, fact type).
DASHBOARD_KPIS: tuple[tuple[str, str], ...] = (
    ("PRs opened", "pr_opened"),
    ("PRs merged", "pr_merged"),
    ("Reviews", "review_submitted"),
    ("Commits", "commit"),
    ("Issues closed", "issue_closed"),
)


@dataclass(frozen=True)
class Layer:
    """One stacked series of an activity chart."""

    key: str
    label: str
    types: frozenset[str]


LAYERS: tuple[Layer, ...] = (
    Layer("prs", "PRs", frozenset({"pr_opened", "pr_merged", "pr_closed"})),
    Layer("commits", "Commits", frozenset({"commit"})),
    Layer("reviews", "Reviews", frozenset({"review_submitted", "review_comment"})),
    Layer("issues", "Issues & comments",
          frozenset({"issue_opened", "issue_closed", "issue_comment"})),
    Layer("releases", "Releases", frozenset({"release"})),
)

RANGES = (7, 30, 90, 180, 365)
DEFAULT_RANGE = 90
DASHBOARD_DAYS = 14
TOP_CONTRIBUTORS = 10


# Trends -------------------------------------------------------------------------------------------
def trend_percent(current: int, previous: int) -> float:
    """`prev > 0 ? Δ/prev·100 : (cur > 0 ? 100 : 0)`."""
    if previous > 0:
        return (current - previous) / previous * 100
    return 100.0 if current > 0 else 0.0


def format_trend(percent: float) -> str:
    """"↑ 12.5%", "↓ 3.0%", or "—" when nothing changed."""
    rounded = round(abs(percent), 1)
    if rounded == 0:
        return "—"
    return f"{'↑' if percent > 0 else '↓'} {rounded:.1f}%"


@dataclass(frozen=True)
class Kpi:
    """A count in the current window against the previous one."""

    label: str
    current: int
    previous: int

    @property
    def trend(self) -> float:
        return trend_percent(self.current, self.previous)

    @property
    def direction(self) -> str:
        """"up", "down" or "flat" (what the trend label shows)."""
        label = format_trend(self.trend)
        return "flat" if label == "—" else ("up" if self.trend > 0 else "down")

    @property
    def trend_label(self) -> str:
        return format_trend(self.trend)


# Local dates in SQL ------------------------------------------------------------------------------
def _offset_s(instant: dt.datetime, zone: ZoneLike) -> int:
    offset = instant.astimezone(resolve_zone(zone)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _transition(low: dt.datetime, high: dt.datetime, zone: ZoneLike) -> dt.datetime:
    """The first whole second in (low, high] whose offset differs from `low`'s (bisection)."""
    before = _offset_s(low, zone)
    lo, hi = int(low.timestamp()), int(high.timestamp()) + 1
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if _offset_s(dt.datetime.fromtimestamp(middle, dt.UTC), zone) == before:
            lo = middle
        else:
            hi = middle
    return dt.datetime.fromtimestamp(hi, dt.UTC)


def offset_segments(
    zone: ZoneLike, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime | None, int]]:
    """The zone's UTC offsets over `[start, end)`: `(segment start, offset seconds)` pairs.

    The first segment's start is None (it covers everything before the first change).
    """
    segments: list[tuple[dt.datetime | None, int]] = [(None, _offset_s(start, zone))]
    probe = start
    step = dt.timedelta(hours=12)
    while probe < end:
        following = min(probe + step, end)
        if _offset_s(following, zone) != segments[-1][1]:
            changed = _transition(probe, following, zone)
            segments.append((changed, _offset_s(changed, zone)))
        probe = following
    return segments


def _shifted_date(column: ColumnElement, offset_s: int) -> ColumnElement[str]:
    if offset_s == 0:
        # The stored text starts with the UTC date: no date arithmetic needed.
        return sa.func.substr(column, 1, 10)
    return sa.func.date(column, f"{offset_s:+d} seconds")


def local_date_expr(
    session: Session, column: ColumnElement, zone: ZoneLike, start: dt.datetime,
    end: dt.datetime,
) -> ColumnElement[str]:
    """SQL for the local date (`YYYY-MM-DD` text) of a timestamp column within `[start, end)`."""
    tz = resolve_zone(zone)
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone(tz.key, column), "YYYY-MM-DD")
    segments = offset_segments(tz, start, end)
    if len(segments) == 1:
        return _shifted_date(column, segments[0][1])
    whens = [
        (column < sa.literal(segments[i + 1][0], Event.__table__.c.ts.type),
         _shifted_date(column, offset))
        for i, (_, offset) in enumerate(segments[:-1])
    ]
    return sa.case(*whens, else_=_shifted_date(column, segments[-1][1]))


# Shared query pieces ------------------------------------------------------------------------------
def _facts_in(repo_ids: Collection[int], start: dt.datetime, end: dt.datetime
              ) -> list[ColumnElement[bool]]:
    return [Event.repo_id.in_(sorted(repo_ids)), Event.ts >= start, Event.ts < end]


def counts_by_day_and_type(
    session: Session, *, repo_ids: Collection[int], zone: ZoneLike, start: dt.datetime,
    end: dt.datetime, actor_id: int | None = None,
) -> dict[dt.date, dict[str, int]]:
    """Facts per local date and type in `[start, end)`, optionally of one actor."""
    if not repo_ids:
        return {}
    day = local_date_expr(session, Event.ts, zone, start, end).label("day")
    conditions = _facts_in(repo_ids, start, end)
    if actor_id is not None:
        conditions.append(Event.actor_id == actor_id)
    rows = session.execute(
        sa.select(day, Event.type, sa.func.count()).where(*conditions).group_by(day, Event.type)
    ).all()
    result: dict[dt.date, dict[str, int]] = {}
    for day_text, fact_type, count in rows:
        result.setdefault(dt.date.fromisoformat(str(day_text)), {})[fact_type] = int(count)
    return result


def stacked_points(
    days: Sequence[dt.date], counts: dict[dt.date, dict[str, int]],
    hidden_types: Collection[str] = (),
) -> list[dict[str, int | str]]:
    """Chart points, one per local date: `date`, `label` ("Dec 5") and one count per layer."""
    points: list[dict[str, int | str]] = []
    for day in days:
        by_type = counts.get(day, {})
        point: dict[str, int | str] = {"date": day.isoformat(), "label": f"{day:%b} {day.day}"}
        for layer in LAYERS:
            point[layer.key] = sum(
                count for fact_type, count in by_type.items()
                if fact_type in layer.types and fact_type not in hidden_types
            )
        points.append(point)
    return points


def _wall_clock_days_before(instant: dt.datetime, days: int, zone: ZoneLike) -> dt.datetime:
    local = instant.astimezone(resolve_zone(zone))
    return (local - dt.timedelta(days=days)).astimezone(dt.UTC)


# Dashboard ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeekSpans:
    """This week so far and the same elapsed span of last week."""

    this_start: dt.datetime
    this_end: dt.datetime
    last_start: dt.datetime
    last_end: dt.datetime


def week_spans(now: dt.datetime, zone: ZoneLike, week_start_day: int) -> WeekSpans:
    """This week (from the user's week start) and last week up to the same local wall-clock time."""
    first = latest_week_start(local_date(now, zone), week_start_day)
    return WeekSpans(
        this_start=start_of_local_day(first, zone),
        this_end=start_of_local_day(first + dt.timedelta(days=7), zone),
        last_start=start_of_local_day(first - dt.timedelta(days=7), zone),
        last_end=_wall_clock_days_before(now, 7, zone),
    )


def dashboard_kpis(
    session: Session, *, user_id: int, repo_ids: Collection[int], zone: ZoneLike,
    week_start_day: int, now: dt.datetime,
) -> list[Kpi]:
    """The user's own facts this week vs the same elapsed span of last week, per KPI type."""
    spans = week_spans(now, zone, week_start_day)
    counts: dict[str, tuple[int, int]] = {}
    if repo_ids:
        current = sa.func.sum(sa.case((Event.ts >= spans.this_start, 1), else_=0))
        previous = sa.func.sum(sa.case((Event.ts < spans.last_end, 1), else_=0))
        rows = session.execute(
            sa.select(Event.type, current, previous)
            .where(
                Event.actor_id == user_id,
                Event.type.in_([fact_type for _, fact_type in DASHBOARD_KPIS]),
                *_facts_in(repo_ids, spans.last_start, spans.this_end),
            )
            .group_by(Event.type)
        ).all()
        counts = {fact_type: (int(cur or 0), int(prev or 0)) for fact_type, cur, prev in rows}
    return [Kpi(label, *counts.get(fact_type, (0, 0))) for label, fact_type in DASHBOARD_KPIS]


def last_days(today: dt.date, days: int) -> list[dt.date]:
    """The `days` local dates ending on `today`, oldest first."""
    return [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def dashboard_activity(
    session: Session, *, user_id: int, repo_ids: Collection[int], zone: ZoneLike,
    now: dt.datetime, days: int = DASHBOARD_DAYS,
) -> list[dict[str, int | str]]:
    """The user's own facts per local date over the `days` local dates ending today, stacked."""
    dates = last_days(local_date(now, zone), days)
    start = start_of_local_day(dates[0], zone)
    end = start_of_local_day(dates[-1] + dt.timedelta(days=1), zone)
    counts = counts_by_day_and_type(
        session, repo_ids=repo_ids, zone=zone, start=start, end=end, actor_id=user_id
    )
    return stacked_points(dates, counts)


# Reports on the dashboard --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportCard:
    """A report as a dashboard list item."""

    report_id: int
    title: str
    kind_label: str
    date_label: str
    citation_count: int
    unread: bool


def report_kind_label(report: Report) -> str:
    """"Daily", "Weekly", or "Custom" for reports that are not standard."""
    if report.schedule_type is None:
        return "Custom"
    return "Daily" if report.kind == "daily" else "Weekly"


def report_date_label(report: Report) -> str:
    """"December 5, 2025" (the work day) for a standard daily report, else the range string
    ("Dec 1 - Dec 7, 2025")."""
    if report.schedule_type == "daily":
        return format_work_day(report.end_date, report.timezone)
    return format_date_range(report.start_date, report.end_date, report.timezone)


def _owned_reports(user_id: int) -> sa.Select:
    return (
        sa.select(Report)
        .where(Report.user_id == user_id, Report.deleted_at.is_(None))  # type: ignore[union-attr]
        .order_by(Report.end_date.desc(), Report.generated_at.desc(), Report.id.desc())
    )


def latest_reports(session: Session, user_id: int, limit: int = 5) -> list[ReportCard]:
    """The owner's newest reports (end date, then generation time), deleted ones left out."""
    reports = session.scalars(_owned_reports(user_id).limit(limit)).all()
    return [
        ReportCard(
            report_id=report.id or 0, title=report.title, kind_label=report_kind_label(report),
            date_label=report_date_label(report), citation_count=report.citation_count,
            unread=report.opened_at is None and report.event_count > 0,
        )
        for report in reports
    ]


@dataclass(frozen=True)
class Tldr:
    """The first section of the latest daily report (the dashboard's "Yesterday TL;DR")."""

    report_id: int
    title: str
    section_title: str
    bullets: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)  # the only URLs its bullets may link to


def latest_daily_tldr(session: Session, user_id: int) -> Tldr | None:
    """The first section of the last work day's report: the newest final standard daily, else
    the newest daily of any sort; None when the user has no daily report."""
    report = session.scalars(
        _owned_reports(user_id).where(Report.schedule_type == "daily",
                                      Report.is_partial.is_(False)).limit(1)
    ).first() or session.scalars(
        _owned_reports(user_id).where(Report.kind == "daily").limit(1)
    ).first()
    if report is None:
        return None
    first = report.sections[0] if report.sections else {}
    first = first if isinstance(first, dict) else {}
    bullets = [str(bullet) for bullet in first.get("bullets") or [] if str(bullet).strip()]
    return Tldr(report.id or 0, report.title, str(first.get("title") or ""), bullets,
                [str(url) for url in report.citations or []])


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
    previous_end = _wall_clock_days_before(end, range_days, zone)
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


# Everything behind the dashboard --------------------------------------------------------------------
@dataclass
class DashboardData:
    """What /dashboard shows below the sync banner, for one user at one instant."""

    kpis: list[Kpi]
    activity: list[dict[str, int | str]]
    tldr: Tldr | None
    reports: list[ReportCard]
    week_label: str


def dashboard_data(user_id: int, now: dt.datetime) -> DashboardData | None:
    """KPIs, the 14-day chart, the latest daily TL;DR and the latest 5 reports of `user_id`.

    Returns:
        The data, or None when the user no longer exists.
    """
    from gitpulse_app.core.db import session_scope
    from gitpulse_app.intelligence.visibility import visible_repo_ids

    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return None
        zone = resolve_zone(user.timezone)
        repo_ids = visible_repo_ids(session, user_id)
        week_start = user.week_start_day if 0 <= user.week_start_day <= 6 else 0
        spans = week_spans(now, zone, week_start)
        return DashboardData(
            kpis=dashboard_kpis(session, user_id=user_id, repo_ids=repo_ids, zone=zone,
                                week_start_day=week_start, now=now),
            activity=dashboard_activity(session, user_id=user_id, repo_ids=repo_ids, zone=zone,
                                        now=now),
            tldr=latest_daily_tldr(session, user_id),
            reports=latest_reports(session, user_id),
            week_label=f"This week since {format_report_date(spans.this_start, zone)}, "
                       "compared with the same time last week",
        )
