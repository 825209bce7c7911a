"""Report generation: collect → cache → generate → validate → save (docs/ARCHITECTURE.md).

`generate_report` is the one entry point of every producer (scheduler, post-sync, onboarding,
backfill, the UI and the CLI); `regenerate_report` reruns an existing report without the cache and
swaps the result in atomically. Every run is recorded in `report_regenerations`.

Standard reports (the owner alone, no query, exactly one local day or the owner's week) are unique
per window and replaced in place, so their links stay valid; automatic producers skip a window whose
standard report was soft-deleted, while a manual generate or the owner's regenerate restores it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence

from sqlmodel import Session

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import get_row, session_scope
from gitpulse_app.core.logging import metric
from gitpulse_app.core.models import Report, ReportRegeneration
from gitpulse_app.core.signals import report_ready
from gitpulse_app.intelligence.reports import stages
from gitpulse_app.intelligence.reports.collect import collect_facts, fact_hashes
from gitpulse_app.intelligence.reports.models import (
    AUTOMATIC_ORIGINS,
    KINDS,
    ORIGINS,
    Collection,
    ReportError,
    ReportNotFound,
    ReportOutcome,
    Written,
)
from gitpulse_app.intelligence.reports.plan import (
    ReportPlan,
    cache_key,
    cached_report,
    is_reusable,
    resolve_plan,
    standard_row,
)
from gitpulse_app.intelligence.reports.save import SavedContent, SaveSkipped, save_report
from gitpulse_app.intelligence.windows import Window

log = logging.getLogger(__name__)

# The entry points ---------------------------------------------------------------------------------


def generate_report(
    user_id: int,
    kind: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    origin: str = "manual",
    logins: Sequence[str] | None = None,
    repo: str | None = None,
    query: str | None = None,
    now: dt.datetime | None = None,
    use_cache: bool = True,
    replace_report_id: int | None = None,
    regeneration_id: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReportOutcome:
    """Generate (or return the cached) report of `user_id` for `[start, end)`.

    Args:
        user_id: The owner; facts come only from repositories the owner can see.
        kind: "daily" or "weekly" (prompt, sections, title).
        start: The window's first instant (aware).
        end: The window's end, exclusive (aware).
        origin: scheduled | post_sync | onboarding | manual | backfill | demo. Automatic origins
            (scheduled, post_sync, onboarding, backfill) skip a soft-deleted standard window.
        logins: Whose facts (default: the owner alone). Several logins make a team report.
        repo: One visible repository (`owner/name`) instead of logins.
        query: A focus query: only the 100 facts most similar to it are used.
        now: The clock reading (`generated_at`, `is_partial`, cache validity, stage stamps).
        use_cache: False to bypass the cache (regenerate).
        replace_report_id: Save over this report (regenerate), whatever its window.
        regeneration_id: A queued `report_regenerations` row to record this run in; else one
            is created.
        sleep: Waits between model retries (tests inject one that does not sleep).

    Returns:
        The report and whether it came from the cache; `skipped="deleted"` and no report when an
        automatic producer met a soft-deleted standard report.

    Raises:
        ReportError: Unknown user, login or repository, a bad window, or a failed run (the
            regeneration row records the stage; any earlier report is left untouched).
    """
    if kind not in KINDS:
        raise ReportError(f'Unknown report kind "{kind}". Use daily or weekly.')
    if origin not in ORIGINS:
        raise ReportError(f'Unknown report origin "{origin}".')
    if start.tzinfo is None or end.tzinfo is None:
        raise ReportError("Report windows need timezone-aware instants.")
    window = Window(start.astimezone(dt.UTC), end.astimezone(dt.UTC))
    if window.end <= window.start:
        raise ReportError("The report window is empty: its start must come before its end.")
    now = now or utcnow()
    started = time.perf_counter()

    with session_scope() as session:
        plan = resolve_plan(session, user_id, kind, window, origin, logins, repo, query)
        existing = standard_row(session, plan) if plan.standard else None
        if (existing is not None and existing.deleted_at is not None
                and origin in AUTOMATIC_ORIGINS):
            return ReportOutcome(None, skipped="deleted")
        replaced_id = replace_report_id or (existing.id if existing is not None else None)
    scope_json = {"logins": list(plan.scope.logins), "repo": plan.scope.repo,
                  "query": plan.scope.query, "origin": origin}
    if regeneration_id is None:
        regeneration_id = stages.create_regeneration(
            user_id=user_id, kind=kind, start=window.start, end=window.end, scope=scope_json,
            report_id=replaced_id, now=now)
    tracker = stages.StageTracker(regeneration_id, now=now)
    try:
        return _run(plan, tracker, now, started, use_cache, replace_report_id, sleep)
    except SaveSkipped:
        tracker.complete(None, "Skipped: the report was deleted", attach_report=False)
        return ReportOutcome(None, skipped="deleted", regeneration_id=regeneration_id)
    except Exception as exc:
        message = str(exc) if isinstance(exc, ReportError) else (
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        try:
            tracker.fail(message)
        except Exception:  # the database may be what failed; the original error matters more
            log.exception("Could not record the failed report run")
        log.exception("Report run failed", extra={
            "user_id": user_id, "stage": tracker.stage, "regeneration_id": regeneration_id})
        raise ReportError(
            f"The report could not be generated (failed while {tracker.stage}): {message}. "
            "Any earlier version is unchanged; try again.") from exc


def _collect(session: Session, plan: ReportPlan, now: dt.datetime) -> Collection:
    return collect_facts(
        session, repo_ids=plan.repo_ids, actor_ids=plan.actor_ids, start=plan.window.start,
        end=plan.window.end, query=plan.scope.query, actor_logins=list(plan.scope.logins),
        now=now)


def _run(plan: ReportPlan, tracker: stages.StageTracker, now: dt.datetime, started: float,
         use_cache: bool, replace_report_id: int | None,
         sleep: Callable[[float], None]) -> ReportOutcome:
    tracker.advance(stages.COLLECTING)
    collection: Collection | None = None
    hit: Report | None = None
    with session_scope() as session:
        if use_cache:
            if plan.scope.query:
                collection = _collect(session, plan, now)
                hashes = [fact.content_hash for fact in collection.facts]
            else:  # the key needs only the hashes; facts are loaded on a miss
                hashes = fact_hashes(session, repo_ids=plan.repo_ids, actor_ids=plan.actor_ids,
                                     start=plan.window.start, end=plan.window.end)
            hit = cached_report(session, plan, cache_key(plan, hashes))
        if hit is not None and is_reusable(hit) and (not hit.is_partial or now < hit.end_date):
            tracker.complete(hit.id, "Returned the cached report", attach_report=False)
            _log_latency(started, cache_hit=True, provider=hit.provider)
            return ReportOutcome(hit, cache_hit=True, regeneration_id=tracker.regeneration_id)
        if collection is None:
            collection = _collect(session, plan, now)
    # The writers load on a miss only: a cache hit never pays for them (docs/STARTUP.md).
    from gitpulse_app.intelligence.reports import writing

    key = cache_key(plan, [fact.content_hash for fact in collection.facts])
    reused: SavedContent | None = None
    if hit is not None and is_reusable(hit) and hit.cache_key == key:
        # A partial report whose day has ended, with unchanged facts: final now, same content.
        reused = writing.reused_content(plan, hit, collection, key, now)
        replace_report_id = replace_report_id or hit.id

    tracker.advance(stages.GENERATING)
    model_ms = 0.0
    written: Written | None = None
    if reused is None and not collection.facts:
        written = writing.empty_written(plan.kind)
    elif reused is None:
        written = writing.write(plan, collection, sleep)
        model_ms = written.model_ms

    tracker.advance(stages.VALIDATING)
    content = reused if written is None else writing.content_of(plan, written, collection, key,
                                                                 now)

    tracker.advance(stages.SAVING)
    content.latency_ms = int((time.perf_counter() - started) * 1000)
    report = save_report(plan_owner=plan.owner_id, kind=plan.kind, schedule_type=plan.schedule_type,
                         origin=plan.origin, window=plan.window, zone_key=plan.zone_key,
                         scope=plan.scope, content=content, now=now,
                         replace_report_id=replace_report_id)
    tracker.complete(report.id)
    _log_saved(report, started)
    _notify_delivery(report, now)
    return ReportOutcome(report, regeneration_id=tracker.regeneration_id, model_ms=model_ms)


def _log_latency(started: float, *, cache_hit: bool, provider: str) -> None:
    metric("report_latency_ms", cache_hit=cache_hit, provider=provider,
           value=round((time.perf_counter() - started) * 1000, 2))


def _log_saved(report: Report, started: float) -> None:
    _log_latency(started, cache_hit=False, provider=report.provider)
    metric("coverage_score", report_id=report.id, value=report.coverage_score)
    ratio = (report.citation_count / report.expected_citations
             if report.expected_citations else None)
    metric("citation_coverage", report_id=report.id, citations=report.citation_count,
           expected=report.expected_citations, value=ratio)


def _notify_delivery(report: Report, now: dt.datetime) -> None:
    """Announce a final, non-empty scheduled report to delivery (`report_ready`)."""
    if report.origin != "scheduled" or report.is_partial or report.event_count == 0:
        return
    report_ready.send(report_id=report.id, now=now)


# Regenerate, read, delete -------------------------------------------------------------------------


def get_report(user_id: int, report_id: int) -> Report:
    """The owner's report; `ReportNotFound` for a missing, deleted or someone else's report."""
    with session_scope() as session:
        report = get_row(session, Report, report_id)
        if report is None or report.user_id != user_id or report.deleted_at is not None:
            raise ReportNotFound()
        return report


def request_regeneration(user_id: int, report_id: int, now: dt.datetime | None = None) -> int:
    """Queue a regeneration of the owner's report and return its `report_regenerations` id."""
    report = get_report(user_id, report_id)
    scope = {"logins": list(report.scope_logins), "repo": report.scope_repo,
             "query": report.query, "origin": "manual"}
    return stages.create_regeneration(
        user_id=user_id, kind=report.kind, start=report.start_date, end=report.end_date,
        scope=scope, report_id=report.id, now=now)


