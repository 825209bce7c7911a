"""Saving: one transaction writes the report and its coverage rows.

A standard window's report is replaced in place (same id, so links stay valid; the row takes the
new origin and is undeleted). A regeneration replaces the report it was asked for. Until this
commit the old version is untouched, so a failed run never loses a report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import CoverageCandidate, Report
from gitpulse_app.intelligence.reports.models import (
    AUTOMATIC_ORIGINS,
    PROMPT_VERSION,
    CollectedFact,
    ReportScope,
    Section,
)
from gitpulse_app.intelligence.windows import Window


class SaveSkipped(Exception):
    """An automatic producer met a soft-deleted standard report; nothing was written."""


@dataclass
class SavedContent:
    """Everything a run decided about a report, ready to be written."""

    sections: list[Section]
    markdown: str
    html: str
    citations: list[str]
    repos: list[str]
    provider: str
    model: str
    cache_key: str
    coverage_score: float | None
    coverage_breakdown: list[dict[str, Any]]
    cited_event_ids: set[int]
    facts: list[CollectedFact]
    event_count: int
    citation_count: int
    expected_citations: int
    is_partial: bool
    title: str
    description: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int | None = None


def _target(session: Session, *, owner_id: int, schedule_type: str | None, window: Window,
            replace_report_id: int | None) -> tuple[Report | None, str | None]:
    """The row to overwrite (or None to insert) and the schedule type it may take."""
    standard = None
    if schedule_type is not None:
        standard = session.scalars(sa.select(Report).where(
            Report.user_id == owner_id, Report.schedule_type == schedule_type,
            Report.start_date == window.start, Report.end_date == window.end)).first()
    if replace_report_id is not None:
        replaced = session.get(Report, replace_report_id)
        if replaced is not None and replaced.user_id == owner_id:
            if standard is not None and standard.id != replaced.id:
                return replaced, None  # another row holds the standard slot; stay custom
            return replaced, schedule_type
    return standard, schedule_type


def save_report(*, plan_owner: int, kind: str, schedule_type: str | None, origin: str,
                window: Window, zone_key: str, scope: ReportScope, content: SavedContent,
                now: dt.datetime, replace_report_id: int | None = None) -> Report:
    """Insert or replace the report and its `coverage_candidates` in one transaction.

    Raises:
        SaveSkipped: The standard report of this window is soft-deleted and `origin` is
            automatic.
    """
    for attempt in (1, 2):
        try:
            with session_scope() as session:
                report, slot = _target(session, owner_id=plan_owner, schedule_type=schedule_type,
                                       window=window, replace_report_id=replace_report_id)
                if (report is not None and report.deleted_at is not None
                        and origin in AUTOMATIC_ORIGINS):
                    raise SaveSkipped()
                if report is None:
                    report = Report(user_id=plan_owner, created_at=now, updated_at=now, **_fields(
                        kind, slot, origin, window, zone_key, scope, content, now))
                else:
                    for name, value in _fields(kind, slot, origin, window, zone_key, scope,
                                               content, now).items():
                        setattr(report, name, value)
                    report.updated_at = now
                    flag_modified(report, "updated_at")  # keep the injected clock's stamp
                session.add(report)
                session.flush()
                _write_candidates(session, report, kind, window, content)
                return report
        except sa.exc.IntegrityError:
            # A concurrent run inserted the same standard window first: overwrite that row.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _fields(kind: str, schedule_type: str | None, origin: str, window: Window, zone_key: str,
            scope: ReportScope, content: SavedContent, now: dt.datetime) -> dict[str, Any]:
    return {
        "kind": kind,
        "schedule_type": schedule_type,
        "origin": origin,
        "start_date": window.start,
        "end_date": window.end,
        "timezone": zone_key,
        "scope_logins": list(scope.logins),
        "scope_repo": scope.repo,
        "query": scope.query,
        "title": content.title,
        "description": content.description,
        "sections": [section.as_json() for section in content.sections],
        "markdown": content.markdown,
        "html": content.html,
        "citations": list(content.citations),
        "repos": list(content.repos),
        "prompt_version": PROMPT_VERSION,
        "provider": content.provider,
        "model": content.model,
        "generated_at": now,
        "cache_key": content.cache_key,
        "coverage_score": content.coverage_score,
        "coverage_breakdown": list(content.coverage_breakdown),
        "event_count": content.event_count,
        "citation_count": content.citation_count,
        "expected_citations": content.expected_citations,
        "is_partial": content.is_partial,
        "is_stale": False,
        "stale_detected_at": None,
        "deleted_at": None,
        "latency_ms": content.latency_ms,
        "input_tokens": content.input_tokens,
        "output_tokens": content.output_tokens,
        "cost_usd": content.cost_usd,
    }


def _write_candidates(session: Session, report: Report, kind: str, window: Window,
                      content: SavedContent) -> None:
    session.execute(sa.delete(CoverageCandidate).where(CoverageCandidate.report_id == report.id))
    rows = [
        {"report_id": report.id, "event_id": fact.event_id, "scope_key": fact.repo,
         "report_kind": kind, "window_start": window.start, "window_end": window.end,
         "cited": fact.event_id in content.cited_event_ids,
         "created_at": report.generated_at, "updated_at": report.generated_at}
        for fact in {fact.event_id: fact for fact in content.facts}.values()
    ]
    if rows:
        session.execute(sa.insert(CoverageCandidate), rows)
