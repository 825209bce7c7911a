"""SIGKILL a backend process while it writes a report (the model call stalls); restart; one report.

The backend writes the post-sync "today so far" report after a user's sync completes.
Here the fake OpenAI-compatible API holds the first completion request until the process is dead.
After the restart a webhook-triggered sync completes and the report is written; the interrupted
run is failed by the zombie sweep, and the report exists exactly once.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from gitpulse_app.acquisition.sync import request_sync
from gitpulse_app.core.crypto import encrypt_token, token_hint
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    Installation,
    Report,
    ReportRegeneration,
    SyncBatch,
    TrackedRepo,
    User,
    UserInstallation,
)
from gitpulse_app.intelligence.reports.scheduled import INTERRUPTED, sweep_interrupted
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.world import World, serve
from tests.faults.harness import fact_counts, wait_for
from tests.intelligence.reports.conftest import good_answer
from tests.support.fake_http import FakeResponse

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "ghp_fault_suite_personal_token"
REPO = "acme/reports"


def todays_world(now: dt.datetime) -> World:
    """A repository whose items all happened earlier today (UTC), by octocat."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def at(fraction: float) -> dt.datetime:
        return midnight + (now - midnight) * fraction

    world = World(REPO, 502)
    for number, start in ((1, 0.1), (2, 0.3), (3, 0.5)):
        world.pull(number, at(start), merged=at(start + 0.1))
    for moment in (0.2, 0.4, 0.6, 0.8):
        world.commit(at(moment))
    return world


def signed_up_owner_of_a_token_source(world: World, now: dt.datetime) -> tuple[int, int]:
    """octocat, signed up (zone UTC), owning a PAT source that tracks the repository."""
    with session_scope() as session:
        # Scheduled reports off: a quarter-hour tick during the test writes none of its own.
        user = User(gh_id=world.author["id"], gh_login=world.author["login"], timezone="UTC",
                    signed_up_at=now - dt.timedelta(days=30), daily_reports_enabled=False,
                    weekly_reports_enabled=False)
        source = Installation(kind="pat", account_login=user.gh_login, account_type="User",
                              status="active", repositories=[REPO],
                              token_enc=encrypt_token(TOKEN), token_hint=token_hint(TOKEN))
        session.add_all([user, source])
        session.flush()
        session.add_all([
            UserInstallation(user_id=user.id, installation_id=source.id, role="owner"),
            TrackedRepo(user_id=user.id, installation_id=source.id, repo_full_name=REPO,
                        tracked=True),
        ])
        return user.id, source.id


def rows(model: type, **equals: object) -> list:
    with session_scope() as session:
        statement = sa.select(model).filter_by(**equals).order_by(model.id)
        return list(session.scalars(statement))


def test_a_backend_killed_while_writing_a_report_leaves_it_written_once_after_restart(
    pg_engine, fake_github, fake_http_factory, configure, backends, run_log, record_counts
):
    now = utcnow()
    world = todays_world(now)
    serve(fake_github, world)
    llm = fake_http_factory("fake-openai")
    calls, release = [], threading.Event()

    def stall_the_first_call(request):
        calls.append(request)
        if len(calls) == 1:
            release.wait(60)  # the backend is killed while it waits for this answer
            return FakeResponse(disconnect=True)
        return good_answer(request)

    llm.add("POST", "/v1/chat/completions", stall_the_first_call)
    configure(GITHUB_API_URL=fake_github.url)
    user_id, source_id = signed_up_owner_of_a_token_source(world, now)
    backend = backends(pg_engine, GITHUB_API_URL=fake_github.url, OPENAI_API_KEY="sk-fault-suite",
                       OPENAI_BASE_URL=f"{llm.url}/v1").start()

    first = request_sync(source_id, "manual", user_id=user_id)
    assert first.started, first.message
    try:
        wait_for(lambda: calls, 60, "the backend never asked the model for the report")
        backend.kill()
    finally:
        release.set()
    assert f.get(SyncBatch, first.details["batch_id"]).status == "completed"
    (interrupted,) = rows(ReportRegeneration, user_id=user_id)
    assert interrupted.status == "generating" and rows(Report) == []

    backend.start()
    second = request_sync(source_id, "webhook")  # a push arrived: the owner's report is rewritten
    assert second.started, second.message
    wait_for(lambda: rows(Report, user_id=user_id), 60, "no report after the restart")
    wait_for(lambda: f.get(SyncBatch, second.details["batch_id"]).status == "completed", 30,
             "the second sync never completed")
    # The zombie sweep fails a run that stopped moving 10 minutes ago.
    assert sweep_interrupted(utcnow() + dt.timedelta(minutes=11)) == 1

    (report,) = rows(Report, user_id=user_id)
    assert report.provider == "openai" and report.event_count > 0
    runs = [(run.status, run.error_message) for run in rows(ReportRegeneration, user_id=user_id)]
    assert runs == [("failed", INTERRUPTED), ("completed", None)]
    facts = fact_counts(pg_engine)
    expected = world.expected_facts(now - dt.timedelta(days=30))
    # Rows cannot show a second processing (unique keys); a fact announced twice with the
    # same content can (tests/support/doubles.py).
    duplicated = run_log.double_processing().total
    assert set(facts) == expected and duplicated == 0
    record_counts(faults_injected=backend.kills, model_calls=len(calls), reports=1,
                  facts=len(facts), lost=len(expected - set(facts)), duplicated=duplicated)
