"""Webhook load on the real `make prod` stack (issue 16): the realistic mix at 200/s for 60 s.

`make prod` runs as an operator would start it — Reflex's prod mode under Granian with two
workers, a throwaway PostgreSQL database and a Redis database of its own, the frontend built once —
and the whole process group is stopped afterwards (SIGTERM, then SIGKILL). The deliveries are the
embedded-stack benchmark's mix (bench/mix.py: a pull request opened, an issue comment, a review, a
push of three commits), signed, offered at RATE_PER_S for DURATION_S whatever the answers do. The
figures are counted exactly as bench/webhook_e2e.py counts them, with the suffix `_prod`:

- `webhook_e2e_per_s_prod`: measured deliveries ÷ (last `processed_at` − first `received_at`);
- `webhook_lag_p99_ms_prod`: p99 of `processed_at − received_at`;
- `webhook_load_drain_s_prod`: last `processed_at` − last `received_at` (the queue is empty then);
- `webhook_load_lost_prod`: not answered 200, or without a completed envelope, or a fact missing;
- `webhook_load_duplicated_prod`: envelopes completed twice and facts announced twice, counted
  from the workers' log lines (tests/support/doubles.py);
- `webhook_load_ack_p99_ms_prod`: first byte out to last byte in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bench.load import SECRET, throwaway_database, wait_until_processed
from bench.mix import build_mix
from bench.run import Figure
from bench.server import free_port
from bench.stats import percentile, rate
from bench.webhook_e2e import _send_all, e2e_figures
from tests.support.doubles import (
    completion_lines,
    count_double_processing,
    read_log_records,
)

RATE_PER_S = 200
DURATION_S = 60
WARMUP = 40
WORKERS = 2
REDIS_HOST = "redis://127.0.0.1:6379"
REDIS_DATABASES = 16  # Redis's default `databases` setting
START_TIMEOUT_S = 900  # the first start builds the frontend
STOP_TIMEOUT_S = 30
ROOT = Path(__file__).resolve().parents[1]


def free_redis_db(sizes: Mapping[int, int]) -> int:
    """The highest-numbered empty database (index 0 is left to whatever uses the default).

    Args:
        sizes: key count per database index (indexes absent hold no keys).
    """
    for index in range(REDIS_DATABASES - 1, 0, -1):
        if sizes.get(index, 0) == 0:
            return index
    raise RuntimeError("no empty Redis database is left for the prod benchmark")


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """An empty Redis database, flushed afterwards; yields its URL."""
    import redis

    client = redis.Redis.from_url(REDIS_HOST)
    try:
        keyspace = client.info("keyspace")
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis is needed for the prod benchmark ({exc})") from None
    index = free_redis_db({int(name[2:]): info["keys"] for name, info in keyspace.items()})
    try:
        yield f"{REDIS_HOST}/{index}"
    finally:
        redis.Redis.from_url(f"{REDIS_HOST}/{index}").flushdb()
        client.close()


def prod_environment(database_url: str, redis_url: str, port: int) -> dict[str, str]:
    """The environment `make prod` is started with: ours replaces any inherited app setting."""
    base = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("GITPULSE_", "GITHUB_", "DATABASE_URL", "REDIS_URL"))}
    return inherited | {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "GITPULSE_BASE_URL": base,
        "GITPULSE_API_URL": base, "PORT": str(port), "HOST": "127.0.0.1",
        "WORKERS": str(WORKERS), "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITPULSE_SECRET_KEY": "bench-prod-secret-key", "PYTHONUNBUFFERED": "1",
        "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
    }


def stop_group(process: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM to the whole process group (make, reflex, Granian and its workers), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):  # stragglers of the group, if any
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def make_prod(database_url: str, redis_url: str, log_path: Path) -> Iterator[int]:
    """`make prod` in its own process group; yields its port once /api/health answers 200."""
    port = free_port()
    with log_path.open("ab") as log:  # the processes keep their own copy of the descriptor
        process = subprocess.Popen(["make", "prod"], cwd=ROOT,
                                   env=prod_environment(database_url, redis_url, port),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"make prod exited: {log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"make prod did not answer within {START_TIMEOUT_S} s")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        time.sleep(3)  # the other worker finishes its start-up (lifespan, first poll)
        yield port
    finally:
        stop_group(process)


def bench_webhook_load_prod(workdir: Path) -> list[Figure]:
    """The `make prod` run; see the module docstring for each figure."""
    warmup = build_mix(WARMUP, "warmup", 1_000_000)
    load = build_mix(RATE_PER_S * DURATION_S, "load", 2_000_000)
    log_path = workdir / "prod-load.log"
    with throwaway_database("gitpulse_bench_prod") as url, redis_database() as redis_url:
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            with make_prod(url, redis_url, log_path) as port:
                answers, sending_s = asyncio.run(_send_all(port, warmup, load, RATE_PER_S))
                waited_s = wait_until_processed(engine)
                records = completion_lines(lambda: read_log_records(log_path),
                                           [d.delivery_id for d in load])
                e2e, lags, drain_s, lost = e2e_figures(engine, load, answers, records)
        finally:
            engine.dispose()
    acks = [a.latency_ms for a in answers if a.measured and a.status == 200]
    print(f"webhook load (make prod): {len(load)} deliveries in {sending_s:.1f} s; "
          f"queue empty {waited_s:.1f} s after the last answer", file=sys.stderr)
    return [
        Figure("webhook_load_deliveries_prod", len(load), "n"),
        Figure("webhook_load_offered_per_s_prod", round(rate(len(load), sending_s), 1), "/s",
               f">= {RATE_PER_S}"),
        Figure("webhook_e2e_per_s_prod", round(e2e, 1), "/s", f"~ {RATE_PER_S} (offered)"),
        Figure("webhook_lag_p99_ms_prod", round(percentile(lags, 99), 1), "ms", "<= 2000"),
        Figure("webhook_load_drain_s_prod", round(drain_s, 2), "s", "<= 5"),
        Figure("webhook_load_ack_p99_ms_prod", round(percentile(acks, 99), 2), "ms", "< 100"),
        Figure("webhook_load_lost_prod", lost, "n", "0"),
        Figure("webhook_load_duplicated_prod", count_double_processing(records).total, "n", "0"),
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gitpulse-bench-prod-") as tmp:
        for figure in bench_webhook_load_prod(Path(tmp)):
            print(figure)
