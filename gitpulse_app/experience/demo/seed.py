"""Load the demo workspace through the real pipeline (`demo seed`).

The seed creates the demo source (kind `demo`, never synced) and its people, then posts every
generated delivery, signed, to the receiver's ASGI app in this process — the receiver's rules apply
as to GitHub's own deliveries — and drains the webhook processor and the embedding queue, waiting
for deliveries another process (a running backend) has claimed until they complete. Last, it
writes the demo user's dailies of the last 7 completed work days (Monday to Friday) and the last
completed weekly report (origin `demo`).

Idempotent: delivery ids are deterministic, so a second seed's deliveries are replays the receiver
ignores, and reports already written (and not stale) are left as they are. The workspace keeps the
instant it was generated at (the demo installation's `created_at`), so re-seeding later repeats the
same story; `reset=True` deletes every demo row first and tells the story again up to now.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, select

from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.acquisition.webhooks.receiver import trust_demo_seed
from gitpulse_app.acquisition.webhooks.signature import demo_seed_secret, sign
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import ConfigurationError, get_settings
from gitpulse_app.core.db import check_database, session_scope
from gitpulse_app.core.models import (
    EmbeddingQueueItem,
    Event,
    Installation,
    Repo,
    Report,
    User,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience import routes
from gitpulse_app.experience.demo import catalog
from gitpulse_app.experience.demo.generator import DAYS, Delivery, generate_deliveries
from gitpulse_app.experience.demo.reset import DEMO_REPO_IDS, delete_demo_data
from gitpulse_app.experience.demo.shapes import node_id
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.intelligence.embeddings import drain
from gitpulse_app.intelligence.reports.models import ReportError
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.windows import (
    MONDAY_TO_FRIDAY,
    last_completed_week,
    last_completed_work_day,
    local_date,
    previous_work_day,
    work_day_window,
)

ProgressFn = Callable[[str, int, int], None]
"""Called as `progress(stage, done, total)`; stages: reset, deliveries, processing, embeddings,
reports."""

_PROGRESS_EVERY = 50
_EMBED_BATCH = 128
DEMO_DAILIES = 7
PROCESSING_WAIT_S = 120.0  # how long to wait for deliveries another process is handling
_WAIT_POLL_S = 0.25


class SeedError(Exception):
    """The demo workspace could not be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class SeedResult:
    """What one seed did.

    Attributes:
        anchor: The instant the workspace's story ends at (when it was first generated).
        reset: Whether demo rows were deleted first.
        deliveries_posted: Deliveries sent to the receiver (all answered 200).
        deliveries_new: Of those, new envelopes (the rest were replays of an earlier seed).
        facts: Facts in the demo repositories after the seed.
        facts_new: Facts the seed added.
        repos: Demo repositories stored.
        people: People with facts in the demo repositories.
        reports: Reports of the demo user this seed returned (7 daily + 1 weekly).
        reports_new: Of those, written now (the rest came from the cache).
        demo_user_id: The `is_demo` user's id.
        installation_id: The demo source's id.
        seconds: Wall-clock duration.
    """

    anchor: dt.datetime
    reset: bool
    deliveries_posted: int
    deliveries_new: int
    facts: int
    facts_new: int
    repos: int
    people: int
    reports: int
    reports_new: int
    demo_user_id: int
    installation_id: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the anchor as ISO-8601 UTC with `Z`)."""
        data = asdict(self)
        data["anchor"] = self.anchor.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        data["seconds"] = round(self.seconds, 2)
        return data


def seed_demo(*, reset: bool = False, now: dt.datetime | None = None,
              progress: ProgressFn | None = None) -> SeedResult:
    """Load the demo workspace, or make sure it is complete.

    Args:
        reset: Delete every demo row first (facts of demo repositories, reports and sessions of
            demo users, the demo source and its links, demo users and repositories).
        now: When a new workspace's story ends (default: now). An existing workspace keeps the
            instant it was generated at unless `reset` is set.
        progress: Called with `(stage, done, total)` as the seed advances.

    Returns:
        What the seed did.

    Raises:
        SeedError: The database is not migrated, no signing key is available, the receiver
            refused a delivery or a delivery failed processing.
    """
    started = time.perf_counter()
    report = progress or (lambda _stage, _done, _total: None)
    check_database()
    settings = get_settings()
    try:
        secret = settings.github_webhook_secret or demo_seed_secret(settings.secret_key)
    except ConfigurationError as exc:
        raise SeedError(str(exc)) from None

    if reset:
        report("reset", 0, 1)
        delete_demo_data()
        report("reset", 1, 1)
    with session_scope() as session:
        anchor = _existing_anchor(session) or (now or utcnow()).astimezone(dt.UTC)
        installation_id, demo_user_id = _ensure_workspace(session, anchor)
        facts_before = _count_facts(session)
        envelopes_before = _count_envelopes(session)

    deliveries = generate_deliveries(anchor, github_url=settings.github_url,
                                     api_url=settings.github_api_url)
    _run(_post_all(deliveries, secret, report))
    _process(deliveries, report)
    _embed(report)
    reports, reports_new = _write_reports(demo_user_id, anchor, report)

    with session_scope() as session:
        facts = _count_facts(session)
        deliveries_new = _count_envelopes(session) - envelopes_before
        repos = session.scalar(sa.select(sa.func.count()).select_from(Repo).where(
            col(Repo.gh_id).in_(DEMO_REPO_IDS)))
        people = session.scalar(
            sa.select(sa.func.count(sa.distinct(Event.actor_id))).where(_in_demo_repos()))
    return SeedResult(anchor, reset, len(deliveries), deliveries_new, facts, facts - facts_before,
                      repos or 0, people or 0, reports, reports_new, demo_user_id,
                      installation_id, time.perf_counter() - started)


# The workspace rows ------------------------------------------------------------------------------
def _demo_installation(session: Session) -> Installation | None:
    return session.exec(select(Installation).where(
        Installation.gh_installation_id == catalog.INSTALLATION_ID)).first()


def _existing_anchor(session: Session) -> dt.datetime | None:
    installation = _demo_installation(session)
    if installation is None or installation.kind != "demo":
        return None
    return installation.created_at


def _ensure_workspace(session: Session, anchor: dt.datetime) -> tuple[int, int]:
    """Create what is missing of the demo source, its people and the owner link (nothing else)."""
    installation = _demo_installation(session)
    if installation is None:
        installation = Installation(
            gh_installation_id=catalog.INSTALLATION_ID, kind="demo",
            account_login=catalog.ORG_LOGIN, account_type="Organization",
            target_type="Organization", repository_selection="all",
            repositories=[repo.full_name for repo in catalog.REPOS],
            repository_ids=[repo.gh_id for repo in catalog.REPOS], status="active",
            sync_status="idle", created_at=anchor, updated_at=anchor)
        session.add(installation)
    elif installation.kind != "demo":
        # A row the processor made for an early delivery; it is the demo source.
        installation.kind = "demo"
        installation.repositories = [repo.full_name for repo in catalog.REPOS]
        installation.repository_ids = [repo.gh_id for repo in catalog.REPOS]
        session.add(installation)
    session.flush()

    joined = anchor - dt.timedelta(days=DAYS)
    users: dict[str, User] = {}
    for person in catalog.PEOPLE:
        user = session.exec(select(User).where(User.gh_id == person.gh_id)).first()
        if user is None:
            user = session.exec(select(User).where(
                sa.func.lower(User.gh_login) == person.login.lower(),
                col(User.gh_id).is_(None))).first()
        if user is None:
            user = User(gh_login=person.login)
        if user.gh_id is None:
            user.gh_id, user.gh_node_id = person.gh_id, node_id("User", person.gh_id)
            user.display_name = user.display_name or person.name
            avatar = f"{get_settings().github_url}/identicons/{person.login}.png"
            user.avatar_url = user.avatar_url or avatar
        users[person.login] = user
        session.add(user)
    demo = users[catalog.DEMO_LOGIN]
    if not demo.is_demo:
        demo.is_demo = True
        demo.timezone = demo.timezone or "UTC"
        demo.work_days = MONDAY_TO_FRIDAY
        demo.email = None  # no address: demo reports are never emailed
        demo.signed_up_at = demo.signed_up_at or joined
        demo.onboarding_completed_at = demo.onboarding_completed_at or joined
        demo.daily_enabled_at = demo.weekly_enabled_at = joined
        demo.first_report_status = "completed"
    session.flush()
    assert installation.id is not None and demo.id is not None
    linked = session.exec(select(UserInstallation).where(
        UserInstallation.user_id == demo.id,
        UserInstallation.installation_id == installation.id)).first()
    if linked is None:
        session.add(UserInstallation(user_id=demo.id, installation_id=installation.id,
                                     role="owner", claimed_at=anchor))
    return installation.id, demo.id


def _in_demo_repos() -> sa.ColumnElement[bool]:
    demo_repos = sa.select(Repo.id).where(col(Repo.gh_id).in_(DEMO_REPO_IDS))
    return col(Event.repo_id).in_(demo_repos)


def _count_facts(session: Session) -> int:
    statement = sa.select(sa.func.count()).select_from(Event).where(_in_demo_repos())
    return session.scalar(statement) or 0


def _count_envelopes(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent).where(
        WebhookEvent.installation_gh_id == catalog.INSTALLATION_ID)) or 0


# The pipeline ------------------------------------------------------------------------------------
def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run the posting coroutine here, or in a helper thread when this thread has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _post_all(deliveries: list[Delivery], secret: str, report: ProgressFn) -> None:
    """POST each delivery, signed, to the receiver's ASGI app (in order, as GitHub sends)."""
    app = trust_demo_seed(create_api(with_workers=False))
    transport = httpx.ASGITransport(app=app)
    total = len(deliveries)
    report("deliveries", 0, total)
    client = httpx.AsyncClient(transport=transport, base_url="http://demo-seed.invalid")
    async with client:
        for done, delivery in enumerate(deliveries, start=1):
            body = delivery.body()
            response = await client.post(routes.API_WEBHOOKS, content=body, headers={
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/gitpulse-demo",
                "X-GitHub-Event": delivery.event,
                "X-GitHub-Delivery": delivery.delivery_id,
                "X-Hub-Signature-256": sign(body, secret),
            })
            if response.status_code != 200:
                raise SeedError(
                    f"The webhook receiver refused demo delivery {delivery.delivery_id} "
                    f"({response.status_code}: {_error_of(response)}); nothing after it was sent."
                )
            if done % _PROGRESS_EVERY == 0 or done == total:
                report("deliveries", done, total)


