"""Reports as the pages show them: display-ready cards, the detail view with its
numbered sources, coverage levels, the Generate modal's request, and backfill's sync-and-wait.

Nothing here knows about Reflex. Every read is scoped to the owner: a report that is missing,
deleted or someone else's answers exactly like a missing one (`None`), so existence never leaks.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.core.db import get_row, session_scope, utcnow
from gitpulse_app.core.models import Report, ReportRegeneration, SyncBatch, User
from gitpulse_app.experience import routes
from gitpulse_app.intelligence.analytics import report_date_label, report_kind_label
from gitpulse_app.intelligence.delivery import email_status, mark_opened
from gitpulse_app.intelligence.formatting import format_report_date, format_time
from gitpulse_app.intelligence.reports import (
    BackfillResult,
    ReportError,
    below_trust_threshold,
    diagnose,
    generate_report,
)
from gitpulse_app.intelligence.reports import stages
from gitpulse_app.intelligence.reports.models import KINDS, TRUST_THRESHOLD
from gitpulse_app.intelligence.reports.render import date_label, render_html
from gitpulse_app.intelligence.timeline import timeline_options
from gitpulse_app.intelligence.windows import (
    current_local_date,
    last_completed_work_day,
    local_date,
    resolve_zone,
    start_of_local_day,
    window_day,
)

PAGE_SIZE = 20
KIND_FILTERS = ("all", "daily", "weekly", "custom")
MAX_MANUAL_DAYS = 92
BACKFILL_WAIT_S = 120.0
BACKFILL_POLL_S = 3.0
EMPTY_PROVIDER = "none"
LOCAL_PROVIDER = "local"

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


def _owned(user_id: int) -> ColumnElement[bool]:
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


def _before(end: dt.datetime, generated: dt.datetime, report_id: int) -> ColumnElement[bool]:
    """Rows after (end, generated, id) in newest-first order."""
    return sa.or_(
        Report.end_date < end,
        sa.and_(Report.end_date == end, Report.generated_at < generated),
        sa.and_(Report.end_date == end, Report.generated_at == generated, Report.id < report_id),
    )


def _after(end: dt.datetime, generated: dt.datetime, report_id: int) -> ColumnElement[bool]:
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
    statement = sa.select(Report).where(_owned(user_id))
    kind_clause = _kind_filter(kind)
    if kind_clause is not None:
        statement = statement.where(kind_clause)
    position = _parse_cursor(cursor) if cursor else None
    if position is not None:
        statement = statement.where(_before(*position))
    with session_scope() as session:
        rows = list(session.scalars(statement.order_by(*NEWEST_FIRST).limit(limit + 1)).all())
        cards = [report_card(row) for row in rows[:limit]]
        next_cursor = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return ReportPage(cards, next_cursor)


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
    clause = _before(*position) if older else _after(*position)
    order = NEWEST_FIRST if older else OLDEST_FIRST
    return session.scalar(sa.select(Report.id).where(_owned(user_id), clause)
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


# Generating ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenerateRequest:
    """What the Generate modal submits.

    Attributes:
        kind: daily | weekly (prompt and sections).
        start_date: First local date, `YYYY-MM-DD`.
        end_date: Last local date (inclusive), `YYYY-MM-DD`.
        scope: me | people | repo.
        logins: Comma- or space-separated logins (scope people).
        repo: One visible repository (scope repo).
        query: An optional focus query.
    """

    kind: str
    start_date: str
    end_date: str
    scope: str = "me"
    logins: str = ""
    repo: str = ""
    query: str = ""


@dataclass(frozen=True)
class PreparedGeneration:
    regeneration_id: int
    kind: str
    start: dt.datetime
    end: dt.datetime
    logins: list[str] | None
    repo: str | None
    query: str | None


class GenerateInputError(ValueError):
    """The modal's input cannot be generated; the message says what to change."""


def _parse_day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise GenerateInputError(f"Choose a {name} date.") from None


