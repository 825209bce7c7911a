import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.models import EmbeddingQueueItem, Event
from gitpulse_app.intelligence.embeddings import drain, enqueue_events, enqueue_missing
from gitpulse_app.intelligence.embeddings.providers import LOCAL_MODEL, OPENAI_MODEL
from gitpulse_app.intelligence.embeddings.queue import recover_stale, reset_failed_primary
from gitpulse_app.intelligence.embeddings.worker import on_fact_changed
from tests.intelligence.embeddings.conftest import (
    embedding_calls,
    embeddings,
    make_facts,
    openai_error,
    queue_rows,
    voyage_answer,
    voyage_error,
)

VOYAGE = "voyage-3-large"


def _enqueue(session, facts, model=None, now=None):
    enqueue_events(session, [fact.id for fact in facts], model, now=now)
    session.commit()


def test_300_new_facts_are_embedded_in_three_provider_calls_of_128_128_and_44(session, fake_voyage):
    facts = make_facts(session, [f"Commit number {i} fixes the login flow" for i in range(300)])
    _enqueue(session, facts)

    stats = drain()

    assert [len(call["input"]) for call in embedding_calls(fake_voyage)] == [128, 128, 44]
    assert stats.embedded == 300
    stored = embeddings(session)
    assert len(stored) == 300
    assert {(row.provider, row.model, row.dimensions) for row in stored} == {("voyage", VOYAGE, 1024)}
    assert all(len(row.vector) == 4096 for row in stored)
    vector = np.frombuffer(stored[0].vector, "<f4")
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert queue_rows(session) == []


def test_130_texts_make_two_calls_that_send_the_model_and_the_document_input_type(session, fake_voyage):
    facts = make_facts(session, [f"Fact {i}" for i in range(130)])
    _enqueue(session, facts)

    drain()

    calls = embedding_calls(fake_voyage)
    assert [len(call["input"]) for call in calls] == [128, 2]
    assert {(call["model"], call["input_type"]) for call in calls} == {(VOYAGE, "document")}
    request = fake_voyage.requests_to("/v1/embeddings")[0]
    assert request.headers["Authorization"] == "Bearer pa-test-voyage"


def test_voyage_calls_stay_within_100000_characters(session, fake_voyage):
    body = "x" * 9000  # cut to 8000 characters per text
    facts = make_facts(session, [f"Commit {i}" for i in range(40)],
                       meta=None, fact_type="issue_opened")
    for fact in facts:
        fact.meta = {"issue_number": fact.id, "title": "Big", "body": body}
    session.commit()
    _enqueue(session, facts)

    drain()

    calls = embedding_calls(fake_voyage)
    assert all(len(text) <= 8000 for call in calls for text in call["input"])
    assert all(sum(len(text) for text in call["input"]) <= 100_000 for call in calls)
    assert sum(len(call["input"]) for call in calls) == 40
    assert len(calls) == 4  # 12 texts of 8000 characters fit in 100,000


def test_openai_calls_stay_within_240000_characters_and_ask_for_1024_dimensions(session, fake_openai):
    facts = make_facts(session, ["y" * 8000 + f" {i}" for i in range(64)], meta={})
    _enqueue(session, facts)

    drain()

    calls = embedding_calls(fake_openai)
    assert all(sum(len(text) for text in call["input"]) <= 240_000 for call in calls)
    assert [len(call["input"]) for call in calls] == [30, 30, 4]
    assert {(call["model"], call["dimensions"]) for call in calls} == {(OPENAI_MODEL, 1024)}
    assert {row.provider for row in embeddings(session)} == {"openai"}


def test_a_400_naming_the_token_limit_halves_the_batch_without_counting_an_attempt(session, fake_voyage):
    limit = voyage_error(400, "Request to model 'voyage-3-large' failed. The max allowed tokens per "
                              "submitted batch is 120000. Your batch has 130000 tokens after "
                              "truncation. Please lower the number of tokens in the batch.")
    calls = []

    def respond(request):
        size = len(request.json()["input"])
        calls.append(size)
        return limit if size > 32 else voyage_answer()(request)

    fake_voyage.add("POST", "/v1/embeddings", respond)
    facts = make_facts(session, [f"Fact {i}" for i in range(100)])
    _enqueue(session, facts)

    stats = drain()

    assert calls == [100, 50, 25, 25, 50, 25, 25]
    assert stats.embedded == 100 and stats.retrying == 0
    assert len(embeddings(session)) == 100


