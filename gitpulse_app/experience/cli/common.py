"""What every command module of the command line shares: the result and error types, the argument
parser and its value types, and the database lookups and errors.

Every command returns a `CommandResult` (a JSON-able dict plus its human summary); `CliError` is a
handled failure (exit code 1), `UsageError` bad usage (exit code 2).
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NoReturn

import sqlalchemy as sa

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import DatabaseUnavailable, describe_host
from gitpulse_app.core.models import User

# Instants a report window or a sync can use; the ends of the calendar overflow time-zone maths.
MIN_YEAR, MAX_YEAR = 1900, 9998


class CliError(Exception):
    """A handled failure: the message is printed on stderr and the exit code is 1."""


class UsageError(Exception):
    """Bad usage: usage and the message on stderr, exit code 2."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class CommandResult:
    data: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


# Argument value types -----------------------------------------------------------------------------
def iso_instant(value: str) -> dt.datetime:
    """An ISO-8601 instant; a value without an offset is read as UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        in_range = MIN_YEAR <= parsed.astimezone(dt.UTC).year <= MAX_YEAR
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"invalid ISO-8601 timestamp: {value!r}") from None
    if not in_range:
        raise argparse.ArgumentTypeError(
            f"timestamp out of range: {value!r} (years {MIN_YEAR}-{MAX_YEAR})")
    return parsed


def date_or_instant(value: str) -> dt.date | dt.datetime:
    """`YYYY-MM-DD` (a local date) or an ISO-8601 instant."""
    try:
        if len(value) != 10:
            return iso_instant(value)
        day = dt.date.fromisoformat(value)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValueError(value)
        return day
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"invalid date: {value!r} (expected YYYY-MM-DD or an ISO-8601 timestamp)"
        ) from None


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


# The database -------------------------------------------------------------------------------------
def schema_errors() -> tuple[type[Exception], ...]:
    """What a query on an unmigrated database raises: SQLite's OperationalError ("no such
    table"), PostgreSQL's ProgrammingError (UndefinedTable)."""
    return (sa.exc.OperationalError, sa.exc.ProgrammingError)


def database_error(exc: Exception) -> CliError:
    """The one-line CLI error for a database that is unreachable or not migrated."""
    if isinstance(exc, DatabaseUnavailable):
        return CliError(str(exc))
    host = describe_host(get_settings().database_url)
    return CliError(f"Cannot use the database at {host}; check DATABASE_URL and run `db upgrade`.")


def user_by_login(session, login: str) -> User:
    """The user with GitHub login `login` (case-insensitive), else a CLI error."""
    user = session.scalars(
        sa.select(User).where(sa.func.lower(User.gh_login) == login.lower())
    ).first()
    if user is None:
        raise CliError(f"No user with login {login}")
    return user
