"""Webhook load (issue 10): 200 signed deliveries per second for 30 s against two backend workers.

`uvicorn gitpulse_app.api:app --workers 2` runs on a throwaway PostgreSQL database, each worker
with its in-process webhook processor. Every delivery has its own id and yields one fact; every
40th is sent a second time shortly after, as a replay that must change nothing. Every answer must
be 200. Then we wait until no envelope is pending or processing and count:

- `webhook_load_lost`: deliveries not acknowledged with 200, or acknowledged but without exactly one
  completed envelope, or whose fact is missing;
- `webhook_load_duplicated`: envelopes completed twice and facts announced twice with the
  same content, counted from the workers' log lines (tests/support/doubles.py) — not from rows,
  which unique constraints keep unique whatever happens;
- `webhook_load_ack_p50_ms` / `webhook_load_ack_p99_ms`: first byte out to last byte in;
- `webhook_load_drain_s_uvicorn`: from the last send until every envelope is processed;
- `webhook_e2e_per_s_uvicorn` / `webhook_lag_p99_ms_uvicorn`: deliveries ÷ (last `processed_at` − first
  `received_at`), and the p99 of `processed_at − received_at`.

This is `uvicorn --workers 2` on PostgreSQL, not `make prod` (Granian); its figures say nothing
about the embedded SQLite stack either (bench/webhook_e2e.py measures that one).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from bench.run import Figure
from bench.server import free_port, stop_server
from bench.stats import percentile, rate
from tests.support.doubles import (
    completion_lines,
    count_double_processing,
    read_log_records,
)

SECRET = "bench-load-webhook-secret"
RATE_PER_S = 200
DURATION_S = 30
REPLAY_EVERY = 40  # every 40th delivery is sent again…
REPLAY_AFTER_S = 1.5  # …this long after the first time
WARMUP = 40
WORKERS = 2
REQUEST_TIMEOUT_S = 30
PROCESSING_TIMEOUT_S = 300
PG_ADMIN_URL = os.environ.get(
    "GITPULSE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PATH = "/api/webhooks/github"
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests/fixtures/github/webhooks"
# One template per event; each delivery gets its own number or commit, hence its own fact.
TEMPLATES = (
    ("pull_request", "pull_request/opened.payload.json"),
    ("issues", "issues/opened.payload.json"),
    ("push", "push/with-new-branch.payload.json"),
)


@dataclass(frozen=True)
class Delivery:
    """One signed request and the fact (type, source URL) processing it must store."""

    delivery_id: str
    request: bytes
    fact: tuple[str, str]


@dataclass(frozen=True)
class Answer:
    delivery_id: str
    status: int
    latency_ms: float
    measured: bool


# Deliveries ---------------------------------------------------------------------------------------
def _payload(event: str, template: dict[str, Any], n: int) -> dict[str, Any]:
    payload = copy.deepcopy(template)
    repo = payload["repository"]["full_name"]
    if event == "pull_request":
        payload["number"] = payload["pull_request"]["number"] = n
        payload["pull_request"]["id"] = 500_000_000 + n
        payload["pull_request"]["html_url"] = f"https://github.com/{repo}/pull/{n}"
    elif event == "issues":
        payload["issue"]["number"] = n
        payload["issue"]["id"] = 600_000_000 + n
        payload["issue"]["html_url"] = f"https://github.com/{repo}/issues/{n}"
    else:
        sha = f"{n:040x}"
        commit = payload["commits"][0]
        commit["id"] = sha
        commit["url"] = f"https://github.com/{repo}/commit/{sha}"
        payload["head_commit"] = commit
        payload["after"] = sha
    return payload


def _request(event: str, delivery_id: str, body: bytes) -> bytes:
    from gitpulse_app.acquisition.webhooks.signature import sign

    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"User-Agent: GitHub-Hookshot/bench\r\nContent-Length: {len(body)}\r\n"
            f"X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {delivery_id}\r\n"
            f"X-Hub-Signature-256: {sign(body, SECRET)}\r\n\r\n")
    return head.encode("ascii") + body


def build_deliveries(count: int, prefix: str, first_number: int) -> list[Delivery]:
    """`count` deliveries cycling through the templates, each with a distinct fact."""
    from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook

    templates = [(event, json.loads((FIXTURES / name).read_text())) for event, name in TEMPLATES]
    deliveries = []
    for index in range(count):
        event, template = templates[index % len(templates)]
        payload = _payload(event, template, first_number + index)
        (fact,) = canonicalize_webhook(event, payload)  # exactly one fact per delivery
        delivery_id = f"{prefix}-{index:05d}-{secrets.token_hex(4)}"
        body = json.dumps(payload, separators=(",", ":")).encode()
        deliveries.append(Delivery(delivery_id, _request(event, delivery_id, body),
                                   (fact.type, fact.source_url)))
    return deliveries


# The load client ----------------------------------------------------------------------------------
class _Connections:
    """Kept-alive HTTP/1.1 connections: an idle one is reused, else a new one is opened.

    A raw client keeps its own CPU cost (an HTTP library spends more per request than the receiver
    does) out of the measured latency; opening more connections keeps the offered rate steady when
    answers slow down. Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes
    them, and a request the server closed a reused connection on, unanswered, is sent again on a
    new one (a webhook sender does the same; a replayed delivery id is answered 200 and ignored).
    """

    IDLE_LIMIT_S = 4.0

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.resent = 0

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes) -> tuple[int, bool]:
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection without answering")
        length, keep_alive = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep_alive = False
        await reader.readexactly(length)
        return int(status_line.split()[1]), keep_alive

    async def _connection(self, fresh: bool
                          ) -> tuple[bool, asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle and not fresh:
            since, reader, writer = self.idle.pop()
            if now - since < self.IDLE_LIMIT_S:
                return True, reader, writer
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1
        return False, reader, writer

    async def send(self, request: bytes, fresh: bool = False) -> tuple[int, float]:
        """Status (0 when the exchange broke) and latency in ms of one request."""
        reused, reader, writer = await self._connection(fresh)
        started = time.perf_counter()
        try:
            status, keep_alive = await asyncio.wait_for(
                self._exchange(reader, writer, request), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
            writer.close()
            if reused:
                self.resent += 1
                return await self.send(request, fresh=True)
            return 0, (time.perf_counter() - started) * 1000
        latency = (time.perf_counter() - started) * 1000
        if keep_alive:
            self.idle.append((time.monotonic(), reader, writer))
        else:
            writer.close()
        return status, latency

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _offer(connections: _Connections, schedule: list[tuple[float, Delivery]],
                 measured: bool) -> tuple[list[Answer], float]:
    """Send each delivery at its offset (seconds from now), whatever earlier answers do.

    Returns:
        The answers, and the seconds from the first send to the last.
    """

    async def one(delivery: Delivery) -> Answer:
        status, latency = await connections.send(delivery.request)
        return Answer(delivery.delivery_id, status, latency, measured)

    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    tasks = []
    for offset, delivery in schedule:
        delay = start + offset - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(delivery)))
    sending_s = loop.time() - start
    return list(await asyncio.gather(*tasks)), sending_s


def load_schedule(deliveries: list[Delivery]) -> list[tuple[float, Delivery]]:
    """Deliveries at RATE_PER_S, plus a replay of every REPLAY_EVERY-th one within the window."""
    schedule = [(index / RATE_PER_S, d) for index, d in enumerate(deliveries)]
    schedule += [(index / RATE_PER_S + REPLAY_AFTER_S, d)
                 for index, d in enumerate(deliveries)
                 if index % REPLAY_EVERY == REPLAY_EVERY - 1
                 and index / RATE_PER_S + REPLAY_AFTER_S < len(deliveries) / RATE_PER_S]
    return sorted(schedule, key=lambda item: item[0])


@dataclass(frozen=True)
class Run:
    answers: list[Answer]
    sending_s: float
    connections: int
    resent: int


async def _drive(port: int, warmup: list[Delivery], load: list[tuple[float, Delivery]]) -> Run:
    connections = _Connections("127.0.0.1", port)
    try:
        answers, _ = await _offer(connections, [(i * 0.02, d) for i, d in enumerate(warmup)],
                                  False)
        await asyncio.sleep(1)
        measured, sending_s = await _offer(connections, load, True)
        return Run(answers + measured, sending_s, connections.opened, connections.resent)
    finally:
        connections.close()


# Servers and databases ----------------------------------------------------------------------------
@contextlib.contextmanager
def throwaway_database(prefix: str = "gitpulse_bench") -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped WITH (FORCE) afterwards; yields its URL."""
    admin = sa.create_engine(PG_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL is needed for the load benchmark ({exc.orig})") from None
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


@contextlib.contextmanager
def serve_workers(database_url: str, log_path: Path, workers: int = WORKERS) -> Iterator[int]:
    """`uvicorn gitpulse_app.api:app --workers N` on a migrated database; yields its port."""
    from gitpulse_app.core import migrate

    migrate.upgrade(database_url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "GITHUB_WEBHOOK_SECRET": SECRET,
           "PYTHONUNBUFFERED": "1"}
    env.setdefault("GITPULSE_SECRET_KEY", "bench-secret")
    with log_path.open("ab") as log:  # the server keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "gitpulse_app.api:app", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--log-level", "warning",
             "--no-access-log"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn workers did not start within 90 s")
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                if ready.status_code == 200 and len(_children(process.pid)) >= workers:
                    break
            time.sleep(0.2)
        time.sleep(2)  # the other worker finishes its start-up (lifespan, first poll)
        yield port
    finally:
        stop_server(process, 30)


def wait_until_processed(engine: Engine, timeout_s: float = PROCESSING_TIMEOUT_S) -> float:
    """Seconds until no envelope is pending or processing (or the timeout)."""
    started = time.perf_counter()
    query = sa.text("SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'processing')")
    while True:
        with engine.connect() as conn:
            open_envelopes = conn.execute(query).scalar_one()
        elapsed = time.perf_counter() - started
        if open_envelopes == 0 or elapsed > timeout_s:
            return elapsed
        time.sleep(0.25)


# Accounting ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tally:
    unique: int
    lost: int
    double_processed: int
    errors: int
    retried: int


def tally(engine: Engine, deliveries: list[Delivery], answers: list[Answer],
          records: list[dict[str, Any]]) -> Tally:
    """Lost deliveries, from the answers and the database; double processing, from the log."""
    first_status: dict[str, int] = {}
    for answer in answers:
        first_status.setdefault(answer.delivery_id, answer.status)
    with engine.connect() as conn:
        envelopes = conn.execute(sa.text(
            "SELECT delivery_id, status, attempts FROM webhook_events")).all()
        facts = Counter({(row.type, row.source_url): row.n for row in conn.execute(sa.text(
            "SELECT type, source_url, count(*) AS n FROM events GROUP BY type, source_url"))})
    per_id: dict[str, list[str]] = {}
    for row in envelopes:
        per_id.setdefault(row.delivery_id, []).append(row.status)
    lost = sum(1 for d in deliveries
               if first_status.get(d.delivery_id) != 200  # refused or never answered
               or per_id.get(d.delivery_id) != ["completed"] or facts[d.fact] < 1)
    return Tally(
        unique=len(deliveries),
        lost=lost,
        double_processed=count_double_processing(records).total,
        errors=sum(1 for a in answers if a.status != 200),
        retried=sum(1 for row in envelopes if row.attempts > 1),
    )


def bench_webhook_load(workdir: Path) -> list[Figure]:
    """The load benchmark; see the module docstring for what each figure counts."""
    warmup = build_deliveries(WARMUP, "warmup", 1_000_000)
    deliveries = build_deliveries(RATE_PER_S * DURATION_S, "load", 2_000_000)
    schedule = load_schedule(deliveries)
    with throwaway_database() as url:
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            log_path = workdir / "load-server.log"
            with serve_workers(url, log_path) as port:
                run = asyncio.run(_drive(port, warmup, schedule))
                drain_s = wait_until_processed(engine)
            records = completion_lines(lambda: read_log_records(log_path),
                                       [d.delivery_id for d in deliveries])
            result = tally(engine, warmup + deliveries, run.answers, records)
            e2e_per_s, lag_p99_ms = processing_figures(engine, deliveries)
        finally:
            engine.dispose()
    latencies = [a.latency_ms for a in run.answers if a.measured and a.status == 200]
    statuses = Counter(a.status for a in run.answers)
    print(f"webhook load: {len(schedule)} requests in {run.sending_s:.1f} s over "
          f"{run.connections} connections ({run.resent} resent after an idle close); "
          f"answers {dict(statuses)}; {result.retried} envelope(s) needed a second attempt",
          file=sys.stderr)
    return [
        Figure("webhook_load_deliveries", result.unique, "n"),
        Figure("webhook_load_offered_per_s", round(len(schedule) / run.sending_s, 1), "/s",
               f">= {RATE_PER_S}"),
        Figure("webhook_load_non_200", result.errors, "n", "0"),
        Figure("webhook_load_lost", result.lost, "n", "0"),
        Figure("webhook_load_duplicated", result.double_processed, "n", "0"),
        Figure("webhook_load_ack_p50_ms", round(percentile(latencies, 50), 2), "ms"),
        Figure("webhook_load_ack_p99_ms", round(percentile(latencies, 99), 2), "ms", "< 100"),
        Figure("webhook_load_drain_s_uvicorn", round(drain_s, 1), "s"),
        Figure("webhook_e2e_per_s_uvicorn", round(e2e_per_s, 1), "/s", f">= {RATE_PER_S}"),
        Figure("webhook_lag_p99_ms_uvicorn", round(lag_p99_ms, 1), "ms", "<= 2000"),
    ]


def processing_figures(engine: Engine, deliveries: list[Delivery]) -> tuple[float, float]:
    """(end-to-end deliveries/s, lag p99 in ms) of `deliveries`, from their envelopes."""
    ids = {d.delivery_id for d in deliveries}
    with engine.connect() as conn:
        rows = [row for row in conn.execute(sa.text(
            "SELECT delivery_id, received_at, processed_at FROM webhook_events "
            "WHERE processed_at IS NOT NULL")) if row.delivery_id in ids]
    if not rows:
        raise RuntimeError("no delivery of the load was processed")
    lags = [(row.processed_at - row.received_at).total_seconds() * 1000 for row in rows]
    span = max(row.processed_at for row in rows) - min(row.received_at for row in rows)
    return rate(len(rows), span.total_seconds()), percentile(lags, 99)
