"""Alembic environment: migrates `SQLModel.metadata` (gitpulse_app.core.models).

The database is, in order: the connection handed in by `gitpulse_app.core.migrate`
(`config.attributes["connection"]`), `sqlalchemy.url` when set programmatically, else
`DATABASE_URL`.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import create_db_engine
from gitpulse_app.core.migrate import migration_options

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def _run_migrations(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # Batch migrations copy and drop tables; enforced foreign keys would make that drop delete
        # or reject referencing rows. The pragma only takes effect outside a transaction.
        if connection.in_transaction():
            connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        context.configure(connection=connection, **migration_options())
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
    finally:
        if is_sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def run_migrations_offline() -> None:
    """`alembic upgrade --sql`: emit the SQL instead of running it."""
    options = migration_options()
    options.pop("render_item")
    context.configure(
        url=_database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_migrations(connection)
        return
    engine = create_db_engine(_database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
