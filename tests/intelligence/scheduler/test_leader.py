"""One leader across processes: the SQLite lease row, the PostgreSQL advisory lock, and
the jobs that run only in the leader. Hand-overs are driven with an injected clock and short
intervals; nothing sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core import migrate
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.db import create_db_engine
from gitpulse_app.core.models import ReportJobHistory, SchedulerLease
from gitpulse_app.core.workers import registered_workers
from gitpulse_app.intelligence.scheduler.jobs import Cadence, SchedulerService
from gitpulse_app.intelligence.scheduler.leader import (
    AdvisoryLockLeader,
    LeaseLeader,
    make_leader,
)
from tests.intelligence.scheduler.conftest import utc

ROOT = Path(__file__).resolve().parents[3]
T0 = utc(2025, 12, 5, 12, 0)
TICK = dt.timedelta(minutes=15)
# Holders on other machines: never "dead" to this host, so only expiry hands over.
HOST_A, HOST_B = "host-a:101:1", "host-b:202:2"


class Clock:
    """A settable clock for the scheduler service."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def lease_row(session: Session) -> SchedulerLease | None:
    session.expire_all()
    return session.get(SchedulerLease, "scheduler")


# The SQLite lease ----------------------------------------------------------------------------
def test_the_first_process_leads_and_writes_its_heartbeat(engine, session):
    a, b = LeaseLeader(holder=HOST_A), LeaseLeader(holder=HOST_B)

    assert a.acquire(T0) is True
    assert b.acquire(T0) is False

    row = lease_row(session)
    assert (row.holder, row.acquired_at, row.heartbeat_at) == (HOST_A, T0, T0)
    assert row.expires_at == T0 + dt.timedelta(minutes=30)


def test_the_leader_renews_at_every_tick_keeping_its_acquired_time(engine, session):
    a = LeaseLeader(holder=HOST_A)
    a.acquire(T0)

    assert a.acquire(T0 + TICK) and a.acquire(T0 + 2 * TICK)

    row = lease_row(session)
    assert (row.acquired_at, row.heartbeat_at) == (T0, T0 + 2 * TICK)
    assert row.expires_at == T0 + 2 * TICK + dt.timedelta(minutes=30)


def test_a_leader_on_another_host_is_replaced_after_two_missed_ticks(engine, session):
    a, b = LeaseLeader(holder=HOST_A), LeaseLeader(holder=HOST_B)
    a.acquire(T0)  # A's last tick; it dies before the next one
    first_missed = T0 + TICK

    taken_at = next(at for at in (first_missed + n * TICK for n in range(4)) if b.acquire(at))

    assert taken_at - first_missed <= 2 * TICK
    assert taken_at == T0 + 3 * TICK  # the ticks at +15 and +30 min are missed
    assert lease_row(session).holder == HOST_B
    assert a.check(taken_at) is False and a.leading is False


def test_a_dead_leader_on_this_host_is_replaced_at_the_next_tick(engine, session):
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = LeaseLeader(holder=f"{host}:{int(gone.stdout)}:12345")
    follower = LeaseLeader(holder=f"{host}:{os.getpid()}:other")
    dead.acquire(T0)

    assert follower.acquire(T0 + TICK) is True
    assert lease_row(session).acquired_at == T0 + TICK


def test_a_clean_shutdown_hands_over_at_the_next_tick(engine, session):
    a, b = LeaseLeader(holder=HOST_A), LeaseLeader(holder=HOST_B)
    a.acquire(T0)

    a.release(T0 + dt.timedelta(minutes=1))

    assert a.leading is False
    assert b.acquire(T0 + TICK) is True


def test_short_intervals_hand_over_just_the_same(engine):
    lease = dt.timedelta(seconds=2)  # a 1-second tick
    a = LeaseLeader(holder=HOST_A, lease=lease)
    b = LeaseLeader(holder=HOST_B, lease=lease)
    a.acquire(T0)
    second = dt.timedelta(seconds=1)

    assert [b.acquire(T0 + n * second) for n in (1, 2, 3)] == [False, False, True]


def test_only_one_of_two_followers_takes_an_expired_lease(engine, session):
    a, b, c = (LeaseLeader(holder=h) for h in (HOST_A, HOST_B, "host-c:3:3"))
    a.acquire(T0)
    later = T0 + dt.timedelta(hours=1)

    assert [b.acquire(later), c.acquire(later)] == [True, False]