def _error_of(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error"))
    except ValueError:
        return response.text[:200]


def _delivery_states(ids: list[str]) -> list[sa.Row]:
    with session_scope() as session:
        return list(session.execute(
            sa.select(WebhookEvent.delivery_id, WebhookEvent.status, WebhookEvent.error_message)
            .where(col(WebhookEvent.delivery_id).in_(ids))
        ).all())


def _process(deliveries: list[Delivery], report: ProgressFn, *,
             wait_s: float = PROCESSING_WAIT_S, sleep: Callable[[float], None] = time.sleep
             ) -> None:
    """Drain the webhook processor until every demo delivery has completed, whichever process
    handles it: deliveries a running backend claimed are waited for (up to `wait_s`), and only
    deliveries that failed, or that nobody finished in time, are an error."""
    ids = [delivery.delivery_id for delivery in deliveries]
    total = len(ids)
    report("processing", 0, total)
    deadline = time.monotonic() + wait_s
    while True:
        drained = processor.drain(limit=_PROGRESS_EVERY).processed
        rows = _delivery_states(ids)
        completed = sum(row.status == "completed" for row in rows)
        report("processing", completed, total)
        failed = [row for row in rows if row.status == "failed"]
        # Pending with an error is a retry in backoff: it failed here, so waiting would not help.
        retrying = [row for row in rows if row.status == "pending" and row.error_message]
        in_flight = len(rows) - completed - len(failed) - len(retrying)
        if in_flight == 0 or time.monotonic() >= deadline:
            break
        if drained == 0:
            sleep(_WAIT_POLL_S)  # another process holds them: look again shortly
    unfinished = [row for row in rows if row.status != "completed"]
    if not unfinished:
        return
    broken = failed + retrying
    if broken:
        first = broken[0]
        raise SeedError(
            f"{len(broken)} demo deliveries failed (first: {first.delivery_id}, "
            f"{first.status}: {first.error_message}). Run `python -m gitpulse_app webhooks process "
            f"--retry-failed`, or `demo seed --reset`."
        )
    raise SeedError(
        f"{len(unfinished)} demo deliveries were still being processed after {wait_s:.0f} s "
        f"(first: {unfinished[0].delivery_id}, {unfinished[0].status}). Is a backend running "
        f"against this database? Run `demo seed` again once it has caught up."
    )


def _embed(report: ProgressFn) -> None:
    """Embed the queued facts (local vectors when no provider key is set)."""
    with session_scope() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(EmbeddingQueueItem).where(
            EmbeddingQueueItem.status == "pending")) or 0
    report("embeddings", 0, total)
    done = 0
    while (drained := drain(limit=_EMBED_BATCH).processed) > 0:
        done = min(total, done + drained)
        report("embeddings", done, total)


