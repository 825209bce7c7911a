"""What the JSON API and the MCP server do for a token's user (docs/API.md).

Both adapters call these functions with a `Principal` and turn `ApiError` into their own error
shape. Every read goes through the intelligence layer's visibility rule: a repository, report
or fact the token's user cannot see answers exactly like a missing one. Results are plain JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlmodel import select

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import iso_z_or_none, utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Report, User
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.api_tokens import Principal
from gitpulse_app.experience.reports.service import (
    GenerateInputError,
    GenerateRequest,
    prepare_generation,
    run_generation,
)
from gitpulse_app.intelligence.analytics import TYPE_LABELS
from gitpulse_app.intelligence.ask import AskError, ask
from gitpulse_app.intelligence.embeddings.search import SearchError, search_facts
from gitpulse_app.intelligence.reports.collect import resolve_logins
from gitpulse_app.intelligence.reports.models import KINDS, ReportError, ReportNotFound
from gitpulse_app.intelligence.reports.service import generate_report, get_report
from gitpulse_app.intelligence.timeline import (
    TimelineError,
    TimelineFilters,
    can_see_repo_named,
    parse_bound,
    timeline_page,
)
from gitpulse_app.intelligence.windows import WindowError, cli_window

MAX_FACTS = 500
DEFAULT_FACTS = 100
MAX_SEARCH = 50
DEFAULT_SEARCH = 10
MAX_REPORTS = 100
DEFAULT_REPORTS = 20
REPORT_NOT_FOUND = "Report not found"
REPO_NOT_FOUND = "Repository not found"
SCOPE_REFUSED = "Token scope does not allow this"


class ApiError(Exception):
    """A refused call: HTTP status, a sentence, and the parameter at fault (422)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return body


def _zone(user_id: int) -> str | None:
    with session_scope() as session:
        user = session.get(User, user_id)
        return user.timezone if user else None


