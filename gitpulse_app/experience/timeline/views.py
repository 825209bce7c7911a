"""The /timeline page's read models: display-ready rows and the filters' choices.

Nothing here knows about Reflex.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gitpulse_app.core.db import session_scope
from gitpulse_app.intelligence.analytics import TYPE_LABELS
from gitpulse_app.intelligence.formatting import format_short_date, format_time
from gitpulse_app.intelligence.reports.render import is_safe_href
from gitpulse_app.intelligence.timeline import TimelineRow, timeline_options
from gitpulse_app.intelligence.windows import ZoneLike

ALL = "all"


@dataclass
class TimelineItem:
    event_id: int = 0
    when: str = ""
    type: str = ""
    type_label: str = ""
    repo: str = ""
    actor: str = ""
    text: str = ""
    url: str = ""
    score: str = ""
    score_percent: int = 0


@dataclass
class PersonOption:
    value: str = ""
    label: str = ""


def timeline_item(row: TimelineRow, zone: ZoneLike, score: float | None = None) -> TimelineItem:
    return TimelineItem(
        event_id=row.event_id,
        when=f"{format_short_date(row.ts, zone)}, {format_time(row.ts, zone)}",
        type=row.type,
        type_label=TYPE_LABELS.get(row.type, row.type),
        repo=row.repo,
        actor=row.actor,
        text=row.canonical_text,  # shown as React text, never parsed as markup
        url=row.source_url if is_safe_href(row.source_url) else "",
        score=f"{score:.2f}" if score is not None else "",
        score_percent=max(0, min(100, round(score * 100))) if score is not None else 0,
    )


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filter_options(user_id: int):
    """The repositories and people the filters offer (what the user can see)."""
    with session_scope() as session:
        return timeline_options(session, user_id)
