import asyncio

import sqlalchemy as sa

from gitpulse_app.acquisition.webhooks.receiver import _GroupCommit, envelope_values
from gitpulse_app.core.models import WebhookEvent


def test_a_burst_of_deliveries_is_stored_once_each_and_duplicates_answer_as_replays(engine):
    async def burst():
        writer = _GroupCommit()
        ids = [f"delivery-{i}" for i in range(30)] + ["delivery-3", "delivery-7"]
        results = await asyncio.gather(
            *(writer.store(envelope_values(d, "ping", {"zen": d})) for d in ids))
        return dict(zip(range(len(ids)), results, strict=True)), ids

    results, ids = asyncio.run(burst())
    assert [results[i] for i in range(30)] == [True] * 30
    assert results[30] is False and results[31] is False
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar()
    assert count == 30


def test_a_database_error_reaches_every_waiting_request(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE webhook_events"))

    async def burst():
        writer = _GroupCommit()
        return await asyncio.gather(
            *(writer.store(envelope_values(f"d-{i}", "ping", {})) for i in range(5)),
            return_exceptions=True)

    outcomes = asyncio.run(burst())
    assert all(isinstance(o, sa.exc.OperationalError) for o in outcomes)
