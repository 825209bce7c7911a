"""What operators see on /ops and may do there; everyone else gets nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from sqlmodel import select

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    EmailDelivery,
    EmbeddingQueueItem,
    Event,
    IngestionJob,
    Installation,
    ReportJobHistory,
    SyncBatch,
    TrackedRepo,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience.ops.service import (
    replay_all_failed,
    replay_envelope,
    server_token_available,
    use_server_token,
)
from gitpulse_app.experience.ops.views import (
    EnvelopeRow,
    load_ops,
    operator_allowed,
    provider_rows,
)
from tests.support import rows
from tests.support.rows import stored_id

NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)


def make_user(login: str | None = None, **fields) -> int:
    return stored_id(rows.make_user, login, **fields)


@pytest.fixture
def operator(engine, configure) -> int:
    configure(GITPULSE_ADMINS="OpsPerson")
    return make_user("opsperson")


def test_operators_are_admins_or_the_local_demo_user(engine, configure):
    admin = make_user("Boss")
    demo = make_user("demo", is_demo=True)
    plain = make_user("alice")
    assert not operator_allowed(admin) and not operator_allowed(None)
    configure(GITPULSE_ADMINS=" boss , other ", GITPULSE_DEMO="1")
    assert operator_allowed(admin) and operator_allowed(demo)
    assert not operator_allowed(plain)
    configure(GITPULSE_BASE_URL="https://pulse.example")
    assert not operator_allowed(demo)
    assert load_ops(plain) is None


def test_envelopes_show_metadata_only_failed_first_with_replay(operator):
    with session_scope() as session:
        session.add(Installation(kind="app", gh_installation_id=55, account_login="acme"))
        session.add(WebhookEvent(delivery_id="ok-1", event="pull_request", action="opened",
                                 installation_gh_id=55, status="completed", attempts=1,
                                 payload={"secret": "body"}, received_at=NOW))
        rows.make_dead_envelope(session, delivery_id="dead-1", installation_gh_id=55,
                                error_message="boom", payload={"secret": "body"},
                                received_at=NOW - dt.timedelta(hours=1), commit=False)
    view = load_ops(operator)
    assert view.failed_envelopes == 1
    first, second = view.envelopes
    assert (first.delivery_id, first.event, first.status, first.attempts, first.error) == (
        "dead-1", "push", "failed", 5, "boom")
    assert first.can_replay and not second.can_replay
    assert second.event == "pull_request.opened"
    assert first.installation == "acme (app)"
    assert first.received == "2025-12-05 14:00:00 UTC"
    assert "payload" not in {f.name for f in dataclasses.fields(EnvelopeRow)}
    assert "secret" not in repr(view)


def test_replaying_resets_a_dead_letter_and_only_for_operators(operator, engine):
    plain = make_user("alice")
    with session_scope() as session:
        dead = rows.make_dead_envelope(session, commit=False)
        done = rows.add_rows(session, WebhookEvent(delivery_id="done-2", event="push",
                                                   status="completed"), commit=False)
        dead_id, done_id = dead.id, done.id
    assert replay_envelope(plain, dead_id).message == "Page not found"
    assert not replay_envelope(operator, done_id).ok
    result = replay_envelope(operator, dead_id, now=NOW)
    assert (result.ok, result.message) == (True, "Replaying 1 delivery.")
    with session_scope() as session:
        row = session.get(WebhookEvent, dead_id)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW)
        row.status = "failed"
        session.add(WebhookEvent(delivery_id="dead-3", event="push", status="failed"))
    assert not replay_all_failed(plain).ok
    assert replay_all_failed(operator).message == "Replaying 2 failed deliveries."


def test_batches_jobs_history_queues_and_deliveries(operator):
    with session_scope() as session:
        source = Installation(kind="pat", account_login="alice")
        session.add(source)
        session.flush()
        good = SyncBatch(installation_id=source.id, trigger="manual", status="completed",
                         total_repos=1, completed_repos=1)
        bad = SyncBatch(installation_id=source.id, trigger="cron", status="completed",
                        total_repos=2, completed_repos=1, failed_repos=1)
        session.add_all([good, bad])
        session.flush()
        common = dict(batch_id=bad.id, installation_id=source.id, trigger="cron", since=NOW)
        session.add(IngestionJob(repo_full_name="acme/api", status="failed", attempts=3,
                                 error_message="GitHub said no", **common))
        session.add(IngestionJob(repo_full_name="acme/web", status="completed", **common))
        session.add(IngestionJob(repo_full_name="acme/new", status="pending", **common))
        for n in range(55):
            session.add(ReportJobHistory(kind="daily", tick_at=NOW - dt.timedelta(minutes=n),
                                         users_attempted=2, reports_generated=1,
                                         started_at=NOW, completed_at=NOW, duration_ms=12,
                                         created_at=NOW - dt.timedelta(minutes=n)))
        session.add(EmailDelivery(report_id=1, to_address="alice@example.com", status="sent",
                                  sent_at=NOW))
        session.add(EmailDelivery(report_id=2, to_address="bob@example.org", status="failed",
                                  last_error="refused"))
        session.add(WebhookEvent(delivery_id="p1", event="push", status="pending"))
        repo = rows.make_repo(session, "acme/api", gh_id=1, commit=False)
        actor = rows.make_user(session, "zed", gh_id=99, commit=False)
        event = Event(type="commit", repo_id=repo.id, actor_id=actor.id, ts=NOW,
                      canonical_text="x", source_url="https://github.com/acme/api/commit/1",
                      content_hash="a" * 64, observed_via="webhook")
        session.add(event)
        session.flush()
        session.add(EmbeddingQueueItem(event_id=event.id, content_hash="a" * 64, model="m",
                                       status="failed"))
    view = load_ops(operator)
    assert [(b.status, b.repos, b.source) for b in view.batches] == [
        ("completed", "1/2 done, 1 failed", "alice (pat)")]
    assert [(j.repo, j.status, j.error) for j in view.jobs] == [
        ("acme/api", "failed", "GitHub said no")]
    assert len(view.history) == 50
    assert view.history[0].tick_at == "2025-12-05 15:00:00 UTC"
    queues = {q.queue: (q.pending, q.working, q.failed) for q in view.queues}
    assert queues == {"Webhook envelopes": (1, 0, 0), "Embeddings": (0, 0, 1),
                      "Emails": (0, 0, 1), "Sync jobs": (1, 0, 1),
                      "Channel messages": (0, 0, 0)}
    assert sorted(d.address for d in view.deliveries) == ["a***@example.com", "b***@example.org"]
    assert "alice@example.com" not in repr(view)


def test_providers_name_configuration_and_health_without_secrets(engine, configure):
    configure(OPENAI_API_KEY="sk-secret", GITPULSE_LLM_FALLBACK_MODEL="gpt-4.1-nano",
              GITHUB_TOKEN="ghp_secret", SMTP_URL="smtp://u:p@mail:25")
    rows = {row.name: row for row in provider_rows(
        {"services": {"llm": {"status": "ok", "message": "openai (gpt-4.1-mini)"},
                      "email": {"status": "degraded", "message": "The latest email failed"}}})}
    assert rows["Report writer"].configuration == (
        "OpenAI-compatible: gpt-4.1-mini, fallback gpt-4.1-nano, then the local writer")
    assert (rows["Report writer"].status, rows["Email"].status) == ("ok", "degraded")
    assert rows["Email"].configuration == "SMTP configured"
    assert "server token" in rows["GitHub"].configuration
    assert rows["Sync"].status == "unknown"
    assert "secret" not in repr(rows) and "u:p" not in repr(rows)


@pytest.fixture
def github(configure, fake_github):
    configure(GITHUB_API_URL=fake_github.url)
    fake_github.add_json("/user", {"login": "server-bot", "id": 1})
    fake_github.add_json("/repos/acme/api", {"full_name": "acme/api", "id": 11})
    fake_github.add_json("/repos/acme/nope", {"message": "Not Found"}, status=404)
    return fake_github


def test_operators_add_repositories_through_the_server_token(operator, configure, github):
    plain = make_user("alice")
    assert not server_token_available(operator)
    result, source_id = asyncio.run(use_server_token(operator, "acme/api"))
    assert not result.ok and source_id is None
    configure(GITHUB_TOKEN="ghp_server")
    assert server_token_available(operator) and not server_token_available(plain)
    assert not asyncio.run(use_server_token(plain, "acme/api"))[0].ok
    refused, _ = asyncio.run(use_server_token(operator, "acme/nope"))
    assert "acme/nope was not found" in refused.message

    result, source_id = asyncio.run(use_server_token(operator, "acme/api"))
    assert (result.ok, result.message) == (True, "Server token now syncs 1 repository for you.")
    again, same_id = asyncio.run(use_server_token(operator, "acme/api"))
    assert again.ok and same_id == source_id
    with session_scope() as session:
        source = session.get(Installation, source_id)
        assert (source.kind, source.repositories) == ("env_pat", ["acme/api"])
        links = session.exec(select(UserInstallation).where(
            UserInstallation.installation_id == source_id)).all()
        assert [(link.user_id, link.role) for link in links] == [(operator, "viewer")]
        tracked = session.exec(select(TrackedRepo).where(
            TrackedRepo.installation_id == source_id)).all()
        assert [(row.user_id, row.repo_full_name, row.tracked) for row in tracked] == [
            (operator, "acme/api", True)]