def test_a_429_leaves_the_rows_pending_with_backoff_and_the_next_due_pass_succeeds(session, fake_voyage, t0):
    fake_voyage.add("POST", "/v1/embeddings", [voyage_error(429, "Rate limit exceeded"),
                                                voyage_answer()])
    facts = make_facts(session, ["Fix the flaky auth test"])
    _enqueue(session, facts, now=t0)

    drain(now=t0)
    [row] = queue_rows(session)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == t0 + dt.timedelta(seconds=30)
    assert "429" in row.error_message and "Rate limit" in row.error_message

    assert drain(now=t0 + dt.timedelta(seconds=29)).processed == 0
    assert drain(now=t0 + dt.timedelta(seconds=30)).embedded == 1
    assert queue_rows(session) == [] and len(embeddings(session)) == 1


def test_provider_errors_back_off_and_the_fifth_failure_queues_the_next_provider(
        session, fake_voyage, fake_openai, t0):
    fake_voyage.add("POST", "/v1/embeddings", voyage_error(500, "boom"))
    facts = make_facts(session, ["Refactor the session store"])
    _enqueue(session, facts, now=t0)

    now = t0
    delays = []
    for attempt in range(1, 5):
        drain(now=now)
        [row] = queue_rows(session)
        assert (row.model, row.status, row.attempts) == (VOYAGE, "pending", attempt)
        delays.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert delays == [dt.timedelta(seconds=s) for s in (30, 60, 120, 240)]

    stats = drain(now=now)

    assert len(embedding_calls(fake_voyage)) == 5
    failed = [row for row in queue_rows(session) if row.model == VOYAGE]
    assert [(row.status, row.attempts) for row in failed] == [("failed", 5)]
    # The same drain went on to the next provider in the chain.
    assert stats.failed == 1 and stats.embedded == 1
    assert [(row.provider, row.model) for row in embeddings(session)] == [("openai", OPENAI_MODEL)]
    assert session.get(Event, facts[0].id) is not None


def test_when_every_remote_provider_fails_the_local_provider_embeds_the_facts(
        session, fake_voyage, fake_openai, t0):
    fake_voyage.add("POST", "/v1/embeddings", voyage_error(503, "overloaded"))
    fake_openai.add("POST", "/v1/embeddings", openai_error(500, "The server had an error"))
    facts = make_facts(session, ["Add rate limiting", "Bump dependencies"])
    _enqueue(session, facts, now=t0)

    now = t0
    for _ in range(20):
        drain(now=now)
        pending = [row for row in queue_rows(session) if row.status == "pending"]
        if not pending:
            break
        now = min(row.next_attempt_at for row in pending)

    rows = queue_rows(session)
    assert sorted((row.model, row.status, row.attempts) for row in rows) == sorted(
        [(VOYAGE, "failed", 5)] * 2 + [(OPENAI_MODEL, "failed", 5)] * 2)
    assert {(row.provider, row.model) for row in embeddings(session)} == {("local", LOCAL_MODEL)}
    assert len(embeddings(session)) == 2
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 2


def test_a_404_makes_the_provider_unavailable_for_an_hour_and_its_rows_fail_at_once(
        session, fake_voyage, t0):
    fake_voyage.add("POST", "/v1/embeddings", voyage_error(404, "Not found"))
    first = make_facts(session, ["One"])
    _enqueue(session, first, now=t0)

    drain(now=t0)

    [failed] = [row for row in queue_rows(session) if row.model == VOYAGE]
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert [row.provider for row in embeddings(session)] == ["local"]
    assert len(embedding_calls(fake_voyage)) == 1

    second = make_facts(session, ["Two"])
    _enqueue(session, second, now=t0 + dt.timedelta(minutes=59))
    drain(now=t0 + dt.timedelta(minutes=59))
    assert len(embedding_calls(fake_voyage)) == 1  # not asked again within the hour
    assert len(embeddings(session)) == 2

    third = make_facts(session, ["Three"])
    _enqueue(session, third, now=t0 + dt.timedelta(hours=1))
    drain(now=t0 + dt.timedelta(hours=1))
    assert len(embedding_calls(fake_voyage)) == 2


