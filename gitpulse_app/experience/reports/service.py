"""What changes reports from the pages: the Generate modal's run and "Backfill 7 Days".

Nothing here knows about Reflex; the pages run these in a thread.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gitpulse_app.acquisition.sync.waiting import sync_and_wait
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import ReportRegeneration, User
from gitpulse_app.intelligence.reports import stages
from gitpulse_app.intelligence.reports.flows import BackfillResult, backfill_reports
from gitpulse_app.intelligence.reports.models import KINDS, ReportError
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.windows import (
    current_local_date,
    resolve_zone,
    start_of_local_day,
)

MAX_MANUAL_DAYS = 92


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


# Backfill ----------------------------------------------------------------------------------------
def sync_then_backfill(user_id: int) -> BackfillResult:
    """Generate the missing daily reports of the last 7 days, after syncing the user's sources
    and waiting for the sync to end (`sync_and_wait`)."""
    return backfill_reports(user_id, sync_and_wait=sync_and_wait)
