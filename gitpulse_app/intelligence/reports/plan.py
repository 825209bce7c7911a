"""Planning a report run: scope and standard-ness resolved, the cache key and cache lookups.

A request names an owner, a kind, a window and optionally logins, a repository or a focus query.
Planning checks them against the database (unknown logins and invisible repositories are refused),
decides whether the report is *standard* (the owner alone, no query, exactly the daily window of one
of the owner's work days or the owner's week) and computes the cache key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import iso_z
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.models import Report, Repo, User
from gitpulse_app.intelligence.reports.collect import resolve_logins
from gitpulse_app.intelligence.reports.models import (
    DAILY,
    LOCAL_MODEL,
    LOCAL_PROVIDER,
    PROMPT_VERSION,
    ReportError,
    ReportScope,
)
from gitpulse_app.intelligence.windows import (
    Window,
    is_week_window,
    is_work_day_window,
    resolve_zone,
)
from gitpulse_app.normalization.text import trim


@dataclass(frozen=True)
class ReportPlan:
    """A report request resolved against the database."""

    owner_id: int
    kind: str
    window: Window
    zone_key: str
    origin: str
    scope: ReportScope
    standard: bool
    repo_ids: frozenset[int]
    actor_ids: frozenset[int] | None

    @property
    def schedule_type(self) -> str | None:
        return self.kind if self.standard else None


def resolve_plan(session: Session, user_id: int, kind: str, window: Window, origin: str,
             logins: Sequence[str] | None, repo: str | None, query: str | None) -> ReportPlan:
    owner = session.get(User, user_id)
    if owner is None:
        raise ReportError(f"No user with id {user_id}")
    zone = resolve_zone(owner.timezone)
    visible = visible_repo_ids(session, user_id)
    query = trim(query) or None
    if repo:
        repo_id = session.scalar(sa.select(Repo.id).where(
            sa.func.lower(Repo.full_name) == repo.strip().lower()))
        if repo_id is None or repo_id not in visible:
            raise ReportError(f"Repository {repo} not found")
        full_name = session.get(Repo, repo_id).full_name  # type: ignore[union-attr]
        scope = ReportScope((), full_name, query, is_team=True)
        return ReportPlan(user_id, kind, window, zone.key, origin, scope, False,
                     frozenset({repo_id}), None)
    wanted = [login.strip() for login in (logins or [owner.gh_login or ""]) if login.strip()]
    resolved = resolve_logins(session, wanted, visible, user_id)
    for login in wanted:
        if login.lower() not in resolved:
            raise ReportError(f"No user with login {login}")
    stored = {row.id: row.gh_login for row in session.scalars(
        sa.select(User).where(User.id.in_(sorted(resolved.values()))))}
    ordered = list(dict.fromkeys(stored[resolved[login.lower()]] for login in wanted))
    team = [login.lower() for login in ordered] != [(owner.gh_login or "").lower()]
    scope = ReportScope(tuple(ordered), None, query, is_team=team)
    standard = not team and not query and (
        is_work_day_window(window, zone, owner.work_days) if kind == DAILY
        else is_week_window(window, zone, owner.week_start_day))
    return ReportPlan(user_id, kind, window, zone.key, origin, scope, standard,
                 frozenset(visible), frozenset(resolved.values()))


def writer_model() -> str:
    settings = get_settings()
    return settings.llm_model if settings.openai_api_key else LOCAL_MODEL


def cache_key(plan: ReportPlan, content_hashes: Sequence[str]) -> str:
    """SHA-256 of the canonical JSON of everything that decides a report's content."""
    payload = {
        "kind": plan.kind,
        "user_id": plan.owner_id,
        "scope_logins": sorted(login.lower() for login in plan.scope.logins),
        "scope_repo": plan.scope.repo.lower() if plan.scope.repo else None,
        "query": plan.scope.query,
        "start": iso_z(plan.window.start, "microseconds"),
        "end": iso_z(plan.window.end, "microseconds"),
        "content_hashes": sorted(content_hashes),
        "prompt_version": PROMPT_VERSION,
        "model": writer_model(),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cached_report(session: Session, plan: ReportPlan, key: str) -> Report | None:
    return session.scalars(
        sa.select(Report)
        .where(Report.user_id == plan.owner_id, Report.cache_key == key,
               Report.deleted_at.is_(None))
        .order_by(Report.generated_at.desc(), Report.id.desc())
        .limit(1)
    ).first()


def is_reusable(report: Report) -> bool:
    """A report written by the local writer while an LLM key is configured is not reused."""
    return not (report.provider == LOCAL_PROVIDER and get_settings().openai_api_key)


def standard_row(session: Session, plan: ReportPlan) -> Report | None:
    return session.scalars(sa.select(Report).where(
        Report.user_id == plan.owner_id, Report.schedule_type == plan.kind,
        Report.start_date == plan.window.start, Report.end_date == plan.window.end)).first()