def test_an_error_naming_the_model_makes_the_provider_unavailable(session, fake_voyage, fake_openai, t0):
    fake_voyage.add("POST", "/v1/embeddings",
                    voyage_error(400, "Model voyage-3-large is not supported."))
    facts = make_facts(session, ["Fix login"])
    _enqueue(session, facts, now=t0)

    drain(now=t0)

    rows = {row.model: row for row in queue_rows(session)}
    assert (rows[VOYAGE].status, rows[VOYAGE].attempts) == ("failed", 1)
    assert [row.provider for row in embeddings(session)] == ["openai"]


def test_an_openai_404_for_its_model_moves_the_facts_to_the_local_provider(session, fake_openai, t0):
    fake_openai.add("POST", "/v1/embeddings", openai_error(
        404, "The model `text-embedding-3-small` does not exist", code="model_not_found"))
    facts = make_facts(session, ["Fix login"])
    _enqueue(session, facts, now=t0)

    drain(now=t0)

    assert [row.status for row in queue_rows(session)] == ["failed"]
    assert [row.provider for row in embeddings(session)] == ["local"]


def test_a_fake_voyage_returning_1536_dimensions_is_a_failed_attempt_and_stores_nothing(
        session, fake_voyage, t0):
    fake_voyage.add("POST", "/v1/embeddings", voyage_answer(dimensions=1536))
    facts = make_facts(session, ["Fix login"])
    _enqueue(session, facts, now=t0)

    drain(now=t0)

    [row] = queue_rows(session)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "1536" in row.error_message
    assert embeddings(session) == []


def test_reenqueue_resets_a_failed_row(session, t0):
    facts = make_facts(session, ["Fix login"])
    _enqueue(session, facts, model="voyage-3-large", now=t0)
    session.execute(sa.update(EmbeddingQueueItem).values(status="failed", attempts=5,
                                                         error_message="boom"))
    session.commit()

    later = t0 + dt.timedelta(hours=2)
    _enqueue(session, facts, model="voyage-3-large", now=later)

    [row] = queue_rows(session)
    assert (row.status, row.attempts, row.error_message) == ("pending", 0, None)
    assert row.next_attempt_at == later


def test_enqueue_keeps_pending_and_processing_rows(session, t0):
    facts = make_facts(session, ["A", "B"])
    _enqueue(session, facts, model="m", now=t0)
    session.execute(sa.update(EmbeddingQueueItem).where(EmbeddingQueueItem.event_id == facts[1].id)
                    .values(status="processing", attempts=2))
    session.commit()

    _enqueue(session, facts, model="m", now=t0 + dt.timedelta(minutes=5))

    rows = {row.event_id: row for row in queue_rows(session)}
    assert [(rows[f.id].status, rows[f.id].attempts, rows[f.id].next_attempt_at) for f in facts] == [
        ("pending", 0, t0), ("processing", 2, t0)]


def test_the_same_hash_twice_makes_one_row_and_one_embedding(session):
    shared = "ab" * 32
    facts = make_facts(session, ["Same text", "Same text"], content_hash=shared)
    _enqueue(session, facts)
    assert len(queue_rows(session)) == 1

    drain()
    _enqueue(session, facts)  # already embedded: nothing is queued

    assert [row.content_hash for row in embeddings(session)] == [shared]
    assert queue_rows(session) == []


def test_a_fact_changed_batch_is_queued_with_one_statement(session, engine):
    facts = make_facts(session, [f"Fact {i}" for i in range(2000)])
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "embedding_queue" in statement:
            statements.append(statement)

    class Change:
        def __init__(self, event_id):
            self.event_id, self.result = event_id, "inserted"

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        on_fact_changed(changes=[Change(fact.id) for fact in facts])
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT")
    rows = queue_rows(session)
    assert len(rows) == 2000 and {row.model for row in rows} == {LOCAL_MODEL}


