"""Reports as the pages show them: display-ready labels, source cards and the /reports list.

The detail view and the Generate modal's read models are in `views_detail.py`; what changes
reports is in `service.py`. Nothing here knows about Reflex. Every read is scoped to the owner: a
report that is missing, deleted or someone else's answers exactly like a missing one (`None`), so
existence never leaks.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Report
from gitpulse_app.experience import routes
from gitpulse_app.intelligence.analytics import report_date_label, report_kind_label
from gitpulse_app.intelligence.reports.diagnostics import below_trust_threshold, diagnose
from gitpulse_app.intelligence.reports.flows import BackfillResult
from gitpulse_app.intelligence.reports.models import (
    EMPTY_PROVIDER,
    LOCAL_PROVIDER,
    TRUST_THRESHOLD,
)

PAGE_SIZE = 20
KIND_FILTERS = ("all", "daily", "weekly", "custom")

_GITHUB_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/"
    r"(?:(?P<pull>pull)/(?P<pull_n>\d+)|(?P<issue>issues)/(?P<issue_n>\d+)"
    r"|(?P<commit>commit)/(?P<sha>[0-9a-fA-F]{7,40})|(?P<release>releases)/tag/(?P<tag>.+?))"
    r"(?:/.*)?$"
)


# Labels ------------------------------------------------------------------------------------------
@dataclass
class SourceItem:
    """One numbered source card: "owner/repo" + "PR #n", or host + path for other links."""

    number: int = 0
    url: str = ""
    repo: str = ""
    label: str = ""


def source_item(number: int, url: str) -> SourceItem:
    """The card of one cited URL ("Sources (N)")."""
    parts = urlsplit(url)
    match = _GITHUB_PATH.match(parts.path)
    if match is None:
        return SourceItem(number, url, "", f"{parts.netloc}{parts.path}".rstrip("/") or url)
    repo = f"{match['owner']}/{match['repo']}"
    if match["pull"]:
        label = f"PR #{match['pull_n']}"
    elif match["issue"]:
        label = f"Issue #{match['issue_n']}"
    elif match["commit"]:
        label = f"Commit #{match['sha'][:7]}"
    else:
        label = f"Release {unquote(match['tag'])}"
    return SourceItem(number, url, repo, label)


def coverage_level(score: float | None) -> str:
    """excellent (≥ 0.9), good (≥ 0.7, the trust threshold), warning (≥ 0.5), poor, or none."""
    if score is None:
        return "none"
    if score >= 0.9:
        return "excellent"
    if score >= TRUST_THRESHOLD:
        return "good"
    if score >= 0.5:
        return "warning"
    return "poor"


def coverage_percent(score: float | None) -> int:
    return max(0, min(100, round(score * 100))) if score is not None else 0


def coverage_label(score: float | None) -> str:
    """"85% coverage", or "No events to cover" for an empty report."""
    if score is None:
        return "No events to cover"
    return f"{coverage_percent(score)}% coverage"


def analyst_label(provider: str, model: str) -> str:
    """"Local writer", `none` for an empty report (no writer ran), else "provider / model"."""
    if provider == LOCAL_PROVIDER:
        return "Local writer"
    if provider == EMPTY_PROVIDER:
        return EMPTY_PROVIDER
    return f"{provider} / {model}"


def cost_label(cost_usd: float | None, input_tokens: int | None,
               output_tokens: int | None) -> str:
    """"$0.0042 (1,200 in / 300 out tokens)", "$0.00" when no model was paid, or "—"."""
    tokens = ""
    if input_tokens is not None or output_tokens is not None:
        tokens = f" ({input_tokens or 0:,} in / {output_tokens or 0:,} out tokens)"
    if cost_usd is None:
        return f"—{tokens}" if tokens else "$0.00"
    return f"${cost_usd:.4f}{tokens}"


def latency_label(latency_ms: int | None) -> str:
    if latency_ms is None:
        return "—"
    if latency_ms < 1000:
        return f"{latency_ms} ms"
    return f"{latency_ms / 1000:.1f} s"


def citations_label(count: int) -> str:
    return f"{count} CITATION{'' if count == 1 else 'S'}"


# The list ----------------------------------------------------------------------------------------
@dataclass
class ReportCardView:
    """One card of /reports."""

    report_id: int = 0
    url: str = ""
    title: str = ""
    description: str = ""
    kind_label: str = ""
    date_label: str = ""
    citations: str = ""
    coverage: str = ""
    coverage_level: str = "none"
    diagnostic: str = ""
    below_threshold: bool = False
    stale: bool = False
    partial: bool = False
    unread: bool = False


@dataclass(frozen=True)
class ReportPage:
    cards: list[ReportCardView]
    next_cursor: str | None


def report_card(report: Report) -> ReportCardView:
    diagnostic = diagnose(report)
    return ReportCardView(
        report_id=report.id or 0,
        url=routes.report_url(report.id or 0),
        title=report.title,
        description=report.description,
        kind_label=report_kind_label(report),
        date_label=report_date_label(report),
        citations=citations_label(report.citation_count),
        coverage=coverage_label(report.coverage_score),
        coverage_level=coverage_level(report.coverage_score),
        diagnostic=diagnostic.label if diagnostic else "",
        below_threshold=below_trust_threshold(report),
        stale=report.is_stale,
        partial=report.is_partial,
        unread=report.opened_at is None and report.event_count > 0,
    )


def owned(user_id: int) -> ColumnElement[bool]:
    return sa.and_(Report.user_id == user_id,
                   Report.deleted_at.is_(None))  # type: ignore[union-attr]


def _kind_filter(kind: str) -> ColumnElement[bool] | None:
    if kind == "daily":
        return Report.schedule_type == "daily"
    if kind == "weekly":
        return Report.schedule_type == "weekly"
    if kind == "custom":
        return Report.schedule_type.is_(None)  # type: ignore[union-attr]
    return None


def _cursor(report: Report) -> str:
    return f"{report.end_date.isoformat()}|{report.generated_at.isoformat()}|{report.id}"


def _parse_cursor(cursor: str) -> tuple[dt.datetime, dt.datetime, int] | None:
    try:
        end, generated, report_id = cursor.split("|")
        return dt.datetime.fromisoformat(end), dt.datetime.fromisoformat(generated), int(report_id)
    except ValueError:
        return None


def older_than(end: dt.datetime, generated: dt.datetime, report_id: int) -> ColumnElement[bool]:
    """Rows after (end, generated, id) in newest-first order."""
    return sa.or_(
        Report.end_date < end,
        sa.and_(Report.end_date == end, Report.generated_at < generated),
        sa.and_(Report.end_date == end, Report.generated_at == generated, Report.id < report_id),
    )


def newer_than(end: dt.datetime, generated: dt.datetime, report_id: int) -> ColumnElement[bool]:
    return sa.or_(
        Report.end_date > end,
        sa.and_(Report.end_date == end, Report.generated_at > generated),
        sa.and_(Report.end_date == end, Report.generated_at == generated, Report.id > report_id),
    )


NEWEST_FIRST = (Report.end_date.desc(), Report.generated_at.desc(), Report.id.desc())
OLDEST_FIRST = (Report.end_date.asc(), Report.generated_at.asc(), Report.id.asc())


def list_reports(user_id: int, kind: str = "all", cursor: str | None = None,
                 limit: int = PAGE_SIZE) -> ReportPage:
    """The owner's reports, newest first (end date, then generation time), one page at a time.

    Args:
        user_id: The owner.
        kind: all | daily | weekly | custom (reports outside a standard window).
        cursor: The previous page's `next_cursor`; None for the first page.
        limit: Cards per page.
    """
    statement = sa.select(Report).where(owned(user_id))
    kind_clause = _kind_filter(kind)
    if kind_clause is not None:
        statement = statement.where(kind_clause)
    position = _parse_cursor(cursor) if cursor else None
    if position is not None:
        statement = statement.where(older_than(*position))
    with session_scope() as session:
        rows = list(session.scalars(statement.order_by(*NEWEST_FIRST).limit(limit + 1)).all())
        cards = [report_card(row) for row in rows[:limit]]
        next_cursor = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return ReportPage(cards, next_cursor)


# Backfill ----------------------------------------------------------------------------------------
def backfill_message(result: BackfillResult) -> tuple[bool, str]:
    """The toast after "Backfill 7 Days": (success, text)."""
    if result.reports_generated:
        return True, f"Generated {result.reports_generated} report(s)"
    if result.days_without_events == 0 and result.days_skipped > 0:
        return False, "All days already have reports"
    if result.days_skipped == 0 and result.days_without_events > 0:
        return False, "No activity found in the past 7 days"
    return False, "Backfill complete - no new reports generated"
