"""PostgreSQL connections cut, then refused, under webhook load on two backend processes.

Requests fail cleanly (503, never 500) while the database is away, `/api/health?deep=1` says so
(503, database error) while liveness stays 200, and afterwards every accepted delivery is
processed exactly once; deliveries answered 503 are redelivered, as GitHub's "Redeliver" would.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.routes import SESSION_COOKIE
from gitpulse_app.intelligence.scheduler.tick import run_tick
from tests.faults.harness import (
    WEBHOOK_SECRET,
    Backend,
    Delivery,
    Ledger,
    database_down,
    database_name,
    deliver,
    fact_counts,
    make_deliveries,
    open_envelopes,
    terminate_connections,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RATE_PER_S = 60
CUTS = 8
OUTAGE_S = 3.0


@dataclass
class Load:
    """Deliveries posted at a steady rate, round-robin over the backends, from a few threads."""

    backends: list[Backend]
    deliveries: list[Delivery]
    answers: list[tuple[Delivery, int, float]] = field(default_factory=list)  # + when sent
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _post(self, client: httpx.Client, backend: Backend, delivery: Delivery) -> None:
        sent = time.monotonic()
        try:
            status = deliver(client, backend.url, delivery)
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self.answers.append((delivery, status, sent))

    def _run(self) -> None:
        with httpx.Client(timeout=15) as client, ThreadPoolExecutor(8) as pool:
            started = time.monotonic()
            for index, delivery in enumerate(self.deliveries):
                if self._stop.is_set():
                    break
                pool.submit(self._post, client, self.backends[index % len(self.backends)],
                            delivery)
                time.sleep(max(0.0, started + (index + 1) / RATE_PER_S - time.monotonic()))

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def statuses(self, sent_from: float = 0.0, sent_until: float = float("inf")) -> Counter[int]:
        """Answers to the requests sent in [sent_from, sent_until)."""
        with self._lock:
            return Counter(status for _, status, sent in self.answers
                           if sent_from <= sent < sent_until)


def settled(engine, quiet_s: float = 3.0, limit_s: float = 30.0) -> int:
    """Wait until no envelope is open, or their number stopped changing; returns it."""
    deadline = time.monotonic() + limit_s
    last, changed = open_envelopes(engine), time.monotonic()
    while last and time.monotonic() - changed < quiet_s and time.monotonic() < deadline:
        time.sleep(0.25)
        current = open_envelopes(engine)
        if current != last:
            last, changed = current, time.monotonic()
    return last


def envelope_statuses(engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM webhook_events GROUP BY status")).all()))


def signed_in_cookie() -> dict[str, str]:
    with session_scope() as session:
        user = User(gh_id=4242, gh_login="cutter", timezone="UTC", signed_up_at=utcnow())
        session.add(user)
        session.flush()
        return {SESSION_COOKIE: start_session(session, user.id, "fault-suite")}


def test_cut_and_refused_connections_answer_503_and_lose_no_accepted_delivery(
    pg_engine, backends, run_log, record_counts
):
    database = database_name(pg_engine)
    pair = [backends(pg_engine, GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET).launch() for _ in range(2)]
    for backend in pair:
        backend.wait_ready()
    cookie = signed_in_cookie()
    deliveries = make_deliveries(RATE_PER_S * 20, "cut")
    outage: dict[str, list[int]] = {"deep": [], "liveness": [], "export": [], "markdown": []}
    deep_bodies = []

    with Load(pair, deliveries) as load, httpx.Client(timeout=15) as client, \
            httpx.Client(timeout=15, cookies=cookie) as signed_in:
        time.sleep(1)
        cut = 0
        for _ in range(CUTS):  # connections cut: each in-flight query fails
            cut += terminate_connections(database)
            time.sleep(0.25)
        with database_down(database):  # and refused for a while
            down_at = time.monotonic()
            time.sleep(0.5)
            for backend in pair:
                deep = client.get(f"{backend.url}/api/health?deep=1")
                outage["deep"].append(deep.status_code)
                deep_bodies.append(deep.json())
                outage["liveness"].append(client.get(f"{backend.url}/api/health").status_code)
                outage["export"].append(
                    signed_in.get(f"{backend.url}/api/export/timeline.csv").status_code)
                outage["markdown"].append(
                    signed_in.get(f"{backend.url}/api/reports/1.md").status_code)
            time.sleep(OUTAGE_S)
        back_at = time.monotonic()
        time.sleep(2.5)
    statuses = load.statuses()
    during = load.statuses(down_at + 0.1, back_at)
    after = load.statuses(back_at + 0.5)  # sent once the database was back

    assert set(statuses) <= {200, 503}, statuses  # clean refusals, never a 500 or a broken reply
    assert 503 in during, "no delivery was refused while the database was away"
    assert outage["deep"] == [503, 503] and outage["liveness"] == [200, 200]
    assert all(body["status"] == "error" and body["services"]["database"]["status"] == "error"
               for body in deep_bodies)
    # Signed in, but the session cannot be checked: 503, not a 500 and not a false 401.
    assert outage["export"] == outage["markdown"] == [503, 503], outage
    assert set(after) == {200}, after  # answered normally once the database is back

    # GitHub's "Redeliver" for every refused delivery; each is accepted now.
    accepted = {d.delivery_id for d, status, _ in load.answers if status == 200}
    refused = list({d.delivery_id: d for d, status, _ in load.answers
                    if status != 200 and d.delivery_id not in accepted}.values())
    with httpx.Client(timeout=15) as client:
        assert [deliver(client, pair[0].url, d) for d in refused] == [200] * len(refused)
    sent = list({d.delivery_id: d for d, _, _ in load.answers}.values())

    # The backends drain what they can: an outcome the database refused is written by the next
    # drain, retries wait out their backoff, and a claim whose own commit was cut (so the backend
    # never learnt it holds it) waits for the zombie sweep. A tick 11 minutes on runs the sweep and
    # every due retry, as the leader would.
    settled(pg_engine)
    waiting = envelope_statuses(pg_engine)  # retries in their backoff; claims nobody can finish
    run_tick(utcnow() + dt.timedelta(minutes=11))
    assert open_envelopes(pg_engine) == 0

    ledger = Ledger.check(pg_engine, sent, run_log)
    assert ledger.lost == [] and ledger.duplicated == 0
    assert set(fact_counts(pg_engine)) == {d.fact for d in sent}
    with httpx.Client(timeout=15) as client:
        for backend in pair:  # the deep check is cached for 30 s; then it reports ok again
            wait_for(lambda: client.get(f"{backend.url}/api/health?deep=1").status_code == 200,
                     40, "deep health never recovered", interval=1)
    record_counts(faults_injected=CUTS + 1, connections_cut=cut, outage_s=OUTAGE_S,
                  deliveries=len(sent),
                  answered_503=statuses[503], redelivered=len(refused),
                  retries_in_backoff=waiting["pending"],
                  claims_until_sweep=waiting["processing"], export_during_outage=outage["export"],
                  markdown_during_outage=outage["markdown"],
                  lost=len(ledger.lost), duplicated=ledger.duplicated)