def test_ingested_facts_are_queued_for_the_primary_model_and_drained(session):
    from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
    from gitpulse_app.normalization.store import ingest_facts

    repo = RepoRef(gh_id=99, full_name="acme/api", owner="acme", name="api",
                   raw={"id": 99, "full_name": "acme/api", "name": "api",
                        "owner": {"login": "acme"}})
    facts = [
        NormalizedFact(type="pr_merged", repo=repo, actor=ActorRef(gh_id=7, login="alice"),
                       ts=dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
                       source_url=f"https://github.com/acme/api/pull/{n}",
                       metadata={"number": n, "title": f"Fix auth bug {n}"})
        for n in range(1, 4)
    ]
    ingest_facts(facts, observed_via="webhook")

    assert len(queue_rows(session)) == 3
    drain()
    assert len(embeddings(session)) == 3


def test_processing_rows_untouched_for_10_minutes_or_held_by_a_dead_process_go_back_to_pending(session, t0):
    facts = make_facts(session, ["A", "B", "C"])
    _enqueue(session, facts, model="m", now=t0)
    values = [
        (facts[0].id, t0 - dt.timedelta(minutes=11), claim_id()),
        (facts[1].id, t0 - dt.timedelta(minutes=1), "otherhost:1:1"),
        (facts[2].id, t0 - dt.timedelta(minutes=1), f"{claim_id().split(':')[0]}:999999999:1"),
    ]
    for event_id, at, holder in values:
        session.execute(sa.update(EmbeddingQueueItem).where(EmbeddingQueueItem.event_id == event_id)
                        .values(status="processing", last_attempt_at=at, claimed_by=holder))
    session.commit()

    assert recover_stale(session, now=t0) == 2
    session.commit()

    status = {row.event_id: row.status for row in queue_rows(session)}
    assert [status[fact.id] for fact in facts] == ["pending", "processing", "pending"]


def test_the_background_enqueuer_fills_in_at_most_1000_facts_and_leaves_failed_rows(session, t0):
    facts = make_facts(session, [f"Fact {i}" for i in range(1005)])
    _enqueue(session, facts[:1], now=t0)
    session.execute(sa.update(EmbeddingQueueItem).values(status="failed", attempts=5))
    session.commit()

    assert enqueue_missing(session, now=t0) == 1000
    session.commit()
    assert enqueue_missing(session, now=t0) == 4
    session.commit()

    rows = queue_rows(session)
    assert len(rows) == 1005
    assert [(row.status, row.attempts) for row in rows if row.event_id == facts[0].id] == [("failed", 5)]


def test_switching_the_embedding_model_requeues_every_fact(session, fake_voyage, configure):
    facts = make_facts(session, ["Fix the auth bug", "Write docs"])
    _enqueue(session, facts)
    drain()
    assert {row.model for row in embeddings(session)} == {VOYAGE}

    configure(GITPULSE_EMBEDDING_MODEL="voyage-3.5")
    assert enqueue_missing(session) == 2
    session.commit()
    drain()

    assert {call["model"] for call in embedding_calls(fake_voyage)} == {VOYAGE, "voyage-3.5"}
    assert sorted(row.model for row in embeddings(session)) == [VOYAGE, VOYAGE, "voyage-3.5", "voyage-3.5"]


def test_rows_of_a_model_no_longer_configured_hand_over_to_the_primary_model(session, t0):
    facts = make_facts(session, ["Fix login"])
    _enqueue(session, facts, model=VOYAGE, now=t0)  # queued while a Voyage key was set

    drain(now=t0)

    assert [(row.model, row.status) for row in queue_rows(session)] == [(VOYAGE, "failed")]
    assert [row.model for row in embeddings(session)] == [LOCAL_MODEL]


def test_the_daily_reset_returns_failed_primary_rows_to_pending(session, fake_voyage, t0):
    facts = make_facts(session, ["A", "B"])
    _enqueue(session, facts, now=t0)
    _enqueue(session, facts, model=OPENAI_MODEL, now=t0)
    session.execute(sa.update(EmbeddingQueueItem).values(status="failed", attempts=5))
    session.commit()

    assert reset_failed_primary(session, now=t0) == 2
    session.commit()

    rows = queue_rows(session)
    assert sorted((row.model, row.status, row.attempts) for row in rows) == [
        (OPENAI_MODEL, "failed", 5), (OPENAI_MODEL, "failed", 5),
        (VOYAGE, "pending", 0), (VOYAGE, "pending", 0)]


