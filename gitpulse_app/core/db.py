"""The one engine/session factory and the column types every table shares."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from gitpulse_app.core.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

SQLITE_BUSY_TIMEOUT_S = 5


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message names the host and is safe to show."""


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime; naive values are refused on write.

    SQLite has no timezone type, so values are stored there as ISO-8601 text; PostgreSQL uses
    `timestamp with time zone`. Reads always return aware UTC datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            # Fixed width so lexical order equals time order in SQLite comparisons.
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


T = TypeVar("T")
ROW_ID_MAX = 2**31 - 1  # surrogate keys are INTEGER columns


def get_row(session: Session, model: type[T], row_id: object) -> T | None:
    """`session.get`, but None for an id no row can have (not an int, < 1, or past INTEGER):
    an id from a URL or the browser answers "not found", never a database error."""
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 1 <= row_id <= ROW_ID_MAX:
        return None
    return session.get(model, row_id)


def describe_host(url: str) -> str:
    """The part of a database URL that is safe to print: host[:port] or the SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    host = parsed.host or "localhost"
    return f"{host}:{parsed.port}" if parsed.port else host


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not every commit: a killed process loses nothing
    # (the WAL is in the OS cache); only a power cut can drop the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` with GitPulse's connection rules (WAL and busy timeout on SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}
    return sa.create_engine(url, connect_args=connect_args, **kwargs)


@functools.cache
def _default_engine() -> Engine:
    return create_db_engine(get_settings().database_url)


def get_engine() -> Engine:
    """The process-wide engine: the injected one, else the one for `DATABASE_URL`."""
    return _engine_override if _engine_override is not None else _default_engine()


_engine_override: Engine | None = None


def set_engine(engine: Engine | None) -> None:
    """Make `engine` the process-wide engine (tests hand in their own database); None restores."""
    global _engine_override
    _engine_override = engine


@contextlib.contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def in_session(session: Session | None, work: Callable[[Session], T]) -> T:
    """`work(session)` inside the caller's transaction when one is given (not committed here),
    else inside a session of its own that commits on success."""
    if session is not None:
        return work(session)
    with session_scope() as own:
        return work(own)


def check_database(engine: Engine | None = None) -> None:
    """`SELECT 1`, raising `DatabaseUnavailable` naming the host when it fails."""
    engine = engine or get_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to the database at {describe_host(str(engine.url))}"
        ) from exc


Bind = Session | sa.Connection | Engine | str  # or a dialect name


def _dialect_name(bind: Bind) -> str:
    if isinstance(bind, str):
        return bind
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def dialect_insert(bind: Bind, table: Any) -> sqlite.Insert | postgresql.Insert:
    """`INSERT INTO table` in the bind's dialect (PostgreSQL, else SQLite), which has the
    `ON CONFLICT` clauses. `table` is a `Table` or a SQLModel table class."""
    # Each dialect's module loads with its first insert, so a SQLite process never imports
    # PostgreSQL's (docs/STARTUP.md).
    name = "postgresql" if _dialect_name(bind) == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert(
        getattr(table, "__table__", table))


def insert_ignore(
    bind: Bind, table: Any, index_elements: Sequence[str], values: Mapping[str, Any] | None = None
) -> sqlite.Insert | postgresql.Insert:
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING`, with `values` when given (else bound
    at execution, or add `.from_select`).

    Idempotent writes (a replayed delivery, a second sighting of an installation, a second
    enqueue) must not fail or overwrite the stored row; the database decides, so two processes
    racing are both safe.
    """
    statement = dialect_insert(bind, table)
    if values is not None:
        statement = statement.values(**values)
    return statement.on_conflict_do_nothing(index_elements=list(index_elements))


def try_insert(
    bind: Session | sa.Connection, table: Any, values: Mapping[str, Any],
    index_elements: Sequence[str],
) -> bool:
    """Run `insert_ignore` for one row; True when a row was inserted, False when one existed."""
    return bool(bind.execute(insert_ignore(bind, table, index_elements, values)).rowcount)