def limit_param(value: Any, default: int, most: int, field: str = "limit") -> int:
    """A limit between 1 and `most` (default when absent)."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(422, f"{field} must be a whole number.", field) from None
    if not 1 <= number <= most:
        raise ApiError(422, f"{field} must be between 1 and {most}.", field)
    return number


def bound_param(value: str | None, zone: str | None, field: str, *, is_end: bool
                ) -> dt.datetime | None:
    """`YYYY-MM-DD` (a local date; an end date is inclusive) or an ISO-8601 instant."""
    if value is None or not str(value).strip():
        return None
    try:
        return parse_bound(str(value), zone, name=field, is_end=is_end)
    except (TimelineError, OverflowError) as exc:
        raise ApiError(422, str(exc), field) from None


def _window(start: str | None, end: str | None, zone: str | None
            ) -> tuple[dt.datetime | None, dt.datetime | None]:
    start_at = bound_param(start, zone, "start", is_end=False)
    end_at = bound_param(end, zone, "end", is_end=True)
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise ApiError(422, "start must come before end.", "end")
    return start_at, end_at


def _visible_repo(user_id: int, repo: str | None) -> str | None:
    repo = (repo or "").strip() or None
    if repo is not None and not can_see_repo_named(user_id, repo):
        raise ApiError(404, REPO_NOT_FOUND)
    return repo


def _fact_json(event_id: int, ts: dt.datetime, type_: str, repo: str, actor: str | None,
               text: str, url: str, score: float | None = None) -> dict[str, Any]:
    fact = {"id": event_id, "ts": iso_z_or_none(ts), "type": type_, "repo": repo, "actor": actor,
            "text": text, "url": url}
    if score is not None:
        fact["score"] = round(score, 4)
    return fact


# Reads ---------------------------------------------------------------------------------------------
def me(principal: Principal) -> dict[str, Any]:
    with session_scope() as session:
        user = session.get(User, principal.user_id)
        repos = len(visible_repo_ids(session, principal.user_id))
        return {"id": principal.user_id, "login": user.gh_login if user else None,
                "name": user.display_name if user else None,
                "timezone": user.timezone if user else None,
                "token": {"id": principal.token_id, "scope": principal.scope},
                "visible_repositories": repos}


def list_facts(principal: Principal, *, start: str | None = None, end: str | None = None,
               repo: str | None = None, actor: str | None = None,
               types: list[str] | None = None, limit: Any = None,
               cursor: str | None = None) -> dict[str, Any]:
    """Visible facts, newest first, in pages cut by an opaque cursor."""
    count = limit_param(limit, DEFAULT_FACTS, MAX_FACTS)
    unknown = sorted(set(types or []) - set(TYPE_LABELS))
    if unknown:
        raise ApiError(422, f"Unknown fact type {unknown[0]!r}; use one of "
                            f"{', '.join(sorted(TYPE_LABELS))}.", "type")
    zone = _zone(principal.user_id)
    start_at, end_at = _window(start, end, zone)
    repo = _visible_repo(principal.user_id, repo)
    with session_scope() as session:
        actor_id = None
        if actor and actor.strip():
            ids = resolve_logins(session, [actor.strip().lstrip("@")],
                                 visible_repo_ids(session, principal.user_id),
                                 principal.user_id)
            if not ids:
                return {"facts": [], "next_cursor": None, "sources": []}
            actor_id = next(iter(ids.values()))
        filters = TimelineFilters(repo=repo, actor_id=actor_id,
                                  types=tuple(t for t in (types or []) if t),
                                  start_at=start_at, end_at=end_at)
        try:
            page = timeline_page(session, repo_ids=visible_repo_ids(session, principal.user_id),
                                 filters=filters, zone=zone, cursor=cursor or None, limit=count)
        except TimelineError as exc:
            raise ApiError(422, str(exc), "cursor") from None
    facts = [_fact_json(row.event_id, row.ts, row.type, row.repo, row.actor, row.canonical_text,
                        row.source_url) for row in page.rows]
    return {"facts": facts, "next_cursor": page.next_cursor,
            "sources": [fact["url"] for fact in facts]}


def search(principal: Principal, query: str | None, *, limit: Any = None,
           start: str | None = None, end: str | None = None, repo: str | None = None,
           actor: str | None = None) -> dict[str, Any]:
    """Semantic search over visible facts, like the timeline's search box."""
    if not (query or "").strip():
        raise ApiError(422, "q is required: the words to search for.", "q")
    count = limit_param(limit, DEFAULT_SEARCH, MAX_SEARCH)
    start_at, end_at = _window(start, end, _zone(principal.user_id))
    repo = _visible_repo(principal.user_id, repo)
    actors = [actor.strip().lstrip("@")] if actor and actor.strip() else None
    with session_scope() as session:
        try:
            hits = search_facts(session, query or "", repo_ids=visible_repo_ids(
                session, principal.user_id), actor_logins=actors, repo=repo, start=start_at,
                end=end_at, limit=count)
        except SearchError as exc:
            raise ApiError(422, str(exc), "q") from None
    results = [_fact_json(hit.event_id, hit.ts, hit.type, hit.repo, hit.actor,
                          hit.canonical_text, hit.source_url, hit.score) for hit in hits]
    return {"query": query, "results": results, "sources": [hit["url"] for hit in results]}


def report_page_url(report_id: int) -> str:
    return get_settings().base_url.rstrip("/") + routes.report_url(report_id)


def report_json(report: Report, *, full: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": report.id, "title": report.title, "kind": report.kind,
        "window": {"start": iso_z_or_none(report.start_date), "end": iso_z_or_none(report.end_date),
                   "timezone": report.timezone},
        "scope": {"logins": list(report.scope_logins), "repo": report.scope_repo,
                  "query": report.query},
        "generated_at": iso_z_or_none(report.generated_at), "provider": report.provider,
        "model": report.model, "is_partial": report.is_partial, "is_stale": report.is_stale,
        "url": report_page_url(report.id or 0), "citations": list(report.citations),
        "coverage": {"score": report.coverage_score,
                     "breakdown": list(report.coverage_breakdown)},
    }
    if full:
        data["description"] = report.description
        data["markdown"] = report.markdown
        data["sections"] = list(report.sections)
    return data