def test_a_row_whose_fact_changed_hash_is_dropped_without_a_provider_call(session, fake_voyage):
    facts = make_facts(session, ["Old text"])
    _enqueue(session, facts)
    facts[0].content_hash = "cd" * 32
    session.commit()

    stats = drain()

    assert stats.dropped == 1 and embedding_calls(fake_voyage) == []
    assert queue_rows(session) == []


def test_drain_honours_its_limit(session):
    facts = make_facts(session, [f"Fact {i}" for i in range(300)])
    _enqueue(session, facts)

    assert drain(limit=200).embedded == 200
    assert len(queue_rows(session)) == 100


@pytest.mark.postgres
def test_queue_and_drain_work_on_postgres(pg_engine, fake_voyage, t0):
    from sqlmodel import Session

    with Session(pg_engine, expire_on_commit=False) as session:
        shared = "ef" * 32
        facts = make_facts(session, [f"Fact {i}" for i in range(130)])
        twins = make_facts(session, ["Twin", "Twin"], content_hash=shared)
        _enqueue(session, facts + twins, now=t0)
        assert len(queue_rows(session)) == 131

        drain(now=t0)

        assert [len(call["input"]) for call in embedding_calls(fake_voyage)] == [128, 3]
        assert len(embeddings(session)) == 131
        session.execute(sa.update(EmbeddingQueueItem).values(status="failed"))
        session.commit()
        assert enqueue_missing(session, now=t0) == 0
        _enqueue(session, facts[:1], model="m", now=t0)
        session.execute(sa.update(EmbeddingQueueItem).values(status="failed"))
        session.commit()
        _enqueue(session, facts[:1], model="m", now=t0)
        assert [row.status for row in queue_rows(session)] == ["pending"]


@pytest.mark.postgres
def test_concurrent_drains_and_enqueues_on_postgres_embed_every_fact_once(pg_engine, t0):
    import threading

    from sqlmodel import Session

    with Session(pg_engine, expire_on_commit=False) as session:
        facts = make_facts(session, [f"Concurrent fact {i}" for i in range(1200)])
        _enqueue(session, facts, now=t0)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                drain(now=t0)
            except BaseException as exc:  # noqa: BLE001 - a deadlock or any failure is the finding
                errors.append(exc)

        def ingest_again() -> None:  # facts seen again while the drains run (webhook + sync)
            try:
                for _ in range(5):
                    with Session(pg_engine) as other:
                        enqueue_events(other, [fact.id for fact in reversed(facts)], now=t0)
                        other.commit()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        threads.append(threading.Thread(target=ingest_again))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        # The last sightings can be queued after every drain has found the queue empty; the
        # worker's next poll takes them (and must embed nothing twice).
        drain(now=t0)
        assert len({row.content_hash for row in embeddings(session)}) == len(embeddings(session))
        assert len(embeddings(session)) == 1200
        assert queue_rows(session) == []


def test_rows_returned_by_a_sweep_on_a_clock_ahead_stay_due_for_real_clock_drains(session, t0):
    facts = make_facts(session, ["Stale claim", "Failed primary"])
    _enqueue(session, facts, now=t0)
    session.execute(sa.update(EmbeddingQueueItem).where(EmbeddingQueueItem.event_id == facts[0].id)
                    .values(status="processing", last_attempt_at=t0, claimed_by="gone:1:1"))
    session.execute(sa.update(EmbeddingQueueItem).where(EmbeddingQueueItem.event_id == facts[1].id)
                    .values(status="failed", attempts=5))
    session.commit()
    ahead = t0 + dt.timedelta(hours=3)  # `tick --at` far ahead of the real clock

    assert recover_stale(session, now=ahead) == 1
    assert reset_failed_primary(session, now=ahead) == 1
    session.commit()

    rows = queue_rows(session)
    assert [(row.status, row.next_attempt_at) for row in rows] == [("pending", t0)] * 2
    assert drain(now=t0 + dt.timedelta(seconds=1)).embedded == 2
