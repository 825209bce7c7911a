"""The receiver and processor on PostgreSQL (dialect-specific insert-or-ignore, claims, JSON)."""

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gitpulse_app.acquisition.webhooks import envelopes, processor
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import Event, Installation, User, UserInstallation, WebhookEvent
from gitpulse_app.experience.http.app import create_api
from tests.acquisition.webhooks.conftest import post_webhook
from tests.support.payloads import load_webhook

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_client(pg_engine, webhook_secret):
    with TestClient(create_api(with_workers=False)) as test_client:
        yield test_client


def rows(engine, model):
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


def test_replayed_delivery_is_stored_once_on_postgres(pg_client, pg_engine):
    payload = load_webhook("pull_request", "opened")
    payload["installation"] = {"id": 957387}
    first = post_webhook(pg_client, "pull_request", payload, delivery="pg-1")
    second = post_webhook(pg_client, "pull_request", payload, delivery="pg-1")
    assert first.status_code == second.status_code == 200
    [envelope] = rows(pg_engine, WebhookEvent)
    assert (envelope.installation_gh_id, envelope.action) == (957387, "opened")


def test_odd_payload_values_are_stored_on_postgres(pg_client, pg_engine):
    body = json.dumps({"action": "x\u0000\ud800", "installation": {"id": 2**70},
                       "zen": "\u0000"}).encode()
    assert post_webhook(pg_client, "ping", body=body).status_code == 200
    [envelope] = rows(pg_engine, WebhookEvent)
    assert envelope.installation_gh_id is None


def test_the_payload_text_is_stored_verbatim_in_postgres_json(pg_client, pg_engine):
    text = '{"zen" : "Half measures are as bad as nothing at all.",  "hook_id":  12,"x":[1,2]}'
    assert post_webhook(pg_client, "ping", body=text.encode()).status_code == 200
    with pg_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT payload::text FROM webhook_events")).scalar_one()
    assert stored == text
    [envelope] = rows(pg_engine, WebhookEvent)
    assert envelope.payload == json.loads(text)


def test_fact_and_installation_events_are_processed_on_postgres(pg_client, pg_engine):
    with Session(pg_engine) as session:
        owner = User(gh_id=21031067, gh_login="Codertocat", signed_up_at=utcnow())
        session.add(owner)
        session.commit()
        owner_id = owner.id
    post_webhook(pg_client, "installation", load_webhook("installation", "created"))
    payload = load_webhook("pull_request", "opened")
    payload["installation"] = {"id": 957387}
    post_webhook(pg_client, "pull_request", payload)
    bad = load_webhook("pull_request", "opened")
    del bad["pull_request"]["number"]
    post_webhook(pg_client, "pull_request", bad)
    result = processor.drain()
    assert (result.processed, result.completed, result.failed) == (3, 2, 1)
    [installation] = rows(pg_engine, Installation)
    [fact] = rows(pg_engine, Event)
    assert fact.installation_id == installation.id
    assert [(link.user_id, link.role) for link in rows(pg_engine, UserInstallation)] == [
        (owner_id, "owner")
    ]


def test_claims_and_reclaims_on_postgres(pg_client, pg_engine):
    post_webhook(pg_client, "ping", {"zen": "x"}, delivery="pg-claim")
    now = utcnow()
    claimed = envelopes.claim_next(now)
    assert claimed is not None and envelopes.claim_next(now) is None
    assert processor.reclaim_stale(now + dt.timedelta(minutes=11)) == 1
    assert processor.drain(now=now + dt.timedelta(minutes=11)).completed == 1
    assert processor.retry_failed() == 0


def test_a_batch_claim_takes_at_most_its_limit_on_postgres(pg_client, pg_engine):
    for index in range(10):
        post_webhook(pg_client, "ping", {"zen": str(index)}, delivery=f"pg-batch-{index}")
    now = utcnow()
    first = processor.claim_batch(now, limit=3)
    second = processor.claim_batch(now, limit=3)
    assert (len(first), len(second)) == (3, 3)
    assert not {e.id for e in first} & {e.id for e in second}
    assert len(processor.claim_batch(now, limit=50)) == 4