def list_reports(principal: Principal, *, kind: str | None = None,
                 limit: Any = None) -> dict[str, Any]:
    """The token user's own reports, newest window first (deleted ones never)."""
    count = limit_param(limit, DEFAULT_REPORTS, MAX_REPORTS)
    if kind and kind not in KINDS:
        raise ApiError(422, "kind must be daily or weekly.", "kind")
    with session_scope() as session:
        query = select(Report).where(Report.user_id == principal.user_id,
                                     Report.deleted_at.is_(None))
        if kind:
            query = query.where(Report.kind == kind)
        rows = session.exec(query.order_by(Report.end_date.desc(), Report.id.desc())
                            .limit(count)).all()
        reports = [report_json(row, full=False) for row in rows]
    return {"reports": reports,
            "sources": [url for report in reports for url in [report["url"], *report["citations"]]]}


def report_detail(principal: Principal, report_id: Any) -> dict[str, Any]:
    try:
        number = int(report_id)
        report = get_report(principal.user_id, number)
    except (TypeError, ValueError, ReportNotFound):
        raise ApiError(404, REPORT_NOT_FOUND) from None
    return report_json(report)


# Writes ---------------------------------------------------------------------------------------------
_LOGIN_SPLIT = re.compile(r"[\s,]+")


def _logins(value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, list) else _LOGIN_SPLIT.split(str(value))
    if not all(isinstance(item, str) for item in items):
        raise ApiError(422, "logins must be a list of GitHub logins.", "logins")
    logins = [item.strip().lstrip("@") for item in items if item.strip()]
    return logins or None


def generate(principal: Principal, *, kind: str | None = None, start: str | None = None,
             end: str | None = None, logins: Any = None, repo: str | None = None,
             query: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Generate (or return the cached) report with the UI's rules: write scope only."""
    if not principal.can_write:
        raise ApiError(403, SCOPE_REFUSED)
    kind = kind or "daily"
    if kind not in KINDS:
        raise ApiError(422, "kind must be daily or weekly.", "kind")
    names = _logins(logins)
    if names and repo:
        raise ApiError(422, "Give either logins or repo, not both.", "repo")
    repo = _visible_repo(principal.user_id, repo)
    query = (query or "").strip() or None
    now = now or utcnow()
    try:
        if start or end:
            request = GenerateRequest(kind=kind, start_date=(start or end or "").strip(),
                                      end_date=(end or start or "").strip(),
                                      scope="repo" if repo else ("people" if names else "me"),
                                      logins=",".join(names or []), repo=repo or "",
                                      query=query or "")
            report_id = run_generation(principal.user_id,
                                       prepare_generation(principal.user_id, request, now))
            return report_detail(principal, report_id) | {"cache_hit": None}
        with session_scope() as session:
            user = session.get(User, principal.user_id)
            zone, week_start = (user.timezone, user.week_start_day) if user else (None, 0)
        window = cli_window(kind, zone, now, week_start_day=week_start)
        outcome = generate_report(principal.user_id, kind, window.start, window.end,
                                  origin="manual", logins=names, repo=repo, query=query, now=now)
    except GenerateInputError as exc:
        raise ApiError(422, str(exc), "start") from None
    except (ReportError, WindowError) as exc:
        raise ApiError(422, str(exc), "logins" if names else None) from None
    if outcome.report is None:
        raise ApiError(422, "The report of this window was deleted; nothing was generated.")
    return report_json(outcome.report) | {"cache_hit": outcome.cache_hit}


def ask_question(principal: Principal, question: str | None, *, start: str | None = None,
                 end: str | None = None) -> dict[str, Any]:
    """A cited answer over the token user's visible facts."""
    if not (question or "").strip():
        raise ApiError(422, "question is required.", "question")
    start_at, end_at = _window(start, end, _zone(principal.user_id))
    try:
        result = ask(principal.user_id, question or "", start=start_at, end=end_at)
    except AskError as exc:
        raise ApiError(422, str(exc), "question") from None
    return result.as_json()