def test_killing_the_leader_process_hands_over_at_the_next_tick(tmp_path):
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    migrate.upgrade(url)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import datetime as dt, sys, time
            from gitpulse_app.core.db import create_db_engine
            from gitpulse_app.intelligence.scheduler.leader import LeaseLeader
            leader = LeaseLeader(create_db_engine({url!r}))
            print(leader.acquire(dt.datetime.fromisoformat({T0.isoformat()!r})), flush=True)
            time.sleep(600)
        """)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        text=True)
    try:
        assert child.stdout.readline().strip() == "True"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    engine = create_db_engine(url)
    try:
        follower = LeaseLeader(engine)
        assert follower.acquire(T0 + TICK) is True  # not 30 minutes later
        with engine.connect() as conn:
            holder = conn.execute(sa.select(SchedulerLease.holder)).scalar_one()
        assert holder == claim_id()
    finally:
        engine.dispose()


# Jobs run only in the leader ----------------------------------------------------------------
def history_ticks(session: Session) -> list[dt.datetime]:
    session.expire_all()
    return sorted({row.tick_at for row in session.scalars(sa.select(ReportJobHistory))})


def test_only_the_leader_runs_jobs_and_the_follower_takes_over_when_it_dies(engine, session):
    clock = Clock(T0)
    a = SchedulerService(LeaseLeader(holder=HOST_A), clock=clock)
    b = SchedulerService(LeaseLeader(holder=HOST_B), clock=clock)

    async def scenario() -> list[dt.datetime]:
        assert await a.tick_job() is not None
        assert await b.tick_job() is None
        assert await b.drain_job() is None and await b.zombies_job() is None
        assert await a.drain_job() is not None
        # A dies here: it never runs again. B keeps trying at every tick.
        taken = []
        for n in range(1, 5):
            clock.now = T0 + n * TICK
            if await b.tick_job() is not None:
                taken.append(clock.now)
        return taken

    taken = asyncio.run(scenario())

    assert taken[0] <= (T0 + TICK) + 2 * TICK
    assert history_ticks(session) == [T0, *taken]


def test_jobs_are_registered_with_their_cadences(engine):
    service = SchedulerService(LeaseLeader(holder=HOST_A))
    jobs = {job.id: job for job in service.build().get_jobs()}

    assert set(jobs) == {"tick", "drain", "finalize", "unblock", "zombies"}
    minute = next(field for field in jobs["tick"].trigger.fields if field.name == "minute")
    assert str(minute) == "0,15,30,45" and str(jobs["tick"].trigger.timezone) == "UTC"
    assert {name: jobs[name].trigger.interval for name in ("drain", "finalize", "unblock",
                                                           "zombies")} == {
        "drain": dt.timedelta(seconds=10), "finalize": dt.timedelta(minutes=1),
        "unblock": dt.timedelta(minutes=5), "zombies": dt.timedelta(minutes=10)}


def test_start_takes_the_lease_with_a_heartbeat_and_stop_releases_it(engine, session):
    clock = Clock(T0)
    service = SchedulerService(LeaseLeader(holder=HOST_A), clock=clock,
                               cadence=Cadence(drain=dt.timedelta(hours=1)))

    async def scenario() -> None:
        await service.start()
        assert service.scheduler.running and service.leader.leading
        clock.now = T0 + dt.timedelta(minutes=3)
        await service.stop()

    asyncio.run(scenario())

    row = lease_row(session)
    assert (row.holder, row.heartbeat_at, row.expires_at) == (HOST_A, T0,
                                                              T0 + dt.timedelta(minutes=3))
    assert LeaseLeader(holder=HOST_B).acquire(T0 + dt.timedelta(minutes=4))


def test_the_scheduler_is_a_registered_worker():
    assert "scheduler" in registered_workers()


def test_sqlite_uses_the_lease_row(engine):
    assert isinstance(make_leader(), LeaseLeader)


# PostgreSQL advisory lock -------------------------------------------------------------------
@pytest.fixture
def admin(pg_engine):
    """A separate connection that can end other sessions."""
    engine = create_db_engine(pg_engine.url.render_as_string(hide_password=False),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def terminate(admin, backend_pid: int) -> None:
    # Waits (up to 5 s) until that backend has really exited, so its lock is gone.
    admin.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": backend_pid})


@pytest.mark.postgres
def test_postgres_uses_an_advisory_lock_and_one_process_leads(pg_engine):
    a, b = make_leader(holder=HOST_A), make_leader(holder=HOST_B)
    try:
        assert isinstance(a, AdvisoryLockLeader)
        assert a.acquire(T0) is True and b.acquire(T0) is False
        assert a.acquire(T0 + TICK) is True and b.acquire(T0 + TICK) is False
        with Session(pg_engine) as session:
            row = lease_row(session)
            assert (row.holder, row.heartbeat_at) == (HOST_A, T0 + TICK)
    finally:
        a.release(T0)
        b.release(T0)


@pytest.mark.postgres
def test_killing_the_leaders_connection_hands_over_at_the_next_tick(pg_engine, admin):
    a, b = AdvisoryLockLeader(holder=HOST_A), AdvisoryLockLeader(holder=HOST_B)
    try:
        a.acquire(T0)
        assert b.acquire(T0) is False

        terminate(admin, a.backend_pid)

        assert a.check(T0 + dt.timedelta(seconds=10)) is False  # SELECT 1 fails: stop leading
        assert b.acquire(T0 + TICK) is True
        assert a.acquire(T0 + TICK) is False  # reconnected; the lock is taken now
        assert b.check(T0 + TICK + dt.timedelta(seconds=10)) is True
    finally:
        a.release(T0)
        b.release(T0)


@pytest.mark.postgres
def test_killing_the_leader_process_hands_over_at_the_next_tick_on_postgres(pg_engine, admin):
    url = pg_engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import datetime as dt, time
            from gitpulse_app.core.db import create_db_engine
            from gitpulse_app.intelligence.scheduler.leader import AdvisoryLockLeader
            leader = AdvisoryLockLeader(create_db_engine({url!r}), holder="child:1:1")
            leader.acquire(dt.datetime.fromisoformat({T0.isoformat()!r}))
            print(leader.backend_pid, flush=True)
            time.sleep(600)
        """)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        text=True)
    follower = AdvisoryLockLeader(holder=HOST_B)
    try:
        backend = int(child.stdout.readline())
        assert follower.acquire(T0) is False
        child.send_signal(signal.SIGKILL)
        child.wait()
        terminate(admin, backend)  # the server notices the closed socket; make sure it has

        assert follower.acquire(T0 + TICK) is True
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        follower.release(T0)


@pytest.mark.postgres
def test_a_clean_shutdown_frees_the_advisory_lock_at_once(pg_engine):
    a, b = AdvisoryLockLeader(holder=HOST_A), AdvisoryLockLeader(holder=HOST_B)
    try:
        a.acquire(T0)
        a.release(T0 + dt.timedelta(minutes=1))
        assert b.acquire(T0 + dt.timedelta(minutes=1)) is True
    finally:
        b.release(T0)
