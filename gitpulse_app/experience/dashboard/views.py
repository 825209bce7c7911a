"""The dashboard's read models: the latest-report rows, the TL;DR's rendering and the activity
total.

Nothing here knows about Reflex.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitpulse_app.experience import routes
from gitpulse_app.experience.reports.views import citations_label
from gitpulse_app.intelligence.analytics import ReportCard
from gitpulse_app.intelligence.reports.render import render_html


@dataclass
class ReportItem:
    url: str = ""
    title: str = ""
    kind: str = ""
    date: str = ""
    citations: str = ""
    unread: bool = False
    citation_count: int = 0


def report_item(card: ReportCard) -> ReportItem:
    """One row of "Latest reports"."""
    return ReportItem(routes.report_url(card.report_id), card.title, card.kind_label,
                      card.date_label, citations_label(card.citation_count), card.unread,
                      card.citation_count)


def bullets_html(bullets: list[str], citations: list[str]) -> str:
    """TL;DR bullets with the same sanitised rendering as the report page: only the report's
    citations link."""
    return render_html("\n".join(f"- {bullet}" for bullet in bullets), citations)


def activity_total(points: list[dict[str, int | str]]) -> int:
    """Every event of the 14-day chart (its points hold a count per type beside date and label)."""
    return sum(int(value) for point in points for key, value in point.items()
               if key not in ("date", "label"))
