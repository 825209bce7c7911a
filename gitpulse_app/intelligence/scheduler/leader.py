"""Leader election for the scheduler: only one process runs the periodic jobs.

Why this design: docs/decisions/leader-election.md.

Every backend process runs the scheduler; its jobs work only in the leader, whose holder id is its
claim id (`core.claims`). Two implementations share one small interface:

- `acquire(now)` — at startup and at every tick: become or stay the leader; the leader writes
  `heartbeat_at` (the heartbeat `/api/health?deep=1` reads) each time.
- `check(now)` — before every other job: is this process still the leader?
- `release(now)` — clean shutdown.

PostgreSQL: `pg_try_advisory_lock` on a dedicated connection held for the process lifetime, so the
lock goes away when the process (or its connection) dies. Before each job the leader runs `SELECT 1`
on that connection; on an error it stops leading, and the next tick reconnects and tries again.

SQLite: the `scheduler_leases` row "scheduler" is the lease: taken when the holder is us, the lease
has expired (`expires_at < now`, with `expires_at = heartbeat + 30 min`, so a dead leader is
replaced after two missed ticks), or the holder is a process on this host that is gone. Every
change is a compare-and-set on the holder and expiry read just before, so two followers never both
win. A clean shutdown ends the lease at once.

The clock is always passed in (`now`) and the lease length is a constructor argument, so tests
drive hand-overs with an injected clock and short intervals instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from gitpulse_app.core.claims import claim_id, holder_is_dead
from gitpulse_app.core.db import create_db_engine, get_engine, session_scope, try_insert
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import SchedulerLease

log = get_logger(__name__)

LEASE_NAME = "scheduler"
LEASE_DURATION = dt.timedelta(minutes=30)
# Any constant works as long as every GitPulse process uses the same one: "GitPulse" in ASCII.
ADVISORY_LOCK_KEY = 0x47697450756C7365

_leases = SchedulerLease.__table__



def _expire_lease(engine: Engine | None, holder: str, now: dt.datetime) -> None:
    """End `holder`'s lease row now, so the next tick of any process may lead."""
    with session_scope(engine) as session:
        session.connection().execute(
            sa.update(_leases)
            .where(_leases.c.name == LEASE_NAME, _leases.c.holder == holder)
            .values(expires_at=now, updated_at=now))

class Leader(Protocol):
    """What the scheduler needs from an election."""

    holder: str

    @property
    def leading(self) -> bool: ...

    def acquire(self, now: dt.datetime) -> bool: ...

    def check(self, now: dt.datetime) -> bool: ...

    def release(self, now: dt.datetime) -> None: ...


def write_heartbeat(holder: str, now: dt.datetime, lease: dt.timedelta = LEASE_DURATION,
                    engine: Engine | None = None) -> None:
    """Record `holder` as the scheduler with a heartbeat at `now` (PostgreSQL leaders).

    On PostgreSQL the row is not a lease (the advisory lock is); it tells health checks and
    operators who leads and when it last ticked.
    """
    values = {"holder": holder, "heartbeat_at": now, "expires_at": now + lease, "updated_at": now}
    with session_scope(engine) as session:
        connection = session.connection()
        changed = connection.execute(
            sa.update(_leases).where(_leases.c.name == LEASE_NAME, _leases.c.holder == holder)
            .values(**values)).rowcount
        if changed:
            return
        if try_insert(connection, _leases, {"name": LEASE_NAME, "acquired_at": now,
                                            "created_at": now, **values}, ["name"]):
            return
        connection.execute(sa.update(_leases).where(_leases.c.name == LEASE_NAME)
                           .values(acquired_at=now, **values))


class LeaseLeader:
    """Leadership through the `scheduler_leases` row (SQLite).

    Args:
        engine: The database (default: the process-wide engine).
        holder: This process's holder id (default: its claim id).
        lease: How long a heartbeat keeps the lease (30 min: two missed ticks).
    """

    def __init__(self, engine: Engine | None = None, *, holder: str | None = None,
                 lease: dt.timedelta = LEASE_DURATION) -> None:
        self._engine = engine
        self.holder = holder or claim_id()
        self.lease = lease
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    def _set_leading(self, leading: bool, now: dt.datetime, lost: str = "lost") -> bool:
        if leading != self._leading:
            log_fields(log, logging.INFO,
                       "Scheduler leadership taken" if leading else f"Scheduler leadership {lost}",
                       holder=self.holder, at=now.isoformat())
        self._leading = leading
        return leading

    def _take(self, connection: Connection, now: dt.datetime) -> bool:
        row = connection.execute(
            sa.select(_leases.c.holder, _leases.c.expires_at, _leases.c.acquired_at)
            .where(_leases.c.name == LEASE_NAME)).first()
        renewal = {"heartbeat_at": now, "expires_at": now + self.lease, "updated_at": now}
        if row is None:
            return try_insert(connection, _leases, {
                "name": LEASE_NAME, "holder": self.holder, "acquired_at": now,
                "created_at": now, **renewal}, ["name"])
        mine = row.holder == self.holder
        if not (mine or row.expires_at < now or holder_is_dead(row.holder)):
            return False
        # Compare-and-set on what we just read: of two followers, exactly one wins.
        return connection.execute(
            sa.update(_leases)
            .where(_leases.c.name == LEASE_NAME, _leases.c.holder == row.holder,
                   _leases.c.expires_at == row.expires_at)
            .values(holder=self.holder, acquired_at=row.acquired_at if mine else now, **renewal)
        ).rowcount == 1

    def acquire(self, now: dt.datetime) -> bool:
        """Take or renew the lease; the leader's heartbeat is written with it."""
        try:
            with session_scope(self._engine) as session:
                won = self._take(session.connection(), now)
        except sa.exc.SQLAlchemyError:
            log.exception("Could not take the scheduler lease; retrying at the next tick")
            won = False
        return self._set_leading(won, now)

    def check(self, now: dt.datetime) -> bool:
        """Whether the lease is still ours and unexpired (read-only)."""
        if not self._leading:
            return False
        try:
            with session_scope(self._engine) as session:
                row = session.connection().execute(
                    sa.select(_leases.c.holder, _leases.c.expires_at)
                    .where(_leases.c.name == LEASE_NAME)).first()
        except sa.exc.SQLAlchemyError:
            log.exception("Could not read the scheduler lease")
            return self._set_leading(False, now)
        return self._set_leading(
            row is not None and row.holder == self.holder and row.expires_at >= now, now)

    def release(self, now: dt.datetime) -> None:
        """End our lease now, so another process takes over at its next tick."""
        if not self._leading:
            return
        try:
            _expire_lease(self._engine, self.holder, now)
        except sa.exc.SQLAlchemyError:
            log.exception("Could not release the scheduler lease; it expires on its own")
        self._set_leading(False, now, lost="released")


