"""Webhook processing end to end on the embedded stack: one process, SQLite, 100 deliveries/s.

`uvicorn gitpulse_app.api:app` (one process, its in-process webhook processor and embedding
worker) on a migrated SQLite file is offered RATE_PER_S signed deliveries per second for
DURATION_S seconds — the mix of `bench/mix.py` (pull requests opened, issue comments, reviews,
pushes of 3 commits) — by a raw HTTP/1.1 client in this process. Then we wait until no envelope is
pending or processing and read the figures from the database and the server's log:

- `webhook_e2e_per_s_sqlite`: deliveries ÷ (last `processed_at` − first `received_at`);
- `webhook_lag_p99_ms_sqlite`: p99 of `processed_at − received_at` over every delivery;
- `webhook_load_drain_s_sqlite`: last `processed_at` − last `received_at` (how long processing
  ran on after the last delivery was stored);
- `webhook_load_ack_p99_ms_sqlite`: p99 of the answers' latency during the load;
- `webhook_load_lost_sqlite`: deliveries not answered 200, without one completed envelope, or
  with a fact missing;
- `webhook_load_duplicated_sqlite`: envelopes completed twice and facts announced twice,
  counted from the server's log lines (tests/support/doubles.py).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.load import (
    SECRET,
    Answer,
    Delivery,
    _Connections,
    _offer,
    _request,
    wait_until_processed,
)
from bench.mix import MixDelivery, build_mix
from bench.run import Figure
from bench.server import serve_api
from bench.stats import percentile, rate
from tests.support.doubles import (
    completion_lines,
    count_double_processing,
    read_log_records,
)

RATE_PER_S = 100
DURATION_S = 30
WARMUP = 20


@dataclass(frozen=True)
class E2eResult:
    deliveries: int
    offered_per_s: float
    e2e_per_s: float
    lag_p50_ms: float
    lag_p99_ms: float
    drain_s: float
    ack_p99_ms: float
    lost: int
    double_processed: int


def _signed(deliveries: list[MixDelivery]) -> list[Delivery]:
    return [Delivery(d.delivery_id, _request(d.event, d.delivery_id, d.body), d.facts[0])
            for d in deliveries]


async def _send_all(port: int, warmup: list[MixDelivery], load: list[MixDelivery],
                    per_s: float) -> tuple[list[Answer], float]:
    connections = _Connections("127.0.0.1", port)
    try:
        await _offer(connections, [(i * 0.05, d) for i, d in enumerate(_signed(warmup))], False)
        await asyncio.sleep(1)
        return await _offer(connections, [(i / per_s, d) for i, d in enumerate(_signed(load))],
                            True)
    finally:
        connections.close()


def e2e_figures(engine: sa.Engine, load: list[MixDelivery], answers: list[Answer],
                records: list[dict]) -> tuple[float, list[float], float, int]:
    """(end-to-end rate, lags in ms, drain seconds, lost) of the measured deliveries."""
    from gitpulse_app.core.models import Event, WebhookEvent

    ids = {d.delivery_id for d in load}
    with engine.connect() as conn:
        rows = {row.delivery_id: row for row in conn.execute(sa.select(
            WebhookEvent.delivery_id, WebhookEvent.status, WebhookEvent.received_at,
            WebhookEvent.processed_at))}
        facts = {(row.type, row.source_url) for row in conn.execute(
            sa.select(Event.type, Event.source_url))}
    answered = {a.delivery_id for a in answers if a.status == 200}
    measured = [rows[i] for i in ids if i in rows and rows[i].processed_at is not None]
    lost = sum(1 for d in load
               if d.delivery_id not in answered
               or getattr(rows.get(d.delivery_id), "status", None) != "completed"
               or not set(d.facts) <= facts)
    if not measured:
        raise RuntimeError("no delivery of the load was processed")
    lags = [(row.processed_at - row.received_at).total_seconds() * 1000 for row in measured]
    first_in = min(row.received_at for row in measured)
    last_in = max(row.received_at for row in measured)
    last_out = max(row.processed_at for row in measured)
    e2e = rate(len(measured), (last_out - first_in).total_seconds())
    return e2e, lags, max((last_out - last_in).total_seconds(), 0.0), lost


def run_e2e(workdir: Path, per_s: float = RATE_PER_S, duration_s: float = DURATION_S) -> E2eResult:
    """One run of the embedded stack at `per_s` deliveries/s for `duration_s` seconds."""
    from gitpulse_app.core.db import create_db_engine

    warmup = build_mix(WARMUP, "warmup", 1_000_000)
    load = build_mix(int(per_s * duration_s), "load", 2_000_000)
    url = f"sqlite:///{workdir / 'webhook-e2e.db'}"
    log_path = workdir / "webhook-e2e-server.log"
    with serve_api(url, {"GITHUB_WEBHOOK_SECRET": SECRET}, log_path) as base:
        port = int(base.rsplit(":", 1)[1])
        answers, sending_s = asyncio.run(_send_all(port, warmup, load, per_s))
        engine = create_db_engine(url)
        try:
            wait_until_processed(engine)
            records = completion_lines(lambda: read_log_records(log_path),
                                       [d.delivery_id for d in load])
            e2e, lags, drain_s, lost = e2e_figures(engine, load, answers, records)
        finally:
            engine.dispose()
    acks = [a.latency_ms for a in answers if a.measured and a.status == 200]
    doubles = count_double_processing(records)
    return E2eResult(
        deliveries=len(load), offered_per_s=round(rate(len(load), sending_s), 1),
        e2e_per_s=round(e2e, 1), lag_p50_ms=round(percentile(lags, 50), 1),
        lag_p99_ms=round(percentile(lags, 99), 1), drain_s=round(drain_s, 2),
        ack_p99_ms=round(percentile(acks, 99), 2), lost=lost, double_processed=doubles.total,
    )


def bench_webhook_e2e_sqlite(workdir: Path) -> list[Figure]:
    """The embedded-stack run; see the module docstring for each figure."""
    result = run_e2e(workdir)
    return [
        Figure("webhook_load_deliveries_sqlite", result.deliveries, "n"),
        Figure("webhook_load_offered_per_s_sqlite", result.offered_per_s, "/s",
               f">= {RATE_PER_S}"),
        Figure("webhook_e2e_per_s_sqlite", result.e2e_per_s, "/s", f">= {RATE_PER_S}"),
        Figure("webhook_lag_p50_ms_sqlite", result.lag_p50_ms, "ms"),
        Figure("webhook_lag_p99_ms_sqlite", result.lag_p99_ms, "ms", "<= 2000"),
        Figure("webhook_load_drain_s_sqlite", result.drain_s, "s", "<= 5"),
        Figure("webhook_load_ack_p99_ms_sqlite", result.ack_p99_ms, "ms", "< 100"),
        Figure("webhook_load_lost_sqlite", result.lost, "n", "0"),
        Figure("webhook_load_duplicated_sqlite", result.double_processed, "n", "0"),
    ]


if __name__ == "__main__":
    import os
    import tempfile

    os.environ.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    per_s = float(sys.argv[1]) if len(sys.argv) > 1 else RATE_PER_S
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else DURATION_S
    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-") as tmp:
        print(run_e2e(Path(tmp), per_s, duration))
