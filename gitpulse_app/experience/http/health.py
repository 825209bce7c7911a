"""`GET|HEAD|POST /api/health`: liveness, and deep checks with `?deep=…`."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, or_, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gitpulse_app.core.clock import iso_z_or_none
from gitpulse_app.core.config import VERSION, get_settings
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import DatabaseUnavailable, check_database, session_scope
from gitpulse_app.core.models import EmailDelivery, Installation, SchedulerLease, WebhookEvent
from gitpulse_app.core.provider_calls import EMBEDDINGS, LLM, latest_call
from gitpulse_app.experience.auth.sessions import session_user_id

NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}
CHECK_TIMEOUT_S = 5.0
DEEP_CACHE_S = 30.0
SCHEDULER_MAX_AGE = dt.timedelta(minutes=20)
STARTED_AT = time.monotonic()
SCHEDULER_LEASE = "scheduler"
PROVIDER_FAILURE_WINDOW = dt.timedelta(hours=1)


@dataclass
class _DeepCache:
    at: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)
    status_code: int = 200


_cache = _DeepCache()


def _check(status: str, message: str | None = None, last_at: dt.datetime | None = None) -> dict:
    result: dict[str, Any] = {"status": status}
    if message:
        result["message"] = message
    if last_at is not None:
        result["last_at"] = iso_z_or_none(last_at)
    return result


def check_db() -> dict:
    try:
        check_database()
    except DatabaseUnavailable as exc:
        return _check("error", str(exc))
    return _check("ok")


def check_scheduler(now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    with session_scope() as session:
        lease = session.get(SchedulerLease, SCHEDULER_LEASE)
    heartbeat = lease.heartbeat_at if lease else None
    if heartbeat and now - heartbeat <= SCHEDULER_MAX_AGE:
        return _check("ok", last_at=heartbeat)
    if time.monotonic() - STARTED_AT <= SCHEDULER_MAX_AGE.total_seconds():
        return _check("ok", "starting", last_at=heartbeat)
    return _check("degraded", "No scheduler heartbeat in the last 20 minutes", heartbeat)


def check_webhooks(now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    if not get_settings().github_webhook_secret:
        return _check("unconfigured", "GITHUB_WEBHOOK_SECRET is not set")
    with session_scope() as session:
        last = session.exec(select(func.max(WebhookEvent.received_at))).scalar()
        dead = session.exec(
            select(func.count(WebhookEvent.id)).where(
                WebhookEvent.status == "failed",
                WebhookEvent.updated_at >= now - dt.timedelta(hours=24),
            )
        ).scalar()
        backlog = session.exec(
            select(func.count(WebhookEvent.id)).where(
                WebhookEvent.status == "pending",
                WebhookEvent.next_attempt_at < now - dt.timedelta(minutes=5),
            )
        ).scalar()
    if dead:
        return _check("degraded", f"{dead} dead-lettered delivery(ies) in the last 24 h", last)
    if backlog:
        return _check("degraded", f"{backlog} delivery(ies) waiting for over 5 minutes", last)
    return _check("ok", last_at=last)


def check_sync(now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    with session_scope() as session:
        sources = session.exec(
            select(Installation).where(Installation.status != "deleted", Installation.kind != "demo")
        ).scalars().all()
    if not sources:
        return _check("unconfigured", "No GitHub sources connected")
    synced = [s.last_synced_at for s in sources if s.last_synced_at]
    last = max(synced) if synced else None
    active = [s for s in sources if s.status == "active"]
    if any(s.sync_status == "error" for s in active):
        return _check("degraded", "A source's last sync failed", last)
    stale_before = now - dt.timedelta(hours=24)
    if any(s.last_synced_at is None or s.last_synced_at < stale_before for s in active):
        return _check("degraded", "A source has not synced in 24 hours", last)
    return _check("ok", last_at=last)


def _provider_check(service: str, label: str, now: dt.datetime | None = None) -> dict:
    """ok with the provider's label, or degraded when this process's latest call to it in the
    last hour failed (the local providers never fail)."""
    latest = latest_call(service)
    if latest is None or (now or utcnow()) - latest.at > PROVIDER_FAILURE_WINDOW:
        return _check("ok", label)
    if not latest.ok:
        return _check("degraded", f"{label}: the latest call failed ({latest.message})", latest.at)
    return _check("ok", label, latest.at)


def check_llm(now: dt.datetime | None = None) -> dict:
    if get_settings().openai_enabled:
        return _provider_check(LLM, f"openai ({get_settings().llm_model})", now)
    return _check("ok", "local writer")


def check_embeddings(now: dt.datetime | None = None) -> dict:
    settings = get_settings()
    if settings.voyage_enabled:
        return _provider_check(EMBEDDINGS, f"voyage ({settings.embedding_model})", now)
    if settings.openai_enabled:
        return _provider_check(EMBEDDINGS, "openai (text-embedding-3-small)", now)
    return _check("ok", "local embeddings")


def check_email(now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    if not get_settings().email_enabled:
        return _check("unconfigured", "Email is not configured on this server")
    with session_scope() as session:
        latest = session.exec(
            select(EmailDelivery)
            .where(
                EmailDelivery.updated_at >= now - dt.timedelta(hours=1),
                or_(EmailDelivery.status == "sent", EmailDelivery.status == "failed"),
            )
            .order_by(EmailDelivery.updated_at.desc())
            .limit(1)
        ).scalars().first()
    if latest is not None and latest.status == "failed":
        return _check("degraded", "The latest email delivery failed", latest.updated_at)
    return _check("ok", last_at=latest.sent_at if latest else None)


async def check_github() -> dict:
    settings = get_settings()
    if not (settings.app_configured or settings.github_token or settings.oauth_configured):
        return _check("unconfigured", "No GitHub App, token or OAuth client configured")
    url = f"{settings.github_api_url}/rate_limit"
    headers = {"Accept": "application/vnd.github+json", "User-Agent": f"gitpulse/{VERSION}"}
    if settings.github_token:
        headers["Authorization"] = f"Bearer {settings.github_token}"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError:
        return _check("error", "GitHub API unreachable")
    if response.status_code >= 400:
        return _check("error", f"GitHub API answered {response.status_code}")
    return _check("ok")


async def _timed(name: str, check: Callable[[], Any]) -> tuple[str, dict]:
    started = time.perf_counter()
    try:
        if asyncio.iscoroutinefunction(check):
            result = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        else:
            result = await asyncio.wait_for(asyncio.to_thread(check), CHECK_TIMEOUT_S)
    except TimeoutError:
        result = _check("error", "Timed out after 5 s")
    except Exception:  # noqa: BLE001 — a failing dependency must not take health down with it
        result = _check("error", "Check failed")
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return name, result


async def deep_health() -> tuple[int, dict[str, Any]]:
    """Run every check in parallel; database error → 503."""
    database = await _timed("database", check_db)
    checks: dict[str, Callable[[], Any]] = {
        "llm": check_llm,
        "embeddings": check_embeddings,
        "github": check_github,
    }
    if database[1]["status"] != "error":
        checks |= {
            "scheduler": check_scheduler,
            "webhooks": check_webhooks,
            "sync": check_sync,
            "email": check_email,
        }
    results = dict([database, *await asyncio.gather(*(_timed(n, c) for n, c in checks.items()))])
    body: dict[str, Any] = {
        "status": "ok",
        "mode": "deep",
        "timestamp": int(time.time() * 1000),
        "version": VERSION,
        "services": results,
    }
    statuses = {r["status"] for r in results.values()}
    if results["database"]["status"] == "error":
        body["status"] = "error"
        body["error"] = "Database unavailable"
        return 503, body
    if statuses & {"error", "degraded"}:
        body["status"] = "degraded"
    return 200, body


async def cached_deep_health() -> tuple[int, dict[str, Any]]:
    now = time.monotonic()
    if _cache.body and now - _cache.at < DEEP_CACHE_S:
        return _cache.status_code, _cache.body
    status_code, body = await deep_health()
    _cache.at, _cache.body, _cache.status_code = now, body, status_code
    return status_code, body


def clear_cache() -> None:
    _cache.body = {}


def _public_view(body: dict[str, Any]) -> dict[str, Any]:
    services = {name: {"status": s["status"]} for name, s in body["services"].items()}
    return {"status": body["status"], "mode": body["mode"], "services": services}


async def health(request: Request) -> Response:
    if "deep" in request.query_params:
        status_code, body = await cached_deep_health()
        if await asyncio.to_thread(session_user_id, request) is None:
            body = _public_view(body)
    else:
        status_code = 200
        body = {"status": "ok", "mode": "liveness", "timestamp": int(time.time() * 1000)}
    if request.method == "HEAD":
        response = JSONResponse(body, status_code=status_code, headers=NO_CACHE)
        return Response(status_code=status_code, headers=dict(response.headers))
    return JSONResponse(body, status_code=status_code, headers=NO_CACHE)