class AdvisoryLockLeader:
    """Leadership through a PostgreSQL advisory lock on a dedicated connection.

    Args:
        engine: The database whose URL the dedicated connection uses (default: process-wide).
        holder: This process's holder id (default: its claim id), written with the heartbeat.
        key: The advisory lock key shared by every GitPulse process.
        lease: Informational `expires_at` of the heartbeat row.
    """

    def __init__(self, engine: Engine | None = None, *, holder: str | None = None,
                 key: int = ADVISORY_LOCK_KEY, lease: dt.timedelta = LEASE_DURATION) -> None:
        self._engine = engine
        self.holder = holder or claim_id()
        self.key = key
        self.lease = lease
        self._lock_engine: Engine | None = None
        self._connection: Connection | None = None
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding (or trying for) the lock: operators and tests."""
        if self._connection is None:
            return None
        return self._connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def _main_engine(self) -> Engine:
        return self._engine or get_engine()

    def _dedicated(self) -> Connection:
        if self._connection is None:
            if self._lock_engine is None:
                url = self._main_engine().url.render_as_string(hide_password=False)
                # Autocommit: the connection never sits idle inside a transaction for hours.
                self._lock_engine = create_db_engine(url, poolclass=NullPool,
                                                     isolation_level="AUTOCOMMIT")
            self._connection = self._lock_engine.connect()
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except sa.exc.SQLAlchemyError:
                pass

    def _lose(self, now: dt.datetime, reason: str) -> bool:
        if self._leading:
            log_fields(log, logging.WARNING, "Scheduler leadership lost", holder=self.holder,
                       reason=reason, at=now.isoformat())
        self._leading = False
        self._drop_connection()
        return False

    def check(self, now: dt.datetime) -> bool:
        """`SELECT 1` on the lock's connection; on an error stop leading (retry at next tick)."""
        if not self._leading:
            return False
        try:
            self._dedicated().exec_driver_sql("SELECT 1")
        except sa.exc.SQLAlchemyError as exc:
            return self._lose(now, f"lock connection failed: {type(exc).__name__}")
        return True

    def acquire(self, now: dt.datetime) -> bool:
        """Keep or try for the lock; the leader writes its heartbeat."""
        if self._leading:
            if not self.check(now):
                return False  # reconnect and try again at the next tick
        else:
            try:
                got = bool(self._dedicated().execute(
                    sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
            except sa.exc.SQLAlchemyError as exc:
                return self._lose(now, f"cannot reach the database: {type(exc).__name__}")
            if not got:
                return False
            self._leading = True
            log_fields(log, logging.INFO, "Scheduler leadership taken", holder=self.holder,
                       at=now.isoformat())
        try:
            write_heartbeat(self.holder, now, self.lease, self._engine)
        except sa.exc.SQLAlchemyError:
            log.exception("Could not write the scheduler heartbeat")
        return True

    def release(self, now: dt.datetime) -> None:
        """Unlock and close the dedicated connection (the lock is free at once)."""
        if self._leading and self._connection is not None:
            try:
                self._connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": self.key})
                _expire_lease(self._engine, self.holder, now)
            except sa.exc.SQLAlchemyError:
                log.exception("Could not release the scheduler lock cleanly")
            log_fields(log, logging.INFO, "Scheduler leadership released", holder=self.holder,
                       at=now.isoformat())
        self._leading = False
        self._drop_connection()
        if self._lock_engine is not None:
            self._lock_engine.dispose()
            self._lock_engine = None


def make_leader(engine: Engine | None = None, **options: Any) -> LeaseLeader | AdvisoryLockLeader:
    """The election for this database: an advisory lock on PostgreSQL, else the lease row."""
    dialect = (engine or get_engine()).dialect.name
    if dialect == "postgresql":
        return AdvisoryLockLeader(engine, **options)
    return LeaseLeader(engine, **options)