def run_regeneration(regeneration_id: int, *, now: dt.datetime | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> ReportOutcome:
    """Run a queued regeneration: the pipeline without the cache, swapped in when saved."""
    with session_scope() as session:
        row = session.get(ReportRegeneration, regeneration_id)
        if row is None:
            raise ReportNotFound()
        report_id, user_id = row.report_id, row.user_id
    try:
        report = get_report(user_id, report_id) if report_id is not None else None
    except ReportNotFound:
        report = None
    if report is None:
        stages.StageTracker(regeneration_id, now=now).fail("Report not found")
        raise ReportNotFound()
    return generate_report(
        user_id, report.kind, report.start_date, report.end_date, origin="manual",
        logins=report.scope_logins or None, repo=report.scope_repo, query=report.query, now=now,
        use_cache=False, replace_report_id=report.id, regeneration_id=regeneration_id,
        sleep=sleep)


def regenerate_report(user_id: int, report_id: int, *, now: dt.datetime | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> ReportOutcome:
    """Regenerate the owner's report in place; on failure the old version stays as it was."""
    return run_regeneration(request_regeneration(user_id, report_id, now), now=now, sleep=sleep)


def delete_report(user_id: int, report_id: int, now: dt.datetime | None = None) -> str:
    """Soft-delete the owner's report; automatic producers will not recreate it."""
    with session_scope() as session:
        report = get_row(session, Report, report_id)
        if report is None or report.user_id != user_id or report.deleted_at is not None:
            raise ReportNotFound()
        report.deleted_at = now or utcnow()
        session.add(report)
    return "Report deleted successfully"
