import asyncio
import time

import pytest
from sqlmodel import Session

from gitpulse_app.core import migrate
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.workers import registered_workers
from gitpulse_app.intelligence.embeddings import worker as embeddings
from gitpulse_app.intelligence.embeddings.worker import on_fact_changed
from tests.intelligence.embeddings.conftest import embeddings as stored, make_facts


class Change:
    def __init__(self, event_id):
        self.event_id, self.result = event_id, "inserted"


@pytest.fixture
def file_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url)
    set_engine(engine)
    yield engine
    set_engine(None)
    engine.dispose()


async def _until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(0.05)
    return False


def test_the_embeddings_worker_is_registered():
    assert "embeddings" in registered_workers()


def test_the_worker_embeds_new_facts_within_seconds_of_fact_changed(file_engine):
    with Session(file_engine, expire_on_commit=False) as session:
        async def scenario():
            task = asyncio.create_task(embeddings.embeddings_worker())
            await asyncio.sleep(0.3)  # the worker's first round found nothing and now waits 10 s
            facts = make_facts(session, ["Fix the auth bug", "Write docs"])
            started = time.monotonic()
            await asyncio.to_thread(on_fact_changed, changes=[Change(f.id) for f in facts])
            done = await _until(lambda: len(stored(session)) == 2, timeout=5)
            task.cancel()
            return done, time.monotonic() - started

        done, elapsed = asyncio.run(scenario())

    assert done and elapsed < 2


def test_the_worker_polls_and_fills_in_facts_that_were_never_queued(file_engine, monkeypatch):
    monkeypatch.setattr(embeddings, "POLL_INTERVAL_S", 0.2)
    with Session(file_engine, expire_on_commit=False) as session:
        async def scenario():
            task = asyncio.create_task(embeddings.embeddings_worker())
            await asyncio.sleep(0.1)
            make_facts(session, ["A fact nobody announced"])
            done = await _until(lambda: len(stored(session)) == 1, timeout=5)
            task.cancel()
            return done

        assert asyncio.run(scenario())
