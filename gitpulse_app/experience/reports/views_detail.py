"""One report as /reports/[id] shows it, and the Generate modal's read models (its choices and a
run's live stage).

Nothing here knows about Reflex. Every read is scoped to the owner: a report that is missing,
deleted or someone else's answers exactly like a missing one (`None`), so existence never leaks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import get_row, session_scope
from gitpulse_app.core.models import Report, ReportRegeneration, User
from gitpulse_app.experience import routes
from gitpulse_app.experience.reports.views import (
    NEWEST_FIRST,
    OLDEST_FIRST,
    SourceItem,
    analyst_label,
    cost_label,
    coverage_label,
    coverage_level,
    coverage_percent,
    latency_label,
    newer_than,
    older_than,
    owned,
    source_item,
)
from gitpulse_app.intelligence.analytics import report_date_label, report_kind_label
from gitpulse_app.intelligence.delivery import email_status, mark_opened
from gitpulse_app.intelligence.formatting import format_report_date, format_time
from gitpulse_app.intelligence.reports import stages
from gitpulse_app.intelligence.reports.diagnostics import below_trust_threshold, diagnose
from gitpulse_app.intelligence.reports.render import date_label, render_html
from gitpulse_app.intelligence.timeline import timeline_options
from gitpulse_app.intelligence.windows import (
    last_completed_work_day,
    local_date,
    resolve_zone,
    window_day,
)


# The detail --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportDetailView:
    """Everything /reports/[id] shows, display-ready."""

    report_id: int
    title: str
    description: str
    kind_label: str
    date_label: str
    date_range: str
    repos: list[str]
    repos_label: str
    events_label: str
    analyst: str
    cost: str
    latency: str
    prompt_version: str
    generated: str
    coverage_percent: int
    coverage_label: str
    coverage_level: str
    below_threshold: bool
    stale: bool
    partial: bool
    diagnostic_label: str
    diagnostic_message: str
    body_html: str  # the sanitised HTML the page shows (render_html: only cited links)
    sources: list[SourceItem]
    email_text: str
    email_status: str
    email_can_retry: bool
    older_url: str
    newer_url: str
    download_url: str = ""
    breakdown: list[str] = field(default_factory=list)


def _neighbour(session: Session, user_id: int, report: Report, older: bool) -> int | None:
    position = (report.end_date, report.generated_at, report.id or 0)
    clause = older_than(*position) if older else newer_than(*position)
    order = NEWEST_FIRST if older else OLDEST_FIRST
    return session.scalar(sa.select(Report.id).where(owned(user_id), clause)
                          .order_by(*order).limit(1))


def _owned_report(session: Session, user_id: int, report_id: int) -> Report | None:
    report = get_row(session, Report, report_id)
    if report is None or report.user_id != user_id or report.deleted_at is not None:
        return None
    return report


def report_detail(user_id: int, report_id: int, *, open_it: bool = False,
                  api_url: str = "", now: dt.datetime | None = None) -> ReportDetailView | None:
    """The owner's report as the detail page shows it; None when it is not theirs to see.

    Args:
        user_id: The signed-in user.
        report_id: The report.
        open_it: Mark it read (`opened_at`) — the page does on every load.
        api_url: The backend's URL, for the markdown download link.
        now: The clock reading.
    """
    now = now or utcnow()
    with session_scope() as session:
        report = _owned_report(session, user_id, report_id)
        if report is None:
            return None
        if open_it:
            mark_opened(report_id, user_id, now, session=session)
        owner = session.get(User, user_id)
        zone = (owner.timezone if owner else None) or report.timezone
        diagnostic = diagnose(report)
        email = email_status(report_id, user_id, session=session)
        older = _neighbour(session, user_id, report, older=True)
        newer = _neighbour(session, user_id, report, older=False)
        repos = list(report.repos)
        covered = date_label(report.kind, report.start_date, report.end_date, report.timezone)
        return ReportDetailView(
            report_id=report_id,
            title=report.title,
            description=report.description,
            kind_label=report_kind_label(report),
            date_label=report_date_label(report),
            date_range=f"{covered} ({report.timezone})",
            repos=repos,
            repos_label=f"{len(repos)} repositor{'y' if len(repos) == 1 else 'ies'}",
            events_label=f"{report.event_count} event{'' if report.event_count == 1 else 's'}",
            analyst=analyst_label(report.provider, report.model),
            cost=cost_label(report.cost_usd, report.input_tokens, report.output_tokens),
            latency=latency_label(report.latency_ms),
            prompt_version=report.prompt_version,
            generated=(f"{format_report_date(report.generated_at, zone)} "
                       f"{format_time(report.generated_at, zone)}"),
            coverage_percent=coverage_percent(report.coverage_score),
            coverage_label=coverage_label(report.coverage_score),
            coverage_level=coverage_level(report.coverage_score),
            below_threshold=below_trust_threshold(report),
            stale=report.is_stale,
            partial=report.is_partial,
            diagnostic_label=diagnostic.label if diagnostic else "",
            diagnostic_message=diagnostic.message if diagnostic else "",
            body_html=render_html(report.markdown, report.citations),
            sources=[source_item(n, url) for n, url in enumerate(report.citations, start=1)],
            email_text=email.text if email else "",
            email_status=email.status if email else "",
            email_can_retry=bool(email and email.can_retry),
            older_url=routes.report_url(older) if older else "",
            newer_url=routes.report_url(newer) if newer else "",
            download_url=f"{api_url}{routes.report_markdown_url(report_id)}",
            breakdown=[
                f"{item.get('scope_key', '')}: {item.get('used', 0)} of {item.get('total', 0)}"
                for item in report.coverage_breakdown
            ],
        )


def report_id_from_path(path: str) -> int | None:
    """The id of `/reports/{id}` (the static server may add a trailing slash)."""
    parts = [part for part in path.split("/") if part]
    if len(parts) == 2 and parts[0] == "reports" and parts[1].isdigit():
        return int(parts[1])
    return None


# The Generate modal ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageView:
    status: str
    progress: int
    label: str
    error: str


def stage_view(user_id: int, regeneration_id: int) -> StageView | None:
    """The progress of the owner's run: stage, percent and the label to show."""
    with session_scope() as session:
        row = session.get(ReportRegeneration, regeneration_id)
        if row is None or row.user_id != user_id:
            return None
        label = stages.MESSAGES.get(row.status) or row.message or row.status
        if row.status == stages.FAILED:
            label = row.message or "Failed"
        return StageView(row.status, row.progress, label, row.error_message or "")


@dataclass(frozen=True)
class GenerateOptions:
    repos: list[str]
    people: list[str]
    zone: str
    first_day: str = ""
    last_day: str = ""


def generate_options(user_id: int, now: dt.datetime | None = None) -> GenerateOptions:
    """The Generate modal's choices: visible repositories and people, the user's zone, and the
    local dates (ISO) of the last completed work day's window, the modal's default range."""
    with session_scope() as session:
        options = timeline_options(session, user_id)
        user = session.get(User, user_id)
        zone = resolve_zone(user.timezone if user else None).key
        window = last_completed_work_day(now or utcnow(), zone,
                                         user.work_days if user else None)
        logins = sorted({row for row in session.scalars(
            sa.select(User.gh_login).where(User.id.in_([p.actor_id for p in options.people])))
            if row}, key=str.lower) if options.people else []
    first, last = local_date(window.start, zone), window_day(window, zone)
    return GenerateOptions(options.repos, logins, zone, first.isoformat(), last.isoformat())
