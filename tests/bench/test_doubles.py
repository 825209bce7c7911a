"""The double-processing counter reads what a second processing leaves, and catches one."""

import io
import json
import logging

import pytest
import sqlalchemy as sa

from bench.mix import build_mix
from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.acquisition.webhooks.receiver import store_envelope
from gitpulse_app.core.logging import JsonFormatter
from gitpulse_app.core.models import Event, WebhookEvent
from tests.support.doubles import completion_lines, count_double_processing, parse_log_lines


@pytest.fixture
def log_records():
    """The JSON metric lines the app writes while the test runs, parsed as a server's would be."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("gitpulse.metrics")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield lambda: parse_log_lines(stream.getvalue().splitlines())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def store(deliveries) -> None:
    for delivery in deliveries:
        assert store_envelope(delivery.delivery_id, delivery.event, json.loads(delivery.body))


def test_a_clean_run_with_replays_and_redeliveries_counts_nothing_twice(engine, log_records):
    deliveries = build_mix(8, "clean")
    store(deliveries)
    assert processor.drain().completed == 8
    # A replay (same delivery id) is refused at the door; a redelivery under a new id is
    # processed again and changes nothing.
    assert not store_envelope(deliveries[0].delivery_id, deliveries[0].event,
                              json.loads(deliveries[0].body))
    assert store_envelope("redelivered", deliveries[1].event, json.loads(deliveries[1].body))
    assert processor.drain().completed == 1
    counted = count_double_processing(log_records())
    assert counted.total == 0
    assert len([r for r in log_records() if r.get("metric") == "webhook_lag_ms"]) == 9


def test_the_counter_catches_a_run_that_processed_an_envelope_twice(engine, log_records):
    deliveries = build_mix(4, "twice")
    store(deliveries)
    assert processor.drain().completed == 4
    # What a double-processing build does: a completed envelope is taken and processed again (as
    # a claim without its state test would let a second worker do) while its fact is seen as
    # changed — so it is completed again and its fact announced again with the same content.
    victim = deliveries[0]
    with engine.begin() as conn:
        conn.execute(sa.update(WebhookEvent).where(WebhookEvent.delivery_id == victim.delivery_id)
                     .values(status="pending"))
        conn.execute(sa.update(Event).where(Event.source_url == victim.facts[0][1])
                     .values(content_hash="0" * 64))
    assert processor.drain().completed == 1
    counted = count_double_processing(log_records())
    assert counted.envelopes_completed_twice == 1
    assert counted.facts_announced_twice == 1
    assert counted.total == 2


def test_counting_from_hand_made_records_and_messages():
    records = parse_log_lines([
        "not json at all",
        '{"metric": "webhook_lag_ms", "delivery_id": "a"}',
        '{"metric": "webhook_lag_ms", "delivery_id": "a"}',
        '{"metric": "webhook_lag_ms", "delivery_id": "b"}',
        '{"metric": "fact_changed", "event_id": 1, "content_hash": "h1"}',
        '{"metric": "fact_changed", "event_id": 1, "content_hash": "h2"}',
        '["a list is not a record"]',
    ])
    assert len(records) == 5
    counted = count_double_processing(records, messages=[("ann", "Daily"), ("ann", "Daily"),
                                                         ("bob", "Daily")])
    assert (counted.envelopes_completed_twice, counted.facts_announced_twice,
            counted.messages_sent_twice) == (1, 0, 1)


def test_completion_lines_rereads_until_every_delivery_has_its_line_or_fails():
    written: list[dict] = []

    def read():  # a process writes its line a moment after the reader's first look
        written.append({"metric": "webhook_lag_ms", "delivery_id": f"d{len(written)}"})
        return list(written)

    assert len(completion_lines(read, ["d0", "d1", "d2"], timeout_s=5)) == 3
    with pytest.raises(RuntimeError, match="no completion line for 1 deliveries"):
        completion_lines(lambda: [], ["never"], timeout_s=0.2)