def prepare_generation(user_id: int, request: GenerateRequest,
                       now: dt.datetime | None = None) -> PreparedGeneration:
    """Check the modal's input and queue the run's `report_regenerations` row (progress 0).

    Raises:
        GenerateInputError: What to change in the form.
    """
    now = now or utcnow()
    if request.kind not in KINDS:
        raise GenerateInputError("Choose daily or weekly.")
    first = _parse_day(request.start_date, "start")
    last = _parse_day(request.end_date, "end")
    if last < first:
        raise GenerateInputError("The end date must not be before the start date.")
    if (last - first).days + 1 > MAX_MANUAL_DAYS:
        raise GenerateInputError(f"Choose at most {MAX_MANUAL_DAYS} days.")
    logins: list[str] | None = None
    repo: str | None = None
    if request.scope == "people":
        logins = [login.lstrip("@") for login in re.split(r"[\s,]+", request.logins) if login]
        if not logins:
            raise GenerateInputError("Name at least one GitHub login.")
    elif request.scope == "repo":
        repo = request.repo.strip()
        if not repo:
            raise GenerateInputError("Choose a repository.")
    with session_scope() as session:
        user = session.get(User, user_id)
        zone = resolve_zone(user.timezone if user else None)
    if first > current_local_date(now, zone):
        raise GenerateInputError("The start date is in the future.")
    start = start_of_local_day(first, zone)
    end = start_of_local_day(last + dt.timedelta(days=1), zone)
    query = request.query.strip() or None
    regeneration_id = stages.create_regeneration(
        user_id=user_id, kind=request.kind, start=start, end=end,
        scope={"logins": logins or [], "repo": repo, "query": query, "origin": "manual"},
        now=now)
    return PreparedGeneration(regeneration_id, request.kind, start, end, logins, repo, query)


def run_generation(user_id: int, prepared: PreparedGeneration) -> int:
    """Generate the prepared report (the manual origin restores a deleted standard report).

    Returns:
        The new (or cached) report's id.

    Raises:
        ReportError: The run failed; the regeneration row says where.
    """
    try:
        outcome = generate_report(
            user_id, prepared.kind, prepared.start, prepared.end, origin="manual",
            logins=prepared.logins, repo=prepared.repo, query=prepared.query,
            regeneration_id=prepared.regeneration_id)
    except ReportError as exc:
        _fail_if_waiting(prepared.regeneration_id, str(exc))
        raise
    if outcome.report is None or outcome.report.id is None:
        raise ReportError("The report could not be generated. Please try again.")
    return outcome.report.id


def _fail_if_waiting(regeneration_id: int, message: str) -> None:
    """A request refused before the pipeline started (unknown login …) leaves the row queued."""
    with session_scope() as session:
        row = session.get(ReportRegeneration, regeneration_id)
        waiting = row is not None and row.status == stages.QUEUED
    if waiting:
        stages.StageTracker(regeneration_id).fail(message)


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


def sync_and_wait(user_id: int, *, timeout_s: float = BACKFILL_WAIT_S,
                  poll_s: float = BACKFILL_POLL_S,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> int:
    """Request a manual sync of the user's sources (unless the policy blocks it) and wait for the
    running batches to end, polling every 3 s for up to 120 s.

    Returns:
        How many sources a sync was started for.
    """
    with session_scope() as session:
        source_ids = [source.id for source in access.visible_installations(session, user_id)
                      if source.id is not None and source.kind != "demo"]
    started = 0
    for source_id in source_ids:
        result = request_sync(source_id, "manual", user_id=user_id)
        started += bool(result.started)
    if not source_ids:
        return 0
    deadline = clock() + timeout_s
    while clock() < deadline:
        with session_scope() as session:
            running = session.scalar(sa.select(sa.func.count()).select_from(SyncBatch).where(
                SyncBatch.installation_id.in_(source_ids), SyncBatch.status == "running"))
        if not running:
            break
        sleep(poll_s)
    return started