def _write_reports(user_id: int, anchor: dt.datetime, report: ProgressFn) -> tuple[int, int]:
    """The demo user's dailies of the last 7 work days completed by the anchor, and its last
    completed week."""
    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        zone, week_start, work_days = user.timezone or "UTC", user.week_start_day, user.work_days
    dailies = [last_completed_work_day(anchor, zone, work_days)]
    while len(dailies) < DEMO_DAILIES:
        day = previous_work_day(local_date(dailies[-1].start, zone), work_days)
        dailies.append(work_day_window(day, zone, work_days))
    windows = [("daily", window) for window in reversed(dailies)]
    windows.append(("weekly", last_completed_week(anchor, zone, week_start)))
    written = returned = 0
    report("reports", 0, len(windows))
    for done, (kind, window) in enumerate(windows, start=1):
        with session_scope() as session:
            kept = session.exec(select(Report).where(
                Report.user_id == user_id, Report.schedule_type == kind,
                Report.start_date == window.start, Report.end_date == window.end)).first()
        if kept is not None and not kept.is_stale:
            # Up to date, or deleted by its owner: a re-seed leaves it (and writes no run record).
            returned += kept.deleted_at is None
            report("reports", done, len(windows))
            continue
        try:
            outcome = generate_report(user_id, kind, window.start, window.end, origin="demo",
                                      now=anchor)
        except ReportError as exc:
            raise SeedError(f"The demo {kind} report could not be written: {exc}") from None
        if outcome.report is not None:
            returned += 1
            written += not outcome.cache_hit
        report("reports", done, len(windows))
    return returned, written
