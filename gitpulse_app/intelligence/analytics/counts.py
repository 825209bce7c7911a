"""What the analytics pages share: fact-type labels, chart layers, the trend rule and counts per
local day in SQL.

Counts are grouped in the database, never by loading facts: the dashboard reads one row per fact
type for its KPIs and one row per (local date, type) for its chart, whatever the number of facts.
Days are the user's *local* dates: the local date of a fact is computed in SQL from its UTC `ts`
(PostgreSQL: `timezone(zone, ts)`; SQLite: the zone's UTC offset per interval between DST changes,
so a day of a DST change still buckets exactly). The module holds the dashboard's and the repository
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from gitpulse_app.core.models import Event
from gitpulse_app.intelligence.windows import ZoneLike, resolve_zone

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
def facts_in(repo_ids: Collection[int], start: dt.datetime, end: dt.datetime
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
    conditions = facts_in(repo_ids, start, end)
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


def wall_clock_days_before(instant: dt.datetime, days: int, zone: ZoneLike) -> dt.datetime:
    local = instant.astimezone(resolve_zone(zone))
    return (local - dt.timedelta(days=days)).astimezone(dt.UTC)


def last_days(today: dt.date, days: int) -> list[dt.date]:
    """The `days` local dates ending on `today`, oldest first."""
    return [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
